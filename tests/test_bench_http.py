"""bench/http_bench.py still runs: its tiny mode end to end (gunicorn, wrk, both stores).

Nothing is asserted on a rate (the machine is shared): only that every request got
the answer it must (200 and a valid result for each distinct presentation, 201 for
each issuance) and that the last line is the JSON object scripts read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
    "hello_per_s",
    "verify_sqlite_per_s",
    "verify_redis_per_s",
    "issue_http_sqlite_per_s",
    "issue_http_redis_per_s",
    "issue_library_sqlite_per_s",
    "issue_library_redis_per_s",
    "verify_sqlite_ratio",
    "verify_redis_ratio",
    "issue_http_ratio",
    "issue_http_redis_ratio",
    "verify_sqlite_cpu_ratio",
    "verify_redis_cpu_ratio",
    "cpu_ms_per_request",
    "failed_requests",
    "exhausted_runs",
    "tiny",
}


def test_the_http_bench_runs_in_tiny_mode() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "http_bench.py"), "--tiny"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures) == KEYS
    assert figures["tiny"] is True
    assert figures["failed_requests"] == 0
    for key in KEYS - {"failed_requests", "exhausted_runs", "tiny", "cpu_ms_per_request"}:
        assert figures[key] > 0, key
    assert set(figures["cpu_ms_per_request"]) == {
        "hello",
        "verify_sqlite",
        "verify_redis",
        "issue_sqlite",
        "issue_redis",
    }


def test_the_issues_command_bench_http_py_is_the_same_bench() -> None:
    # The issue names `python bench/http.py`: a folder Python runs (its __main__.py), so
    # that no module of bench/ shadows the standard library's http package.
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "http.py"), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "usage: http_bench.py" in done.stdout
    assert "Verification and issuance over HTTP" in done.stdout
