"""Configuration values on Redis (``P:{cfg}:values``, a hash: name -> value bytes)."""

from __future__ import annotations

from store.kinds.config import (
    BASE_URL,
    KEYED_IDEMPOTENCY_SINCE,
    PSEUDONYMS,
    PSEUDONYMS_DONE,
    SCENES,
    TRUST_VERSION,
    check_base_url,
    check_config_name,
    check_config_value,
    new_version,
    parse_instant,
    status_version_name,
)
from store.redis.base import RedisBase

__all__ = ["ConfigMixin"]


class ConfigMixin(RedisBase):
    """:class:`store.kinds.config.ConfigStore` on Redis."""

    def _config_key(self) -> str:
        return self._k("cfg", "values")

    def _config_get(self, name: str) -> bytes | None:
        with self._guard():
            value = self._r.hget(self._config_key(), name)
        return None if value is None else bytes(value)

    def _config_put(self, name: str, value: bytes) -> None:
        with self._guard():
            self._r.hset(self._config_key(), name, value)

    def trust_version(self) -> bytes | None:
        """See :meth:`store.kinds.config.ConfigStore.trust_version`."""
        return self._config_get(TRUST_VERSION)

    def bump_trust_version(self) -> bytes:
        """See :meth:`store.kinds.config.ConfigStore.bump_trust_version`."""
        version = new_version()
        self._config_put(TRUST_VERSION, version)
        return version

    def base_url(self) -> str | None:
        """See :meth:`store.kinds.config.ConfigStore.base_url`."""
        value = self._config_get(BASE_URL)
        return None if value is None else value.decode("utf-8")

    def set_base_url(self, url: str) -> str:
        """See :meth:`store.kinds.config.ConfigStore.set_base_url`: ``HSETNX`` then
        ``HGET`` in one ``MULTI`` (one slot: the hash)."""
        value = check_base_url(url)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hsetnx(self._config_key(), BASE_URL, value)
            pipe.hget(self._config_key(), BASE_URL)
            _, kept = pipe.execute()
        return bytes(kept).decode("utf-8")

    def keyed_idempotency_since(self, now: int) -> int:
        """See :meth:`store.kinds.config.ConfigStore.keyed_idempotency_since`:
        ``HSETNX`` then ``HGET`` in one ``MULTI`` (one slot: the hash)."""
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hsetnx(self._config_key(), KEYED_IDEMPOTENCY_SINCE, str(int(now)))
            pipe.hget(self._config_key(), KEYED_IDEMPOTENCY_SINCE)
            _, kept = pipe.execute()
        return parse_instant(None if kept is None else bytes(kept), now)

    def scene_policies(self) -> bytes | None:
        """See :meth:`store.kinds.config.ConfigStore.scene_policies`."""
        return self._config_get(SCENES)

    def put_scene_policies(self, value: bytes) -> None:
        """See :meth:`store.kinds.config.ConfigStore.put_scene_policies`."""
        self._config_put(SCENES, check_config_value(value))

    def status_list_version(self, uri: str) -> bytes | None:
        """See :meth:`store.kinds.config.ConfigStore.status_list_version`."""
        return self._config_get(status_version_name(uri))

    def bump_status_list_version(self, uri: str) -> bytes:
        """See :meth:`store.kinds.config.ConfigStore.bump_status_list_version`."""
        name = status_version_name(uri)
        version = new_version()
        self._config_put(name, version)
        return version

    def pseudonyms_done(self) -> bool:
        """See :meth:`store.kinds.config.ConfigStore.pseudonyms_done`."""
        return self._config_get(PSEUDONYMS) is not None

    def mark_pseudonyms_done(self) -> None:
        """See :meth:`store.kinds.config.ConfigStore.mark_pseudonyms_done`."""
        self._config_put(PSEUDONYMS, PSEUDONYMS_DONE)

    def get_config(self, name: str) -> bytes | None:
        """See :meth:`store.kinds.config.ConfigStore.get_config`."""
        return self._config_get(check_config_name(name))
