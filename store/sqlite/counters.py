"""The operator's daily counters on SQLite (table ``daily_counters``, schema version 7): one
row per day and name, added to by an upsert."""

from __future__ import annotations

from store.sqlite.base import SQLiteBase
from store.validation import check_counter, check_counter_days

__all__ = ["CountersMixin"]

_BUMP = (
    "INSERT INTO daily_counters (day, name, count) VALUES (?, ?, ?)"
    " ON CONFLICT (day, name) DO UPDATE SET count = count + excluded.count"
)


class CountersMixin(SQLiteBase):
    """:class:`store.kinds.counters.CounterStore` on SQLite."""

    def bump_counter(self, day: str, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter (created at ``n``)."""
        check_counter(day, name, n)
        with self._write() as conn:
            conn.execute(_BUMP, (day, name, n))

    def read_counters(self, days: list[str]) -> dict[str, dict[str, int]]:
        """``{day: {name: count}}`` for each day asked (``{}`` for a day without any)."""
        check_counter_days(days)
        out: dict[str, dict[str, int]] = {day: {} for day in days}
        if not days:
            return out
        marks = ", ".join("?" for _ in out)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT day, name, count FROM daily_counters WHERE day IN ({marks})",  # noqa: S608
                tuple(out),
            ).fetchall()
        for day, name, count in rows:
            out[day][name] = int(count)
        return out
