"""Long-running jobs (change cascades, batches, re-issues) and their journal.

A job is a list of numbered steps, each run at most once to completion: a worker
*claims* the job with a lease (:meth:`JobStore.claim_job`), runs its pending steps in
order and records each outcome with :meth:`JobStore.finish_steps`, fenced by the lease
holder, so that a worker whose lease ran out (it crashed, or stalled) can no longer
write. Another worker claims the job once the lease has expired and carries on from the
first pending step. ``spec`` and each step's ``data`` are sealed by the service (they
hold citizen ids and claim values: never in clear in a store dump).

Marks are permanent insert-if-absent facts ("row R of issuer I was issued as credential
C"): :meth:`JobStore.put_mark` writes one only if its key is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

__all__ = [
    "JOB_STATES",
    "MAX_STEPS_PER_CALL",
    "STEP_STATES",
    "JobRecord",
    "JobState",
    "JobStep",
    "JobStore",
    "StepOutcome",
    "StepState",
]

JobState = Literal["pending", "running", "done", "failed"]
JOB_STATES: tuple[str, ...] = get_args(JobState)
StepState = Literal["pending", "done", "skipped", "failed"]
STEP_STATES: tuple[str, ...] = get_args(StepState)
#: The most steps one call adds, reads or finishes (callers page through larger jobs).
MAX_STEPS_PER_CALL = 10_000


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job. ``owner`` is who may see it (a department's ``iss``, or ``operator``);
    ``subject`` the citizen's pseudonym for a job about one citizen (else empty);
    ``total`` the number of steps and ``done``/``skipped``/``failed`` how many ended so."""

    id: str
    kind: str
    owner: str
    state: JobState
    created_at: int
    updated_at: int
    total: int
    done: int
    skipped: int
    failed: int
    spec: bytes
    subject: str = ""
    lease_holder: str = ""
    lease_until: int = 0


@dataclass(frozen=True, slots=True)
class JobStep:
    """Step ``n`` (0-based) of a job: its state and sealed data (input, then result)."""

    job_id: str
    n: int
    state: StepState
    data: bytes


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What :meth:`JobStore.finish_steps` records for step ``n``: an end state (not
    ``pending``) and the step's new sealed data; or ``pending`` with new data: a
    write-ahead note the step keeps for the next attempt (its counters unchanged)."""

    n: int
    state: StepState
    data: bytes


@runtime_checkable
class JobStore(Protocol):
    """Jobs, their steps, and permanent marks."""

    def put_job(self, job: JobRecord, steps: list[JobStep]) -> None:
        """Insert the job with its first steps (at most :data:`MAX_STEPS_PER_CALL`; more
        with :meth:`add_job_steps`). A job created with a lease (``lease_holder``) is its
        creator's until released: nobody runs it while its steps are being added. Raises
        :class:`Conflict` if the id exists."""

    def add_job_steps(self, job_id: str, holder: str, steps: list[JobStep]) -> None:
        """Add steps, only while ``holder`` holds the lease. Raises :class:`NotFound`,
        or :class:`Conflict` for a step number already there or a lease lost."""

    def release_job(self, job_id: str, holder: str) -> bool:
        """Free ``holder``'s lease at once (the job stays as it is, runnable by anyone);
        False if ``holder`` did not hold it."""

    def get_job(self, job_id: str) -> JobRecord | None: ...

    def list_jobs(
        self, *, owner: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[JobRecord]:
        """Newest first (``created_at`` then id, descending), filtered."""

    def runnable_jobs(self, now: int, limit: int = 100) -> list[str]:
        """Ids of jobs ``pending`` or ``running`` whose lease is free at ``now`` (expired,
        released, or never taken), oldest first."""

    def claim_job(self, job_id: str, holder: str, now: int, until: int) -> JobRecord | None:
        """Take or renew the lease: if the job is pending or running and its lease is
        free (expired at ``now``) or already ``holder``'s, set it ``running`` with lease
        ``holder`` until ``until`` and return it; else None (done, failed, unknown, or
        leased to another holder)."""

    def job_steps(self, job_id: str, start: int = 0, count: int = 1000) -> list[JobStep]:
        """Steps ``start`` … ``start + count - 1`` that exist, in order."""

    def finish_steps(
        self, job_id: str, holder: str, now: int, outcomes: list[StepOutcome]
    ) -> JobRecord:
        """Record outcomes of pending steps and add them to the job's counters, in one
        atomic step, only while ``holder`` holds the lease. An outcome for a step that
        already ended is ignored (a repeat after a crash). Raises :class:`Conflict`
        (``lease_lost``) if another holder has the job, :class:`NotFound`."""

    def finish_job(self, job_id: str, holder: str, now: int, state: JobState) -> JobRecord:
        """End the job (``done`` or ``failed``) and free its lease, fenced like
        :meth:`finish_steps`."""

    def put_mark(self, scope: str, key: str, value: str) -> bool:
        """Write the mark if ``key`` is free in ``scope``; False (and nothing written)
        if it is taken."""

    def get_mark(self, scope: str, key: str) -> str | None: ...
    def put_marks(self, scope: str, marks: list[tuple[str, str]]) -> list[bool]:
        """:meth:`put_mark` for many ``(key, value)`` at once (a batch's chunk): for each,
        in order, True if written, False if its key was taken (also by an earlier
        entry of ``marks``)."""

    def get_marks(self, scope: str, keys: list[str]) -> list[str | None]:
        """:meth:`get_mark` for many keys at once, in order."""
