"""Errors of the wallet."""

from __future__ import annotations

from keys.errors import EcertError


class WalletError(EcertError):
    """Root of the wallet errors."""

    code = "wallet_error"


class CredentialUnreadable(WalletError):
    """A credential handed to the wallet is not an SD-JWT VC it can hold."""

    code = "credential_unreadable"


class ClaimsUnavailable(WalletError):
    """The credential lacks a claim the scene asks for, or is not accepted there."""

    code = "scene_unmet"


class NotHolder(WalletError):
    """The credential is bound to another holder key than this wallet's."""

    code = "not_holder"
