"""Private keys at rest: wrapped with AES-256-GCM under a key-encryption key.

``cryptography``'s ``BestAvailableEncryption`` derives its key from a password with
PBKDF2 at only 2,048 iterations, too weak for keys that sign ten million citizens'
certificates. Instead the operator configures a random 256-bit key-encryption key
(KEK, ``ECERT_KEY_SECRET``, base64url); each private key is stored as

    b"EK1" || nonce (12 bytes) || AES-256-GCM(KEK, nonce, PKCS#8 DER, aad=b"ecert-key:" + kid)

(the one envelope of :mod:`keys.aead`, format ``EK1``), so a blob cannot be moved to
another ``kid`` and any tampering is detected. The secret never appears in an error
message, a ``repr`` or a log line.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

from keys.aead import NONCE_BYTES, TAG_BYTES, Envelope
from keys.b64 import b64url_encode
from keys.errors import KeySecretMissing, KeyStoreError, KeyUnwrapFailed, SealBroken
from keys.signing import SigningKey

_MAGIC = b"EK1"
_TO_STD = str.maketrans("-_", "+/")


def derive_key(secret: str | bytes, label: str) -> bytes:
    """A 256-bit key for one purpose, derived from the configured secret (HKDF-SHA256).

    Each use of the secret (wallet data keys, …) gets its own derived key, so that
    no two purposes ever share key material. Raises :class:`KeySecretMissing` when
    the secret is absent and :class:`KeyStoreError` when it is not 256 bits.
    """
    raw = _decode_secret(secret)
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=label.encode("utf-8")).derive(raw)


def _decode_secret(secret: str | bytes | None) -> bytes:
    if secret is None or secret == "" or secret == b"":
        raise KeySecretMissing("the key-encryption secret is not configured (set ECERT_KEY_SECRET)")
    if isinstance(secret, str):
        text = secret.strip()
        try:
            raw = base64.b64decode(text.translate(_TO_STD) + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise KeyStoreError("the key-encryption secret is not base64url text") from None
    else:
        raw = secret
    if len(raw) != 32:
        raise KeyStoreError("the key-encryption secret must be 256 bits (32 bytes)")
    return raw


def generate_secret() -> str:
    """A fresh random 256-bit key-encryption key, as base64url text for configuration."""
    return b64url_encode(secrets.token_bytes(32))


class KeyWrapper:
    """Wraps and unwraps private keys with the configured key-encryption key."""

    __slots__ = ("_envelope",)

    def __init__(self, secret: str | bytes | None) -> None:
        """Build from the secret (base64url text or 32 raw bytes).

        Raises :class:`KeySecretMissing` when it is absent and :class:`KeyStoreError`
        when it is not 256 bits (the message never repeats the secret).
        """
        self._envelope = Envelope(_decode_secret(secret), _MAGIC)

    def __repr__(self) -> str:
        return "KeyWrapper(<secret hidden>)"

    def wrap(self, key: SigningKey) -> bytes:
        """Encrypt a signing key for storage."""
        der = key.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        return self._envelope.seal(der, _aad(key.kid))

    def unwrap(self, blob: bytes, kid: str) -> SigningKey:
        """Decrypt a stored key and check that it is the key named ``kid``.

        Raises :class:`KeyUnwrapFailed` for a wrong secret, a tampered or foreign blob.
        """
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + NONCE_BYTES + TAG_BYTES:
            raise KeyUnwrapFailed(f"stored key {kid} is not in a known format")
        try:
            der = self._envelope.open(blob, _aad(kid))
        except SealBroken:
            raise KeyUnwrapFailed(
                f"stored key {kid} does not open with the configured secret"
            ) from None
        private = load_der_private_key(der, password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise KeyUnwrapFailed(f"stored key {kid} has an unsupported type")
        key = SigningKey.from_private_key(private)
        if key.kid != kid:
            raise KeyUnwrapFailed(f"stored key {kid} does not match its kid")
        return key


def _aad(kid: str) -> bytes:
    return b"ecert-key:" + kid.encode("utf-8")
