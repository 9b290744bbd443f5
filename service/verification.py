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

import dataclasses
import hashlib
import threading
import time
from collections.abc import Callable
from typing import cast

from issuer import Platform
from issuer.keyring import TRUST_VERSION
from service.accounts import api_key_revocations
from service.errors import OnlineQrOtherScene, OnlineQrRefused
from service.presentations import QrPresentations
from service.uses import Use, Uses
from store.interface import (
    ActivityRecord,
    ApiKeyRecord,
    CredentialRecord,
    StatusListRecord,
    StatusListStore,
    Store,
    TrustStore,
    VenueRecord,
)
from store.kinds.activity import new_event_id
from store.kinds.settle import (
    SettleOutcome,
    SettleRequest,
    SettleStore,
    fill_activity,
    settle_by_parts,
)
from verifier import LiveTrustSource, VerificationResult, Verifier
from verifier.deferred import (
    Deferral,
    DeferringReplay,
    DeferringStatus,
    apply_settled,
    deferring,
)
from verifier.errors import StatusUnavailable, UnknownScene
from verifier.result import ErrorDict
from verifier.sets import member_error, worst_status
from verifier.status import replayed, status_outcome

__all__ = [
    "LiveStatusSource",
    "OnlineVerifier",
    "StatusLists",
    "StoreNonceCache",
    "VenueKeys",
    "Verification",
    "build_online_verifier",
    "nonce_key",
    "settle",
]


#: Seconds between two reads of the store's trust version by one online verifier.
TRUST_CHECK_EVERY = 1.0
#: Status list records kept per worker (they never change once created).
STATUS_LISTS_KEPT = 1024
#: Seconds a venue's API key (and its venue) is trusted per worker without a store read.
VENUE_KEY_TTL = 2.0
#: Venue keys kept per worker.
VENUE_KEYS_KEPT = 1024


def nonce_key(nonce: str) -> str:
    """The store key of an accepted key-binding nonce (its SHA-256, never the nonce)."""
    return "kb-nonce:" + hashlib.sha256(nonce.encode("utf-8")).hexdigest()


class StatusLists:
    """Status list records (``uri`` -> issuer, size) kept per worker: they never change
    once a list exists. At most ``kept`` records (the oldest kept goes first); a uri
    the store does not know is never kept (the list may be created later)."""

    def __init__(self, store: StatusListStore, *, kept: int = STATUS_LISTS_KEPT) -> None:
        self._store = store
        self._kept = kept
        self._records: dict[str, StatusListRecord] = {}
        self._lock = threading.Lock()

    def get(self, uri: str) -> StatusListRecord | None:
        """The record of the list at ``uri``, or None."""
        record = self._records.get(uri)
        if record is not None:
            return record
        record = self._store.get_status_list(uri)
        if record is not None and self._kept > 0:
            with self._lock:
                while len(self._records) >= self._kept:
                    self._records.pop(next(iter(self._records)))
                self._records[uri] = record
        return record

    def __len__(self) -> int:
        return len(self._records)


class LiveStatusSource:
    """Status values read from the store at once: a revocation counts immediately.

    The list's record (issuer, size) comes from :class:`StatusLists`; the value is
    read every time."""

    def __init__(self, store: Store, lists: StatusLists | None = None) -> None:
        self._store = store
        self._lists = lists or StatusLists(store)

    def check(self, iss: str, uri: str, idx: int) -> None:
        """Raises ``StatusUnavailable`` unless ``iss`` has a list at ``uri`` holding ``idx``."""
        record = self._lists.get(uri)
        if record is None or record.issuer != iss:
            raise StatusUnavailable("no status list of the credential's issuer at this uri")
        if not 0 <= idx < record.size:
            raise StatusUnavailable("the status index is outside the status list")

    def lookup(self, iss: str, uri: str, idx: int, now: float) -> int:
        """See :class:`verifier.StatusSource`. Raises ``StatusUnavailable``."""
        self.check(iss, uri, idx)
        return self._store.get_status(uri, idx)


