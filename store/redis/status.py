"""Status lists on Redis: per list (``H``: a hash of its uri) ``P:{sl:H}:meta`` (record
JSON, authoritative), ``:bits`` (packed statuses), ``:claims`` (bitmap), ``:claimed``
(counter), ``:stamp`` (last ``iat``, digest and bytes); ``P:{sls}:rec`` indexes them.

Status updates and claims are Lua scripts over one list's keys; the bit order is the
module docstring of :mod:`store.redis`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import ClassVar

from redis import exceptions as rexc

from store.codec import Codec
from store.errors import Conflict, CorruptRecord, NotFound, OutOfRange, StoreUnavailable
from store.kinds.status import StatusListRecord, next_status_iat, packed_length
from store.redis.base import RedisBase, decode_int, tag_hash, text
from store.validation import check_list_shape

__all__ = ["StatusMixin"]

STATUS_LIST = Codec(StatusListRecord)

# Return codes of the scripts below.
_OK, _NO_LIST, _BAD_INDEX, _BAD_VALUE = 0, -1, -2, -3

#: Optimistic attempts of :meth:`StatusMixin.stamp_status_list` before giving up.
_STAMP_TRIES = 32

# Reads the list's shape from its meta JSON and checks ARGV[1] as an index.
_LUA_PROLOGUE = """
local meta = redis.call('GET', KEYS[1])
if not meta then return {-1} end
local m = cjson.decode(meta)
local b = tonumber(m['bits'])
local size = tonumber(m['size'])
local idx = tonumber(ARGV[1])
if idx < 0 or idx >= size then return {-2} end
"""

# Token Status List (LSB first) position -> BITFIELD offset (MSB first).
_LUA_OFFSET = """
local pos = idx * b
local p = pos % 8
local offset = (pos - p) + (8 - p - b)
"""

_SET_STATUS = (
    _LUA_PROLOGUE
    + """
local value = tonumber(ARGV[2])
if value < 0 or value >= 2 ^ b then return {-3} end
"""
    + _LUA_OFFSET
    + """
redis.call('BITFIELD', KEYS[2], 'SET', 'u' .. b, offset, value)
return {0}
"""
)

_GET_STATUS = (
    _LUA_PROLOGUE
    + _LUA_OFFSET
    + """
local got = redis.call('BITFIELD', KEYS[2], 'GET', 'u' .. b, offset)
return {0, got[1]}
"""
)

_CLAIM = (
    _LUA_PROLOGUE
    + """
if redis.call('SETBIT', KEYS[2], idx, 1) == 1 then return {0, 0} end
redis.call('INCR', KEYS[3])
return {0, 1}
"""
)


# Many claims at once: every index checked first, then claimed; {0, c1, c2, …}.
_CLAIM_MANY = """
local meta = redis.call('GET', KEYS[1])
if not meta then return {-1} end
local size = tonumber(cjson.decode(meta)['size'])
for i = 1, #ARGV do
  local idx = tonumber(ARGV[i])
  if idx < 0 or idx >= size then return {-2, idx} end
end
local out = {0}
local count = 0
for i = 1, #ARGV do
  if redis.call('SETBIT', KEYS[2], tonumber(ARGV[i]), 1) == 1 then
    out[i + 1] = 0
  else
    out[i + 1] = 1
    count = count + 1
  end
end
if count > 0 then redis.call('INCRBY', KEYS[3], count) end
return out
"""


def _check(code: int, uri: str, idx: int, value: int | None = None) -> None:
    if code == _NO_LIST:
        raise NotFound(f"no status list {uri!r}")
    if code == _BAD_INDEX:
        raise OutOfRange(f"index {idx} outside the list {uri!r}")
    if code == _BAD_VALUE:
        raise OutOfRange(f"status {value} does not fit the list {uri!r}")


def _fit(data: bytes | None, record: StatusListRecord) -> bytes:
    """The stored bits cut or padded with zeros to the list's packed length."""
    length = packed_length(record.bits, record.size)
    got = bytes(data or b"")[:length]
    return got + bytes(length - len(got))


