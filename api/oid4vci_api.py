"""OpenID4VCI 1.0 issuance over HTTP: the Flask shell of :mod:`service.oid4vci`.

- ``GET /.well-known/openid-credential-issuer``: Credential Issuer Metadata (§12.2.2),
  the Credential Issuer Identifier being the base URL;
- ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata (§12.3);
- ``POST /api/v1/issuers/{issuer}/offers`` (department key): a Credential Offer for a
  citizen, as a link and a QR, with the transaction code to hand over;
  ``GET /api/v1/issuers/{issuer}/offers/{id}``: where it stands;
- ``POST /api/v1/oid4vci/token``: the Token Endpoint (§6), form-encoded (RFC 6749);
- ``POST /api/v1/oid4vci/nonce``: the Nonce Endpoint (§7);
- ``POST /api/v1/oid4vci/credential``: the Credential Endpoint (§8), Bearer token;
- ``POST /api/v1/wallet/offers`` (citizen token): the web wallet accepts an offer.

The token and credential endpoints answer errors in the protocol's format (RFC 6749
§5.2 ``{"error", "error_description"}``, RFC 6750 for the Bearer token), as §6.3 and
§8.3.1 require, not as problems; ecert's own stable ``code`` (and the failed check, as
``cause``, for a key proof) ride along as extra members, which wallets ignore. Those
two endpoints are specified by OpenID4VCI, not by this API: they are left out of the
OpenAPI document (its error responses are all problems); docs/openid4vc.md has them.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Literal

from flask import Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from api.errors import status_for
from api.openapi import SECURITY_CITIZEN, SECURITY_DEPARTMENT, APIBlueprint, Tag, problems
from api.principals import current_citizen, current_department
from api.services import services
from service.errors import Oid4vciError, Oid4vciRequestInvalid
from service.oid4vci import OFFER_TTL, TX_CODE_LENGTH
from wallet.qr import render_png

__all__ = ["BLUEPRINTS", "offers_bp", "protocol_bp", "wallet_bp", "well_known_bp"]

#: A view's answer with its status.
Answer = tuple[Response, int]

_SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
_OFFER_ID = r"^[A-Za-z0-9_-]{1,64}$"
#: RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
_NOT_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
#: Longest form body of a token request (a code, a tx_code, a grant type).
_MAX_FORM = 4096

well_known_bp = APIBlueprint(
    "oid4vci_metadata",
    __name__,
    abp_tags=[Tag(name="openid4vci", description="OpenID4VCI 1.0 issuance (pre-authorized code).")],
)
offers_bp = APIBlueprint(
    "oid4vci_offers",
    __name__,
    url_prefix="/api/v1/issuers",
    abp_tags=[Tag(name="issuing", description="Departments issue and manage credentials.")],
    abp_security=SECURITY_DEPARTMENT,
)
protocol_bp = APIBlueprint(
    "oid4vci_protocol",
    __name__,
    url_prefix="/api/v1/oid4vci",
    abp_tags=[Tag(name="openid4vci")],
)
wallet_bp = APIBlueprint(
    "oid4vci_wallet",
    __name__,
    url_prefix="/api/v1/wallet",
    abp_tags=[Tag(name="wallet")],
    abp_security=SECURITY_CITIZEN,
)
#: Every blueprint of this module, for the app factory.
BLUEPRINTS = (well_known_bp, offers_bp, protocol_bp, wallet_bp)


# -- metadata --------------------------------------------------------------------------


class IssuerMetadataDoc(BaseModel):
    """Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4)."""

    model_config = ConfigDict(extra="allow")

    credential_issuer: str
    credential_endpoint: str
    nonce_endpoint: str
    credential_configurations_supported: dict[str, Any]


class AuthorizationServerMetadataDoc(BaseModel):
    """OAuth 2.0 Authorization Server Metadata (RFC 8414), with OpenID4VCI's §12.3."""

    model_config = ConfigDict(extra="allow")

    issuer: str
    token_endpoint: str
    grant_types_supported: list[str]


@well_known_bp.get(
    "/.well-known/openid-credential-issuer",
    summary="OpenID4VCI Credential Issuer Metadata",
    responses={200: IssuerMetadataDoc},
)
def issuer_metadata() -> Response:
    """One `dc+sd-jwt` credential configuration per catalogue type, with display names
    and claim labels in Chinese and English."""
    return _public(jsonify(services().oid4vci.issuer_metadata()))


@well_known_bp.get(
    "/.well-known/oauth-authorization-server",
    summary="OAuth 2.0 Authorization Server Metadata",
    responses={200: AuthorizationServerMetadataDoc},
)
def authorization_server_metadata() -> Response:
    """The token endpoint and the pre-authorized code grant (anonymous access)."""
    return _public(jsonify(services().oid4vci.authorization_server_metadata()))


# -- offers ----------------------------------------------------------------------------


class IssuerPath(BaseModel):
    """The department's issuer slug (``police``)."""

    issuer: str = Field(pattern=_SLUG)


class OfferPath(BaseModel):
    """An offer of the department."""

    issuer: str = Field(pattern=_SLUG)
    id: str = Field(pattern=_OFFER_ID, description="The id returned when it was made.")


class OfferBody(BaseModel):
    """What to offer, to whom (checked as an issuance is)."""

    model_config = ConfigDict(extra="forbid")

    citizen_id: str = Field(min_length=1, max_length=64)
    vct: str = Field(min_length=1, max_length=64, description="The credential type.")
    claims: dict[str, Any] = Field(
        description="The claims, checked against the type's catalogue entry; errors "
        "name the claim, never its value."
    )


