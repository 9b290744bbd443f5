"""Errors of the wallet."""

from __future__ import annotations

from typing import ClassVar

from keys.errors import EcertError, NotFound, SceneUnmet

__all__ = [
    "WalletError",
    "CredentialUnreadable",
    "ClaimsUnavailable",
    "NotHolder",
    "SetCredentialMissing",
    "CredentialUnusable",
    "CredentialRevoked",
    "CredentialSuspended",
    "CredentialExpired",
    "CredentialNotInWallet",
    "WalletCorrupt",
    "QrUnencodable",
    "QrTooLarge",
    "DeviceProofInvalid",
    "DeviceKeyInvalid",
    "DeviceProofAudience",
    "DeviceProofStale",
    "DeviceProofSignature",
    "DeviceNonceInvalid",
]


class WalletError(EcertError):
    """Root of the wallet errors."""

    code = "wallet_error"


class CredentialUnreadable(WalletError):
    """A credential handed to the wallet is not an SD-JWT VC it can hold."""

    code = "credential_unreadable"


class ClaimsUnavailable(SceneUnmet, WalletError):
    """The credential lacks a claim the scene asks for, or is not accepted there
    (``scene_unmet``)."""


class SetCredentialMissing(ClaimsUnavailable):
    """The wallet holds no usable credential of a type a scene's set (``all_of``)
    requires; ``vct`` names the type."""

    code = "set_credential_missing"
    public: ClassVar[tuple[str, ...]] = ("vct",)

    def __init__(self, message: str, *, vct: str) -> None:
        super().__init__(message)
        self.vct = vct


class NotHolder(WalletError):
    """The credential is bound to another holder key than this wallet's."""

    code = "not_holder"


class CredentialUnusable(WalletError):
    """The credential cannot pass a verifier now, so no presentation is made for it.

    The root of the three codes below (it is never raised itself): the API answers
    them ``409``, and the wallet page shows their message instead of a QR code.
    """

    code = "credential_unusable"


class CredentialRevoked(CredentialUnusable):
    """The issuer has revoked the credential (for good)."""

    code = "credential_revoked"


class CredentialSuspended(CredentialUnusable):
    """The issuer has suspended the credential (it may be reinstated)."""

    code = "credential_suspended"


class CredentialExpired(CredentialUnusable):
    """The credential's ``exp`` has passed, beyond the verifier's leeway."""

    code = "credential_expired"


class CredentialNotInWallet(NotFound, WalletError):
    """The citizen's wallet holds no credential with this id (also: another citizen's id;
    ``not_found``)."""


class WalletCorrupt(WalletError):
    """A wallet blob does not open with its key: wrong secret, tampering or a moved blob."""

    code = "wallet_corrupt"


# -- QR codes ---------------------------------------------------------------------------


class QrUnencodable(WalletError):
    """The presentation is not a well-formed SD-JWT presentation, so it cannot be packed."""

    code = "qr_unencodable"


class QrTooLarge(WalletError):
    """The text is too long for a QR code."""

    code = "qr_too_large"


# -- a device's proof of possession of its key (wallet.device_proof) --------------------


class DeviceProofInvalid(WalletError):
    """A device's key proof (OpenID4VCI key proof JWT) that is not well formed: size,
    grammar, ``typ``, ``alg``, header members, missing or mistyped claims."""

    code = "device_proof_invalid"


class DeviceKeyInvalid(DeviceProofInvalid):
    """The proof's ``jwk`` is not a public P-256 key alone (private members, another
    curve or key type, ``kid``/``x5c`` alongside)."""

    code = "device_key_invalid"


class DeviceProofAudience(DeviceProofInvalid):
    """The proof's ``aud`` is not this service's base URL."""

    code = "device_proof_audience"


class DeviceProofStale(DeviceProofInvalid):
    """The proof's ``iat`` is too far from the service's clock."""

    code = "device_proof_stale"


class DeviceProofSignature(DeviceProofInvalid):
    """The proof's signature does not verify with the key it carries."""

    code = "device_proof_signature"


class DeviceNonceInvalid(DeviceProofInvalid):
    """The proof's ``nonce`` is not a live ``c_nonce`` of this citizen's session: unknown,
    expired, already used, or drawn by another session (all alike)."""

    code = "device_nonce_invalid"
