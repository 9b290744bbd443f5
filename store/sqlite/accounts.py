"""Citizens, sessions and API keys on SQLite (tables ``citizens``, ``sessions``,
``api_keys``). Sessions expired at a new session's ``created_at`` are purged when it
is written."""

from __future__ import annotations

import sqlite3

from store.codec import Codec
from store.errors import Conflict, NotFound
from store.kinds.accounts import ApiKeyRecord, CitizenRecord, SessionRecord
from store.sqlite.base import SQLiteBase
from store.validation import check_api_key_kind, check_time

__all__ = ["AccountsMixin"]

CITIZEN = Codec(CitizenRecord)
SESSION = Codec(SessionRecord)
API_KEY = Codec(ApiKeyRecord)
_LIST_API_KEYS = {
    False: API_KEY.select("api_keys") + " ORDER BY created_at, key_id",
    True: API_KEY.select("api_keys") + " WHERE principal = ? ORDER BY created_at, key_id",
}


class AccountsMixin(SQLiteBase):
    """:class:`store.kinds.accounts.AccountStore` on SQLite."""

    # -- citizens ----------------------------------------------------------------------

    def put_citizen(self, record: CitizenRecord) -> None:
        """Insert a citizen. Raises :class:`Conflict` if the citizen exists."""
        with self._write() as conn:
            try:
                conn.execute(CITIZEN.insert("citizens"), CITIZEN.to_row(record))
            except sqlite3.IntegrityError as err:
                raise Conflict(f"citizen {record.citizen_id!r} already exists") from err

    def get_citizen(self, citizen_id: str) -> CitizenRecord | None:
        """The citizen, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(
                CITIZEN.select("citizens") + " WHERE citizen_id = ?", (citizen_id,)
            ).fetchone()
        return None if row is None else CITIZEN.from_row(row)

    def set_citizen_password(self, citizen_id: str, password_hash: str) -> None:
        """Replace the password hash. Raises :class:`NotFound` for an unknown citizen."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE citizens SET password_hash = ? WHERE citizen_id = ?",
                (password_hash, citizen_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no citizen {citizen_id!r}")

    def list_citizens(self) -> list[CitizenRecord]:
        """All citizens, sorted by id. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            rows = conn.execute(CITIZEN.select("citizens") + " ORDER BY citizen_id").fetchall()
        return [CITIZEN.from_row(row) for row in rows]

    # -- sessions ----------------------------------------------------------------------

    def put_session(self, record: SessionRecord) -> None:
        """Insert or replace the session with this token hash.

        Sessions expired at the new session's ``created_at`` are purged in passing.
        """
        with self._write() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (record.created_at,))
            conn.execute(SESSION.insert("sessions", "INSERT OR REPLACE"), SESSION.to_row(record))

    def get_session(self, token_hash: str, now: float) -> SessionRecord | None:
        """The session, or None if unknown or expired at ``now`` (``now >= expires_at``)."""
        check_time(now)
        with self._read() as conn:
            row = conn.execute(
                SESSION.select("sessions") + " WHERE token_hash = ? AND expires_at > ?",
                (token_hash, now),
            ).fetchone()
        return None if row is None else SESSION.from_row(row)

    def delete_session(self, token_hash: str) -> None:
        """Forget the session (nothing happens for an unknown one)."""
        with self._write() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    # -- API keys ----------------------------------------------------------------------

    def put_api_key(self, record: ApiKeyRecord) -> None:
        """Insert a key. Raises :class:`Conflict` if the key id or hash exists,
        :class:`InvalidArgument` for an unknown kind."""
        check_api_key_kind(record.kind)
        with self._write() as conn:
            try:
                conn.execute(API_KEY.insert("api_keys"), API_KEY.to_row(record))
            except sqlite3.IntegrityError as err:
                raise Conflict(f"API key {record.key_id!r} or its hash already exists") from err

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this secret hash (revoked or not), or None."""
        with self._read() as conn:
            row = conn.execute(
                API_KEY.select("api_keys") + " WHERE key_hash = ?", (key_hash,)
            ).fetchone()
        return None if row is None else API_KEY.from_row(row)

    def list_api_keys(self, principal: str | None = None) -> list[ApiKeyRecord]:
        """Keys of one principal (or all), oldest first, ties by key id."""
        args = () if principal is None else (principal,)
        with self._read() as conn:
            rows = conn.execute(_LIST_API_KEYS[principal is not None], args).fetchall()
        return [API_KEY.from_row(row) for row in rows]

    def revoke_api_key(self, key_id: str, at: int) -> None:
        """Mark revoked at ``at``; a key already revoked keeps its first time.

        Raises :class:`NotFound` for an unknown key id.
        """
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
                (at, key_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no API key {key_id!r}")
