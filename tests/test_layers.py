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
#: Never imported by a domain package (nor the service layer above it: the domain is
#: what the service uses, never the other way round).
FORBIDDEN = ("flask", "werkzeug", "flask_openapi3", "redis", "sqlite3", "api", "cli", "service")
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


def test_the_service_layer_imports_no_framework_at_all() -> None:
    # Not even lazily (a function-level import counts): the service runs under any face.
    offences = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("service")
        for name in _imports(path)
        if any(_under(name, bad) for bad in ("flask", "werkzeug", "flask_openapi3", "gunicorn"))
    ]
    assert offences == []


def test_the_api_imports_no_store_driver() -> None:
    """Views reach storage through the service layer (``api.services``), never a backend."""
    offences = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("api")
        for name in _imports(path)
        if any(_under(name, bad) for bad in (*STORE_BACKENDS, "redis", "sqlite3"))
    ]
    assert offences == []


def test_the_api_never_opens_a_store_itself() -> None:
    offences = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("api")
        for name in _imports(path)
        if name == "store"  # open_store: only the container (service.instance) opens one
    ]
    assert offences == []


def _functions_importing(path: Path, package: str) -> list[str]:
    """The enclosing function of every import of ``package`` in ``path`` ("" at module level)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, function or child.name)
                continue
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names = [child.module]
            if any(_under(name, package) for name in names):
                found.append(function)
            visit(child, function)

    visit(tree, "")
    return found


def test_the_cli_imports_the_api_only_to_serve() -> None:
    offences = [
        f"{path.relative_to(ROOT)}: in {function or 'the module'}"
        for path in _modules("cli")
        for function in _functions_importing(path, "api")
        if (path.name, function) != ("operator.py", "cmd_serve")
    ]
    assert offences == []
    assert set(_functions_importing(ROOT / "cli" / "operator.py", "api")) == {"cmd_serve"}


#: api/ modules that may reach the container's store or its domain objects: the glue
#: that holds the container, and the speed helper's caller look-up (``api.principals``,
#: which resolves the caller of every request before a view runs).
_API_GLUE = ("services.py", "principals.py")
#: What a view may call on the container: use cases only (a module of ``service``).
_USE_CASES = frozenset(
    {
        "accounts",
        "batches",
        "changes",
        "consents",
        "devices",
        "issuance",
        "jobs",
        "links",
        "notices",
        "oid4vci",
        "proofs",
        "publication",
        "receipts",
        "stats",
        "verification",
        "vp_requests",
        "wallets",
    }
)


def _container_reaches(path: Path) -> list[str]:
    """Every ``<x>.store`` attribute read, and every ``services().<attr>`` that is not a
    use case (``services().vault``, ``services().platform``…), in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    containers: set[str] = set()  # local names bound to services()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "services"
        ):
            containers.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in ("store", "_store"):
            found.append(f"line {node.lineno}: .{node.attr}")
            continue
        base = node.value
        on_container = (
            isinstance(base, ast.Call)
            and isinstance(base.func, ast.Name)
            and base.func.id == "services"
        ) or (isinstance(base, ast.Name) and base.id in containers)
        if on_container and node.attr not in _USE_CASES:
            found.append(f"line {node.lineno}: services().{node.attr}")
    return found


def test_the_api_views_call_use_cases_never_the_store() -> None:
    """A view parses, calls one use case of the container, and serialises: it never
    reads the store, nor the domain objects (vault, platform, keyring…) behind the use
    cases. Read with ``ast``; a local name bound to ``services()`` counts too."""
    offences = [
        f"{path.relative_to(ROOT)}: {reach}"
        for path in _modules("api")
        if path.name not in _API_GLUE
        for reach in _container_reaches(path)
    ]
    assert offences == []
