"""Wallets and their items on SQLite (tables ``wallets`` and ``wallet_items``)."""

from __future__ import annotations

from store.codec import Codec
from store.kinds.wallets import WalletItem, WalletRecord
from store.sqlite.base import SQLiteBase

__all__ = ["WalletsMixin"]

WALLET = Codec(WalletRecord)
ITEM = Codec(WalletItem)


class WalletsMixin(SQLiteBase):
    """:class:`store.kinds.wallets.WalletStore` on SQLite."""

    def create_wallet(self, record: WalletRecord) -> bool:
        """Create the citizen's wallet; False (and nothing written) if one exists."""
        with self._write() as conn:
            cur = conn.execute(WALLET.insert("wallets", "INSERT OR IGNORE"), WALLET.to_row(record))
            return cur.rowcount == 1

    def get_wallet(self, citizen_id: str) -> WalletRecord | None:
        """The citizen's wallet, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(
                WALLET.select("wallets") + " WHERE citizen_id = ?", (citizen_id,)
            ).fetchone()
        return None if row is None else WALLET.from_row(row)

    def put_wallet_item(self, item: WalletItem) -> None:
        """Insert or replace the item with this citizen and credential id."""
        with self._write() as conn:
            conn.execute(ITEM.insert("wallet_items", "INSERT OR REPLACE"), ITEM.to_row(item))

    def put_wallet_items(self, items: list[WalletItem]) -> None:
        """Insert or replace many items in one transaction."""
        if not items:
            return
        with self._write() as conn:
            conn.executemany(
                ITEM.insert("wallet_items", "INSERT OR REPLACE"), [ITEM.to_row(i) for i in items]
            )

    def get_wallet_item(self, citizen_id: str, credential_id: str) -> WalletItem | None:
        """One item, or None. Raises :class:`StoreUnavailable`."""
        with self._read() as conn:
            row = conn.execute(
                ITEM.select("wallet_items") + " WHERE citizen_id = ? AND credential_id = ?",
                (citizen_id, credential_id),
            ).fetchone()
        return None if row is None else ITEM.from_row(row)

    def list_wallet_items(self, citizen_id: str) -> list[WalletItem]:
        """The citizen's items, ordered by ``added_at`` then ``credential_id``."""
        with self._read() as conn:
            rows = conn.execute(
                ITEM.select("wallet_items")
                + " WHERE citizen_id = ? ORDER BY added_at, credential_id",
                (citizen_id,),
            ).fetchall()
        return [ITEM.from_row(row) for row in rows]

    def delete_wallet_item(self, citizen_id: str, credential_id: str) -> bool:
        """Remove one item; False if it was not there."""
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM wallet_items WHERE citizen_id = ? AND credential_id = ?",
                (citizen_id, credential_id),
            )
            return cur.rowcount == 1
