"""The activity log on Redis, in the citizen's slot: ``P:{sub:C}:activity`` (event
ids by ``at``) and ``P:{sub:C}:events`` (event id -> JSON). The script that adds an
event trims the oldest beyond :data:`ACTIVITY_CAP` in the same step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from store.codec import Codec
from store.kinds.activity import ACTIVITY_CAP, ActivityRecord
from store.redis.base import RedisBase
from store.validation import check_activity_limit

__all__ = ["ActivityMixin"]

ACTIVITY = Codec(ActivityRecord)


class ActivityMixin(RedisBase):
    """:class:`store.kinds.activity.ActivityStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: activity sorted set, events hash. ARGV: event id, at, JSON, cap.
        "add_activity": """
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
        # Same KEYS; ARGV: limit (>= 1). The newest events' JSON, newest first.
        "list_activity": """
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
""",
    }

    def add_activity(self, record: ActivityRecord) -> None:
        """Record one event (replacing one with the same citizen and event id).

        Only the newest :data:`ACTIVITY_CAP` events of the citizen are kept.
        """
        keys = [
            self._citizen_key(record.citizen_id, "activity"),
            self._citizen_key(record.citizen_id, "events"),
        ]
        args = [record.event_id, record.at, ACTIVITY.to_json(record), ACTIVITY_CAP]
        with self._guard():
            self._script("add_activity")(keys=keys, args=args)

    def list_activity(self, citizen_id: str, limit: int = 100) -> list[ActivityRecord]:
        """The citizen's newest ``limit`` events: ``at`` descending, then event id descending.

        Raises :class:`InvalidArgument` for a negative limit.
        """
        check_activity_limit(limit)
        if limit == 0:
            return []
        keys = [self._citizen_key(citizen_id, "activity"), self._citizen_key(citizen_id, "events")]
        with self._guard():
            blobs = self._script("list_activity")(keys=keys, args=[limit])
        return [ACTIVITY.from_json(blob) for blob in blobs if blob is not None]
