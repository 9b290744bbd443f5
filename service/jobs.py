"""Jobs: long work (change cascades, batches, re-issues) that survives a crash.

A job is a list of numbered steps in the store (:mod:`store.kinds.jobs`): a *spec* (what
the job is about) and one data object per step, both sealed under a key derived from the
instance secret (they hold citizen ids and claim values). Whoever runs a job first claims
it with a lease (``Settings.job_lease`` seconds, renewed while it runs); every write to
the job is fenced by that lease, so a worker that stalled past it can no longer write,
and a worker that crashed (``kill -9``) leaves the job to whoever claims it after the
lease ran out. It carries on from the first step not yet ended.

A step may therefore run twice (a crash after its work, before its outcome was
recorded): a handler's :meth:`JobHandler.run_steps` must be idempotent. The tool for
that is the write-ahead note: :meth:`Journal.note` records in the step, before the work,
what it is about to do (say the id of the credential it is about to issue), so that the
next attempt can find out how far the last one got. :meth:`JobHandler.finished` runs once
every step has ended, before the job is marked done, and may also run twice.

Handlers register by kind (:meth:`Jobs.register`). :meth:`Jobs.run` runs one job to the
end in the caller's thread (the CLI shows a progress bar); :class:`JobRunner` runs every
runnable job in a background thread of the HTTP service, woken when a job is created
and otherwise every few seconds, so that a restarted service resumes what a crashed one
left.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from keys.aead import Envelope
from keys.ecert_error import EcertError
from keys.errors import SealBroken
from service.errors import JobCorrupt, JobKindUnknown
from store.errors import LeaseLost, StoreClosed, StoreUnavailable
from store.interface import (
    MAX_STEPS_PER_CALL,
    JobRecord,
    JobStep,
    StepOutcome,
    StepState,
    Store,
)
from store.kinds.activity import new_event_id

__all__ = [
    "JOBS_KEY_LABEL",
    "JobHandler",
    "JobRunner",
    "Jobs",
    "Journal",
    "OpenStep",
    "StepResult",
    "summary",
]

log = logging.getLogger("ecert.jobs")

#: Label of the key that seals job specs and steps (``derive_key(secret, label)``).
JOBS_KEY_LABEL = "ecert/jobs/v1"
_SEAL = b"J1"
#: Steps read from the store at a time.
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class OpenStep:
    """A step with its data opened: the input the job was created with, any write-ahead
    notes, and (once ended) its result."""

    n: int
    state: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StepResult:
    """How a step ended: ``done``, ``skipped`` (nothing to do) or ``failed`` (with a
    ``code`` and a ``message`` in ``result``). ``result`` is merged into the step data."""

    state: Literal["done", "skipped", "failed"]
    result: dict[str, Any] = field(default_factory=dict)


class JobHandler(Protocol):
    """What runs one kind of job."""

    #: The job kind it runs (``change``, ``batch``, ``reissue``).
    kind: str
    #: How many steps :meth:`run_steps` gets at once (1: one at a time).
    chunk: int

    def run_steps(
        self, job: JobRecord, spec: dict[str, Any], steps: list[OpenStep], journal: Journal
    ) -> list[StepResult]:
        """Run pending steps (idempotently); one result per step, in order."""

    def finished(self, job: JobRecord, spec: dict[str, Any]) -> None:
        """Every step has ended (notices, summaries); may run twice after a crash."""


class Journal:
    """Write-ahead notes of the steps being run, fenced by the lease."""

    def __init__(self, jobs: Jobs, job: JobRecord) -> None:
        self._jobs = jobs
        self._job = job
        #: Each noted step's data as last written (the runner merges results into it).
        self.latest: dict[int, dict[str, Any]] = {}

    def note(self, notes: Sequence[tuple[OpenStep, dict[str, Any]]]) -> list[OpenStep]:
        """Record ``updates`` into each step's data (the step stays pending) in one
        store write, before the work they announce; the steps as now recorded."""
        updated = [OpenStep(s.n, s.state, {**s.data, **u}) for s, u in notes]
        self._jobs.record(self._job, [(s, "pending") for s in updated])
        for step in updated:
            self.latest[step.n] = step.data
        return updated


class Jobs:
    """Creates, reads and runs jobs over one store (the container's ``ecert.jobs``)."""

    def __init__(
        self,
        store: Store,
        key: bytes,
        *,
        lease: int = 30,
        pace: float = 0.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._seal = Envelope(key, _SEAL)
        self._handlers: dict[str, JobHandler] = {}
        self.lease = lease
        self.pace = pace
        self.clock = clock
        self._sleep = sleep
        #: This process's lease holder name (host, pid and a random part).
        self.holder = f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._created: list[Callable[[], None]] = []
        #: Jobs whose spec this process cannot open (another secret): left to others.
        self._unopenable: set[str] = set()
        #: Set by :meth:`close`: runners stop (the container closed its store).
        self.closed = threading.Event()

    def close(self) -> None:
        """Stop running jobs here (the container is closing its store)."""
        self.closed.set()

    def register(self, handler: JobHandler) -> None:
        """Run jobs of ``handler.kind`` with ``handler``."""
        self._handlers[handler.kind] = handler

    def on_created(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each job is created (a runner wakes up)."""
        self._created.append(callback)

    # -- creating and reading ----------------------------------------------------------

    def create(
        self,
        kind: str,
        owner: str,
        spec: dict[str, Any],
        steps: Sequence[dict[str, Any]],
        *,
        subject: str = "",
    ) -> JobRecord:
        """Create a job of ``kind`` with one step per item of ``steps`` (their input).

        The job is leased to this process while its steps are written, so nobody runs
        a half-written job; then released, and the runners are woken. Raises
        :class:`JobKindUnknown` for a kind no handler runs here.
        """
        if kind not in self._handlers:
            raise JobKindUnknown(f"no handler runs jobs of kind {kind!r}")
        now = int(self.clock())
        job_id = new_event_id()
        job = JobRecord(
            id=job_id,
            kind=kind,
            owner=owner,
            state="pending",
            created_at=now,
            updated_at=now,
            total=len(steps),
            done=0,
            skipped=0,
            failed=0,
            spec=self._seal.seal(_dump(spec), _aad(job_id)),
            subject=subject,
            lease_holder=self.holder,
            lease_until=now + max(self.lease, 60),
        )
        pages = _pages(
            [
                JobStep(job_id, n, "pending", self._seal.seal(_dump(item), _aad(job_id, n)))
                for n, item in enumerate(steps)
            ]
        )
        self._store.put_job(job, next(pages, []))
        for page in pages:
            self._store.add_job_steps(job_id, self.holder, page)
        self._store.release_job(job_id, self.holder)
        for callback in self._created:
            callback()
        created = self._store.get_job(job_id)
        return created if created is not None else job

    def get(self, job_id: str) -> JobRecord | None:
        """The job, or None."""
        return self._store.get_job(job_id)

    def list_jobs(
        self, *, owner: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[JobRecord]:
        """Newest first."""
        return self._store.list_jobs(owner=owner, kind=kind, limit=limit)

    def spec(self, job: JobRecord) -> dict[str, Any]:
        """The job's spec, opened. Raises :class:`JobCorrupt`."""
        return _load(self._open(job.spec, _aad(job.id)))

    def steps(self, job: JobRecord, start: int = 0, count: int = _PAGE) -> list[OpenStep]:
        """Steps ``start`` … ``start + count - 1``, opened."""
        return [
            OpenStep(s.n, s.state, _load(self._open(s.data, _aad(job.id, s.n))))
            for s in self._store.job_steps(job.id, start, count)
        ]

    def steps_in(self, job: JobRecord, state: str, *, limit: int) -> list[OpenStep]:
        """The first ``limit`` steps in ``state`` (``failed``: what a status page lists),
        opened. The state is kept in clear, so only those steps are decrypted, and the
        reading stops once the job's counter for that state is reached."""
        wanted = {"done": job.done, "skipped": job.skipped, "failed": job.failed}.get(
            state, job.total
        )
        found: list[OpenStep] = []
        for start in range(0, job.total, _PAGE):
            if len(found) >= min(limit, wanted):
                break
            for raw in self._store.job_steps(job.id, start, _PAGE):
                if raw.state == state and len(found) < limit:
                    data = _load(self._open(raw.data, _aad(job.id, raw.n)))
                    found.append(OpenStep(raw.n, raw.state, data))
        return found

    def all_steps(self, job: JobRecord) -> Iterator[OpenStep]:
        """Every step, page by page."""
        for start in range(0, job.total, _PAGE):
            yield from self.steps(job, start, _PAGE)

    # -- running -----------------------------------------------------------------------

    def run(
        self, job_id: str, *, progress: Callable[[JobRecord], None] | None = None
    ) -> JobRecord | None:
        """Run the job to its end in this thread; the job as it ended, or None if it
        cannot be claimed (done, failed, unknown, or another worker holds it).

        A step whose handler raises an :class:`~keys.ecert_error.EcertError` fails with
        that error's code and message; any other exception fails the step with
        ``internal`` (logged without personal data). :class:`StoreUnavailable` and
        :class:`LeaseLost` stop the run (the job is left for a later claim).
        """
        job = self._claim(job_id)
        if job is None:
            return None
        handler = self._handlers.get(job.kind)
        if handler is None:
            log.warning("job %s: no handler for kind %s here; left for another", job.id, job.kind)
            self._store.release_job(job.id, self.holder)
            return None
        try:
            spec = self.spec(job)
        except JobCorrupt:
            # Another secret, or damage: never hold the job (a worker that can open it
            # must not wait for this one's lease), and do not claim it again here.
            log.error("job %s: its spec does not open here; left to another worker", job.id)
            self._unopenable.add(job.id)
            self._store.release_job(job.id, self.holder)
            return None
        journal = Journal(self, job)
        chunk = max(1, handler.chunk)
        for start in range(0, job.total, _PAGE):
            pending = [s for s in self.steps(job, start, _PAGE) if s.state == "pending"]
            for at in range(0, len(pending), chunk):
                if self.closed.is_set():  # closing: leave the rest to the next claim
                    self._store.release_job(job.id, self.holder)
                    return None
                batch = pending[at : at + chunk]
                job = self._renew(job)
                results = self._run_steps(handler, job, spec, batch, journal)
                job = self.record(
                    job,
                    [
                        (
                            OpenStep(s.n, r.state, {**journal.latest.pop(s.n, s.data), **r.result}),
                            r.state,
                        )
                        for s, r in zip(batch, results, strict=True)
                    ],
                )
                if progress is not None:
                    progress(job)
                if self.pace:
                    self._sleep(self.pace)
        handler.finished(job, spec)
        ended = self._store.finish_job(job.id, self.holder, int(self.clock()), "done")
        if progress is not None:
            progress(ended)
        return ended

    def run_pending(self, *, limit: int = 100) -> int:
        """Run every runnable job (pending, or abandoned by a crashed worker) that this
        process can run; how many it ran to their end."""
        ran = 0
        for job_id in self._store.runnable_jobs(int(self.clock()), limit):
            if self.closed.is_set():
                break
            job = self._store.get_job(job_id)
            if job is None or job.kind not in self._handlers or job_id in self._unopenable:
                continue
            try:
                if self.run(job_id) is not None:
                    ran += 1
            except LeaseLost:
                log.warning("job %s: lease lost to another worker; it carries on", job_id)
        return ran

    def record(self, job: JobRecord, steps: Sequence[tuple[OpenStep, StepState]]) -> JobRecord:
        """Write the steps' data and states (fenced); the job's new counters."""
        outcomes = [
            StepOutcome(s.n, state, self._seal.seal(_dump(s.data), _aad(job.id, s.n)))
            for s, state in steps
        ]
        return self._store.finish_steps(job.id, self.holder, int(self.clock()), outcomes)

    def _run_steps(
        self,
        handler: JobHandler,
        job: JobRecord,
        spec: dict[str, Any],
        batch: list[OpenStep],
        journal: Journal,
    ) -> list[StepResult]:
        try:
            results = handler.run_steps(job, spec, batch, journal)
        except (StoreUnavailable, LeaseLost):
            raise
        except EcertError as err:
            results = [StepResult("failed", {"code": err.code, "message": err.message})] * len(
                batch
            )
        except Exception as err:  # a bug: fail the steps, keep the job going
            log.exception("job %s: steps failed with %s", job.id, type(err).__name__)
            results = [
                StepResult("failed", {"code": "internal", "message": "internal error"})
            ] * len(batch)
        if len(results) != len(batch):
            raise JobCorrupt(f"the {job.kind} handler answered {len(results)} of {len(batch)}")
        return results

    def _claim(self, job_id: str) -> JobRecord | None:
        now = int(self.clock())
        return self._store.claim_job(job_id, self.holder, now, now + self.lease)

    def _renew(self, job: JobRecord) -> JobRecord:
        """Renew the lease when half of it is gone. Raises :class:`LeaseLost`."""
        now = int(self.clock())
        if job.lease_until - now > self.lease / 2:
            return job
        renewed = self._store.claim_job(job.id, self.holder, now, now + self.lease)
        if renewed is None:
            raise LeaseLost("another worker holds this job's lease")
        return renewed

    def _open(self, blob: bytes, aad: bytes) -> bytes:
        try:
            return self._seal.open(blob, aad)
        except SealBroken:
            raise JobCorrupt("a job's sealed data does not open (wrong secret or damage)") from None


class JobRunner:
    """Runs every runnable job in a daemon thread: woken when a job is created here,
    and every ``poll`` seconds (a job another worker created, or abandoned by a crash)."""

    def __init__(self, jobs: Jobs, *, poll: float = 2.0) -> None:
        self._jobs = jobs
        self._poll = poll
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        jobs.on_created(self.wake)

    def start(self) -> None:
        """Start the thread (once; later calls do nothing)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="ecert-jobs", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look for work now (starts the thread if it is not running)."""
        self.start()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current step."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._jobs.closed.is_set():  # the app's container was closed
                return
            self._wake.clear()
            try:
                self._jobs.run_pending()
            except StoreClosed:  # the app (a test's) was closed: nothing left to run
                return
            except StoreUnavailable:
                log.warning("jobs: the store is unavailable; retrying")
            except Exception as err:  # never let the thread die
                log.exception("jobs: the runner failed with %s", type(err).__name__)
            self._wake.wait(self._poll)


def summary(job: JobRecord) -> dict[str, Any]:
    """A job's progress as JSON (no personal data: what a department or operator sees)."""
    return {
        "id": job.id,
        "kind": job.kind,
        "owner": job.owner,
        "state": job.state,
        "total": job.total,
        "done": job.done,
        "skipped": job.skipped,
        "failed": job.failed,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }


def _aad(job_id: str, n: int | None = None) -> bytes:
    return f"ecert-job:{job_id}".encode() if n is None else f"ecert-job:{job_id}:{n}".encode()


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _load(raw: bytes) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise JobCorrupt("a job's data is not an object")
    return value


def _pages(steps: list[JobStep]) -> Iterator[list[JobStep]]:
    for start in range(0, len(steps), MAX_STEPS_PER_CALL):
        yield steps[start : start + MAX_STEPS_PER_CALL]
