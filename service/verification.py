"""Verification for venues: one use case from a scanned text to a logged result.

:meth:`Verification.verify` takes what a venue scanned (a presentation, or an online QR
URL ``<base>/p/<token>`` of this service, which is redeemed once first), checks it with
the offline :class:`verifier.Verifier` given live sources, and logs the check in the
citizen's activity (claim names only):

* live status read from the store at once (:class:`LiveStatusSource`): a revocation
  counts immediately;
* ONE nonce cache for replay detection, in the store (:class:`StoreNonceCache`), so that
  every worker (and the CLI's ``--replay-db``) sees every replay;
* the live trust data: the verifier is rebuilt when the store's trust version changes
  (:func:`build_online_verifier`, the one place that constructs it).

Flask-free: the HTTP view only parses the request and serialises the result.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable

from issuer import Platform
from issuer.keyring import TRUST_VERSION
from service.errors import OnlineQrRefused
from service.presentations import QrPresentations
from store.interface import ActivityRecord, Store
from verifier import LiveTrustSource, VerificationResult, Verifier
from verifier.errors import StatusUnavailable, UnknownScene

__all__ = [
    "LiveStatusSource",
    "OnlineVerifier",
    "StoreNonceCache",
    "Verification",
    "build_online_verifier",
    "nonce_key",
]


def nonce_key(nonce: str) -> str:
    """The store key of an accepted key-binding nonce (its SHA-256, never the nonce)."""
    return "kb-nonce:" + hashlib.sha256(nonce.encode("utf-8")).hexdigest()


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
    """The one nonce cache: accepted nonces in a store, so that every worker (or every
    run of ``ecert verify --replay-db``) sees every replay."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def check_and_add(self, nonce: str, expires_at: float, now: float) -> bool:
        """See :class:`verifier.NonceCache`."""
        return self._store.remember_nonce(nonce_key(nonce), expires_at, now)


def build_online_verifier(store: Store, platform: Platform, clock: Callable[[], float]) -> Verifier:
    """The verifier over the live trust data, live status and the store's nonce cache.

    The one place that constructs it: the trust list is the platform's registry held
    in memory (:class:`~verifier.LiveTrustSource`), so nothing is signed or parsed again.
    """
    return Verifier(
        LiveTrustSource(platform.live_trust_list(), LiveStatusSource(store)),
        clock=clock,
        replay=StoreNonceCache(store),
    )


class OnlineVerifier:
    """A :class:`Verifier` over the live trust data, rebuilt when it changes.

    Rebuilt when the store's trust version changes (issuers, keys, scenes) or after
    ``refresh`` seconds, whichever comes first; in between, its cache of verified
    issuer JWTs keeps working.
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
        """The verifier for the current trust data."""
        version = self._store.get_config(TRUST_VERSION)
        now = self._clock()
        current = self._current
        if current is not None and current[0] == version and now - current[1] < self._refresh:
            return current[2]
        with self._lock:
            verifier = build_online_verifier(self._store, self._platform, self._clock)
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


class Verification:
    """A venue's online verification: redeem an online QR, verify, log the activity."""

    def __init__(self, online: OnlineVerifier, presentations: QrPresentations) -> None:
        self.online = online
        self._presentations = presentations

    def require_scene(self, scene: str) -> None:
        """Raises :class:`verifier.UnknownScene` for a scene not in the live trust list."""
        if scene not in self.online.verifier().trust_list.scenes:
            raise UnknownScene("No scene with this id.")

    def verify(self, text: str, scene: str, *, venue_id: str) -> VerificationResult:
        """Verify a scanned text for ``scene`` at ``venue_id``: an online QR URL is
        redeemed first (once, across every worker), then its presentation checked.

        A refused online QR is a result (``replayed``, ``presentation_expired``,
        ``malformed``, ``key_binding_invalid``), like any failed check. Raises
        :class:`verifier.UnknownScene` for a scene not in the trust list.
        """
        if self._presentations.is_online(text):
            try:
                text = self._presentations.redeem(text, scene).presentation
            except OnlineQrRefused as err:
                return self.refused(scene, err.code, err.message)
        return self.online.verify(text, scene, venue_id=venue_id)

    def refused(self, scene: str, code: str, message: str) -> VerificationResult:
        """A result for a QR that never reached the verifier (an image without a code,
        a refused online token)."""
        checked_at = int(self._presentations.clock())
        return VerificationResult(
            scene=scene, checked_at=checked_at, errors=[{"code": code, "message": message}]
        )
