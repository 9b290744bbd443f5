"""Errors of :mod:`keys`, and the codes that several packages share.

Every error that ecert raises derives from :class:`EcertError` (in its own module,
:mod:`keys.ecert_error`, re-exported here). Each package keeps all of its exceptions
in its own ``errors.py`` under a base of its own (``KeyStoreError``, ``FormatError``,
``IssuerError``, ``WalletError``, ``VerificationError``, ``StoreError``, ``ApiError``).

A code names one class only. Where two packages raise the same code (the issuer and
the verifier both say ``unknown_issuer``; the wallet's online QR codes and the
verifier both say ``replayed``), the class that owns the code is here, in the one
package both import, and each package's class derives from it and from its own base:
``except keys.errors.Replayed`` catches both. HTTP statuses are chosen by the API's
single error handler from the class, never here.
"""

from __future__ import annotations

from keys.ecert_error import EcertError

__all__ = [
    "EcertError",
    # keys
    "KeyStoreError",
    "KeySecretMissing",
    "KeyUnwrapFailed",
    "SealBroken",
    "InvalidJWK",
    "KeyStateError",
    "TrustListError",
    "SignatureInvalid",
    # wire formats
    "FormatError",
    "UnsupportedAlgorithm",
    "WrongType",
    "InvalidUnicode",
    # shared by several packages
    "NotFound",
    "Conflict",
    "UnknownIssuer",
    "IssuerNotAuthorised",
    "SceneUnmet",
    "PresentationExpired",
    "Replayed",
    "KeyBindingInvalid",
]


class KeyStoreError(EcertError):
    """A key cannot be generated, loaded, unwrapped or used."""

    code = "key_error"


class KeySecretMissing(KeyStoreError):
    """The key-encryption secret is not configured, so private keys cannot be opened."""

    code = "key_secret_missing"


class KeyUnwrapFailed(KeyStoreError):
    """A wrapped private key does not open with the configured secret (wrong one, or tampered)."""

    code = "key_unwrap_failed"


class SealBroken(KeyStoreError):
    """A sealed blob (:mod:`keys.aead`) does not open: another format, truncated, a
    wrong key, other associated data, or tampered."""

    code = "seal_broken"


class InvalidJWK(KeyStoreError):
    """A JWK is malformed, of an unsupported type or curve, or has the wrong sizes."""

    code = "invalid_jwk"


class KeyStateError(KeyStoreError):
    """A key is used in a way its state forbids (a retired key asked to sign, say)."""

    code = "key_state"


class TrustListError(EcertError):
    """A trust list cannot be built, or does not verify against the pinned anchor."""

    code = "trust_list_invalid"


class SignatureInvalid(EcertError):
    """A signature does not verify under the key (code ``invalid_signature``)."""

    code = "invalid_signature"


# -- wire formats -----------------------------------------------------------------------


class FormatError(EcertError):
    """Input does not follow the wire format (base64url, JSON, compact serialization).

    ``code`` is ``"malformed"``, one of the stable verification codes of DESIGN.md §4.
    """

    code = "malformed"


class UnsupportedAlgorithm(FormatError):
    """The JWS ``alg`` is not on the allow-list (``none`` never is)."""

    code = "unsupported_alg"


class WrongType(FormatError):
    """The JWS ``typ`` header is not the exact type expected here (code ``malformed``)."""


class InvalidUnicode(FormatError):
    """JSON text that is not Unicode: invalid UTF-8 or a lone surrogate escape
    (code ``malformed``)."""


# -- codes shared by several packages ---------------------------------------------------


class NotFound(EcertError):
    """The thing asked for does not exist (or is not the asker's to see)."""

    code = "not_found"


class Conflict(EcertError):
    """The request clashes with the current state (a record that already exists...)."""

    code = "conflict"


class UnknownIssuer(EcertError):
    """The issuer is not known: not registered (issuing), not in the trust list
    (verifying)."""

    code = "unknown_issuer"


class IssuerNotAuthorised(EcertError):
    """The issuer may not issue this credential type."""

    code = "issuer_not_authorised"


class SceneUnmet(EcertError):
    """A credential does not meet the scene's policy (type not accepted, claim missing)."""

    code = "scene_unmet"


class PresentationExpired(EcertError):
    """The presentation (or the online QR code standing for it) is too old."""

    code = "presentation_expired"


class Replayed(EcertError):
    """The presentation (or the online QR code) was already used once."""

    code = "replayed"


class KeyBindingInvalid(EcertError):
    """The key binding does not hold (bad KB-JWT, or made for another scene)."""

    code = "key_binding_invalid"
