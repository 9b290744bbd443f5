"""The audit chain: every use of a citizen's data, one entry each, linked by hashes.

The store keeps the entries and assigns their sequence numbers; the service
(:mod:`service.audit`) builds each entry's body, hash and keyed tag. Appending is atomic:
the next ``seq`` and the link to the current tail (``prev``) are decided together with
the write, so that concurrent appenders leave one chain with no gap and no fork.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "AUDIT_GENESIS",
    "MAX_AUDIT_BATCH",
    "MAX_AUDIT_PAGE",
    "AuditEntry",
    "AuditLink",
    "AuditStore",
]

#: The ``prev`` of the first entry (``seq`` 1): 64 zeros.
AUDIT_GENESIS = "0" * 64
#: The most entries one :meth:`AuditStore.audit_range` call returns.
MAX_AUDIT_PAGE = 1000
#: The most entries one :meth:`AuditStore.append_audit_batch` call appends.
MAX_AUDIT_BATCH = 256


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the chain.

    ``body`` is the canonical JSON of the use (free text sealed inside it); ``prev`` the
    ``hash`` of entry ``seq - 1`` (:data:`AUDIT_GENESIS` for ``seq`` 1); ``hash`` the
    SHA-256 over ``seq``, ``at``, ``prev`` and ``body`` and ``tag`` the keyed tag over
    it (hex both; see docs/formats.md, "Audit entries")."""

    seq: int
    at: int
    body: bytes
    prev: str
    hash: str
    tag: str


#: Given the ``seq`` an entry gets and the ``prev`` it links to, the entry to store
#: (called inside the atomic append; on Redis again after a lost race).
AuditLink = Callable[[int, str], AuditEntry]


@runtime_checkable
class AuditStore(Protocol):
    """The chain of audit entries."""

    def append_audit(self, link: AuditLink) -> AuditEntry:
        """Append the entry ``link(seq, prev)`` builds, ``seq`` being the tail's plus one
        (1 for an empty chain) and ``prev`` the tail's ``hash`` (:data:`AUDIT_GENESIS`),
        atomically: no other append lands between reading the tail and the write. The
        entry must carry that ``seq`` and ``prev`` (else :class:`InvalidArgument`).
        Raises :class:`StoreUnavailable` when the append keeps losing races."""

    def append_audit_batch(self, links: Sequence[AuditLink]) -> list[AuditEntry]:
        """Append the entries ``links`` build, in their order, atomically as one append:
        the first linked to the tail as in :meth:`append_audit`, each next one to the one
        before it (``seq`` one more, ``prev`` its ``hash``). Nothing is written if any
        entry is refused (:class:`InvalidArgument`, as for one). At most
        :data:`MAX_AUDIT_BATCH` links (else :class:`InvalidArgument`); none appends
        nothing. Returns the entries, in order."""

    def audit_range(self, from_seq: int, count: int) -> list[AuditEntry]:
        """The entries with ``from_seq <= seq < from_seq + count``, by ``seq`` (a missing
        ``seq`` is simply absent). ``count`` is at most :data:`MAX_AUDIT_PAGE`."""

    def audit_tail(self) -> AuditEntry | None:
        """The last entry (the greatest ``seq``), or None for an empty chain."""

    def audit_first_since(self, at: int) -> int | None:
        """The ``seq`` of the earliest entry with ``at`` at or after ``at`` (ties: the
        smallest ``seq``), or None if there is none."""
