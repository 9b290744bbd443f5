"""Consents on SQLite (table ``consents``, schema version 7): the newest
:data:`CONSENT_CAP` per citizen; a state change is one conditional ``UPDATE``."""

from __future__ import annotations

from store.codec import Codec
from store.errors import Conflict
from store.kinds.consents import CONSENT_CAP, ConsentRecord, ConsentState
from store.sqlite.base import SQLiteBase
from store.validation import check_activity_limit, check_consent, check_consent_states

__all__ = ["ConsentsMixin"]

CONSENT = Codec(ConsentRecord)
_INSERT = CONSENT.insert("consents")


class ConsentsMixin(SQLiteBase):
    """:class:`store.kinds.consents.ConsentStore` on SQLite."""

    def put_consent(self, record: ConsentRecord) -> bool:
        """Insert in one transaction with the trimming of the citizen's oldest."""
        check_consent(record)
        with self._write() as conn:
            if conn.execute(
                "SELECT 1 FROM consents WHERE consent_id = ?", (record.consent_id,)
            ).fetchone():
                raise Conflict("this consent id already exists")
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM consents WHERE citizen = ?", (record.citizen,)
            ).fetchone()
            if count >= CONSENT_CAP:
                spare = conn.execute(
                    "SELECT consent_id FROM consents WHERE citizen = ?"
                    " AND (state != 'granted' OR until <= ?)"
                    " ORDER BY created_at, consent_id LIMIT ?",
                    (record.citizen, record.created_at, count - CONSENT_CAP + 1),
                ).fetchall()
                if len(spare) < count - CONSENT_CAP + 1:
                    return False
                conn.executemany(
                    "DELETE FROM consents WHERE consent_id = ?", [(r[0],) for r in spare]
                )
            conn.execute(_INSERT, CONSENT.to_row(record))
            return True

    def get_consent(self, consent_id: str) -> ConsentRecord | None:
        with self._read() as conn:
            row = conn.execute(
                CONSENT.select("consents") + " WHERE consent_id = ?", (consent_id,)
            ).fetchone()
        return None if row is None else CONSENT.from_row(row)

    def list_consents(self, citizen: str, limit: int = 50) -> list[ConsentRecord]:
        check_activity_limit(limit)
        with self._read() as conn:
            rows = conn.execute(
                CONSENT.select("consents")
                + " WHERE citizen = ? ORDER BY created_at DESC, consent_id DESC LIMIT ?",
                (citizen, min(limit, CONSENT_CAP)),
            ).fetchall()
        return [CONSENT.from_row(row) for row in rows]

    def set_consent_state(
        self, consent_id: str, state: ConsentState, *, expect: ConsentState, at: int
    ) -> bool:
        check_consent_states(state, expect)
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE consents SET state = ?, updated_at = ? WHERE consent_id = ? AND state = ?",
                (state, at, consent_id, expect),
            )
            return cur.rowcount == 1
