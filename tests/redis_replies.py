"""Typed views of raw redis-py replies for the tests that read Redis directly.

redis-py types its replies as ``bytes | str`` (it cannot know ``decode_responses``);
the store's client always returns bytes, and these helpers check that, not assume it.
"""

from __future__ import annotations

from collections.abc import Iterable


def as_bytes(value: object) -> bytes:
    """``value``, which must be ``bytes`` (a client with ``decode_responses=False``)."""
    assert isinstance(value, bytes), f"expected a bytes reply, got {type(value).__name__}"
    return value


def all_bytes(values: Iterable[object]) -> list[bytes]:
    """Every item of a multi-bulk reply, each checked to be ``bytes``."""
    return [as_bytes(v) for v in values]
