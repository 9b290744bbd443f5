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
    """

    kid: str
    owner: str
    alg: str
    state: KeyStateName
    public_jwk: str
    private_blob: bytes
    created_at: int


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
