"""The audit chain's append rate: how many uses a second one chain takes when several
processes with several threads each append to it, as ``ecert serve``'s workers do.

Run from the repository root (needs ``redis-server``)::

    .venv/bin/python bench/audit.py [--seconds 3] [--processes 2] [--threads 4]

Every verification and proof query appends one entry to the one chain of the platform
(:mod:`service.audit`), so the chain is a point every worker of the city passes through.
Measured on SQLite (a temporary file) and on a private ``redis-server``:

* **baseline**: one thread of one process, each append its own store write
  (``Store.append_audit``);
* **one by one**: ``--processes`` processes of ``--threads`` threads, each thread
  appending with its own store write, as every worker did before the group append (on
  Redis the threads of a process share one store object, as a worker's do, and lose
  compare-and-set races to each other);
* **grouped**: the same processes and threads through
  :class:`service.audit.GroupAppend`, as ``AuditLog.append`` does now: the threads of a
  process queue, and one of them writes everything queued in one
  ``Store.append_audit_batch``.

Each entry is linked and tagged as ``AuditLog`` does it (SHA-256 and HMAC-SHA-256 over a
body of the size a verification's is). After each run the chain is read back whole and
checked: consecutive ``seq`` from 1, each ``prev`` the ``hash`` before it, and as many
entries as the appenders counted. The last line is one JSON object: the rates, and each
rate over the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import hmac
import json
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path

from http_bench import redis_server

from service.audit import GroupAppend, entry_hash
from store import open_store
from store.errors import StoreUnavailable
from store.interface import AUDIT_GENESIS, MAX_AUDIT_PAGE, AuditEntry, Store

#: A body as long as a verification's (canonical JSON, ~400 bytes).
BODY = json.dumps(
    {
        "v": 1,
        "event_id": "0" * 24,
        "kind": "verification",
        "subject": "p" * 64,
        "actor_kind": "venue",
        "actor": "grand-hotel",
        "topic": "hotel",
        "fields": ["name", "id_number", "sex", "birth_date", "address"],
        "purpose": "",
        "answered_by": "urn:ecert:resident-id-card",
        "accepted": True,
        "codes": [],
    },
    sort_keys=True,
    separators=(",", ":"),
).encode("ascii")
TAG_KEY = b"k" * 32


def linker(at: int) -> Callable[[int, str], AuditEntry]:
    def link(seq: int, prev: str) -> AuditEntry:
        digest = entry_hash(seq, at, prev, BODY)
        tag = hmac.new(TAG_KEY, b"ecert-audit-tag/v1\x00" + digest.encode(), "sha256")
        return AuditEntry(seq, at, BODY, prev, digest, tag.hexdigest())

    return link


def appender(
    url: str, threads: int, grouped: bool, start_at: float, until: float
) -> tuple[int, int]:
    """One process: ``threads`` threads appending until ``until``; the entries appended
    and the appends refused (``StoreUnavailable``: the append kept losing races)."""
    store = open_store(url)
    group = GroupAppend(store.append_audit_batch) if grouped else None
    append = group.append if group is not None else store.append_audit
    counts = [0] * threads
    refusals = [0] * threads

    def run(n: int) -> None:
        while time.time() < start_at:
            time.sleep(0.001)
        done = refused = 0
        while time.time() < until:
            try:
                append(linker(int(time.time())))
            except StoreUnavailable:
                refused += 1
            else:
                done += 1
        counts[n], refusals[n] = done, refused

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts), sum(refusals)


def _child(
    url: str, threads: int, grouped: bool, seconds: float, ready: Barrier, out: Path
) -> None:
    ready.wait()  # every process imported and connected: start together
    start_at = time.time() + 0.1
    out.write_text(json.dumps(appender(url, threads, grouped, start_at, start_at + seconds)))


def measure(
    url: str, processes: int, threads: int, grouped: bool, seconds: float
) -> tuple[float, int]:
    """Appends a second with ``processes`` × ``threads`` appenders (one process: in this
    one), and the appends refused."""
    open_store(url)  # the schema made once, before the processes open it together
    if processes == 1:
        start_at = time.time() + 0.1
        total, refused = appender(url, threads, grouped, start_at, start_at + seconds)
    else:
        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Barrier(processes + 1)
        folder = Path(tempfile.mkdtemp(prefix="ecert-audit-bench-"))
        outs = [folder / f"{n}.count" for n in range(processes)]
        procs = [
            ctx.Process(target=_child, args=(url, threads, grouped, seconds, ready, out))
            for out in outs
        ]
        for p in procs:
            p.start()
        ready.wait(timeout=120)
        for p in procs:
            p.join()
            if p.exitcode != 0:
                raise SystemExit(f"an appender process failed (exit {p.exitcode})")
        counted = [json.loads(out.read_text()) for out in outs]
        total, refused = sum(c[0] for c in counted), sum(c[1] for c in counted)
        shutil.rmtree(folder)
    check_chain(open_store(url), total)
    return total / seconds, refused


def check_chain(store: Store, appended: int) -> None:
    """The whole chain: consecutive seqs from 1, linked, and every append in it."""
    tail = store.audit_tail()
    count = 0 if tail is None else tail.seq
    prev, seq = AUDIT_GENESIS, 1
    while seq <= count:
        page = store.audit_range(seq, min(MAX_AUDIT_PAGE, count - seq + 1))
        for entry in page:
            if entry.seq != seq or entry.prev != prev:
                raise SystemExit(f"the chain is broken at entry {seq}")
            prev, seq = entry.hash, seq + 1
        if not page:
            raise SystemExit(f"entry {seq} is missing")
    if count != appended:
        raise SystemExit(f"{appended} appends counted, {count} entries in the chain")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="each run (default 3)")
    parser.add_argument("--processes", type=int, default=2, help="appender processes (2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per process (4)")
    args = parser.parse_args(argv)
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is needed: apt-get install redis-server")
    print("machine")
    print(f"  python         {platform.python_implementation()} {platform.python_version()}")
    print(f"  cores          {os.cpu_count()}")
    print(f"  load average   {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    p, t = args.processes, args.threads
    print(f"runs of {args.seconds:g} s; {p} processes x {t} threads against 1 x 1\n")
    results: dict[str, float | int] = {}
    with tempfile.TemporaryDirectory(prefix="ecert-audit-bench-") as tmp:
        folder = Path(tmp)
        with redis_server(binary, folder) as redis:
            for backend in ("sqlite", "redis"):
                for name, (procs, threads, grouped) in {
                    "baseline": (1, 1, False),
                    "one_by_one": (p, t, False),
                    "grouped": (p, t, True),
                }.items():
                    if backend == "sqlite":
                        url = f"sqlite:///{folder / f'{name}.db'}"
                    else:
                        # a fresh database number per run
                        url = redis.url.rsplit("/", 1)[0] + f"/{len(results) // 2 % 16}"
                    rate, refused = measure(url, procs, threads, grouped, args.seconds)
                    results[f"{backend}_{name}_per_s"] = round(rate, 1)
                    results[f"{backend}_{name}_refused"] = refused
                    print(
                        f"{backend:7s} {name:11s} {rate:10.1f} appends/s  {refused} refused"
                        " (the append kept losing races)",
                        flush=True,
                    )
    ratios = {}
    for backend in ("sqlite", "redis"):
        base = results[f"{backend}_baseline_per_s"]
        for name in ("one_by_one", "grouped"):
            ratios[f"{backend}_{name}_ratio"] = round(results[f"{backend}_{name}_per_s"] / base, 3)
    print()
    print(", ".join(f"{k} {v}" for k, v in ratios.items()))
    print(json.dumps({**results, **ratios}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
