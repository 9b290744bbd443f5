"""The root of ecert's exception hierarchy and the errors of :mod:`keys`.

Every error that ecert raises derives from :class:`EcertError`, carries a short,
stable machine ``code`` and a human ``message`` with no secrets and no personal
data in it. Each package has its own base (``KeyStoreError``, ``FormatError``,
``IssuerError``, ``WalletError``, ``VerificationError``, ``StoreError``); HTTP
statuses are chosen by the API's single error handler, never here.
"""

from __future__ import annotations


class EcertError(Exception):
    """Root of every ecert error."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class KeyStoreError(EcertError):
    """A key cannot be generated, loaded, unwrapped or used."""

    code = "key_error"


class KeySecretMissing(KeyStoreError):
    """The key-encryption secret is not configured, so private keys cannot be opened."""

    code = "key_secret_missing"


class KeyUnwrapFailed(KeyStoreError):
    """A wrapped private key does not open with the configured secret (wrong one, or tampered)."""

    code = "key_unwrap_failed"


class InvalidJWK(KeyStoreError):
    """A JWK is malformed, of an unsupported type or curve, or has the wrong sizes."""

    code = "invalid_jwk"


class KeyStateError(KeyStoreError):
    """A key is used in a way its state forbids (a retired key asked to sign, say)."""

    code = "key_state"


class TrustListError(EcertError):
    """A trust list cannot be built, or does not verify against the pinned anchor."""

    code = "trust_list_invalid"


class FormatError(EcertError):
    """Input does not follow the wire format (base64url, JSON, compact serialization).

    ``code`` is ``"malformed"``, one of the stable verification codes of DESIGN.md §4.
    """

    code = "malformed"
