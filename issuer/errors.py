"""Errors of the issuing side."""

from __future__ import annotations

from typing import ClassVar

from keys.errors import EcertError, IssuerNotAuthorised
from keys.errors import UnknownIssuer as _UnknownIssuer

__all__ = [
    "IssuerError",
    "UnknownCredentialType",
    "ClaimsInvalid",
    "NotAuthorised",
    "UnknownIssuer",
    "NoSigningKey",
    "KeyLeadTooShort",
    "StatusListFull",
    "UnknownCredential",
    "InvalidTransition",
    "CatalogueError",
]


class IssuerError(EcertError):
    """Root of the issuer errors."""

    code = "issuer_error"


class UnknownCredentialType(IssuerError):
    """The ``vct`` is not in the credential type catalogue."""

    code = "unknown_vct"


class ClaimsInvalid(IssuerError):
    """Claims do not match the catalogue entry (missing, unknown or wrongly typed fields).

    ``field`` names the offending claim (never its value: it is personal data).
    """

    code = "claims_invalid"
    public: ClassVar[tuple[str, ...]] = ("field",)

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAuthorised(IssuerNotAuthorised, IssuerError):
    """The issuer is not allowed to issue this credential type (``issuer_not_authorised``)."""


class UnknownIssuer(_UnknownIssuer, IssuerError):
    """No issuer with this identifier is registered (``unknown_issuer``)."""


class NoSigningKey(IssuerError):
    """The issuer has no active signing key."""

    code = "no_signing_key"


class KeyLeadTooShort(IssuerError):
    """A rotation's lead time is shorter than the trust list's refresh interval: offline
    verifiers would meet the new key's credentials before they learn the key."""

    code = "key_lead_too_short"


class StatusListFull(IssuerError):
    """No free index could be drawn from a status list."""

    code = "status_list_full"


class UnknownCredential(IssuerError):
    """No credential with this id was issued by this issuer."""

    code = "unknown_credential"


class InvalidTransition(IssuerError):
    """The credential cannot move to that status (a revoked credential stays revoked)."""

    code = "invalid_transition"


class CatalogueError(IssuerError):
    """A catalogue or scene data file is malformed or inconsistent."""

    code = "catalogue_invalid"


class UnknownProofType(IssuerError):
    """The proof type is not in the proof-type catalogue (``issuer/data/proofs.json``)."""

    code = "unknown_proof_type"


class ProofInputsInvalid(IssuerError):
    """A proof query's inputs are missing, unknown or malformed (the message names the
    input, never its value)."""

    code = "proof_inputs_invalid"
