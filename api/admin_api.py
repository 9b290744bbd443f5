"""The operator's figures (``/api/v1/admin/…``), behind an operator key.

``GET /api/v1/admin/stats?from=YYYY-MM-DD&to=YYYY-MM-DD`` serves the numbers the
``/admin`` dashboard draws: issuances, verifications and proof queries per UTC day
(:mod:`service.stats`). A department or venue key answers ``403 forbidden``; no key,
an unknown or revoked one, or a citizen's token ``401 unauthorized``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.openapi import SECURITY_OPERATOR, APIBlueprint, Tag, problems
from api.principals import current_operator
from api.services import services

__all__ = ["bp"]

bp = APIBlueprint(
    "admin",
    __name__,
    url_prefix="/api/v1/admin",
    abp_tags=[Tag(name="admin", description="The operator's dashboard figures.")],
    abp_security=SECURITY_OPERATOR,
)

_DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

#: label (a department slug, scene, venue id, type id or code) -> UTC day -> count
Series = dict[str, dict[str, int]]


class StatsQuery(BaseModel):
    """The days asked (UTC, inclusive; at most 92)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(
        default=None,
        alias="from",
        pattern=_DAY,
        description="First day, `YYYY-MM-DD` (default: 13 days before `to`).",
    )
    to: str | None = Field(default=None, pattern=_DAY, description="Last day (default: today).")


class IssuanceStats(BaseModel):
    """Credentials issued."""

    by_department: Series = Field(description="By issuing department (its slug).")
    by_type: Series = Field(description="By credential type (`vct`).")


class VerificationStats(BaseModel):
    """Verifications by venues, answered or refused."""

    by_scene: Series
    by_venue: Series
    refused: Series = Field(description="Refused ones, by scene.")
    refusal_codes: Series = Field(description="Refusals by stable code (one each per code).")


class ProofQueryStats(BaseModel):
    """Departments' proof queries, answered or refused."""

    by_department: Series = Field(description="By asking department (its slug).")
    by_proof_type: Series
    refused: Series = Field(description="Refused ones, by asking department.")


class StatsAnswer(BaseModel):
    """Every series has a count for every day of `days` (0 where nothing happened)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    days: list[str] = Field(description="The UTC days, oldest first.")
    issuance: IssuanceStats
    verification: VerificationStats
    proof_queries: ProofQueryStats
    ratings: dict[str, Any] = Field(description="Ratings per venue and department.")
    follow_up: dict[str, Any] = Field(description="Low ratings and misuse reports to follow up.")


@bp.get(
    "/stats",
    summary="The dashboard's figures per day",
    responses={200: StatsAnswer, **problems(400, 401, 403)},
)
def admin_stats(query: StatsQuery) -> dict[str, Any]:
    """Issuances by department and type, verifications by scene and venue (refusals by
    scene and by code), proof queries by asking department and proof type, for each UTC
    day from `from` to `to` (default: the last 14 days). `400 stats_range_invalid` for
    `from` after `to`, more than 92 days or a day that does not exist."""
    current_operator()
    return services().stats.stats(query.from_, query.to)
