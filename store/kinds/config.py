"""Configuration values: small opaque blobs (trust-list settings, scene policies)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["ConfigStore"]


@runtime_checkable
class ConfigStore(Protocol):
    """Named values; each call atomic."""

    def get_config(self, name: str) -> bytes | None: ...
    def put_config(self, name: str, value: bytes) -> None: ...
