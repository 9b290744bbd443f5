"""Consents on Redis, in the citizen's slot: ``P:{sub:C}:consents`` (consent ids by
``created_at``), ``P:{sub:C}:consent-data`` (consent id -> record JSON without
``state`` and ``updated_at``), ``P:{sub:C}:consent-state`` (consent id ->
``<state>:<updated_at>``); and, for a lookup by id alone, ``P:{consent:ID}:owner`` (the
citizen's pseudonym), written just after the record (a crash in between leaves a consent
the citizen sees and the department cannot read yet, never an owner without a record).

Adding one (the id check, the cap and the trimming of the oldest that no longer count)
is one script over the citizen's keys; a state change is one script that compares and
sets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from store.codec import Codec
from store.errors import Conflict, CorruptRecord
from store.kinds.consents import CONSENT_CAP, ConsentRecord, ConsentState
from store.redis.base import RedisBase, decode_int, text
from store.validation import check_activity_limit, check_consent, check_consent_states

__all__ = ["ConsentsMixin"]

CONSENT = Codec(ConsentRecord)
_BESIDE = ("state", "updated_at")


class ConsentsMixin(RedisBase):
    """:class:`store.kinds.consents.ConsentStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: consents (sorted set), consent-data, consent-state.
        # ARGV: id, created_at, JSON, '<state>:<updated_at>', cap.
        # 'conflict' | 'full' | {'added', dropped ids...}
        "put_consent": """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'conflict' end
local count = redis.call('ZCARD', KEYS[1])
local cap = tonumber(ARGV[5])
local dropped = {}
if count >= cap then
  local need = count - cap + 1
  local spare = {}
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if #spare >= need then break end
    local st = redis.call('HGET', KEYS[3], id) or ''
    local gone = string.sub(st, 1, 8) ~= 'granted:'
    if not gone then
      local rec = cjson.decode(redis.call('HGET', KEYS[2], id))
      gone = tonumber(rec['until']) <= tonumber(ARGV[2])
    end
    if gone then table.insert(spare, id) end
  end
  if #spare < need then return 'full' end
  redis.call('ZREM', KEYS[1], unpack(spare))
  redis.call('HDEL', KEYS[2], unpack(spare))
  redis.call('HDEL', KEYS[3], unpack(spare))
  dropped = spare
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
table.insert(dropped, 1, 'added')
return dropped
""",
        # KEYS: consent-state. ARGV: id, expected state, '<state>:<updated_at>'. 1 if set.
        "set_consent_state": """
local st = redis.call('HGET', KEYS[1], ARGV[1])
if not st then return 0 end
local colon = string.find(st, ':', 1, true)
if not colon or string.sub(st, 1, colon - 1) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
""",
    }

    def _consent_keys(self, citizen: str) -> list[str]:
        return [
            self._citizen_key(citizen, name)
            for name in ("consents", "consent-data", "consent-state")
        ]

    def _consent_owner(self, consent_id: str) -> str:
        return self._k(f"consent:{consent_id}", "owner")

    def put_consent(self, record: ConsentRecord) -> bool:
        check_consent(record)
        args = [
            record.consent_id,
            record.created_at,
            CONSENT.to_json(record, exclude=_BESIDE),
            f"{record.state}:{record.updated_at}",
            CONSENT_CAP,
        ]
        owner = self._consent_owner(record.consent_id)
        with self._guard():
            if self._r.exists(owner):
                raise Conflict("this consent id already exists")
            got = self._script("put_consent")(keys=self._consent_keys(record.citizen), args=args)
            if not isinstance(got, list):
                if text(got) == "conflict":
                    raise Conflict("this consent id already exists")
                return False
            self._r.set(owner, record.citizen)
            for dropped in got[1:]:
                self._r.delete(self._consent_owner(text(dropped)))
        return True

    @staticmethod
    def _consent(blob: bytes, state: bytes | None) -> ConsentRecord:
        if state is None:
            raise CorruptRecord("a consent has no state")
        name, _, at = text(state).partition(":")
        return CONSENT.from_json(
            blob, {"state": name, "updated_at": decode_int(at, "consent updated_at")}
        )

    def get_consent(self, consent_id: str) -> ConsentRecord | None:
        with self._guard():
            owner = self._r.get(self._consent_owner(consent_id))
            if owner is None:
                return None
            _, data, state = self._consent_keys(text(owner))
            pipe = self._r.pipeline(transaction=True)
            pipe.hget(data, consent_id)
            pipe.hget(state, consent_id)
            blob, value = pipe.execute()
        return None if blob is None else self._consent(blob, value)

    def list_consents(self, citizen: str, limit: int = 50) -> list[ConsentRecord]:
        check_activity_limit(limit)
        limit = min(limit, CONSENT_CAP)
        if limit == 0:
            return []
        order, data, state = self._consent_keys(citizen)
        with self._guard():
            ids = self._r.zrevrange(order, 0, limit - 1)
            if not ids:
                return []
            pipe = self._r.pipeline(transaction=True)
            pipe.hmget(data, ids)
            pipe.hmget(state, ids)
            blobs, states = pipe.execute()
        consents = [
            self._consent(blob, value)
            for blob, value in zip(blobs, states, strict=True)
            if blob is not None
        ]
        consents.sort(key=lambda c: (c.created_at, c.consent_id), reverse=True)
        return consents

    def set_consent_state(
        self, consent_id: str, state: ConsentState, *, expect: ConsentState, at: int
    ) -> bool:
        check_consent_states(state, expect)
        with self._guard():
            owner = self._r.get(self._consent_owner(consent_id))
            if owner is None:
                return False
            key = self._consent_keys(text(owner))[2]
            done = self._script("set_consent_state")(
                keys=[key], args=[consent_id, expect, f"{state}:{at}"]
            )
        return bool(done)
