"""Notices to a citizen: what the wallet page tells them happened on their behalf (a
name changed on four certificates; a subsidy certificate arrived; a certificate was
re-issued for their security). Kept under the citizen's pseudonym; the text and the
credential ids are sealed by the service (``blob``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["NOTICE_CAP", "NoticeRecord", "NoticeStore"]

#: Notices kept per citizen (the oldest beyond this are dropped), in every backend.
NOTICE_CAP = 200


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    """One notice (``citizen_id`` is the pseudonym; ``notice_id`` sorts by time)."""

    citizen_id: str
    notice_id: str
    created_at: int
    kind: str
    blob: bytes


@runtime_checkable
class NoticeStore(Protocol):
    """Each citizen's newest :data:`NOTICE_CAP` notices."""

    def put_notice(self, record: NoticeRecord) -> None:
        """Insert or replace the notice with this citizen and id."""

    def put_notices(self, records: list[NoticeRecord]) -> None:
        """:meth:`put_notice` for many notices, of any citizens, at once (a batch's chunk;
        not one transaction on Redis)."""

    def list_notices(self, citizen_id: str, limit: int = 50) -> list[NoticeRecord]:
        """The newest ``limit``, newest first (``created_at``, then id, descending)."""

    def delete_notice(self, citizen_id: str, notice_id: str) -> bool:
        """Remove one; False if it was not there."""
