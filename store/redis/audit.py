"""The audit chain on Redis, in the one slot ``{audit}``: ``P:{audit}:entries`` (seq ->
entry JSON), ``P:{audit}:tail`` (``seq`` and ``hash`` of the last entry) and
``P:{audit}:time`` (seqs by ``at``, members zero-padded so that ties sort by seq).

An append builds the entry linked to the tail this store object last saw and writes it
with a script that compares the tail's ``seq`` with that one and sets entry, index and
tail only if it is unchanged (compare-and-set); otherwise the script answers the tail
it found, and the entry is linked again to that one and retried. Every key
shares the hash tag ``{audit}``, so a Redis Cluster runs the script on one node."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import ClassVar

from store.codec import Codec
from store.errors import CorruptRecord, StoreUnavailable
from store.kinds.audit import AUDIT_GENESIS, AuditEntry, AuditLink
from store.redis.base import RedisBase, decode_int, text
from store.validation import check_audit_entry, check_audit_range

__all__ = ["AuditMixin"]

AUDIT = Codec(AuditEntry)
#: Appends that lose the race this many times in a row give up (StoreUnavailable).
MAX_APPEND_TRIES = 200


def _member(seq: int) -> str:
    return f"{seq:020d}"


class AuditMixin(RedisBase):
    """:class:`store.kinds.audit.AuditStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: entries hash, tail hash, time sorted set.
        # ARGV: the tail seq expected (0: none), the new seq, its at, its hash, its JSON.
        # {1} when written; else {0, the tail's seq, its hash} to link to on the retry.
        "append_audit": """
local tail = redis.call('HMGET', KEYS[2], 'seq', 'hash')
if (tail[1] or '0') ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then
  return {0, tail[1] or '0', tail[2] or ''}
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[3], string.format('%020d', tonumber(ARGV[2])))
redis.call('HSET', KEYS[2], 'seq', ARGV[2], 'hash', ARGV[4])
return {1}
""",
        # KEYS: entries hash, tail hash. The last entry's JSON, or false.
        "audit_tail": """
local seq = redis.call('HGET', KEYS[2], 'seq')
if not seq then return false end
return {seq, redis.call('HGET', KEYS[1], seq) or ''}
""",
    }

    #: The tail this store object last wrote or saw: (seq, hash) (a hint, checked).
    _audit_hint: tuple[int, str] = (0, AUDIT_GENESIS)

    def _audit_keys(self) -> list[str]:
        return [self._k("audit", n) for n in ("entries", "tail", "time")]

    def append_audit(self, link: AuditLink) -> AuditEntry:
        """One round trip when this store object's last sight of the tail is still
        right (the script compares it); else the script answers the tail it found and
        the entry is linked again to that one."""
        keys = self._audit_keys()
        script = self._script("append_audit")
        tail, prev = self._audit_hint
        for attempt in range(MAX_APPEND_TRIES):
            entry = link(tail + 1, prev)
            check_audit_entry(entry, tail + 1, prev)
            args = [tail, entry.seq, entry.at, entry.hash, AUDIT.to_json(entry)]
            with self._guard():
                got = script(keys=keys, args=args)
            if got[0] == 1:
                self._audit_hint = (entry.seq, entry.hash)
                return entry
            seen = decode_int(got[1], "audit tail seq")
            if seen == tail:  # the tail is as expected but the seq is taken: corrupt
                raise CorruptRecord(f"audit entry {tail + 1} exists beyond the tail")
            tail, prev = seen, (text(got[2]) if seen else AUDIT_GENESIS)
            self._audit_hint = (tail, prev)
            if attempt:
                time.sleep(random.random() * 0.001 * min(attempt, 10))  # noqa: S311
        raise StoreUnavailable("the audit chain is too busy: the append kept losing races")

    def audit_range(self, from_seq: int, count: int) -> list[AuditEntry]:
        check_audit_range(from_seq, count)
        if count == 0:
            return []
        with self._guard():
            blobs = self._r.hmget(self._audit_keys()[0], list(range(from_seq, from_seq + count)))
        return [AUDIT.from_json(blob) for blob in blobs if blob is not None]

    def audit_tail(self) -> AuditEntry | None:
        keys = self._audit_keys()
        with self._guard():
            got = self._script("audit_tail")(keys=keys[:2], args=[])
        if not got:
            return None
        seq, blob = got
        if not blob:
            raise CorruptRecord(f"the audit tail names seq {text(seq)}, which is missing")
        return AUDIT.from_json(blob)

    def audit_first_since(self, at: int) -> int | None:
        with self._guard():
            got = self._r.zrangebyscore(self._audit_keys()[2], int(at), "+inf", start=0, num=1)
        return decode_int(got[0], "audit seq") if got else None
