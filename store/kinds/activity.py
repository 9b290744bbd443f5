"""The activity log: which venue checked which of a citizen's credentials."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["ACTIVITY_CAP", "ActivityRecord", "ActivityStore", "new_event_id"]

#: Events kept per citizen (the oldest beyond this are dropped), in every backend.
ACTIVITY_CAP = 1000

_last_ns = 0
_ns_lock = threading.Lock()


def new_event_id() -> str:
    """A new event id that sorts, as text, after every id made before it.

    ``at`` has a resolution of one second, and every backend breaks ties by event id
    (descending): ids in the order they are made keep the activity newest first even
    for checks within one second. 16 hex digits of the nanosecond clock (made strictly
    increasing in this process), then 8 random ones so that two processes never collide.
    """
    global _last_ns
    with _ns_lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        ns = _last_ns
    return f"{ns:016x}{secrets.token_hex(4)}"


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
