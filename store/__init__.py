"""Storage: one interface (:mod:`store.interface`), an SQLite and a Redis backend."""

from __future__ import annotations

from store.interface import (
    ActivityRecord,
    ApiKeyRecord,
    CitizenRecord,
    Conflict,
    CredentialRecord,
    InvalidArgument,
    IssuerRecord,
    KeyRecord,
    NotFound,
    SessionRecord,
    StatusListRecord,
    Store,
    StoreError,
    StoreUnavailable,
    VenueRecord,
    WalletItem,
    WalletRecord,
)

__all__ = [
    "ActivityRecord",
    "ApiKeyRecord",
    "CitizenRecord",
    "Conflict",
    "CredentialRecord",
    "InvalidArgument",
    "IssuerRecord",
    "KeyRecord",
    "NotFound",
    "SessionRecord",
    "StatusListRecord",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "VenueRecord",
    "WalletItem",
    "WalletRecord",
    "open_store",
]


def open_store(url: str) -> Store:
    """Open a store from a URL: ``sqlite:///path/to/file.db`` or ``redis://host:port/db``.

    Raises :class:`StoreError` for an unknown scheme.
    """
    if url.startswith("sqlite:///"):
        from store.sqlite import SQLiteStore

        return SQLiteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("redis://", "rediss://", "unix://")):
        from store.redis import RedisStore

        return RedisStore.from_url(url)
    raise StoreError(f"unknown store URL scheme in {url.split(':', 1)[0]!r}")
