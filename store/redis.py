"""Redis backend of :class:`store.interface.Store` (the production backend).

Key layout (``P`` is the prefix, ``ecert`` by default). Every key carries a hash tag
(the part in braces) so that the keys one operation touches together share a Redis
Cluster slot; multi-key scripts and ``MULTI`` blocks only ever touch one tag.

==================================  ===========  =========================================
key                                 type         holds
==================================  ===========  =========================================
``P:{cfg}:values``                  hash         config name -> value bytes
``P:{keys}:rec``                    hash         kid -> key record JSON (without state)
``P:{keys}:state``                  hash         kid -> key state
``P:{issuers}:rec``                 hash         iss -> issuer record JSON
``P:{sl:H}:meta``                   string       status list record JSON (authoritative)
``P:{sl:H}:bits``                   string       packed statuses (Token Status List order)
``P:{sl:H}:claims``                 string       claims bitmap, bit ``idx`` set = claimed
``P:{sl:H}:claimed``                string       counter of claimed indices
``P:{sl:H}:stamp``                  hash         ``iat``, ``digest``, ``bits`` last published
``P:{sls}:rec``                     hash         uri -> status list record JSON (index)
``P:{cred:ID}:rec``                 string       credential record JSON (without state)
``P:{cred:ID}:state``               string       credential state
``P:{sub:SUBJECT}:creds``           sorted set   ids of one citizen's credentials, by issued_at
``P:{iss:I}:creds``                 sorted set   ids of one issuer's credentials, by issued_at
``P:{creds}:issuers``               set          issuers that have credentials
``P:{sl:H}:creds``                  hash         status index -> id of the credential there
``P:{sub:C}:citizen``               string       citizen record JSON (without password)
``P:{sub:C}:password``              string       the citizen's password hash
``P:{sub:C}:wallet``                string       wallet record JSON (``SET NX``: first wins)
``P:{sub:C}:items``                 hash         credential id -> wallet item JSON
``P:{sub:C}:activity``              sorted set   event ids by ``at`` (newest 1000 kept)
``P:{sub:C}:events``                hash         event id -> activity record JSON
``P:{citizens}:ids``                set          ids of all citizens
``P:{sess:T}:rec``                  string       session record JSON, ``EXPIREAT`` expiry
``P:{apikeys}:rec``                 hash         key id -> API key JSON (without revoked_at)
``P:{apikeys}:hash``                hash         SHA-256 of the secret -> key id
``P:{apikeys}:revoked``             hash         key id -> revoked_at
``P:{venues}:rec``                  hash         venue id -> venue record JSON
``P:{hit:N}:W:S:COUNTER``           string       hits of ``COUNTER`` in window ``[S, S+W)``
``P:{nonce:N}:NONCE``               string       the nonce's ``expires_at``, ``PXAT`` expiry
``P:{once:N}:KEY``                  hash         ``v`` value, ``x`` expires_at; ``PXAT``
``P:{win:N}:COUNTER``               sorted set   sliding-window log: entry -> time
==================================  ===========  =========================================

``H`` is the first 16 hex digits of SHA-256 of the list's URI and ``I`` the same for an
issuer URL (URLs can be long and hold braces); ``ID`` and ``SUBJECT`` are used as they
are. Keys, issuers and the status-list index are small and live in one slot each.

Everything of one citizen (``C``, the citizen id, the same as a credential's
``SUBJECT``) shares the slot of ``{sub:C}``: the account, the wallet, its items, the
activity log and the citizen's credential index, so one citizen's operations never
cross slots. Sessions live in the slot of their token hash ``T``. API keys (records,
the hash index and revocations) share the one slot ``{apikeys}`` so that a key id and
its hash are claimed together by one script; venues share ``{venues}``. The
short-lived entries spread over slots by ``N``, the first 16 hex digits of SHA-256 of
the counter name, nonce or key, which is then repeated in clear after the tag so that
two names never share a key.

Expiry: sessions, nonces, once-values and counters carry a Redis expiry (the session's
``expires_at``; a nonce's or once-value's ``expires_at`` rounded up to the
millisecond; a counter's window end), so the server drops them by its own clock.
Reads and the replay checks also compare the stored ``expires_at`` with the caller's
``now``, so an entry expired at ``now`` is never returned even before the server has
dropped it. Nonces and once-values are written by scripts that check and write in one
step; ``hit`` is ``INCR`` and ``EXPIREAT`` in one ``MULTI``. A sliding-window log
(``window_add``) is one script: drop the entries older than the longest window, count
each window (``ZCOUNT``), add the entry if it fits, keep the newest ``max(count)`` and
expire the key the longest window after the newest entry (``PEXPIREAT``).

The activity log keeps the newest :data:`ACTIVITY_CAP` (1000) events of a citizen: the
script that adds an event trims the oldest (by ``at``, then event id) in the same step.
``P:{sl:H}:creds`` is written with ``HSETNX`` just after the credential record, like the
other cross-slot indexes: the first credential put at an index is the one found.

Status bits use ``BITFIELD`` on ``P:{sl:H}:bits``. The Token Status List puts entry
``i`` of width ``b`` at bit ``p = (i*b) % 8`` counted from the *least* significant bit
of byte ``(i*b) // 8``; Redis counts bit offsets from the *most* significant bit, so
the ``BITFIELD`` offset is ``byte*8 + (8 - p - b)``. ``b`` divides 8, so an entry never
straddles two bytes and the string's bytes are exactly the Token Status List bytes. A
missing or short string means "zeros"; :meth:`RedisStore.status_bytes` pads it.

Atomicity: status updates and claims are Lua scripts over one list's keys (claims:
``SETBIT`` returns the old bit and ``INCR`` runs only when it was 0, so the count is
exact). Records are created with ``SET NX``/``HSETNX``; the cross-slot indexes
(``{sls}``, ``{sub:…}``, ``{iss:…}``) are written just after the record, so a crash in
between can leave a record that a list does not show, never a listed record that is
missing. Records are JSON (``bytes`` fields base64); mutable states are kept beside the
immutable JSON so that a state change is one command.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, get_args

import redis
from redis import exceptions as rexc
from redis.cluster import RedisCluster

from store.errors import OutOfRange
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
)

__all__ = ["ACTIVITY_CAP", "RedisStore"]

# Events kept per citizen (the oldest beyond this are dropped), as in the SQLite backend.
ACTIVITY_CAP = 1000
_API_KEY_KINDS: tuple[str, ...] = get_args(ApiKeyKind)


# Errors after which "try again later" is the right answer.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    rexc.ConnectionError,
    rexc.TimeoutError,
    rexc.ClusterDownError,
    rexc.TryAgainError,
    rexc.ReadOnlyError,
    rexc.OutOfMemoryError,
    rexc.SlotNotCoveredError,
)
# Connection errors that are a configuration mistake, not an outage.
_MISCONFIGURED: tuple[type[BaseException], ...] = (
    rexc.AuthenticationError,
    rexc.AuthorizationError,
)

# Return codes of the scripts below.
_OK, _NO_LIST, _BAD_INDEX, _BAD_VALUE = 0, -1, -2, -3

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

_SET_KEY_STATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
"""

