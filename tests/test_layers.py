"""The domain packages stay free of frameworks, store drivers and each other.

``keys``, ``sdjwt``, ``issuer``, ``wallet`` and ``verifier`` are what a hotel's own
software imports: no Flask, no store driver, no faces (``api``, ``cli``); and the three
roles (issuer, wallet, verifier) share only ``keys`` and the format module ``sdjwt``,
never each other. Read from the source with ``ast``, so a lazy import inside a function
counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("keys", "sdjwt", "issuer", "wallet", "verifier")
#: Never imported by a domain package.
FORBIDDEN = ("flask", "werkzeug", "flask_openapi3", "redis", "sqlite3", "api", "cli")
#: Roles that never import one another.
ROLES = ("issuer", "wallet", "verifier")
#: Store modules a domain package may use: the protocol, never a backend.
STORE_BACKENDS = ("store.sqlite", "store.redis")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("package", DOMAIN)
def test_a_domain_package_imports_no_framework_driver_or_face(package: str) -> None:
    offences = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules(package)
        for name in _imports(path)
        if any(_under(name, bad) for bad in (*FORBIDDEN, *STORE_BACKENDS))
    ]
    assert offences == []


@pytest.mark.parametrize("package", ROLES)
def test_the_roles_never_import_each_other(package: str) -> None:
    others = [role for role in ROLES if role != package]
    offences = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules(package)
        for name in _imports(path)
        if any(_under(name, other) for other in others)
    ]
    assert offences == []


@pytest.mark.parametrize("package", DOMAIN)
def test_a_domain_package_reads_no_environment(package: str) -> None:
    offences = [
        str(path.relative_to(ROOT))
        for path in _modules(package)
        if "os.environ" in path.read_text(encoding="utf-8")
        or "os.getenv" in path.read_text(encoding="utf-8")
    ]
    assert offences == []


def test_the_service_layer_imports_no_framework_and_no_face() -> None:
    offences = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("service")
        for name in _imports(path)
        if any(_under(name, bad) for bad in ("flask", "werkzeug", "flask_openapi3", "api", "cli"))
    ]
    assert offences == []


def test_the_api_never_imports_the_cli() -> None:
    offences = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("api")
        for name in _imports(path)
        if _under(name, "cli")
    ]
    assert offences == []
