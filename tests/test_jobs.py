"""The job core (service/jobs.py): steps run in order and end once, a worker that dies
mid-job leaves it to the next one once its lease is over, a stalled worker can no longer
write, failures are recorded with their code, and the spec and steps are sealed."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from keys.errors import NotFound
from service.errors import JobCorrupt, JobKindUnknown
from service.jobs import JobRunner, Jobs, Journal, OpenStep, StepResult, summary
from store.errors import LeaseLost
from store.interface import JobRecord, Store
from tests.factory import Clock


class Crash(BaseException):
    """What ``kill -9`` does to a worker, as far as the store can tell: it stops."""


@dataclass
class Echo:
    """A job kind for the tests: each step notes ``ahead`` then answers its input."""

    kind: str = "echo"
    chunk: int = 1
    crash_at: int | None = None
    runs: list[int] = field(default_factory=list)
    finished_runs: int = 0

    def run_steps(
        self, job: JobRecord, spec: dict[str, Any], steps: list[OpenStep], journal: Journal
    ) -> list[StepResult]:
        out = []
        for step in journal.note([(s, {"ahead": True}) for s in steps]):
            self.runs.append(step.n)
            if step.n == self.crash_at:
                raise Crash
            value = step.data["value"]
            if value == "refuse":
                raise NotFound("nothing to echo")
            if value == "bug":
                raise RuntimeError("a bug")
            out.append(StepResult("done", {"echo": value, "seen_ahead": step.data["ahead"]}))
        return out

    def finished(self, job: JobRecord, spec: dict[str, Any]) -> None:
        self.finished_runs += 1


def jobs_on(store: Store, clock: Clock, handler: Echo | None = None) -> Jobs:
    jobs = Jobs(store, secrets.token_bytes(32), lease=30, clock=clock)
    jobs.register(handler or Echo())
    return jobs


KEY = secrets.token_bytes(32)


def test_a_job_runs_its_steps_in_order_once(store: Store) -> None:
    clock, echo = Clock(), Echo()
    jobs = Jobs(store, KEY, clock=clock)
    jobs.register(echo)
    job = jobs.create("echo", "operator", {"about": "x"}, [{"value": i} for i in range(5)])
    assert (job.state, job.total, job.lease_holder) == ("pending", 5, "")
    seen: list[int] = []
    ended = jobs.run(job.id, progress=lambda j: seen.append(j.done))
    assert ended is not None and ended.state == "done" and ended.done == 5
    assert echo.runs == [0, 1, 2, 3, 4] and echo.finished_runs == 1
    assert seen[-1] == 5 and seen == sorted(seen)
    assert [s.data for s in jobs.steps(ended)] == [
        {"value": i, "ahead": True, "echo": i, "seen_ahead": True} for i in range(5)
    ]
    assert jobs.run(job.id) is None  # done: nothing to claim
    assert summary(ended)["done"] == 5 and jobs.spec(ended) == {"about": "x"}


def test_a_crashed_worker_leaves_the_job_to_the_next_after_its_lease(store: Store) -> None:
    clock = Clock()
    first = Echo(crash_at=2)
    a = Jobs(store, KEY, lease=30, clock=clock)
    a.register(first)
    job = a.create("echo", "operator", {}, [{"value": i} for i in range(5)])
    with pytest.raises(Crash):
        a.run(job.id)
    b_echo = Echo()
    b = Jobs(store, KEY, lease=30, clock=clock)
    b.register(b_echo)
    assert b.run_pending() == 0  # the lease is still a's
    clock.advance(31)
    assert b.run_pending() == 1
    # Steps 0 and 1 ended before the crash and are not run again; step 2 is.
    assert first.runs == [0, 1, 2] and b_echo.runs == [2, 3, 4]
    ended = b.get(job.id)
    assert ended is not None and (ended.state, ended.done) == ("done", 5)
    # The step the crash interrupted kept its write-ahead note for the next attempt.
    assert b.steps(ended, 2, 1)[0].data["seen_ahead"] is True


def test_a_stalled_worker_cannot_write_after_another_took_over(store: Store) -> None:
    clock = Clock()
    a, b = jobs_on(store, clock), jobs_on(store, clock)
    job = a.create("echo", "operator", {}, [{"value": 1}, {"value": 2}])
    claimed = store.claim_job(job.id, a.holder, int(clock()), int(clock()) + 30)
    assert claimed is not None
    clock.advance(40)
    assert store.claim_job(job.id, b.holder, int(clock()), int(clock()) + 30) is not None
    with pytest.raises(LeaseLost):
        a.record(claimed, [(OpenStep(0, "done", {"value": 1}), "done")])


def test_failures_are_recorded_with_their_code_and_the_job_goes_on(store: Store) -> None:
    jobs = jobs_on(store, Clock())
    job = jobs.create("echo", "operator", {}, [{"value": "refuse"}, {"value": "bug"}, {"value": 3}])
    ended = jobs.run(job.id)
    assert ended is not None and (ended.state, ended.done, ended.failed) == ("done", 1, 2)
    codes = [(s.state, s.data.get("code")) for s in jobs.steps(ended)]
    assert codes == [("failed", "not_found"), ("failed", "internal"), ("done", None)]


def test_chunks_run_several_steps_at_once(store: Store) -> None:
    echo = Echo(chunk=4)
    jobs = jobs_on(store, Clock(), echo)
    job = jobs.create("echo", "operator", {}, [{"value": i} for i in range(10)])
    ended = jobs.run(job.id)
    assert ended is not None and ended.done == 10 and echo.runs == list(range(10))


def test_an_unknown_kind_is_refused_and_an_empty_job_ends_at_once(store: Store) -> None:
    jobs = jobs_on(store, Clock())
    with pytest.raises(JobKindUnknown):
        jobs.create("nope", "operator", {}, [])
    job = jobs.create("echo", "operator", {}, [])
    ended = jobs.run(job.id)
    assert ended is not None and (ended.state, ended.total) == ("done", 0)


def test_spec_and_steps_are_sealed_at_rest(store: Store) -> None:
    jobs = jobs_on(store, Clock())
    secret_value = "110101199003070011 张三"
    job = jobs.create("echo", "operator", {"citizen": secret_value}, [{"value": secret_value}])
    raw = store.get_job(job.id)
    assert raw is not None and secret_value.encode() not in raw.spec
    assert b"110101199003070011" not in store.job_steps(job.id)[0].data
    other = Jobs(store, secrets.token_bytes(32), clock=Clock())  # another secret
    with pytest.raises(JobCorrupt):
        other.spec(raw)


def test_more_steps_than_one_store_call_takes(store: Store) -> None:
    jobs = jobs_on(store, Clock(), Echo(chunk=500))
    job = jobs.create("echo", "operator", {}, [{"value": i} for i in range(10_050)])
    assert len(list(jobs.all_steps(job))) == 10_050
    ended = jobs.run(job.id)
    assert ended is not None and ended.done == 10_050


def test_the_runner_thread_runs_a_created_job(store: Store) -> None:
    echo = Echo()
    jobs = Jobs(store, KEY, clock=time.time)
    jobs.register(echo)
    runner = JobRunner(jobs, poll=0.2)
    try:
        job = jobs.create("echo", "operator", {}, [{"value": 1}, {"value": 2}])
        deadline = time.monotonic() + 10
        while (now := jobs.get(job.id)) is None or now.state != "done":
            assert time.monotonic() < deadline, "the runner did not run the job"
            time.sleep(0.05)
        assert echo.runs == [0, 1]
    finally:
        runner.stop()


def test_a_job_this_worker_cannot_open_is_left_to_the_others_at_once(store: Store) -> None:
    clock = Clock()
    mine = jobs_on(store, clock)
    job = mine.create("echo", "operator", {}, [{"value": 1}])
    stranger = Jobs(store, secrets.token_bytes(32), clock=clock)  # another secret
    stranger.register(Echo())
    assert stranger.run_pending() == 0
    assert stranger.run_pending() == 0  # not claimed again either
    after = store.get_job(job.id)
    assert after is not None and after.lease_holder == ""  # no lease kept
    ended = mine.run(job.id)
    assert ended is not None and ended.state == "done"


def test_a_closed_container_stops_its_jobs_and_its_runner(store: Store) -> None:
    echo = Echo()
    jobs = Jobs(store, KEY, clock=time.time)
    jobs.register(echo)
    runner = JobRunner(jobs, poll=0.05)
    runner.start()
    jobs.close()
    deadline = time.monotonic() + 5
    while runner._thread is not None and runner._thread.is_alive():
        assert time.monotonic() < deadline, "the runner outlived its container"
        time.sleep(0.02)
    job = jobs.create("echo", "operator", {}, [{"value": 1}])
    assert jobs.run(job.id) is None and echo.runs == []  # closed: runs nothing
    runner.stop()


def test_the_failed_steps_are_read_without_opening_the_others(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = jobs_on(store, Clock())
    values: list[object] = ["refuse", 1, "refuse", 2, 3, 4, 5]
    job = jobs.create("echo", "operator", {}, [{"value": v} for v in values])
    ended = jobs.run(job.id)
    assert ended is not None and ended.failed == 2
    opened: list[bytes] = []
    real_open = jobs._open

    def counting(blob: bytes, aad: bytes) -> bytes:
        opened.append(aad)
        return real_open(blob, aad)

    monkeypatch.setattr(jobs, "_open", counting)
    failed = jobs.steps_in(ended, "failed", limit=10)
    assert [(s.n, s.data["code"]) for s in failed] == [(0, "not_found"), (2, "not_found")]
    assert len(opened) == 2  # the five done steps stay sealed
    assert [s.n for s in jobs.steps_in(ended, "failed", limit=1)] == [0]