# KEYS: api key records, hash index, revocations. ARGV: key id, key hash, JSON, revoked_at.
# 1 written, 0 the key id exists, -1 the hash exists.
_PUT_API_KEY = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[4]) end
return 1
"""

# Same KEYS; ARGV: key hash. The record JSON and revoked_at, or nil.
_GET_API_KEY = """
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
return {redis.call('HGET', KEYS[1], id), redis.call('HGET', KEYS[3], id)}
"""

# KEYS: api key records, revocations. ARGV: key id, at. The first revocation time stays.
_REVOKE_API_KEY = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return 1
"""

# KEYS: citizen record, password. ARGV: password hash.
_SET_IF_CITIZEN = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
return 1
"""

# KEYS: activity sorted set, events hash. ARGV: event id, at, JSON, cap.
_ADD_ACTIVITY = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[1], 0, extra - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1)
  redis.call('HDEL', KEYS[2], unpack(old))
end
return 1
"""

# Same KEYS; ARGV: limit (>= 1). The newest events' JSON, newest first.
_LIST_ACTIVITY = """
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
"""

# KEYS: nonce key. ARGV: expires_at, now, expiry in ms. 1 recorded, 0 replay.
# Times are Python float reprs: Lua's tonumber reads them back to the same doubles.
_REMEMBER_NONCE = """
local x = redis.call('GET', KEYS[1])
if x and tonumber(x) > tonumber(ARGV[2]) then return 0 end
if tonumber(ARGV[1]) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3])
return 1
"""

# KEYS: once key. ARGV: value, expires_at, now, expiry in ms, replace (1/0). 1 written.
_PUT_ONCE = """
local x = redis.call('HGET', KEYS[1], 'x')
if ARGV[5] ~= '1' and x and tonumber(x) > tonumber(ARGV[3]) then return 0 end
redis.call('DEL', KEYS[1])
if tonumber(ARGV[2]) <= tonumber(ARGV[3]) then return 1 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'x', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
"""


#: Optimistic attempts of :meth:`RedisStore.stamp_status_list` before giving up.
_STAMP_TRIES = 32


# KEYS: the log (sorted set entry -> time). ARGV: mode ('add', 'force' or 'wait'), now,
# entry, longest window, drop bound (now - longest window), keep, then per limit: count,
# window start (now - window), window. Times are Python float reprs (exact doubles).
# Returns the wait (store.interface.window_wait) as a string, so that Redis keeps the
# fraction (it truncates Lua numbers to integers).
_WINDOW = """
local mode = ARGV[1]
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[5])
local wait = 0
for i = 7, #ARGV, 3 do
  local count = tonumber(ARGV[i])
  local n = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[i + 1], '+inf')
  if n >= count then
    local edge = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[i + 1], '+inf',
                            'WITHSCORES', 'LIMIT', n - count, 1)
    local w = tonumber(edge[2]) + tonumber(ARGV[i + 2]) - now
    if w > wait then wait = w end
  end
end
if mode == 'force' or (mode == 'add' and wait <= 0) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[6]) + 1))
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  local expiry = math.ceil((tonumber(newest[2]) + tonumber(ARGV[4])) * 1000)
  redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', math.max(1, expiry)))
end
return string.format('%.17g', wait)
"""


def _cluster_unreachable(err: rexc.RedisClusterException) -> bool:
    """Whether redis-py's cluster client gave up because no node answered or slots are
    uncovered (an outage), rather than for a command it cannot route (a bug)."""
    text = str(err)
    if "Cluster mode is not enabled" in text:  # a plain server: a configuration mistake
        return False
    return text.startswith(("Redis Cluster cannot be connected", "All slots are not covered"))


