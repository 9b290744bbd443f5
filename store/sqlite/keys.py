"""Signing keys on SQLite (table ``keys``)."""

from __future__ import annotations

import sqlite3

from store.codec import Codec
from store.errors import Conflict, NotFound
from store.kinds.keys import KEY_STATES, KeyRecord, KeyStateName
from store.sqlite.base import SQLiteBase
from store.validation import check_key_times, check_state

__all__ = ["KeysMixin"]

KEY = Codec(KeyRecord)
_LIST_KEYS = {
    False: KEY.select("keys") + " ORDER BY created_at, kid",
    True: KEY.select("keys") + " WHERE owner = ? ORDER BY created_at, kid",
}

_UPDATE_KEY = (
    "UPDATE keys SET state = ?, activate_at = COALESCE(?, activate_at),"
    " retired_at = COALESCE(?, retired_at), verify_until = COALESCE(?, verify_until)"
    " WHERE kid = ? AND state = ?"
)


class KeysMixin(SQLiteBase):
    """:class:`store.kinds.keys.KeyStore` on SQLite."""

    def put_key(self, record: KeyRecord) -> None:
        """Insert a key. Raises :class:`Conflict` if the kid exists."""
        check_state(record.state, KEY_STATES)
        check_key_times(record.activate_at, record.retired_at, record.verify_until)
        with self._write() as conn:
            try:
                conn.execute(KEY.insert("keys"), KEY.to_row(record))
            except sqlite3.IntegrityError as err:
                raise Conflict(f"key {record.kid!r} already exists") from err

    def get_key(self, kid: str) -> KeyRecord | None:
        """The key with this kid, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(KEY.select("keys") + " WHERE kid = ?", (kid,)).fetchone()
        return None if row is None else KEY.from_row(row)

    def list_keys(self, owner: str | None = None) -> list[KeyRecord]:
        """Keys of one owner (or all), oldest first, ties by kid.

        Raises :class:`StoreUnavailable`.
        """
        args = () if owner is None else (owner,)
        with self._read() as conn:
            rows = conn.execute(_LIST_KEYS[owner is not None], args).fetchall()
        return [KEY.from_row(row) for row in rows]

    def set_key_state(self, kid: str, state: KeyStateName) -> None:
        """Change a key's state. Raises :class:`NotFound` for an unknown kid."""
        check_state(state, KEY_STATES)
        with self._write() as conn:
            cur = conn.execute("UPDATE keys SET state = ? WHERE kid = ?", (state, kid))
            if cur.rowcount == 0:
                raise NotFound(f"no key {kid!r}")

    def update_key(
        self,
        kid: str,
        *,
        expect: KeyStateName,
        state: KeyStateName,
        activate_at: int | None = None,
        retired_at: int | None = None,
        verify_until: int | None = None,
    ) -> bool:
        """See :meth:`store.kinds.keys.KeyStore.update_key`: one conditional UPDATE."""
        check_state(expect, KEY_STATES)
        check_state(state, KEY_STATES)
        times = (activate_at, retired_at, verify_until)
        check_key_times(*times)
        with self._write() as conn:
            cur = conn.execute(_UPDATE_KEY, (state, *times, kid, expect))
            if cur.rowcount:
                return True
            if conn.execute("SELECT 1 FROM keys WHERE kid = ?", (kid,)).fetchone() is None:
                raise NotFound(f"no key {kid!r}")
            return False
