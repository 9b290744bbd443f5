"""One exception hierarchy: every code is owned by one class, has an HTTP status and is
documented (issue 8, "Errors"; STYLE.md §3).

The classes are collected by importing every module of the project, so a class added
anywhere is checked without being listed here. Codes live on classes only: no raise
site passes one.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections import defaultdict
from pathlib import Path

import pytest

from api.errors import HTTP_CODES, STATUS_BY_CLASS, error_classes, status_for
from keys.ecert_error import EcertError
from keys.errors import KeyBindingInvalid, NotFound, PresentationExpired, Replayed
from tests.factory import World
from verifier.errors import ERROR_CODES, VerificationError

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("keys", "sdjwt", "issuer", "wallet", "verifier", "store", "service", "api", "cli")
CODE = re.compile(r"[a-z][a-z0-9_]{1,40}")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__main__":
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _project_classes() -> list[type[EcertError]]:
    for name in _modules():
        importlib.import_module(name)
    # Tests define classes of their own (tests/test_api_chassis.py): not the project's.
    return [c for c in error_classes() if c.__module__.split(".")[0] in PACKAGES]


CLASSES = _project_classes()
#: code → the classes that set it themselves (in their own ``__dict__``).
OWNERS: dict[str, list[type[EcertError]]] = defaultdict(list)
for _cls in CLASSES:
    if "code" in _cls.__dict__:
        OWNERS[_cls.code].append(_cls)


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_the_whole_project_was_collected() -> None:
    # A self-check: the collection sees classes of every package with errors.
    packages = {c.__module__.split(".")[0] for c in CLASSES}
    assert packages >= {"keys", "sdjwt", "issuer", "wallet", "verifier", "store", "api"}
    assert len(CLASSES) >= 70


def test_every_code_is_owned_by_one_class() -> None:
    shared = {code: sorted(map(_name, owners)) for code, owners in OWNERS.items()}
    assert {code: names for code, names in shared.items() if len(names) > 1} == {}


@pytest.mark.parametrize("cls", CLASSES, ids=_name)
def test_a_class_has_a_well_formed_code_of_a_class_attribute(cls: type[EcertError]) -> None:
    assert CODE.fullmatch(cls.code), cls.code
    # A subclass that does not set a code refines its owner's: same code, a subclass.
    (owner,) = OWNERS[cls.code]
    assert issubclass(cls, owner)


def test_no_raise_site_passes_a_code() -> None:
    offences = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and any(k.arg == "code" for k in node.keywords):
                    func = ast.unparse(node.func)
                    if func[:1].isupper() or func.endswith("Error"):
                        offences.append(f"{path.relative_to(ROOT)}:{node.lineno} {func}")
    assert offences == []
    with pytest.raises(TypeError):
        EcertError("a message", code="ad_hoc")  # type: ignore[call-arg]


@pytest.mark.parametrize("cls", CLASSES, ids=_name)
def test_every_code_has_a_status_of_its_own_or_its_familys(cls: type[EcertError]) -> None:
    # The nearest class of the MRO in the table is never the bare root, except for the
    # root itself: a package's base always has its family status.
    nearest = next(k for k in cls.__mro__ if k in STATUS_BY_CLASS)
    assert nearest is not EcertError or cls is EcertError
    assert 400 <= status_for(cls) <= 599


def test_the_status_table_is_keyed_by_project_classes() -> None:
    assert all(isinstance(cls, type) and cls in CLASSES for cls in STATUS_BY_CLASS)
    assert not set(HTTP_CODES) & set(OWNERS)  # werkzeug's codes are no class's


def _documented(path: str) -> set[str]:
    return set(re.findall(r"`([a-z][a-z0-9_]+)`", (ROOT / path).read_text(encoding="utf-8")))


def test_every_http_code_is_documented_in_api_md() -> None:
    missing = sorted((set(OWNERS) | set(HTTP_CODES)) - _documented("docs/api.md"))
    assert missing == []


def test_the_verifier_codes_are_the_documented_stable_ones() -> None:
    verifier_codes = {c.code for c in CLASSES if issubclass(c, VerificationError)}
    assert verifier_codes - {VerificationError.code} == set(ERROR_CODES)
    assert sorted(set(ERROR_CODES) - _documented("docs/verification.md")) == []
    assert all(code in OWNERS for code in ERROR_CODES)


def test_a_shared_code_is_caught_by_its_owner_across_packages() -> None:
    from issuer.errors import UnknownIssuer as IssuerUnknown
    from service.errors import OnlineQrExpired, OnlineQrOtherScene, OnlineQrUsed
    from store.errors import NotFound as StoreNotFound
    from verifier.errors import Replayed as VerifierReplayed
    from verifier.errors import UnknownIssuer as VerifierUnknown

    assert issubclass(VerifierReplayed, Replayed) and issubclass(OnlineQrUsed, Replayed)
    assert issubclass(OnlineQrExpired, PresentationExpired)
    assert issubclass(OnlineQrOtherScene, KeyBindingInvalid)
    assert issubclass(StoreNotFound, NotFound)
    assert IssuerUnknown.code == VerifierUnknown.code == "unknown_issuer"
    # ...while a package's own base still tells the layers apart.
    assert not issubclass(VerifierUnknown, IssuerUnknown)
    assert status_for(IssuerUnknown) == status_for(VerifierUnknown) == 404


def test_a_verifier_check_inside_the_kb_jwt_keeps_its_code(world: World) -> None:
    # The verifier's Malformed is also a FormatError now: a segment that is not
    # base64url inside the KB-JWT must still answer ``malformed``, not be re-labelled
    # ``key_binding_invalid`` by the KB-JWT's ``except FormatError``.
    held, wallet = world.issue_id_card()
    verifier = world.verifier()
    text = wallet.present_for_scene(held, verifier.trust_list.scenes["hotel"])
    head, _, kb = text.rpartition("~")
    h64, p64, s64 = kb.split(".")
    while len(p64) % 4 != 1:  # a length no base64url text has
        p64 += "A"
    assert verifier.verify(f"{head}~{h64}.{p64}.{s64}", "hotel").codes == ["malformed"]
