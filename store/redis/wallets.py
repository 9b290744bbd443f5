"""Wallets on Redis, in the citizen's slot: ``P:{sub:C}:wallet`` (record JSON, ``SET
NX``: the first wins) and ``P:{sub:C}:items`` (credential id -> item JSON)."""

from __future__ import annotations

from store.codec import Codec
from store.kinds.wallets import WalletItem, WalletRecord
from store.redis.base import RedisBase

__all__ = ["WalletsMixin"]

WALLET = Codec(WalletRecord)
ITEM = Codec(WalletItem)


class WalletsMixin(RedisBase):
    """:class:`store.kinds.wallets.WalletStore` on Redis."""

    def create_wallet(self, record: WalletRecord) -> bool:
        """Create the citizen's wallet; False (and nothing written) if one exists."""
        blob = WALLET.to_json(record)
        with self._guard():
            created = self._r.set(self._citizen_key(record.citizen_id, "wallet"), blob, nx=True)
        return bool(created)

    def get_wallet(self, citizen_id: str) -> WalletRecord | None:
        """The citizen's wallet, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blob = self._r.get(self._citizen_key(citizen_id, "wallet"))
        return None if blob is None else WALLET.from_json(blob)

    def put_wallet_item(self, item: WalletItem) -> None:
        """Insert or replace the item with this citizen and credential id."""
        blob = ITEM.to_json(item)
        with self._guard():
            self._r.hset(self._citizen_key(item.citizen_id, "items"), item.credential_id, blob)

    def put_wallet_items(self, items: list[WalletItem]) -> None:
        """Insert or replace many items: one pipeline of ``HSET`` (one per citizen's slot)."""
        if not items:
            return
        with self._guard():
            pipe = self._r.pipeline(transaction=False)
            for item in items:
                key = self._citizen_key(item.citizen_id, "items")
                pipe.hset(key, item.credential_id, ITEM.to_json(item))
            pipe.execute()

    def get_wallet_item(self, citizen_id: str, credential_id: str) -> WalletItem | None:
        """One item, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            blob = self._r.hget(self._citizen_key(citizen_id, "items"), credential_id)
        return None if blob is None else ITEM.from_json(blob)

    def list_wallet_items(self, citizen_id: str) -> list[WalletItem]:
        """The citizen's items, ordered by ``added_at`` then ``credential_id``."""
        with self._guard():
            blobs = self._r.hgetall(self._citizen_key(citizen_id, "items"))
        items = [ITEM.from_json(blob) for blob in blobs.values()]
        items.sort(key=lambda i: (i.added_at, i.credential_id))
        return items

    def delete_wallet_item(self, citizen_id: str, credential_id: str) -> bool:
        """Remove one item; False if it was not there."""
        with self._guard():
            removed = self._r.hdel(self._citizen_key(citizen_id, "items"), credential_id)
        return bool(removed)
