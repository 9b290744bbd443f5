"""Public documents for verifiers (no authentication; cacheable).

- ``GET /api/v1/verifier/bundle``: the verifier bundle of DESIGN.md §3;
- ``GET /api/v1/verifier/anchor``: the trust anchor's public JWK, which verifiers pin;
- ``GET /trust-list``: the signed trust list (``application/trustlist+jwt``);
- ``GET /issuers/{issuer}/status/{n}``: a status list at its ``status_list.uri``
  (``application/statuslist+jwt``), with ``max-age`` = its ``ttl``, an ``ETag`` and
  ``304 Not Modified`` on ``If-None-Match``;
- ``GET /.well-known/jwt-vc-issuer/issuers/{issuer}``: SD-JWT VC issuer metadata
  (``issuer`` and ``jwks``) for the issuer ``<base>/issuers/{issuer}``.

Everything here is signed or public key material: it can be served by any cache or CDN.
One exception, ``GET /p/{token}``: where an online QR code's URL leads when a phone's
camera app opens it. It reveals nothing (the same page for every token, the store is
not even asked) and says to scan the code with a verifier; it is ``no-store``, a page
like the others (``api/web/templates/online_qr.html``, ``?lang=en`` for English).
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, jsonify, request
from pydantic import BaseModel, Field

from api.openapi import APIBlueprint, Tag, problems
from api.pages import render_page
from api.services import services

__all__ = ["BUNDLE_MAX_AGE", "bp"]

#: Seconds a cache may keep the bundle, the trust list and the issuer metadata.
BUNDLE_MAX_AGE = 60
#: Seconds a cache may keep the anchor's public key (it changes only on re-pinning).
ANCHOR_MAX_AGE = 3600

_SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"

bp = APIBlueprint(
    "public",
    __name__,
    abp_tags=[Tag(name="public", description="Signed documents for verifiers; no authentication.")],
)


class IssuerPath(BaseModel):
    """An issuer's slug (``police``)."""

    issuer: str = Field(pattern=_SLUG)


class StatusListPath(BaseModel):
    """A status list of an issuer: ``<base>/issuers/{issuer}/status/{n}``."""

    issuer: str = Field(pattern=_SLUG)
    n: int = Field(ge=1, description="The list's number.")


class Bundle(BaseModel):
    """Everything an offline verifier needs; every part is signed."""

    trust_list: str = Field(description="The `trustlist+jwt`.")
    status_lists: list[str] = Field(description="Every issuer's `statuslist+jwt`.")


class Jwks(BaseModel):
    """A JWK Set."""

    keys: list[dict[str, Any]]


class IssuerMetadata(BaseModel):
    """SD-JWT VC issuer metadata."""

    issuer: str = Field(description="The issuer identifier (`iss` of its credentials).")
    jwks: Jwks = Field(description="The issuer's published public keys, with `kid`s.")


class OnlineQrPath(BaseModel):
    """The token of an online QR code's URL ``<base>/p/{token}``."""

    token: str


def _jwt(media_type: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}


@bp.get(
    "/api/v1/verifier/bundle",
    summary="The verifier bundle",
    responses={200: Bundle},
)
def bundle() -> Response:
    """The trust list and every status list, for offline verifiers (`ecert bundle pull`)."""
    response = jsonify(services().publication.bundle())
    response.headers["Cache-Control"] = f"public, max-age={BUNDLE_MAX_AGE}"
    return response


@bp.get(
    "/api/v1/verifier/anchor",
    summary="The trust anchor's public key",
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
def anchor() -> Response:
    """The public JWK that verifiers pin to check the trust list (`ecert verify --anchor`)."""
    response = jsonify(dict(services().publication.anchor()))
    response.headers["Cache-Control"] = f"public, max-age={ANCHOR_MAX_AGE}"
    return response


@bp.get(
    "/trust-list",
    summary="The signed trust list",
    responses={200: _jwt("application/trustlist+jwt", "The trust list (DESIGN.md §3).")},
)
def trust_list() -> Response:
    """Issuers, their keys and credential types, and the scene policies, signed by the anchor."""
    token = services().publication.trust_list()
    return _signed(token, "application/trustlist+jwt", BUNDLE_MAX_AGE)


@bp.get(
    "/issuers/<issuer>/status/<int:n>",
    summary="A status list",
    responses={
        200: _jwt("application/statuslist+jwt", "The status list token."),
        304: {"description": "Not modified (`If-None-Match`)."},
        **problems(404),
    },
)
def status_list(path: StatusListPath) -> Response:
    """The status list at a credential's `status.status_list.uri` (IETF Token Status List)."""
    document = services().publication.issuer_status_list(path.issuer, path.n)
    return _signed(document.token, "application/statuslist+jwt", document.ttl)


@bp.get(
    "/.well-known/jwt-vc-issuer/issuers/<issuer>",
    summary="SD-JWT VC issuer metadata",
    responses={200: IssuerMetadata, **problems(404)},
)
def issuer_metadata(path: IssuerPath) -> Response:
    """The issuer's identifier and published keys, to verify its credentials' signatures."""
    published = services().publication.issuer_keys(path.issuer)
    metadata = IssuerMetadata(
        issuer=published.iss, jwks=Jwks(keys=[dict(k) for k in published.jwks])
    )
    response = jsonify(metadata.model_dump())
    response.headers["Cache-Control"] = f"public, max-age={BUNDLE_MAX_AGE}"
    return response


@bp.get(
    "/p/<token>",
    summary="Where an online QR code leads",
    responses={
        200: {
            "description": "The same page for any token.",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    },
)
def online_qr(path: OnlineQrPath) -> Response:
    """What a phone's camera app shows for an online QR URL: "scan this with an ecert
    verifier". Nothing about the presentation, not even whether the token exists;
    venues redeem the URL at `POST /api/v1/verify`."""
    response = render_page("online_qr.html", camera=False)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


# -- helpers ---------------------------------------------------------------------------


def _signed(token: str, media_type: str, max_age: int) -> Response:
    """A JWT document with ``max-age``, an ``ETag`` and 304 on ``If-None-Match``."""
    response = current_app.response_class(token, content_type=media_type)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.set_etag(hashlib.sha256(token.encode("ascii")).hexdigest()[:32])
    response.make_conditional(request)  # 304 when If-None-Match matches
    return response