class StoreNonceCache:
    """The one nonce cache: accepted nonces in a store, so that every worker (or every
    run of ``ecert verify --replay-db``) sees every replay."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def check_and_add(self, nonce: str, expires_at: float, now: float) -> bool:
        """See :class:`verifier.NonceCache`."""
        return self._store.remember_nonce(nonce_key(nonce), expires_at, now)


def build_online_verifier(
    store: Store,
    platform: Platform,
    clock: Callable[[], float],
    lists: StatusLists | None = None,
) -> Verifier:
    """The verifier over the live trust data, live status and the store's nonce cache.

    The one place that constructs it: the trust list is the platform's registry held
    in memory (:class:`~verifier.LiveTrustSource`), so nothing is signed or parsed again.
    Inside :func:`verifier.deferred.deferring` its status value and replay check are
    left to :meth:`OnlineVerifier.verify`'s settle; anywhere else they are live.
    """
    status = LiveStatusSource(store, lists)
    return Verifier(
        LiveTrustSource(platform.live_trust_list(), DeferringStatus(status, status.check)),
        clock=clock,
        replay=DeferringReplay(StoreNonceCache(store)),
        live=True,  # status read from the store now: scenes needing an online check pass
    )


#: Whether a store class settles in one operation (a Protocol isinstance costs ~10 µs).
_SETTLES: dict[type, bool] = {}


def settle(store: Store, request: SettleRequest) -> SettleOutcome:
    """The store's one-operation settle, or the same made of its per-kind calls."""
    kind = type(store)
    fast = _SETTLES.get(kind)
    if fast is None:
        fast = _SETTLES[kind] = isinstance(store, SettleStore)
    if fast:
        return cast(SettleStore, store).settle(request)
    return settle_by_parts(store, request)