class OfferMade(BaseModel):
    """A credential offer: give `offer_uri` (or its QR) to the citizen's wallet, and
    `tx_code` to the citizen by another channel (it is not in the offer)."""

    id: str
    offer_uri: str = Field(description="`openid-credential-offer://?credential_offer=…`")
    qr: str = Field(description="The offer link's QR code, a PNG `data:` URL.")
    tx_code: str = Field(description=f"The {TX_CODE_LENGTH}-digit transaction code.")
    expires_in: int = Field(description=f"Seconds the offer stays usable ({OFFER_TTL}).")


class OfferState(BaseModel):
    """Where an offer stands."""

    id: str
    state: Literal["offered", "redeemed", "issued", "expired", "burnt"]
    expires_at: int
    credential_id: str | None = Field(
        default=None, description="The credential issued (to revoke it), once `issued`."
    )


@offers_bp.post(
    "/<issuer>/offers",
    summary="Offer a credential to a citizen's wallet (OpenID4VCI)",
    responses={201: OfferMade, **problems(403, 404)},
)
def create_offer(path: IssuerPath, body: OfferBody) -> Answer:
    """A pre-authorized code offer of one credential of `vct` for the citizen, single
    use, valid ten minutes; the citizen's wallet redeems it with the transaction code."""
    department = current_department(path.issuer)
    made = services().oid4vci.create_offer(department, body.citizen_id, body.vct, body.claims)
    qr = "data:image/png;base64," + base64.b64encode(render_png(made.offer_uri)).decode()
    answer = OfferMade(
        id=made.id,
        offer_uri=made.offer_uri,
        qr=qr,
        tx_code=made.tx_code,
        expires_in=OFFER_TTL,
    )
    return _no_store(jsonify(answer.model_dump())), 201


@offers_bp.get(
    "/<issuer>/offers/<id>",
    summary="Where a credential offer stands",
    responses={200: OfferState, **problems(403, 404)},
)
def offer_state(path: OfferPath) -> Response:
    """`offered`, `redeemed`, `issued` (with the credential's id), `expired` or `burnt`."""
    department = current_department(path.issuer)
    state = services().oid4vci.offer_state(department, path.id)
    return _no_store(jsonify(OfferState(**state).model_dump(exclude_none=True)))


# -- the protocol endpoints ------------------------------------------------------------


class NonceAnswer(BaseModel):
    """A fresh `c_nonce` for one key proof (OpenID4VCI 1.0 §7.2)."""

    c_nonce: str


@protocol_bp.post("/token", doc_ui=False)
def token() -> Response:
    """The Token Endpoint (§6): form-encoded, RFC 6749 errors."""
    try:
        params = _form()
        return _no_store(jsonify(services().oid4vci.token(params)))
    except Oid4vciError as err:
        return _oauth_error(err)


@protocol_bp.post(
    "/nonce",
    summary="OpenID4VCI Nonce Endpoint",
    responses={200: NonceAnswer},
)
def nonce() -> Response:
    """A fresh `c_nonce`, usable once within its life (`Cache-Control: no-store`)."""
    return _no_store(jsonify(services().oid4vci.nonce()))


@protocol_bp.post("/credential", doc_ui=False)
def credential() -> Response:
    """The Credential Endpoint (§8): Bearer access token, JSON request, §8.3.1 errors."""
    try:
        body = request.get_json(silent=True) if request.is_json else None
        return _no_store(jsonify(services().oid4vci.credential(_bearer(), body)))
    except Oid4vciError as err:
        return _oauth_error(err)


# -- the web wallet --------------------------------------------------------------------


class AcceptBody(BaseModel):
    """An offer's link (or its JSON) and the transaction code the department gave."""

    model_config = ConfigDict(extra="forbid")

    offer: str = Field(min_length=1, max_length=8192)
    tx_code: str = Field(min_length=1, max_length=32)


class Accepted(BaseModel):
    """The credential now in the wallet."""

    id: str
    vct: str


@wallet_bp.post("/offers", doc_ui=False)
def accept(body: AcceptBody) -> Answer:
    """Redeem an offer for the logged-in citizen's wallet (problem JSON errors:
    `offer_not_yours` 403, `oid4vci_tx_code_wrong`, `oid4vci_offer_used`… 400)."""
    citizen = current_citizen()
    record = services().oid4vci.accept(citizen, body.offer, body.tx_code)
    return jsonify(Accepted(id=record.id, vct=record.vct).model_dump()), 201


# -- helpers ---------------------------------------------------------------------------


def _form() -> dict[str, str]:
    """The token request's parameters (RFC 6749 §4.1.3, form-encoded; none repeated)."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise Oid4vciRequestInvalid(
            "a token request is application/x-www-form-urlencoded (RFC 6749 section 4.1.3)"
        )
    if (request.content_length or 0) > _MAX_FORM:
        raise Oid4vciRequestInvalid("the token request is too large")
    form = request.form
    out: dict[str, str] = {}
    for key in form:
        values = form.getlist(key)
        if len(values) != 1:
            raise Oid4vciRequestInvalid(f"the parameter {key[:40]} is repeated")
        out[key] = values[0]
    return out


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _oauth_error(err: Oid4vciError) -> Response:
    """RFC 6749 §5.2 / RFC 6750 §3 error JSON, with ecert's code beside."""
    body: dict[str, Any] = {
        "error": err.oauth_error,
        "error_description": _NOT_DESCRIPTION.sub("'", err.message)[:300],
        "code": err.code,
    }
    if err.cause:
        body["cause"] = err.cause
    status = status_for(type(err))
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer error="{err.oauth_error}"'
    return _no_store(response)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _public(response: Response) -> Response:
    response.headers["Cache-Control"] = "public, max-age=60"
    return response
