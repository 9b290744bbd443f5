"""Citizens' notices on Redis, in the citizen's slot: ``P:{sub:C}:notices`` (notice ids
by ``created_at``) and ``P:{sub:C}:notice-data`` (notice id -> JSON); the script that
adds one trims the oldest beyond :data:`NOTICE_CAP` in the same step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from redis.cluster import RedisCluster

from store.codec import Codec
from store.kinds.notices import NOTICE_CAP, NoticeRecord
from store.redis.base import RedisBase
from store.validation import check_activity_limit

__all__ = ["NoticesMixin"]

NOTICE = Codec(NoticeRecord)


class NoticesMixin(RedisBase):
    """:class:`store.kinds.notices.NoticeStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: notices sorted set, notice-data hash. ARGV: id, created_at, JSON, cap.
        "put_notice": """
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
        # KEYS: the same. ARGV: id.
        "delete_notice": """
local gone = redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return gone
""",
    }

    def _notice_keys(self, citizen_id: str) -> list[str]:
        return [self._citizen_key(citizen_id, n) for n in ("notices", "notice-data")]

    def put_notice(self, record: NoticeRecord) -> None:
        args = [record.notice_id, record.created_at, NOTICE.to_json(record), NOTICE_CAP]
        with self._guard():
            self._script("put_notice")(keys=self._notice_keys(record.citizen_id), args=args)

    def put_notices(self, records: list[NoticeRecord]) -> None:
        """The ``put_notice`` script for each notice: in one pipeline on a server; one
        call each on a Cluster (redis-py's cluster pipeline does not run scripts)."""
        if not records:
            return
        script = self._script("put_notice")
        with self._guard():
            if isinstance(self._r, RedisCluster):
                for record in records:
                    self.put_notice(record)
                return
            pipe = self._r.pipeline(transaction=False)
            for r in records:
                args = [r.notice_id, r.created_at, NOTICE.to_json(r), NOTICE_CAP]
                script(keys=self._notice_keys(r.citizen_id), args=args, client=pipe)
            pipe.execute()

    def list_notices(self, citizen_id: str, limit: int = 50) -> list[NoticeRecord]:
        check_activity_limit(limit)
        if limit == 0:
            return []
        order, data = self._notice_keys(citizen_id)
        with self._guard():
            ids = self._r.zrevrange(order, 0, limit - 1)
            blobs = self._r.hmget(data, ids) if ids else []
        notices = [NOTICE.from_json(blob) for blob in blobs if blob is not None]
        notices.sort(key=lambda n: (n.created_at, n.notice_id), reverse=True)
        return notices

    def delete_notice(self, citizen_id: str, notice_id: str) -> bool:
        with self._guard():
            gone = self._script("delete_notice")(
                keys=self._notice_keys(citizen_id), args=[notice_id]
            )
        return bool(gone)
