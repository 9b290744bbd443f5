"""The settle of an online verification on Redis (:mod:`store.kinds.settle`).

On a single server: ONE Lua script (one round trip, against ten for the per-kind
calls) reads the status value (``P:{sl:H}:meta`` and ``:bits``), remembers the nonce
(``P:{nonce:N}:…``, as ``remember_nonce`` does), finds the credential at the status
position (``P:{sl:H}:creds``, then ``P:{cred:ID}:rec`` and ``:state``) and, when the
outcome is the drafted one, adds the event to the citizen's activity
(``P:{sub:C}:activity`` and ``:events``, trimmed to :data:`ACTIVITY_CAP`). The
credential and citizen keys are named inside the script from the position index's
answer: a single server allows it, a Cluster does not.

On a Redis Cluster the keys live in different slots: the status list's slot
(status value and position, one script), then the nonce, the credential and the
activity in their own slots, each one round trip; no step crosses a slot.

The event's JSON is made here by the record's codec, with placeholders for the two
fields only the registry knows (the citizen and the credential ids), which the script
fills with ``cjson.encode`` of the registry's values: the JSON the codec reads back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, cast

from redis.cluster import RedisCluster

from store.kinds.activity import ACTIVITY_CAP, ActivityRecord
from store.kinds.registry import CredentialRecord
from store.kinds.settle import (
    SettleOutcome,
    SettleParts,
    SettleRequest,
    fill_activity,
    nonce_allowed,
)
from store.redis.activity import ACTIVITY
from store.redis.base import RedisBase, ms, tag_hash, text
from store.redis.registry import _credential
from store.redis.status import _LUA_OFFSET, _LUA_PROLOGUE, _check
from store.validation import check_time

__all__ = ["SettleMixin"]

# Placeholders of the event's two registry fields (no JSON escape, no Lua pattern magic).
_SUB, _CRED = "ecertsettlesubject0", "ecertsettlecredential0"

# KEYS: status meta, status bits, position index, nonce key.
# ARGV: 1 status idx ('' = not read), 2 nonce ('1'/'0'), 3 nonce expires_at, 4 now,
# 5 nonce expiry ms, 6 registry idx ('' = no lookup), 7 registry uri, 8 issuer,
# 9 credential key prefix 'P:{cred:', 10 citizen key prefix 'P:{sub:',
# 11 event JSON with placeholders ('' = none), 12 event id, 13 at, 14 cap.
# Reply: {0, status (-1 not read), fresh (-1 not tried, 0, 1), rec, state, logged}
# or {-1}/{-2} (no list, index outside it) as get_status.
_SETTLE = """
local status = -1
if ARGV[1] ~= '' then
"""
_SETTLE += "\n".join("  " + line for line in _LUA_PROLOGUE.strip().splitlines())
_SETTLE += "\n" + "\n".join("  " + line for line in _LUA_OFFSET.strip().splitlines())
_SETTLE += """
  status = redis.call('BITFIELD', KEYS[2], 'GET', 'u' .. b, offset)[1]
end
local fresh = -1
if ARGV[2] == '1' and status <= 0 then
  local x = redis.call('GET', KEYS[4])
  if x and tonumber(x) > tonumber(ARGV[4]) then
    fresh = 0
  elseif tonumber(ARGV[3]) <= tonumber(ARGV[4]) then
    redis.call('DEL', KEYS[4])
    fresh = 1
  else
    redis.call('SET', KEYS[4], ARGV[3], 'PXAT', ARGV[5])
    fresh = 1
  end
end
local rec, state, logged = false, false, 0
if ARGV[6] ~= '' then
  local id = redis.call('HGET', KEYS[3], ARGV[6])
  if id then
    rec = redis.call('GET', ARGV[9] .. id .. '}:rec')
    state = redis.call('GET', ARGV[9] .. id .. '}:state')
  end
end
if rec and ARGV[11] ~= '' and status <= 0 and fresh ~= 0 then
  local c = cjson.decode(rec)
  if c['issuer'] == ARGV[8] and c['status_uri'] == ARGV[7]
      and tonumber(c['status_idx']) == tonumber(ARGV[6]) and type(c['subject']) == 'string'
      and type(c['id']) == 'string' then
    local sub = cjson.encode(c['subject'])
    local cred = cjson.encode(c['id'])
    local event = string.gsub(ARGV[11], '"ecertsettlesubject0"', function() return sub end, 1)
    event = string.gsub(event, '"ecertsettlecredential0"', function() return cred end, 1)
    local akey = ARGV[10] .. c['subject'] .. '}:activity'
    local ekey = ARGV[10] .. c['subject'] .. '}:events'
    redis.call('ZADD', akey, ARGV[13], ARGV[12])
    redis.call('HSET', ekey, ARGV[12], event)
    local extra = redis.call('ZCARD', akey) - tonumber(ARGV[14])
    if extra > 0 then
      local old = redis.call('ZRANGE', akey, 0, extra - 1)
      redis.call('ZREMRANGEBYRANK', akey, 0, extra - 1)
      redis.call('HDEL', ekey, unpack(old))
    end
    logged = 1
  end
