"""Offline checking of a proof JWT (``proof+jwt``): a department's answer to a proof query.

:meth:`verifier.Verifier.verify_proof` calls :func:`check_proof` with the verifier's
trust source, clock and leeway. The checks, in order (STYLE.md §4): size and grammar,
the header (exact ``typ``, ``alg`` on the allow-list, no key-selecting members), the
payload parsed strictly (no duplicate members, bounded depth), the key chosen by the
trust source from ``iss`` + ``kid`` only, the signature; then the payload's members and
types, the issuer's authority for the proof type, the audience, and the clock. Failures
before the signature is known good stop the check; after it, independent failures
(expired *and* another audience, say) are all reported, each with its stable code.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict

from keys import EcertError, FormatError, SignatureInvalid, VerifyingKey
from keys.errors import UnsupportedAlgorithm
from keys.jws import verify_compact
from keys.numericdate import numeric_date
from keys.proofjwt import (
    MAX_PROOF,
    MAX_PROOF_CLAIMS,
    MAX_PROOF_ID,
    MAX_PROOF_LIFETIME,
    MAX_PROOF_PURPOSE,
    MAX_PROOF_TEXT,
    TYP_PROOF,
)
from verifier.errors import (
    ERROR_CODES,
    Expired,
    InvalidSignature,
    IssuerNotAuthorised,
    Malformed,
    NotYetValid,
    TrustListStale,
    UnsupportedAlg,
    VerificationError,
    WrongAudience,
)
from verifier.result import ErrorDict
from verifier.trust import TrustSource

__all__ = ["ProofResult", "ProofResultDict", "check_proof"]

_PROOF_TYPE: Final = re.compile(r"[a-z0-9-]{1,64}")
_CLAIM_NAME: Final = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_MEMBERS: Final = frozenset(
    {"iss", "aud", "sub", "proof_type", "claims", "purpose", "iat", "exp", "jti"}
)
_MAX_SAFE_INTEGER: Final = 2**53 - 1


class ProofResultDict(TypedDict):
    """The JSON form of a :class:`ProofResult`."""

    valid: bool
    iss: str | None
    aud: str | None
    sub: str | None
    proof_type: str | None
    claims: dict[str, Any]
    purpose: str | None
    iat: int | None
    exp: int | None
    jti: str | None
    errors: list[ErrorDict]
    checked_at: int


@dataclass(slots=True)
class ProofResult:
    """Outcome of checking one proof JWT. The payload's members are filled in once the
    signature verified; ``claims`` (the answer) and ``purpose`` only when ``valid``."""

    checked_at: int
    iss: str | None = None
    aud: str | None = None
    sub: str | None = None
    proof_type: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    purpose: str | None = None
    iat: int | None = None
    exp: int | None = None
    jti: str | None = None
    errors: list[ErrorDict] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True only when no check failed."""
        return not self.errors

    @property
    def codes(self) -> list[str]:
        """The error codes, in the order the checks reported them."""
        return [e["code"] for e in self.errors]

    def to_dict(self) -> ProofResultDict:
        """The JSON object (the answer only when valid)."""
        return {
            "valid": self.valid,
            "iss": self.iss,
            "aud": self.aud,
            "sub": self.sub,
            "proof_type": self.proof_type,
            "claims": dict(self.claims) if self.valid else {},
            "purpose": self.purpose if self.valid else None,
            "iat": self.iat,
            "exp": self.exp,
            "jti": self.jti,
            "errors": list(self.errors),
            "checked_at": self.checked_at,
        }


def check_proof(
    source: TrustSource, token: object, *, audience: str, now: float, leeway: int
) -> ProofResult:
    """Check ``token`` as a proof for ``audience`` (the asking department's issuer id)
    at ``now``. Never raises for a bad token: every problem is in the result."""
    result = ProofResult(checked_at=int(now))
    try:
        _check(source, token, audience, now, leeway, result)
    except VerificationError as err:
        result.errors.append(_err(err))
    except EcertError as err:
        code = err.code if err.code in ERROR_CODES else "malformed"
        result.errors.append({"code": code, "message": err.message})
    if result.errors:
        result.claims = {}
        result.purpose = None
    return result


