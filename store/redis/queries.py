"""Proof queries on Redis, in the citizen's slot: ``P:{sub:C}:queries`` (event ids by
``at``) and ``P:{sub:C}:query-data`` (event id -> JSON). The script that adds one trims
the oldest beyond :data:`PROOF_QUERY_CAP` in the same step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from store.codec import Codec
from store.kinds.queries import PROOF_QUERY_CAP, ProofQueryRecord
from store.redis.base import RedisBase
from store.validation import check_activity_limit

__all__ = ["QueriesMixin"]

QUERY = Codec(ProofQueryRecord)


class QueriesMixin(RedisBase):
    """:class:`store.kinds.queries.ProofQueryStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: queries sorted set, query-data hash. ARGV: event id, at, JSON, cap.
        "add_proof_query": """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[1], 0, extra - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1)
  redis.call('HDEL', KEYS[2], unpack(old))
end
return 1
""",
    }

    def _query_keys(self, citizen: str) -> list[str]:
        return [self._citizen_key(citizen, n) for n in ("queries", "query-data")]

    def add_proof_query(self, record: ProofQueryRecord) -> None:
        """Insert or replace; only the citizen's newest :data:`PROOF_QUERY_CAP` stay."""
        args = [record.event_id, record.at, QUERY.to_json(record), PROOF_QUERY_CAP]
        with self._guard():
            self._script("add_proof_query")(keys=self._query_keys(record.citizen), args=args)

    def list_proof_queries(self, citizen: str, limit: int = 100) -> list[ProofQueryRecord]:
        """Newest first. Raises :class:`InvalidArgument` for a negative limit."""
        check_activity_limit(limit)
        if limit == 0:
            return []
        order, data = self._query_keys(citizen)
        with self._guard():
            ids = self._r.zrevrange(order, 0, limit - 1)
            blobs = self._r.hmget(data, ids) if ids else []
        queries = [QUERY.from_json(blob) for blob in blobs if blob is not None]
        queries.sort(key=lambda q: (q.at, q.event_id), reverse=True)
        return queries
