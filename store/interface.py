"""The storage contract shared by every backend.

The domain packages (``issuer``, ``wallet``) depend on this module only: it imports
no driver. Backends live beside it (:mod:`store.sqlite`, :mod:`store.redis`) and the
same contract tests (``tests/test_store.py``) run against each of them.

Nothing here holds personal data in clear: the credential registry keeps ids, types,
the subject's citizen id, the status index and the key id, never the disclosures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

# The store's errors live in store/errors.py; re-exported here, where the domain and
# the backends import the storage contract from.
from store.errors import Conflict as Conflict
from store.errors import InvalidArgument as InvalidArgument
from store.errors import NotFound as NotFound
from store.errors import StoreError as StoreError
from store.errors import StoreUnavailable as StoreUnavailable

KeyStateName = Literal["pending", "active", "retired", "compromised"]
CredentialState = Literal["valid", "revoked", "suspended"]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A signing key at rest.

    ``owner`` is the issuer URL, or ``"anchor"`` for the platform trust anchor.
    ``private_blob`` is the key encrypted by :mod:`keys.keystore` (never clear text).
    ``public_jwk`` is the JSON text of the public JWK (with ``kid``).
    """

    kid: str
    owner: str
    alg: str
    state: KeyStateName
    public_jwk: str
    private_blob: bytes
    created_at: int


@dataclass(frozen=True, slots=True)
class IssuerRecord:
    """A department allowed to issue: its URL, names and the credential types it may issue."""

    iss: str
    slug: str
    name_zh: str
    name_en: str
    vcts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StatusListRecord:
    """Metadata of one status list; the bits themselves are kept by the backend."""

    uri: str
    issuer: str
    bits: int
    size: int
    created_at: int


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """One issued credential in the registry (no personal data besides the subject id)."""

    id: str
    vct: str
    issuer: str
    subject: str
    kid: str
    status_uri: str
    status_idx: int
    issued_at: int
    expires_at: int
    state: CredentialState = "valid"


@dataclass(frozen=True, slots=True)
class CitizenRecord:
    """A citizen's account. ``password_hash`` is an Argon2id PHC string, or "" for a
    citizen who only logs in through the city's identity provider."""

    citizen_id: str
    password_hash: str
    created_at: int


@dataclass(frozen=True, slots=True)
class WalletRecord:
    """A citizen's wallet keys, both wrapped (never in clear).

    ``key_blob`` is the citizen's data key wrapped with the platform's wallet key;
    ``holder_blob`` the holder's P-256 private key wrapped with that data key.
    """

    citizen_id: str
    holder_kid: str
    holder_blob: bytes
    key_blob: bytes
    created_at: int


@dataclass(frozen=True, slots=True)
class WalletItem:
    """One credential in a wallet. ``blob`` is the SD-JWT encrypted with the citizen's
    data key (AES-GCM, the citizen and credential id as associated data); the other
    fields are what the registry already knows in clear."""

    citizen_id: str
    credential_id: str
    vct: str
    issuer: str
    expires_at: int
    added_at: int
    blob: bytes


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A citizen's bearer session; only the SHA-256 of the token is stored."""

    token_hash: str
    citizen_id: str
    created_at: int
    expires_at: int


