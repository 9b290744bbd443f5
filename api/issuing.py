"""Departments issue credentials and change their status (``/api/v1/issuers/{issuer}``).

Every route takes a department key whose issuer is the path's ``issuer``
(:func:`api.principals.current_department`); a credential type outside the
issuer's ``vct``s answers ``403 issuer_not_authorised``.

The use case is :class:`service.issuance.Issuance`: issuance delivers the credential
into the citizen's wallet at once (revoking it again if the delivery fails), and
``Idempotency-Key`` repeats the first answer to a retry with the same key and body
(kept 24 hours in the store, shared by every worker); a retry while the first request
is still running answers ``409 conflict``; the same key with another body answers
``422 idempotency_key_reused``. The views parse, call it, and serialise.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from api import metrics
from api.openapi import SECURITY_DEPARTMENT, APIBlueprint, Tag, problems
from api.principals import current_department
from api.services import services
from service.issuance import IDEMPOTENCY_TTL, Kept, fingerprint
from store.interface import CredentialRecord, IssuerRecord

__all__ = ["IDEMPOTENCY_TTL", "bp"]

#: A view's answer with its status.
Answer = tuple[Response, int]

bp = APIBlueprint(
    "issuing",
    __name__,
    url_prefix="/api/v1/issuers",
    abp_tags=[Tag(name="issuing", description="Departments issue and manage credentials.")],
    abp_security=SECURITY_DEPARTMENT,
)

_SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
_CREDENTIAL_ID = r"^[A-Za-z0-9_-]{1,64}$"


class IssuerPath(BaseModel):
    """The department's issuer slug (``police``)."""

    issuer: str = Field(pattern=_SLUG)


class CredentialPath(BaseModel):
    """A credential of the department."""

    issuer: str = Field(pattern=_SLUG)
    id: str = Field(pattern=_CREDENTIAL_ID, description="The id returned at issuance.")


class IdempotencyHeader(BaseModel):
    """The optional ``Idempotency-Key`` header."""

    idempotency_key: str | None = Field(
        default=None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Any unique string (a UUID); a retry with the same key and body "
        "gets the first answer again.",
    )


class IssueBody(BaseModel):
    """What to issue, to whom."""

    model_config = ConfigDict(extra="forbid")

    vct: str = Field(min_length=1, max_length=64, description="The credential type.")
    citizen_id: str = Field(min_length=1, max_length=64)
    claims: dict[str, Any] = Field(
        description="The claims, checked against the type's catalogue entry "
        "(`ecert types`); errors name the claim, never its value."
    )


class StatusRef(BaseModel):
    """Where the credential's status lives (Token Status List)."""

    idx: int
    uri: str


class Issued(BaseModel):
    """A credential issued and delivered to the citizen's wallet."""

    id: str
    vct: str
    status: StatusRef


class StatusAnswer(BaseModel):
    """A credential's status after the change."""

    id: str
    status: Literal["valid", "revoked", "suspended"]


@bp.post(
    "/<issuer>/credentials",
    summary="Issue a credential into a citizen's wallet",
    responses={201: Issued, **problems(403, 404, 409, 422, 503)},
)
def issue(path: IssuerPath, header: IdempotencyHeader, body: IssueBody) -> Answer:
    """Issue a credential of type `vct` to the citizen and deliver it to their wallet.

    The citizen must exist (`404 unknown_citizen`). With `Idempotency-Key`, a retry
    gets the first answer again.
    """
    department = current_department(path.issuer)
    if header.idempotency_key is None:
        kept = _issue(department, path.issuer, body)
    else:
        kept = services().issuance.idempotent(
            path.issuer,
            header.idempotency_key,
            fingerprint(body.model_dump()),
            lambda: _issue(department, path.issuer, body),
        )
    return jsonify(kept.body), kept.status


@bp.post(
    "/<issuer>/credentials/<id>/revoke",
    summary="Revoke a credential for good",
    responses={200: StatusAnswer, **problems(403, 404, 409)},
)
def revoke(path: CredentialPath) -> dict[str, str]:
    """Revoke (status list value 1). Revocation is final."""
    department = current_department(path.issuer)
    return _answer(services().issuance.revoke(department, path.id))


@bp.post(
    "/<issuer>/credentials/<id>/suspend",
    summary="Suspend a credential",
    responses={200: StatusAnswer, **problems(403, 404, 409)},
)
def suspend(path: CredentialPath) -> dict[str, str]:
    """Suspend (status list value 2) until reinstated. A revoked credential stays revoked
    (`409 invalid_transition`)."""
    department = current_department(path.issuer)
    return _answer(services().issuance.suspend(department, path.id))


@bp.post(
    "/<issuer>/credentials/<id>/reinstate",
    summary="Lift a suspension",
    responses={200: StatusAnswer, **problems(403, 404, 409)},
)
def reinstate(path: CredentialPath) -> dict[str, str]:
    """Make a suspended credential valid again (`409 invalid_transition` if revoked)."""
    department = current_department(path.issuer)
    return _answer(services().issuance.reinstate(department, path.id))


# -- helpers ---------------------------------------------------------------------------


def _issue(department: IssuerRecord, slug: str, body: IssueBody) -> Kept:
    """Issue and deliver; the 201 answer. ClaimsInvalid passes through: the handler
    shows its public ``field``."""
    record = services().issuance.issue(department, body.vct, body.citizen_id, body.claims)
    metrics.count("ecert_credentials_issued_total", issuer=slug)
    answer = Issued(
        id=record.id,
        vct=record.vct,
        status=StatusRef(idx=record.status_idx, uri=record.status_uri),
    )
    return Kept(201, answer.model_dump())


def _answer(record: CredentialRecord) -> dict[str, str]:
    return StatusAnswer(id=record.id, status=record.state).model_dump()
