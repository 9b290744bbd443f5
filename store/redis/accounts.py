"""Citizens, sessions and API keys on Redis.

``P:{sub:C}:citizen`` (record JSON without the password) and ``:password``;
``P:{citizens}:ids``; ``P:{sess:T}:rec`` (session JSON, ``EXPIREAT``); API keys share
the slot ``{apikeys}``: ``:rec`` (key id -> JSON without revoked_at), ``:hash``
(secret hash -> key id) and ``:revoked`` (key id -> revoked_at), so that a key id and
its hash are claimed together by one script.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from store.codec import Codec
from store.errors import Conflict, NotFound
from store.kinds.accounts import ApiKeyRecord, CitizenRecord, SessionRecord
from store.redis.base import RedisBase, decode_int, text
from store.validation import check_api_key_kind, check_time

__all__ = ["AccountsMixin"]

CITIZEN = Codec(CitizenRecord)
SESSION = Codec(SessionRecord)
API_KEY = Codec(ApiKeyRecord)


def _citizen(blob: bytes, password: bytes | None) -> CitizenRecord:
    return CITIZEN.from_json(blob, {"password_hash": None if password is None else text(password)})


def _api_key(blob: bytes, revoked: bytes | None) -> ApiKeyRecord:
    at = None if revoked is None else decode_int(revoked, "API key revocation")
    return API_KEY.from_json(blob, {"revoked_at": at})


class AccountsMixin(RedisBase):
    """:class:`store.kinds.accounts.AccountStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: citizen record, password. ARGV: password hash.
        "set_if_citizen": """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
return 1
""",
        # KEYS: api key records, hash index, revocations. ARGV: key id, key hash, JSON,
        # revoked_at. 1 written, 0 the key id exists, -1 the hash exists.
        "put_api_key": """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[4]) end
return 1
""",
        # Same KEYS; ARGV: key hash. The record JSON and revoked_at, or nil.
        "get_api_key": """
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
return {redis.call('HGET', KEYS[1], id), redis.call('HGET', KEYS[3], id)}
""",
        # KEYS: api key records, revocations. ARGV: key id, at. The first time stays.
        "revoke_api_key": """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return 1
""",
    }

    # -- citizens ----------------------------------------------------------------------

    def put_citizen(self, record: CitizenRecord) -> None:
        """Insert a citizen. Raises :class:`Conflict` if the citizen exists."""
        blob = CITIZEN.to_json(record, exclude=("password_hash",))
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.set(self._citizen_key(record.citizen_id, "citizen"), blob, nx=True)
            password = self._citizen_key(record.citizen_id, "password")
            pipe.set(password, record.password_hash, nx=True)
            created, _ = pipe.execute()
            if not created:
                raise Conflict(f"citizen {record.citizen_id!r} already exists")
            self._r.sadd(self._k("citizens", "ids"), record.citizen_id)

    def get_citizen(self, citizen_id: str) -> CitizenRecord | None:
        """The citizen, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.get(self._citizen_key(citizen_id, "citizen"))
            pipe.get(self._citizen_key(citizen_id, "password"))
            blob, password = pipe.execute()
        return None if blob is None else _citizen(blob, password)

    def set_citizen_password(self, citizen_id: str, password_hash: str) -> None:
        """Replace the password hash. Raises :class:`NotFound` for an unknown citizen."""
        keys = [self._citizen_key(citizen_id, "citizen"), self._citizen_key(citizen_id, "password")]
        with self._guard():
            done = self._script("set_if_citizen")(keys=keys, args=[password_hash])
        if not done:
            raise NotFound(f"no citizen {citizen_id!r}")

    def list_citizens(self) -> list[CitizenRecord]:
        """All citizens, sorted by id. Raises :class:`StoreUnavailable`."""
        with self._guard():
            ids = [text(i) for i in self._r.smembers(self._k("citizens", "ids"))]
            pipe = self._r.pipeline(transaction=False)
            for citizen_id in ids:
                pipe.get(self._citizen_key(citizen_id, "citizen"))
                pipe.get(self._citizen_key(citizen_id, "password"))
            replies = pipe.execute() if ids else []
        records = [
            _citizen(blob, password)
            for blob, password in zip(replies[0::2], replies[1::2], strict=True)
            if blob is not None
        ]
        records.sort(key=lambda r: r.citizen_id)
        return records

    # -- sessions ----------------------------------------------------------------------

    def _session_key(self, token_hash: str) -> str:
        return self._k(f"sess:{token_hash}", "rec")

    def put_session(self, record: SessionRecord) -> None:
        """Insert or replace the session; the server drops it at ``expires_at``."""
        key = self._session_key(record.token_hash)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.set(key, SESSION.to_json(record))
            pipe.expireat(key, max(1, record.expires_at))  # in the past: deleted at once
            pipe.execute()

    def get_session(self, token_hash: str, now: float) -> SessionRecord | None:
        """The session, or None if unknown or expired at ``now`` (``now >= expires_at``)."""
        check_time(now)
        with self._guard():
            blob = self._r.get(self._session_key(token_hash))
        if blob is None:
            return None
        record = SESSION.from_json(blob)
        return record if now < record.expires_at else None

    def delete_session(self, token_hash: str) -> None:
        """Forget the session (nothing happens for an unknown one)."""
        with self._guard():
            self._r.delete(self._session_key(token_hash))

    # -- API keys ----------------------------------------------------------------------

    def _api_keys(self) -> tuple[str, str, str]:
        return self._k("apikeys", "rec"), self._k("apikeys", "hash"), self._k("apikeys", "revoked")

    def put_api_key(self, record: ApiKeyRecord) -> None:
        """Insert a key. Raises :class:`Conflict` if the key id or hash exists,
        :class:`InvalidArgument` for an unknown kind."""
        check_api_key_kind(record.kind)
        blob = API_KEY.to_json(record, exclude=("revoked_at",))
        revoked = "" if record.revoked_at is None else str(record.revoked_at)
        with self._guard():
            done = self._script("put_api_key")(
                keys=list(self._api_keys()), args=[record.key_id, record.key_hash, blob, revoked]
            )
        if int(done) == 0:
            raise Conflict(f"API key {record.key_id!r} already exists")
        if int(done) < 0:
            raise Conflict(f"an API key with the hash of {record.key_id!r} already exists")

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this secret hash (revoked or not), or None."""
        with self._guard():
            reply = self._script("get_api_key")(keys=list(self._api_keys()), args=[key_hash])
        if not reply or reply[0] is None:
            return None
        return _api_key(reply[0], reply[1])

    def list_api_keys(self, principal: str | None = None) -> list[ApiKeyRecord]:
        """Keys of one principal (or all), oldest first, ties by key id."""
        rec, _hash, revoked = self._api_keys()
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hgetall(rec)
            pipe.hgetall(revoked)
            blobs, revocations = pipe.execute()
        records = [_api_key(blob, revocations.get(kid)) for kid, blob in blobs.items()]
        if principal is not None:
            records = [r for r in records if r.principal == principal]
        records.sort(key=lambda r: (r.created_at, r.key_id))
        return records

    def revoke_api_key(self, key_id: str, at: int) -> None:
        """Mark revoked at ``at``; a key already revoked keeps its first time.

        Raises :class:`NotFound` for an unknown key id.
        """
        rec, _hash, revoked = self._api_keys()
        with self._guard():
            done = self._script("revoke_api_key")(keys=[rec, revoked], args=[key_id, at])
        if not done:
            raise NotFound(f"no API key {key_id!r}")
