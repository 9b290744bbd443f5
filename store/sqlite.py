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

Schema versions (``PRAGMA user_version``) are applied one step after the other, so an
older file upgrades in place when it is opened:

1. keys, issuers, status lists, the credential registry;
2. the service: citizens, wallets and their items, sessions, API keys, venues, activity,
   the short-lived entries (nonces, once-values, rate counters) and the index of
   credentials by status position (:meth:`SQLiteStore.find_credential`);
3. the sliding-window logs (``window_entries``: login failures).

Short-lived rows (sessions, nonces, once-values, counters, window entries) are never returned once
expired at the caller's ``now``; each write to one of those tables first deletes that
table's rows expired at the ``now`` it was given (for sessions, the new session's
``created_at``), inside the same ``BEGIN IMMEDIATE`` transaction. Activity keeps the
newest :data:`ACTIVITY_CAP` events per citizen, as the Redis backend does.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import get_args

from store.errors import OutOfRange, SchemaTooNew, StoreClosed
from store.interface import (
    CREDENTIAL_STATES,
    KEY_STATES,
    ActivityRecord,
    ApiKeyKind,
    ApiKeyRecord,
    CitizenRecord,
    Conflict,
    CredentialRecord,
    CredentialState,
    InvalidArgument,
    IssuerRecord,
    KeyRecord,
    KeyStateName,
    Limit,
    NotFound,
    SessionRecord,
    StatusListRecord,
    StoreError,
    StoreUnavailable,
    VenueRecord,
    WalletItem,
    WalletRecord,
    check_limits,
    check_list_shape,
    check_state,
    check_window_name,
    next_status_iat,
    packed_length,
    window_wait,
)

__all__ = ["ACTIVITY_CAP", "CHUNK_SIZE", "SCHEMA_VERSION", "SQLiteStore"]

SCHEMA_VERSION = 3
CHUNK_SIZE = 4096
# Events kept per citizen (the oldest beyond this are dropped), as in the Redis backend.
ACTIVITY_CAP = 1000
_API_KEY_KINDS: tuple[str, ...] = get_args(ApiKeyKind)

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

