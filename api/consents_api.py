"""Consent to proof queries (issue 11): a department asks, the citizen decides.

Two faces of :class:`service.consents.Consents`:

* ``/api/v1/proofs/consent-requests`` (a department's key): ask a citizen for consent to
  look a proof up (``POST``, ``201`` pending), and follow the request (``GET``). A citizen
  id nobody holds is answered exactly like a known one; another department's request
  answers ``404 consent_not_found`` like an unknown id.
* ``/api/v1/wallet/consents`` (the citizen's session): list them, grant one directly,
  approve or decline a request, withdraw any (``DELETE``, at once: the next proof query
  is refused). Another citizen's consent id answers ``404 consent_not_found``.

``until`` is a date ``YYYY-MM-DD``: the consent holds through the end of that day, UTC;
today at the earliest, one year ahead at the latest. The purpose (1 to 200 characters) is
compared exactly (after Unicode NFC and trimming) with a proof query's.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify, url_for
from pydantic import BaseModel, ConfigDict, Field

from api.openapi import SECURITY_CITIZEN, SECURITY_DEPARTMENT, APIBlueprint, Tag, problems
from api.principals import calling_department, current_citizen
from api.services import services
from keys.errors import UnknownIssuer
from keys.models import LocalizedName
from service.consents import Consent
from service.uses import MAX_PURPOSE

__all__ = ["bp", "requests_bp"]

_TAG = Tag(
    name="consents",
    description="Consent to proof queries: a department asks, the citizen approves, "
    "declines, grants directly or withdraws at once.",
)

requests_bp = APIBlueprint(
    "consent_requests",
    __name__,
    url_prefix="/api/v1/proofs/consent-requests",
    abp_tags=[_TAG],
    abp_security=SECURITY_DEPARTMENT,
)

bp = APIBlueprint(
    "consents",
    __name__,
    url_prefix="/api/v1/wallet/consents",
    abp_tags=[_TAG],
    abp_security=SECURITY_CITIZEN,
)

_ID = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The consent's id.")
_PROOF_TYPE = Field(
    min_length=1, max_length=128, description="A proof type id (`GET /api/v1/proofs/types`)."
)
_PURPOSE = Field(
    min_length=1,
    max_length=4 * MAX_PURPOSE,
    description=f"Why (1 to {MAX_PURPOSE} characters after NFC and trimming; no control "
    "characters). A proof query must give exactly this purpose.",
)
_UNTIL = Field(
    min_length=1,
    max_length=32,
    description="The last day it holds, `YYYY-MM-DD` (through the end of that day, UTC); "
    "today at the earliest, one year ahead at the latest.",
)
_INVALID = (
    "`consent_invalid` with `field`: `citizen_id`, `department`, `proof_type`, `purpose` "
    "or `until` (never the value)."
)
State = Literal["pending", "granted", "declined", "withdrawn"]


class ConsentPath(BaseModel):
    """One consent."""

    id: str = _ID


class RequestBody(BaseModel):
    """A department's request for consent."""

    model_config = ConfigDict(extra="forbid")

    citizen_id: str = Field(min_length=1, max_length=64, description="The citizen's id.")
    proof_type: str = _PROOF_TYPE
    purpose: str = _PURPOSE
    until: str = _UNTIL


class GrantBody(BaseModel):
    """A consent the citizen grants directly."""

    model_config = ConfigDict(extra="forbid")

    department: str = Field(
        min_length=1, max_length=64, description="The department's issuer slug (`police`)."
    )
    proof_type: str = _PROOF_TYPE
    purpose: str = _PURPOSE
    until: str = _UNTIL


class RequestAnswer(BaseModel):
    """A department's request as the department sees it: its own words and the state."""

    id: str
    state: State
    proof_type: str
    purpose: str
    until: str = Field(description="The last day it holds (UTC), `YYYY-MM-DD`.")
    expires_at: int = Field(description="The first second (epoch) it no longer holds.")
    expired: bool
    created_at: int
    updated_at: int = Field(description="When the state last changed (epoch seconds).")


class ConsentEntry(RequestAnswer):
    """A consent as the citizen sees it."""

    department: str = Field(description="The department's issuer slug.")
    department_name: LocalizedName
    origin: Literal["request", "grant"] = Field(
        description="`request`: the department asked; `grant`: the citizen granted it."
    )


class ConsentList(BaseModel):
    """The citizen's consents, newest first: pending requests, granted, declined and
    withdrawn."""

    items: list[ConsentEntry]


def _request_answer(consent: Consent) -> dict[str, Any]:
    now = services().consents.clock()
    body = consent.to_dict(now)
    return RequestAnswer.model_validate(
        {k: v for k, v in body.items() if k in RequestAnswer.model_fields}
    ).model_dump()


