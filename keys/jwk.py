"""JWK (RFC 7517) import/export for the two key types we use, and RFC 7638 thumbprints."""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keys.b64 import b64url_encode
from keys.errors import InvalidJWK

Alg = Literal["ES256", "EdDSA"]
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

#: RFC 7638 §3.2: the required members of each key type, in lexicographic order.
_REQUIRED_MEMBERS: dict[str, tuple[str, ...]] = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
    "oct": ("k", "kty"),
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class JWKDict(TypedDict, total=False):
    """A public JWK as ecert writes it."""

    kty: str
    crv: str
    x: str
    y: str
    kid: str
    alg: str
    use: str


_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_TO_STD = bytes.maketrans(b"-_", b"+/")


def _unb64(text: object, member: str, size: int) -> bytes:
    """Decode a fixed-size member, refusing any other length or a non-canonical encoding."""
    if not isinstance(text, str):
        raise InvalidJWK(f"JWK member {member!r} must be a string")
    if len(text) != (size * 4 + 2) // 3 or _B64URL_RE.fullmatch(text) is None:
        raise InvalidJWK(f"JWK member {member!r} must be base64url of exactly {size} bytes")
    # The unused low bits of the last character must be zero (RFC 4648 §3.5).
    unused = {0: 0, 1: 4, 2: 2}[size % 3]
    if _B64URL.index(text[-1]) & ((1 << unused) - 1):
        raise InvalidJWK(f"JWK member {member!r} is not canonical base64url")
    try:
        padded = text.encode("ascii").translate(_TO_STD) + b"=" * (-len(text) % 4)
        return binascii.a2b_base64(padded)
    except (binascii.Error, ValueError) as err:
        raise InvalidJWK(f"JWK member {member!r} is not base64url") from err


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of any JWK with its required members.

    Raises :class:`InvalidJWK` for an unknown ``kty`` or a missing member.
    """
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in _REQUIRED_MEMBERS:
        raise InvalidJWK("unsupported or missing JWK 'kty'")
    members = {}
    for name in _REQUIRED_MEMBERS[kty]:
        value = jwk.get(name)
        if not isinstance(value, str):
            raise InvalidJWK(f"JWK is missing the member {name!r}")
        members[name] = value
    # RFC 7638 §3.3: no whitespace, members in lexicographic order, UTF-8.
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_key_to_jwk(key: PublicKey) -> JWKDict:
    """Export a public key as a JWK (without ``kid``)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise InvalidJWK("only P-256 EC keys are supported")
        point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(point[1:33]),
            "y": b64url_encode(point[33:]),
        }
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}


def alg_for_jwk(jwk: Mapping[str, Any]) -> Alg:
    """The one JWS algorithm a public JWK may be used with (never taken from a token).

    Raises :class:`InvalidJWK` for any other key type or curve.
    """
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "EC" and crv == "P-256":
        alg: Alg = "ES256"
    elif kty == "OKP" and crv == "Ed25519":
        alg = "EdDSA"
    else:
        raise InvalidJWK("unsupported key type: only EC P-256 and OKP Ed25519 are accepted")
    declared = jwk.get("alg")
    if declared is not None and declared != alg:
        raise InvalidJWK("JWK 'alg' does not match its key type")
    return alg


def public_key_from_jwk(jwk: Mapping[str, Any]) -> tuple[PublicKey, Alg]:
    """Load a public key from a JWK, strictly: type, curve, sizes, on-curve point.

    Private members are refused so that a private key is never mistaken for
    public material. Raises :class:`InvalidJWK`.
    """
    if not isinstance(jwk, Mapping):
        raise InvalidJWK("JWK must be a JSON object")
    if _PRIVATE_MEMBERS.intersection(jwk):
        raise InvalidJWK("JWK contains private key material")
    # RFC 7517 §4.2, §4.3: a key published for another purpose must not verify.
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise InvalidJWK("JWK 'use' is not 'sig'")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise InvalidJWK("JWK 'key_ops' does not allow 'verify'")
    alg = alg_for_jwk(jwk)
    try:
        if alg == "ES256":
            x = _unb64(jwk.get("x"), "x", 32)
            y = _unb64(jwk.get("y"), "y", 32)
            key: PublicKey = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), b"\x04" + x + y
            )
        else:
            key = ed25519.Ed25519PublicKey.from_public_bytes(_unb64(jwk.get("x"), "x", 32))
    except ValueError as err:  # not on the curve
        raise InvalidJWK("JWK does not describe a valid public key") from err
    return key, alg