class StatusMixin(RedisBase):
    """:class:`store.kinds.status.StatusListStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        "set_status": _SET_STATUS,
        "get_status": _GET_STATUS,
        "claim": _CLAIM,
        "claim_many": _CLAIM_MANY,
    }

    def _list_keys(self, uri: str) -> tuple[str, str, str, str]:
        tag = f"sl:{tag_hash(uri)}"
        return (
            self._k(tag, "meta"),
            self._k(tag, "bits"),
            self._k(tag, "claims"),
            self._k(tag, "claimed"),
        )

    def _stamp_key(self, uri: str) -> str:
        return self._k(f"sl:{tag_hash(uri)}", "stamp")

    def create_status_list(self, record: StatusListRecord) -> None:
        """Create a list with every entry 0.

        Raises :class:`Conflict` if the uri exists, :class:`StoreError` for bits not in
        1, 2, 4, 8 or a size below 1.
        """
        check_list_shape(record)
        blob = STATUS_LIST.to_json(record)
        meta = self._list_keys(record.uri)[0]
        with self._guard():
            if not self._r.set(meta, blob, nx=True):
                raise Conflict(f"status list {record.uri!r} already exists")
            self._r.hset(self._k("sls", "rec"), record.uri, blob)

    def get_status_list(self, uri: str) -> StatusListRecord | None:
        """The list's metadata, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blob = self._r.get(self._list_keys(uri)[0])
        return None if blob is None else STATUS_LIST.from_json(blob)

    def list_status_lists(self, issuer: str | None = None) -> list[StatusListRecord]:
        """Lists of one issuer (or all), oldest first, ties by uri.

        Raises :class:`StoreUnavailable`.
        """
        with self._guard():
            blobs = self._r.hgetall(self._k("sls", "rec"))
        records = [STATUS_LIST.from_json(b) for b in blobs.values()]
        if issuer is not None:
            records = [r for r in records if r.issuer == issuer]
        records.sort(key=lambda r: (r.created_at, r.uri))
        return records

    def claim_status_index(self, uri: str, idx: int) -> bool:
        """Atomically mark ``idx`` as used; False if it already was.

        Raises :class:`NotFound` for an unknown list, :class:`StoreError` for an index
        outside the list.
        """
        meta, _bits, claims, claimed = self._list_keys(uri)
        with self._guard():
            reply = self._script("claim")(keys=[meta, claims, claimed], args=[idx])
        _check(int(reply[0]), uri, idx)
        return bool(reply[1])

    def claim_status_indices(self, uri: str, indices: list[int]) -> list[bool]:
        """Claim many indices in one Lua script (one list: one slot); for each, True if
        this call claimed it. Raises :class:`NotFound` for an unknown list,
        :class:`StoreError` for an index outside it (nothing claimed)."""
        if not indices:
            self.count_claimed(uri)  # NotFound for an unknown list, as with indices
            return []
        meta, _bits, claims, claimed = self._list_keys(uri)
        with self._guard():
            reply = self._script("claim_many")(keys=[meta, claims, claimed], args=indices)
        code = int(reply[0])
        _check(code, uri, int(reply[1]) if code == _BAD_INDEX else 0)
        return [bool(int(flag)) for flag in reply[1:]]

    def count_claimed(self, uri: str) -> int:
        """How many indices of the list are claimed. Raises :class:`NotFound`."""
        meta, _bits, _claims, claimed = self._list_keys(uri)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.exists(meta)
            pipe.get(claimed)
            exists, count = pipe.execute()
        if not exists:
            raise NotFound(f"no status list {uri!r}")
        return 0 if count is None else decode_int(count, "claim count")

    def set_status(self, uri: str, idx: int, value: int) -> None:
        """Set the ``bits``-wide status at ``idx`` (Token Status List bit order).

        Raises :class:`NotFound` for an unknown list, :class:`StoreError` for an index
        or value out of range.
        """
        meta, bits, _claims, _claimed = self._list_keys(uri)
        with self._guard():
            reply = self._script("set_status")(keys=[meta, bits], args=[idx, value])
        _check(int(reply[0]), uri, idx, value)

    def get_status(self, uri: str, idx: int) -> int:
        """The status at ``idx``. Raises :class:`NotFound`, or :class:`StoreError` out of range."""
        meta, bits, _claims, _claimed = self._list_keys(uri)
        with self._guard():
            reply = self._script("get_status")(keys=[meta, bits], args=[idx])
        _check(int(reply[0]), uri, idx)
        return int(reply[1])

    def status_bytes(self, uri: str) -> bytes:
        """The whole packed array, least significant bit first. Raises :class:`NotFound`."""
        meta, bits, _claims, _claimed = self._list_keys(uri)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.get(meta)
            pipe.get(bits)
            blob, data = pipe.execute()
        if blob is None:
            raise NotFound(f"no status list {uri!r}")
        return _fit(data, STATUS_LIST.from_json(blob))

    def stamp_status_list(self, uri: str, now: int) -> tuple[int, bytes]:
        """See :meth:`store.interface.Store.stamp_status_list`.

        An optimistic transaction (``WATCH`` the list's bits and stamp, read, ``MULTI``
        write the stamp): a concurrent status change or stamp makes it start over.
        """
        meta, bits, _claims, _claimed = self._list_keys(uri)
        stamp_key = self._stamp_key(uri)
        with self._guard():
            for _ in range(_STAMP_TRIES):
                with self._r.pipeline(transaction=True) as pipe:
                    try:
                        pipe.watch(bits, stamp_key)
                        blob = pipe.get(meta)
                        if blob is None:
                            raise NotFound(f"no status list {uri!r}")
                        data = _fit(pipe.get(bits), STATUS_LIST.from_json(blob))
                        last = pipe.hmget(stamp_key, "iat", "digest")
                        digest = hashlib.sha256(data).hexdigest()
                        previous = None
                        if last[0] is not None:
                            if last[1] is None:
                                raise CorruptRecord("a stored status stamp has no digest")
                            previous = (decode_int(last[0], "status stamp"), text(last[1]))
                        iat = next_status_iat(previous, now, digest)
                        if iat is None and previous is not None:  # a burst: the last again
                            again, stamped = pipe.hmget(stamp_key, "iat", "bits")
                            pipe.unwatch()
                            if (
                                again is None
                                or decode_int(again, "status stamp") != previous[0]
                                or stamped is None
                            ):
                                continue  # stamped meanwhile: start over
                            return previous[0], bytes(stamped)
                        assert iat is not None
                        pipe.multi()
                        pipe.hset(stamp_key, mapping={"iat": iat, "digest": digest, "bits": data})
                        pipe.execute()
                    except rexc.WatchError:
                        continue
                return iat, data
        raise StoreUnavailable(
            f"the status list {uri!r} changed {_STAMP_TRIES} times while stamped"
        )

    def last_status_stamp(self, uri: str) -> int | None:
        """See :meth:`store.interface.Store.last_status_stamp`."""
        with self._guard():
            iat = self._r.hget(self._stamp_key(uri), "iat")
        return None if iat is None else decode_int(iat, "status stamp")
