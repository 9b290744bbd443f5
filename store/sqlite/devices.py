"""Citizens' devices and their credential copies on SQLite (tables ``devices`` and
``device_copies``, schema version 4)."""

from __future__ import annotations

import sqlite3

from store.codec import Codec
from store.errors import Conflict
from store.kinds.devices import DeviceAdded, DeviceCopy, DeviceRecord
from store.sqlite.base import SQLiteBase
from store.validation import check_device

__all__ = ["DevicesMixin"]

DEVICE = Codec(DeviceRecord)
COPY = Codec(DeviceCopy)


class DevicesMixin(SQLiteBase):
    """:class:`store.kinds.devices.DeviceStore` on SQLite."""

    def add_device(self, record: DeviceRecord, limit: int) -> DeviceAdded:
        """Insert unless the key is known to this citizen or ``limit`` devices are active
        (one ``BEGIN IMMEDIATE`` transaction). Raises :class:`Conflict` for a known id."""
        check_device(record, limit)
        with self._write() as conn:
            known = conn.execute(
                "SELECT 1 FROM devices WHERE citizen_id = ? AND kid = ?",
                (record.citizen_id, record.kid),
            ).fetchone()
            if known is not None:
                return "duplicate"
            (active,) = conn.execute(
                "SELECT COUNT(*) FROM devices WHERE citizen_id = ? AND state = 'active'",
                (record.citizen_id,),
            ).fetchone()
            if active >= limit:
                return "full"
            try:
                conn.execute(DEVICE.insert("devices"), DEVICE.to_row(record))
            except sqlite3.IntegrityError as err:
                raise Conflict("this device id already exists") from err
            return "added"

    def get_device(self, citizen_id: str, device_id: str) -> DeviceRecord | None:
        """One device, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(
                DEVICE.select("devices") + " WHERE citizen_id = ? AND device_id = ?",
                (citizen_id, device_id),
            ).fetchone()
        return None if row is None else DEVICE.from_row(row)

    def list_devices(self, citizen_id: str) -> list[DeviceRecord]:
        """The citizen's devices, by ``created_at`` then ``device_id``."""
        with self._read() as conn:
            rows = conn.execute(
                DEVICE.select("devices") + " WHERE citizen_id = ? ORDER BY created_at, device_id",
                (citizen_id,),
            ).fetchall()
        return [DEVICE.from_row(row) for row in rows]

    def remove_device(self, citizen_id: str, device_id: str) -> bool:
        """Mark the device removed; False if unknown or already removed."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE devices SET state = 'removed'"
                " WHERE citizen_id = ? AND device_id = ? AND state = 'active'",
                (citizen_id, device_id),
            )
            return cur.rowcount == 1

    def device_seen(self, citizen_id: str, device_id: str, at: int) -> None:
        """Move ``last_seen`` forward (never back)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE devices SET last_seen = ?"
                " WHERE citizen_id = ? AND device_id = ? AND last_seen < ?",
                (at, citizen_id, device_id, at),
            )

    def put_device_copy(self, copy: DeviceCopy) -> None:
        """Insert or replace the copy with this citizen and ``copy_id``."""
        with self._write() as conn:
            conn.execute(COPY.insert("device_copies", "INSERT OR REPLACE"), COPY.to_row(copy))

    def list_device_copies(self, citizen_id: str, device_id: str | None = None) -> list[DeviceCopy]:
        """The citizen's copies (of one device, or all), by ``added_at`` then ``copy_id``."""
        sql = COPY.select("device_copies") + " WHERE citizen_id = ?"
        args: tuple[str, ...] = (citizen_id,)
        if device_id is not None:
            sql += " AND device_id = ?"
            args += (device_id,)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY added_at, copy_id", args).fetchall()
        return [COPY.from_row(row) for row in rows]

    def delete_device_copies(self, citizen_id: str, credential_id: str) -> list[str]:
        """Forget every copy of one card; the ``copy_id`` s forgotten."""
        with self._write() as conn:
            rows = conn.execute(
                "SELECT copy_id FROM device_copies WHERE citizen_id = ? AND credential_id = ?"
                " ORDER BY copy_id",
                (citizen_id, credential_id),
            ).fetchall()
            conn.execute(
                "DELETE FROM device_copies WHERE citizen_id = ? AND credential_id = ?",
                (citizen_id, credential_id),
            )
        return [str(row[0]) for row in rows]
