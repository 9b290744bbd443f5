"""Proof queries (电子证明共享核查): ``/api/v1/proofs``.

- ``GET /api/v1/proofs/types`` (public, no key): the proof-type catalogue
  (``issuer/data/proofs.json``): what a department may ask, who answers, the inputs it
  needs, the claims of the answer and how long an answer stays valid;
- ``POST /api/v1/proofs/queries`` (a department's key): ask a proof about a citizen.
  Without the citizen's matching, unexpired consent (that department, proof type and
  purpose) → ``403 consent_required``, the same for a citizen the service does not know;
  with it → ``200 {"proof": "<proof+jwt>"}``, signed by the answering department
  (docs/formats.md "proof+jwt"; checked offline by ``Verifier.verify_proof``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.openapi import SECURITY_DEPARTMENT, APIBlueprint, Tag, problems
from api.principals import calling_department
from api.services import services
from issuer.proof_types import MAX_INPUTS
from keys.models import LocalizedName
from service.proofs import MAX_CITIZEN_ID
from service.uses import MAX_PURPOSE

__all__ = ["bp"]

bp = APIBlueprint(
    "proofs",
    __name__,
    url_prefix="/api/v1/proofs",
    abp_tags=[
        Tag(
            name="proofs",
            description="Proof queries: a department looks a proof about a citizen up "
            "itself, with the citizen's consent, and gets an answer signed by the "
            "department that holds the record.",
        )
    ],
)


class ProofInputEntry(BaseModel):
    """An input a query of the type must give (besides `citizen_id`)."""

    name: str
    label: LocalizedName
    type: str = Field(description="`string` or `date` (YYYY-MM-DD).")
    max_length: int
    pattern: str | None = Field(default=None, description="A full-match pattern, if any.")


class ProofClaimEntry(BaseModel):
    """A claim of the answer (`found` first, in every answer)."""

    name: str
    label: LocalizedName
    type: str = Field(description="`string`, `date`, `integer` or `boolean`.")


class ProofTypeEntry(BaseModel):
    """One proof type."""

    id: str
    name: LocalizedName
    answered_by: str = Field(description="The answering department's issuer slug.")
    inputs: list[ProofInputEntry]
    claims: list[ProofClaimEntry]
    valid_for: int = Field(description="Seconds an answer stays valid (its `exp - iat`).")


class ProofTypeList(BaseModel):
    """The proof-type catalogue, in its order."""

    items: list[ProofTypeEntry]


class QueryBody(BaseModel):
    """A proof query."""

    model_config = ConfigDict(extra="forbid")

    proof_type: str = Field(min_length=1, max_length=64, description="A proof type's `id`.")
    citizen_id: str = Field(min_length=1, max_length=MAX_CITIZEN_ID)
    purpose: str = Field(
        min_length=1,
        max_length=4 * MAX_PURPOSE,
        description=f"Why (1 to {MAX_PURPOSE} characters after NFC and trimming); must be "
        "exactly the purpose the citizen consented to.",
    )
    inputs: dict[str, Any] | None = Field(
        default=None,
        max_length=MAX_INPUTS,
        description="The type's inputs (e.g. `relative_id`), exactly those it lists.",
    )


class QueryAnswer(BaseModel):
    """The answer."""

    proof: str = Field(description="A `proof+jwt` (docs/formats.md).")


@bp.get("/types", summary="The proof types", responses={200: ProofTypeList})
def proof_types() -> dict[str, Any]:
    """Every proof type a department may query, with its answering department, inputs,
    answer claims and validity (public; no key)."""
    catalogue = services().proofs.catalogue
    return ProofTypeList(
        items=[ProofTypeEntry.model_validate(t.to_public()) for t in catalogue]
    ).model_dump(exclude_none=True)


@bp.post(
    "/queries",
    summary="Query a proof about a citizen",
    security=SECURITY_DEPARTMENT,
    responses={
        200: QueryAnswer,
        **problems(
            400,
            401,
            403,
            404,
            422,
            descriptions={
                400: "`invalid_request`: the body does not match its schema (sizes, "
                "unknown members).",
                403: "`consent_required`: no matching, unexpired consent of the citizen for "
                "this department, proof type and purpose (a citizen the service does not "
                "know answers the same); `forbidden`: the key's department is not "
                "registered.",
                404: "`unknown_proof_type`.",
                422: "`proof_query_invalid` (purpose, citizen id), `proof_inputs_invalid` "
                "(naming the input, never its value).",
            },
        ),
    },
)
def query(body: QueryBody) -> dict[str, Any]:
    """Ask: answered with a `proof+jwt` signed by the answering department (its `aud` is
    the asking department), or refused. Every query, answered or refused, is recorded
    for the citizen and audited."""
    department = calling_department()
    token = services().proofs.query(
        department.slug, body.proof_type, body.citizen_id, body.purpose, body.inputs
    )
    return QueryAnswer(proof=token).model_dump()
