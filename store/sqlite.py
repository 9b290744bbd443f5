"""SQLite backend of :class:`store.interface.Store` (the embedded default).

One database file, shared safely by several threads and several processes:

* WAL journal, ``synchronous=NORMAL`` and a busy timeout on every connection;
* a small pool of connections (one per concurrent caller, created on demand), each
  used by one thread at a time; writes inside one process are also serialised by a
  lock so that threads never spin in SQLite's busy handler against each other; a
  process forked from one that used the store opens its own connections;
* every write that reads before it writes runs in ``BEGIN IMMEDIATE`` so that the
  write lock is taken before the read (no lost updates across processes).

Status lists are stored sparsely as 4096-byte chunks keyed by ``(uri, chunk_no)``: a
missing chunk means "all zeros", so creating a 10,000,000-entry list writes one row
and :meth:`SQLiteStore.set_status` rewrites one small row. Claimed indices live in
their own table (primary key ``(uri, idx)``) with a per-list counter updated in the
same transaction, so :meth:`SQLiteStore.claim_status_index` never reads the list.

Lists of keys and status lists are ordered by ``created_at`` then by kid / uri, the
same tie-break as the Redis backend.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from store.interface import (
    CREDENTIAL_STATES,
    KEY_STATES,
    Conflict,
    CredentialRecord,
    CredentialState,
    IssuerRecord,
    KeyRecord,
    KeyStateName,
    NotFound,
    StatusListRecord,
    StoreError,
    StoreUnavailable,
    check_list_shape,
    check_state,
    packed_length,
)

__all__ = ["CHUNK_SIZE", "SCHEMA_VERSION", "SQLiteStore"]

SCHEMA_VERSION = 1
CHUNK_SIZE = 4096

# Primary result codes that mean "the file is busy or the disk is failing": try again later.
_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
    }
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS config (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    kid          TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    alg          TEXT NOT NULL,
    state        TEXT NOT NULL,
    public_jwk   TEXT NOT NULL,
    private_blob BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS keys_by_owner ON keys (owner, created_at, kid);
CREATE INDEX IF NOT EXISTS keys_by_created ON keys (created_at, kid);
CREATE TABLE IF NOT EXISTS issuers (
    iss     TEXT PRIMARY KEY,
    slug    TEXT NOT NULL,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    vcts    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS status_lists (
    uri        TEXT PRIMARY KEY,
    issuer     TEXT NOT NULL,
    bits       INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    claimed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS status_lists_by_issuer ON status_lists (issuer, created_at, uri);
CREATE INDEX IF NOT EXISTS status_lists_by_created ON status_lists (created_at, uri);
CREATE TABLE IF NOT EXISTS status_chunks (
    uri      TEXT NOT NULL,
    chunk_no INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (uri, chunk_no)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_claims (
    uri TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (uri, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credentials (
    id         TEXT PRIMARY KEY,
    vct        TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    kid        TEXT NOT NULL,
    status_uri TEXT NOT NULL,
    status_idx INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_by_subject ON credentials (subject, issued_at, id);
CREATE INDEX IF NOT EXISTS credentials_by_issuer ON credentials (issuer, issued_at, id);
CREATE INDEX IF NOT EXISTS credentials_by_issued ON credentials (issued_at, id);
"""

_LIST_KEYS = {
    False: "SELECT * FROM keys ORDER BY created_at, kid",
    True: "SELECT * FROM keys WHERE owner = ? ORDER BY created_at, kid",
}
_LIST_STATUS_LISTS = {
    False: "SELECT * FROM status_lists ORDER BY created_at, uri",
    True: "SELECT * FROM status_lists WHERE issuer = ? ORDER BY created_at, uri",
}
# Keyed by (subject given, issuer given).
_LIST_CREDENTIALS = {
    (False, False): "SELECT * FROM credentials ORDER BY issued_at, id",
    (True, False): "SELECT * FROM credentials WHERE subject = ? ORDER BY issued_at, id",
    (False, True): "SELECT * FROM credentials WHERE issuer = ? ORDER BY issued_at, id",
    (True, True): (
        "SELECT * FROM credentials WHERE subject = ? AND issuer = ? ORDER BY issued_at, id"
    ),
}


