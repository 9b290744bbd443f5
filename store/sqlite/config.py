"""Configuration values on SQLite (table ``config``: name -> value bytes)."""

from __future__ import annotations

import sqlite3

from store.kinds.config import (
    BASE_URL,
    KEYED_IDEMPOTENCY_SINCE,
    PSEUDONYMS,
    PSEUDONYMS_DONE,
    SCENES,
    TRUST_VERSION,
    check_base_url,
    check_config_name,
    check_config_value,
    new_version,
    parse_instant,
    status_version_name,
)
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

    def _config_get(self, name: str) -> bytes | None:
        with self._read() as conn:
            return read_config(conn, name)

    def _config_put(self, name: str, value: bytes) -> None:
        with self._write() as conn:
            write_config(conn, name, value)

    def trust_version(self) -> bytes | None:
        """See :meth:`store.kinds.config.ConfigStore.trust_version`."""
        return self._config_get(TRUST_VERSION)

    def bump_trust_version(self) -> bytes:
        """See :meth:`store.kinds.config.ConfigStore.bump_trust_version`."""
        version = new_version()
        self._config_put(TRUST_VERSION, version)
        return version

    def base_url(self) -> str | None:
        """See :meth:`store.kinds.config.ConfigStore.base_url`."""
        value = self._config_get(BASE_URL)
        return None if value is None else value.decode("utf-8")

    def set_base_url(self, url: str) -> str:
        """See :meth:`store.kinds.config.ConfigStore.set_base_url`: insert-or-ignore and
        read back in one ``BEGIN IMMEDIATE`` transaction."""
        value = check_base_url(url)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO config (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (BASE_URL, value),
            )
            kept = read_config(conn, BASE_URL)
        assert kept is not None
        return kept.decode("utf-8")

    def keyed_idempotency_since(self, now: int) -> int:
        """See :meth:`store.kinds.config.ConfigStore.keyed_idempotency_since`:
        insert-or-ignore and read back in one ``BEGIN IMMEDIATE`` transaction."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO config (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (KEYED_IDEMPOTENCY_SINCE, str(int(now)).encode("ascii")),
            )
            kept = read_config(conn, KEYED_IDEMPOTENCY_SINCE)
        return parse_instant(kept, now)

    def scene_policies(self) -> bytes | None:
        """See :meth:`store.kinds.config.ConfigStore.scene_policies`."""
        return self._config_get(SCENES)

    def put_scene_policies(self, value: bytes) -> None:
        """See :meth:`store.kinds.config.ConfigStore.put_scene_policies`."""
        self._config_put(SCENES, check_config_value(value))

    def status_list_version(self, uri: str) -> bytes | None:
        """See :meth:`store.kinds.config.ConfigStore.status_list_version`."""
        return self._config_get(status_version_name(uri))

    def bump_status_list_version(self, uri: str) -> bytes:
        """See :meth:`store.kinds.config.ConfigStore.bump_status_list_version`."""
        name = status_version_name(uri)
        version = new_version()
        self._config_put(name, version)
        return version

    def pseudonyms_done(self) -> bool:
        """See :meth:`store.kinds.config.ConfigStore.pseudonyms_done`."""
        return self._config_get(PSEUDONYMS) is not None

    def mark_pseudonyms_done(self) -> None:
        """See :meth:`store.kinds.config.ConfigStore.mark_pseudonyms_done`."""
        self._config_put(PSEUDONYMS, PSEUDONYMS_DONE)

    def get_config(self, name: str) -> bytes | None:
        """See :meth:`store.kinds.config.ConfigStore.get_config`."""
        return self._config_get(check_config_name(name))
