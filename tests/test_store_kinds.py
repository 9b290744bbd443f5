"""The store is one small protocol per kind of record, and one module per kind in each
backend (issue 8): adding a kind is one protocol, one dataclass, one module per backend
and its contract tests. These tests keep that shape: a method belongs to exactly one
kind, ``Store`` is their union, and each backend implements a kind in the module of
that kind's name, with the protocol's signatures.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest

from store.errors import OutOfRange
from store.interface import (
    NOTICE_CAP,
    AccountStore,
    ActivityStore,
    AuditStore,
    ConfigStore,
    Conflict,
    ConsentStore,
    CounterStore,
    CredentialRecord,
    DeviceStore,
    JobStore,
    KeyStore,
    LinkStore,
    NotFound,
    NoticeRecord,
    NoticeStore,
    ProofQueryStore,
    RatingStore,
    RegistryStore,
    ShortLivedStore,
    StatusListRecord,
    StatusListStore,
    Store,
    TrustStore,
    WalletItem,
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
    AuditStore: "audit",
    ConsentStore: "consents",
    ProofQueryStore: "queries",
    RatingStore: "ratings",
    CounterStore: "counters",
    LinkStore: "links",
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
    # plus the 8 of devices (issue 9), the 12 of jobs, the 3 of notices, the keys'
    # ``update_key`` and the 6 bulk calls of proactive issuance (issue 10), plus the 4 of
    # the audit chain, the 4 of consents, the 2 of proof queries, the 12 of ratings and
    # misuse reports and the 2 daily counters (issue 11), plus the 7 of links (issue 12),
    # plus the audit chain's batch append (its group append, 2026-12-04), plus a link's
    # new credential (a re-issued link credential keeps its link, 2026-12-04).
    assert len(seen) == 126


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


# -- bulk writes (proactive issuance: one transaction or pipeline per chunk) ------------------


def _credential(n: int, subject: str = "ps_a", uri: str = "urn:bulk") -> CredentialRecord:
    return CredentialRecord(
        id=f"cred-{n:04d}",
        vct="urn:ecert:resident-id-card",
        issuer="https://ecert.example/issuers/police",
        subject=subject,
        kid="kid-1",
        status_uri=uri,
        status_idx=n,
        issued_at=1_800_000_000 + n,
        expires_at=1_900_000_000,
    )


def test_claim_status_indices_claims_each_once_and_counts(store: Store) -> None:
    store.create_status_list(StatusListRecord("urn:bulk", "iss", 2, 64, 0))
    assert store.claim_status_index("urn:bulk", 5)
    # Already claimed, claimed now, claimed twice in one call.
    assert store.claim_status_indices("urn:bulk", [5, 6, 7, 6]) == [False, True, True, False]
    assert store.claim_status_indices("urn:bulk", []) == []
    assert store.count_claimed("urn:bulk") == 3
    assert not store.claim_status_index("urn:bulk", 7)


def test_claim_status_indices_refuses_out_of_range_and_claims_nothing(store: Store) -> None:
    store.create_status_list(StatusListRecord("urn:bulk", "iss", 2, 64, 0))
    for bad in ([1, 64], [-1, 2]):
        with pytest.raises(OutOfRange):
            store.claim_status_indices("urn:bulk", bad)
    assert store.count_claimed("urn:bulk") == 0
    assert store.claim_status_index("urn:bulk", 1)
    with pytest.raises(NotFound):
        store.claim_status_indices("urn:none", [1])
    with pytest.raises(NotFound):
        store.claim_status_indices("urn:none", [])


def test_put_credentials_inserts_new_ids_and_keeps_existing(store: Store) -> None:
    store.put_credential(_credential(1))
    store.set_credential_state("cred-0001", "revoked")
    changed = dataclasses.replace(_credential(1), subject="ps_other")
    batch = [_credential(0), changed, _credential(2, subject="ps_b")]
    assert store.put_credentials(batch) == [True, False, True]
    assert store.put_credentials([]) == []
    # The existing record is untouched (subject and state).
    kept = store.get_credential("cred-0001")
    assert kept is not None and kept.subject == "ps_a" and kept.state == "revoked"
    # Every index knows the new ones, as after put_credential.
    assert [r.id for r in store.list_credentials(subject="ps_a")] == ["cred-0000", "cred-0001"]
    assert [r.id for r in store.list_credentials(subject="ps_b")] == ["cred-0002"]
    police = store.list_credentials(issuer="https://ecert.example/issuers/police")
    assert len(police) == 3
    found = store.find_credential("urn:bulk", 2)
    assert found is not None and found.id == "cred-0002"
    with pytest.raises(Conflict):
        store.put_credential(_credential(2))


def test_put_wallet_items_writes_items_of_many_citizens(store: Store) -> None:
    def item(citizen: str, n: int, blob: bytes) -> WalletItem:
        return WalletItem(citizen, f"cred-{n}", "urn:ecert:resident-id-card", "iss", 9, n, blob)

    store.put_wallet_item(item("ps_a", 1, b"old"))
    store.put_wallet_items([item("ps_a", 1, b"new"), item("ps_a", 2, b"x"), item("ps_b", 3, b"y")])
    store.put_wallet_items([])
    assert [(i.credential_id, i.blob) for i in store.list_wallet_items("ps_a")] == [
        ("cred-1", b"new"),
        ("cred-2", b"x"),
    ]
    assert [i.credential_id for i in store.list_wallet_items("ps_b")] == ["cred-3"]


def test_put_marks_writes_free_keys_and_get_marks_reads_them(store: Store) -> None:
    assert store.put_mark("batch-row", "k1", "old")
    got = store.put_marks("batch-row", [("k1", "new"), ("k2", "a"), ("k3", "b"), ("k2", "c")])
    assert got == [False, True, True, False]
    assert store.put_marks("batch-row", []) == []
    assert store.get_marks("batch-row", ["k2", "k0", "k1", "k3"]) == ["a", None, "old", "b"]
    assert store.get_marks("other-scope", ["k1"]) == [None]
    assert store.get_marks("batch-row", []) == []
    assert store.get_mark("batch-row", "k2") == "a"


def test_put_notices_writes_many_and_keeps_each_citizens_cap(store: Store) -> None:
    store.put_notice(NoticeRecord("ps_a", "n-0", 10, "batch", b"old"))
    many = [NoticeRecord("ps_a", f"n-{i}", 10 + i, "batch", b"x") for i in range(NOTICE_CAP + 2)]
    store.put_notices([*many, NoticeRecord("ps_b", "n-0", 5, "batch", b"y")])
    store.put_notices([])
    kept = store.list_notices("ps_a", NOTICE_CAP)
    assert len(kept) == NOTICE_CAP
    assert kept[0].notice_id == f"n-{NOTICE_CAP + 1}"  # newest first; the oldest trimmed
    assert "n-0" not in {n.notice_id for n in store.list_notices("ps_a", NOTICE_CAP)}
    (other,) = store.list_notices("ps_b")
    assert (other.notice_id, other.blob) == ("n-0", b"y")