def _translate(err: sqlite3.Error) -> StoreError:
    """Map a driver error to the store's errors (busy / I/O -> :class:`StoreUnavailable`)."""
    code = getattr(err, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(err)
    if isinstance(err, sqlite3.IntegrityError):
        return Conflict(f"SQLite constraint failed: {text}")
    if primary in _UNAVAILABLE_CODES or "locked" in text or "disk I/O" in text:
        return StoreUnavailable(f"SQLite store unavailable: {text}")
    return StoreError(f"SQLite error: {text}")


def _key(row: sqlite3.Row) -> KeyRecord:
    return KeyRecord(
        kid=row["kid"],
        owner=row["owner"],
        alg=row["alg"],
        state=row["state"],
        public_jwk=row["public_jwk"],
        private_blob=bytes(row["private_blob"]),
        created_at=row["created_at"],
    )


def _issuer(row: sqlite3.Row) -> IssuerRecord:
    return IssuerRecord(
        iss=row["iss"],
        slug=row["slug"],
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        vcts=tuple(json.loads(row["vcts"])),
    )


def _status_list(row: sqlite3.Row) -> StatusListRecord:
    return StatusListRecord(
        uri=row["uri"],
        issuer=row["issuer"],
        bits=row["bits"],
        size=row["size"],
        created_at=row["created_at"],
    )


def _credential(row: sqlite3.Row) -> CredentialRecord:
    return CredentialRecord(
        id=row["id"],
        vct=row["vct"],
        issuer=row["issuer"],
        subject=row["subject"],
        kid=row["kid"],
        status_uri=row["status_uri"],
        status_idx=row["status_idx"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
        state=row["state"],
    )


class SQLiteStore:
    """The storage contract on one SQLite file (WAL), safe across threads and processes.

    Raises :class:`StoreUnavailable` when the file cannot be opened or stays locked
    longer than ``busy_timeout`` seconds, and :class:`StoreError` when the file holds
    a newer schema than this code knows.
    """

    def __init__(self, path: str, *, busy_timeout: float = 5.0) -> None:
        """Open (and create if needed) the database at ``path``.

        ``":memory:"`` gives a private in-memory database (one shared connection).
        Raises :class:`StoreUnavailable` if the file cannot be opened.
        """
        self.path = path
        self._busy_timeout = busy_timeout
        self._memory = path == ":memory:" or path.startswith("file::memory:")
        self._pool: list[sqlite3.Connection] = []
        self._memory_conn: sqlite3.Connection | None = None
        # Connections inherited through fork() belong to the parent: never used, never closed.
        self._pid = os.getpid()
        self._inherited: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        # Serialises writers of this process; other processes wait in BEGIN IMMEDIATE.
        self._write_lock = threading.RLock()
        # An in-memory database is one connection: every use of it is serialised.
        self._memory_lock = threading.RLock()
        self._closed = False
        try:
            self._init_schema()
        except BaseException:
            self.close()
            raise

    # -- connections -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,  # autocommit; transactions are explicit
            check_same_thread=False,  # a connection moves between threads, one at a time
            uri=self.path.startswith("file:"),
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            if not self._memory:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a connection for the duration of one operation."""
        if self._memory:
            with self._memory_lock:
                if self._closed:
                    raise StoreError("the store is closed", code="store_closed")
                if self._memory_conn is None:
                    self._memory_conn = self._connect()
                yield self._memory_conn
            return
        with self._pool_lock:
            if self._closed:
                raise StoreError("the store is closed", code="store_closed")
            if self._pid != os.getpid():
                self._inherited.extend(self._pool)
                self._pool = []
                self._pid = os.getpid()
            conn = self._pool.pop() if self._pool else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            if conn.in_transaction:  # an error escaped a transaction: do not leak it
                with suppress(sqlite3.Error):
                    conn.rollback()
            with self._pool_lock:
                if self._closed:
                    conn.close()
                else:
                    self._pool.append(conn)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads; driver errors are translated."""
        try:
            with self._connection() as conn:
                yield conn
        except sqlite3.Error as err:
            raise _translate(err) from err

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN IMMEDIATE``; commits on success, rolls back on error."""
        try:
            with self._write_lock, self._connection() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
        except sqlite3.Error as err:
            raise _translate(err) from err

    def _init_schema(self) -> None:
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"database schema {version} is newer than this code ({SCHEMA_VERSION})",
                    code="schema_too_new",
                )
            if version < SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close every connection; later calls raise :class:`StoreError`. Idempotent."""
        with self._memory_lock, self._pool_lock:
            self._closed = True
            for conn in self._pool:
                conn.close()
            self._pool = []
            if self._memory_conn is not None:
                self._memory_conn.close()
                self._memory_conn = None

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- configuration -----------------------------------------------------------------

    def get_config(self, name: str) -> bytes | None:
        """The value stored under ``name``, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute("SELECT value FROM config WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row["value"])

    def put_config(self, name: str, value: bytes) -> None:
        """Insert or replace the value under ``name``. Raises :class:`StoreUnavailable`."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO config (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, bytes(value)),
            )

    # -- keys --------------------------------------------------------------------------

    def put_key(self, record: KeyRecord) -> None:
        """Insert a key. Raises :class:`Conflict` if the kid exists."""
        check_state(record.state, KEY_STATES)
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO keys (kid, owner, alg, state, public_jwk, private_blob,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.kid,
                        record.owner,
                        record.alg,
                        record.state,
                        record.public_jwk,
                        bytes(record.private_blob),
                        record.created_at,
                    ),
                )
            except sqlite3.IntegrityError as err:
                raise Conflict(f"key {record.kid!r} already exists") from err

    def get_key(self, kid: str) -> KeyRecord | None:
        """The key with this kid, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM keys WHERE kid = ?", (kid,)).fetchone()
        return None if row is None else _key(row)

    def list_keys(self, owner: str | None = None) -> list[KeyRecord]:
        """Keys of one owner (or all), oldest first, ties by kid.

        Raises :class:`StoreUnavailable`.
        """
        args = () if owner is None else (owner,)
        with self._read() as conn:
            rows = conn.execute(_LIST_KEYS[owner is not None], args).fetchall()
        return [_key(row) for row in rows]

    def set_key_state(self, kid: str, state: KeyStateName) -> None:
        """Change a key's state. Raises :class:`NotFound` for an unknown kid."""
        check_state(state, KEY_STATES)
        with self._write() as conn:
            cur = conn.execute("UPDATE keys SET state = ? WHERE kid = ?", (state, kid))
            if cur.rowcount == 0:
                raise NotFound(f"no key {kid!r}")

    # -- issuers -----------------------------------------------------------------------

    def put_issuer(self, record: IssuerRecord) -> None:
        """Insert or replace the issuer with this ``iss``. Raises :class:`StoreUnavailable`."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO issuers (iss, slug, name_zh, name_en, vcts)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    record.iss,
                    record.slug,
                    record.name_zh,
                    record.name_en,
                    json.dumps(list(record.vcts)),
                ),
            )

    def get_issuer(self, iss: str) -> IssuerRecord | None:
        """The issuer with this ``iss``, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM issuers WHERE iss = ?", (iss,)).fetchone()
        return None if row is None else _issuer(row)

    def list_issuers(self) -> list[IssuerRecord]:
        """All issuers, sorted by ``iss``. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM issuers ORDER BY iss").fetchall()
        return [_issuer(row) for row in rows]

    # -- status lists ------------------------------------------------------------------

    def create_status_list(self, record: StatusListRecord) -> None:
        """Create a list with every entry 0.

        Raises :class:`Conflict` if the uri exists, :class:`StoreError` for bits not in
        1, 2, 4, 8 or a size below 1.
        """
        check_list_shape(record)
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO status_lists (uri, issuer, bits, size, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (record.uri, record.issuer, record.bits, record.size, record.created_at),
                )
            except sqlite3.IntegrityError as err:
                raise Conflict(f"status list {record.uri!r} already exists") from err

    def get_status_list(self, uri: str) -> StatusListRecord | None:
        """The list's metadata, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM status_lists WHERE uri = ?", (uri,)).fetchone()
        return None if row is None else _status_list(row)

    def list_status_lists(self, issuer: str | None = None) -> list[StatusListRecord]:
        """Lists of one issuer (or all), oldest first, ties by uri.

        Raises :class:`StoreUnavailable`.
        """
        args = () if issuer is None else (issuer,)
        with self._read() as conn:
            rows = conn.execute(_LIST_STATUS_LISTS[issuer is not None], args).fetchall()
        return [_status_list(row) for row in rows]

    @staticmethod
    def _shape(conn: sqlite3.Connection, uri: str) -> tuple[int, int]:
        row = conn.execute("SELECT bits, size FROM status_lists WHERE uri = ?", (uri,)).fetchone()
        if row is None:
            raise NotFound(f"no status list {uri!r}")
        return int(row["bits"]), int(row["size"])

    def claim_status_index(self, uri: str, idx: int) -> bool:
        """Atomically mark ``idx`` as used; False if it already was.

        Raises :class:`NotFound` for an unknown list, :class:`StoreError` for an index
        outside the list.
        """
        with self._write() as conn:
            _bits, size = self._shape(conn, uri)
            _check_index(idx, size)
            cur = conn.execute(
                "INSERT OR IGNORE INTO status_claims (uri, idx) VALUES (?, ?)", (uri, idx)
            )
            if cur.rowcount == 0:
                return False
            conn.execute("UPDATE status_lists SET claimed = claimed + 1 WHERE uri = ?", (uri,))
            return True

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
            bits, size = self._shape(conn, uri)
            _check_index(idx, size)
            _check_value(value, bits)
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
        with self._read() as conn:
            # One read transaction so that the shape and the chunk are from one snapshot.
            conn.execute("BEGIN")
            try:
                bits, size = self._shape(conn, uri)
                _check_index(idx, size)
                bit = idx * bits
                chunk_no, offset = divmod(bit // 8, CHUNK_SIZE)
                row = conn.execute(
                    "SELECT substr(data, ?, 1) AS b FROM status_chunks"
                    " WHERE uri = ? AND chunk_no = ?",
                    (offset + 1, uri, chunk_no),
                ).fetchone()
            finally:
                conn.commit()
        if row is None or not row["b"]:
            return 0
        return int((row["b"][0] >> (bit % 8)) & ((1 << bits) - 1))

    def status_bytes(self, uri: str) -> bytes:
        """The whole packed array, least significant bit first. Raises :class:`NotFound`."""
        with self._read() as conn:
            conn.execute("BEGIN")
            try:
                bits, size = self._shape(conn, uri)
                rows = conn.execute(
                    "SELECT chunk_no, data FROM status_chunks WHERE uri = ? ORDER BY chunk_no",
                    (uri,),
                ).fetchall()
            finally:
                conn.commit()
        out = bytearray(packed_length(bits, size))
        for row in rows:
            start = row["chunk_no"] * CHUNK_SIZE
            data = row["data"]
            out[start : start + len(data)] = data
        return bytes(out)

    # -- credential registry -----------------------------------------------------------

    def put_credential(self, record: CredentialRecord) -> None:
        """Insert a credential. Raises :class:`Conflict` if the id exists."""
        check_state(record.state, CREDENTIAL_STATES)
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO credentials (id, vct, issuer, subject, kid, status_uri,"
                    " status_idx, issued_at, expires_at, state)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.id,
                        record.vct,
                        record.issuer,
                        record.subject,
                        record.kid,
                        record.status_uri,
                        record.status_idx,
                        record.issued_at,
                        record.expires_at,
                        record.state,
                    ),
                )
            except sqlite3.IntegrityError as err:
                raise Conflict(f"credential {record.id!r} already exists") from err

    def get_credential(self, credential_id: str) -> CredentialRecord | None:
        """The credential with this id, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM credentials WHERE id = ?", (credential_id,)
            ).fetchone()
        return None if row is None else _credential(row)

    def list_credentials(
        self, *, subject: str | None = None, issuer: str | None = None
    ) -> list[CredentialRecord]:
        """Filter by subject and/or issuer, ordered by ``issued_at`` then ``id``.

        Raises :class:`StoreUnavailable`.
        """
        args = [value for value in (subject, issuer) if value is not None]
        sql = _LIST_CREDENTIALS[(subject is not None, issuer is not None)]
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [_credential(row) for row in rows]

    def set_credential_state(self, credential_id: str, state: CredentialState) -> None:
        """Change a credential's state. Raises :class:`NotFound` for an unknown id."""
        check_state(state, CREDENTIAL_STATES)
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE credentials SET state = ? WHERE id = ?", (state, credential_id)
            )
            if cur.rowcount == 0:
                raise NotFound(f"no credential {credential_id!r}")


# -- validation of list positions (the shared checks live in store.interface) ---------


def _check_index(idx: int, size: int) -> None:
    if not 0 <= idx < size:
        raise StoreError(f"index {idx} outside the list (size {size})", code="out_of_range")


def _check_value(value: int, bits: int) -> None:
    if not 0 <= value < (1 << bits):
        raise StoreError(f"status {value} does not fit in {bits} bits", code="out_of_range")
