"""The issuing side: credential catalogue, SD-JWT VC issuance, status lists, the
operator's registry and trust list."""

from __future__ import annotations

from issuer.catalogue import (
    Catalogue,
    ClaimSpec,
    CredentialType,
    SubjectField,
    check_value,
    default_scenes,
    load_catalogue,
    validate_claims,
)
from issuer.credentials import CredentialIssuer, IssuedCredential
from issuer.errors import (
    ClaimsInvalid,
    InvalidTransition,
    IssuerError,
    NoSigningKey,
    NotAuthorised,
    StatusListFull,
    UnknownCredential,
    UnknownCredentialType,
    UnknownIssuer,
)
from issuer.keyring import ANCHOR, Keyring
from issuer.platform import Platform
from issuer.status import StatusRegistry, encode_status_list_token

__all__ = [
    "ANCHOR",
    "Catalogue",
    "ClaimSpec",
    "ClaimsInvalid",
    "CredentialIssuer",
    "CredentialType",
    "InvalidTransition",
    "IssuedCredential",
    "IssuerError",
    "Keyring",
    "NoSigningKey",
    "NotAuthorised",
    "Platform",
    "StatusListFull",
    "StatusRegistry",
    "SubjectField",
    "UnknownCredential",
    "UnknownCredentialType",
    "UnknownIssuer",
    "check_value",
    "default_scenes",
    "encode_status_list_token",
    "load_catalogue",
    "validate_claims",
]
