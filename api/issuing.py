"""Departments issue credentials and change their status (``/api/v1/issuers/{issuer}``).

Every route takes a department key whose issuer is the path's ``issuer``
(:func:`api.principals.current_department`); a credential type outside the
issuer's ``vct``s answers ``403 issuer_not_authorised``.

Issuance delivers the credential into the citizen's wallet at once, bound to the
wallet's holder key; the id the department gets is the id in the wallet. If the
delivery fails, the just-issued credential is revoked (best effort) and the error
is answered: no credential is left valid that nobody holds.

``Idempotency-Key`` (draft-ietf-httpapi-idempotency-key-header): the first answer
to a key is kept for 24 hours in the store (shared by every worker) and repeated,
as is, to a retry with the same key and body. A retry while the first request is
still running answers ``409 conflict``; the same key with another body answers
``422 idempotency_key_reused``. Failed requests are not kept: a retry runs again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from api import metrics
from api.errors import IdempotencyKeyReused, IdempotencyPending
from api.openapi import SECURITY_DEPARTMENT, APIBlueprint, Tag, problems
from api.principals import current_department
from api.services import Services, services
from issuer import NotAuthorised
from store.interface import CredentialRecord, IssuerRecord

__all__ = ["IDEMPOTENCY_TTL", "bp"]

#: A view's answer with its status.
Answer = tuple[Response, int]

#: How long the first answer to an ``Idempotency-Key`` is kept (seconds).
IDEMPOTENCY_TTL = 24 * 3600
#: How long a key stays claimed by a request that never finished (a crashed worker).
_PENDING_TTL = 60

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
        return _issue(department, path.issuer, body)
    return _idempotent(
        f"idem:{path.issuer}:{_sha256(header.idempotency_key)}",
        _sha256(json.dumps(body.model_dump(), sort_keys=True, ensure_ascii=False)),
        lambda: _issue(department, path.issuer, body),
    )


@bp.post(
    "/<issuer>/credentials/<id>/revoke",
    summary="Revoke a credential for good",
    responses={200: StatusAnswer, **problems(403, 404, 409)},
)
def revoke(path: CredentialPath) -> dict[str, str]:
    """Revoke (status list value 1). Revocation is final."""
    department = current_department(path.issuer)
    return _answer(services().instance.issuer.revoke(department.iss, path.id))


@bp.post(
    "/<issuer>/credentials/<id>/suspend",
    summary="Suspend a credential",
    responses={200: StatusAnswer, **problems(403, 404, 409)},
)
def suspend(path: CredentialPath) -> dict[str, str]:
    """Suspend (status list value 2) until reinstated. A revoked credential stays revoked
    (`409 invalid_transition`)."""
    department = current_department(path.issuer)
    return _answer(services().instance.issuer.suspend(department.iss, path.id))


@bp.post(
    "/<issuer>/credentials/<id>/reinstate",
    summary="Lift a suspension",
    responses={200: StatusAnswer, **problems(403, 404, 409)},
)
def reinstate(path: CredentialPath) -> dict[str, str]:
    """Make a suspended credential valid again (`409 invalid_transition` if revoked)."""
    department = current_department(path.issuer)
    return _answer(services().instance.issuer.reinstate(department.iss, path.id))


# -- helpers ---------------------------------------------------------------------------


def _issue(department: IssuerRecord, slug: str, body: IssueBody) -> Answer:
    """Issue and deliver; the 201 response."""
    if body.vct not in department.vcts:
        raise NotAuthorised("this department may not issue this credential type")
    svc = services()
    svc.accounts.require_citizen(body.citizen_id)
    vault = svc.instance.vault
    # ClaimsInvalid passes through: the handler shows its public ``field``.
    issued = svc.instance.issuer.issue(
        department.iss,
        body.vct,
        subject=body.citizen_id,
        claims=body.claims,
        holder_jwk=vault.holder_jwk(body.citizen_id),
    )
    try:
        vault.add(body.citizen_id, issued.id, issued.sd_jwt)
    except Exception:
        _withdraw(svc, department.iss, issued.id)
        raise
    metrics.count("ecert_credentials_issued_total", issuer=slug)
    record = issued.record
    answer = Issued(
        id=issued.id,
        vct=record.vct,
        status=StatusRef(idx=record.status_idx, uri=record.status_uri),
    )
    return jsonify(answer.model_dump()), 201


def _withdraw(svc: Services, iss: str, credential_id: str) -> None:
    """Revoke a credential that could not be delivered; the caller re-raises its error."""
    with suppress(Exception):
        svc.instance.issuer.revoke(iss, credential_id)


def _answer(record: CredentialRecord) -> dict[str, str]:
    return StatusAnswer(id=record.id, status=record.state).model_dump()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _idempotent(key: str, fingerprint: str, run: Callable[[], Answer]) -> Answer:
    """Answer with the kept response for ``key``, or run and keep the response.

    The key is claimed first with a *pending* marker, so that a concurrent retry
    (another worker) answers 409 instead of issuing twice.
    """
    store = services().instance.store
    now = time.time()
    pending = json.dumps({"state": "pending", "fingerprint": fingerprint}).encode("utf-8")
    if not store.put_once(key, pending, now + _PENDING_TTL, now):
        return _replay(store.get_once(key, now), fingerprint)
    try:
        response, status = run()
    except BaseException:
        # Nothing was kept: release the key so that a retry runs again (if the store
        # cannot be reached now, the pending marker expires on its own).
        with suppress(Exception):
            store.put_once(key, b"", now, now, replace=True)
        raise
    kept = {
        "state": "done",
        "fingerprint": fingerprint,
        "status": status,
        "body": response.get_json(),
    }
    done = time.time()
    store.put_once(
        key, json.dumps(kept).encode("utf-8"), done + IDEMPOTENCY_TTL, done, replace=True
    )
    return response, status


def _replay(raw: bytes | None, fingerprint: str) -> Answer:
    """The kept answer to a retry (or the reason there is none)."""
    if raw is None:
        # Released or expired between our two reads: the first attempt failed.
        raise IdempotencyPending(
            "A request with this Idempotency-Key just finished without result; retry.",
        )
    kept = json.loads(raw)
    if kept.get("fingerprint") != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with another request body.",
        )
    if kept.get("state") != "done":
        raise IdempotencyPending(
            "A request with this Idempotency-Key is still in progress; retry later.",
        )
    return jsonify(kept["body"]), int(kept["status"])
