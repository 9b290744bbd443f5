"""The SQLite plumbing shared by every kind of record: the connection pool, read and
write transactions, the translation of driver errors, and the schema migrations."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Self

from store.errors import Conflict, SchemaTooNew, StoreClosed, StoreError, StoreUnavailable
from store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["SQLiteBase", "translate"]

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


def translate(err: sqlite3.Error) -> StoreError:
    """Map a driver error to the store's errors (busy / I/O -> :class:`StoreUnavailable`)."""
    code = getattr(err, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(err)
    if isinstance(err, sqlite3.IntegrityError):
        return Conflict(f"SQLite constraint failed: {text}")
    if primary in _UNAVAILABLE_CODES or "locked" in text or "disk I/O" in text:
        return StoreUnavailable(f"SQLite store unavailable: {text}")
    return StoreError(f"SQLite error: {text}")


class SQLiteBase:
    """One SQLite file (WAL), safe across threads and processes: what every kind's
    module builds on (:meth:`_read`, :meth:`_write`).

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
            raise translate(err) from err

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one read transaction (several reads from one snapshot)."""
        with self._read() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.commit()

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
            raise translate(err) from err

    def _init_schema(self) -> None:
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"database schema {version} is newer than this code ({SCHEMA_VERSION})",
                )
            # Every step in the same transaction: a crash leaves the old version intact.
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step].split(";"):
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
