"""Configuration values on Redis (``P:{cfg}:values``, a hash)."""

from __future__ import annotations

from store.redis.base import RedisBase

__all__ = ["ConfigMixin"]


class ConfigMixin(RedisBase):
    """:class:`store.kinds.config.ConfigStore` on Redis."""

    def get_config(self, name: str) -> bytes | None:
        """The value stored under ``name``, or None. Raises :class:`StoreUnavailable`."""
        with self._guard():
            value = self._r.hget(self._k("cfg", "values"), name)
        return None if value is None else bytes(value)

    def put_config(self, name: str, value: bytes) -> None:
        """Insert or replace the value under ``name``. Raises :class:`StoreUnavailable`."""
        with self._guard():
            self._r.hset(self._k("cfg", "values"), name, bytes(value))
