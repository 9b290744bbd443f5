"""The job and notice kinds of the store, on SQLite, Redis and the Redis Cluster: a job's
lease fences every write, a repeated outcome counts once, marks are insert-if-absent,
notices are kept newest first up to their cap."""

from __future__ import annotations

import pytest

from store.errors import Conflict, InvalidArgument, LeaseLost, NotFound
from store.interface import (
    NOTICE_CAP,
    JobRecord,
    JobStep,
    NoticeRecord,
    StepOutcome,
    Store,
)


def _job(job_id: str = "j1", *, created: int = 100, holder: str = "", until: int = 0) -> JobRecord:
    return JobRecord(
        id=job_id,
        kind="change",
        owner="https://issuer.example/police",
        state="pending",
        created_at=created,
        updated_at=created,
        total=3,
        done=0,
        skipped=0,
        failed=0,
        spec=b"\x00sealed\xff",
        subject="ps_abc",
        lease_holder=holder,
        lease_until=until,
    )


def _steps(job_id: str, numbers: range) -> list[JobStep]:
    return [JobStep(job_id, n, "pending", bytes([n]) * 3) for n in numbers]


def test_a_job_round_trips_with_its_steps(store: Store) -> None:
    store.put_job(_job(), _steps("j1", range(3)))
    assert store.get_job("j1") == _job()
    assert store.get_job("nope") is None
    steps = store.job_steps("j1", 0, 10)
    assert [(s.n, s.state, s.data) for s in steps] == [
        (n, "pending", bytes([n]) * 3) for n in range(3)
    ]
    assert [s.n for s in store.job_steps("j1", 1, 1)] == [1]
    with pytest.raises(Conflict):
        store.put_job(_job(), [])


def test_the_lease_is_exclusive_until_it_expires_or_is_released(store: Store) -> None:
    store.put_job(_job(), _steps("j1", range(3)))
    assert store.runnable_jobs(now=100) == ["j1"]
    claimed = store.claim_job("j1", "w1", now=100, until=130)
    assert claimed is not None and claimed.state == "running" and claimed.lease_holder == "w1"
    assert store.runnable_jobs(now=129) == []
    assert store.claim_job("j1", "w2", now=129, until=160) is None
    renewed = store.claim_job("j1", "w1", now=129, until=170)  # the holder renews
    assert renewed is not None and renewed.lease_until == 170
    assert store.runnable_jobs(now=170) == ["j1"]  # expired: anyone may take it
    taken = store.claim_job("j1", "w2", now=171, until=200)
    assert taken is not None and taken.lease_holder == "w2"
    assert not store.release_job("j1", "w1")
    assert store.release_job("j1", "w2")
    assert store.runnable_jobs(now=172) == ["j1"]


def test_writes_are_fenced_by_the_lease(store: Store) -> None:
    store.put_job(_job(), _steps("j1", range(3)))
    store.claim_job("j1", "w1", now=100, until=130)
    store.claim_job("j1", "w2", now=131, until=160)  # w1 stalled past its lease
    with pytest.raises(LeaseLost):
        store.finish_steps("j1", "w1", 132, [StepOutcome(0, "done", b"r")])
    with pytest.raises(LeaseLost):
        store.finish_job("j1", "w1", 132, "done")
    with pytest.raises(LeaseLost):
        store.add_job_steps("j1", "w1", _steps("j1", range(3, 4)))
    with pytest.raises(NotFound):
        store.finish_steps("nope", "w1", 132, [])
    assert store.job_steps("j1", 0, 1)[0].state == "pending"


