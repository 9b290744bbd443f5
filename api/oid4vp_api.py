"""OpenID for Verifiable Presentations 1.0: a venue asks the citizen's wallet.

Venues (venue key):

- ``POST /api/v1/verify/requests`` ``{"scene", "response_mode"?}`` → ``201 {"id",
  "request_uri", "qr", "link", "expires_at"}``: a request for the scene, to show as a
  QR code (``qr``, an ``openid4vp://`` authorization request) or to open on the same
  device (``link``, our web wallet). ``403 forbidden`` for a scene the venue may not
  verify, ``404 unknown_scene`` for a scene not in the trust list.
- ``GET /api/v1/verify/requests/{id}`` → ``{"state": "pending" | "answered" |
  "expired", "result"}``: ``result`` is the JSON of ``POST /api/v1/verify`` once
  answered (``{}`` before). ``404 vp_request_not_found`` for an unknown request or
  another venue's.

Wallets (no authentication; the request's id is its capability):

- ``GET /api/v1/openid4vp/requests/{id}``: the signed request object
  (``application/oauth-authz-req+jwt``, OpenID4VP §5, RFC 9101 §5.2);
- ``GET /api/v1/openid4vp/requests/{id}/about``: who asks, for which scene and which
  fields, for our web wallet's consent screen (JSON);
- ``POST /api/v1/wallet/openid4vp/requests/{id}/answer`` (citizen) ``{"credential_id"}``:
  our web wallet answers with the key the service holds for the citizen;
- ``POST /api/v1/wallet/openid4vp/requests/{id}/decline`` (citizen): our web wallet's
  refusal, read by the venue as ``vp_declined`` in either response mode;
- ``POST /api/v1/openid4vp/responses/{id}``: the response (§8.2 ``direct_post``: form
  ``vp_token`` and ``state``; §8.3 ``direct_post.jwt``: form ``response``, a JWE).
  ``200 {}`` when taken; otherwise ``400`` (``404`` for an unknown request) with an
  OAuth error body ``{"error": "invalid_request", "error_description", "code"}``
  (``code``: ecert's stable code, ``vp_presentation_refused``, ``vp_request_answered``…).

The use case is :class:`service.oid4vp.VpRequests`; these views parse and serialise.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from api.errors import Forbidden
from api.openapi import (
    PROBLEM_REF,
    SECURITY_CITIZEN,
    SECURITY_VENUE,
    APIBlueprint,
    Tag,
    problems,
)
from api.principals import current_citizen, current_venue
from api.services import services
from service.errors import VpRequestNotFound, VpResponseRefused
from service.oid4vp import MIN_TTL, REQUEST_TTL

__all__ = ["bp"]

bp = APIBlueprint(
    "oid4vp",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[
        Tag(
            name="openid4vp",
            description="OpenID4VP 1.0: venues ask citizens' wallets for a scene (DCQL, "
            "signed request objects, direct_post and direct_post.jwt).",
        )
    ],
)

_SCENE = r"^[a-z][a-z0-9_]{0,63}$"
_ID = r"^[A-Za-z0-9_-]{1,64}$"
_FORM = "application/x-www-form-urlencoded"
_REQUEST_JWT = "application/oauth-authz-req+jwt"


class CreateBody(BaseModel):
    """The scene to ask for, and how the wallet answers."""

    model_config = ConfigDict(extra="forbid")

    scene: str = Field(pattern=_SCENE, description="A scene id (`hotel`).")
    response_mode: Literal["direct_post.jwt", "direct_post"] = Field(
        default="direct_post.jwt",
        description="`direct_post.jwt` (the answer encrypted to the request's key, the "
        "default) or `direct_post`.",
    )
    expires_in: int = Field(
        default=REQUEST_TTL,
        ge=MIN_TTL,
        le=REQUEST_TTL,
        description="Seconds the request can be answered (at most five minutes, the default).",
    )


class Created(BaseModel):
    """A new request."""

    id: str
    request_uri: str = Field(description="Where the wallet fetches the signed request.")
    qr: str = Field(description="The authorization request to show as a QR code.")
    link: str = Field(description="The same request on our web wallet (same device).")
    expires_at: int = Field(description="Until when the request can be answered.")


class RequestPath(BaseModel):
    """A request's id."""

    id: str = Field(pattern=_ID)


class RequestStatus(BaseModel):
    """A request's state and, once answered, its verification result."""

    state: Literal["pending", "answered", "expired"]
    result: dict[str, Any] = Field(
        description="The result JSON of `POST /api/v1/verify` once answered; `{}` before."
    )


class About(BaseModel):
    """What a wallet shows before consent."""

    venue: dict[str, str] = Field(description="The venue's name: `zh` and `en`.")
    scene: str
    dcql_query: dict[str, Any]
    expires_at: int


class OAuthError(BaseModel):
    """An OAuth 2.0 error answer (RFC 6749 §5.2), with ecert's stable code."""

    error: str
    error_description: str
    code: str


class Empty(BaseModel):
    """The response was taken (no ``redirect_uri``: the flow is cross-device)."""


@bp.post(
    "/verify/requests",
    summary="Ask a citizen's wallet for a scene (OpenID4VP)",
    security=SECURITY_VENUE,
    responses={201: Created, **problems(403, 404)},
)
def create(body: CreateBody) -> tuple[dict[str, Any], int]:
    """Create an OpenID4VP request for the scene: a DCQL query of the scene's policy, a
    fresh nonce, at most five minutes to answer (`expires_in`), one answer."""
    venue = current_venue()
    if body.scene not in venue.scenes:
        raise Forbidden("This venue may not verify for this scene.")
    svc = services()
    svc.verification.require_scene(body.scene)
    made = svc.vp_requests.create(venue, body.scene, body.response_mode, ttl=body.expires_in)
    answer = Created(
        id=made.id,
        request_uri=made.request_uri,
        qr=made.qr,
        link=made.link,
        expires_at=made.expires_at,
    )
    return answer.model_dump(), 201


