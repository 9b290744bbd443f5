"""Citizens' devices and their credential copies on Redis, in the citizen's slot:

``P:{sub:C}:devices`` (device id -> record JSON without ``state`` and ``last_seen``),
``P:{sub:C}:device-state`` (device id -> state), ``P:{sub:C}:device-seen`` (device id ->
``last_seen``), ``P:{sub:C}:device-kids`` (key thumbprint -> device id: a key is
registered once per citizen) and ``P:{sub:C}:copies`` (copy id -> copy JSON). Adding a
device (duplicate key, limit, insert) is one script over those keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from store.codec import Codec
from store.errors import Conflict
from store.kinds.devices import DeviceAdded, DeviceCopy, DeviceRecord
from store.redis.base import RedisBase, decode_int, text
from store.validation import check_device

__all__ = ["DevicesMixin"]

DEVICE = Codec(DeviceRecord)
COPY = Codec(DeviceCopy)
_BESIDE = ("state", "last_seen")


class DevicesMixin(RedisBase):
    """:class:`store.kinds.devices.DeviceStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: devices, device-state, device-seen, device-kids.
        # ARGV: device id, kid, JSON, limit, state, last_seen.
        "add_device": """
if redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then return 'duplicate' end
local active = 0
for _, state in ipairs(redis.call('HVALS', KEYS[2])) do
  if state == 'active' then active = active + 1 end
end
if active >= tonumber(ARGV[4]) then return 'full' end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'conflict' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[6])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[1])
return 'added'
""",
        # KEYS: device-state. ARGV: device id. 1 if it was active and is now removed.
        "remove_device": """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'active' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'removed')
return 1
""",
        # KEYS: device-seen. ARGV: device id, at. Only forward, only a known device.
        "device_seen": """
local seen = redis.call('HGET', KEYS[1], ARGV[1])
if seen and tonumber(seen) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
""",
        # KEYS: copies. ARGV: credential id. Removes that card's copies; their JSON.
        "delete_device_copies": """
local gone = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local copy = cjson.decode(all[i + 1])
  if copy['credential_id'] == ARGV[1] then
    redis.call('HDEL', KEYS[1], all[i])
    table.insert(gone, all[i])
  end
end
return gone
""",
    }

    def _device_keys(self, citizen_id: str) -> list[str]:
        return [
            self._citizen_key(citizen_id, name)
            for name in ("devices", "device-state", "device-seen", "device-kids")
        ]

    def add_device(self, record: DeviceRecord, limit: int) -> DeviceAdded:
        """Insert unless the key is known to this citizen or ``limit`` devices are active
        (one script). Raises :class:`Conflict` for a known device id."""
        check_device(record, limit)
        args = [
            record.device_id,
            record.kid,
            DEVICE.to_json(record, exclude=_BESIDE),
            limit,
            record.state,
            record.last_seen,
        ]
        with self._guard():
            got = text(
                self._script("add_device")(keys=self._device_keys(record.citizen_id), args=args)
            )
        if got == "conflict":
            raise Conflict("this device id already exists")
        if got == "duplicate":
            return "duplicate"
        if got == "full":
            return "full"
        return "added"

    def _device(self, blob: bytes, state: bytes | None, seen: bytes | None) -> DeviceRecord:
        extra = {
            "state": None if state is None else text(state),
            "last_seen": None if seen is None else decode_int(seen, "device last_seen"),
        }
        return DEVICE.from_json(blob, extra)

    def get_device(self, citizen_id: str, device_id: str) -> DeviceRecord | None:
        """One device, or None. Raises :class:`StoreUnavailable`."""
        rec, state, seen, _ = self._device_keys(citizen_id)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hget(rec, device_id)
            pipe.hget(state, device_id)
            pipe.hget(seen, device_id)
            blob, value, at = pipe.execute()
        return None if blob is None else self._device(blob, value, at)

    def list_devices(self, citizen_id: str) -> list[DeviceRecord]:
        """The citizen's devices, by ``created_at`` then ``device_id``."""
        rec, state, seen, _ = self._device_keys(citizen_id)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hgetall(rec)
            pipe.hgetall(state)
            pipe.hgetall(seen)
            blobs, states, seens = pipe.execute()
        devices = [
            self._device(blob, states.get(device_id), seens.get(device_id))
            for device_id, blob in blobs.items()
        ]
        devices.sort(key=lambda d: (d.created_at, d.device_id))
        return devices

    def remove_device(self, citizen_id: str, device_id: str) -> bool:
        """Mark the device removed; False if unknown or already removed."""
        key = self._citizen_key(citizen_id, "device-state")
        with self._guard():
            done = self._script("remove_device")(keys=[key], args=[device_id])
        return bool(done)

    def device_seen(self, citizen_id: str, device_id: str, at: int) -> None:
        """Move ``last_seen`` forward (never back)."""
        key = self._citizen_key(citizen_id, "device-seen")
        with self._guard():
            self._script("device_seen")(keys=[key], args=[device_id, at])

    def put_device_copy(self, copy: DeviceCopy) -> None:
        """Insert or replace the copy with this citizen and ``copy_id``."""
        blob = COPY.to_json(copy)
        with self._guard():
            self._r.hset(self._citizen_key(copy.citizen_id, "copies"), copy.copy_id, blob)

    def list_device_copies(self, citizen_id: str, device_id: str | None = None) -> list[DeviceCopy]:
        """The citizen's copies (of one device, or all), by ``added_at`` then ``copy_id``."""
        with self._guard():
            blobs = self._r.hgetall(self._citizen_key(citizen_id, "copies"))
        copies = [COPY.from_json(blob) for blob in blobs.values()]
        copies = [c for c in copies if device_id is None or c.device_id == device_id]
        copies.sort(key=lambda c: (c.added_at, c.copy_id))
        return copies

    def delete_device_copies(self, citizen_id: str, credential_id: str) -> list[str]:
        """Forget every copy of one card; the ``copy_id`` s forgotten."""
        key = self._citizen_key(citizen_id, "copies")
        with self._guard():
            gone = self._script("delete_device_copies")(keys=[key], args=[credential_id])
        return sorted(text(copy_id) for copy_id in gone)
