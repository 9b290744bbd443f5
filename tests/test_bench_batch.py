"""bench/batch.py still runs: its tiny mode end to end (SQLite and a private
redis-server). Nothing is asserted on a rate (the machine is shared): only that every
row was issued (the bench stops on a refused row) and that the last line is the JSON
object scripts read, with a plan for every number of workers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
    "bare_sqlite_per_s",
    "bare_redis_per_s",
    "bulk_sqlite_per_s",
    "bulk_redis_per_s",
    "ratio_sqlite",
    "ratio_redis",
    "job_sqlite_per_s",
    "job_redis_per_s",
    "job_ratio_sqlite",
    "job_ratio_redis",
    "new_wallets_sqlite_per_s",
    "new_wallets_redis_per_s",
    "revoke_sqlite_per_s",
    "revoke_redis_per_s",
    "sqlite_write_ceiling_per_s",
    "redis_server_ceiling_per_s",
    "reissue_10m_hours",
    "tiny",
}


def test_the_batch_bench_runs_and_ends_with_its_json() -> None:
    done = subprocess.run(
        [sys.executable, "bench/batch.py", "--tiny"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures) == KEYS
    assert figures["tiny"] is True
    for store in ("sqlite", "redis"):
        assert figures[f"bulk_{store}_per_s"] > 0 and figures[f"bare_{store}_per_s"] > 0
        assert set(figures["reissue_10m_hours"][store]) == {"1", "2", "4", "8", "16"}