@bp.get(
    "/verify/requests/<id>",
    summary="A request's state and result",
    security=SECURITY_VENUE,
    responses={200: RequestStatus, **problems(404)},
)
def status(path: RequestPath) -> Response:
    """`pending` until the wallet answers, then `answered` with the result; `expired`
    when nobody answered in time."""
    venue = current_venue()
    state, result = services().vp_requests.status(venue, path.id)
    response = jsonify(RequestStatus(state=state, result=result).model_dump())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(
    "/openid4vp/requests/<id>",
    summary="The signed request object",
    responses={
        200: {
            "description": "The request object (OpenID4VP §5).",
            "content": {_REQUEST_JWT: {"schema": {"type": "string"}}},
        },
        **problems(400, 404),
    },
)
def request_object(path: RequestPath) -> Response:
    """The request object, a JWS `oauth-authz-req+jwt` with the verifier's certificate
    in `x5c` (client id `x509_hash:…`). `400 vp_request_expired` or
    `vp_request_answered` once it cannot be answered any more."""
    token = services().vp_requests.request_object(path.id)
    response = Response(token, mimetype=_REQUEST_JWT)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(
    "/openid4vp/requests/<id>/about",
    summary="Who asks, for what (for a wallet's consent screen)",
    responses={200: About, **problems(400, 404)},
)
def about(path: RequestPath) -> Response:
    """The venue's name, the scene and the DCQL query of a pending request."""
    response = jsonify(About(**services().vp_requests.describe(path.id)).model_dump())
    response.headers["Cache-Control"] = "no-store"
    return response


class AnswerBody(BaseModel):
    """The credential the citizen consented to present."""

    model_config = ConfigDict(extra="forbid")

    credential_id: str = Field(pattern=_ID, description="A credential of the wallet.")


class Answered(BaseModel):
    """What the venue now reads (the citizen sees what was shown)."""

    result: dict[str, Any] = Field(description="The venue's result JSON.")


@bp.post(
    "/wallet/openid4vp/requests/<id>/answer",
    summary="Answer a venue's request from this wallet (the service holds the key)",
    security=SECURITY_CITIZEN,
    responses={200: Answered, **problems(400, 404, 409)},
)
def answer(path: RequestPath, body: AnswerBody) -> dict[str, Any]:
    """Our web wallet's answer, after the citizen's consent: the credential presented
    with the service-held key for the request's client id and nonce, then checked like
    any wallet's response. `400 vp_presentation_refused` (with the reason) when the
    venue would refuse it; `409` for a revoked, suspended or expired credential."""
    citizen = current_citizen()
    result = services().vp_requests.answer(citizen, body.credential_id, path.id)
    return Answered(result=result).model_dump()


@bp.post(
    "/wallet/openid4vp/requests/<id>/decline",
    summary="Decline a venue's request from this wallet",
    security=SECURITY_CITIZEN,
    responses={200: Answered, **problems(400, 404)},
)
def decline(path: RequestPath) -> dict[str, Any]:
    """Our web wallet's refusal, after the citizen said no: the venue reads
    `vp_declined` (the wallet's error response, OpenID4VP §8.5, `access_denied`), in
    either response mode. `400 vp_request_answered` once answered."""
    current_citizen()
    result = services().vp_requests.decline(path.id)
    return Answered(result=result).model_dump()


_RESPONSE_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        _FORM: {
            "schema": {
                "type": "object",
                "properties": {
                    "response": {"type": "string", "description": "direct_post.jwt: a JWE."},
                    "vp_token": {"type": "string", "description": "direct_post: JSON."},
                    "state": {"type": "string"},
                    "error": {"type": "string"},
                    "error_description": {"type": "string"},
                },
            }
        }
    },
}


#: The response endpoint's 400: an OAuth error for the wallet, or a problem for a path
#: that is not a request id (the request's validation, before the view).
_WALLET_ERRORS: dict[str, Any] = {
    "description": "An OAuth error (`error`, `error_description`, ecert's `code`); a "
    "problem for a malformed path.",
    "content": {
        "application/json": {"schema": OAuthError.model_json_schema()},
        "application/problem+json": {"schema": {"$ref": PROBLEM_REF}},
    },
}


@bp.post(
    "/openid4vp/responses/<id>",
    summary="A wallet's response (direct_post, direct_post.jwt)",
    responses={200: Empty, 400: _WALLET_ERRORS, 404: OAuthError, **problems(413)},
    openapi_extensions={"requestBody": _RESPONSE_BODY},
)
def respond(path: RequestPath) -> tuple[Response, int]:
    """Take the wallet's response: `200 {}`, or an OAuth error with ecert's `code`."""
    if request.mimetype != _FORM:
        return _oauth_error("vp_response_malformed", f"Post the response as {_FORM}.", 400)
    form = request.form
    if any(len(form.getlist(name)) > 1 for name in form):
        return _oauth_error("vp_response_malformed", "A form field is repeated.", 400)
    try:
        answer = services().vp_requests.respond(path.id, form.to_dict())
    except VpRequestNotFound as err:
        return _oauth_error(err.code, err.message, 404)
    except VpResponseRefused as err:
        return _oauth_error(err.code, err.message, 400)
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    return response, 200


def _oauth_error(code: str, message: str, status: int) -> tuple[Response, int]:
    body = {"error": "invalid_request", "error_description": message, "code": code}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, status
