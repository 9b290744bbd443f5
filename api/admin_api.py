"""The operator's figures and follow-up (``/api/v1/admin/…``), behind an operator key.

- ``GET /api/v1/admin/stats?from=YYYY-MM-DD&to=YYYY-MM-DD``: the numbers the ``/admin``
  dashboard draws: issuances, verifications and proof queries per UTC day, the ratings'
  stars per venue and department, and the low ratings and open misuse reports awaiting
  follow-up (:mod:`service.stats`);
- ``POST /api/v1/admin/reports/{id}/resolve``: a misuse report handled;
- ``POST /api/v1/admin/ratings/{event_id}/follow-up``: a low rating followed up.

A department or venue key answers ``403 forbidden``; no key, an unknown or revoked one,
or a citizen's token ``401 unauthorized``. The answers hold citizens' comments and report
texts (never who wrote them): ``Cache-Control: no-store`` as every ``/api/v1/`` answer,
and nothing of them is logged.
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
    """The days asked (UTC, inclusive; at most 92). Any other query parameter is refused."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

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


#: venue id / department slug -> how many ratings gave 1, 2, 3, 4 and 5 stars
Stars = dict[str, list[int]]


class RatingStats(BaseModel):
    """The stars given to each venue and department since the start."""

    by_venue: Stars
    by_department: Stars
    names: dict[str, dict[str, str]] = Field(
        description="`venue:<id>` or `department:<slug>` -> its name `{zh, en}`."
    )


class LowRating(BaseModel):
    """A rating of at most 2 stars not yet followed up (no citizen data)."""

    event_id: str = Field(description="The rated use; `POST …/ratings/{event_id}/follow-up`.")
    actor_kind: str = Field(description="`venue` or `department`.")
    actor: str
    actor_name: dict[str, str]
    topic: str = Field(description="The scene or proof type.")
    stars: int
    comment: str
    created_at: int
    updated_at: int


class MisuseReport(BaseModel):
    """A citizen's misuse report (no citizen data)."""

    id: str = Field(description="`POST /api/v1/admin/reports/{id}/resolve`.")
    event_id: str
    actor_kind: str
    actor: str
    actor_name: dict[str, str]
    topic: str
    created_at: int
    state: str = Field(description="`open` or `resolved`.")
    resolved_at: int = Field(description="When it was resolved (0 while open).")
    text: str


class FollowUp(BaseModel):
    """What awaits the operator, newest first (at most 100 of each)."""

    low_ratings: list[LowRating]
    reports: list[MisuseReport]


class StatsAnswer(BaseModel):
    """Every series has a count for every day of `days` (0 where nothing happened)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    days: list[str] = Field(description="The UTC days, oldest first.")
    issuance: IssuanceStats
    verification: VerificationStats
    proof_queries: ProofQueryStats
    ratings: RatingStats
    follow_up: FollowUp


class ReportPath(BaseModel):
    """One misuse report."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class RatingPath(BaseModel):
    """The rated use."""

    event_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class FollowedUp(BaseModel):
    """The low rating marked followed up."""

    event_id: str
    followed_up: bool


@bp.get(
    "/stats",
    summary="The dashboard's figures per day",
    responses={200: StatsAnswer, **problems(400, 401, 403)},
)
def admin_stats(query: StatsQuery) -> dict[str, Any]:
    """Issuances by department and type, verifications by scene and venue (refusals by
    scene and by code), proof queries by asking department and proof type, for each UTC
    day from `from` to `to` (default: the last 14 days); the stars per venue and
    department; the low ratings and open misuse reports awaiting follow-up, with the
    citizen's comment or text (never the citizen). `400 stats_range_invalid` for `from`
    after `to`, more than 92 days or a day that does not exist."""
    current_operator()
    return services().stats.stats(query.from_, query.to)


@bp.post(
    "/reports/<id>/resolve",
    summary="Mark a misuse report resolved",
    responses={200: MisuseReport, **problems(401, 403, 404, 409)},
)
def resolve_report(path: ReportPath) -> dict[str, Any]:
    """The report, now `resolved`. `404 not_found` for an unknown id, `409 conflict` for
    a report already resolved."""
    current_operator()
    return services().stats.resolve_report(path.id)


@bp.post(
    "/ratings/<event_id>/follow-up",
    summary="Mark a low rating followed up",
    responses={200: FollowedUp, **problems(401, 403, 404)},
)
def follow_up_rating(path: RatingPath) -> dict[str, Any]:
    """The low rating of this use leaves the follow-up list. `404 not_found` when no low
    rating of it awaits follow-up (unknown, above 2 stars, or already followed up)."""
    current_operator()
    services().stats.follow_up_rating(path.event_id)
    return {"event_id": path.event_id, "followed_up": True}
