"""The operator's view of jobs: ``ecert jobs list``, ``ecert jobs show ID`` and ``ecert
jobs run [ID]`` (runs a job, or every runnable one, in the foreground with a progress
bar: what a crashed service or an interrupted command left is finished here, or by the
service on its own once the job's lease has run out)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.common import EXIT_FAIL, EXIT_OK, open_ecert, print_json
from service.errors import JobNotFound
from service.jobs import summary
from store.interface import JobRecord

__all__ = ["add_commands"]

#: Failed steps ``ecert jobs show`` lists (their codes and messages, never their data).
_SHOWN_ERRORS = 100


def cmd_jobs_list(args: argparse.Namespace) -> int:
    """List jobs, newest first."""
    with open_ecert(args) as ecert:
        print_json([summary(j) for j in ecert.jobs.list_jobs(kind=args.kind, limit=args.limit)])
    return EXIT_OK


def cmd_jobs_show(args: argparse.Namespace) -> int:
    """Show one job's progress and the codes of its failed steps."""
    with open_ecert(args) as ecert:
        job = ecert.jobs.get(args.id)
        if job is None:
            raise JobNotFound("no job with this id")
        shown: dict[str, Any] = summary(job)
        errors: list[dict[str, Any]] = []
        for step in ecert.jobs.all_steps(job):
            if step.state == "failed" and len(errors) < _SHOWN_ERRORS:
                data = step.data
                errors.append(
                    {
                        "step": step.n,
                        **({"line": data["line"]} if "line" in data else {}),
                        "code": data.get("code", "failed"),
                        "message": data.get("message", ""),
                    }
                )
        shown["errors"] = errors
        print_json(shown)
    return EXIT_OK


def cmd_jobs_run(args: argparse.Namespace) -> int:
    """Run a job (or every runnable job) now, in the foreground."""
    with open_ecert(args) as ecert:
        ids = [args.id] if args.id else ecert.store.runnable_jobs(int(ecert.jobs.clock()))
        ended = []
        for job_id in ids:
            job = ecert.jobs.get(job_id)
            if job is None:
                raise JobNotFound("no job with this id")
            result = run_with_progress(ecert.jobs, job, quiet=args.quiet)
            if result is None:
                print(
                    f"job {job_id}: {job.state}, or running elsewhere (its lease is held)",
                    file=sys.stderr,
                )
                continue
            ended.append(summary(result))
        print_json(ended)
    return EXIT_OK if all(j["failed"] == 0 for j in ended) else EXIT_FAIL


def run_with_progress(jobs: Any, job: JobRecord, *, quiet: bool = False) -> JobRecord | None:
    """Run ``job`` with a tqdm progress bar on stderr (none with ``quiet``)."""
    from tqdm import tqdm

    with tqdm(
        total=job.total,
        initial=job.done + job.skipped + job.failed,
        desc=f"{job.kind} {job.id}",
        unit="step",
        disable=quiet,
    ) as bar:

        def progress(now: JobRecord) -> None:
            bar.update(now.done + now.skipped + now.failed - bar.n)

        result: JobRecord | None = jobs.run(job.id, progress=progress)
    return result


def add_commands(sub: Any) -> None:
    """Register ``ecert jobs …``."""
    jobs = sub.add_parser("jobs", help="change cascades, batches and re-issues: progress")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    p = jsub.add_parser("list", help="list jobs, newest first", description=cmd_jobs_list.__doc__)
    p.add_argument("--kind", choices=["change", "batch", "reissue"])
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_jobs_list)
    p = jsub.add_parser("show", help="one job's progress", description=cmd_jobs_show.__doc__)
    p.add_argument("id")
    p.set_defaults(func=cmd_jobs_show)
    p = jsub.add_parser(
        "run", help="run a job (or all runnable) now", description=cmd_jobs_run.__doc__
    )
    p.add_argument("id", nargs="?")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_jobs_run)
