"""Status lists (IETF Token Status List): the list records and their packed bits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "ALLOWED_BITS",
    "STATUS_MAX_AHEAD",
    "StatusListRecord",
    "StatusListStore",
    "next_status_iat",
    "packed_length",
]

ALLOWED_BITS = (1, 2, 4, 8)

#: How far ahead of ``now`` a status list's ``iat`` may be pushed by content changes
#: published faster than once a second (verifiers refuse lists dated far in the future).
STATUS_MAX_AHEAD = 60


@dataclass(frozen=True, slots=True)
class StatusListRecord:
    """Metadata of one status list; the bits themselves are kept by the backend."""

    uri: str
    issuer: str
    bits: int
    size: int
    created_at: int


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


@runtime_checkable
class StatusListStore(Protocol):
    """Status lists by uri: claims of indices, statuses, and the stamped bytes."""

    def create_status_list(self, record: StatusListRecord) -> None:
        """Create a list with every entry 0; raises :class:`Conflict` if the uri exists."""

    def get_status_list(self, uri: str) -> StatusListRecord | None: ...
    def list_status_lists(self, issuer: str | None = None) -> list[StatusListRecord]:
        """Lists of one issuer (or all), oldest first."""

    def claim_status_index(self, uri: str, idx: int) -> bool:
        """Atomically mark ``idx`` as used; False if it already was. Raises NotFound."""

    def claim_status_indices(self, uri: str, indices: list[int]) -> list[bool]:
        """:meth:`claim_status_index` for many indices in one atomic step (bulk issuance):
        for each, in order, True if this call claimed it, False if it was already
        claimed (also by an earlier entry of ``indices``). Raises NotFound, and
        :class:`StoreError` for an index outside the list (then nothing is claimed)."""

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
