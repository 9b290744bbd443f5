"""Every use of a citizen's data, as one event that the platform's listeners receive.

A venue's verification (answered or refused) and a department's proof query (answered
or refused) are *uses*. The use case that performs one publishes a :class:`Use` to
:meth:`Uses.record` once it is over; listeners subscribed at start-up (the audit chain,
the operator's daily counters…) each receive it in turn. A listener that raises stops
the others and reaches the caller: a use that cannot be audited is not silently lost.

A :class:`Use` holds no personal data in clear: the citizen is the pseudonym under which
the store keeps them (``subject``; empty when the service could not tell whose data it
was, e.g. a forged presentation) and the fields are claim *names*. The purpose is the
asking department's free text, which may name a person: it is in clear only in memory,
and every listener that keeps it seals it (the audit chain's ``A1``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["MAX_PURPOSE", "Use", "UseKind", "UseListener", "Uses"]

UseKind = Literal["verification", "proof_query"]
ActorKind = Literal["venue", "department"]
#: The longest purpose a department may give (characters).
MAX_PURPOSE = 200


@dataclass(frozen=True, slots=True)
class Use:
    """One use of a citizen's data.

    ``event_id`` is the id of the citizen's activity entry for it (a verification of a
    known credential) or of their proof-query record (:func:`store.kinds.activity.new_event_id`
    sorts by time). ``actor`` is the venue id (``actor_kind == "venue"``) or the asking
    department's issuer slug; ``topic`` the scene id or the proof type id; ``answered_by``
    the issuer slug that answered a proof query (empty for a verification). ``accepted``
    is the verification's ``valid`` or the query's answer; ``codes`` the stable codes of
    a refusal. For a set presentation ``fields`` are every member's claim names and
    ``credentials`` the members' types."""

    event_id: str
    kind: UseKind
    at: int
    subject: str
    actor_kind: ActorKind
    actor: str
    topic: str
    fields: tuple[str, ...] = ()
    purpose: str = ""
    answered_by: str = ""
    accepted: bool = False
    codes: tuple[str, ...] = ()
    #: a set presentation's members (their ``vct``, in order; "" for one unread); empty
    #: for a single presentation (its type is in the activity) and for proof queries
    credentials: tuple[str, ...] = ()


UseListener = Callable[[Use], None]


class Uses:
    """The listeners of uses (subscribed once, at start-up)."""

    def __init__(self) -> None:
        self._listeners: tuple[UseListener, ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, listener: UseListener) -> None:
        """Add a listener; it receives every use recorded from now on, in order."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def record(self, use: Use) -> None:
        """Hand ``use`` to every listener, in the order they subscribed."""
        for listener in self._listeners:
            listener(use)
