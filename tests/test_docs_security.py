"""docs/security.md names the test of every threat row: each named test must exist.

A cell reads ``test_file.py::test_name[…]``, possibly followed by more names of the same
file (``test_other``) and suffixes of the previous name (``…_in_kb_jwt``), which are not
checked. A renamed or removed test makes the row a false promise, so it fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "security.md"
TICKED = re.compile(r"`([^`]+)`")
QUALIFIED = re.compile(r"^(?:tests/)?(test_[\w]+\.py)::(test_\w+)")
BARE = re.compile(r"^(test_\w+)(\*?)")
FILE = re.compile(r"^(?:tests/)?(test_\w+\.py)$")


def _named_tests() -> list[tuple[str, str]]:
    """(file, function) for every test a table cell of the page names; a function ending
    in ``*`` names every test with that prefix, and a function of "" a whole file."""
    named: list[tuple[str, str]] = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| "):
            continue
        for cell in line.split(" | "):
            current: str | None = None
            for token in TICKED.findall(cell):
                qualified = QUALIFIED.match(token)
                if qualified:
                    current = qualified.group(1)
                    named.append((current, qualified.group(2)))
                    continue
                whole = FILE.match(token)
                if whole:
                    named.append((whole.group(1), ""))
                    continue
                bare = BARE.match(token)
                if bare and current is not None:
                    named.append((current, bare.group(1) + bare.group(2)))
    return named


def test_the_page_names_tests() -> None:
    assert len(_named_tests()) > 100


def test_every_test_the_page_names_exists() -> None:
    missing = []
    for file, function in _named_tests():
        path = ROOT / "tests" / file
        if not path.is_file():
            missing.append(f"{file} (no such file)")
            continue
        name = rf"{function[:-1]}\w*" if function.endswith("*") else rf"{function}\b"
        if function and not re.search(
            rf"^\s*(?:async\s+)?def {name}", path.read_text("utf-8"), re.M
        ):
            missing.append(f"{file}::{function}")
    assert not missing, "docs/security.md names tests that do not exist:\n" + "\n".join(missing)
