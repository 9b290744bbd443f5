"""The Redis plumbing shared by every kind of record: the client, the translation of
driver errors, the key names (with their Cluster hash tags) and the Lua scripts."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, Self

import redis
from redis import exceptions as rexc
from redis.cluster import RedisCluster

from store.errors import CorruptRecord, InvalidArgument, StoreError, StoreUnavailable

__all__ = ["RedisBase", "decode_int", "ms", "tag_hash", "text"]

# Errors after which "try again later" is the right answer.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    rexc.ConnectionError,
    rexc.TimeoutError,
    rexc.ClusterDownError,
    rexc.TryAgainError,
    rexc.ReadOnlyError,
    rexc.OutOfMemoryError,
    rexc.SlotNotCoveredError,
)
# Connection errors that are a configuration mistake, not an outage.
_MISCONFIGURED: tuple[type[BaseException], ...] = (
    rexc.AuthenticationError,
    rexc.AuthorizationError,
)


def _cluster_unreachable(err: rexc.RedisClusterException) -> bool:
    """Whether redis-py's cluster client gave up because no node answered or slots are
    uncovered (an outage), rather than for a command it cannot route (a bug)."""
    message = str(err)
    if "Cluster mode is not enabled" in message:  # a plain server: a configuration mistake
        return False
    return message.startswith(("Redis Cluster cannot be connected", "All slots are not covered"))


def tag_hash(value: str) -> str:
    """The first 16 hex digits of SHA-256 of ``value`` (a hash tag for long names)."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def text(value: bytes | str) -> str:
    """A reply as text (the client returns bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def decode_int(value: bytes | str, what: str) -> int:
    """A stored decimal integer; raises :class:`CorruptRecord` for anything else."""
    try:
        got = text(value)
        if not got.lstrip("-").isdigit():
            raise ValueError(got)
        return int(got)
    except (ValueError, UnicodeDecodeError):
        raise CorruptRecord(f"a stored {what} is not an integer") from None


def ms(at: float) -> int:
    """``at`` (seconds) as a Redis ``PXAT`` time, rounded up so never early (at least 1)."""
    return max(1, math.ceil(at * 1000))


class RedisBase:
    """A Redis server or cluster behind the store's errors: what every kind's module
    builds on (:meth:`_guard`, :meth:`_k`, :meth:`_script`).

    A kind's module lists its Lua scripts in ``_SCRIPTS`` (name -> source); they are
    registered once here (no command is sent: redis-py loads a script on first use).
    """

    _SCRIPTS: ClassVar[Mapping[str, str]] = {}

    def __init__(self, client: redis.Redis | RedisCluster, prefix: str = "ecert") -> None:
        """Wrap a client that returns bytes (``decode_responses=False``).

        Raises :class:`StoreError` for a prefix holding braces or a decoding client.
        """
        if not prefix or "{" in prefix or "}" in prefix:
            raise InvalidArgument(f"invalid key prefix {prefix!r}")
        kwargs_of = getattr(client, "get_connection_kwargs", None)
        if callable(kwargs_of) and kwargs_of().get("decode_responses"):
            raise InvalidArgument(
                "the Redis client must return bytes (decode_responses=False)",
            )
        self.client = client
        self.prefix = prefix
        self._r: Any = client  # redis-py's return types are unions with Awaitable
        self._scripts: dict[str, Any] = {}
        for cls in type(self).__mro__:
            for name, source in vars(cls).get("_SCRIPTS", {}).items():
                if name in self._scripts:
                    raise TypeError(f"two kinds define the Redis script {name!r}")
                self._scripts[name] = self._r.register_script(source)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "ecert", cluster: bool = False, **kwargs: Any
    ) -> Self:
        """Connect to ``redis://``, ``rediss://`` or ``unix://`` ``url``.

        ``kwargs`` go to :meth:`redis.Redis.from_url` (timeouts, retry policy…). No
        command is sent yet, so an unreachable server shows on first use as
        :class:`StoreUnavailable`. Raises :class:`StoreError` for a malformed URL.

        With ``cluster``, ``url`` (``redis://`` or ``rediss://``, database 0) names any
        node of a Redis Cluster and the client is :class:`redis.cluster.RedisCluster`
        (``kwargs`` go to its ``from_url``). It asks that node for the slot map at once,
        so an unreachable cluster raises :class:`StoreUnavailable` here.
        """
        client: redis.Redis | RedisCluster
        try:
            if cluster:
                if not url.startswith(("redis://", "rediss://")):
                    raise ValueError("a Redis Cluster URL is redis:// or rediss://")
                client = RedisCluster.from_url(url, **kwargs)
            else:
                client = redis.Redis.from_url(url, **kwargs)
        except ValueError as err:
            raise InvalidArgument(f"invalid Redis URL: {err}") from err
        except _MISCONFIGURED as err:
            raise StoreError(f"Redis refused the credentials: {err}") from err
        except _UNAVAILABLE as err:
            raise StoreUnavailable(f"Redis cluster unavailable: {err}") from err
        except rexc.RedisClusterException as err:  # no node answered, or slots uncovered
            if _cluster_unreachable(err):
                raise StoreUnavailable(f"Redis cluster unavailable: {err}") from err
            raise StoreError(f"Redis cluster error: {err}") from err
        try:
            return cls(client, prefix=prefix)
        except BaseException:
            client.close()
            raise

    def close(self) -> None:
        """Close the client and its connection pool. Idempotent."""
        self._r.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Translate driver errors into the store's errors."""
        try:
            yield
        except _MISCONFIGURED as err:
            raise StoreError(f"Redis refused the credentials: {err}") from err
        except _UNAVAILABLE as err:
            raise StoreUnavailable(f"Redis store unavailable: {err}") from err
        except rexc.RedisError as err:
            raise StoreError(f"Redis error: {err}") from err
        except rexc.RedisClusterException as err:  # not a RedisError
            if _cluster_unreachable(err):
                raise StoreUnavailable(f"Redis cluster unavailable: {err}") from err
            raise StoreError(f"Redis cluster error: {err}") from err

    def _script(self, name: str) -> Any:
        """The registered script ``name`` (call it with ``keys=`` and ``args=``)."""
        return self._scripts[name]

    # -- key names (the layout is the docstring of store.redis) --------------------------

    def _k(self, tag: str, name: str) -> str:
        return f"{self.prefix}:{{{tag}}}:{name}"

    def _citizen_key(self, citizen_id: str, name: str) -> str:
        """A key in the slot of everything of one citizen (``{sub:C}``)."""
        return self._k(f"sub:{citizen_id}", name)

    def _short_lived(self, kind: str, name: str) -> str:
        return self._k(f"{kind}:{tag_hash(name)}", name)
