"""Short-lived entries on SQLite: ``counters`` (fixed windows), ``nonces``,
``once_values`` and ``window_entries`` (sliding-window logs).

Rows are never returned once expired at the caller's ``now``; each write to one of
those tables first deletes that table's rows expired at the ``now`` it was given,
inside the same ``BEGIN IMMEDIATE`` transaction. These are not records (no dataclass):
hand-mapped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from store.kinds.ephemeral import Limit, OnceSpace, OnceValues, window_wait
from store.sqlite.base import SQLiteBase
from store.validation import check_time, check_window, check_window_call, check_window_name

__all__ = ["EphemeralMixin"]


def _window_wait(
    conn: sqlite3.Connection, counter: str, now: float, limits: tuple[Limit, ...]
) -> float:
    longest = max(limit.window for limit in limits)
    rows = conn.execute(
        "SELECT at FROM window_entries WHERE counter = ? AND at > ?",
        (counter, now - longest),
    ).fetchall()
    return window_wait([float(row["at"]) for row in rows], limits, now)


class EphemeralMixin(SQLiteBase):
    """:class:`store.kinds.ephemeral.ShortLivedStore` on SQLite."""

    def hit(self, counter: str, window: int, now: float) -> int:
        """Count one hit in the fixed ``window`` (seconds) holding ``now``; the new count.

        Windows start at multiples of ``window`` since the epoch. Raises
        :class:`InvalidArgument` for a window that is not a positive integer.
        """
        check_window(window)
        check_time(now)
        start = int(now // window) * window
        with self._write() as conn:
            conn.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
            row = conn.execute(
                "INSERT INTO counters (counter, window, window_start, count, expires_at)"
                " VALUES (?, ?, ?, 1, ?)"
                " ON CONFLICT (counter, window, window_start) DO UPDATE SET count = count + 1"
                " RETURNING count",
                (counter, window, start, start + window),
            ).fetchone()
        return int(row["count"])

    def window_add(
        self,
        counter: str,
        entry: str,
        now: float,
        limits: Sequence[Limit],
        *,
        force: bool = False,
    ) -> float:
        """See :meth:`store.interface.Store.window_add`. A row expires when its entry is
        the longest window old; the oldest rows beyond ``max(count)`` are dropped."""
        checked = check_window_call(counter, now, limits)
        check_window_name(entry, "entry")
        longest = max(limit.window for limit in checked)
        keep = max(limit.count for limit in checked)
        with self._write() as conn:
            conn.execute("DELETE FROM window_entries WHERE expires_at <= ?", (now,))
            wait = _window_wait(conn, counter, now, checked)
            if wait <= 0 or force:
                conn.execute(
                    "INSERT OR REPLACE INTO window_entries (counter, entry, at, expires_at)"
                    " VALUES (?, ?, ?, ?)",
                    (counter, entry, now, now + longest),
                )
                conn.execute(
                    "DELETE FROM window_entries WHERE counter = ? AND entry NOT IN"
                    " (SELECT entry FROM window_entries WHERE counter = ?"
                    " ORDER BY at DESC, entry DESC LIMIT ?)",
                    (counter, counter, keep),
                )
        return wait

    def window_wait(self, counter: str, now: float, limits: Sequence[Limit]) -> float:
        """See :meth:`store.interface.Store.window_wait`."""
        checked = check_window_call(counter, now, limits)
        with self._read() as conn:
            return _window_wait(conn, counter, now, checked)

    def window_discard(self, counter: str, entry: str) -> None:
        """See :meth:`store.interface.Store.window_discard`."""
        check_window_name(counter, "counter")
        check_window_name(entry, "entry")
        with self._write() as conn:
            conn.execute(
                "DELETE FROM window_entries WHERE counter = ? AND entry = ?", (counter, entry)
            )

    def window_clear(self, counter: str) -> None:
        """See :meth:`store.interface.Store.window_clear`."""
        check_window_name(counter, "counter")
        with self._write() as conn:
            conn.execute("DELETE FROM window_entries WHERE counter = ?", (counter,))

    def remember_nonce(self, nonce: str, expires_at: float, now: float) -> bool:
        """Record a nonce until ``expires_at``; False if it is recorded and alive at ``now``.

        A nonce already expired at ``now`` is accepted (True) and not kept.
        """
        check_time(expires_at)
        check_time(now)
        with self._write() as conn:
            conn.execute("DELETE FROM nonces WHERE expires_at <= ?", (now,))
            if expires_at <= now:
                return (
                    conn.execute("SELECT 1 FROM nonces WHERE nonce = ?", (nonce,)).fetchone()
                    is None
                )
            cur = conn.execute(
                "INSERT OR IGNORE INTO nonces (nonce, expires_at) VALUES (?, ?)",
                (nonce, expires_at),
            )
            return cur.rowcount == 1

    def once(self, space: OnceSpace) -> OnceValues:
        """See :meth:`store.kinds.ephemeral.ShortLivedStore.once`."""
        return OnceValues(space, self._put_once, self._get_once)

    def _put_once(
        self, key: str, value: bytes, expires_at: float, now: float, replace: bool = False
    ) -> bool:
        """Store ``value`` under ``key`` until ``expires_at`` unless a value is alive at
        ``now`` (or always, with ``replace``); True when written.

        Writing with ``expires_at <= now`` leaves no value under ``key``.
        """
        check_time(expires_at)
        check_time(now)
        with self._write() as conn:
            conn.execute("DELETE FROM once_values WHERE expires_at <= ?", (now,))
            if (
                not replace
                and conn.execute("SELECT 1 FROM once_values WHERE key = ?", (key,)).fetchone()
            ):
                return False
            if expires_at <= now:
                conn.execute("DELETE FROM once_values WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO once_values (key, value, expires_at) VALUES (?, ?, ?)",
                    (key, bytes(value), expires_at),
                )
            return True

    def _get_once(self, key: str, now: float) -> bytes | None:
        """The value under ``key``, or None if absent or expired at ``now``."""
        check_time(now)
        with self._read() as conn:
            row = conn.execute(
                "SELECT value FROM once_values WHERE key = ? AND expires_at > ?", (key, now)
            ).fetchone()
        return None if row is None else bytes(row["value"])