_SCHEMA_V1 = """
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

_SCHEMA_V2 = """
CREATE INDEX IF NOT EXISTS credentials_by_status ON credentials (status_uri, status_idx);
CREATE TABLE IF NOT EXISTS citizens (
    citizen_id    TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS wallets (
    citizen_id  TEXT PRIMARY KEY,
    holder_kid  TEXT NOT NULL,
    holder_blob BLOB NOT NULL,
    key_blob    BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS wallet_items (
    citizen_id    TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    vct           TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    added_at      INTEGER NOT NULL,
    blob          BLOB NOT NULL,
    PRIMARY KEY (citizen_id, credential_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS wallet_items_by_added
    ON wallet_items (citizen_id, added_at, credential_id);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    citizen_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id     TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    principal  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_by_principal ON api_keys (principal, created_at, key_id);
CREATE INDEX IF NOT EXISTS api_keys_by_created ON api_keys (created_at, key_id);
CREATE TABLE IF NOT EXISTS venues (
    venue_id   TEXT PRIMARY KEY,
    name_zh    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    scenes     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS activity (
    citizen_id    TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    at            INTEGER NOT NULL,
    venue_id      TEXT NOT NULL,
    scene         TEXT NOT NULL,
    vct           TEXT,
    credential_id TEXT,
    claims        TEXT NOT NULL,
    valid         INTEGER NOT NULL,
    codes         TEXT NOT NULL,
    PRIMARY KEY (citizen_id, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS activity_by_time ON activity (citizen_id, at, event_id);
CREATE TABLE IF NOT EXISTS nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires_at);
CREATE TABLE IF NOT EXISTS once_values (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS once_values_by_expiry ON once_values (expires_at);
CREATE TABLE IF NOT EXISTS counters (
    counter      TEXT NOT NULL,
    window       INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (counter, window, window_start)
);
CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (expires_at);
"""

_SCHEMA_V3 = """
CREATE TABLE IF NOT EXISTS window_entries (
    counter    TEXT NOT NULL,
    entry      TEXT NOT NULL,
    at         REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (counter, entry)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS window_entries_by_time ON window_entries (counter, at);
CREATE INDEX IF NOT EXISTS window_entries_by_expiry ON window_entries (expires_at);
"""

# Migration steps: _MIGRATIONS[v - 1] takes a file from version v - 1 to version v.
_MIGRATIONS = (_SCHEMA_V1, _SCHEMA_V2, _SCHEMA_V3)
assert len(_MIGRATIONS) == SCHEMA_VERSION

#: Config rows holding the last published ``iat`` and digest of each status list.
_STAMP_PREFIX = "status_stamp:"
#: ... and the bytes published under it.
_STAMP_BYTES = "status_stamp_bytes:"


def _read_stamp(value: bytes) -> tuple[int, str]:
    stamp = json.loads(value)
    return int(stamp["iat"]), str(stamp["digest"])


_LIST_KEYS = {
    False: "SELECT * FROM keys ORDER BY created_at, kid",
    True: "SELECT * FROM keys WHERE owner = ? ORDER BY created_at, kid",
}
_LIST_STATUS_LISTS = {
    False: "SELECT * FROM status_lists ORDER BY created_at, uri",
    True: "SELECT * FROM status_lists WHERE issuer = ? ORDER BY created_at, uri",
}
_LIST_API_KEYS = {
    False: "SELECT * FROM api_keys ORDER BY created_at, key_id",
    True: "SELECT * FROM api_keys WHERE principal = ? ORDER BY created_at, key_id",
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


def _citizen(row: sqlite3.Row) -> CitizenRecord:
    return CitizenRecord(
        citizen_id=row["citizen_id"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
    )


def _wallet(row: sqlite3.Row) -> WalletRecord:
    return WalletRecord(
        citizen_id=row["citizen_id"],
        holder_kid=row["holder_kid"],
        holder_blob=bytes(row["holder_blob"]),
        key_blob=bytes(row["key_blob"]),
        created_at=row["created_at"],
    )


def _wallet_item(row: sqlite3.Row) -> WalletItem:
    return WalletItem(
        citizen_id=row["citizen_id"],
        credential_id=row["credential_id"],
        vct=row["vct"],
        issuer=row["issuer"],
        expires_at=row["expires_at"],
        added_at=row["added_at"],
        blob=bytes(row["blob"]),
    )


def _session(row: sqlite3.Row) -> SessionRecord:
    return SessionRecord(
        token_hash=row["token_hash"],
        citizen_id=row["citizen_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


def _api_key(row: sqlite3.Row) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row["key_id"],
        key_hash=row["key_hash"],
        kind=row["kind"],
        principal=row["principal"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


def _venue(row: sqlite3.Row) -> VenueRecord:
    return VenueRecord(
        venue_id=row["venue_id"],
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        scenes=tuple(json.loads(row["scenes"])),
        created_at=row["created_at"],
    )


def _activity(row: sqlite3.Row) -> ActivityRecord:
    return ActivityRecord(
        event_id=row["event_id"],
        citizen_id=row["citizen_id"],
        at=row["at"],
        venue_id=row["venue_id"],
        scene=row["scene"],
        vct=row["vct"],
        credential_id=row["credential_id"],
        claims=tuple(json.loads(row["claims"])),
        valid=bool(row["valid"]),
        codes=tuple(json.loads(row["codes"])),
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
                    raise StoreClosed("the store is closed")
                if self._memory_conn is None:
                    self._memory_conn = self._connect()
                yield self._memory_conn
            return
        with self._pool_lock:
            if self._closed:
                raise StoreClosed("the store is closed")
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
                raise SchemaTooNew(
                    f"database schema {version} is newer than this code ({SCHEMA_VERSION})",
                )
            # Every step in the same transaction: a crash leaves the old version intact.
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            if version < SCHEMA_VERSION:
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

    def stamp_status_list(self, uri: str, now: int) -> tuple[int, bytes]:
        """See :meth:`store.interface.Store.stamp_status_list`; the stamp is two config
        rows (``status_stamp:<uri>``: iat and digest, ``status_stamp_bytes:<uri>``: the
        bytes) read and written in the same ``BEGIN IMMEDIATE`` transaction."""
        with self._write() as conn:
            bits, size = self._shape(conn, uri)
            rows = conn.execute(
                "SELECT chunk_no, data FROM status_chunks WHERE uri = ? ORDER BY chunk_no", (uri,)
            ).fetchall()
            out = bytearray(packed_length(bits, size))
            for row in rows:
                start = row["chunk_no"] * CHUNK_SIZE
                out[start : start + len(row["data"])] = row["data"]
            data = bytes(out)
            digest = hashlib.sha256(data).hexdigest()
            name = _STAMP_PREFIX + uri
            row = conn.execute("SELECT value FROM config WHERE name = ?", (name,)).fetchone()
            last = None if row is None else _read_stamp(bytes(row["value"]))
            iat = next_status_iat(last, now, digest)
            if iat is None and last is not None:  # a burst: publish the last stamp again
                row = conn.execute(
                    "SELECT value FROM config WHERE name = ?", (_STAMP_BYTES + uri,)
                ).fetchone()
                return last[0], bytes(row["value"])
            assert iat is not None
            for key, value in (
                (name, json.dumps({"iat": iat, "digest": digest}).encode("ascii")),
                (_STAMP_BYTES + uri, data),
            ):
                conn.execute(
                    "INSERT INTO config (name, value) VALUES (?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
        return iat, data

    def last_status_stamp(self, uri: str) -> int | None:
        """See :meth:`store.interface.Store.last_status_stamp`."""
        value = self.get_config(_STAMP_PREFIX + uri)
        return None if value is None else _read_stamp(value)[0]

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

    def find_credential(self, status_uri: str, status_idx: int) -> CredentialRecord | None:
        """The credential holding entry ``status_idx`` of the list at ``status_uri``.

        Should two credentials name the same entry, the first one put is returned.
        Raises :class:`StoreUnavailable`.
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM credentials WHERE status_uri = ? AND status_idx = ?"
                " ORDER BY rowid LIMIT 1",
                (status_uri, status_idx),
            ).fetchone()
        return None if row is None else _credential(row)

    # -- citizens ----------------------------------------------------------------------

    def put_citizen(self, record: CitizenRecord) -> None:
        """Insert a citizen. Raises :class:`Conflict` if the citizen exists."""
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO citizens (citizen_id, password_hash, created_at) VALUES (?, ?, ?)",
                    (record.citizen_id, record.password_hash, record.created_at),
                )
            except sqlite3.IntegrityError as err:
                raise Conflict(f"citizen {record.citizen_id!r} already exists") from err

    def get_citizen(self, citizen_id: str) -> CitizenRecord | None:
        """The citizen, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM citizens WHERE citizen_id = ?", (citizen_id,)
            ).fetchone()
        return None if row is None else _citizen(row)

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
            rows = conn.execute("SELECT * FROM citizens ORDER BY citizen_id").fetchall()
        return [_citizen(row) for row in rows]

    # -- wallets -----------------------------------------------------------------------

    def create_wallet(self, record: WalletRecord) -> bool:
        """Create the citizen's wallet; False (and nothing written) if one exists."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO wallets (citizen_id, holder_kid, holder_blob, key_blob,"
                " created_at) VALUES (?, ?, ?, ?, ?)",
                (
                    record.citizen_id,
                    record.holder_kid,
                    bytes(record.holder_blob),
                    bytes(record.key_blob),
                    record.created_at,
                ),
            )
            return cur.rowcount == 1

    def get_wallet(self, citizen_id: str) -> WalletRecord | None:
        """The citizen's wallet, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM wallets WHERE citizen_id = ?", (citizen_id,)
            ).fetchone()
        return None if row is None else _wallet(row)

    def put_wallet_item(self, item: WalletItem) -> None:
        """Insert or replace the item with this citizen and credential id."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO wallet_items (citizen_id, credential_id, vct, issuer,"
                " expires_at, added_at, blob) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    item.citizen_id,
                    item.credential_id,
                    item.vct,
                    item.issuer,
                    item.expires_at,
                    item.added_at,
                    bytes(item.blob),
                ),
            )

    def get_wallet_item(self, citizen_id: str, credential_id: str) -> WalletItem | None:
        """One item, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM wallet_items WHERE citizen_id = ? AND credential_id = ?",
                (citizen_id, credential_id),
            ).fetchone()
        return None if row is None else _wallet_item(row)

    def list_wallet_items(self, citizen_id: str) -> list[WalletItem]:
        """The citizen's items, ordered by ``added_at`` then ``credential_id``."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM wallet_items WHERE citizen_id = ? ORDER BY added_at, credential_id",
                (citizen_id,),
            ).fetchall()
        return [_wallet_item(row) for row in rows]

    def delete_wallet_item(self, citizen_id: str, credential_id: str) -> bool:
        """Remove one item; False if it was not there."""
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM wallet_items WHERE citizen_id = ? AND credential_id = ?",
                (citizen_id, credential_id),
            )
            return cur.rowcount == 1

    # -- sessions ----------------------------------------------------------------------

    def put_session(self, record: SessionRecord) -> None:
        """Insert or replace the session with this token hash.

        Sessions expired at the new session's ``created_at`` are purged in passing.
        """
        with self._write() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (record.created_at,))
            conn.execute(
                "INSERT OR REPLACE INTO sessions (token_hash, citizen_id, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (record.token_hash, record.citizen_id, record.created_at, record.expires_at),
            )

    def get_session(self, token_hash: str, now: float) -> SessionRecord | None:
        """The session, or None if unknown or expired at ``now`` (``now >= expires_at``)."""
        _check_time(now)
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM sessions WHERE token_hash = ? AND expires_at > ?",
                (token_hash, now),
            ).fetchone()
        return None if row is None else _session(row)

    def delete_session(self, token_hash: str) -> None:
        """Forget the session (nothing happens for an unknown one)."""
        with self._write() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    # -- API keys ----------------------------------------------------------------------

    def put_api_key(self, record: ApiKeyRecord) -> None:
        """Insert a key. Raises :class:`Conflict` if the key id or hash exists,
        :class:`InvalidArgument` for an unknown kind."""
        _check_kind(record.kind)
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO api_keys (key_id, key_hash, kind, principal, created_at,"
                    " revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        record.key_id,
                        record.key_hash,
                        record.kind,
                        record.principal,
                        record.created_at,
                        record.revoked_at,
                    ),
                )
            except sqlite3.IntegrityError as err:
                raise Conflict(f"API key {record.key_id!r} or its hash already exists") from err

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this secret hash (revoked or not), or None."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone()
        return None if row is None else _api_key(row)

    def list_api_keys(self, principal: str | None = None) -> list[ApiKeyRecord]:
        """Keys of one principal (or all), oldest first, ties by key id."""
        args = () if principal is None else (principal,)
        with self._read() as conn:
            rows = conn.execute(_LIST_API_KEYS[principal is not None], args).fetchall()
        return [_api_key(row) for row in rows]

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

    # -- venues ------------------------------------------------------------------------

    def put_venue(self, record: VenueRecord) -> None:
        """Insert or replace the venue with this id. Raises :class:`StoreUnavailable`."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO venues (venue_id, name_zh, name_en, scenes, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    record.venue_id,
                    record.name_zh,
                    record.name_en,
                    json.dumps(list(record.scenes)),
                    record.created_at,
                ),
            )

    def get_venue(self, venue_id: str) -> VenueRecord | None:
        """The venue, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM venues WHERE venue_id = ?", (venue_id,)).fetchone()
        return None if row is None else _venue(row)

    def list_venues(self) -> list[VenueRecord]:
        """All venues, sorted by id. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM venues ORDER BY venue_id").fetchall()
        return [_venue(row) for row in rows]

    # -- activity ----------------------------------------------------------------------

    def add_activity(self, record: ActivityRecord) -> None:
        """Record one event (replacing one with the same citizen and event id).

        Only the newest :data:`ACTIVITY_CAP` events of the citizen are kept.
        """
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO activity (citizen_id, event_id, at, venue_id, scene,"
                " vct, credential_id, claims, valid, codes)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.citizen_id,
                    record.event_id,
                    record.at,
                    record.venue_id,
                    record.scene,
                    record.vct,
                    record.credential_id,
                    json.dumps(list(record.claims)),
                    int(record.valid),
                    json.dumps(list(record.codes)),
                ),
            )
            # The newest event that falls off the cap, if any; it and older ones go.
            edge = conn.execute(
                "SELECT at, event_id FROM activity WHERE citizen_id = ?"
                " ORDER BY at DESC, event_id DESC LIMIT 1 OFFSET ?",
                (record.citizen_id, ACTIVITY_CAP),
            ).fetchone()
            if edge is not None:
                conn.execute(
                    "DELETE FROM activity WHERE citizen_id = ? AND (at, event_id) <= (?, ?)",
                    (record.citizen_id, edge["at"], edge["event_id"]),
                )

    def list_activity(self, citizen_id: str, limit: int = 100) -> list[ActivityRecord]:
        """The citizen's newest ``limit`` events: ``at`` descending, then event id descending.

        Raises :class:`InvalidArgument` for a negative limit.
        """
        _check_limit(limit)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM activity WHERE citizen_id = ?"
                " ORDER BY at DESC, event_id DESC LIMIT ?",
                (citizen_id, limit),
            ).fetchall()
        return [_activity(row) for row in rows]

    # -- short-lived entries -----------------------------------------------------------

    def hit(self, counter: str, window: int, now: float) -> int:
        """Count one hit in the fixed ``window`` (seconds) holding ``now``; the new count.

        Windows start at multiples of ``window`` since the epoch. Raises
        :class:`InvalidArgument` for a window that is not a positive integer.
        """
        _check_window(window)
        _check_time(now)
        start = int(now // window) * window
        with self._write() as conn:
            conn.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
            row = conn.execute(
                "INSERT INTO counters (counter, window, window_start, count, expires_at)"
                " VALUES (?, ?, ?, 1, ?)"
                " ON CONFLICT (counter, window, window_start) DO UPDATE SET count = count + 1"
                " RETURNING count",
                (counter, window, start, start + window),
            ).fetchone()
        return int(row["count"])

    def window_add(
        self,
        counter: str,
        entry: str,
        now: float,
        limits: Sequence[Limit],
        *,
        force: bool = False,
    ) -> float:
        """See :meth:`store.interface.Store.window_add`. A row expires when its entry is
        the longest window old; the oldest rows beyond ``max(count)`` are dropped."""
        checked = check_limits(limits)
        check_window_name(counter, "counter")
        check_window_name(entry, "entry")
        _check_time(now)
        longest = max(limit.window for limit in checked)
        keep = max(limit.count for limit in checked)
        with self._write() as conn:
            conn.execute("DELETE FROM window_entries WHERE expires_at <= ?", (now,))
            wait = self._window_wait(conn, counter, now, checked)
            if wait <= 0 or force:
                conn.execute(
                    "INSERT OR REPLACE INTO window_entries (counter, entry, at, expires_at)"
                    " VALUES (?, ?, ?, ?)",
                    (counter, entry, now, now + longest),
                )
                conn.execute(
                    "DELETE FROM window_entries WHERE counter = ? AND entry NOT IN"
                    " (SELECT entry FROM window_entries WHERE counter = ?"
                    " ORDER BY at DESC, entry DESC LIMIT ?)",
                    (counter, counter, keep),
                )
        return wait

    def window_wait(self, counter: str, now: float, limits: Sequence[Limit]) -> float:
        """See :meth:`store.interface.Store.window_wait`."""
        checked = check_limits(limits)
        check_window_name(counter, "counter")
        _check_time(now)
        with self._read() as conn:
            return self._window_wait(conn, counter, now, checked)

    @staticmethod
    def _window_wait(
        conn: sqlite3.Connection, counter: str, now: float, limits: tuple[Limit, ...]
    ) -> float:
        longest = max(limit.window for limit in limits)
        rows = conn.execute(
            "SELECT at FROM window_entries WHERE counter = ? AND at > ?",
            (counter, now - longest),
        ).fetchall()
        return window_wait([float(row["at"]) for row in rows], limits, now)

    def window_discard(self, counter: str, entry: str) -> None:
        """See :meth:`store.interface.Store.window_discard`."""
        check_window_name(counter, "counter")
        check_window_name(entry, "entry")
        with self._write() as conn:
            conn.execute(
                "DELETE FROM window_entries WHERE counter = ? AND entry = ?", (counter, entry)
            )

    def window_clear(self, counter: str) -> None:
        """See :meth:`store.interface.Store.window_clear`."""
        check_window_name(counter, "counter")
        with self._write() as conn:
            conn.execute("DELETE FROM window_entries WHERE counter = ?", (counter,))

    def remember_nonce(self, nonce: str, expires_at: float, now: float) -> bool:
        """Record a nonce until ``expires_at``; False if it is recorded and alive at ``now``.

        A nonce already expired at ``now`` is accepted (True) and not kept.
        """
        _check_time(expires_at)
        _check_time(now)
        with self._write() as conn:
            conn.execute("DELETE FROM nonces WHERE expires_at <= ?", (now,))
            if expires_at <= now:
                return (
                    conn.execute("SELECT 1 FROM nonces WHERE nonce = ?", (nonce,)).fetchone()
                    is None
                )
            cur = conn.execute(
                "INSERT OR IGNORE INTO nonces (nonce, expires_at) VALUES (?, ?)",
                (nonce, expires_at),
            )
            return cur.rowcount == 1

    def put_once(
        self, key: str, value: bytes, expires_at: float, now: float, *, replace: bool = False
    ) -> bool:
        """Store ``value`` under ``key`` until ``expires_at`` unless a value is alive at
        ``now`` (or always, with ``replace``); True when written.

        Writing with ``expires_at <= now`` leaves no value under ``key``.
        """
        _check_time(expires_at)
        _check_time(now)
        with self._write() as conn:
            conn.execute("DELETE FROM once_values WHERE expires_at <= ?", (now,))
            if (
                not replace
                and conn.execute("SELECT 1 FROM once_values WHERE key = ?", (key,)).fetchone()
            ):
                return False
            if expires_at <= now:
                conn.execute("DELETE FROM once_values WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO once_values (key, value, expires_at) VALUES (?, ?, ?)",
                    (key, bytes(value), expires_at),
                )
            return True

    def get_once(self, key: str, now: float) -> bytes | None:
        """The value under ``key``, or None if absent or expired at ``now``."""
        _check_time(now)
        with self._read() as conn:
            row = conn.execute(
                "SELECT value FROM once_values WHERE key = ? AND expires_at > ?", (key, now)
            ).fetchone()
        return None if row is None else bytes(row["value"])


# -- validation of list positions (the shared checks live in store.interface) ---------


def _check_index(idx: int, size: int) -> None:
    if not 0 <= idx < size:
        raise OutOfRange(f"index {idx} outside the list (size {size})")


def _check_value(value: int, bits: int) -> None:
    if not 0 <= value < (1 << bits):
        raise OutOfRange(f"status {value} does not fit in {bits} bits")


def _check_kind(kind: str) -> None:
    if kind not in _API_KEY_KINDS:
        raise InvalidArgument(f"unknown API key kind {kind!r}")


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidArgument(f"limit must be a non-negative integer, not {limit!r}")


def _check_window(window: int) -> None:
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InvalidArgument(f"window must be a positive number of seconds, not {window!r}")


def _check_time(at: float) -> None:
    if not math.isfinite(at):
        raise InvalidArgument(f"a time must be a finite number, not {at!r}")
