"""A device's proof of possession of its key: the key proof JWT of OpenID4VCI 1.0
(§8.2.1.1, ``proof_type`` ``jwt``), the shape a later OpenID4VCI endpoint reuses.

The phone signs, with the P-256 key it made and cannot export (WebCrypto,
``extractable: false``), a compact JWS with

* header ``typ: "openid4vci-proof+jwt"``, ``alg: "ES256"`` and ``jwk``: the public key
  (``kty`` ``EC``, ``crv`` ``P-256``, ``x``, ``y``) and nothing else: no ``d``, no other
  curve, no ``kid`` or ``x5c`` alongside (the key is the one in ``jwk``, nothing else
  may name it); no other header member either (``crit``, ``jku``…);
* payload ``aud`` (the service's base URL, exactly), ``iat`` (an integer within
  :data:`IAT_LEEWAY` seconds of the service's clock) and ``nonce`` (a ``c_nonce`` the
  service gave this session; the service checks and spends it, not this module).

:func:`verify_device_proof` checks all of it and the signature, and returns the public
key (normalised) with its RFC 7638 thumbprint. :func:`keys.jws.verify_compact` refuses a
``jwk`` header on purpose (a token never chooses its own key); here the key in the
header *is* what is being proven, so this module parses with the same strict pieces
(:mod:`keys.jsonstrict`, :mod:`keys.b64`, :class:`keys.signing.VerifyingKey`).
Every refusal is a :class:`~wallet.errors.DeviceProofInvalid` with its own code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keys import EcertError
from keys.b64 import b64url_decode_segment
from keys.errors import SignatureInvalid
from keys.jsonstrict import loads_object
from keys.jwk import JWKDict, public_key_from_jwk, thumbprint
from keys.signing import VerifyingKey
from wallet.errors import (
    DeviceKeyInvalid,
    DeviceProofAudience,
    DeviceProofInvalid,
    DeviceProofSignature,
    DeviceProofStale,
)

__all__ = [
    "IAT_LEEWAY",
    "MAX_NONCE_LENGTH",
    "MAX_PROOF_LENGTH",
    "PROOF_TYP",
    "DeviceProof",
    "verify_device_proof",
]

#: The JWS ``typ`` of an OpenID4VCI key proof (§8.2.1.1).
PROOF_TYP = "openid4vci-proof+jwt"
#: Longest proof accepted (a P-256 proof is about 600 characters).
MAX_PROOF_LENGTH = 2048
#: Longest ``nonce`` accepted.
MAX_NONCE_LENGTH = 128
#: How far ``iat`` may be from the service's clock, either way (seconds).
IAT_LEEWAY = 60

_HEADER_MEMBERS = frozenset({"typ", "alg", "jwk"})
_KEY_NAMING = frozenset({"kid", "x5c", "x5t", "x5t#S256", "trust_chain"})
_JWK_MEMBERS = frozenset({"kty", "crv", "x", "y", "alg", "use", "key_ops", "ext"})
_SEGMENT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True, slots=True)
class DeviceProof:
    """A verified key proof: the device's public key, its thumbprint and the nonce."""

    jwk: JWKDict
    kid: str
    nonce: str
    iat: int


def verify_device_proof(token: object, *, aud: str, now: float) -> DeviceProof:
    """Verify an OpenID4VCI key proof JWT for the service at ``aud`` at time ``now``.

    Checks, in order: size and grammar, header (``typ``, ``alg``, members), the ``jwk``,
    the signature, then ``aud``, ``iat`` and the ``nonce``'s shape. Raises
    :class:`DeviceProofInvalid` or one of its subclasses (``device_key_invalid``,
    ``device_proof_signature``, ``device_proof_audience``, ``device_proof_stale``).
    """
    if not isinstance(token, str) or len(token) > MAX_PROOF_LENGTH:
        raise DeviceProofInvalid(
            f"the key proof must be a JWT of at most {MAX_PROOF_LENGTH} characters"
        )
    raw = token.encode("ascii", "replace")
    parts = raw.split(b".")
    if len(parts) != 3 or not all(parts) or any(set(p) - _SEGMENT for p in parts):
        raise DeviceProofInvalid("the key proof is not a compact JWS")
    h64, p64, s64 = parts
    try:
        header = loads_object(b64url_decode_segment(h64), max_bytes=MAX_PROOF_LENGTH)
        payload = loads_object(b64url_decode_segment(p64), max_bytes=MAX_PROOF_LENGTH)
        signature = b64url_decode_segment(s64)
    except EcertError as err:
        raise DeviceProofInvalid(f"the key proof does not decode: {err.message}") from None
    key = _check_header(header)
    try:
        key.verify(h64 + b"." + p64, signature)
    except SignatureInvalid:
        raise DeviceProofSignature("the key proof's signature does not verify") from None
    if payload.get("aud") != aud:
        raise DeviceProofAudience("the key proof's 'aud' is not this service")
    iat = payload.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int):
        raise DeviceProofInvalid("the key proof's 'iat' must be an integer")
    if abs(now - iat) > IAT_LEEWAY:
        raise DeviceProofStale(
            f"the key proof's 'iat' is more than {IAT_LEEWAY} s from the service's clock"
        )
    nonce = payload.get("nonce")
    if not isinstance(nonce, str) or not 1 <= len(nonce) <= MAX_NONCE_LENGTH:
        raise DeviceProofInvalid("the key proof's 'nonce' must be the service's c_nonce")
    return DeviceProof(_public(header["jwk"]), key.kid, nonce, iat)


def _check_header(header: dict[str, Any]) -> VerifyingKey:
    if header.get("typ") != PROOF_TYP:
        raise DeviceProofInvalid(f"the key proof's 'typ' must be {PROOF_TYP!r}")
    if header.get("alg") != "ES256":
        raise DeviceProofInvalid("the key proof's 'alg' must be 'ES256'")
    naming = _KEY_NAMING.intersection(header)
    if naming:
        raise DeviceKeyInvalid(
            f"the key proof names its key by 'jwk' only, not {sorted(naming)[0]!r}"
        )
    extra = set(header) - _HEADER_MEMBERS
    if extra:
        raise DeviceProofInvalid(
            f"the key proof's header member {sorted(extra)[0]!r} is not accepted"
        )
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise DeviceKeyInvalid("the key proof carries no 'jwk' object")
    if "d" in jwk or set(jwk) - _JWK_MEMBERS:
        raise DeviceKeyInvalid("the key proof's 'jwk' must be a public key and nothing else")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise DeviceKeyInvalid("the device key must be an EC P-256 key")
    try:
        public, _alg = public_key_from_jwk(jwk)
        kid = thumbprint(jwk)
    except EcertError as err:
        raise DeviceKeyInvalid(f"the device key is unusable: {err.message}") from None
    return VerifyingKey(public, "ES256", kid)


def _public(jwk: dict[str, Any]) -> JWKDict:
    """The public members of a checked P-256 JWK (what goes into ``cnf.jwk``)."""
    return {"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]}
