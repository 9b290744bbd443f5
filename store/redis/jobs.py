"""Jobs, their steps and permanent marks on Redis.

A job lives in its own slot (``{job:ID}``): ``P:{job:ID}:job`` (the record's fixed fields
as JSON), ``P:{job:ID}:live`` (a hash of the fields that change: ``state``,
``updated_at``, ``done``, ``skipped``, ``failed``, ``lease_holder``, ``lease_until``),
``P:{job:ID}:step-state`` and ``P:{job:ID}:step-data`` (step number -> state, sealed
data). Every fenced change is one script over those keys. Two indexes in the ``{jobs}``
slot, written after the job (a job the index misses for a moment is only listed late):
``P:{jobs}:index`` (every job id by ``created_at``) and ``P:{jobs}:open`` (jobs not yet
done or failed). A mark is one string ``P:{mark:<hash>}:mark:<scope>:<key>`` written
with ``SET NX``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from store.codec import Codec
from store.errors import Conflict, LeaseLost, NotFound
from store.kinds.jobs import JOB_STATES, JobRecord, JobState, JobStep, StepOutcome
from store.redis.base import RedisBase, decode_int, tag_hash, text
from store.validation import check_job, check_job_steps, check_outcomes, check_state

__all__ = ["JobsMixin"]

JOB = Codec(JobRecord)
_LIVE = ("state", "updated_at", "done", "skipped", "failed", "lease_holder", "lease_until")
_LIVE_INTS = frozenset({"updated_at", "done", "skipped", "failed", "lease_until"})

# Shared Lua: the lease check every fenced script starts with (KEYS[1] is ``live``).
_FENCE = """
local holder = redis.call('HGET', KEYS[1], 'lease_holder')
if not holder then return 'missing' end
if holder ~= ARGV[1] then return 'lost' end
"""


class JobsMixin(RedisBase):
    """:class:`store.kinds.jobs.JobStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: job, live, step-state, step-data. ARGV: job JSON, then the live fields
        # as name/value pairs (14 values), then n/state/data triples.
        "put_job": """
if redis.call('EXISTS', KEYS[1]) == 1 then return 'conflict' end
redis.call('SET', KEYS[1], ARGV[1])
for i = 2, 15, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
for i = 16, #ARGV, 3 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 2])
end
return 'ok'
""",
        # KEYS: live, step-state, step-data. ARGV: holder, then n/state/data triples.
        "add_job_steps": _FENCE
        + """
for i = 2, #ARGV, 3 do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then return 'conflict' end
end
for i = 2, #ARGV, 3 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
end
return 'ok'
""",
        # KEYS: live. ARGV: holder.
        "release_job": """
local holder = redis.call('HGET', KEYS[1], 'lease_holder')
if not holder or holder == '' or holder ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'lease_holder', '', 'lease_until', 0)
return 1
""",
        # KEYS: live. ARGV: holder, now, until.
        "claim_job": """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'pending' and state ~= 'running' then return 0 end
local until_ = tonumber(redis.call('HGET', KEYS[1], 'lease_until'))
local holder = redis.call('HGET', KEYS[1], 'lease_holder')
if until_ > tonumber(ARGV[2]) and holder ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'running', 'lease_holder', ARGV[1], 'lease_until', ARGV[3])
if tonumber(redis.call('HGET', KEYS[1], 'updated_at')) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
end
return 1
""",
        # KEYS: live, step-state, step-data. ARGV: holder, now, then n/state/data triples.
        "finish_steps": _FENCE
        + """
for i = 3, #ARGV, 3 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == 'pending' then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
    if ARGV[i + 1] ~= 'pending' then redis.call('HINCRBY', KEYS[1], ARGV[i + 1], 1) end
  end
end
if tonumber(redis.call('HGET', KEYS[1], 'updated_at')) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
end
return 'ok'
""",
        # KEYS: live. ARGV: holder, now, state.
        "finish_job": _FENCE
        + """
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'lease_holder', '', 'lease_until', 0)
if tonumber(redis.call('HGET', KEYS[1], 'updated_at')) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
end
return 'ok'
""",
    }

    def _job_keys(self, job_id: str) -> list[str]:
        tag = f"job:{job_id}"
        return [self._k(tag, name) for name in ("job", "live", "step-state", "step-data")]

    def _index(self, name: str) -> str:
        return self._k("jobs", name)

    @staticmethod
    def _triples(steps: list[JobStep] | list[StepOutcome]) -> list[Any]:
        out: list[Any] = []
        for step in steps:
            out.extend((step.n, step.state, step.data))
        return out

    @staticmethod
    def _check(answer: object) -> None:
        got = text(answer) if isinstance(answer, bytes | str) else "ok"
        if got == "missing":
            raise NotFound("no such job")
        if got == "lost":
            raise LeaseLost("another worker holds this job's lease")
        if got == "conflict":
            raise Conflict("this job (or one of its steps) already exists")

    def put_job(self, job: JobRecord, steps: list[JobStep]) -> None:
        """Insert the job and its first steps (one script), then index it."""
        check_job(job)
        check_job_steps(job.id, steps)
        live: list[Any] = []
        for name in _LIVE:
            live.extend((name, getattr(job, name)))
        args = [JOB.to_json(job, exclude=_LIVE), *live, *self._triples(steps)]
        with self._guard():
            self._check(self._script("put_job")(keys=self._job_keys(job.id), args=args))
            pipe = self._r.pipeline(transaction=True)
            pipe.zadd(self._index("index"), {job.id: job.created_at})
            pipe.zadd(self._index("open"), {job.id: job.created_at})
            pipe.execute()

    def add_job_steps(self, job_id: str, holder: str, steps: list[JobStep]) -> None:
        """Add steps while ``holder`` holds the lease (one script)."""
        check_job_steps(job_id, steps)
        keys = self._job_keys(job_id)[1:]
        with self._guard():
            self._check(
                self._script("add_job_steps")(keys=keys, args=[holder, *self._triples(steps)])
            )

    def release_job(self, job_id: str, holder: str) -> bool:
        with self._guard():
            done = self._script("release_job")(keys=[self._job_keys(job_id)[1]], args=[holder])
        return bool(done)

    def _read_job(self, job_id: str) -> JobRecord | None:
        key, live, _, _ = self._job_keys(job_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.get(key)
        pipe.hgetall(live)
        blob, fields = pipe.execute()
        if blob is None:
            return None
        extra: dict[str, object] = {}
        for name in _LIVE:
            raw = fields.get(name.encode())
            if raw is None:
                extra[name] = None
            elif name in _LIVE_INTS:
                extra[name] = decode_int(raw, f"job {name}")
            else:
                extra[name] = text(raw)
        return JOB.from_json(blob, extra)

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._guard():
            return self._read_job(job_id)

    def list_jobs(
        self, *, owner: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[JobRecord]:
        """Newest first, filtered (the index is read newest first until ``limit`` match)."""
        out: list[JobRecord] = []
        start, page = 0, 200
        with self._guard():
            while len(out) < limit:
                ids = self._r.zrevrange(self._index("index"), start, start + page - 1)
                if not ids:
                    break
                for raw in ids:
                    job = self._read_job(text(raw))
                    if job is None:
                        continue
                    if (owner is None or job.owner == owner) and (kind is None or job.kind == kind):
                        out.append(job)
                        if len(out) >= limit:
                            break
                start += page
        return out

    def runnable_jobs(self, now: int, limit: int = 100) -> list[str]:
        """Open jobs whose lease is free at ``now``, oldest first (finished ones found in
        the open index are dropped from it)."""
        out: list[str] = []
        with self._guard():
            for raw in self._r.zrange(self._index("open"), 0, -1):
                job_id = text(raw)
                job = self._read_job(job_id)
                if job is None or job.state in ("done", "failed"):
                    self._r.zrem(self._index("open"), job_id)
                    continue
                if job.lease_until <= now:
                    out.append(job_id)
                    if len(out) >= limit:
                        break
        return out

    def claim_job(self, job_id: str, holder: str, now: int, until: int) -> JobRecord | None:
        with self._guard():
            got = self._script("claim_job")(
                keys=[self._job_keys(job_id)[1]], args=[holder, now, until]
            )
            return self._read_job(job_id) if got else None

    def job_steps(self, job_id: str, start: int = 0, count: int = 1000) -> list[JobStep]:
        _, _, states, datas = self._job_keys(job_id)
        numbers = list(range(start, start + max(0, count)))
        if not numbers:
            return []
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hmget(states, numbers)
            pipe.hmget(datas, numbers)
            got_states, got_datas = pipe.execute()
        steps = []
        for n, state, data in zip(numbers, got_states, got_datas, strict=True):
            if state is None or data is None:
                continue
            value = text(state)
            check_state(value, ("pending", "done", "skipped", "failed"))
            steps.append(JobStep(job_id, n, value, bytes(data)))  # type: ignore[arg-type]
        return steps

    def finish_steps(
        self, job_id: str, holder: str, now: int, outcomes: list[StepOutcome]
    ) -> JobRecord:
        check_outcomes(outcomes)
        keys = self._job_keys(job_id)[1:]
        with self._guard():
            self._check(
                self._script("finish_steps")(
                    keys=keys, args=[holder, now, *self._triples(outcomes)]
                )
            )
            job = self._read_job(job_id)
        if job is None:
            raise NotFound("no such job")
        return job

    def finish_job(self, job_id: str, holder: str, now: int, state: JobState) -> JobRecord:
        check_state(state, JOB_STATES)
        with self._guard():
            self._check(
                self._script("finish_job")(
                    keys=[self._job_keys(job_id)[1]], args=[holder, now, state]
                )
            )
            self._r.zrem(self._index("open"), job_id)
            job = self._read_job(job_id)
        if job is None:
            raise NotFound("no such job")
        return job

    def _mark_key(self, scope: str, key: str) -> str:
        name = f"{scope}:{key}"
        return self._k(f"mark:{tag_hash(name)}", f"mark:{name}")

    def put_mark(self, scope: str, key: str, value: str) -> bool:
        with self._guard():
            return bool(self._r.set(self._mark_key(scope, key), value.encode("utf-8"), nx=True))

    def put_marks(self, scope: str, marks: list[tuple[str, str]]) -> list[bool]:
        """``SET NX`` each mark, in one pipeline (in order: an earlier entry of the same
        key wins)."""
        if not marks:
            return []
        with self._guard():
            pipe = self._r.pipeline(transaction=False)
            for key, value in marks:
                pipe.set(self._mark_key(scope, key), value.encode("utf-8"), nx=True)
            return [bool(done) for done in pipe.execute()]

    def get_marks(self, scope: str, keys: list[str]) -> list[str | None]:
        """``GET`` each mark, in one pipeline."""
        if not keys:
            return []
        with self._guard():
            pipe = self._r.pipeline(transaction=False)
            for key in keys:
                pipe.get(self._mark_key(scope, key))
            replies = pipe.execute()
        return [None if raw is None else text(raw) for raw in replies]

    def get_mark(self, scope: str, key: str) -> str | None:
        with self._guard():
            raw = self._r.get(self._mark_key(scope, key))
        return None if raw is None else text(raw)
