"""The activity log on SQLite (table ``activity``): the newest :data:`ACTIVITY_CAP`
events per citizen, as in the Redis backend."""

from __future__ import annotations

from store.codec import Codec
from store.kinds.activity import ACTIVITY_CAP, ActivityRecord
from store.sqlite.base import SQLiteBase
from store.validation import check_activity_limit

__all__ = ["ActivityMixin"]

ACTIVITY = Codec(ActivityRecord)
_INSERT = ACTIVITY.insert("activity", "INSERT OR REPLACE")


class ActivityMixin(SQLiteBase):
    """:class:`store.kinds.activity.ActivityStore` on SQLite."""

    def add_activity(self, record: ActivityRecord) -> None:
        """Record one event (replacing one with the same citizen and event id).

        Only the newest :data:`ACTIVITY_CAP` events of the citizen are kept.
        """
        with self._write() as conn:
            conn.execute(_INSERT, ACTIVITY.to_row(record))
            # The newest event that falls off the cap, if any; it and older ones go.
            edge = conn.execute(
                "SELECT at, event_id FROM activity WHERE citizen_id = ?"
                " ORDER BY at DESC, event_id DESC LIMIT 1 OFFSET ?",
                (record.citizen_id, ACTIVITY_CAP),
            ).fetchone()
            if edge is not None:
                conn.execute(
                    "DELETE FROM activity WHERE citizen_id = ? AND (at, event_id) <= (?, ?)",
                    (record.citizen_id, edge["at"], edge["event_id"]),
                )

    def list_activity(self, citizen_id: str, limit: int = 100) -> list[ActivityRecord]:
        """The citizen's newest ``limit`` events: ``at`` descending, then event id descending.

        Raises :class:`InvalidArgument` for a negative limit.
        """
        check_activity_limit(limit)
        with self._read() as conn:
            rows = conn.execute(
                ACTIVITY.select("activity")
                + " WHERE citizen_id = ? ORDER BY at DESC, event_id DESC LIMIT ?",
                (citizen_id, limit),
            ).fetchall()
        return [ACTIVITY.from_row(row) for row in rows]
