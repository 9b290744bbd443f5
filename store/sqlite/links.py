"""Links between citizens and their held-for copies on SQLite (tables ``links`` and
``link_copies``, schema version 8)."""

from __future__ import annotations

import sqlite3

from store.codec import Codec
from store.errors import Conflict
from store.kinds.links import LinkCopy, LinkRecord, LinkState
from store.sqlite.base import SQLiteBase
from store.validation import check_link, check_link_credential, check_link_states

__all__ = ["LinksMixin"]

LINK = Codec(LinkRecord)
COPY = Codec(LinkCopy)


class LinksMixin(SQLiteBase):
    """:class:`store.kinds.links.LinkStore` on SQLite."""

    def put_link(self, record: LinkRecord) -> None:
        """Insert a new link. Raises :class:`Conflict` if the holder has this id."""
        check_link(record)
        with self._write() as conn:
            try:
                conn.execute(LINK.insert("links"), LINK.to_row(record))
            except sqlite3.IntegrityError as err:
                raise Conflict("this link id already exists") from err

    def get_link(self, holder: str, link_id: str) -> LinkRecord | None:
        """One link, or None."""
        with self._read() as conn:
            row = conn.execute(
                LINK.select("links") + " WHERE holder = ? AND link_id = ?", (holder, link_id)
            ).fetchone()
        return None if row is None else LINK.from_row(row)

    def list_links(self, holder: str) -> list[LinkRecord]:
        """The holder's links, by ``created_at`` then ``link_id``."""
        with self._read() as conn:
            rows = conn.execute(
                LINK.select("links") + " WHERE holder = ? ORDER BY created_at, link_id",
                (holder,),
            ).fetchall()
        return [LINK.from_row(row) for row in rows]

    def list_party_links(self, party: str) -> list[LinkRecord]:
        """The links naming ``party``, by ``created_at`` then ``link_id``."""
        with self._read() as conn:
            rows = conn.execute(
                LINK.select("links") + " WHERE party = ? ORDER BY created_at, link_id",
                (party,),
            ).fetchall()
        return [LINK.from_row(row) for row in rows]

    def set_link_state(
        self, holder: str, link_id: str, state: LinkState, *, expect: LinkState, at: int
    ) -> bool:
        """Compare-and-set the link's state; False if it is not ``expect`` or unknown."""
        check_link_states(state, expect)
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE links SET state = ?, updated_at = ?"
                " WHERE holder = ? AND link_id = ? AND state = ?",
                (state, at, holder, link_id, expect),
            )
            return cur.rowcount == 1

    def set_link_credential(
        self, holder: str, link_id: str, credential_id: str, blob: bytes, *, expect: str, at: int
    ) -> bool:
        """Compare-and-set an active link's credential (and blob); False if the link is
        not active, names another credential or is unknown."""
        check_link_credential(credential_id, expect)
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE links SET credential_id = ?, blob = ?, updated_at = ?"
                " WHERE holder = ? AND link_id = ? AND credential_id = ? AND state = 'active'",
                (credential_id, blob, at, holder, link_id, expect),
            )
            return cur.rowcount == 1

    def put_link_copy(self, copy: LinkCopy) -> None:
        """Insert or replace the copy with this holder and ``copy_id``."""
        with self._write() as conn:
            conn.execute(COPY.insert("link_copies", "INSERT OR REPLACE"), COPY.to_row(copy))

    def list_link_copies(self, holder: str, link_id: str | None = None) -> list[LinkCopy]:
        """The holder's copies (of one link, or all), by ``added_at`` then ``copy_id``."""
        sql = COPY.select("link_copies") + " WHERE holder = ?"
        args: tuple[str, ...] = (holder,)
        if link_id is not None:
            sql += " AND link_id = ?"
            args += (link_id,)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY added_at, copy_id", args).fetchall()
        return [COPY.from_row(row) for row in rows]
