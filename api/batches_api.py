"""Proactive issuance (无感智办): a department posts a batch of credentials for citizens
who did not ask, and follows it (``/api/v1/issuers/{issuer}/batches``).

``POST`` takes the department key of ``issuer`` and a JSON Lines body
(``Content-Type: application/x-ndjson``; anything else answers ``415
unsupported_media_type``), one row a line (:mod:`service.batches`), at most 64 MiB
(``413 too_large``) and 200,000 rows (``413 batch_too_large``); it answers ``202
{"id"}`` as soon as the batch is a job, which the service's job runner issues in the
background (a crash resumes). ``GET …/batches/{id}`` answers the progress
``{"id", "state", "total", "issued", "skipped", "failed", "errors"}``, ``errors`` the
first 1,000 failed lines' ``{"line", "code", "message"}``; another department's batch
answers ``404 job_not_found`` like an unknown one. A batch posted again (a retry
after a lost answer, say) is a new job that skips every row already issued (``row_id``
per issuer): no ``Idempotency-Key`` is needed.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify, request
from pydantic import BaseModel, Field

from api.errors import UnsupportedMediaType
from api.openapi import SECURITY_DEPARTMENT, APIBlueprint, Tag, problems
from api.principals import current_department
from api.services import services
from service.batches import MAX_BODY

__all__ = ["NDJSON", "bp"]

#: The batch body's media type (JSON Lines).
NDJSON = "application/x-ndjson"
_ENDPOINT = "batches.post_batch"

bp = APIBlueprint(
    "batches",
    __name__,
    url_prefix="/api/v1/issuers",
    abp_tags=[Tag(name="batches", description="Departments issue into wallets in bulk.")],
    abp_security=SECURITY_DEPARTMENT,
)

_SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


def _body_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Runs before the chassis's body cap (api.security): a batch may be far larger
    # than a JSON body.
    if endpoint != _ENDPOINT or request.mimetype != NDJSON:
        return
    limit = request.max_content_length
    if limit is not None and limit < MAX_BODY:
        request.max_content_length = MAX_BODY


bp.url_value_preprocessor(_body_limit)


class IssuerPath(BaseModel):
    """The department's issuer slug (``police``)."""

    issuer: str = Field(pattern=_SLUG)


class BatchPath(BaseModel):
    """One batch of the department."""

    issuer: str = Field(pattern=_SLUG)
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The id the POST answered.")


class BatchCreated(BaseModel):
    """The batch, accepted as a job."""

    id: str


class LineError(BaseModel):
    """Why one line was not issued."""

    line: int = Field(description="The line number in the body (from 1, blank lines count).")
    code: str = Field(description="A stable code (`batch_row_invalid`, `claims_invalid`…).")
    message: str = Field(description="Names the member or claim, never its value.")


class BatchStatus(BaseModel):
    """A batch's progress."""

    id: str
    state: Literal["pending", "running", "done", "failed"]
    total: int = Field(description="Rows (non-blank lines), good and bad.")
    issued: int
    skipped: int = Field(description="Rows issued before (their `row_id`), not again.")
    failed: int
    errors: list[LineError] = Field(description="The first 1,000 failed lines.")


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            NDJSON: {
                "schema": {"type": "string"},
                "example": '{"row_id": "2026-07-0001", "citizen_id": "110101199003070011", '
                '"vct": "urn:ecert:resident-id-card", "claims": {"name": "张三"}, '
                '"notice": {"zh": "您的证照已发放。", "en": "Your certificate has arrived."}}\n',
            }
        },
    }
}


@bp.post(
    "/<issuer>/batches",
    summary="Issue a batch of credentials into citizens' wallets",
    responses={202: BatchCreated, **problems(403, 413, 415, 503)},
    openapi_extensions=_BODY_DOC,
)
def post_batch(path: IssuerPath) -> tuple[Response, int]:
    """JSON Lines, one `{"row_id", "citizen_id", "vct", "claims", "notice": {"zh",
    "en"}}` a line; `202 {"id"}` once the batch is a job. Follow it with GET. Posted
    again, a batch skips the rows already issued (their `row_id`)."""
    department = current_department(path.issuer)
    if request.mimetype != NDJSON:
        raise UnsupportedMediaType(f"A batch is sent as {NDJSON} (JSON Lines).")
    job = services().batches.create(department, request.get_data(cache=False))
    response = jsonify(BatchCreated(id=job.id).model_dump())
    response.headers["Location"] = f"{request.path}/{job.id}"
    return response, 202


@bp.get(
    "/<issuer>/batches/<id>",
    summary="A batch's progress and its failed lines",
    responses={200: BatchStatus, **problems(403, 404)},
)
def get_batch(path: BatchPath) -> dict[str, Any]:
    """Counters and the failed lines' reports (`errors`, the first 1,000)."""
    department = current_department(path.issuer)
    return services().batches.status(department, path.id)
