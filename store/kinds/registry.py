"""The credential registry: what was issued, to whom, and its status position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

__all__ = ["CREDENTIAL_STATES", "CredentialRecord", "CredentialState", "RegistryStore"]

CredentialState = Literal["valid", "revoked", "suspended"]
CREDENTIAL_STATES: tuple[str, ...] = get_args(CredentialState)


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """One issued credential in the registry (no personal data besides the subject id)."""

    id: str
    vct: str
    issuer: str
    subject: str
    kid: str
    status_uri: str
    status_idx: int
    issued_at: int
    expires_at: int
    state: CredentialState = "valid"


@runtime_checkable
class RegistryStore(Protocol):
    """Credentials by id, by subject or issuer, and by status position."""

    def put_credential(self, record: CredentialRecord) -> None:
        """Insert; raises :class:`Conflict` if the id exists."""

    def put_credentials(self, records: list[CredentialRecord]) -> list[bool]:
        """Insert many credentials at once (bulk issuance): for each, in order, True if
        it was inserted, False if a credential with its id already existed (that one is
        left unchanged). Not one transaction on Redis: a crash may leave some written."""

    def get_credential(self, credential_id: str) -> CredentialRecord | None: ...
    def list_credentials(
        self, *, subject: str | None = None, issuer: str | None = None, kid: str | None = None
    ) -> list[CredentialRecord]:
        """Filter by subject, issuer and/or signing key (``kid``: with ``issuer``, what
        one key signed), ordered by ``issued_at`` then ``id``."""

    def set_credential_state(self, credential_id: str, state: CredentialState) -> None:
        """Raises :class:`NotFound` for an unknown id."""

    def find_credential(self, status_uri: str, status_idx: int) -> CredentialRecord | None:
        """The credential holding entry ``status_idx`` of the list at ``status_uri``."""
