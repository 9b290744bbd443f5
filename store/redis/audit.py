"""The audit chain on Redis, in the one slot ``{audit}``: ``P:{audit}:entries`` (seq ->
entry JSON), ``P:{audit}:tail`` (``seq`` and ``hash`` of the last entry) and
``P:{audit}:time`` (seqs by ``at``, members zero-padded so that ties sort by seq).

An append builds the entry (or a batch of entries, each linked to the one before) linked
to the tail this store object last saw and writes it with a script that compares the
tail's ``seq`` with that one and sets entries, index and tail only if it is unchanged
(compare-and-set); otherwise the script answers the tail it found, and the entries are
linked again to that one and sent again at once.

Every worker appends to the one chain, so an appender can keep losing that race to a
worker that writes again as soon as it has written. After its second loss in a row it
takes a **turn** (``P:{audit}:turn``, ``SET NX`` with a life of :data:`TURN_MS`, read
together with the tail): while the turn is held, every other appender's script refuses
and the other appender waits :data:`TURN_WAIT`; the holder's write cannot lose, and it
ends the turn. The turn decides only who goes next; the compare-and-set still guards
every write, so a turn that outlived its life (a stalled worker) cannot fork the chain.
Every key shares the hash tag ``{audit}``, so a Redis Cluster runs the script on one node."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from typing import ClassVar

from store.codec import Codec
from store.errors import CorruptRecord, StoreUnavailable
from store.kinds.audit import AUDIT_GENESIS, AuditEntry, AuditLink
from store.redis.base import RedisBase, decode_int, text
from store.validation import check_audit_range, link_audit_batch

__all__ = ["AuditMixin"]

AUDIT = Codec(AuditEntry)
#: How long a turn lasts at most, in ms: a worker that dies holding one holds up the
#: other appenders this long.
TURN_MS = 250
#: How long an appender waits before asking again while another one has its turn (s).
TURN_WAIT = 0.0002


def _member(seq: int) -> str:
    return f"{seq:020d}"


class AuditMixin(RedisBase):
    """:class:`store.kinds.audit.AuditStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: entries hash, tail hash, time sorted set, turn.
        # ARGV: this appender's turn token ('' for none), the tail seq expected (0: none),
        # the count n, then n times the new seq, its at, its hash and its JSON
        # (consecutive seqs, each linked to the one before).
        # {1} when written (and this appender's turn ended); else {0, the tail's seq,
        # its hash, 1 if it is another appender's turn}.
        "append_audit": """
local turn = redis.call('GET', KEYS[4])
local tail = redis.call('HMGET', KEYS[2], 'seq', 'hash')
if turn and turn ~= ARGV[1] then
  return {0, tail[1] or '0', tail[2] or '', 1}
end
if (tail[1] or '0') ~= ARGV[2] or redis.call('HEXISTS', KEYS[1], ARGV[4]) == 1 then
  return {0, tail[1] or '0', tail[2] or '', 0}
end
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  local at = 4 + 4 * i
  redis.call('HSET', KEYS[1], ARGV[at], ARGV[at + 3])
  redis.call('ZADD', KEYS[3], ARGV[at + 1], string.format('%020d', tonumber(ARGV[at])))
end
local last = 4 + 4 * (n - 1)
redis.call('HSET', KEYS[2], 'seq', ARGV[last], 'hash', ARGV[last + 2])
if turn then redis.call('DEL', KEYS[4]) end
return {1}
""",
        # KEYS: tail hash, turn. ARGV: a token, the turn's life in ms.
        # {1, the tail's seq, its hash} when the turn is this appender's; else {0}.
        "take_audit_turn": """
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local tail = redis.call('HMGET', KEYS[1], 'seq', 'hash')
  return {1, tail[1] or '0', tail[2] or ''}
end
return {0}
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
    #: How long an append keeps trying before it gives up (StoreUnavailable), in s.
    audit_patience: float = 5.0

    def _audit_keys(self) -> list[str]:
        return [self._k("audit", n) for n in ("entries", "tail", "time", "turn")]

    def append_audit(self, link: AuditLink) -> AuditEntry:
        """:meth:`append_audit_batch` of one entry."""
        return self.append_audit_batch([link])[0]

    def append_audit_batch(self, links: Sequence[AuditLink]) -> list[AuditEntry]:
        """One round trip when this store object's last sight of the tail is still
        right (the script compares it); else the script answers the tail it found and
        the entries are linked again to that one and sent at once. After a second loss
        the appender takes a *turn* (see the module doc) and its next write cannot lose."""
        if not links:
            return []
        keys = self._audit_keys()
        script = self._script("append_audit")
        tail, prev = self._audit_hint
        token, losses = "", 0
        deadline = time.monotonic() + self.audit_patience
        while time.monotonic() < deadline:
            entries = link_audit_batch(links, tail + 1, prev)
            args: list[str | int | bytes] = [token, tail, len(entries)]
            for entry in entries:
                args += (entry.seq, entry.at, entry.hash, AUDIT.to_json(entry))
            with self._guard():
                got = script(keys=keys, args=args)
            if got[0] == 1:
                self._audit_hint = (entries[-1].seq, entries[-1].hash)
                return entries
            seen, theirs = decode_int(got[1], "audit tail seq"), got[3] == 1
            if seen == tail and not theirs:  # the tail is as expected but the seq is taken
                raise CorruptRecord(f"audit entry {tail + 1} exists beyond the tail")
            # Sent again at once, linked to the tail just learnt: waiting here would let
            # it go stale, and under a steady stream of appends from other workers an
            # appender that backs off after each loss keeps losing.
            tail, prev = seen, (text(got[2]) if seen else AUDIT_GENESIS)
            self._audit_hint = (tail, prev)
            token = ""  # a turn held ends with the write; a failed write had lost it
            if theirs:  # another appender's turn: it writes next, within a moment
                time.sleep(TURN_WAIT)
                continue
            losses += 1
            if losses >= 2:
                token, tail, prev = self._take_audit_turn(keys, tail, prev)
        raise StoreUnavailable("the audit chain is too busy: the append kept losing races")

    def _take_audit_turn(self, keys: list[str], tail: int, prev: str) -> tuple[str, int, str]:
        """This appender's turn, and the tail read with it; else no token and the tail
        as it was known."""
        token = secrets.token_hex(8)
        with self._guard():
            got = self._script("take_audit_turn")(keys=keys[1::2], args=[token, TURN_MS])
        if got[0] != 1:
            return "", tail, prev
        seq = decode_int(got[1], "audit tail seq")
        return token, seq, (text(got[2]) if seq else AUDIT_GENESIS)

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
