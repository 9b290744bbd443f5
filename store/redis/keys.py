"""Signing keys on Redis: ``P:{keys}:rec`` (kid -> record JSON without the state) and
``P:{keys}:state`` (kid -> state), one slot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from store.codec import Codec
from store.errors import Conflict, NotFound
from store.kinds.keys import KEY_STATES, KeyRecord, KeyStateName
from store.redis.base import RedisBase, text
from store.validation import check_state

__all__ = ["KeysMixin"]

KEY = Codec(KeyRecord)


def _key(blob: bytes, state: bytes | None) -> KeyRecord:
    return KEY.from_json(blob, {"state": None if state is None else text(state)})


class KeysMixin(RedisBase):
    """:class:`store.kinds.keys.KeyStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        "set_key_state": """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
""",
    }

    def put_key(self, record: KeyRecord) -> None:
        """Insert a key. Raises :class:`Conflict` if the kid exists."""
        check_state(record.state, KEY_STATES)
        blob = KEY.to_json(record, exclude=("state",))
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hsetnx(self._k("keys", "rec"), record.kid, blob)
            pipe.hsetnx(self._k("keys", "state"), record.kid, record.state)
            created, _ = pipe.execute()
        if not created:
            raise Conflict(f"key {record.kid!r} already exists")

    def get_key(self, kid: str) -> KeyRecord | None:
        """The key with this kid, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hget(self._k("keys", "rec"), kid)
            pipe.hget(self._k("keys", "state"), kid)
            blob, state = pipe.execute()
        return None if blob is None else _key(blob, state)

    def list_keys(self, owner: str | None = None) -> list[KeyRecord]:
        """Keys of one owner (or all), oldest first, ties by kid.

        Raises :class:`StoreUnavailable`.
        """
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hgetall(self._k("keys", "rec"))
            pipe.hgetall(self._k("keys", "state"))
            blobs, states = pipe.execute()
        records = [_key(blob, states.get(kid)) for kid, blob in blobs.items()]
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
