"""Signing and verifying keys that know their ``kid`` and algorithm.

Names follow ``cryptography``: a :class:`SigningKey` holds the private half and
``.verifying_key()`` gives the public half. Signatures are in JWS form: ES256 is
the 64-byte ``r || s`` of RFC 7518 §3.4, EdDSA the 64-byte Ed25519 signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from keys.errors import KeyStoreError
from keys.errors import SignatureInvalid as SignatureInvalid  # re-export
from keys.jwk import (
    Alg,
    JWKDict,
    PrivateKey,
    PublicKey,
    public_key_from_jwk,
    public_key_to_jwk,
    thumbprint,
)

SUPPORTED_ALGS: frozenset[str] = frozenset({"ES256", "EdDSA"})
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True, slots=True, eq=False)
class VerifyingKey:
    """A public key with its RFC 7638 ``kid`` and the single algorithm it verifies."""

    key: PublicKey
    alg: Alg
    kid: str

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> VerifyingKey:
        """Load from a public JWK; the ``kid`` is always the thumbprint we compute.

        Raises :class:`keys.errors.InvalidJWK`, also when the JWK carries a ``kid``
        that is not its thumbprint.
        """
        key, alg = public_key_from_jwk(jwk)
        kid = thumbprint(jwk)
        declared = jwk.get("kid")
        if declared is not None and declared != kid:
            from keys.errors import InvalidJWK

            raise InvalidJWK("JWK 'kid' is not its RFC 7638 thumbprint")
        return cls(key, alg, kid)

    def to_jwk(self) -> JWKDict:
        """The public JWK with ``kid`` and ``alg``."""
        jwk = public_key_to_jwk(self.key)
        jwk["kid"] = self.kid
        jwk["alg"] = self.alg
        return jwk

    def verify(self, data: bytes, signature: bytes) -> None:
        """Check a JWS signature over ``data``.

        Raises :class:`SignatureInvalid`; never returns a bool.
        """
        if len(signature) != 64:
            raise SignatureInvalid("signature has the wrong length")
        try:
            # Dispatch on the algorithm string: an isinstance check against
            # cryptography's ABCs costs more on this hot path.
            if self.alg == "ES256":
                der = encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                )
                self.key.verify(der, data, _ECDSA_SHA256)  # type: ignore[call-arg]
            else:
                self.key.verify(signature, data)  # type: ignore[call-arg]
        except InvalidSignature as err:
            raise SignatureInvalid("signature does not verify") from err


@dataclass(frozen=True, slots=True, eq=False)
class SigningKey:
    """A private key with its ``kid`` (thumbprint of the public half) and algorithm."""

    key: PrivateKey
    alg: Alg
    kid: str

    @classmethod
    def generate(cls, alg: Alg = "ES256") -> SigningKey:
        """Generate a fresh P-256 (ES256, the default) or Ed25519 (EdDSA) key.

        Raises :class:`KeyStoreError` for another algorithm.
        """
        if alg == "ES256":
            key: PrivateKey = ec.generate_private_key(ec.SECP256R1())
        elif alg == "EdDSA":
            key = ed25519.Ed25519PrivateKey.generate()
        else:
            raise KeyStoreError(f"unsupported algorithm {alg!r}: use ES256 or EdDSA")
        return cls.from_private_key(key)

    @classmethod
    def from_private_key(cls, key: PrivateKey) -> SigningKey:
        """Wrap a ``cryptography`` private key (P-256 or Ed25519).

        Raises :class:`KeyStoreError` for another key type or curve.
        """
        if isinstance(key, ec.EllipticCurvePrivateKey):
            if not isinstance(key.curve, ec.SECP256R1):
                raise KeyStoreError("only P-256 EC keys are supported")
            alg: Alg = "ES256"
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            alg = "EdDSA"
        else:
            raise KeyStoreError("only P-256 and Ed25519 keys are supported")
        return cls(key, alg, thumbprint(public_key_to_jwk(key.public_key())))

    def verifying_key(self) -> VerifyingKey:
        """The public half, with the same ``kid`` and ``alg``."""
        return VerifyingKey(self.key.public_key(), self.alg, self.kid)

    def public_jwk(self) -> JWKDict:
        """The public JWK with ``kid`` and ``alg`` (private material is never exported here)."""
        return self.verifying_key().to_jwk()

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``; the result is the JWS signature bytes."""
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(self.key.sign(data, _ECDSA_SHA256))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self.key.sign(data)

    def __repr__(self) -> str:
        return f"SigningKey(alg={self.alg!r}, kid={self.kid!r})"
