"""The credential registry on SQLite (table ``credentials``)."""

from __future__ import annotations

import sqlite3

from store.codec import Codec
from store.errors import Conflict, NotFound
from store.kinds.registry import CREDENTIAL_STATES, CredentialRecord, CredentialState
from store.sqlite.base import SQLiteBase
from store.validation import check_state

__all__ = ["RegistryMixin"]

CREDENTIAL = Codec(CredentialRecord)
_SELECT = CREDENTIAL.select("credentials")


def _list_sql(subject: bool, issuer: bool, kid: bool) -> str:
    where = [
        f"{name} = ?"
        for name, given in (("subject", subject), ("issuer", issuer), ("kid", kid))
        if given
    ]
    return _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY issued_at, id"


# Keyed by (subject given, issuer given, kid given).
_LIST_CREDENTIALS = {
    (a, b, c): _list_sql(a, b, c)
    for a in (False, True)
    for b in (False, True)
    for c in (False, True)
}


class RegistryMixin(SQLiteBase):
    """:class:`store.kinds.registry.RegistryStore` on SQLite."""

    def put_credential(self, record: CredentialRecord) -> None:
        """Insert a credential. Raises :class:`Conflict` if the id exists."""
        check_state(record.state, CREDENTIAL_STATES)
        with self._write() as conn:
            try:
                conn.execute(CREDENTIAL.insert("credentials"), CREDENTIAL.to_row(record))
            except sqlite3.IntegrityError as err:
                raise Conflict(f"credential {record.id!r} already exists") from err

    def put_credentials(self, records: list[CredentialRecord]) -> list[bool]:
        """Insert many credentials in one transaction; for each, True if inserted, False
        if its id existed (left unchanged)."""
        for record in records:
            check_state(record.state, CREDENTIAL_STATES)
        insert = CREDENTIAL.insert("credentials")
        done = []
        with self._write() as conn:
            # Not INSERT OR IGNORE: that would also skip a row breaking another constraint.
            for record in records:
                exists = conn.execute(
                    "SELECT 1 FROM credentials WHERE id = ?", (record.id,)
                ).fetchone()
                if exists is None:
                    try:
                        conn.execute(insert, CREDENTIAL.to_row(record))
                    except sqlite3.IntegrityError as err:
                        raise Conflict(f"credential {record.id!r} breaks a constraint") from err
                done.append(exists is None)
        return done

    def get_credential(self, credential_id: str) -> CredentialRecord | None:
        """The credential with this id, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(_SELECT + " WHERE id = ?", (credential_id,)).fetchone()
        return None if row is None else CREDENTIAL.from_row(row)

    def list_credentials(
        self, *, subject: str | None = None, issuer: str | None = None, kid: str | None = None
    ) -> list[CredentialRecord]:
        """Filter by subject, issuer and/or ``kid``, ordered by ``issued_at`` then ``id``.

        Raises :class:`StoreUnavailable`.
        """
        args = [value for value in (subject, issuer, kid) if value is not None]
        sql = _LIST_CREDENTIALS[(subject is not None, issuer is not None, kid is not None)]
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [CREDENTIAL.from_row(row) for row in rows]

    def set_credential_state(self, credential_id: str, state: CredentialState) -> None:
        """Change a credential's state. Raises :class:`NotFound` for an unknown id."""
        check_state(state, CREDENTIAL_STATES)
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE credentials SET state = ? WHERE id = ?", (state, credential_id)
            )
            if cur.rowcount == 0:
                raise NotFound(f"no credential {credential_id!r}")

    def find_credential(self, status_uri: str, status_idx: int) -> CredentialRecord | None:
        """The credential holding entry ``status_idx`` of the list at ``status_uri``.

        Should two credentials name the same entry, the first one put is returned.
        Raises :class:`StoreUnavailable`.
        """
        with self._read() as conn:
            row = conn.execute(
                _SELECT + " WHERE status_uri = ? AND status_idx = ? ORDER BY rowid LIMIT 1",
                (status_uri, status_idx),
            ).fetchone()
        return None if row is None else CREDENTIAL.from_row(row)
