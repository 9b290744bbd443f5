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


def open_store(url: str, *, cluster: bool = False) -> Store:
    """Open a store from a URL: ``sqlite:///path/to/file.db`` or ``redis://host:port/db``.

    With ``cluster``, a ``redis://`` URL names any node of a Redis Cluster (see
    :meth:`store.redis.RedisStore.from_url`). Raises :class:`StoreError` for an unknown
    scheme, or for ``cluster`` with an SQLite URL.
    """
    if url.startswith("sqlite:///"):
        if cluster:
            raise InvalidArgument("a Redis Cluster needs a redis:// URL")
        from store.sqlite import SQLiteStore

        return SQLiteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("redis://", "rediss://", "unix://")):
        from store.redis import RedisStore

        return RedisStore.from_url(url, cluster=cluster)
    raise StoreError(f"unknown store URL scheme in {url.split(':', 1)[0]!r}")