def test_outcomes_count_once_and_write_ahead_notes_do_not_count(store: Store) -> None:
    store.put_job(_job(), _steps("j1", range(3)))
    store.claim_job("j1", "w1", now=100, until=130)
    job = store.finish_steps("j1", "w1", 101, [StepOutcome(0, "pending", b"ahead")])
    assert (job.done, job.skipped, job.failed) == (0, 0, 0)
    assert store.job_steps("j1", 0, 1)[0].data == b"ahead"
    job = store.finish_steps(
        "j1", "w1", 102, [StepOutcome(0, "done", b"a"), StepOutcome(1, "skipped", b"b")]
    )
    assert (job.done, job.skipped, job.failed, job.updated_at) == (1, 1, 0, 102)
    # The same outcomes again (a repeat after a crash) change nothing.
    job = store.finish_steps("j1", "w1", 103, [StepOutcome(0, "failed", b"x")])
    assert (job.done, job.skipped, job.failed) == (1, 1, 0)
    assert store.job_steps("j1", 0, 1)[0] == JobStep("j1", 0, "done", b"a")
    job = store.finish_steps("j1", "w1", 104, [StepOutcome(2, "failed", b"c")])
    assert job.failed == 1
    done = store.finish_job("j1", "w1", 105, "done")
    assert (done.state, done.lease_holder, done.lease_until) == ("done", "", 0)
    assert store.runnable_jobs(now=10**9) == []
    assert store.claim_job("j1", "w1", now=106, until=200) is None


def test_a_job_created_leased_is_not_runnable_until_released(store: Store) -> None:
    store.put_job(_job(holder="creator", until=10**9), _steps("j1", range(2)))
    assert store.runnable_jobs(now=100) == []
    store.add_job_steps("j1", "creator", _steps("j1", range(2, 3)))
    with pytest.raises(Conflict):
        store.add_job_steps("j1", "creator", _steps("j1", range(2, 3)))
    assert [s.n for s in store.job_steps("j1", 0, 10)] == [0, 1, 2]
    assert store.release_job("j1", "creator")
    assert store.runnable_jobs(now=100) == ["j1"]


def test_jobs_list_newest_first_with_filters(store: Store) -> None:
    for i in range(5):
        store.put_job(_job(f"j{i}", created=100 + i), [])
    assert [j.id for j in store.list_jobs()] == ["j4", "j3", "j2", "j1", "j0"]
    assert [j.id for j in store.list_jobs(limit=2)] == ["j4", "j3"]
    assert store.list_jobs(owner="someone else") == []
    assert len(store.list_jobs(kind="change", owner="https://issuer.example/police")) == 5
    assert store.list_jobs(kind="batch") == []


def test_step_checks(store: Store) -> None:
    with pytest.raises(InvalidArgument):
        store.put_job(_job(), [JobStep("other", 0, "pending", b"")])
    with pytest.raises(InvalidArgument):
        store.put_job(_job(), [JobStep("j1", 0, "weird", b"")])  # type: ignore[arg-type]


def test_marks_are_insert_if_absent(store: Store) -> None:
    assert store.get_mark("rows:police", "k1") is None
    assert store.put_mark("rows:police", "k1", "cred-1")
    assert not store.put_mark("rows:police", "k1", "cred-2")
    assert store.get_mark("rows:police", "k1") == "cred-1"
    assert store.put_mark("rows:health", "k1", "cred-3")  # scopes are apart
    assert store.get_mark("rows:health", "k1") == "cred-3"


def test_notices_newest_first_capped_and_deleted(store: Store) -> None:
    for i in range(NOTICE_CAP + 3):
        store.put_notice(NoticeRecord("ps_a", f"n{i:04d}", 1000 + i, "change", b"x%d" % i))
    store.put_notice(NoticeRecord("ps_b", "n0000", 5, "batch", b"other"))
    got = store.list_notices("ps_a", limit=NOTICE_CAP + 10)
    assert len(got) == NOTICE_CAP
    assert got[0].notice_id == f"n{NOTICE_CAP + 2:04d}"
    assert got[-1].notice_id == "n0003"  # the three oldest were dropped
    assert store.list_notices("ps_a", limit=0) == []
    assert store.delete_notice("ps_a", got[0].notice_id)
    assert not store.delete_notice("ps_a", got[0].notice_id)
    assert [n.blob for n in store.list_notices("ps_b")] == [b"other"]
