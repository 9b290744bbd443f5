"""Short-lived entries shared by all workers: fixed-window counters, nonces, once-values
and sliding-window logs (login failures). All honour the caller's ``now`` and keep
nothing past expiry.

Once-values live in declared spaces (:class:`OnceSpace`, all listed in
:data:`ONCE_SPACES`): a caller writes ``store.once(ONLINE_QR).put(digest, value,
expires_at, now)``, never a free-form key. The stored key is ``<space>:<name>`` (or the
space's name alone for a one-entry space), exactly the strings written before the spaces
were declared; a space's name holds no ``:``, so two spaces can never share a key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
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
    "MAX_ONCE_NAME",
    "MAX_ONCE_VALUE",
    "ONCE_SPACES",
    "OnceSpace",
    "OnceValues",
    "check_once_space",
    "QR_PRESENTATION",
    "ONLINE_QR",
    "ONLINE_QR_ISSUED",
    "ONLINE_QR_USED",
    "IDEMPOTENCY",
    "DEVICE_NONCE",
    "DEVICE_NONCE_USED",
    "VP_REQUEST",
    "VP_RESPONSE_USED",
    "TRUSTLIST_IAT",
    "TRUSTLIST_NEWEST",
    "OID4VCI_OFFER",
    "OID4VCI_OFFER_ID",
    "OID4VCI_TRY",
    "OID4VCI_REDEEMED",
    "OID4VCI_TOKEN",
    "OID4VCI_ISSUED",
    "OID4VCI_NONCE",
    "OID4VCI_NONCE_USED",
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


# -- once-values: declared spaces --------------------------------------------------------

#: Longest name of an entry inside a space (hex digests, an issuer URL and a digest…),
#: and longest value (a sealed presentation, a kept HTTP answer).
MAX_ONCE_NAME = 600
MAX_ONCE_VALUE = 1 << 20
_SPACE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_DAY = 24 * 3600
#: Allowed past a space's ``max_ttl``: ``now + ttl - now`` need not be ``ttl`` in floats.
_TTL_SLACK = 1.0


@dataclass(frozen=True, slots=True)
class OnceSpace:
    """A declared space of once-values: entries ``<name>:<entry name>`` (or, with
    ``single``, the one entry ``<name>``), each living at most ``max_ttl`` seconds."""

    name: str
    max_ttl: int
    single: bool = False

    def key(self, name: str) -> str:
        """The store key of the entry ``name`` (``""`` for a one-entry space).

        Raises :class:`InvalidArgument` for a name the space does not take."""
        if self.single:
            if name != "":
                raise InvalidArgument(f"the once-space {self.name!r} holds one entry, unnamed")
            return self.name
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_ONCE_NAME:
            raise InvalidArgument(f"a once-value name has 1 to {MAX_ONCE_NAME} characters")
        return f"{self.name}:{name}"


#: ``qr-presentation:<sha256 of the id>``: a shown presentation (sealed), until it
#: expires (a scene's ``max_age`` is at most an hour).
QR_PRESENTATION = OnceSpace("qr-presentation", _DAY)
#: ``online-qr:<sha256 of the token>``: an online QR's presentation (sealed), then b"".
ONLINE_QR = OnceSpace("online-qr", _DAY)
#: ``online-qr-issued:<h>``: tells an expired online QR from an unknown one (a day more).
ONLINE_QR_ISSUED = OnceSpace("online-qr-issued", 2 * _DAY)
#: ``online-qr-used:<h>``: the redemption claim, the first write wins.
ONLINE_QR_USED = OnceSpace("online-qr-used", 2 * _DAY)
#: ``idem:<scope>:<sha256 of the key>``: an Idempotency-Key's claim, then its answer
#: (kept a day today: room to keep it longer).
IDEMPOTENCY = OnceSpace("idem", 7 * _DAY)
#: ``device-nonce:<sha256 of the nonce>``: a ``c_nonce`` for a device's key proof,
#: bound to the citizen's session, taken once (five minutes).
DEVICE_NONCE = OnceSpace("device-nonce", 600)
#: ``device-nonce-used:<sha256 of the nonce>``: its spending, the first write wins.
DEVICE_NONCE_USED = OnceSpace("device-nonce-used", 600)
#: ``vp-request:<sha256 of the id>``: an OpenID4VP request (sealed), then its result.
VP_REQUEST = OnceSpace("vp-request", _DAY)
#: ``vp-response-used:<sha256 of the id>``: the request's one response, the first wins.
VP_RESPONSE_USED = OnceSpace("vp-response-used", _DAY)
#: ``trustlist-iat:<iat>``: the SHA-256 of the content signed under one ``iat``.
TRUSTLIST_IAT = OnceSpace("trustlist-iat", 400 * _DAY)
#: ``trustlist-newest``: the newest trust-list ``iat`` claimed.
TRUSTLIST_NEWEST = OnceSpace("trustlist-newest", 400 * _DAY, single=True)
#: OpenID4VCI credential offers (service/oid4vci.py), each entry named by a hash:
#: ``oid4vci-offer:<sha256 of the pre-authorized code>``: the offer, sealed (claims,
#: citizen, a keyed hash of the tx_code), kept a day past its expiry to say "expired".
OID4VCI_OFFER = OnceSpace("oid4vci-offer", 2 * _DAY)
#: ``oid4vci-offer-id:<offer id>``: the offer's state for its department (sealed).
OID4VCI_OFFER_ID = OnceSpace("oid4vci-offer-id", 2 * _DAY)
#: ``oid4vci-try:<code hash>:<n>``: the n-th transaction-code try, the first write wins.
OID4VCI_TRY = OnceSpace("oid4vci-try", 2 * _DAY)
#: ``oid4vci-redeemed:<code hash>``: the code's single redemption, the first write wins.
OID4VCI_REDEEMED = OnceSpace("oid4vci-redeemed", 2 * _DAY)
#: ``oid4vci-token:<sha256 of the access token>``: the offer it was granted for.
OID4VCI_TOKEN = OnceSpace("oid4vci-token", 3600)
#: ``oid4vci-issued:<code hash>``: the one credential an offer gives, the first wins.
OID4VCI_ISSUED = OnceSpace("oid4vci-issued", 2 * _DAY)
#: ``oid4vci-nonce:<sha256 of the c_nonce>``: a nonce of the nonce endpoint.
OID4VCI_NONCE = OnceSpace("oid4vci-nonce", 600)
#: ``oid4vci-nonce-used:<sha256 of the c_nonce>``: its spending, the first write wins.
OID4VCI_NONCE_USED = OnceSpace("oid4vci-nonce-used", 600)

#: Every once-space: :meth:`ShortLivedStore.once` refuses any other.
ONCE_SPACES: tuple[OnceSpace, ...] = (
    QR_PRESENTATION,
    ONLINE_QR,
    ONLINE_QR_ISSUED,
    ONLINE_QR_USED,
    IDEMPOTENCY,
    DEVICE_NONCE,
    DEVICE_NONCE_USED,
    VP_REQUEST,
    VP_RESPONSE_USED,
    TRUSTLIST_IAT,
    TRUSTLIST_NEWEST,
    OID4VCI_OFFER,
    OID4VCI_OFFER_ID,
    OID4VCI_TRY,
    OID4VCI_REDEEMED,
    OID4VCI_TOKEN,
    OID4VCI_ISSUED,
    OID4VCI_NONCE,
    OID4VCI_NONCE_USED,
)


def _check_declarations(spaces: Sequence[OnceSpace]) -> None:
    names = [space.name for space in spaces]
    if len(set(names)) != len(names):
        raise TypeError("two once-spaces share a name")
    for space in spaces:
        if not _SPACE_NAME.fullmatch(space.name) or not 1 <= space.max_ttl <= 400 * _DAY:
            raise TypeError(f"a malformed once-space declaration: {space!r}")


_check_declarations(ONCE_SPACES)


def check_once_space(space: OnceSpace) -> OnceSpace:
    """``space`` if it is declared in :data:`ONCE_SPACES`; raises :class:`InvalidArgument`."""
    if not isinstance(space, OnceSpace) or space not in ONCE_SPACES:
        raise InvalidArgument(f"not a declared once-space: {str(space)[:80]}")
    return space


#: A backend's raw once-value write and read, by store key (see :class:`OnceValues`).
RawPut = Callable[[str, bytes, float, float, bool], bool]
RawGet = Callable[[str, float], bytes | None]


class OnceValues:
    """The once-values of one declared space of a store (:meth:`ShortLivedStore.once`).

    Checks the entry's name, its value's size and its life (at most the space's
    ``max_ttl``), then hands the key ``<space>:<name>`` to the backend."""

    __slots__ = ("_get", "_put", "space")

    def __init__(self, space: OnceSpace, put: RawPut, get: RawGet) -> None:
        self.space = check_once_space(space)
        self._put = put
        self._get = get

    def put(
        self, name: str, value: bytes, expires_at: float, now: float, *, replace: bool = False
    ) -> bool:
        """Store ``value`` under ``name`` until ``expires_at`` unless a value is alive at
        ``now`` (or always, with ``replace``); True when written. Writing with
        ``expires_at <= now`` leaves no value under ``name``.

        Raises :class:`InvalidArgument` for a bad name, a value over
        :data:`MAX_ONCE_VALUE` bytes, or ``expires_at`` more than the space's ``max_ttl``
        (and a second, for rounding) past ``now``."""
        key = self.space.key(name)
        if not isinstance(value, bytes | bytearray | memoryview):
            raise InvalidArgument("a once-value is bytes")
        if len(value) > MAX_ONCE_VALUE:
            raise InvalidArgument(f"a once-value has at most {MAX_ONCE_VALUE} bytes")
        finite = math.isfinite(expires_at) and math.isfinite(now)  # else the backend refuses
        if finite and expires_at - now > self.space.max_ttl + _TTL_SLACK:
            raise InvalidArgument(
                f"an entry of the once-space {self.space.name!r} lives at most"
                f" {self.space.max_ttl} s"
            )
        return self._put(key, bytes(value), expires_at, now, replace)

    def get(self, name: str, now: float) -> bytes | None:
        """The value under ``name``, or None if absent or expired at ``now``."""
        return self._get(self.space.key(name), now)


@runtime_checkable
class ShortLivedStore(Protocol):
    """Counters, nonces, once-values and sliding windows."""

    def hit(self, counter: str, window: int, now: float) -> int:
        """Count one hit in the current fixed ``window`` (seconds) of ``counter``; the count.

        Windows are aligned to the epoch: up to twice a limit fits around a boundary.
        Logins use the sliding windows below instead."""

    def remember_nonce(self, nonce: str, expires_at: float, now: float) -> bool:
        """Record a nonce until ``expires_at``; False if it is already recorded (replay)."""

    def once(self, space: OnceSpace) -> OnceValues:
        """The once-values of the declared ``space`` (each write atomic: the first
        ``put`` of a name wins across workers). Raises :class:`InvalidArgument` for a
        space not in :data:`ONCE_SPACES`."""

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
