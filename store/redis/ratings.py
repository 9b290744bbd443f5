"""Ratings and misuse reports on Redis.

A rating lives in three slots, each written by its own script (a Cluster runs no script
across slots), in this order: the operator's list of low ratings (``{ratings}``), the
citizen's own (``{sub:C}``) and the actor's copy with its star counts (``{rate:H}``, ``H``
the hash of the actor kind and id). Each write is idempotent, so a retry after a crash
between two of them repairs the others; ``followed_up`` is kept beside the JSON (its own
hash field) so that the operator's mark never rewrites a citizen's comment.

Reports are few and read by the operator: they all live in the ``{reports}`` slot, one
per event (``by-event``), their state beside the JSON so that resolving is one
compare-and-set script.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar

from store.codec import Codec
from store.errors import Conflict, CorruptRecord, NotFound
from store.kinds.ratings import (
    LOW_STARS,
    REPORT_STATES,
    RatingRecord,
    ReportRecord,
    check_rating,
    check_read_limit,
    check_report,
)
from store.redis.base import RedisBase, decode_int, tag_hash, text
from store.validation import check_state

__all__ = ["RatingsMixin"]

RATING = Codec(RatingRecord)
REPORT = Codec(ReportRecord)
_FLAG = ("followed_up",)
_REPORT_LIVE = ("state", "resolved_at")


class RatingsMixin(RedisBase):
    """:class:`store.kinds.ratings.RatingStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: low sorted set, low-data hash, actors set.
        # ARGV: event id, created_at, full JSON, "1" if awaiting follow-up, actor member.
        "rating_global": """
redis.call('SADD', KEYS[3], ARGV[5])
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1
""",
        # KEYS: ratings hash, followed hash (the citizen's). ARGV: event id, JSON, flag.
        "rating_citizen": """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
""",
        # KEYS: order sorted set, data hash, stars hash, distribution hash, followed hash.
        # ARGV: event id, created_at, JSON, stars, flag.
        "rating_actor": """
local old = redis.call('HGET', KEYS[3], ARGV[1])
if old then redis.call('HINCRBY', KEYS[4], old, -1) end
redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[5])
return 1
""",
        # KEYS: low sorted set, low-data hash. ARGV: event id. The rating's JSON, or nil.
        "rating_take_low": """
local blob = redis.call('HGET', KEYS[2], ARGV[1])
if not blob then return false end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return blob
""",
        # KEYS: a data hash, its followed hash. ARGV: event id. Flag only a rating there.
        "rating_flag": """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], '1')
end
return 1
""",
        # KEYS: by-event hash, data hash, state hash, resolved-at hash, open sorted set.
        # ARGV: event id, report id, JSON, created_at.
        "report_put": """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[2], 'open')
redis.call('HSET', KEYS[4], ARGV[2], '0')
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[2])
return 1
""",
        # KEYS: state hash, resolved-at hash, open and resolved sorted sets.
        # ARGV: report id, resolved_at. 0: unknown, 1: already resolved, 2: resolved now.
        "report_resolve": """
local state = redis.call('HGET', KEYS[1], ARGV[1])
if not state then return 0 end
if state ~= 'open' then return 1 end
local score = redis.call('ZSCORE', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], 'resolved')
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], score or 0, ARGV[1])
return 2
""",
    }

    # -- key names ------------------------------------------------------------------------

    def _global_rating_keys(self) -> list[str]:
        return [self._k("ratings", n) for n in ("low", "low-data", "actors")]

    def _citizen_rating_keys(self, citizen: str) -> list[str]:
        return [self._citizen_key(citizen, n) for n in ("ratings", "rating-followed")]

    def _actor_rating_keys(self, actor_kind: str, actor: str) -> list[str]:
        tag = f"rate:{tag_hash(json.dumps([actor_kind, actor]))}"
        names = ("order", "data", "stars", "dist", "followed")
        return [self._k(tag, n) for n in names]

    def _report_keys(self) -> list[str]:
        names = ("by-event", "data", "state", "resolved-at", "open", "resolved")
        return [self._k("reports", n) for n in names]

    # -- ratings ---------------------------------------------------------------------------

    def put_rating(self, record: RatingRecord) -> None:
        check_rating(record)
        full = RATING.to_json(record)
        blob = RATING.to_json(record, exclude=_FLAG)
        flag = "1" if record.followed_up else "0"
        low = "1" if record.stars <= LOW_STARS and not record.followed_up else "0"
        member = json.dumps([record.actor_kind, record.actor])
        eid = record.event_id
        with self._guard():
            self._script("rating_global")(
                keys=self._global_rating_keys(),
                args=[eid, record.created_at, full, low, member],
            )
            self._script("rating_citizen")(
                keys=self._citizen_rating_keys(record.citizen), args=[eid, blob, flag]
            )
            self._script("rating_actor")(
                keys=self._actor_rating_keys(record.actor_kind, record.actor),
                args=[eid, record.created_at, blob, record.stars, flag],
            )

    def _ratings(
        self, blobs: list[bytes | None], flags: list[bytes | None]
    ) -> list[RatingRecord]:
        out = []
        for blob, flag in zip(blobs, flags, strict=True):
            if blob is None:
                continue
            if flag not in (b"0", b"1"):
                raise CorruptRecord("a stored RatingRecord has a bad 'followed_up'")
            out.append(RATING.from_json(blob, {"followed_up": flag == b"1"}))
        return out

    def get_ratings(self, citizen: str, event_ids: list[str]) -> list[RatingRecord]:
        check_read_limit(len(event_ids))
        if not event_ids:
            return []
        data, followed = self._citizen_rating_keys(citizen)
        with self._guard():
            blobs = self._r.hmget(data, event_ids)
            flags = self._r.hmget(followed, event_ids)
        return self._ratings(blobs, flags)

    def list_ratings_by_actor(
        self, actor_kind: str, actor: str, limit: int = 100
    ) -> list[RatingRecord]:
        check_read_limit(limit)
        if limit == 0:
            return []
        order, data, _, _, followed = self._actor_rating_keys(actor_kind, actor)
        with self._guard():
            ids = self._r.zrevrange(order, 0, limit - 1)
            blobs = self._r.hmget(data, ids) if ids else []
            flags = self._r.hmget(followed, ids) if ids else []
        ratings = self._ratings(blobs, flags)
        ratings.sort(key=lambda r: (r.created_at, r.event_id), reverse=True)
        return ratings

    def rating_distribution(self, actor_kind: str, actor: str) -> tuple[int, int, int, int, int]:
        dist = self._actor_rating_keys(actor_kind, actor)[3]
        with self._guard():
            raw = self._r.hmget(dist, ["1", "2", "3", "4", "5"])
        c = [0 if v is None else decode_int(v, "rating count") for v in raw]
        return (c[0], c[1], c[2], c[3], c[4])

    def list_rated_actors(self, limit: int = 1000) -> list[tuple[str, str]]:
        check_read_limit(limit)
        with self._guard():
            members = self._r.smembers(self._global_rating_keys()[2])
        actors = []
        for member in members:
            try:
                kind, actor = json.loads(text(member))
            except (ValueError, TypeError):
                raise CorruptRecord("a stored rated actor is malformed") from None
            actors.append((str(kind), str(actor)))
        return sorted(actors)[:limit]

    def list_low_ratings(self, limit: int = 100) -> list[RatingRecord]:
        check_read_limit(limit)
        if limit == 0:
            return []
        order, data, _ = self._global_rating_keys()
        with self._guard():
            ids = self._r.zrevrange(order, 0, limit - 1)
            blobs = self._r.hmget(data, ids) if ids else []
        ratings = [RATING.from_json(blob) for blob in blobs if blob is not None]
        ratings.sort(key=lambda r: (r.created_at, r.event_id), reverse=True)
        return ratings

    def mark_rating_followed_up(self, event_id: str) -> bool:
        low, low_data, _ = self._global_rating_keys()
        with self._guard():
            blob = self._script("rating_take_low")(keys=[low, low_data], args=[event_id])
            if blob is None:
                return False
            record = RATING.from_json(blob)
            data, followed = self._citizen_rating_keys(record.citizen)
            self._script("rating_flag")(keys=[data, followed], args=[event_id])
            keys = self._actor_rating_keys(record.actor_kind, record.actor)
            self._script("rating_flag")(keys=[keys[1], keys[4]], args=[event_id])
        return True

    # -- reports ---------------------------------------------------------------------------

    def put_report(self, record: ReportRecord) -> bool:
        check_report(record)
        by_event, data, state, resolved_at, open_, _ = self._report_keys()
        blob = REPORT.to_json(record, exclude=_REPORT_LIVE)
        with self._guard():
            done = self._script("report_put")(
                keys=[by_event, data, state, resolved_at, open_],
                args=[record.event_id, record.report_id, blob, record.created_at],
            )
        return bool(done)

    def _reports(self, ids: list[bytes | str]) -> list[ReportRecord]:
        _, data, state, resolved_at, _, _ = self._report_keys()
        with self._guard():
            blobs = self._r.hmget(data, ids)
            states = self._r.hmget(state, ids)
            times = self._r.hmget(resolved_at, ids)
        out = []
        for blob, st, at in zip(blobs, states, times, strict=True):
            if blob is None or st is None or at is None:
                continue
            extra = {"state": text(st), "resolved_at": decode_int(at, "report resolved_at")}
            out.append(REPORT.from_json(blob, extra))
        return out

    def get_report(self, report_id: str) -> ReportRecord | None:
        found = self._reports([report_id])
        return found[0] if found else None

    def get_event_reports(self, event_ids: list[str]) -> list[ReportRecord]:
        check_read_limit(len(event_ids))
        if not event_ids:
            return []
        with self._guard():
            ids = self._r.hmget(self._report_keys()[0], event_ids)
        found = [i for i in ids if i is not None]
        return self._reports(found) if found else []

    def list_reports(self, state: str, limit: int = 100) -> list[ReportRecord]:
        check_state(state, REPORT_STATES)
        check_read_limit(limit)
        if limit == 0:
            return []
        order = self._report_keys()[4 if state == "open" else 5]
        with self._guard():
            ids = self._r.zrevrange(order, 0, limit - 1)
        reports = [r for r in self._reports(ids) if r.state == state] if ids else []
        reports.sort(key=lambda r: (r.created_at, r.report_id), reverse=True)
        return reports

    def resolve_report(self, report_id: str, resolved_at: int) -> ReportRecord:
        _, _, state, at, open_, resolved = self._report_keys()
        with self._guard():
            outcome = self._script("report_resolve")(
                keys=[state, at, open_, resolved], args=[report_id, resolved_at]
            )
        if outcome == 0:
            raise NotFound(f"no report {report_id!r}")
        if outcome == 1:
            raise Conflict(f"report {report_id!r} is already resolved")
        report = self.get_report(report_id)
        if report is None:  # pragma: no cover - its data is written before its state
            raise NotFound(f"no report {report_id!r}")
        return report
