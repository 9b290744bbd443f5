"""The atheris harnesses of fuzz/: their committed corpus replays clean, and a bounded run.

Each harness runs as its own process (libFuzzer owns the process: it exits on the first
crash). The bounded run fuzzes for ``FUZZ_SECONDS`` per harness, with new inputs going
to a temporary folder so the committed corpus (fuzz/corpus/<harness>/) is only read.
A failure names the crashing input that libFuzzer saved; copy it into the corpus as
``crash-<what>`` once the defect is fixed (fuzz/README.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
HARNESSES = ["presentation", "compact_qr", "bundle", "status_list"]
#: Four harnesses at 20 s each: about a minute and a half in all, start-up included.
FUZZ_SECONDS = 20
RSS_LIMIT_MB = 2048
#: Per input: far above any honest input (milliseconds), so only a real hang trips it.
INPUT_TIMEOUT = 30

pytestmark = pytest.mark.fuzz


def _run(harness: str, tmp_path: Path, *args: str, limit: float) -> None:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    command = [
        sys.executable,
        str(FUZZ / f"fuzz_{harness}.py"),
        *args,
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-timeout={INPUT_TIMEOUT}",
        f"-artifact_prefix={artifacts}/",
    ]
    done = subprocess.run(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the Python traceback and libFuzzer's report, in order
        text=True,
        errors="replace",
        timeout=limit,
    )
    saved = sorted(str(p) for p in artifacts.iterdir())
    if done.returncode != 0 or saved:
        lines = done.stdout.splitlines()
        start = next((i for i, line in enumerate(lines) if "Uncaught Python" in line), -40)
        tail = "\n".join(lines[start:][:60])
        pytest.fail(
            f"fuzz_{harness} crashed (exit {done.returncode}); input saved as "
            f"{saved or 'nothing'}\n{tail}",
            pytrace=False,
        )


@pytest.mark.parametrize("harness", HARNESSES)
def test_the_committed_corpus_replays_without_a_crash(harness: str, tmp_path: Path) -> None:
    corpus = FUZZ / "corpus" / harness
    assert any(corpus.iterdir()), f"no seed corpus in {corpus}"

    _run(harness, tmp_path, "-runs=0", str(corpus), limit=120)


@pytest.mark.slow
@pytest.mark.parametrize("harness", HARNESSES)
def test_a_bounded_fuzzing_run_finds_no_crash(harness: str, tmp_path: Path) -> None:
    new_inputs = tmp_path / "new"
    new_inputs.mkdir()

    _run(
        harness,
        tmp_path,
        str(new_inputs),  # libFuzzer writes what it finds into the first folder only
        str(FUZZ / "corpus" / harness),
        f"-max_total_time={FUZZ_SECONDS}",
        limit=FUZZ_SECONDS + 120,
    )
