"""The settle of an online verification on SQLite (:mod:`store.kinds.settle`): status
value, nonce, registry lookup and activity in ONE ``BEGIN IMMEDIATE`` transaction.

Against the per-kind calls (three transactions, 14 statements) it runs 4 to 6
statements in one transaction. Expired nonces are purged at most once a second per
store (by the caller's clock) instead of on every call: an expired row left behind is
overwritten by the upsert, whose ``WHERE`` refuses only a nonce still alive at ``now``.
The activity cap is one ``DELETE`` with the cap's edge as a subquery.
"""

from __future__ import annotations

import sqlite3

from store.kinds.activity import ACTIVITY_CAP
from store.kinds.settle import SettleOutcome, SettleRequest, fill_activity, nonce_allowed
from store.sqlite.activity import _INSERT as _INSERT_ACTIVITY
from store.sqlite.activity import ACTIVITY
from store.sqlite.base import SQLiteBase
from store.sqlite.registry import _SELECT as _SELECT_CREDENTIAL
from store.sqlite.registry import CREDENTIAL
from store.sqlite.status import CHUNK_SIZE, _shape
from store.validation import check_index, check_time

__all__ = ["PURGE_EVERY", "SettleMixin"]

#: Seconds between two purges of expired nonces by :meth:`SettleMixin.settle`.
PURGE_EVERY = 1.0

_CHUNK = "SELECT substr(data, ?, 1) AS b FROM status_chunks WHERE uri = ? AND chunk_no = ?"
_NONCE = (
    "INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)"
    " ON CONFLICT (nonce) DO UPDATE SET expires_at = excluded.expires_at"
    " WHERE nonces.expires_at <= ?"
)
_NONCE_ALIVE = "SELECT 1 FROM nonces WHERE nonce = ? AND expires_at > ?"
_FIND = _SELECT_CREDENTIAL + " WHERE status_uri = ? AND status_idx = ? ORDER BY rowid LIMIT 1"
_CAP = (
    "DELETE FROM activity WHERE citizen_id = ?1 AND (at, event_id) <= ("
    "SELECT at, event_id FROM activity WHERE citizen_id = ?1"
    " ORDER BY at DESC, event_id DESC LIMIT 1 OFFSET ?2)"
)


def _status(conn: sqlite3.Connection, uri: str, idx: int) -> int:
    bits, size = _shape(conn, uri)
    check_index(idx, size)
    bit = idx * bits
    chunk_no, offset = divmod(bit // 8, CHUNK_SIZE)
    row = conn.execute(_CHUNK, (offset + 1, uri, chunk_no)).fetchone()
    if row is None or not row["b"]:
        return 0
    return int((row["b"][0] >> (bit % 8)) & ((1 << bits) - 1))


class SettleMixin(SQLiteBase):
    """:class:`store.kinds.settle.SettleStore` on SQLite."""

    _nonce_purge_at: float = float("-inf")

    def settle(self, request: SettleRequest) -> SettleOutcome:
        """See :mod:`store.kinds.settle`; one ``BEGIN IMMEDIATE`` transaction."""
        now = request.now
        check_time(now)
        if request.nonce is not None:
            check_time(request.nonce_expires_at)
        with self._write() as conn:
            status = None if request.status is None else _status(conn, *request.status)
            fresh: bool | None = None
            if request.nonce is not None and nonce_allowed(status):
                if now >= self._nonce_purge_at:
                    self._nonce_purge_at = now + PURGE_EVERY
                    conn.execute("DELETE FROM nonces WHERE expires_at <= ?", (now,))
                if request.nonce_expires_at <= now:  # accepted, not kept (remember_nonce)
                    fresh = conn.execute(_NONCE_ALIVE, (request.nonce, now)).fetchone() is None
                else:
                    cur = conn.execute(_NONCE, (request.nonce, request.nonce_expires_at, now))
                    fresh = cur.rowcount == 1
            credential = None
            if request.registry is not None:
                row = conn.execute(_FIND, request.registry).fetchone()
                credential = None if row is None else CREDENTIAL.from_row(row)
                if credential is not None and credential.issuer != request.issuer:
                    credential = None
            outcome = SettleOutcome(status, fresh, credential, logged=False)
            if credential is None or request.activity is None or not outcome.as_drafted:
                return outcome
            event = fill_activity(request.activity, credential)
            conn.execute(_INSERT_ACTIVITY, ACTIVITY.to_row(event))
            conn.execute(_CAP, (event.citizen_id, ACTIVITY_CAP))
        return SettleOutcome(status, fresh, credential, logged=True)
