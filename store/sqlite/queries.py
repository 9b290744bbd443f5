"""Proof queries on SQLite (table ``proof_queries``, schema version 7): the newest
:data:`PROOF_QUERY_CAP` per citizen, as in the Redis backend."""

from __future__ import annotations

from store.codec import Codec
from store.kinds.queries import PROOF_QUERY_CAP, ProofQueryRecord
from store.sqlite.base import SQLiteBase
from store.validation import check_activity_limit

__all__ = ["QueriesMixin"]

QUERY = Codec(ProofQueryRecord)
_INSERT = QUERY.insert("proof_queries", "INSERT OR REPLACE")


class QueriesMixin(SQLiteBase):
    """:class:`store.kinds.queries.ProofQueryStore` on SQLite."""

    def add_proof_query(self, record: ProofQueryRecord) -> None:
        """Insert or replace; only the citizen's newest :data:`PROOF_QUERY_CAP` stay."""
        with self._write() as conn:
            conn.execute(_INSERT, QUERY.to_row(record))
            edge = conn.execute(
                "SELECT at, event_id FROM proof_queries WHERE citizen = ?"
                " ORDER BY at DESC, event_id DESC LIMIT 1 OFFSET ?",
                (record.citizen, PROOF_QUERY_CAP),
            ).fetchone()
            if edge is not None:
                conn.execute(
                    "DELETE FROM proof_queries WHERE citizen = ? AND (at, event_id) <= (?, ?)",
                    (record.citizen, edge[0], edge[1]),
                )

    def list_proof_queries(self, citizen: str, limit: int = 100) -> list[ProofQueryRecord]:
        """Newest first. Raises :class:`InvalidArgument` for a negative limit."""
        check_activity_limit(limit)
        with self._read() as conn:
            rows = conn.execute(
                QUERY.select("proof_queries")
                + " WHERE citizen = ? ORDER BY at DESC, event_id DESC LIMIT ?",
                (citizen, limit),
            ).fetchall()
        return [QUERY.from_row(row) for row in rows]
