"""Citizens' accounts, their bearer sessions, and the API keys of departments, venues and
operators (the people who run the service: ``/admin``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

__all__ = [
    "API_KEY_KINDS",
    "AccountStore",
    "ApiKeyKind",
    "ApiKeyRecord",
    "CitizenRecord",
    "SessionRecord",
]


@dataclass(frozen=True, slots=True)
class CitizenRecord:
    """A citizen's account. ``password_hash`` is an Argon2id PHC string, or "" for a
    citizen who only logs in through the city's identity provider."""

    citizen_id: str
    password_hash: str
    created_at: int


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A citizen's bearer session; only the SHA-256 of the token is stored."""

    token_hash: str
    citizen_id: str
    created_at: int
    expires_at: int


ApiKeyKind = Literal["department", "venue", "operator"]
API_KEY_KINDS: tuple[str, ...] = get_args(ApiKeyKind)


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A department's, venue's or operator's API key; only the SHA-256 of the secret is
    stored.

    ``principal`` is the issuer URL (department), the venue id, or the operator's name.
    """

    key_id: str
    key_hash: str
    kind: ApiKeyKind
    principal: str
    created_at: int
    revoked_at: int | None = None


@runtime_checkable
class AccountStore(Protocol):
    """Citizens, sessions and API keys."""

    def put_citizen(self, record: CitizenRecord) -> None:
        """Insert; raises :class:`Conflict` if the citizen exists."""

    def get_citizen(self, citizen_id: str) -> CitizenRecord | None: ...
    def set_citizen_password(self, citizen_id: str, password_hash: str) -> None:
        """Raises :class:`NotFound` for an unknown citizen."""

    def list_citizens(self) -> list[CitizenRecord]:
        """All citizens, sorted by id."""

    def put_session(self, record: SessionRecord) -> None: ...
    def get_session(self, token_hash: str, now: float) -> SessionRecord | None:
        """The session, or None if unknown or expired at ``now``."""

    def delete_session(self, token_hash: str) -> None: ...

    def put_api_key(self, record: ApiKeyRecord) -> None:
        """Insert; raises :class:`Conflict` if the key id or hash exists."""

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None: ...
    def list_api_keys(self, principal: str | None = None) -> list[ApiKeyRecord]:
        """Keys of one principal (or all), oldest first, ties by key id."""

    def revoke_api_key(self, key_id: str, at: int) -> None:
        """Mark revoked at ``at`` (idempotent). Raises :class:`NotFound`."""
