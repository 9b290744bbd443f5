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
``P:{sls}:rec``                     hash         uri -> status list record JSON (index)
``P:{cred:ID}:rec``                 string       credential record JSON (without state)
``P:{cred:ID}:state``               string       credential state
``P:{sub:SUBJECT}:creds``           sorted set   ids of one citizen's credentials, by issued_at
``P:{iss:I}:creds``                 sorted set   ids of one issuer's credentials, by issued_at
``P:{creds}:issuers``               set          issuers that have credentials
==================================  ===========  =========================================

``H`` is the first 16 hex digits of SHA-256 of the list's URI and ``I`` the same for an
issuer URL (URLs can be long and hold braces); ``ID`` and ``SUBJECT`` are used as they
are. Keys, issuers and the status-list index are small and live in one slot each.

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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis import exceptions as rexc

from store.interface import (
    CREDENTIAL_STATES,
    KEY_STATES,
    Conflict,
    CredentialRecord,
    CredentialState,
    IssuerRecord,
    KeyRecord,
    KeyStateName,
    NotFound,
    StatusListRecord,
    StoreError,
    StoreUnavailable,
    check_list_shape,
    check_state,
)

__all__ = ["RedisStore"]


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

    def __init__(self, client: redis.Redis, prefix: str = "ecert") -> None:
        """Wrap a client that returns bytes (``decode_responses=False``).

        Raises :class:`StoreError` for a prefix holding braces or a decoding client.
        """
        if not prefix or "{" in prefix or "}" in prefix:
            raise StoreError(f"invalid key prefix {prefix!r}", code="invalid_argument")
        kwargs_of = getattr(client, "get_connection_kwargs", None)
        if callable(kwargs_of) and kwargs_of().get("decode_responses"):
            raise StoreError(
                "the Redis client must return bytes (decode_responses=False)",
                code="invalid_argument",
            )
        self.client = client
        self.prefix = prefix
        self._r: Any = client  # redis-py's return types are unions with Awaitable
        self._set_status = self._r.register_script(_SET_STATUS)
        self._get_status = self._r.register_script(_GET_STATUS)
        self._claim = self._r.register_script(_CLAIM)
        self._set_key_state = self._r.register_script(_SET_KEY_STATE)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "ecert", **kwargs: Any) -> RedisStore:
        """Connect to ``redis://``, ``rediss://`` or ``unix://`` ``url``.

        ``kwargs`` go to :meth:`redis.Redis.from_url` (timeouts, retry policy…). No
        command is sent yet, so an unreachable server shows on first use as
        :class:`StoreUnavailable`. Raises :class:`StoreError` for a malformed URL.
        """
        try:
            client = redis.Redis.from_url(url, **kwargs)
        except ValueError as err:
            raise StoreError(f"invalid Redis URL: {err}", code="invalid_argument") from err
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

    @staticmethod
    def _check(code: int, uri: str, idx: int, value: int | None = None) -> None:
        if code == _NO_LIST:
            raise NotFound(f"no status list {uri!r}")
        if code == _BAD_INDEX:
            raise StoreError(f"index {idx} outside the list {uri!r}", code="out_of_range")
        if code == _BAD_VALUE:
            raise StoreError(f"status {value} does not fit the list {uri!r}", code="out_of_range")

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

