"""Ratings (好差评) and misuse reports: what citizens say about each use of their data.

A citizen may rate one use (a venue's verification, a department's proof query) with 1 to
5 stars and a comment, and report a use as misuse. Both are kept under the citizen's
pseudonym with the free text sealed by the service (``blob``); the venue or department
that used the data (``actor_kind``, ``actor``) and the scene or proof type (``topic``)
are in clear, so that the actor and the operator can list them.

Event ids are unique across citizens (:func:`store.kinds.activity.new_event_id`), so
``event_id`` alone names a rating for the operator, and a use has at most one report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

from store.errors import InvalidArgument

__all__ = [
    "ACTOR_KINDS",
    "LOW_STARS",
    "MAX_RATINGS_PER_CALL",
    "REPORT_STATES",
    "RatingRecord",
    "RatingStore",
    "ReportRecord",
    "ReportState",
    "check_rating",
    "check_read_limit",
    "check_report",
]

ReportState = Literal["open", "resolved"]
REPORT_STATES: tuple[str, ...] = get_args(ReportState)
#: Who used the data: a venue (verification) or a department (proof query).
ACTOR_KINDS: tuple[str, ...] = ("venue", "department")
#: A rating of at most this many stars awaits the operator's follow-up.
LOW_STARS = 2
#: The most records one call reads (callers page or bound their requests).
MAX_RATINGS_PER_CALL = 1000


@dataclass(frozen=True, slots=True)
class RatingRecord:
    """A citizen's rating of one use (``citizen`` is the pseudonym; ``stars`` 1..5;
    ``blob`` the sealed comment; ``created_at`` when first made, ``updated_at`` last
    edited; ``followed_up`` once the operator has followed a low rating up)."""

    citizen: str
    event_id: str
    actor_kind: str
    actor: str
    topic: str
    stars: int
    created_at: int
    updated_at: int
    followed_up: bool
    blob: bytes


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """A citizen's report that a use was misuse (``blob`` the sealed text; ``resolved_at``
    0 while ``open``)."""

    report_id: str
    citizen: str
    event_id: str
    actor_kind: str
    actor: str
    topic: str
    created_at: int
    state: ReportState
    resolved_at: int
    blob: bytes


@runtime_checkable
class RatingStore(Protocol):
    """Ratings by citizen, by actor and awaiting follow-up; misuse reports by state."""

    def put_rating(self, record: RatingRecord) -> None:
        """Insert or replace the rating of this citizen and event (the actor's list, its
        star counts and the operator's list of low ratings follow)."""

    def get_ratings(self, citizen: str, event_ids: list[str]) -> list[RatingRecord]:
        """The citizen's ratings of these events (at most :data:`MAX_RATINGS_PER_CALL`
        ids), those that exist, in no particular order."""

    def list_ratings_by_actor(
        self, actor_kind: str, actor: str, limit: int = 100
    ) -> list[RatingRecord]:
        """The actor's newest ``limit`` ratings, newest first (``created_at``, then event
        id, descending)."""

    def rating_distribution(self, actor_kind: str, actor: str) -> tuple[int, int, int, int, int]:
        """How many of the actor's ratings have 1, 2, 3, 4 and 5 stars."""

    def list_rated_actors(self, limit: int = 1000) -> list[tuple[str, str]]:
        """Every ``(actor_kind, actor)`` ever rated, sorted, at most ``limit``."""

    def list_low_ratings(self, limit: int = 100) -> list[RatingRecord]:
        """Ratings of at most :data:`LOW_STARS` stars not yet followed up, newest first."""

    def mark_rating_followed_up(self, event_id: str) -> bool:
        """Mark the low rating of this event followed up; False if there is no low rating
        of it awaiting follow-up."""

    def put_report(self, record: ReportRecord) -> bool:
        """Insert a report unless this event already has one (then False, nothing
        written)."""

    def get_report(self, report_id: str) -> ReportRecord | None: ...

    def get_event_reports(self, event_ids: list[str]) -> list[ReportRecord]:
        """The reports of these events (at most :data:`MAX_RATINGS_PER_CALL` ids), those
        that exist, in no particular order."""

    def list_reports(self, state: str, limit: int = 100) -> list[ReportRecord]:
        """The reports in ``state``, newest first (``created_at``, then id, descending)."""

    def resolve_report(self, report_id: str, resolved_at: int) -> ReportRecord:
        """Move an open report to ``resolved`` (compare-and-set on its state); the report
        as it now is. Raises :class:`NotFound` for an unknown id and :class:`Conflict`
        for one already resolved."""


def check_rating(record: RatingRecord) -> None:
    """Raise :class:`InvalidArgument` for stars outside 1..5 or an unknown actor kind."""
    stars = record.stars
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise InvalidArgument("stars must be an integer from 1 to 5")
    if record.actor_kind not in ACTOR_KINDS:
        raise InvalidArgument(f"unknown actor kind {record.actor_kind!r}")


def check_report(record: ReportRecord) -> None:
    """Raise :class:`InvalidArgument` for a report that is not new and open."""
    if record.state != "open" or record.resolved_at != 0:
        raise InvalidArgument("a new report is open")
    if record.actor_kind not in ACTOR_KINDS:
        raise InvalidArgument(f"unknown actor kind {record.actor_kind!r}")


def check_read_limit(limit: int) -> None:
    """Raise :class:`InvalidArgument` unless 0 <= ``limit`` <= :data:`MAX_RATINGS_PER_CALL`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidArgument(f"limit must be a non-negative integer, not {limit!r}")
    if limit > MAX_RATINGS_PER_CALL:
        raise InvalidArgument(f"limit must be at most {MAX_RATINGS_PER_CALL}")
