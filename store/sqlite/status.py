"""Status lists on SQLite: ``status_lists`` (records and the claimed counter),
``status_chunks`` (the packed bits, sparse 4096-byte chunks) and ``status_claims``.

The last stamp of a list is two config rows: ``status_stamp:<uri>`` (iat and digest)
and ``status_stamp_bytes:<uri>`` (the bytes published under it).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3

from store.codec import Codec
from store.errors import Conflict, CorruptRecord, NotFound
from store.kinds.config import STATUS_STAMP_BYTES_PREFIX, STATUS_STAMP_PREFIX
from store.kinds.status import StatusListRecord, next_status_iat, packed_length
from store.sqlite.base import SQLiteBase
from store.sqlite.config import read_config, write_config
from store.validation import check_index, check_list_shape, check_value

__all__ = ["CHUNK_SIZE", "StatusMixin"]

CHUNK_SIZE = 4096
STATUS_LIST = Codec(StatusListRecord)
_LIST_STATUS_LISTS = {
    False: STATUS_LIST.select("status_lists") + " ORDER BY created_at, uri",
    True: STATUS_LIST.select("status_lists") + " WHERE issuer = ? ORDER BY created_at, uri",
}

#: Config rows holding the last published ``iat`` and digest of each status list, and
#: the bytes published under it (the names are declared with the config kind's).
_STAMP_PREFIX = STATUS_STAMP_PREFIX
_STAMP_BYTES = STATUS_STAMP_BYTES_PREFIX


def _read_stamp(value: bytes) -> tuple[int, str]:
    try:
        stamp = json.loads(value)
        iat, digest = stamp["iat"], stamp["digest"]
    except (ValueError, TypeError, KeyError):
        raise CorruptRecord("a stored status stamp is not {iat, digest}") from None
    if type(iat) is not int or type(digest) is not str:
        raise CorruptRecord("a stored status stamp is not {iat, digest}")
    return iat, digest


def _shape(conn: sqlite3.Connection, uri: str) -> tuple[int, int]:
    row = conn.execute("SELECT bits, size FROM status_lists WHERE uri = ?", (uri,)).fetchone()
    if row is None:
        raise NotFound(f"no status list {uri!r}")
    return int(row["bits"]), int(row["size"])


def _packed(conn: sqlite3.Connection, uri: str, bits: int, size: int) -> bytes:
    rows = conn.execute(
        "SELECT chunk_no, data FROM status_chunks WHERE uri = ? ORDER BY chunk_no", (uri,)
    ).fetchall()
    out = bytearray(packed_length(bits, size))
    for row in rows:
        start = row["chunk_no"] * CHUNK_SIZE
        data = row["data"]
        out[start : start + len(data)] = data
    return bytes(out)


class StatusMixin(SQLiteBase):
    """:class:`store.kinds.status.StatusListStore` on SQLite."""

    def create_status_list(self, record: StatusListRecord) -> None:
        """Create a list with every entry 0.

        Raises :class:`Conflict` if the uri exists, :class:`StoreError` for bits not in
        1, 2, 4, 8 or a size below 1.
        """
        check_list_shape(record)
        with self._write() as conn:
            try:
                conn.execute(STATUS_LIST.insert("status_lists"), STATUS_LIST.to_row(record))
            except sqlite3.IntegrityError as err:
                raise Conflict(f"status list {record.uri!r} already exists") from err

    def get_status_list(self, uri: str) -> StatusListRecord | None:
        """The list's metadata, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(
                STATUS_LIST.select("status_lists") + " WHERE uri = ?", (uri,)
            ).fetchone()
        return None if row is None else STATUS_LIST.from_row(row)

    def list_status_lists(self, issuer: str | None = None) -> list[StatusListRecord]:
        """Lists of one issuer (or all), oldest first, ties by uri.

        Raises :class:`StoreUnavailable`.
        """
        args = () if issuer is None else (issuer,)
        with self._read() as conn:
            rows = conn.execute(_LIST_STATUS_LISTS[issuer is not None], args).fetchall()
        return [STATUS_LIST.from_row(row) for row in rows]

    def claim_status_index(self, uri: str, idx: int) -> bool:
        """Atomically mark ``idx`` as used; False if it already was.

        Raises :class:`NotFound` for an unknown list, :class:`StoreError` for an index
        outside the list.
        """
        with self._write() as conn:
            _bits, size = _shape(conn, uri)
            check_index(idx, size)
            cur = conn.execute(
                "INSERT OR IGNORE INTO status_claims (uri, idx) VALUES (?, ?)", (uri, idx)
            )
            if cur.rowcount == 0:
                return False
            conn.execute("UPDATE status_lists SET claimed = claimed + 1 WHERE uri = ?", (uri,))
            return True

    def claim_status_indices(self, uri: str, indices: list[int]) -> list[bool]:
        """Claim many indices in one ``BEGIN IMMEDIATE`` transaction; for each, True if
        this call claimed it. Raises :class:`NotFound` for an unknown list,
        :class:`StoreError` for an index outside it (nothing claimed)."""
        with self._write() as conn:
            _bits, size = _shape(conn, uri)
            for idx in indices:
                check_index(idx, size)
            claimed = []
            for idx in indices:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO status_claims (uri, idx) VALUES (?, ?)", (uri, idx)
                )
                claimed.append(cur.rowcount == 1)
            count = sum(claimed)
            if count:
                conn.execute(
                    "UPDATE status_lists SET claimed = claimed + ? WHERE uri = ?", (count, uri)
                )
        return claimed

    def count_claimed(self, uri: str) -> int:
        """How many indices of the list are claimed. Raises :class:`NotFound`."""
        with self._read() as conn:
            row = conn.execute("SELECT claimed FROM status_lists WHERE uri = ?", (uri,)).fetchone()
        if row is None:
            raise NotFound(f"no status list {uri!r}")
        return int(row["claimed"])

    def set_status(self, uri: str, idx: int, value: int) -> None:
        """Set the ``bits``-wide status at ``idx`` (Token Status List bit order).

        Raises :class:`NotFound` for an unknown list, :class:`StoreError` for an index
        or value out of range.
        """
        with self._write() as conn:
            bits, size = _shape(conn, uri)
            check_index(idx, size)
            check_value(value, bits)
            bit = idx * bits
            byte = bit // 8
            shift = bit % 8
            mask = ((1 << bits) - 1) << shift
            chunk_no, offset = divmod(byte, CHUNK_SIZE)
            row = conn.execute(
                "SELECT data FROM status_chunks WHERE uri = ? AND chunk_no = ?", (uri, chunk_no)
            ).fetchone()
            total = packed_length(bits, size)
            if row is None:
                data = bytearray(min(CHUNK_SIZE, total - chunk_no * CHUNK_SIZE))
            else:
                data = bytearray(row["data"])
            data[offset] = (data[offset] & ~mask & 0xFF) | (value << shift)
            conn.execute(
                "INSERT OR REPLACE INTO status_chunks (uri, chunk_no, data) VALUES (?, ?, ?)",
                (uri, chunk_no, bytes(data)),
            )

    def get_status(self, uri: str, idx: int) -> int:
        """The status at ``idx``. Raises :class:`NotFound`, or :class:`StoreError` out of range."""
        # One read transaction so that the shape and the chunk are from one snapshot.
        with self._snapshot() as conn:
            bits, size = _shape(conn, uri)
            check_index(idx, size)
            bit = idx * bits
            chunk_no, offset = divmod(bit // 8, CHUNK_SIZE)
            row = conn.execute(
                "SELECT substr(data, ?, 1) AS b FROM status_chunks WHERE uri = ? AND chunk_no = ?",
                (offset + 1, uri, chunk_no),
            ).fetchone()
        if row is None or not row["b"]:
            return 0
        return int((row["b"][0] >> (bit % 8)) & ((1 << bits) - 1))

    def status_bytes(self, uri: str) -> bytes:
        """The whole packed array, least significant bit first. Raises :class:`NotFound`."""
        with self._snapshot() as conn:
            bits, size = _shape(conn, uri)
            return _packed(conn, uri, bits, size)

    def stamp_status_list(self, uri: str, now: int) -> tuple[int, bytes]:
        """See :meth:`store.interface.Store.stamp_status_list`; the stamp is two config
        rows (``status_stamp:<uri>``: iat and digest, ``status_stamp_bytes:<uri>``: the
        bytes) read and written in the same ``BEGIN IMMEDIATE`` transaction."""
        with self._write() as conn:
            bits, size = _shape(conn, uri)
            data = _packed(conn, uri, bits, size)
            digest = hashlib.sha256(data).hexdigest()
            value = read_config(conn, _STAMP_PREFIX + uri)
            last = None if value is None else _read_stamp(value)
            iat = next_status_iat(last, now, digest)
            if iat is None and last is not None:  # a burst: publish the last stamp again
                stamped = read_config(conn, _STAMP_BYTES + uri)
                if stamped is None:
                    raise CorruptRecord("a status stamp is stored without its bytes")
                return last[0], stamped
            assert iat is not None
            stamp = json.dumps({"iat": iat, "digest": digest}).encode("ascii")
            write_config(conn, _STAMP_PREFIX + uri, stamp)
            write_config(conn, _STAMP_BYTES + uri, data)
        return iat, data

    def last_status_stamp(self, uri: str) -> int | None:
        """See :meth:`store.interface.Store.last_status_stamp`."""
        with self._read() as conn:
            value = read_config(conn, _STAMP_PREFIX + uri)
        return None if value is None else _read_stamp(value)[0]
