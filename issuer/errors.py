"""Errors of the issuing side."""

from __future__ import annotations

from keys.errors import EcertError


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

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAuthorised(IssuerError):
    """The issuer is not allowed to issue this credential type."""

    code = "issuer_not_authorised"


class UnknownIssuer(IssuerError):
    """No issuer with this identifier is registered."""

    code = "unknown_issuer"


class NoSigningKey(IssuerError):
    """The issuer has no active signing key."""

    code = "no_signing_key"


class StatusListFull(IssuerError):
    """No free index could be drawn from a status list."""

    code = "status_list_full"


class UnknownCredential(IssuerError):
    """No credential with this id was issued by this issuer."""

    code = "unknown_credential"
