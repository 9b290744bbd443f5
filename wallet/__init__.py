"""The citizen's wallet: holder keys, held credentials, presentations."""

from __future__ import annotations

from wallet.errors import (
    ClaimsUnavailable,
    CredentialNotInWallet,
    CredentialUnreadable,
    NotHolder,
    WalletCorrupt,
    WalletError,
)
from wallet.holder import Wallet
from wallet.presentation import NONCE_BYTES, HeldCredential, present, present_set
from wallet.vault import Presentation, WalletVault

__all__ = [
    "NONCE_BYTES",
    "ClaimsUnavailable",
    "CredentialNotInWallet",
    "CredentialUnreadable",
    "HeldCredential",
    "NotHolder",
    "Presentation",
    "Wallet",
    "WalletCorrupt",
    "WalletError",
    "WalletVault",
    "present",
    "present_set",
]
