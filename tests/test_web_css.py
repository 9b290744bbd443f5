"""The web pages' stylesheets are well formed: a rule left open swallows every rule after
it (a merge once left ``.landing-privacy {`` open, and the device panel and the notices
lost their styles without any test noticing)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parent.parent / "api" / "web" / "static"
SHEETS = sorted(STATIC.glob("*.css"))


def _blocks(css: str) -> list[str]:
    """The problems of a stylesheet's nesting: only at-rules (``@media``…) may hold rules."""
    text = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    stack: list[str] = []
    problems = []
    start = 0
    for at, char in enumerate(text):
        if char == "{":
            head = text[start:at].strip().split(";")[-1].strip()
            if stack and not stack[-1].startswith("@"):
                line = text.count("\n", 0, at) + 1
                problems.append(f"line {line}: {head!r} opened inside {stack[-1]!r}")
            stack.append(head)
            start = at + 1
        elif char == "}":
            if not stack:
                problems.append(f"line {text.count(chr(10), 0, at) + 1}: a '}}' closes nothing")
            else:
                stack.pop()
            start = at + 1
        elif char == ";":
            start = at + 1
    problems += [f"{head!r} is never closed" for head in stack]
    return problems


@pytest.mark.parametrize("sheet", SHEETS, ids=[s.name for s in SHEETS])
def test_every_rule_is_closed_and_only_at_rules_nest(sheet: Path) -> None:
    assert SHEETS, "no stylesheet found"
    assert _blocks(sheet.read_text(encoding="utf-8")) == []


def test_the_check_finds_a_rule_left_open() -> None:
    assert _blocks(".a {\n  margin: 0;\n\n.b {\n  color: red;\n}\n") != []
    assert _blocks("@media (min-width: 1px) {\n  .a { margin: 0; }\n}\n") == []
