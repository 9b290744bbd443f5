"""docs/architecture.md stays true to the code: every file and folder it names exists,
every dotted name it gives resolves, the container holds the use cases it lists, and
the layer test's list of use cases is the container's."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from service.instance import Ecert
from tests.test_layers import _USE_CASES

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
PACKAGES = ("keys", "sdjwt", "issuer", "wallet", "verifier", "store", "service", "api", "cli")

#: The worked examples' new files (a kind of record for consents).
EXAMPLES = ("consents",)
#: `issuer/platform.py`, `store/kinds/`, `tests/test_layers.py`…
PATHS = sorted(
    {
        path
        for path in re.findall(r"`((?:[a-z_]+/)+(?:[a-z_0-9]+\.py)?)`", DOC)
        if not any(example in path for example in EXAMPLES)
    }
)
#: `service.wallets.Wallets`, `api.errors.status_for`, `Wallets.rename(` is left out…
DOTTED = sorted(
    {
        name
        for name in re.findall(r"`([a-z_]+(?:\.[A-Za-z_]+)+)`", DOC)
        if name.split(".")[0] in PACKAGES and not name.endswith(".py")
    }
)


def _resolve(dotted: str) -> object:
    """The module, or the attribute of the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            target = getattr(target, attr)
        return target
    raise AssertionError(f"{dotted}: no module")


def test_the_doc_names_files_that_exist() -> None:
    assert len(PATHS) > 40
    missing = [p for p in PATHS if not (ROOT / p).exists()]
    assert missing == []


def test_the_doc_names_modules_and_objects_that_exist() -> None:
    assert len(DOTTED) > 20
    for name in DOTTED:
        _resolve(name)  # raises on a name that is not there


def test_the_use_cases_the_doc_lists_are_the_containers() -> None:
    listed = set(re.findall(r"^\| `([a-z][a-z0-9_]*)` \| `service\.", DOC, flags=re.MULTILINE))
    source = inspect.getsource(Ecert.__init__)
    assigned = set(re.findall(r"self\.([a-z_][a-z0-9_]*) = ", source))
    assert listed <= assigned
    # A view may call exactly the use cases (the layer test's list), and each is listed.
    assert listed >= _USE_CASES
    # Shared by use cases, no view's: presentations (wallets, verification), reissue
    # (the change and re-issue jobs) and derived (issuance and re-issue listen; the CLI
    # refreshes).
    assert listed - _USE_CASES == {"presentations", "reissue", "derived"}