def _entry(consent: Consent, names: dict[str, LocalizedName]) -> dict[str, Any]:
    now = services().consents.clock()
    name = names.get(consent.department)
    if name is None:
        try:
            record = services().platform.issuer(consent.department)
            name = LocalizedName(zh=record.name_zh, en=record.name_en)
        except UnknownIssuer:  # a department since removed: its slug
            name = LocalizedName(zh=consent.department, en=consent.department)
        names[consent.department] = name
    return ConsentEntry.model_validate(
        {**consent.to_dict(now), "department_name": name}
    ).model_dump()


# -- a department's requests ---------------------------------------------------------------


@requests_bp.post(
    "",
    summary="Ask a citizen for consent to look a proof up",
    responses={
        201: RequestAnswer,
        **problems(
            409,
            422,
            descriptions={
                409: "`consent_limit`: the citizen holds the most consents that still hold.",
                422: _INVALID,
            },
        ),
    },
)
def post_request(body: RequestBody) -> Response:
    """A pending request the citizen sees in the wallet (who, what, why, until when),
    with a notice. A citizen id nobody holds is answered the same way. Follow it at the
    `Location`."""
    department = calling_department()
    consent = services().consents.request(
        department.slug, body.citizen_id, body.proof_type, body.purpose, body.until
    )
    response: Response = jsonify(_request_answer(consent))
    response.status_code = 201
    response.headers["Location"] = url_for("consent_requests.get_request", id=consent.id)
    return response


@requests_bp.get(
    "/<id>",
    summary="A consent request's state",
    responses={
        200: RequestAnswer,
        **problems(404, descriptions={404: "`consent_not_found` (also another department's)."}),
    },
)
def get_request(path: ConsentPath) -> dict[str, Any]:
    """The request's state: `pending`, `granted`, `declined` or `withdrawn`."""
    department = calling_department()
    return _request_answer(services().consents.get_for_department(department.slug, path.id))


# -- the citizen's consents ----------------------------------------------------------------


@bp.get("", summary="The citizen's consents", responses={200: ConsentList})
def list_consents() -> dict[str, Any]:
    """Every consent of the citizen, newest first (pending requests, granted, declined,
    withdrawn), each with the department's name in both languages."""
    names: dict[str, LocalizedName] = {}
    consents = services().consents.list(current_citizen())
    return {"items": [_entry(c, names) for c in consents]}


@bp.post(
    "",
    summary="Grant a department consent directly",
    responses={
        201: ConsentEntry,
        **problems(
            409,
            422,
            descriptions={
                409: "`consent_limit`: withdraw a consent first.",
                422: _INVALID,
            },
        ),
    },
)
def post_grant(body: GrantBody) -> Response:
    """Granted at once: the department's proof queries for this proof type and purpose
    are answered until the end of `until` (UTC), or until it is withdrawn."""
    consent = services().consents.grant(
        current_citizen(), body.department, body.proof_type, body.purpose, body.until
    )
    response: Response = jsonify(_entry(consent, {}))
    response.status_code = 201
    return response


_STATE_PROBLEMS = problems(
    404,
    409,
    descriptions={
        404: "`consent_not_found` (also another citizen's).",
        409: "`consent_state`: it is not pending (or the request has expired).",
    },
)


@bp.post(
    "/<id>/approve",
    summary="Approve a department's request",
    responses={200: ConsentEntry, **_STATE_PROBLEMS},
)
def approve(path: ConsentPath) -> dict[str, Any]:
    """A pending request becomes `granted`."""
    return _entry(services().consents.approve(current_citizen(), path.id), {})


@bp.post(
    "/<id>/decline",
    summary="Decline a department's request",
    responses={200: ConsentEntry, **_STATE_PROBLEMS},
)
def decline(path: ConsentPath) -> dict[str, Any]:
    """A pending request becomes `declined`."""
    return _entry(services().consents.decline(current_citizen(), path.id), {})


@bp.delete(
    "/<id>",
    summary="Withdraw a consent at once",
    responses={
        200: ConsentEntry,
        **problems(
            404,
            409,
            descriptions={
                404: "`consent_not_found` (also another citizen's).",
                409: "`consent_state`: it is already withdrawn.",
            },
        ),
    },
)
def withdraw(path: ConsentPath) -> dict[str, Any]:
    """Any consent not yet withdrawn (granted, pending, declined) becomes `withdrawn`: the
    next proof query for it is refused. It stays in the list, withdrawn."""
    return _entry(services().consents.withdraw(current_citizen(), path.id), {})