ApiKeyKind = Literal["department", "venue"]


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A department's or venue's API key; only the SHA-256 of the secret is stored.

    ``principal`` is the issuer URL (department) or the venue id.
    """

    key_id: str
    key_hash: str
    kind: ApiKeyKind
    principal: str
    created_at: int
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class VenueRecord:
    """A venue (hotel, bank…) and the scenes its staff may verify for."""

    venue_id: str
    name_zh: str
    name_en: str
    scenes: tuple[str, ...]
    created_at: int


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """One verification of a citizen's credential seen by the service.

    ``claims`` holds claim *names* only, never values.
    """

    event_id: str
    citizen_id: str
    at: int
    venue_id: str
    scene: str
    vct: str | None
    credential_id: str | None
    claims: tuple[str, ...]
    valid: bool
    codes: tuple[str, ...]


KEY_STATES: tuple[str, ...] = get_args(KeyStateName)
CREDENTIAL_STATES: tuple[str, ...] = get_args(CredentialState)
ALLOWED_BITS = (1, 2, 4, 8)


def check_state(state: str, allowed: tuple[str, ...]) -> None:
    """Raise :class:`InvalidArgument` for a state outside ``allowed``."""
    if state not in allowed:
        raise InvalidArgument(f"unknown state {state!r}")


def check_list_shape(record: StatusListRecord) -> None:
    """Raise :class:`InvalidArgument` for bits not in 1, 2, 4, 8 or a size below 1."""
    if record.bits not in ALLOWED_BITS:
        raise InvalidArgument(f"bits must be 1, 2, 4 or 8, not {record.bits}")
    if record.size < 1:
        raise InvalidArgument(f"size must be positive, not {record.size}")


#: How far ahead of ``now`` a status list's ``iat`` may be pushed by content changes
#: published faster than once a second (verifiers refuse lists dated far in the future).
STATUS_MAX_AHEAD = 60


def next_status_iat(last: tuple[int, str] | None, now: int, digest: str) -> int | None:
    """The ``iat`` to publish a list with content ``digest`` under, after ``last``.

    ``last`` is the ``(iat, digest)`` stamped before. At least ``now`` and the last
    ``iat``; strictly greater than the last ``iat`` when the content changed, so that
    one ``iat`` always stands for one content (IETF Token Status List, rollback).
    None when that would put the ``iat`` more than :data:`STATUS_MAX_AHEAD` seconds
    after ``now`` (a burst of changes): then the last stamped content is published
    again under its own ``iat`` until the clock catches up.
    """
    if last is None:
        return now
    last_iat, last_digest = last
    if digest == last_digest:
        return max(now, last_iat)
    iat = max(now, last_iat + 1)
    return None if iat > now + STATUS_MAX_AHEAD else iat


def packed_length(bits: int, size: int) -> int:
    """Bytes that ``size`` entries of ``bits`` bits take."""
    return (size * bits + 7) // 8


# -- sliding windows (login failures) ----------------------------------------------------

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


def check_limits(limits: Sequence[Limit]) -> tuple[Limit, ...]:
    """The limits as a tuple; raises :class:`InvalidArgument` unless there are 1 to
    :data:`MAX_LIMITS` of them, each with an integer ``count`` in 1..10,000 and
    ``window`` in 1 s..31 days."""
    got = tuple(limits)
    if not 1 <= len(got) <= MAX_LIMITS:
        raise InvalidArgument(f"1 to {MAX_LIMITS} limits are needed, not {len(got)}")
    for limit in got:
        if not isinstance(limit, Limit):
            raise InvalidArgument(f"not a Limit: {limit!r}")
        for value, top, what in (
            (limit.count, MAX_LIMIT_COUNT, "count"),
            (limit.window, MAX_WINDOW, "window"),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise InvalidArgument(f"a limit's {what} is an integer in 1..{top}, not {value!r}")
    return got


def check_window_name(name: str, what: str) -> None:
    """Raise :class:`InvalidArgument` for an empty or over-long counter name or entry."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_WINDOW_NAME:
        raise InvalidArgument(f"a window {what} has 1 to {MAX_WINDOW_NAME} characters")


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
class Store(Protocol):
    """What the domain needs from storage. Every method is atomic on its own."""

    # -- configuration values (small opaque blobs: trust-list settings, scene policies)
    def get_config(self, name: str) -> bytes | None: ...
    def put_config(self, name: str, value: bytes) -> None: ...

    # -- keys
    def put_key(self, record: KeyRecord) -> None:
        """Insert a key; raises :class:`Conflict` if the kid exists."""

    def get_key(self, kid: str) -> KeyRecord | None: ...
    def list_keys(self, owner: str | None = None) -> list[KeyRecord]:
        """Keys of one owner (or all), oldest first."""

    def set_key_state(self, kid: str, state: KeyStateName) -> None:
        """Raises :class:`NotFound` for an unknown kid."""

    # -- issuers (the entries of the trust list)
    def put_issuer(self, record: IssuerRecord) -> None:
        """Insert or replace the issuer with this ``iss``."""

    def get_issuer(self, iss: str) -> IssuerRecord | None: ...
    def list_issuers(self) -> list[IssuerRecord]:
        """All issuers, sorted by ``iss``."""

    # -- status lists
    def create_status_list(self, record: StatusListRecord) -> None:
        """Create a list with every entry 0; raises :class:`Conflict` if the uri exists."""

    def get_status_list(self, uri: str) -> StatusListRecord | None: ...
    def list_status_lists(self, issuer: str | None = None) -> list[StatusListRecord]:
        """Lists of one issuer (or all), oldest first."""

    def claim_status_index(self, uri: str, idx: int) -> bool:
        """Atomically mark ``idx`` as used; False if it already was. Raises NotFound."""

    def count_claimed(self, uri: str) -> int: ...
    def set_status(self, uri: str, idx: int, value: int) -> None:
        """Set the ``bits``-wide status at ``idx`` (Token Status List bit order)."""

    def get_status(self, uri: str, idx: int) -> int: ...
    def status_bytes(self, uri: str) -> bytes:
        """The whole packed array, least significant bit first (Token Status List §4.1)."""
    def stamp_status_list(self, uri: str, now: int) -> tuple[int, bytes]:
        """The packed array and the ``iat`` to publish it under, in one atomic step.

        The ``iat`` is :func:`next_status_iat` of the last stamp of the list (at least
        ``now`` and the last ``iat``, strictly greater when the bytes changed) and is
        recorded with the SHA-256 of the bytes and the bytes themselves: across every
        worker sharing the store, one ``iat`` stands for one content and never goes
        backwards. When it is None (a burst of changes has pushed the ``iat`` the
        most ahead of ``now`` it may be), the last stamp and its bytes are returned
        unchanged. Raises NotFound.
        """
    def last_status_stamp(self, uri: str) -> int | None:
        """The last ``iat`` :meth:`stamp_status_list` gave for the list, or None."""

    # -- credential registry
    def put_credential(self, record: CredentialRecord) -> None:
        """Insert; raises :class:`Conflict` if the id exists."""

    def get_credential(self, credential_id: str) -> CredentialRecord | None: ...
    def list_credentials(
        self, *, subject: str | None = None, issuer: str | None = None
    ) -> list[CredentialRecord]:
        """Filter by subject and/or issuer, ordered by ``issued_at`` then ``id``."""

    def set_credential_state(self, credential_id: str, state: CredentialState) -> None:
        """Raises :class:`NotFound` for an unknown id."""

    def find_credential(self, status_uri: str, status_idx: int) -> CredentialRecord | None:
        """The credential holding entry ``status_idx`` of the list at ``status_uri``."""

    # -- citizens
    def put_citizen(self, record: CitizenRecord) -> None:
        """Insert; raises :class:`Conflict` if the citizen exists."""

    def get_citizen(self, citizen_id: str) -> CitizenRecord | None: ...
    def set_citizen_password(self, citizen_id: str, password_hash: str) -> None:
        """Raises :class:`NotFound` for an unknown citizen."""

    def list_citizens(self) -> list[CitizenRecord]:
        """All citizens, sorted by id."""

    # -- wallets (everything of one citizen shares one Redis Cluster slot)
    def create_wallet(self, record: WalletRecord) -> bool:
        """Create the citizen's wallet; False (and nothing written) if one exists."""

    def get_wallet(self, citizen_id: str) -> WalletRecord | None: ...
    def put_wallet_item(self, item: WalletItem) -> None:
        """Insert or replace the item with this citizen and credential id."""

    def get_wallet_item(self, citizen_id: str, credential_id: str) -> WalletItem | None: ...
    def list_wallet_items(self, citizen_id: str) -> list[WalletItem]:
        """The citizen's items, ordered by ``added_at`` then ``credential_id``."""

    def delete_wallet_item(self, citizen_id: str, credential_id: str) -> bool:
        """Remove one item; False if it was not there."""

    # -- sessions
    def put_session(self, record: SessionRecord) -> None: ...
    def get_session(self, token_hash: str, now: float) -> SessionRecord | None:
        """The session, or None if unknown or expired at ``now``."""

    def delete_session(self, token_hash: str) -> None: ...

    # -- API keys and venues
    def put_api_key(self, record: ApiKeyRecord) -> None:
        """Insert; raises :class:`Conflict` if the key id or hash exists."""

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None: ...
    def list_api_keys(self, principal: str | None = None) -> list[ApiKeyRecord]:
        """Keys of one principal (or all), oldest first, ties by key id."""

    def revoke_api_key(self, key_id: str, at: int) -> None:
        """Mark revoked at ``at`` (idempotent). Raises :class:`NotFound`."""

    def put_venue(self, record: VenueRecord) -> None:
        """Insert or replace the venue with this id."""

    def get_venue(self, venue_id: str) -> VenueRecord | None: ...
    def list_venues(self) -> list[VenueRecord]:
        """All venues, sorted by id."""

    # -- activity
    def add_activity(self, record: ActivityRecord) -> None: ...
    def list_activity(self, citizen_id: str, limit: int = 100) -> list[ActivityRecord]:
        """The citizen's newest ``limit`` events, newest first (ties by event id)."""

    # -- short-lived entries shared by all workers (all honour ``now``, keep nothing past expiry)
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

    # -- sliding windows: a log of recent entries per counter (login failures)
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

    def close(self) -> None: ...
