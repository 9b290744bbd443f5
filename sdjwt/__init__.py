"""The SD-JWT format shared by issuer, wallet and verifier (RFC 9901) and the Token
Status List codec. Spec constants live here, as in the reference implementation's
``common.py``."""

from __future__ import annotations

from sdjwt.disclosures import (
    ARRAY_ELEMENT,
    NEVER_DISCLOSABLE,
    SALT_BYTES,
    SD,
    SD_ALG,
    SHA_256,
    Disclosure,
    decode_disclosure,
    decoy_digest,
    digest,
    make_disclosure,
    resolve,
)
from sdjwt.errors import DisclosureInvalid, FormatError
from sdjwt.statuslist import INVALID, SUSPENDED, VALID, StatusList

#: Media types (``typ``) of the JWTs we read and write.
TYP_SD_JWT_VC = "dc+sd-jwt"
TYP_KB_JWT = "kb+jwt"
TYP_STATUS_LIST = "statuslist+jwt"
TYP_TRUST_LIST = "trustlist+jwt"
SEPARATOR = "~"
#: Leeway for a credential's ``exp``, ``nbf`` and ``iat``, in seconds (clock skew of
#: phones): the verifier checks with it, and the wallet refuses to present what the
#: verifier would refuse.
LEEWAY = 30

__all__ = [
    "ARRAY_ELEMENT",
    "INVALID",
    "LEEWAY",
    "NEVER_DISCLOSABLE",
    "SALT_BYTES",
    "SD",
    "SD_ALG",
    "SEPARATOR",
    "SHA_256",
    "SUSPENDED",
    "TYP_KB_JWT",
    "TYP_SD_JWT_VC",
    "TYP_STATUS_LIST",
    "TYP_TRUST_LIST",
    "VALID",
    "Disclosure",
    "DisclosureInvalid",
    "FormatError",
    "StatusList",
    "decode_disclosure",
    "decoy_digest",
    "digest",
    "make_disclosure",
    "resolve",
    "sd_hash",
    "split",
]


def split(text: str) -> tuple[str, list[str], str]:
    """Split an SD-JWT (``jwt~d1~…~``) or an SD-JWT+KB (``jwt~d1~…~kb``).

    Returns the issuer-signed JWT, the disclosures and the KB-JWT ('' when absent).
    Raises :class:`FormatError` when there is no ``~`` or an empty disclosure.
    """
    parts = text.split(SEPARATOR)
    if len(parts) < 2:
        raise FormatError("an SD-JWT needs at least one '~'")
    disclosures = parts[1:-1]
    if "" in disclosures:
        raise FormatError("an SD-JWT may not contain an empty disclosure")
    return parts[0], disclosures, parts[-1]


def sd_hash(presentation_without_kb: str) -> str:
    """The KB-JWT ``sd_hash``: base64url SHA-256 over ``jwt~d1~…~`` (RFC 9901 §4.3.1)."""
    return digest(presentation_without_kb)
