"""Short-lived entries shared by all workers: fixed-window counters, nonces, once-values
and sliding-window logs (login failures). All honour the caller's ``now`` and keep
nothing past expiry."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from store.errors import InvalidArgument

__all__ = [
    "MAX_LIMITS",
    "MAX_LIMIT_COUNT",
    "MAX_WINDOW",
    "MAX_WINDOW_NAME",
    "Limit",
    "ShortLivedStore",
    "window_wait",
]

#: Bounds of a sliding-window limit: every input bounded.
MAX_LIMITS, MAX_LIMIT_COUNT, MAX_WINDOW = 4, 10_000, 31 * 24 * 3600
#: Longest counter name and entry (both are short ids or keyed hashes).
MAX_WINDOW_NAME = 200


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` entries in any ``window`` seconds: a sliding window, not one
    aligned to the epoch (so no burst of twice the limit around a boundary)."""

    count: int
    window: int


def window_wait(times: Sequence[float], limits: Sequence[Limit], now: float) -> float:
    """Seconds from ``now`` until one more entry fits every limit, given the times of
    the entries (any order); 0.0 when it fits now.

    An entry at ``t`` counts towards a limit while ``t > now - window``. With ``n >=
    count`` entries in the window, the ``n - count + 1`` oldest must leave: the wait
    ends when the ``(n - count)``-th oldest (from 0) is ``window`` old. Both backends
    use this rule (the Redis script repeats it in Lua).
    """
    if not math.isfinite(now):
        raise InvalidArgument(f"a time must be a finite number, not {now!r}")
    wait = 0.0
    for limit in limits:
        start = now - limit.window
        inside = sorted(t for t in times if t > start)
        if len(inside) >= limit.count:
            wait = max(wait, inside[len(inside) - limit.count] + limit.window - now)
    return wait


@runtime_checkable
class ShortLivedStore(Protocol):
    """Counters, nonces, once-values and sliding windows."""

    def hit(self, counter: str, window: int, now: float) -> int:
        """Count one hit in the current fixed ``window`` (seconds) of ``counter``; the count.

        Windows are aligned to the epoch: up to twice a limit fits around a boundary.
        Logins use the sliding windows below instead."""

    def remember_nonce(self, nonce: str, expires_at: float, now: float) -> bool:
        """Record a nonce until ``expires_at``; False if it is already recorded (replay)."""

    def put_once(
        self, key: str, value: bytes, expires_at: float, now: float, *, replace: bool = False
    ) -> bool:
        """Store ``value`` under ``key`` unless present (or always, with ``replace``);
        True when written."""

    def get_once(self, key: str, now: float) -> bytes | None: ...

    def window_add(
        self,
        counter: str,
        entry: str,
        now: float,
        limits: Sequence[Limit],
        *,
        force: bool = False,
    ) -> float:
        """In one atomic step: the seconds until one more entry fits every limit of
        ``counter`` (:func:`window_wait`; 0.0: it fits now), and, when it fits (or with
        ``force``), ``entry`` recorded at ``now`` (an entry of that name is moved).

        The log forgets entries older than the longest window and keeps only the
        newest ``max(count)``: all the limits need. Call it with the same limits
        every time. Raises :class:`InvalidArgument` (limits: :func:`check_limits`).
        """

    def window_wait(self, counter: str, now: float, limits: Sequence[Limit]) -> float:
        """Seconds until one more entry fits every limit of ``counter``; adds nothing."""

    def window_discard(self, counter: str, entry: str) -> None:
        """Forget one entry (a reservation that turned out not to count); idempotent."""

    def window_clear(self, counter: str) -> None:
        """Forget every entry of ``counter``; idempotent."""
