"""The audit chain on SQLite (table ``audit``, schema version 7): one row per entry,
``seq`` its primary key; appended inside one ``BEGIN IMMEDIATE`` that reads the tail and
writes the entry (or the batch of entries) linked to it."""

from __future__ import annotations

from collections.abc import Sequence

from store.codec import Codec
from store.kinds.audit import AUDIT_GENESIS, AuditEntry, AuditLink
from store.sqlite.base import SQLiteBase
from store.validation import check_audit_range, link_audit_batch

__all__ = ["AuditMixin"]

AUDIT = Codec(AuditEntry)
_INSERT = AUDIT.insert("audit")


class AuditMixin(SQLiteBase):
    """:class:`store.kinds.audit.AuditStore` on SQLite."""

    def append_audit(self, link: AuditLink) -> AuditEntry:
        """Read the tail and insert the linked entry in one write transaction (other
        processes wait in ``BEGIN IMMEDIATE``; this one's threads on the write lock)."""
        return self.append_audit_batch([link])[0]

    def append_audit_batch(self, links: Sequence[AuditLink]) -> list[AuditEntry]:
        """Read the tail and insert every linked entry in one write transaction."""
        if not links:
            return []
        with self._write() as conn:
            tail = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (1, AUDIT_GENESIS) if tail is None else (int(tail[0]) + 1, str(tail[1]))
            entries = link_audit_batch(links, seq, prev)
            conn.executemany(_INSERT, [AUDIT.to_row(entry) for entry in entries])
        return entries

    def audit_range(self, from_seq: int, count: int) -> list[AuditEntry]:
        check_audit_range(from_seq, count)
        with self._read() as conn:
            rows = conn.execute(
                AUDIT.select("audit") + " WHERE seq >= ? AND seq < ? ORDER BY seq",
                (from_seq, from_seq + count),
            ).fetchall()
        return [AUDIT.from_row(row) for row in rows]

    def audit_tail(self) -> AuditEntry | None:
        with self._read() as conn:
            row = conn.execute(AUDIT.select("audit") + " ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else AUDIT.from_row(row)

    def audit_first_since(self, at: int) -> int | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT seq FROM audit WHERE at >= ? ORDER BY at, seq LIMIT 1", (int(at),)
            ).fetchone()
        return None if row is None else int(row[0])
