"""Signing keys at rest (the issuers' keys and the platform trust anchor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

__all__ = ["KEY_STATES", "KeyRecord", "KeyStateName", "KeyStore"]

KeyStateName = Literal["pending", "active", "retired", "compromised"]
KEY_STATES: tuple[str, ...] = get_args(KeyStateName)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A signing key at rest.

    ``owner`` is the issuer URL, or ``"anchor"`` for the platform trust anchor.
    ``private_blob`` is the key encrypted by :mod:`keys.keystore` (never clear text).
    ``public_jwk`` is the JSON text of the public JWK (with ``kid``).

    The times of the rotation (Unix seconds, 0 when not set): ``activate_at``, when a
    ``pending`` key becomes ``active`` by itself (0: only by hand); ``retired_at``, when
    it stopped signing; ``verify_until``, how long a ``retired`` key stays published
    (the last expiry of what it signed, found once the key has settled; 0: not known yet).
    """

    kid: str
    owner: str
    alg: str
    state: KeyStateName
    public_jwk: str
    private_blob: bytes
    created_at: int
    activate_at: int = 0
    retired_at: int = 0
    verify_until: int = 0


@runtime_checkable
class KeyStore(Protocol):
    """Keys by kid, listed per owner."""

    def put_key(self, record: KeyRecord) -> None:
        """Insert a key; raises :class:`Conflict` if the kid exists."""

    def get_key(self, kid: str) -> KeyRecord | None: ...
    def list_keys(self, owner: str | None = None) -> list[KeyRecord]:
        """Keys of one owner (or all), oldest first."""

    def set_key_state(self, kid: str, state: KeyStateName) -> None:
        """Raises :class:`NotFound` for an unknown kid."""

    def update_key(
        self,
        kid: str,
        *,
        expect: KeyStateName,
        state: KeyStateName,
        activate_at: int | None = None,
        retired_at: int | None = None,
        verify_until: int | None = None,
    ) -> bool:
        """If the key is in state ``expect``, move it to ``state`` and set the times
        given (None keeps one), in one atomic step: of two workers racing, one changes
        it. True if this call changed it. Raises :class:`NotFound` for an unknown kid."""