def _check(
    source: TrustSource,
    token: object,
    audience: str,
    now: float,
    leeway: int,
    result: ProofResult,
) -> None:
    errors = result.errors
    expires_at = source.expires_at
    if expires_at is not None and now > expires_at:
        errors.append(_err(TrustListStale("the trust list has expired: sync the bundle")))
    if not isinstance(token, (str, bytes)):
        raise Malformed("the proof must be text")

    def issuer_key(header: Mapping[str, Any], payload: Mapping[str, Any]) -> VerifyingKey:
        iss = payload.get("iss")
        if not isinstance(iss, str) or not iss or len(iss) > MAX_PROOF_ID:
            raise Malformed("the proof needs a string 'iss'")
        return source.issuer_key(iss, header.get("kid"))

    try:
        verified = verify_compact(token, TYP_PROOF, issuer_key, max_length=MAX_PROOF)
    except SignatureInvalid:
        raise InvalidSignature("the answering department's signature does not verify") from None
    except UnsupportedAlgorithm as err:
        raise UnsupportedAlg(err.message) from None
    except VerificationError:
        raise
    except FormatError as err:
        raise Malformed(err.message) from None
    payload = verified.payload

    # the members, each of its type and bounded; nothing else
    extra = set(payload) - _MEMBERS
    if extra:
        raise Malformed("the proof has an unknown member")
    iss = payload["iss"]
    aud = _text(payload, "aud", MAX_PROOF_ID)
    sub = _text(payload, "sub", MAX_PROOF_ID)
    proof_type = _text(payload, "proof_type", 64)
    if not _PROOF_TYPE.fullmatch(proof_type):
        raise Malformed("the proof's 'proof_type' is not a proof type id")
    jti = _text(payload, "jti", MAX_PROOF_ID)
    purpose = payload.get("purpose")
    if not isinstance(purpose, str) or len(purpose) > MAX_PROOF_PURPOSE:
        raise Malformed(
            f"the proof's 'purpose' must be a string of at most {MAX_PROOF_PURPOSE} characters"
        )
    claims = _claims(payload.get("claims"))
    iat = numeric_date(payload, "iat", where="the proof")
    exp = numeric_date(payload, "exp", where="the proof")
    if not iat < exp <= iat + MAX_PROOF_LIFETIME:
        raise Malformed("the proof's lifetime ('exp' - 'iat') is out of bounds")
    result.iss, result.aud, result.sub, result.proof_type = iss, aud, sub, proof_type
    result.iat, result.exp, result.jti = int(iat), int(exp), jti

    if not source.may_answer(iss, proof_type):
        errors.append(
            _err(IssuerNotAuthorised("the issuer is not authorised to answer this proof type"))
        )
    if not hmac.compare_digest(aud.encode("utf-8"), audience.encode("utf-8")):
        errors.append(_err(WrongAudience("the proof was made for another department")))
    if now > exp + leeway:
        errors.append(_err(Expired("the proof has expired")))
    if iat > now + leeway:
        errors.append(_err(NotYetValid("the proof is dated in the future")))
    if not errors:
        result.claims = claims
        result.purpose = purpose


def _text(payload: Mapping[str, Any], name: str, limit: int) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise Malformed(f"the proof needs a string {name!r} of 1 to {limit} characters")
    return value


def _claims(value: object) -> dict[str, Any]:
    """The answer: a flat object of at most :data:`MAX_PROOF_CLAIMS` snake_case names to
    strings (bounded), safe integers or booleans, with a boolean ``found``."""
    if not isinstance(value, dict):
        raise Malformed("the proof's 'claims' must be an object")
    if len(value) > MAX_PROOF_CLAIMS:
        raise Malformed("the proof has too many claims")
    for name, item in value.items():
        if len(name) > 64 or not _CLAIM_NAME.fullmatch(name):
            raise Malformed("the proof has a malformed claim name")
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            if abs(item) > _MAX_SAFE_INTEGER:
                raise Malformed(f"the proof's claim {name!r} is out of the safe integer range")
            continue
        if isinstance(item, str):
            if len(item) > MAX_PROOF_TEXT:
                raise Malformed(f"the proof's claim {name!r} is too long")
            continue
        raise Malformed(f"the proof's claim {name!r} must be a string, integer or boolean")
    if not isinstance(value.get("found"), bool):
        raise Malformed("the proof's claims need a boolean 'found'")
    return dict(value)


def _err(err: VerificationError) -> ErrorDict:
    return {"code": err.code, "message": err.message}