class OnlineVerifier:
    """A :class:`Verifier` over the live trust data, rebuilt when it changes.

    The store's trust version (issuers, keys, scenes) is read on every verification,
    or with ``check_every`` (the HTTP service sets :data:`TRUST_CHECK_EVERY`) at most
    once every ``check_every`` seconds: a trust change then reaches a worker up to
    that long later. The verifier is rebuilt when the version changed or after
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
        check_every: float = 0.0,
        uses: Uses | None = None,
    ) -> None:
        self._store = store
        self._platform = platform
        #: where every verification is published once it is over (:mod:`service.uses`)
        self.uses = Uses() if uses is None else uses
        self._clock = clock
        self._refresh = refresh
        #: seconds between two reads of the trust version (0: every time)
        self.check_every = check_every
        self._lock = threading.Lock()
        self._lists = StatusLists(store)
        # (trust version, built at, checked at, verifier)
        self._current: tuple[bytes | None, float, float, Verifier] | None = None

    @property
    def store(self) -> Store:
        """The store the verifier reads."""
        return self._store

    def verifier(self) -> Verifier:
        """The verifier for the current trust data (as of at most ``check_every`` ago)."""
        now = self._clock()
        current = self._current
        if current is not None and 0 <= now - current[2] < self.check_every:
            return current[3]
        version = self._store.get_config(TRUST_VERSION)
        if current is not None and current[0] == version and now - current[1] < self._refresh:
            self._current = (version, current[1], now, current[3])
            return current[3]
        with self._lock:
            verifier = build_online_verifier(self._store, self._platform, self._clock, self._lists)
            self._current = (version, now, now, verifier)
            return verifier

    def check(self, text: str, scene: str) -> tuple[VerificationResult, CredentialRecord | None]:
        """Verify with the live status but without using up the nonce or logging an
        activity: for a presentation the service holds for a venue to scan later (the
        nonce is the venue's). Returns the result and the credential's registry record
        (None when unknown). Raises :class:`verifier.UnknownScene`.
        """
        verifier = self.verifier()
        with deferring() as deferral:
            result = verifier.verify(text, scene)
        if result.members is not None:  # a set: every member's status, no nonce used
            found = self._settle_set(result, deferral, use_nonce=False)
            return result, found[0][1] if found else None
        outcome = settle(
            self._store,
            SettleRequest(
                status=deferral.status,
                registry=result.status_ref if result.iss is not None else None,
                issuer=result.iss,
                nonce=None,
                nonce_expires_at=0.0,
                now=deferral.now,
                activity=None,
            ),
        )
        apply_settled(result, deferral, outcome.status, None)
        return result, outcome.credential

    def verify(
        self,
        text: str,
        scene: str,
        *,
        venue_id: str,
        expected_aud: str | None = None,
        expected_nonce: str | None = None,
    ) -> VerificationResult:
        """Verify with live status and shared replay detection, and log the check in
        the citizen's activity (claim names only) when the credential is known.

        The signatures and every check of the presentation run first; the status
        value, the replay check, the registry lookup and the activity are then one
        store operation (:func:`settle`). ``expected_aud`` and ``expected_nonce`` are
        the key-binding JWT's, when a request set them (OpenID4VP: the client id and
        the request's nonce, :mod:`service.oid4vp`). Raises
        :class:`verifier.UnknownScene` for a scene not in the trust list.
        """
        verifier = self.verifier()
        with deferring() as deferral:
            result = verifier.verify(
                text, scene, expected_aud=expected_aud, expected_nonce=expected_nonce
            )
        if result.members is not None:
            self._log_set(result, venue_id, self._settle_set(result, deferral, use_nonce=True))
            return result
        ref = result.status_ref if result.iss is not None else None
        event_id = new_event_id()
        if ref is None and deferral.status is None and deferral.nonce is None:
            self.publish(event_id, result, venue_id, None)
            return result
        draft = None
        if ref is not None:
            draft = ActivityRecord(
                event_id=event_id,
                citizen_id="",
                at=result.checked_at,
                venue_id=venue_id,
                scene=scene,
                vct=result.vct,
                credential_id=None,
                claims=tuple(result.claims),
                valid=result.valid,
                codes=tuple(result.codes),
            )
        outcome = settle(
            self._store,
            SettleRequest(
                status=deferral.status,
                registry=ref,
                issuer=result.iss,
                nonce=None if deferral.nonce is None else nonce_key(deferral.nonce),
                nonce_expires_at=deferral.expires_at,
                now=deferral.now,
                activity=draft,
            ),
        )
        apply_settled(result, deferral, outcome.status, outcome.fresh)
        if draft is not None and outcome.credential is not None and not outcome.logged:
            # the outcome changed the event (revoked, replayed…): log it as it ended
            event = dataclasses.replace(
                draft,
                claims=tuple(result.claims),
                valid=result.valid,
                codes=tuple(result.codes),
            )
            self._store.add_activity(fill_activity(event, outcome.credential))
        self.publish(event_id, result, venue_id, outcome.credential)
        return result

    def _settle_set(
        self, result: VerificationResult, deferral: Deferral, *, use_nonce: bool
    ) -> list[tuple[int, CredentialRecord]]:
        """What the deferral left of a set presentation, member by member: each member's
        live status value (its refusal names the member), then (``use_nonce``, and only
        for a set without errors) the set's one nonce. Returns the members the registry
        knows, with their records. Claims are cleared on any error.

        Not the one-operation settle of a single presentation: a set reads one status
        value per member, then remembers its nonce (a few store operations)."""
        members = result.members or []
        for i, ref in enumerate(result.member_refs):
            if ref is None:
                continue
            name, error = status_outcome(self._store.get_status(*ref))
            if error is not None:
                members[i]["status"] = name
                err: ErrorDict = {"code": error.code, "message": error.message}
                result.errors.append(member_error(i, members[i]["vct"], err))
        result.status = worst_status([m["status"] for m in members])
        if use_nonce and deferral.nonce is not None and not result.errors:
            key = nonce_key(deferral.nonce)
            if not self._store.remember_nonce(key, deferral.expires_at, deferral.now):
                again = replayed()
                result.errors.append({"code": again.code, "message": again.message})
        if result.errors:
            result.claims = {}
        found: list[tuple[int, CredentialRecord]] = []
        for i, ref in enumerate(result.member_refs):
            record = None if ref is None else self._store.find_credential(*ref)
            if record is not None and record.issuer == members[i]["iss"]:
                found.append((i, record))
        return found

    def _log_set(
        self,
        result: VerificationResult,
        venue_id: str,
        found: list[tuple[int, CredentialRecord]],
    ) -> None:
        """Log a set's check in the activity of each member's citizen (one event per
        member: ``<event id>-<member index>``, that member's type and claim names, the
        set's outcome), and publish it once as a use naming every member."""
        members = result.members or []
        event_id = new_event_id()
        for i, record in found:
            vct = members[i]["vct"]
            mine = result.claims.get(vct, {}) if vct is not None else {}
            self._store.add_activity(
                ActivityRecord(
                    event_id=f"{event_id}-{i}",
                    citizen_id=record.subject,
                    at=result.checked_at,
                    venue_id=venue_id,
                    scene=result.scene,
                    vct=vct,
                    credential_id=record.id,
                    claims=tuple(mine),
                    valid=result.valid,
                    codes=tuple(result.codes),
                )
            )
        self.publish(event_id, result, venue_id, found[0][1] if found else None)

    def publish(
        self,
        event_id: str,
        result: VerificationResult,
        venue_id: str,
        credential: CredentialRecord | None,
    ) -> None:
        """Publish the verification as a :class:`~service.uses.Use` (the citizen is the
        credential's registry subject, a pseudonym; unknown: empty). For a set, the
        fields are every member's claim names and ``credentials`` names every member."""
        fields = tuple(result.claims)
        credentials: tuple[str, ...] = ()
        if result.members is not None:
            fields = set_fields(result)
            credentials = tuple(m["vct"] or "" for m in result.members)
        self.uses.record(
            Use(
                event_id=event_id,
                kind="verification",
                at=result.checked_at,
                subject="" if credential is None else credential.subject,
                actor_kind="venue",
                actor=venue_id,
                topic=result.scene,
                fields=fields,
                accepted=result.valid,
                codes=tuple(result.codes),
                credentials=credentials,
            )
        )


def set_fields(result: VerificationResult) -> tuple[str, ...]:
    """A set result's claim names: every member's, in order, each once."""
    names: dict[str, None] = {}
    for claims in result.claims.values():
        if isinstance(claims, dict):
            names.update(dict.fromkeys(claims))
    return tuple(names)


class VenueKeys:
    """Venue API keys and their venues, kept per worker for ``ttl`` seconds.

    Only a live venue key whose venue exists is kept (by the SHA-256 of the secret);
    an unknown, revoked or wrong-kind key is asked of the store every time. A key
    revoked by another process while kept keeps working up to ``ttl`` seconds
    (:data:`VENUE_KEY_TTL`) in a worker that saw it just before; a revocation by this
    process (``revocations`` changes) empties the cache at once. At most ``kept`` keys
    (the oldest goes first).
    """

    def __init__(
        self,
        api_key: Callable[[str], ApiKeyRecord],
        store: TrustStore,
        *,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = VENUE_KEY_TTL,
        kept: int = VENUE_KEYS_KEPT,
        revocations: Callable[[], int] = api_key_revocations,
    ) -> None:
        self._api_key = api_key
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._kept = kept
        self._revocations = revocations
        self._seen = revocations()
        self._entries: dict[str, tuple[float, ApiKeyRecord, VenueRecord]] = {}
        self._lock = threading.Lock()

    def venue(self, secret: str) -> tuple[ApiKeyRecord, VenueRecord | None]:
        """The live venue key with this secret and its venue (None: not registered).

        Raises :class:`~service.errors.AuthError` (from ``api_key``) for no valid key.
        """
        name = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
        now = self._clock()
        revocations = self._revocations()
        if revocations != self._seen:  # a key revoked by this process: forget them all
            with self._lock:
                self._entries.clear()
                self._seen = revocations
        entry = self._entries.get(name)
        if entry is not None and 0 <= now - entry[0] < self._ttl:
            return entry[1], entry[2]
        key = self._api_key(secret)
        venue = self._store.get_venue(key.principal)
        with self._lock:
            if venue is None or self._kept <= 0:
                self._entries.pop(name, None)
            else:
                self._entries.pop(name, None)
                while len(self._entries) >= self._kept:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[name] = (now, key, venue)
        return key, venue

    def __len__(self) -> int:
        return len(self._entries)


class Verification:
    """A venue's online verification: redeem an online QR, verify, log the activity."""

    def __init__(self, online: OnlineVerifier, presentations: QrPresentations) -> None:
        self.online = online
        self._presentations = presentations

    def require_scene(self, scene: str) -> None:
        """Raises :class:`verifier.UnknownScene` for a scene not in the live trust list."""
        try:
            self.online.verifier().source.scene(scene)
        except UnknownScene:
            raise UnknownScene("No scene with this id.") from None

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
                refused = self.refused(scene, err.code, err.message)
                if isinstance(err, OnlineQrOtherScene):
                    refused.made_for = err.made_for
                self.online.publish(new_event_id(), refused, venue_id, None)
                return refused
        return self.online.verify(text, scene, venue_id=venue_id)

    def refused(self, scene: str, code: str, message: str) -> VerificationResult:
        """A result for a QR that never reached the verifier (an image without a code,
        a refused online token)."""
        checked_at = int(self._presentations.clock())
        return VerificationResult(
            scene=scene, checked_at=checked_at, errors=[{"code": code, "message": message}]
        )
