"""Replay detection: nonces of accepted presentations, kept for the freshness window."""

from __future__ import annotations

import threading
from typing import Protocol


class NonceCache(Protocol):
    """Remembers accepted nonces until they expire; shared by all workers in a deployment."""

    def check_and_add(self, nonce: str, expires_at: float, now: float) -> bool:
        """Record ``nonce`` until ``expires_at``; return False if it was already recorded.

        Must be atomic: two concurrent calls with one nonce never both return True.
        """
        ...


class MemoryNonceCache:
    """The in-process default. Expired entries are purged as new ones arrive."""

    def __init__(self) -> None:
        self._entries: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def check_and_add(self, nonce: str, expires_at: float, now: float) -> bool:
        """See :meth:`NonceCache.check_and_add`."""
        with self._lock:
            if now >= self._next_purge:
                self._entries = {n: t for n, t in self._entries.items() if t > now}
                self._next_purge = now + 10
            previous = self._entries.get(nonce)
            if previous is not None and previous > now:
                return False
            self._entries[nonce] = expires_at
            return True

    def __len__(self) -> int:
        return len(self._entries)