end
return {0, status, fresh, rec, state, logged}
"""

# The Cluster's first step, in the status list's slot. KEYS: meta, bits, position
# index. ARGV: 1 status idx ('' = not read), 2 registry idx ('' = no lookup).
# Reply: {0, status (-1 not read), credential id or false} or {-1}/{-2}.
_STATUS_AND_POSITION = """
local status = -1
if ARGV[1] ~= '' then
"""
_STATUS_AND_POSITION += "\n".join("  " + line for line in _LUA_PROLOGUE.strip().splitlines())
_STATUS_AND_POSITION += "\n" + "\n".join("  " + line for line in _LUA_OFFSET.strip().splitlines())
_STATUS_AND_POSITION += """
  status = redis.call('BITFIELD', KEYS[2], 'GET', 'u' .. b, offset)[1]
end
local id = false
if ARGV[2] ~= '' then id = redis.call('HGET', KEYS[3], ARGV[2]) end
return {0, status, id}
"""


def _draft_json(draft: ActivityRecord) -> bytes:
    placeholder = dataclasses.replace(draft, citizen_id=_SUB, credential_id=_CRED)
    return ACTIVITY.to_json(placeholder)


class SettleMixin(RedisBase):
    """:class:`store.kinds.settle.SettleStore` on Redis (one script on a single server)."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        "settle": _SETTLE,
        "settle_status": _STATUS_AND_POSITION,
    }

    def settle(self, request: SettleRequest) -> SettleOutcome:
        """See :mod:`store.kinds.settle`."""
        check_time(request.now)
        if request.nonce is not None:
            check_time(request.nonce_expires_at)
        if isinstance(self.client, RedisCluster) or (
            request.status is not None
            and request.registry is not None
            and request.status[0] != request.registry[0]
        ):
            return self._settle_in_slots(request)
        return self._settle_in_one(request)

    def _status_keys(self, request: SettleRequest) -> tuple[str, str, str]:
        uri = (request.status or request.registry or ("", 0))[0]
        tag = f"sl:{tag_hash(uri)}"
        return self._k(tag, "meta"), self._k(tag, "bits"), self._k(tag, "creds")

    def _settle_in_one(self, request: SettleRequest) -> SettleOutcome:
        meta, bits, position = self._status_keys(request)
        nonce_key = self._short_lived("nonce", request.nonce or "")
        expires = request.nonce_expires_at
        args: list[Any] = [
            "" if request.status is None else request.status[1],
            "0" if request.nonce is None else "1",
            repr(float(expires)),
            repr(float(request.now)),
            ms(expires) if request.nonce is not None else 1,
            "" if request.registry is None else request.registry[1],
            "" if request.registry is None else request.registry[0],
            request.issuer or "",
            f"{self.prefix}:{{cred:",
            f"{self.prefix}:{{sub:",
            b"" if request.activity is None else _draft_json(request.activity),
            "" if request.activity is None else request.activity.event_id,
            0 if request.activity is None else request.activity.at,
            ACTIVITY_CAP,
        ]
        with self._guard():
            reply = self._script("settle")(keys=[meta, bits, position, nonce_key], args=args)
        code = int(reply[0])
        if code != 0:
            uri, idx = request.status or ("", 0)
            _check(code, uri, idx)
        status = None if int(reply[1]) < 0 else int(reply[1])
        fresh = None if int(reply[2]) < 0 else bool(int(reply[2]))
        credential = None
        if reply[3] is not None:
            credential = self._matching(request, _credential(reply[3], reply[4]))
        return SettleOutcome(status, fresh, credential, logged=bool(int(reply[5])))

    def _settle_in_slots(self, request: SettleRequest) -> SettleOutcome:
        # Cluster: status and position in the list's slot, then one call per slot.
        parts = cast(SettleParts, self)
        status: int | None = None
        found: bytes | None = None
        if (
            request.status is not None
            and request.registry is not None
            and (request.status[0] != request.registry[0])
        ):
            status = parts.get_status(*request.status)
            found = self._position(*request.registry)
        elif request.status is not None or request.registry is not None:
            meta, bits, position = self._status_keys(request)
            args = [
                "" if request.status is None else request.status[1],
                "" if request.registry is None else request.registry[1],
            ]
            with self._guard():
                reply = self._script("settle_status")(keys=[meta, bits, position], args=args)
            if int(reply[0]) != 0:
                uri, idx = request.status or ("", 0)
                _check(int(reply[0]), uri, idx)
            status = None if int(reply[1]) < 0 else int(reply[1])
            found = reply[2]
        fresh: bool | None = None
        if request.nonce is not None and nonce_allowed(status):
            fresh = parts.remember_nonce(request.nonce, request.nonce_expires_at, request.now)
        credential = None
        if found is not None:
            record = parts.get_credential(text(found))
            credential = None if record is None else self._matching(request, record)
        outcome = SettleOutcome(status, fresh, credential, logged=False)
        if credential is not None and request.activity is not None and outcome.as_drafted:
            parts.add_activity(fill_activity(request.activity, credential))
            return dataclasses.replace(outcome, logged=True)
        return outcome

    def _position(self, uri: str, idx: int) -> bytes | None:
        with self._guard():
            found: bytes | None = self._r.hget(self._k(f"sl:{tag_hash(uri)}", "creds"), idx)
        return found

    @staticmethod
    def _matching(request: SettleRequest, record: CredentialRecord) -> CredentialRecord | None:
        """The record when it is at the requested position and of the requested issuer."""
        if request.registry is None or (record.status_uri, record.status_idx) != request.registry:
            return None
        return record if record.issuer == request.issuer else None
