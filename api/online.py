"""Online verification for venues: live status from the store, replay detection shared
by every worker, the live trust list, and the citizen's activity log.

The offline :class:`verifier.Verifier` does the checking; this module only gives it
live sources (it is Flask-free too).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable

from issuer import Platform
from issuer.keyring import TRUST_VERSION
from store.interface import ActivityRecord, Store
from verifier import LiveTrustSource, VerificationResult, Verifier
from verifier.errors import StatusUnavailable


class LiveStatusSource:
    """Status values read from the store at once: a revocation counts immediately."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def lookup(self, iss: str, uri: str, idx: int, now: float) -> int:
        """See :class:`verifier.StatusSource`. Raises ``StatusUnavailable``."""
        record = self._store.get_status_list(uri)
        if record is None or record.issuer != iss:
            raise StatusUnavailable("no status list of the credential's issuer at this uri")
        if not 0 <= idx < record.size:
            raise StatusUnavailable("the status index is outside the status list")
        return self._store.get_status(uri, idx)


class StoreNonceCache:
    """Accepted nonces in the store, so that every worker sees every replay."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def check_and_add(self, nonce: str, expires_at: float, now: float) -> bool:
        """See :class:`verifier.NonceCache`."""
        key = "kb-nonce:" + hashlib.sha256(nonce.encode("utf-8")).hexdigest()
        return self._store.remember_nonce(key, expires_at, now)


class OnlineVerifier:
    """A :class:`Verifier` over the live trust list, rebuilt when it changes.

    The verifier is rebuilt from the platform's registry (a trust list object held in
    memory: nothing is signed or parsed again) when the store's trust version changes
    (issuers, keys, scenes) or after ``refresh`` seconds, whichever comes first; in
    between, its cache of verified issuer JWTs keeps working.
    """

    def __init__(
        self,
        store: Store,
        platform: Platform,
        *,
        clock: Callable[[], float] = time.time,
        refresh: float = 300.0,
    ) -> None:
        self._store = store
        self._platform = platform
        self._clock = clock
        self._refresh = refresh
        self._lock = threading.Lock()
        self._current: tuple[bytes | None, float, Verifier] | None = None

    def verifier(self) -> Verifier:
        """The verifier for the current trust list."""
        version = self._store.get_config(TRUST_VERSION)
        now = self._clock()
        current = self._current
        if current is not None and current[0] == version and now - current[1] < self._refresh:
            return current[2]
        with self._lock:
            verifier = Verifier(
                LiveTrustSource(self._platform.live_trust_list(), LiveStatusSource(self._store)),
                clock=self._clock,
                replay=StoreNonceCache(self._store),
            )
            self._current = (version, now, verifier)
            return verifier

    def verify(self, text: str, scene: str, *, venue_id: str) -> VerificationResult:
        """Verify with live status and shared replay detection, and log the check in
        the citizen's activity (claim names only) when the credential is known.

        Raises :class:`verifier.UnknownScene` for a scene not in the trust list.
        """
        result = self.verifier().verify(text, scene)
        if result.status_ref is not None and result.iss is not None:
            record = self._store.find_credential(*result.status_ref)
            if record is not None and record.issuer == result.iss:
                self._store.add_activity(
                    ActivityRecord(
                        event_id=secrets.token_hex(8),
                        citizen_id=record.subject,
                        at=result.checked_at,
                        venue_id=venue_id,
                        scene=scene,
                        vct=result.vct,
                        credential_id=record.id,
                        claims=tuple(result.claims),
                        valid=result.valid,
                        codes=tuple(result.codes),
                    )
                )
        return result
