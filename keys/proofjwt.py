"""The ``proof+jwt`` format shared by the issuer (who signs an answer to a proof query)
and the verifier (who checks it offline): its ``typ``, its payload and its bounds.

See docs/formats.md ("proof+jwt"), :mod:`issuer.proofs` and
:meth:`verifier.Verifier.verify_proof`.
"""

from __future__ import annotations

from typing import Final, TypedDict

__all__ = [
    "MAX_PROOF",
    "MAX_PROOF_CLAIMS",
    "MAX_PROOF_ID",
    "MAX_PROOF_LIFETIME",
    "MAX_PROOF_PURPOSE",
    "MAX_PROOF_TEXT",
    "TYP_PROOF",
    "ProofPayload",
]

#: The ``typ`` of a proof JWT.
TYP_PROOF: Final = "proof+jwt"
#: Largest proof JWT a verifier reads (characters).
MAX_PROOF: Final = 16 * 1024
#: Most claims an answer carries, and the longest text claim (characters).
MAX_PROOF_CLAIMS: Final = 32
MAX_PROOF_TEXT: Final = 512
#: The longest purpose (characters; the service's ``MAX_PURPOSE``).
MAX_PROOF_PURPOSE: Final = 200
#: The longest ``iss``, ``aud``, ``sub``, ``proof_type`` or ``jti`` (characters).
MAX_PROOF_ID: Final = 512
#: The longest ``exp - iat`` a verifier accepts (proof types answer for an hour at most).
MAX_PROOF_LIFETIME: Final = 24 * 3600


class ProofPayload(TypedDict):
    """The payload of a ``proof+jwt``."""

    iss: str
    aud: str
    sub: str
    proof_type: str
    claims: dict[str, str | int | bool]
    purpose: str
    iat: int
    exp: int
    jti: str
