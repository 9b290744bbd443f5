"""bench/audit.py still runs: short runs on SQLite and a private redis-server, from
several processes and threads. Nothing is asserted on a rate (the machine is shared):
only that the bench ends with its JSON, every run appended something, and the bench's
own check of each chain (whole, linked, every counted append in it) passed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
RUNS = ("baseline", "one_by_one", "grouped")


def test_the_audit_bench_runs_and_ends_with_its_json() -> None:
    done = subprocess.run(
        [sys.executable, "bench/audit.py", "--seconds", "0.3", "--processes", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    for store in ("sqlite", "redis"):
        for run in RUNS:
            assert figures[f"{store}_{run}_per_s"] > 0
        assert {f"{store}_one_by_one_ratio", f"{store}_grouped_ratio"} <= set(figures)
