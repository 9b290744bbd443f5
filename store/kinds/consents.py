"""Consents (issue 11): a department asks to look a proof about a citizen up, and the
citizen approves or declines it in the wallet; or the citizen grants one directly; and
may withdraw any at once.

A record is kept under the citizen's pseudonym (``citizen``) with the asking
department's issuer slug, the proof type id and the state in clear (a lookup filters
on them); the purpose the clerk typed is sealed by the service (``blob``). ``until``
is the first second (epoch, UTC) at which the consent no longer holds.

A state only moves by :meth:`ConsentStore.set_consent_state`, a compare-and-set on the
current state: of two taps, or of a withdrawal racing an approval, exactly one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

__all__ = [
    "CONSENT_CAP",
    "CONSENT_ORIGINS",
    "CONSENT_STATES",
    "ConsentOrigin",
    "ConsentRecord",
    "ConsentState",
    "ConsentStore",
]

ConsentState = Literal["pending", "granted", "declined", "withdrawn"]
CONSENT_STATES: tuple[str, ...] = get_args(ConsentState)
ConsentOrigin = Literal["request", "grant"]
CONSENT_ORIGINS: tuple[str, ...] = get_args(ConsentOrigin)

#: Consents kept per citizen, in every backend. A new one beyond this drops the oldest
#: that no longer counts (declined, withdrawn, pending, or granted but expired by the new
#: one's ``created_at``); when all of them still count, it is refused.
CONSENT_CAP = 200


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One consent (``citizen`` is the pseudonym; ``department`` an issuer slug)."""

    consent_id: str
    citizen: str
    department: str
    proof_type: str
    state: ConsentState
    origin: ConsentOrigin
    created_at: int
    updated_at: int
    until: int
    blob: bytes


@runtime_checkable
class ConsentStore(Protocol):
    """Each citizen's newest :data:`CONSENT_CAP` consents, and a lookup by id."""

    def put_consent(self, record: ConsentRecord) -> bool:
        """Insert a new consent; False (nothing written) when the citizen already holds
        :data:`CONSENT_CAP` consents that all still count. Raises :class:`Conflict` for
        an id already taken."""

    def get_consent(self, consent_id: str) -> ConsentRecord | None:
        """The consent of this id (of any citizen), or None."""

    def list_consents(self, citizen: str, limit: int = 50) -> list[ConsentRecord]:
        """The citizen's newest ``limit`` (at most :data:`CONSENT_CAP`), newest first
        (``created_at``, then id, descending)."""

    def set_consent_state(
        self, consent_id: str, state: ConsentState, *, expect: ConsentState, at: int
    ) -> bool:
        """Move the consent to ``state`` (``updated_at = at``) only if its state is now
        ``expect``, in one step; False (nothing written) if it is not, or if there is no
        consent of this id."""
