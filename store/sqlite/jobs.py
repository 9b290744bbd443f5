"""Jobs, their steps and permanent marks on SQLite (tables ``jobs``, ``job_steps`` and
``marks``, schema version 5). Every fenced write checks the lease inside the same
``BEGIN IMMEDIATE`` transaction."""

from __future__ import annotations

import sqlite3

from store.codec import Codec
from store.errors import Conflict, LeaseLost, NotFound
from store.kinds.jobs import JOB_STATES, JobRecord, JobState, JobStep, StepOutcome
from store.sqlite.base import SQLiteBase
from store.validation import check_job, check_job_steps, check_outcomes, check_state

__all__ = ["JobsMixin"]

JOB = Codec(JobRecord)
STEP = Codec(JobStep)
_COUNTER = {"done": "done", "skipped": "skipped", "failed": "failed"}


class JobsMixin(SQLiteBase):
    """:class:`store.kinds.jobs.JobStore` on SQLite."""

    def put_job(self, job: JobRecord, steps: list[JobStep]) -> None:
        """Insert the job and its first steps in one transaction."""
        check_job(job)
        check_job_steps(job.id, steps)
        with self._write() as conn:
            try:
                conn.execute(JOB.insert("jobs"), JOB.to_row(job))
                conn.executemany(STEP.insert("job_steps"), [STEP.to_row(s) for s in steps])
            except sqlite3.IntegrityError as err:
                raise Conflict("this job (or one of its steps) already exists") from err

    def add_job_steps(self, job_id: str, holder: str, steps: list[JobStep]) -> None:
        """Add steps while ``holder`` holds the lease."""
        check_job_steps(job_id, steps)
        with self._write() as conn:
            self._fence(conn, job_id, holder)
            try:
                conn.executemany(STEP.insert("job_steps"), [STEP.to_row(s) for s in steps])
            except sqlite3.IntegrityError as err:
                raise Conflict("a step with this number already exists") from err

    def release_job(self, job_id: str, holder: str) -> bool:
        """Free ``holder``'s lease."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE jobs SET lease_holder = '', lease_until = 0"
                " WHERE id = ? AND lease_holder = ? AND lease_holder != ''",
                (job_id, holder),
            )
            return cur.rowcount == 1

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._read() as conn:
            row = conn.execute(JOB.select("jobs") + " WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else JOB.from_row(row)

    def list_jobs(
        self, *, owner: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[JobRecord]:
        """Newest first, filtered by owner and kind."""
        where, args = [], []
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        sql = JOB.select("jobs")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        with self._read() as conn:
            rows = conn.execute(sql, (*args, max(0, limit))).fetchall()
        return [JOB.from_row(row) for row in rows]

    def runnable_jobs(self, now: int, limit: int = 100) -> list[str]:
        """Pending or running jobs whose lease is free at ``now``, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id FROM jobs WHERE state IN ('pending', 'running') AND lease_until <= ?"
                " ORDER BY created_at, id LIMIT ?",
                (now, max(0, limit)),
            ).fetchall()
        return [row[0] for row in rows]

    def claim_job(self, job_id: str, holder: str, now: int, until: int) -> JobRecord | None:
        """Take or renew the lease (one transaction)."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE jobs SET state = 'running', lease_holder = ?, lease_until = ?,"
                " updated_at = MAX(updated_at, ?)"
                " WHERE id = ? AND state IN ('pending', 'running')"
                " AND (lease_until <= ? OR lease_holder = ?)",
                (holder, until, now, job_id, now, holder),
            )
            if cur.rowcount != 1:
                return None
            row = conn.execute(JOB.select("jobs") + " WHERE id = ?", (job_id,)).fetchone()
        return JOB.from_row(row)

    def job_steps(self, job_id: str, start: int = 0, count: int = 1000) -> list[JobStep]:
        """Steps ``start`` … ``start + count - 1``, in order."""
        with self._read() as conn:
            rows = conn.execute(
                STEP.select("job_steps") + " WHERE job_id = ? AND n >= ? AND n < ? ORDER BY n",
                (job_id, start, start + max(0, count)),
            ).fetchall()
        return [STEP.from_row(row) for row in rows]

    def finish_steps(
        self, job_id: str, holder: str, now: int, outcomes: list[StepOutcome]
    ) -> JobRecord:
        """Record outcomes of pending steps and count them (one transaction, fenced)."""
        check_outcomes(outcomes)
        counts = {"done": 0, "skipped": 0, "failed": 0}
        with self._write() as conn:
            self._fence(conn, job_id, holder)
            for outcome in outcomes:
                cur = conn.execute(
                    "UPDATE job_steps SET state = ?, data = ?"
                    " WHERE job_id = ? AND n = ? AND state = 'pending'",
                    (outcome.state, outcome.data, job_id, outcome.n),
                )
                if cur.rowcount == 1 and outcome.state != "pending":
                    counts[outcome.state] += 1
            conn.execute(
                "UPDATE jobs SET done = done + ?, skipped = skipped + ?, failed = failed + ?,"
                " updated_at = MAX(updated_at, ?) WHERE id = ?",
                (counts["done"], counts["skipped"], counts["failed"], now, job_id),
            )
            row = conn.execute(JOB.select("jobs") + " WHERE id = ?", (job_id,)).fetchone()
        return JOB.from_row(row)

    def finish_job(self, job_id: str, holder: str, now: int, state: JobState) -> JobRecord:
        """End the job and free its lease (fenced)."""
        check_state(state, JOB_STATES)
        with self._write() as conn:
            self._fence(conn, job_id, holder)
            conn.execute(
                "UPDATE jobs SET state = ?, lease_holder = '', lease_until = 0,"
                " updated_at = MAX(updated_at, ?) WHERE id = ?",
                (state, now, job_id),
            )
            row = conn.execute(JOB.select("jobs") + " WHERE id = ?", (job_id,)).fetchone()
        return JOB.from_row(row)

    def put_mark(self, scope: str, key: str, value: str) -> bool:
        """Insert the mark if its key is free."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO marks (scope, key, value) VALUES (?, ?, ?)",
                (scope, key, value),
            )
            return cur.rowcount == 1

    def put_marks(self, scope: str, marks: list[tuple[str, str]]) -> list[bool]:
        """Insert each mark whose key is free, in one transaction."""
        if not marks:
            return []
        with self._write() as conn:
            return [
                conn.execute(
                    "INSERT OR IGNORE INTO marks (scope, key, value) VALUES (?, ?, ?)",
                    (scope, key, value),
                ).rowcount
                == 1
                for key, value in marks
            ]

    def get_marks(self, scope: str, keys: list[str]) -> list[str | None]:
        """The marks of ``keys``, in order, from one snapshot."""
        if not keys:
            return []
        with self._snapshot() as conn:
            found = {}
            for key in keys:
                row = conn.execute(
                    "SELECT value FROM marks WHERE scope = ? AND key = ?", (scope, key)
                ).fetchone()
                if row is not None:
                    found[key] = str(row[0])
        return [found.get(key) for key in keys]

    def get_mark(self, scope: str, key: str) -> str | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT value FROM marks WHERE scope = ? AND key = ?", (scope, key)
            ).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _fence(conn: sqlite3.Connection, job_id: str, holder: str) -> None:
        row = conn.execute("SELECT lease_holder FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound("no such job")
        if row[0] != holder:
            raise LeaseLost("another worker holds this job's lease")
