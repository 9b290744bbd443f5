"""Citizens' wallets: the wrapped keys and the encrypted credentials they hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["WalletItem", "WalletRecord", "WalletStore"]


@dataclass(frozen=True, slots=True)
class WalletRecord:
    """A citizen's wallet keys, both wrapped (never in clear).

    ``key_blob`` is the citizen's data key wrapped with the platform's wallet key;
    ``holder_blob`` the holder's P-256 private key wrapped with that data key.
    """

    citizen_id: str
    holder_kid: str
    holder_blob: bytes
    key_blob: bytes
    created_at: int


@dataclass(frozen=True, slots=True)
class WalletItem:
    """One credential in a wallet. ``blob`` is the SD-JWT encrypted with the citizen's
    data key (AES-GCM, the citizen and credential id as associated data); the other
    fields are what the registry already knows in clear."""

    citizen_id: str
    credential_id: str
    vct: str
    issuer: str
    expires_at: int
    added_at: int
    blob: bytes


@runtime_checkable
class WalletStore(Protocol):
    """One wallet per citizen and its items (everything of one citizen shares one Redis
    Cluster slot)."""

    def create_wallet(self, record: WalletRecord) -> bool:
        """Create the citizen's wallet; False (and nothing written) if one exists."""

    def get_wallet(self, citizen_id: str) -> WalletRecord | None: ...
    def put_wallet_item(self, item: WalletItem) -> None:
        """Insert or replace the item with this citizen and credential id."""

    def put_wallet_items(self, items: list[WalletItem]) -> None:
        """:meth:`put_wallet_item` for many items, of any citizens, at once (bulk
        issuance; not one transaction on Redis: a crash may leave some written)."""

    def get_wallet_item(self, citizen_id: str, credential_id: str) -> WalletItem | None: ...
    def list_wallet_items(self, citizen_id: str) -> list[WalletItem]:
        """The citizen's items, ordered by ``added_at`` then ``credential_id``."""

    def delete_wallet_item(self, citizen_id: str, credential_id: str) -> bool:
        """Remove one item; False if it was not there."""