def _tag_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStore:
    """The storage contract on a Redis server (keys laid out for Redis Cluster).

    The store owns ``client``: :meth:`close` closes it. Every method raises
    :class:`StoreUnavailable` (chained to the driver's error) when the server cannot
    be reached or times out, and :class:`StoreError` for other server errors.
    """

    def __init__(self, client: redis.Redis | RedisCluster, prefix: str = "ecert") -> None:
        """Wrap a client that returns bytes (``decode_responses=False``).

        Raises :class:`StoreError` for a prefix holding braces or a decoding client.
        """
        if not prefix or "{" in prefix or "}" in prefix:
            raise InvalidArgument(f"invalid key prefix {prefix!r}")
        kwargs_of = getattr(client, "get_connection_kwargs", None)
        if callable(kwargs_of) and kwargs_of().get("decode_responses"):
            raise InvalidArgument(
                "the Redis client must return bytes (decode_responses=False)",
            )
        self.client = client
        self.prefix = prefix
        self._r: Any = client  # redis-py's return types are unions with Awaitable
        self._set_status = self._r.register_script(_SET_STATUS)
        self._get_status = self._r.register_script(_GET_STATUS)
        self._claim = self._r.register_script(_CLAIM)
        self._set_key_state = self._r.register_script(_SET_KEY_STATE)
        self._put_api_key = self._r.register_script(_PUT_API_KEY)
        self._get_api_key = self._r.register_script(_GET_API_KEY)
        self._revoke_api_key = self._r.register_script(_REVOKE_API_KEY)
        self._set_if_citizen = self._r.register_script(_SET_IF_CITIZEN)
        self._add_activity = self._r.register_script(_ADD_ACTIVITY)
        self._list_activity = self._r.register_script(_LIST_ACTIVITY)
        self._remember_nonce = self._r.register_script(_REMEMBER_NONCE)
        self._put_once = self._r.register_script(_PUT_ONCE)
        self._window = self._r.register_script(_WINDOW)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "ecert", cluster: bool = False, **kwargs: Any
    ) -> RedisStore:
        """Connect to ``redis://``, ``rediss://`` or ``unix://`` ``url``.

        ``kwargs`` go to :meth:`redis.Redis.from_url` (timeouts, retry policy…). No
        command is sent yet, so an unreachable server shows on first use as
        :class:`StoreUnavailable`. Raises :class:`StoreError` for a malformed URL.

        With ``cluster``, ``url`` (``redis://`` or ``rediss://``, database 0) names any
        node of a Redis Cluster and the client is :class:`redis.cluster.RedisCluster`
        (``kwargs`` go to its ``from_url``). It asks that node for the slot map at once,
        so an unreachable cluster raises :class:`StoreUnavailable` here.
        """
        client: redis.Redis | RedisCluster
        try:
            if cluster:
                if not url.startswith(("redis://", "rediss://")):
                    raise ValueError("a Redis Cluster URL is redis:// or rediss://")
                client = RedisCluster.from_url(url, **kwargs)
            else:
                client = redis.Redis.from_url(url, **kwargs)
        except ValueError as err:
            raise InvalidArgument(f"invalid Redis URL: {err}") from err
        except _MISCONFIGURED as err:
            raise StoreError(f"Redis refused the credentials: {err}") from err
        except _UNAVAILABLE as err:
            raise StoreUnavailable(f"Redis cluster unavailable: {err}") from err
        except rexc.RedisClusterException as err:  # no node answered, or slots uncovered
            if _cluster_unreachable(err):
                raise StoreUnavailable(f"Redis cluster unavailable: {err}") from err
            raise StoreError(f"Redis cluster error: {err}") from err
        try:
            return cls(client, prefix=prefix)
        except BaseException:
            client.close()
            raise

    def close(self) -> None:
        """Close the client and its connection pool. Idempotent."""
        self._r.close()

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Translate driver errors into the store's errors."""
        try:
            yield
        except _MISCONFIGURED as err:
            raise StoreError(f"Redis refused the credentials: {err}") from err
        except _UNAVAILABLE as err:
            raise StoreUnavailable(f"Redis store unavailable: {err}") from err
        except rexc.RedisError as err:
            raise StoreError(f"Redis error: {err}") from err
        except rexc.RedisClusterException as err:  # not a RedisError
            if _cluster_unreachable(err):
                raise StoreUnavailable(f"Redis cluster unavailable: {err}") from err
            raise StoreError(f"Redis cluster error: {err}") from err

    def _k(self, tag: str, name: str) -> str:
        return f"{self.prefix}:{{{tag}}}:{name}"

    def _list_keys(self, uri: str) -> tuple[str, str, str, str]:
        tag = f"sl:{_tag_hash(uri)}"
        return (
            self._k(tag, "meta"),
            self._k(tag, "bits"),
            self._k(tag, "claims"),
            self._k(tag, "claimed"),
        )

    def _cred_keys(self, credential_id: str) -> tuple[str, str]:
        tag = f"cred:{credential_id}"
        return self._k(tag, "rec"), self._k(tag, "state")

    def _subject_index(self, subject: str) -> str:
        return self._k(f"sub:{subject}", "creds")

    def _issuer_index(self, issuer: str) -> str:
        return self._k(f"iss:{_tag_hash(issuer)}", "creds")

    def _position_index(self, uri: str) -> str:
        return self._k(f"sl:{_tag_hash(uri)}", "creds")

    def _citizen_key(self, citizen_id: str, name: str) -> str:
        return self._k(f"sub:{citizen_id}", name)

    def _api_keys(self) -> tuple[str, str, str]:
        return self._k("apikeys", "rec"), self._k("apikeys", "hash"), self._k("apikeys", "revoked")

    def _short_lived(self, kind: str, name: str) -> str:
        return self._k(f"{kind}:{_tag_hash(name)}", name)

    @staticmethod
    def _check(code: int, uri: str, idx: int, value: int | None = None) -> None:
        if code == _NO_LIST:
            raise NotFound(f"no status list {uri!r}")
        if code == _BAD_INDEX:
            raise OutOfRange(f"index {idx} outside the list {uri!r}")
        if code == _BAD_VALUE:
            raise OutOfRange(f"status {value} does not fit the list {uri!r}")

    # -- configuration -----------------------------------------------------------------

    def get_config(self, name: str) -> bytes | None:
        """The value stored under ``name``, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            value = self._r.hget(self._k("cfg", "values"), name)
        return None if value is None else bytes(value)

    def put_config(self, name: str, value: bytes) -> None:
        """Insert or replace the value under ``name``. Raises :class:`StoreUnavailable`."""
        with self._guard():
            self._r.hset(self._k("cfg", "values"), name, bytes(value))

    # -- keys --------------------------------------------------------------------------

    def put_key(self, record: KeyRecord) -> None:
        """Insert a key. Raises :class:`Conflict` if the kid exists."""
        check_state(record.state, KEY_STATES)
        blob = json.dumps(
            {
                "kid": record.kid,
                "owner": record.owner,
                "alg": record.alg,
                "public_jwk": record.public_jwk,
                "private_blob": base64.b64encode(record.private_blob).decode("ascii"),
                "created_at": record.created_at,
            }
        )
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hsetnx(self._k("keys", "rec"), record.kid, blob)
            pipe.hsetnx(self._k("keys", "state"), record.kid, record.state)
            created, _ = pipe.execute()
        if not created:
            raise Conflict(f"key {record.kid!r} already exists")

    @staticmethod
    def _key(blob: bytes, state: bytes | None) -> KeyRecord:
        d = json.loads(blob)
        return KeyRecord(
            kid=d["kid"],
            owner=d["owner"],
            alg=d["alg"],
            state=_text(state) if state is not None else "pending",  # type: ignore[arg-type]
            public_jwk=d["public_jwk"],
            private_blob=base64.b64decode(d["private_blob"]),
            created_at=int(d["created_at"]),
        )

    def get_key(self, kid: str) -> KeyRecord | None:
        """The key with this kid, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hget(self._k("keys", "rec"), kid)
            pipe.hget(self._k("keys", "state"), kid)
            blob, state = pipe.execute()
        return None if blob is None else self._key(blob, state)

    def list_keys(self, owner: str | None = None) -> list[KeyRecord]:
        """Keys of one owner (or all), oldest first, ties by kid.

        Raises :class:`StoreUnavailable`.
        """
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hgetall(self._k("keys", "rec"))
            pipe.hgetall(self._k("keys", "state"))
            blobs, states = pipe.execute()
        records = [self._key(blob, states.get(kid)) for kid, blob in blobs.items()]
        if owner is not None:
            records = [r for r in records if r.owner == owner]
        records.sort(key=lambda r: (r.created_at, r.kid))
        return records

    def set_key_state(self, kid: str, state: KeyStateName) -> None:
        """Change a key's state. Raises :class:`NotFound` for an unknown kid."""
        check_state(state, KEY_STATES)
        with self._guard():
            done = self._set_key_state(
                keys=[self._k("keys", "rec"), self._k("keys", "state")], args=[kid, state]
            )
        if not done:
            raise NotFound(f"no key {kid!r}")

    # -- issuers -----------------------------------------------------------------------

    def put_issuer(self, record: IssuerRecord) -> None:
        """Insert or replace the issuer with this ``iss``. Raises :class:`StoreUnavailable`."""
        blob = json.dumps(
            {
                "iss": record.iss,
                "slug": record.slug,
                "name_zh": record.name_zh,
                "name_en": record.name_en,
                "vcts": list(record.vcts),
            },
            ensure_ascii=False,
        )
        with self._guard():
            self._r.hset(self._k("issuers", "rec"), record.iss, blob.encode())

    @staticmethod
    def _issuer(blob: bytes) -> IssuerRecord:
        d = json.loads(blob)
        return IssuerRecord(
            iss=d["iss"],
            slug=d["slug"],
            name_zh=d["name_zh"],
            name_en=d["name_en"],
            vcts=tuple(d["vcts"]),
        )

    def get_issuer(self, iss: str) -> IssuerRecord | None:
        """The issuer with this ``iss``, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blob = self._r.hget(self._k("issuers", "rec"), iss)
        return None if blob is None else self._issuer(blob)

    def list_issuers(self) -> list[IssuerRecord]:
        """All issuers, sorted by ``iss``. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blobs = self._r.hgetall(self._k("issuers", "rec"))
        return sorted((self._issuer(b) for b in blobs.values()), key=lambda r: r.iss)

    # -- status lists ------------------------------------------------------------------

    @staticmethod
    def _status_list(blob: bytes) -> StatusListRecord:
        d = json.loads(blob)
        return StatusListRecord(
            uri=d["uri"],
            issuer=d["issuer"],
            bits=int(d["bits"]),
            size=int(d["size"]),
            created_at=int(d["created_at"]),
        )

    def create_status_list(self, record: StatusListRecord) -> None:
        """Create a list with every entry 0.

        Raises :class:`Conflict` if the uri exists, :class:`StoreError` for bits not in
        1, 2, 4, 8 or a size below 1.
        """
        check_list_shape(record)
        blob = json.dumps(
            {
                "uri": record.uri,
                "issuer": record.issuer,
                "bits": record.bits,
                "size": record.size,
                "created_at": record.created_at,
            }
        )
        meta = self._list_keys(record.uri)[0]
        with self._guard():
            if not self._r.set(meta, blob, nx=True):
                raise Conflict(f"status list {record.uri!r} already exists")
            self._r.hset(self._k("sls", "rec"), record.uri, blob)

    def get_status_list(self, uri: str) -> StatusListRecord | None:
        """The list's metadata, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blob = self._r.get(self._list_keys(uri)[0])
        return None if blob is None else self._status_list(blob)

    def list_status_lists(self, issuer: str | None = None) -> list[StatusListRecord]:
        """Lists of one issuer (or all), oldest first, ties by uri.

        Raises :class:`StoreUnavailable`.
        """
        with self._guard():
            blobs = self._r.hgetall(self._k("sls", "rec"))
        records = [self._status_list(b) for b in blobs.values()]
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
            reply = self._claim(keys=[meta, claims, claimed], args=[idx])
        self._check(int(reply[0]), uri, idx)
        return bool(reply[1])

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
        return int(count or 0)

    def set_status(self, uri: str, idx: int, value: int) -> None:
        """Set the ``bits``-wide status at ``idx`` (Token Status List bit order).

        Raises :class:`NotFound` for an unknown list, :class:`StoreError` for an index
        or value out of range.
        """
        meta, bits, _claims, _claimed = self._list_keys(uri)
        with self._guard():
            reply = self._set_status(keys=[meta, bits], args=[idx, value])
        self._check(int(reply[0]), uri, idx, value)

    def get_status(self, uri: str, idx: int) -> int:
        """The status at ``idx``. Raises :class:`NotFound`, or :class:`StoreError` out of range."""
        meta, bits, _claims, _claimed = self._list_keys(uri)
        with self._guard():
            reply = self._get_status(keys=[meta, bits], args=[idx])
        self._check(int(reply[0]), uri, idx)
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
        record = self._status_list(blob)
        length = (record.size * record.bits + 7) // 8
        data = bytes(data or b"")
        if len(data) < length:
            return data + bytes(length - len(data))
        return data[:length]

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
                        record = self._status_list(blob)
                        length = (record.size * record.bits + 7) // 8
                        data = bytes(pipe.get(bits) or b"")[:length]
                        data += bytes(length - len(data))
                        last = pipe.hmget(stamp_key, "iat", "digest")
                        digest = hashlib.sha256(data).hexdigest()
                        previous = None if last[0] is None else (int(last[0]), _text(last[1]))
                        iat = next_status_iat(previous, now, digest)
                        if iat is None and previous is not None:  # a burst: the last again
                            again, stamped = pipe.hmget(stamp_key, "iat", "bits")
                            pipe.unwatch()
                            if again is None or int(again) != previous[0] or stamped is None:
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
        return None if iat is None else int(iat)

    def _stamp_key(self, uri: str) -> str:
        return self._k(f"sl:{_tag_hash(uri)}", "stamp")

    # -- credential registry -----------------------------------------------------------

    def put_credential(self, record: CredentialRecord) -> None:
        """Insert a credential. Raises :class:`Conflict` if the id exists."""
        check_state(record.state, CREDENTIAL_STATES)
        blob = json.dumps(
            {
                "id": record.id,
                "vct": record.vct,
                "issuer": record.issuer,
                "subject": record.subject,
                "kid": record.kid,
                "status_uri": record.status_uri,
                "status_idx": record.status_idx,
                "issued_at": record.issued_at,
                "expires_at": record.expires_at,
            }
        )
        rec, state = self._cred_keys(record.id)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.set(rec, blob, nx=True)
            pipe.set(state, record.state, nx=True)
            created, _ = pipe.execute()
            if not created:
                raise Conflict(f"credential {record.id!r} already exists")
            # Cross-slot indexes: one pipeline, not one transaction (see module docstring).
            pipe = self._r.pipeline(transaction=False)
            pipe.zadd(self._subject_index(record.subject), {record.id: record.issued_at})
            pipe.zadd(self._issuer_index(record.issuer), {record.id: record.issued_at})
            pipe.sadd(self._k("creds", "issuers"), record.issuer)
            pipe.hsetnx(self._position_index(record.status_uri), record.status_idx, record.id)
            pipe.execute()

    @staticmethod
    def _credential(blob: bytes, state: bytes | None) -> CredentialRecord:
        d = json.loads(blob)
        return CredentialRecord(
            id=d["id"],
            vct=d["vct"],
            issuer=d["issuer"],
            subject=d["subject"],
            kid=d["kid"],
            status_uri=d["status_uri"],
            status_idx=int(d["status_idx"]),
            issued_at=int(d["issued_at"]),
            expires_at=int(d["expires_at"]),
            state=_text(state) if state is not None else "valid",  # type: ignore[arg-type]
        )

    def get_credential(self, credential_id: str) -> CredentialRecord | None:
        """The credential with this id, or None. Raises :class:`StoreUnavailable`."""
        rec, state = self._cred_keys(credential_id)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.get(rec)
            pipe.get(state)
            blob, value = pipe.execute()
        return None if blob is None else self._credential(blob, value)

    def list_credentials(
        self, *, subject: str | None = None, issuer: str | None = None
    ) -> list[CredentialRecord]:
        """Filter by subject and/or issuer, ordered by ``issued_at`` then ``id``.

        Raises :class:`StoreUnavailable`.
        """
        with self._guard():
            if subject is not None:
                ids = self._r.zrange(self._subject_index(subject), 0, -1)
            elif issuer is not None:
                ids = self._r.zrange(self._issuer_index(issuer), 0, -1)
            else:
                issuers = self._r.smembers(self._k("creds", "issuers"))
                pipe = self._r.pipeline(transaction=False)
                for name in issuers:
                    pipe.zrange(self._issuer_index(_text(name)), 0, -1)
                ids = [i for chunk in pipe.execute() for i in chunk]
            pipe = self._r.pipeline(transaction=False)
            for credential_id in ids:
                rec, state = self._cred_keys(_text(credential_id))
                pipe.get(rec)
                pipe.get(state)
            replies = pipe.execute() if ids else []
        records = [
            self._credential(blob, state)
            for blob, state in zip(replies[0::2], replies[1::2], strict=True)
            if blob is not None
        ]
        records = [
            r
            for r in records
            if (subject is None or r.subject == subject) and (issuer is None or r.issuer == issuer)
        ]
        records.sort(key=lambda r: (r.issued_at, r.id))
        return records

    def set_credential_state(self, credential_id: str, state: CredentialState) -> None:
        """Change a credential's state. Raises :class:`NotFound` for an unknown id."""
        check_state(state, CREDENTIAL_STATES)
        _rec, key = self._cred_keys(credential_id)
        with self._guard():
            done = self._r.set(key, state, xx=True)
        if not done:
            raise NotFound(f"no credential {credential_id!r}")

    def find_credential(self, status_uri: str, status_idx: int) -> CredentialRecord | None:
        """The credential holding entry ``status_idx`` of the list at ``status_uri``.

        Should two credentials name the same entry, the first one put is returned.
        Raises :class:`StoreUnavailable`.
        """
        with self._guard():
            found = self._r.hget(self._position_index(status_uri), status_idx)
        if found is None:
            return None
        record = self.get_credential(_text(found))
        if record is None or (record.status_uri, record.status_idx) != (status_uri, status_idx):
            return None
        return record

    # -- citizens ----------------------------------------------------------------------

    def put_citizen(self, record: CitizenRecord) -> None:
        """Insert a citizen. Raises :class:`Conflict` if the citizen exists."""
        blob = json.dumps({"citizen_id": record.citizen_id, "created_at": record.created_at})
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.set(self._citizen_key(record.citizen_id, "citizen"), blob, nx=True)
            password = self._citizen_key(record.citizen_id, "password")
            pipe.set(password, record.password_hash, nx=True)
            created, _ = pipe.execute()
            if not created:
                raise Conflict(f"citizen {record.citizen_id!r} already exists")
            self._r.sadd(self._k("citizens", "ids"), record.citizen_id)

    @staticmethod
    def _citizen(blob: bytes, password: bytes | None) -> CitizenRecord:
        d = json.loads(blob)
        return CitizenRecord(
            citizen_id=d["citizen_id"],
            password_hash=_text(password) if password is not None else "",
            created_at=int(d["created_at"]),
        )

    def get_citizen(self, citizen_id: str) -> CitizenRecord | None:
        """The citizen, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.get(self._citizen_key(citizen_id, "citizen"))
            pipe.get(self._citizen_key(citizen_id, "password"))
            blob, password = pipe.execute()
        return None if blob is None else self._citizen(blob, password)

    def set_citizen_password(self, citizen_id: str, password_hash: str) -> None:
        """Replace the password hash. Raises :class:`NotFound` for an unknown citizen."""
        keys = [self._citizen_key(citizen_id, "citizen"), self._citizen_key(citizen_id, "password")]
        with self._guard():
            done = self._set_if_citizen(keys=keys, args=[password_hash])
        if not done:
            raise NotFound(f"no citizen {citizen_id!r}")

    def list_citizens(self) -> list[CitizenRecord]:
        """All citizens, sorted by id. Raises :class:`StoreUnavailable`."""
        with self._guard():
            ids = [_text(i) for i in self._r.smembers(self._k("citizens", "ids"))]
            pipe = self._r.pipeline(transaction=False)
            for citizen_id in ids:
                pipe.get(self._citizen_key(citizen_id, "citizen"))
                pipe.get(self._citizen_key(citizen_id, "password"))
            replies = pipe.execute() if ids else []
        records = [
            self._citizen(blob, password)
            for blob, password in zip(replies[0::2], replies[1::2], strict=True)
            if blob is not None
        ]
        records.sort(key=lambda r: r.citizen_id)
        return records

    # -- wallets -----------------------------------------------------------------------

    def create_wallet(self, record: WalletRecord) -> bool:
        """Create the citizen's wallet; False (and nothing written) if one exists."""
        blob = json.dumps(
            {
                "citizen_id": record.citizen_id,
                "holder_kid": record.holder_kid,
                "holder_blob": _b64(record.holder_blob),
                "key_blob": _b64(record.key_blob),
                "created_at": record.created_at,
            }
        )
        with self._guard():
            created = self._r.set(self._citizen_key(record.citizen_id, "wallet"), blob, nx=True)
        return bool(created)

    def get_wallet(self, citizen_id: str) -> WalletRecord | None:
        """The citizen's wallet, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blob = self._r.get(self._citizen_key(citizen_id, "wallet"))
        if blob is None:
            return None
        d = json.loads(blob)
        return WalletRecord(
            citizen_id=d["citizen_id"],
            holder_kid=d["holder_kid"],
            holder_blob=base64.b64decode(d["holder_blob"]),
            key_blob=base64.b64decode(d["key_blob"]),
            created_at=int(d["created_at"]),
        )

    def put_wallet_item(self, item: WalletItem) -> None:
        """Insert or replace the item with this citizen and credential id."""
        blob = json.dumps(
            {
                "citizen_id": item.citizen_id,
                "credential_id": item.credential_id,
                "vct": item.vct,
                "issuer": item.issuer,
                "expires_at": item.expires_at,
                "added_at": item.added_at,
                "blob": _b64(item.blob),
            }
        )
        with self._guard():
            self._r.hset(self._citizen_key(item.citizen_id, "items"), item.credential_id, blob)

    @staticmethod
    def _wallet_item(blob: bytes) -> WalletItem:
        d = json.loads(blob)
        return WalletItem(
            citizen_id=d["citizen_id"],
            credential_id=d["credential_id"],
            vct=d["vct"],
            issuer=d["issuer"],
            expires_at=int(d["expires_at"]),
            added_at=int(d["added_at"]),
            blob=base64.b64decode(d["blob"]),
        )

    def get_wallet_item(self, citizen_id: str, credential_id: str) -> WalletItem | None:
        """One item, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blob = self._r.hget(self._citizen_key(citizen_id, "items"), credential_id)
        return None if blob is None else self._wallet_item(blob)

    def list_wallet_items(self, citizen_id: str) -> list[WalletItem]:
        """The citizen's items, ordered by ``added_at`` then ``credential_id``."""
        with self._guard():
            blobs = self._r.hgetall(self._citizen_key(citizen_id, "items"))
        items = [self._wallet_item(blob) for blob in blobs.values()]
        items.sort(key=lambda i: (i.added_at, i.credential_id))
        return items

    def delete_wallet_item(self, citizen_id: str, credential_id: str) -> bool:
        """Remove one item; False if it was not there."""
        with self._guard():
            removed = self._r.hdel(self._citizen_key(citizen_id, "items"), credential_id)
        return bool(removed)

    # -- sessions ----------------------------------------------------------------------

    def _session_key(self, token_hash: str) -> str:
        return self._k(f"sess:{token_hash}", "rec")

    def put_session(self, record: SessionRecord) -> None:
        """Insert or replace the session; the server drops it at ``expires_at``."""
        blob = json.dumps(
            {
                "token_hash": record.token_hash,
                "citizen_id": record.citizen_id,
                "created_at": record.created_at,
                "expires_at": record.expires_at,
            }
        )
        key = self._session_key(record.token_hash)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.set(key, blob)
            pipe.expireat(key, max(1, record.expires_at))  # in the past: deleted at once
            pipe.execute()

    def get_session(self, token_hash: str, now: float) -> SessionRecord | None:
        """The session, or None if unknown or expired at ``now`` (``now >= expires_at``)."""
        _check_time(now)
        with self._guard():
            blob = self._r.get(self._session_key(token_hash))
        if blob is None:
            return None
        d = json.loads(blob)
        record = SessionRecord(
            token_hash=d["token_hash"],
            citizen_id=d["citizen_id"],
            created_at=int(d["created_at"]),
            expires_at=int(d["expires_at"]),
        )
        return record if now < record.expires_at else None

    def delete_session(self, token_hash: str) -> None:
        """Forget the session (nothing happens for an unknown one)."""
        with self._guard():
            self._r.delete(self._session_key(token_hash))

    # -- API keys ----------------------------------------------------------------------

    def put_api_key(self, record: ApiKeyRecord) -> None:
        """Insert a key. Raises :class:`Conflict` if the key id or hash exists,
        :class:`InvalidArgument` for an unknown kind."""
        if record.kind not in _API_KEY_KINDS:
            raise InvalidArgument(f"unknown API key kind {record.kind!r}")
        blob = json.dumps(
            {
                "key_id": record.key_id,
                "key_hash": record.key_hash,
                "kind": record.kind,
                "principal": record.principal,
                "created_at": record.created_at,
            }
        )
        revoked = "" if record.revoked_at is None else str(record.revoked_at)
        with self._guard():
            done = self._put_api_key(
                keys=list(self._api_keys()), args=[record.key_id, record.key_hash, blob, revoked]
            )
        if int(done) == 0:
            raise Conflict(f"API key {record.key_id!r} already exists")
        if int(done) < 0:
            raise Conflict(f"an API key with the hash of {record.key_id!r} already exists")

    @staticmethod
    def _api_key(blob: bytes, revoked: bytes | None) -> ApiKeyRecord:
        d = json.loads(blob)
        return ApiKeyRecord(
            key_id=d["key_id"],
            key_hash=d["key_hash"],
            kind=d["kind"],
            principal=d["principal"],
            created_at=int(d["created_at"]),
            revoked_at=None if revoked is None else int(revoked),
        )

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this secret hash (revoked or not), or None."""
        with self._guard():
            reply = self._get_api_key(keys=list(self._api_keys()), args=[key_hash])
        if not reply or reply[0] is None:
            return None
        return self._api_key(reply[0], reply[1])

    def list_api_keys(self, principal: str | None = None) -> list[ApiKeyRecord]:
        """Keys of one principal (or all), oldest first, ties by key id."""
        rec, _hash, revoked = self._api_keys()
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hgetall(rec)
            pipe.hgetall(revoked)
            blobs, revocations = pipe.execute()
        records = [self._api_key(blob, revocations.get(kid)) for kid, blob in blobs.items()]
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
            done = self._revoke_api_key(keys=[rec, revoked], args=[key_id, at])
        if not done:
            raise NotFound(f"no API key {key_id!r}")

    # -- venues ------------------------------------------------------------------------

    def put_venue(self, record: VenueRecord) -> None:
        """Insert or replace the venue with this id. Raises :class:`StoreUnavailable`."""
        blob = json.dumps(
            {
                "venue_id": record.venue_id,
                "name_zh": record.name_zh,
                "name_en": record.name_en,
                "scenes": list(record.scenes),
                "created_at": record.created_at,
            },
            ensure_ascii=False,
        )
        with self._guard():
            self._r.hset(self._k("venues", "rec"), record.venue_id, blob.encode())

    @staticmethod
    def _venue(blob: bytes) -> VenueRecord:
        d = json.loads(blob)
        return VenueRecord(
            venue_id=d["venue_id"],
            name_zh=d["name_zh"],
            name_en=d["name_en"],
            scenes=tuple(d["scenes"]),
            created_at=int(d["created_at"]),
        )

    def get_venue(self, venue_id: str) -> VenueRecord | None:
        """The venue, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blob = self._r.hget(self._k("venues", "rec"), venue_id)
        return None if blob is None else self._venue(blob)

    def list_venues(self) -> list[VenueRecord]:
        """All venues, sorted by id. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blobs = self._r.hgetall(self._k("venues", "rec"))
        return sorted((self._venue(b) for b in blobs.values()), key=lambda r: r.venue_id)

    # -- activity ----------------------------------------------------------------------

    def add_activity(self, record: ActivityRecord) -> None:
        """Record one event (replacing one with the same citizen and event id).

        Only the newest :data:`ACTIVITY_CAP` events of the citizen are kept.
        """
        blob = json.dumps(
            {
                "event_id": record.event_id,
                "citizen_id": record.citizen_id,
                "at": record.at,
                "venue_id": record.venue_id,
                "scene": record.scene,
                "vct": record.vct,
                "credential_id": record.credential_id,
                "claims": list(record.claims),
                "valid": record.valid,
                "codes": list(record.codes),
            },
            ensure_ascii=False,
        )
        keys = [
            self._citizen_key(record.citizen_id, "activity"),
            self._citizen_key(record.citizen_id, "events"),
        ]
        with self._guard():
            self._add_activity(
                keys=keys, args=[record.event_id, record.at, blob.encode(), ACTIVITY_CAP]
            )

    @staticmethod
    def _activity(blob: bytes) -> ActivityRecord:
        d = json.loads(blob)
        return ActivityRecord(
            event_id=d["event_id"],
            citizen_id=d["citizen_id"],
            at=int(d["at"]),
            venue_id=d["venue_id"],
            scene=d["scene"],
            vct=d["vct"],
            credential_id=d["credential_id"],
            claims=tuple(d["claims"]),
            valid=bool(d["valid"]),
            codes=tuple(d["codes"]),
        )

    def list_activity(self, citizen_id: str, limit: int = 100) -> list[ActivityRecord]:
        """The citizen's newest ``limit`` events: ``at`` descending, then event id descending.

        Raises :class:`InvalidArgument` for a negative limit.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidArgument(f"limit must be a non-negative integer, not {limit!r}")
        if limit == 0:
            return []
        keys = [self._citizen_key(citizen_id, "activity"), self._citizen_key(citizen_id, "events")]
        with self._guard():
            blobs = self._list_activity(keys=keys, args=[limit])
        return [self._activity(blob) for blob in blobs if blob is not None]

    # -- short-lived entries -----------------------------------------------------------

    def hit(self, counter: str, window: int, now: float) -> int:
        """Count one hit in the fixed ``window`` (seconds) holding ``now``; the new count.

        Windows start at multiples of ``window`` since the epoch; the count expires at the
        window's end. Raises :class:`InvalidArgument` for a window that is not a positive
        integer.
        """
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise InvalidArgument(f"window must be a positive number of seconds, not {window!r}")
        _check_time(now)
        start = int(now // window) * window
        key = self._k(f"hit:{_tag_hash(counter)}", f"{window}:{start}:{counter}")
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.incr(key)
            pipe.expireat(key, max(1, start + window))
            count, _ = pipe.execute()
        return int(count)

    def remember_nonce(self, nonce: str, expires_at: float, now: float) -> bool:
        """Record a nonce until ``expires_at``; False if it is recorded and alive at ``now``.

        A nonce already expired at ``now`` is accepted (True) and not kept.
        """
        _check_time(expires_at)
        _check_time(now)
        with self._guard():
            done = self._remember_nonce(
                keys=[self._short_lived("nonce", nonce)],
                args=[repr(float(expires_at)), repr(float(now)), _ms(expires_at)],
            )
        return bool(done)

    def put_once(
        self, key: str, value: bytes, expires_at: float, now: float, *, replace: bool = False
    ) -> bool:
        """Store ``value`` under ``key`` until ``expires_at`` unless a value is alive at
        ``now`` (or always, with ``replace``); True when written.

        Writing with ``expires_at <= now`` leaves no value under ``key``.
        """
        _check_time(expires_at)
        _check_time(now)
        args: list[bytes | str | int] = [
            bytes(value),
            repr(float(expires_at)),
            repr(float(now)),
            _ms(expires_at),
            1 if replace else 0,
        ]
        with self._guard():
            done = self._put_once(keys=[self._short_lived("once", key)], args=args)
        return bool(done)

    def window_add(
        self,
        counter: str,
        entry: str,
        now: float,
        limits: Sequence[Limit],
        *,
        force: bool = False,
    ) -> float:
        """See :meth:`store.interface.Store.window_add` (one script, see above)."""
        check_window_name(entry, "entry")
        return self._window_call("force" if force else "add", counter, entry, now, limits)

    def window_wait(self, counter: str, now: float, limits: Sequence[Limit]) -> float:
        """See :meth:`store.interface.Store.window_wait`."""
        return self._window_call("wait", counter, "", now, limits)

    def _window_call(
        self, mode: str, counter: str, entry: str, now: float, limits: Sequence[Limit]
    ) -> float:
        checked = check_limits(limits)
        check_window_name(counter, "counter")
        _check_time(now)
        longest = max(limit.window for limit in checked)
        args: list[str | int] = [
            mode,
            repr(float(now)),
            entry,
            longest,
            repr(float(now - longest)),
            max(limit.count for limit in checked),
        ]
        for limit in checked:
            args += [limit.count, repr(float(now - limit.window)), limit.window]
        with self._guard():
            wait = self._window(keys=[self._short_lived("win", counter)], args=args)
        return max(0.0, float(wait))

    def window_discard(self, counter: str, entry: str) -> None:
        """See :meth:`store.interface.Store.window_discard`."""
        check_window_name(counter, "counter")
        check_window_name(entry, "entry")
        with self._guard():
            self._r.zrem(self._short_lived("win", counter), entry)

    def window_clear(self, counter: str) -> None:
        """See :meth:`store.interface.Store.window_clear`."""
        check_window_name(counter, "counter")
        with self._guard():
            self._r.delete(self._short_lived("win", counter))

    def get_once(self, key: str, now: float) -> bytes | None:
        """The value under ``key``, or None if absent or expired at ``now``."""
        _check_time(now)
        with self._guard():
            value, expires_at = self._r.hmget(self._short_lived("once", key), ["v", "x"])
        if value is None or expires_at is None or not now < float(expires_at):
            return None
        return bytes(value)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _ms(at: float) -> int:
    """``at`` (seconds) as a Redis ``PXAT`` time, rounded up so never early (at least 1)."""
    return max(1, math.ceil(at * 1000))


def _check_time(at: float) -> None:
    if not math.isfinite(at):
        raise InvalidArgument(f"a time must be a finite number, not {at!r}")
