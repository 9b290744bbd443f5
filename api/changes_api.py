"""One change, every certificate (``/api/v1/subjects/{citizen_id}/changes``).

The department authoritative for a subject field (the catalogue says which:
``issuer/data/subjects.json``; the police for the name) records a change of it for a
citizen; every valid credential of that citizen that carries the field, whoever issued
it, is re-issued by its own issuer with the new value, into the wallet and every
device, and the old one revoked: a job (:class:`service.changes.Changes`) that
survives a crash. ``POST`` answers ``202`` with the job; ``GET`` shows its progress.

Any department key may call; the field's authority is checked against the key's
department (``403 field_not_owned`` otherwise). A job is seen only by its department,
for its citizen: any other id answers ``404 job_not_found``. ``Idempotency-Key``
repeats the first answer (:meth:`service.issuance.Issuance.idempotent`).
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify, url_for
from pydantic import BaseModel, ConfigDict, Field

from api.issuing import IdempotencyHeader
from api.openapi import SECURITY_DEPARTMENT, APIBlueprint, Tag, problems
from api.principals import calling_department
from api.services import services
from service.changes import MAX_REASON, ChangeStatus
from service.issuance import Kept, fingerprint

__all__ = ["bp"]

bp = APIBlueprint(
    "changes",
    __name__,
    url_prefix="/api/v1/subjects",
    abp_tags=[
        Tag(
            name="changes",
            description="One change, every certificate: the authoritative department "
            "changes a citizen's name (or another subject field) once, and every "
            "certificate that carries it is re-issued by its own issuer.",
        )
    ],
    abp_security=SECURITY_DEPARTMENT,
)

_CITIZEN = Field(min_length=1, max_length=64, description="The citizen's id.")


class CitizenPath(BaseModel):
    """The citizen whose fact changes."""

    citizen_id: str = _CITIZEN


class ChangePath(BaseModel):
    """One change job of the citizen."""

    citizen_id: str = _CITIZEN
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The id the POST gave.")


class ChangeBody(BaseModel):
    """The change: which subject field, its new value, since when, and why."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        min_length=1,
        max_length=64,
        description="A subject field (`name`, `sex`, `ethnicity`, `birth_date`, "
        "`address`, `marital_status`: docs/formats.md).",
    )
    value: str | int | bool = Field(
        description="The new value, of the field's claim type (a date is `YYYY-MM-DD`); "
        "errors never repeat it."
    )
    effective: str = Field(
        min_length=1, max_length=32, description="The date the change took effect, YYYY-MM-DD."
    )
    reason: str = Field(
        min_length=1,
        max_length=4 * MAX_REASON,
        description=f"Why (1 to {MAX_REASON} characters, no control characters).",
    )


class ChangedCredential(BaseModel):
    """One credential that carries the field."""

    old: str = Field(description="The credential's id before the change.")
    new: str | None = Field(description="Its replacement's id, once re-issued.")
    vct: str
    issuer: str = Field(description="The issuer's slug: it re-issues its own credential.")
    state: Literal["pending", "done", "skipped", "failed"]
    reason: str | None = Field(
        default=None,
        description="Why it was skipped (`same_value`: it already holds the new value; "
        "`not_valid`: revoked or suspended since) or the code it failed with.",
    )


class ChangeAnswer(BaseModel):
    """A change job and the credentials it re-issues."""

    id: str
    field: str
    state: Literal["pending", "running", "done", "failed"]
    credentials: list[ChangedCredential]


_REFUSED = (
    "`change_invalid` (with `field`: `value`, `effective` or `reason`, never the value) or "
    "`field_unknown`."
)


@bp.post(
    "/<citizen_id>/changes",
    summary="Change a citizen's subject field everywhere",
    responses={
        202: ChangeAnswer,
        **problems(
            403,
            404,
            409,
            422,
            descriptions={
                403: "`field_not_owned`: the key's department is not the field's "
                "authority (or `forbidden`: its department is not registered).",
                404: "`unknown_citizen`.",
                409: "`conflict`: a request with this `Idempotency-Key` is in progress; "
                "`change_busy`: the citizen's wallet kept changing while the change was "
                "planned (post again).",
                422: _REFUSED + " Or `idempotency_key_reused`.",
            },
        ),
    },
)
def post_change(path: CitizenPath, header: IdempotencyHeader, body: ChangeBody) -> Any:
    """Record the change and start re-issuing every valid credential of the citizen
    that carries the field (`202`; poll the `Location`). Credentials that do not carry
    it are untouched; one that already holds the new value is `skipped`."""
    department = calling_department()
    request = body.model_dump()

    def run() -> Kept:
        status = services().changes.request(department, path.citizen_id, request)
        return Kept(202, _answer(status))

    if header.idempotency_key is None:
        kept = run()
    else:
        kept = services().issuance.idempotent(
            department.slug,
            header.idempotency_key,
            fingerprint({"route": "changes", "citizen_id": path.citizen_id, **request}),
            run,
        )
    response: Response = jsonify(kept.body)
    response.status_code = kept.status
    response.headers["Location"] = url_for(
        "changes.get_change", citizen_id=path.citizen_id, id=kept.body["id"]
    )
    return response


@bp.get(
    "/<citizen_id>/changes/<id>",
    summary="A change's progress",
    responses={
        200: ChangeAnswer,
        **problems(404, descriptions={404: "`job_not_found` (also another department's)."}),
    },
)
def get_change(path: ChangePath) -> dict[str, Any]:
    """The change job: its state and, per credential, the old and new ids."""
    department = calling_department()
    return _answer(services().changes.status(department, path.citizen_id, path.id))


def _answer(status: ChangeStatus) -> dict[str, Any]:
    return ChangeAnswer(
        id=status.id,
        field=status.field,
        state=status.state,  # type: ignore[arg-type]
        credentials=[ChangedCredential(**c) for c in status.credentials],
    ).model_dump()
