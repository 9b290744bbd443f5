"""Key rotation states.

``pending`` keys are published before they sign, so that offline verifiers learn
a key before they meet a credential signed with it; ``active`` keys sign;
``retired`` keys still verify but never sign; ``compromised`` keys are listed in the
trust list's ``revoked_kids`` and everything they signed is invalid.
"""

from __future__ import annotations

from enum import StrEnum


class KeyState(StrEnum):
    """The life cycle of a signing key: pending → active → retired, or → compromised."""

    PENDING = "pending"
    ACTIVE = "active"
    RETIRED = "retired"
    COMPROMISED = "compromised"

    @property
    def signs(self) -> bool:
        """Whether a key in this state may sign."""
        return self is KeyState.ACTIVE

    @property
    def published(self) -> bool:
        """Whether the key's public JWK is published in the trust list's ``jwks``."""
        return self is not KeyState.COMPROMISED


#: Allowed transitions; anything else is refused.
TRANSITIONS: dict[KeyState, frozenset[KeyState]] = {
    KeyState.PENDING: frozenset({KeyState.ACTIVE, KeyState.RETIRED, KeyState.COMPROMISED}),
    KeyState.ACTIVE: frozenset({KeyState.RETIRED, KeyState.COMPROMISED}),
    KeyState.RETIRED: frozenset({KeyState.COMPROMISED}),
    KeyState.COMPROMISED: frozenset(),
}


def can_transition(current: KeyState, new: KeyState) -> bool:
    """Whether a key may move from ``current`` to ``new``."""
    return new in TRANSITIONS[current]
