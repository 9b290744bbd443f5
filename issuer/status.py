"""Status lists (IETF Token Status List): allocation at random, updates, publication."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable

from issuer.errors import IssuerError, StatusListFull
from keys import SigningKey, sign_compact
from sdjwt import TYP_STATUS_LIST, StatusList
from store.interface import Conflict, StatusListRecord, Store

#: Default list size: 2**20 entries. Large lists give herd privacy (a verifier that
#: fetches a list learns nothing about which of a million credentials it checks).
DEFAULT_LIST_SIZE = 1 << 20
DEFAULT_BITS = 2
#: A list stops taking new credentials at this fill ratio, so a random draw
#: finds a free index in a few tries (expected tries ≤ 1 / (1 - 0.75) = 4).
FILL_LIMIT = 0.75
MAX_DRAWS = 64
#: Published list tokens: re-fetch hourly (``ttl``), never trust after a day (``exp``).
DEFAULT_TTL = 3600
DEFAULT_LIFETIME = 24 * 3600


class StatusRegistry:
    """Allocates status indices at random (herd privacy) and publishes signed lists."""

    def __init__(
        self,
        store: Store,
        *,
        list_size: int = DEFAULT_LIST_SIZE,
        bits: int = DEFAULT_BITS,
        clock: Callable[[], float] = time.time,
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        if bits not in (2, 4, 8):
            # suspension (value 2) needs at least two bits
            raise IssuerError("status lists need 2, 4 or 8 bits per entry")
        self._store = store
        self._size = list_size
        self._bits = bits
        self._clock = clock
        self._randbelow = randbelow

    def allocate(self, issuer: str) -> tuple[str, int]:
        """Claim a random unused index in one of the issuer's lists; returns ``(uri, idx)``.

        Opens a new list when the current ones are full. Raises :class:`StatusListFull`
        only if a fresh list cannot give an index either.
        """
        for record in reversed(self._store.list_status_lists(issuer)):
            if self._store.count_claimed(record.uri) < record.size * FILL_LIMIT:
                idx = self._draw(record)
                if idx is not None:
                    return record.uri, idx
        record = self._new_list(issuer)
        idx = self._draw(record)
        if idx is None:
            raise StatusListFull(f"no free index in the new status list {record.uri}")
        return record.uri, idx

    def allocate_many(self, issuer: str, count: int) -> list[tuple[str, int]]:
        """``count`` random unused indices, as :meth:`allocate` gives one, claimed a
        list at a time in one store call per draw (bulk issuance).

        Each round draws as many distinct indices as are still needed (no more than the
        list has room for below :data:`FILL_LIMIT`) and claims them at once; those
        already taken are drawn again, up to :data:`MAX_DRAWS` rounds a list. Raises
        :class:`StatusListFull` only if a fresh list cannot give an index either.
        """
        got: list[tuple[str, int]] = []
        tried: set[str] = set()  # lists where a whole round of draws found nothing
        while len(got) < count:
            record = self._open_list(issuer, tried)
            fresh = record is None
            if record is None:
                record = self._new_list(issuer)
            before = len(got)
            for _ in range(MAX_DRAWS):
                limit = math.ceil(record.size * FILL_LIMIT)
                room = limit - self._store.count_claimed(record.uri)
                want = min(count - len(got), max(room, 1 if fresh else 0))
                if want <= 0:
                    break
                drawn = list({self._randbelow(record.size) for _ in range(want)})
                claimed = self._store.claim_status_indices(record.uri, drawn)
                got.extend((record.uri, i) for i, ok in zip(drawn, claimed, strict=True) if ok)
                if len(got) >= count:
                    break
            if len(got) == before:
                if fresh:
                    raise StatusListFull(f"no free index in the new status list {record.uri}")
                tried.add(record.uri)
        return got

    def _open_list(self, issuer: str, skip: set[str]) -> StatusListRecord | None:
        """The newest of the issuer's lists still below :data:`FILL_LIMIT` (but those in
        ``skip``), or None."""
        for record in reversed(self._store.list_status_lists(issuer)):
            if record.uri in skip:
                continue
            if self._store.count_claimed(record.uri) < record.size * FILL_LIMIT:
                return record
        return None

    def set(self, uri: str, idx: int, value: int) -> None:
        """Set one status value (0 valid, 1 revoked, 2 suspended).

        Also records a new version of the list, so that caches of its signed token
        (``store.status_list_version(uri)``) are refreshed at once.
        """
        self._store.set_status(uri, idx, value)
        self._store.bump_status_list_version(uri)

    def publish(
        self,
        uri: str,
        key: SigningKey,
        *,
        ttl: int = DEFAULT_TTL,
        lifetime: int = DEFAULT_LIFETIME,
    ) -> str:
        """Sign the list at ``uri`` as a ``statuslist+jwt`` with the issuer's key.

        The ``iat`` comes from the store's stamp (:meth:`Store.stamp_status_list`):
        never older than a list published before for this ``uri``, and strictly newer
        whenever the content changed, even twice in one second or across workers, so
        verifiers that refuse rolled-back lists (IETF Token Status List) accept every
        list the service publishes. Raises :class:`IssuerError` for an unknown list.
        """
        record = self._store.get_status_list(uri)
        if record is None:
            raise IssuerError(f"no status list {uri}")
        iat, data = self._store.stamp_status_list(uri, int(self._clock()))
        return encode_status_list_token(
            StatusList(record.bits, data),
            uri=uri,
            iss=record.issuer,
            key=key,
            now=iat,
            ttl=ttl,
            lifetime=lifetime,
        )

    def _draw(self, record: StatusListRecord) -> int | None:
        for _ in range(MAX_DRAWS):
            idx = self._randbelow(record.size)
            if self._store.claim_status_index(record.uri, idx):
                return idx
        return None

    def _new_list(self, issuer: str) -> StatusListRecord:
        # Two workers may open a list at once: the loser takes the winner's list.
        for _ in range(8):
            number = len(self._store.list_status_lists(issuer)) + 1
            record = StatusListRecord(
                uri=f"{issuer}/status/{number}",
                issuer=issuer,
                bits=self._bits,
                size=self._size,
                created_at=int(self._clock()),
            )
            try:
                self._store.create_status_list(record)
            except Conflict:
                existing = self._store.get_status_list(record.uri)
                if existing is not None:
                    return existing
                continue
            return record
        raise StatusListFull(f"could not open a new status list for {issuer}")


def encode_status_list_token(
    statuses: StatusList,
    *,
    uri: str,
    iss: str,
    key: SigningKey,
    now: int,
    ttl: int = DEFAULT_TTL,
    lifetime: int = DEFAULT_LIFETIME,
) -> str:
    """A signed Status List Token (``typ: statuslist+jwt``) for ``statuses``."""
    payload = {
        "iss": iss,
        "sub": uri,
        "iat": now,
        "exp": now + lifetime,
        "ttl": ttl,
        "status_list": {"bits": statuses.bits, "lst": statuses.encode()},
    }
    return sign_compact(payload, key, typ=TYP_STATUS_LIST)
