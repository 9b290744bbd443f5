"""Ratings and misuse reports on SQLite (tables ``ratings`` and ``reports``, schema
version 7): a rating per citizen and event (an event id is also unique on its own), read
by actor and by the partial index of low ratings awaiting follow-up; a report per event."""

from __future__ import annotations

from store.codec import Codec
from store.errors import Conflict, NotFound
from store.kinds.ratings import (
    LOW_STARS,
    REPORT_STATES,
    RatingRecord,
    ReportRecord,
    check_rating,
    check_read_limit,
    check_report,
)
from store.sqlite.base import SQLiteBase
from store.validation import check_state

__all__ = ["RatingsMixin"]

# The partial index ``ratings_low`` (schema 7) spells LOW_STARS out: a query must too.
assert LOW_STARS == 2

RATING = Codec(RatingRecord)
REPORT = Codec(ReportRecord)
# An event id held by another citizen's rating breaks ``ratings_by_event``: Conflict.
_PUT_RATING = RATING.insert("ratings") + (
    " ON CONFLICT (citizen, event_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in RATING.fields[2:])
)
_PUT_REPORT = REPORT.insert("reports", "INSERT OR IGNORE")


class RatingsMixin(SQLiteBase):
    """:class:`store.kinds.ratings.RatingStore` on SQLite."""

    def put_rating(self, record: RatingRecord) -> None:
        """Insert or update; :class:`Conflict` if another citizen rated this event id."""
        check_rating(record)
        with self._write() as conn:
            conn.execute(_PUT_RATING, RATING.to_row(record))

    def get_ratings(self, citizen: str, event_ids: list[str]) -> list[RatingRecord]:
        check_read_limit(len(event_ids))
        if not event_ids:
            return []
        marks = ",".join("?" * len(event_ids))
        with self._read() as conn:
            rows = conn.execute(
                RATING.select("ratings") + f" WHERE citizen = ? AND event_id IN ({marks})",
                (citizen, *event_ids),
            ).fetchall()
        return [RATING.from_row(row) for row in rows]

    def list_ratings_by_actor(
        self, actor_kind: str, actor: str, limit: int = 100
    ) -> list[RatingRecord]:
        check_read_limit(limit)
        with self._read() as conn:
            rows = conn.execute(
                RATING.select("ratings") + " WHERE actor_kind = ? AND actor = ?"
                " ORDER BY created_at DESC, event_id DESC LIMIT ?",
                (actor_kind, actor, limit),
            ).fetchall()
        return [RATING.from_row(row) for row in rows]

    def rating_distribution(self, actor_kind: str, actor: str) -> tuple[int, int, int, int, int]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT stars, COUNT(*) FROM ratings WHERE actor_kind = ? AND actor = ?"
                " GROUP BY stars",
                (actor_kind, actor),
            ).fetchall()
        counts = dict.fromkeys(range(1, 6), 0)
        for stars, count in rows:
            if stars in counts:
                counts[stars] = int(count)
        return (counts[1], counts[2], counts[3], counts[4], counts[5])

    def list_rated_actors(self, limit: int = 1000) -> list[tuple[str, str]]:
        check_read_limit(limit)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT actor_kind, actor FROM ratings"
                " ORDER BY actor_kind, actor LIMIT ?",
                (limit,),
            ).fetchall()
        return [(str(kind), str(actor)) for kind, actor in rows]

    def list_low_ratings(self, limit: int = 100) -> list[RatingRecord]:
        check_read_limit(limit)
        with self._read() as conn:
            rows = conn.execute(
                RATING.select("ratings") + " INDEXED BY ratings_low"
                " WHERE followed_up = 0 AND stars <= 2"
                " ORDER BY created_at DESC, event_id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [RATING.from_row(row) for row in rows]

    def mark_rating_followed_up(self, event_id: str) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE ratings SET followed_up = 1"
                " WHERE event_id = ? AND followed_up = 0 AND stars <= ?",
                (event_id, LOW_STARS),
            )
            return cur.rowcount == 1

    def put_report(self, record: ReportRecord) -> bool:
        check_report(record)
        with self._write() as conn:
            cur = conn.execute(_PUT_REPORT, REPORT.to_row(record))
            return cur.rowcount == 1

    def get_report(self, report_id: str) -> ReportRecord | None:
        with self._read() as conn:
            row = conn.execute(
                REPORT.select("reports") + " WHERE report_id = ?", (report_id,)
            ).fetchone()
        return None if row is None else REPORT.from_row(row)

    def get_event_reports(self, event_ids: list[str]) -> list[ReportRecord]:
        check_read_limit(len(event_ids))
        if not event_ids:
            return []
        marks = ",".join("?" * len(event_ids))
        with self._read() as conn:
            rows = conn.execute(
                REPORT.select("reports") + f" WHERE event_id IN ({marks})", tuple(event_ids)
            ).fetchall()
        return [REPORT.from_row(row) for row in rows]

    def list_reports(self, state: str, limit: int = 100) -> list[ReportRecord]:
        check_state(state, REPORT_STATES)
        check_read_limit(limit)
        with self._read() as conn:
            rows = conn.execute(
                REPORT.select("reports") + " WHERE state = ?"
                " ORDER BY created_at DESC, report_id DESC LIMIT ?",
                (state, limit),
            ).fetchall()
        return [REPORT.from_row(row) for row in rows]

    def resolve_report(self, report_id: str, resolved_at: int) -> ReportRecord:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE reports SET state = 'resolved', resolved_at = ?"
                " WHERE report_id = ? AND state = 'open'",
                (resolved_at, report_id),
            )
            row = conn.execute(
                REPORT.select("reports") + " WHERE report_id = ?", (report_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no report {report_id!r}")
        if cur.rowcount != 1:
            raise Conflict(f"report {report_id!r} is already resolved")
        return REPORT.from_row(row)

