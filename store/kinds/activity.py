"""The activity log: which venue checked which of a citizen's credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["ACTIVITY_CAP", "ActivityRecord", "ActivityStore"]

#: Events kept per citizen (the oldest beyond this are dropped), in every backend.
ACTIVITY_CAP = 1000


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


@runtime_checkable
class ActivityStore(Protocol):
    """Each citizen's newest :data:`ACTIVITY_CAP` events."""

    def add_activity(self, record: ActivityRecord) -> None: ...
    def list_activity(self, citizen_id: str, limit: int = 100) -> list[ActivityRecord]:
        """The citizen's newest ``limit`` events, newest first (ties by event id)."""
