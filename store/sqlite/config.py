"""Configuration values on SQLite (table ``config``)."""

from __future__ import annotations

import sqlite3

from store.sqlite.base import SQLiteBase

__all__ = ["ConfigMixin", "read_config", "write_config"]


def read_config(conn: sqlite3.Connection, name: str) -> bytes | None:
    """The value under ``name`` inside the caller's transaction, or None."""
    row = conn.execute("SELECT value FROM config WHERE name = ?", (name,)).fetchone()
    return None if row is None else bytes(row["value"])


def write_config(conn: sqlite3.Connection, name: str, value: bytes) -> None:
    """Insert or replace the value under ``name`` inside the caller's transaction."""
    conn.execute(
        "INSERT INTO config (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, bytes(value)),
    )


class ConfigMixin(SQLiteBase):
    """:class:`store.kinds.config.ConfigStore` on SQLite."""

    def get_config(self, name: str) -> bytes | None:
        """The value stored under ``name``, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            return read_config(conn, name)

    def put_config(self, name: str, value: bytes) -> None:
        """Insert or replace the value under ``name``. Raises :class:`StoreUnavailable`."""
        with self._write() as conn:
            write_config(conn, name, value)
