"""The store is one small protocol per kind of record, and one module per kind in each
backend (issue 8): adding a kind is one protocol, one dataclass, one module per backend
and its contract tests. These tests keep that shape: a method belongs to exactly one
kind, ``Store`` is their union, and each backend implements a kind in the module of
that kind's name, with the protocol's signatures.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

from store.interface import (
    AccountStore,
    ActivityStore,
    ConfigStore,
    DeviceStore,
    JobStore,
    KeyStore,
    NoticeStore,
    RegistryStore,
    ShortLivedStore,
    StatusListStore,
    Store,
    TrustStore,
    WalletStore,
)
from store.redis import RedisStore
from store.sqlite import SQLiteStore

#: Kind protocol -> the module name that implements it in each backend.
KINDS: dict[type, str] = {
    ConfigStore: "config",
    KeyStore: "keys",
    TrustStore: "trust",
    StatusListStore: "status",
    RegistryStore: "registry",
    AccountStore: "accounts",
    WalletStore: "wallets",
    DeviceStore: "devices",
    ActivityStore: "activity",
    ShortLivedStore: "ephemeral",
    JobStore: "jobs",
    NoticeStore: "notices",
}
BACKENDS = {"sqlite": SQLiteStore, "redis": RedisStore}


def _methods(protocol: type) -> set[str]:
    return {
        name
        for name, value in vars(protocol).items()
        if callable(value) and not name.startswith("_")
    }


def test_store_is_the_union_of_the_kinds_and_a_method_has_one_kind() -> None:
    seen: dict[str, type] = {}
    for kind in KINDS:
        for name in _methods(kind):
            assert name not in seen, f"{name} in {kind.__name__} and {seen[name].__name__}"
            seen[name] = kind
    every = {name for name in dir(Store) if not name.startswith("_")}
    assert every == set(seen) | {"close"}
    # The 54 methods of the one protocol before the split, less put_config, put_once and
    # get_once, plus the config kind's 11 typed accessors and ``once`` (declared spaces),
    # plus the 8 of devices (issue 9), the 12 of jobs and the 3 of notices (issue 10).
    assert len(seen) == 86


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("kind", list(KINDS), ids=lambda k: k.__name__)
def test_a_backend_implements_a_kind_in_its_module_with_its_signatures(
    backend: str, kind: type
) -> None:
    module = importlib.import_module(f"store.{backend}.{KINDS[kind]}")
    (mixin,) = (
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and value.__module__ == module.__name__
        and value.__name__.endswith("Mixin")
    )
    public = {n for n, v in vars(mixin).items() if callable(v) and not n.startswith("_")}
    assert public == _methods(kind)
    for name in public:
        want = inspect.signature(getattr(kind, name))
        got = inspect.signature(getattr(mixin, name))
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == [
            (p.name, p.kind, p.default) for p in want.parameters.values()
        ], f"{backend}.{name}"
        assert str(got.return_annotation) == str(want.return_annotation), f"{backend}.{name}"
    assert issubclass(BACKENDS[backend], mixin)


def test_both_backends_are_every_kind_and_the_store(
    sqlite_store: SQLiteStore, redis_store: RedisStore
) -> None:
    for s in (sqlite_store, redis_store):
        assert isinstance(s, Store)
        for kind in KINDS:
            assert isinstance(s, kind)
