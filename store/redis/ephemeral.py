"""Short-lived entries on Redis, spread over slots by ``N`` (16 hex digits of SHA-256
of the name): ``P:{hit:N}:W:S:COUNTER`` (fixed-window count), ``P:{nonce:N}:NONCE``,
``P:{once:N}:KEY`` (hash ``v``, ``x``) and ``P:{win:N}:COUNTER`` (sliding-window log).
Each carries a Redis expiry, and reads also compare the stored expiry with the
caller's ``now``. These are not records (no dataclass): hand-mapped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from store.kinds.ephemeral import Limit, OnceSpace, OnceValues
from store.redis.base import RedisBase, ms, tag_hash
from store.validation import check_time, check_window, check_window_call, check_window_name

__all__ = ["EphemeralMixin"]

# KEYS: the log (sorted set entry -> time). ARGV: mode ('add', 'force' or 'wait'), now,
# entry, longest window, drop bound (now - longest window), keep, then per limit: count,
# window start (now - window), window. Times are Python float reprs (exact doubles).
# Returns the wait (store.kinds.ephemeral.window_wait) as a string, so that Redis keeps
# the fraction (it truncates Lua numbers to integers).
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


class EphemeralMixin(RedisBase):
    """:class:`store.kinds.ephemeral.ShortLivedStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: nonce key. ARGV: expires_at, now, expiry in ms. 1 recorded, 0 replay.
        # Times are Python float reprs: Lua's tonumber reads them back to the same doubles.
        "remember_nonce": """
local x = redis.call('GET', KEYS[1])
if x and tonumber(x) > tonumber(ARGV[2]) then return 0 end
if tonumber(ARGV[1]) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3])
return 1
""",
        # KEYS: once key. ARGV: value, expires_at, now, expiry in ms, replace (1/0). 1 written.
        "put_once": """
local x = redis.call('HGET', KEYS[1], 'x')
if ARGV[5] ~= '1' and x and tonumber(x) > tonumber(ARGV[3]) then return 0 end
redis.call('DEL', KEYS[1])
if tonumber(ARGV[2]) <= tonumber(ARGV[3]) then return 1 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'x', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
""",
        "window": _WINDOW,
    }

    def hit(self, counter: str, window: int, now: float) -> int:
        """Count one hit in the fixed ``window`` (seconds) holding ``now``; the new count.

        Windows start at multiples of ``window`` since the epoch; the count expires at the
        window's end. Raises :class:`InvalidArgument` for a window that is not a positive
        integer.
        """
        check_window(window)
        check_time(now)
        start = int(now // window) * window
        key = self._k(f"hit:{tag_hash(counter)}", f"{window}:{start}:{counter}")
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
        check_time(expires_at)
        check_time(now)
        with self._guard():
            done = self._script("remember_nonce")(
                keys=[self._short_lived("nonce", nonce)],
                args=[repr(float(expires_at)), repr(float(now)), ms(expires_at)],
            )
        return bool(done)

    def once(self, space: OnceSpace) -> OnceValues:
        """See :meth:`store.kinds.ephemeral.ShortLivedStore.once`."""
        return OnceValues(space, self._put_once, self._get_once)

    def _put_once(
        self, key: str, value: bytes, expires_at: float, now: float, replace: bool = False
    ) -> bool:
        """Store ``value`` under ``key`` until ``expires_at`` unless a value is alive at
        ``now`` (or always, with ``replace``); True when written.

        Writing with ``expires_at <= now`` leaves no value under ``key``.
        """
        check_time(expires_at)
        check_time(now)
        args: list[bytes | str | int] = [
            bytes(value),
            repr(float(expires_at)),
            repr(float(now)),
            ms(expires_at),
            1 if replace else 0,
        ]
        with self._guard():
            done = self._script("put_once")(keys=[self._short_lived("once", key)], args=args)
        return bool(done)

    def _get_once(self, key: str, now: float) -> bytes | None:
        """The value under ``key``, or None if absent or expired at ``now``."""
        check_time(now)
        with self._guard():
            value, expires_at = self._r.hmget(self._short_lived("once", key), ["v", "x"])
        if value is None or expires_at is None or not now < float(expires_at):
            return None
        return bytes(value)

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
        checked = check_window_call(counter, now, limits)
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
            wait = self._script("window")(keys=[self._short_lived("win", counter)], args=args)
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
