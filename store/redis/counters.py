"""The operator's daily counters on Redis: one hash per day, ``P:{counters:YYYY-MM-DD}:n``
(name -> count), added to with ``HINCRBY`` (atomic; no script needed). Each day is its
own slot on a Cluster, so a read asks each day's hash on its own."""

from __future__ import annotations

from redis.cluster import RedisCluster

from store.redis.base import RedisBase, decode_int, text
from store.validation import check_counter, check_counter_days

__all__ = ["CountersMixin"]


class CountersMixin(RedisBase):
    """:class:`store.kinds.counters.CounterStore` on Redis."""

    def _counter_key(self, day: str) -> str:
        return self._k(f"counters:{day}", "n")

    def bump_counter(self, day: str, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter (created at ``n``)."""
        check_counter(day, name, n)
        with self._guard():
            self._r.hincrby(self._counter_key(day), name, n)

    def read_counters(self, days: list[str]) -> dict[str, dict[str, int]]:
        """``{day: {name: count}}`` for each day asked (``{}`` for a day without any):
        one pipeline on a server, one ``HGETALL`` per day on a Cluster."""
        check_counter_days(days)
        unique = list(dict.fromkeys(days))
        with self._guard():
            if isinstance(self._r, RedisCluster):
                replies = [self._r.hgetall(self._counter_key(day)) for day in unique]
            else:
                pipe = self._r.pipeline(transaction=False)
                for day in unique:
                    pipe.hgetall(self._counter_key(day))
                replies = pipe.execute() if unique else []
        out: dict[str, dict[str, int]] = {}
        for day, reply in zip(unique, replies, strict=True):
            out[day] = {text(name): decode_int(value, "counter") for name, value in reply.items()}
        return out
