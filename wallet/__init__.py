"""The citizen's wallet: holder keys, held credentials, presentations."""

from __future__ import annotations

from wallet.errors import ClaimsUnavailable, CredentialUnreadable, NotHolder, WalletError
from wallet.holder import Wallet
from wallet.presentation import NONCE_BYTES, HeldCredential, present

__all__ = [
    "NONCE_BYTES",
    "ClaimsUnavailable",
    "CredentialUnreadable",
    "HeldCredential",
    "NotHolder",
    "Wallet",
    "WalletError",
    "present",
]
