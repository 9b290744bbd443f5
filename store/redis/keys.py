"""Signing keys on Redis: ``P:{keys}:rec`` (kid -> record JSON without the state and the
rotation times), ``P:{keys}:state`` (kid -> state) and, for the keys that have them,
``P:{keys}:activate_at``, ``P:{keys}:retired_at`` and ``P:{keys}:verify_until`` (kid ->
decimal seconds; absent means 0), one slot: a transition is one script."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from store.codec import Codec
from store.errors import Conflict, NotFound
from store.kinds.keys import KEY_STATES, KeyRecord, KeyStateName
from store.redis.base import RedisBase, decode_int, text
from store.validation import check_key_times, check_state

__all__ = ["KeysMixin"]

KEY = Codec(KeyRecord)
#: The rotation times, each in a hash of its own beside the record (absent: 0).
TIMES = ("activate_at", "retired_at", "verify_until")
_BESIDE = ("state", *TIMES)


def _key(blob: bytes, state: bytes | None, times: tuple[bytes | None, ...]) -> KeyRecord:
    extra: dict[str, object] = {"state": None if state is None else text(state)}
    for name, value in zip(TIMES, times, strict=True):
        extra[name] = 0 if value is None else decode_int(value, f"key {name}")
    return KEY.from_json(blob, extra)


class KeysMixin(RedisBase):
    """:class:`store.kinds.keys.KeyStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        "set_key_state": """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
""",
        # KEYS: rec, state, activate_at, retired_at, verify_until;
        # ARGV: kid, expected state, new state, then each time ('' keeps it).
        "update_key": """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
for i = 1, 3 do
  if ARGV[3 + i] ~= '' then redis.call('HSET', KEYS[2 + i], ARGV[1], ARGV[3 + i]) end
end
return 1
""",
    }

    def _key_hashes(self) -> list[str]:
        return [self._k("keys", "rec"), self._k("keys", "state")] + [
            self._k("keys", name) for name in TIMES
        ]

    def put_key(self, record: KeyRecord) -> None:
        """Insert a key. Raises :class:`Conflict` if the kid exists."""
        check_state(record.state, KEY_STATES)
        check_key_times(record.activate_at, record.retired_at, record.verify_until)
        blob = KEY.to_json(record, exclude=_BESIDE)
        rec, state, *times = self._key_hashes()
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hsetnx(rec, record.kid, blob)
            pipe.hsetnx(state, record.kid, record.state)
            for name, key in zip(TIMES, times, strict=True):
                if getattr(record, name):  # 0 is not written (the layout of older keys)
                    pipe.hsetnx(key, record.kid, getattr(record, name))
            created, *_ = pipe.execute()
        if not created:
            raise Conflict(f"key {record.kid!r} already exists")

    def get_key(self, kid: str) -> KeyRecord | None:
        """The key with this kid, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            for key in self._key_hashes():
                pipe.hget(key, kid)
            blob, state, *times = pipe.execute()
        return None if blob is None else _key(blob, state, tuple(times))

    def list_keys(self, owner: str | None = None) -> list[KeyRecord]:
        """Keys of one owner (or all), oldest first, ties by kid.

        Raises :class:`StoreUnavailable`.
        """
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            for key in self._key_hashes():
                pipe.hgetall(key)
            blobs, states, *times = pipe.execute()
        records = [
            _key(blob, states.get(kid), tuple(t.get(kid) for t in times))
            for kid, blob in blobs.items()
        ]
        if owner is not None:
            records = [r for r in records if r.owner == owner]
        records.sort(key=lambda r: (r.created_at, r.kid))
        return records

    def set_key_state(self, kid: str, state: KeyStateName) -> None:
        """Change a key's state. Raises :class:`NotFound` for an unknown kid."""
        check_state(state, KEY_STATES)
        with self._guard():
            done = self._script("set_key_state")(
                keys=[self._k("keys", "rec"), self._k("keys", "state")], args=[kid, state]
            )
        if not done:
            raise NotFound(f"no key {kid!r}")

    def update_key(
        self,
        kid: str,
        *,
        expect: KeyStateName,
        state: KeyStateName,
        activate_at: int | None = None,
        retired_at: int | None = None,
        verify_until: int | None = None,
    ) -> bool:
        """See :meth:`store.kinds.keys.KeyStore.update_key`: one script on the keys' slot."""
        check_state(expect, KEY_STATES)
        check_state(state, KEY_STATES)
        times = (activate_at, retired_at, verify_until)
        check_key_times(*times)
        args = [kid, expect, state, *("" if t is None else str(t) for t in times)]
        with self._guard():
            done = self._script("update_key")(keys=self._key_hashes(), args=args)
        if done == -1:
            raise NotFound(f"no key {kid!r}")
        return bool(done)
