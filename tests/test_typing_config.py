"""mypy --strict covers the tests and every script of fuzz/ and bench/, not only the domain.

fuzz/ and bench/ are folders of scripts without ``__init__.py``: mypy names each file by
its stem, so the strict override must list each; a new script left out would be checked
leniently without anyone noticing.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _mypy() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        config: dict[str, object] = tomllib.load(fh)["tool"]["mypy"]
    return config


def _strict_modules() -> set[str]:
    overrides = _mypy()["overrides"]
    assert isinstance(overrides, list)
    return {m for o in overrides if o.get("strict") is True for m in o["module"]}


def test_mypy_checks_the_tests_fuzz_and_bench() -> None:
    files = _mypy()["files"]
    assert isinstance(files, list)
    assert {"tests", "fuzz", "bench"} <= set(files)


def test_every_test_fuzz_and_bench_module_is_strict() -> None:
    strict = _strict_modules()
    assert "tests.*" in strict
    scripts = sorted(p.stem for folder in ("fuzz", "bench") for p in (ROOT / folder).glob("*.py"))
    assert scripts, "no scripts found: the test looks in the wrong place"
    missing = [s for s in scripts if s not in strict]
    assert missing == [], f"add to the strict mypy override in pyproject.toml: {missing}"
