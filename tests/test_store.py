"""Contract tests of :mod:`store`: every test taking ``store`` runs on SQLite and on Redis."""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.retry import Retry

from store import open_store
from store.errors import InvalidArgument
from store.interface import (
    Conflict,
    CredentialRecord,
    IssuerRecord,
    KeyRecord,
    KeyStateName,
    NotFound,
    StatusListRecord,
    Store,
    StoreError,
    StoreUnavailable,
)
from store.redis import RedisStore
from store.sqlite import CHUNK_SIZE, SCHEMA_VERSION, SQLiteStore
from tests.conftest import free_port
from tests.factory import run_threads

URI = "https://ecert.example/status/1"
ISSUER = "https://police.example"

# -- helpers ---------------------------------------------------------------------------


def pack(values: Sequence[int], bits: int) -> bytes:
    """Reference Token Status List packer: entry i at bit (i*bits)%8 from the LSB."""
    out = bytearray((len(values) * bits + 7) // 8)
    for i, value in enumerate(values):
        assert 0 <= value < 1 << bits
        out[i * bits // 8] |= value << (i * bits % 8)
    return bytes(out)


def unpack(data: bytes, bits: int, size: int) -> list[int]:
    """Inverse of :func:`pack`."""
    mask = (1 << bits) - 1
    return [(data[i * bits // 8] >> (i * bits % 8)) & mask for i in range(size)]


def key(kid: str = "k1", *, owner: str = ISSUER, created_at: int = 100, **kw: object) -> KeyRecord:
    record = KeyRecord(
        kid=kid,
        owner=owner,
        alg="ES256",
        state="active",
        public_jwk=f'{{"kty":"EC","kid":"{kid}"}}',
        private_blob=bytes(range(256)),
        created_at=created_at,
    )
    return dataclasses.replace(record, **kw)  # type: ignore[arg-type]  # kw: any field, wrong types on purpose too


def status_list(
    uri: str = URI, *, bits: int = 2, size: int = 1024, issuer: str = ISSUER, created_at: int = 1
) -> StatusListRecord:
    return StatusListRecord(uri=uri, issuer=issuer, bits=bits, size=size, created_at=created_at)


def credential(
    cid: str = "c1",
    *,
    subject: str = "110101199001011237",
    issuer: str = ISSUER,
    issued_at: int = 1000,
    **kw: object,
) -> CredentialRecord:
    record = CredentialRecord(
        id=cid,
        vct="urn:ecert:id-card",
        issuer=issuer,
        subject=subject,
        kid="k1",
        status_uri=URI,
        status_idx=7,
        issued_at=issued_at,
        expires_at=issued_at + 86400,
    )
    return dataclasses.replace(record, **kw)  # type: ignore[arg-type]  # kw: any field, wrong types on purpose too


# -- the protocol ----------------------------------------------------------------------


def test_backend_satisfies_protocol(store: Store) -> None:
    assert isinstance(store, Store)


# -- keys ------------------------------------------------------------------------------


def test_key_round_trip(store: Store) -> None:
    record = key()
    store.put_key(record)
    assert store.get_key("k1") == record
    assert store.get_key("nope") is None


def test_key_conflict_keeps_the_original(store: Store) -> None:
    store.put_key(key())
    with pytest.raises(Conflict):
        store.put_key(key(alg="EdDSA", state="pending"))
    assert store.get_key("k1") == key()


def test_list_keys_oldest_first_ties_by_kid_and_by_owner(store: Store) -> None:
    records = [
        key("b", created_at=200),
        key("z", created_at=100),
        key("a", created_at=200),
        key("anchor-1", owner="anchor", created_at=50),
    ]
    for record in records:
        store.put_key(record)
    assert [k.kid for k in store.list_keys()] == ["anchor-1", "z", "a", "b"]
    assert [k.kid for k in store.list_keys(ISSUER)] == ["z", "a", "b"]
    assert store.list_keys("anchor") == [records[3]]
    assert store.list_keys("https://nobody.example") == []


def test_key_rotation_times_round_trip(store: Store) -> None:
    record = key(state="pending", activate_at=2000)
    store.put_key(record)
    assert store.get_key("k1") == record
    retired = key("k2", state="retired", activate_at=50, retired_at=900, verify_until=9000)
    store.put_key(retired)
    assert store.list_keys() == [record, retired]
    for bad in (-1, 2**53, True, 1.5):
        with pytest.raises(InvalidArgument):
            store.put_key(key("k3", activate_at=bad))
    assert store.get_key("k3") is None


def test_update_key_is_a_compare_and_set(store: Store) -> None:
    store.put_key(key(state="pending", activate_at=2000))
    assert store.update_key("k1", expect="pending", state="active")
    # A second worker racing the same promotion changes nothing.
    assert not store.update_key("k1", expect="pending", state="active", activate_at=5)
    assert store.get_key("k1") == key(state="active", activate_at=2000)
    assert store.update_key("k1", expect="active", state="retired", retired_at=3000)
    assert store.update_key("k1", expect="retired", state="retired", verify_until=4000)
    assert store.get_key("k1") == key(
        state="retired", activate_at=2000, retired_at=3000, verify_until=4000
    )
    assert store.list_keys()[0] == store.get_key("k1")
    with pytest.raises(NotFound):
        store.update_key("nope", expect="active", state="retired")
    with pytest.raises(InvalidArgument):
        store.update_key("k1", expect="retired", state="lost")  # type: ignore[arg-type]  # deliberately not the declared type: the runtime check is under test
    with pytest.raises(InvalidArgument):
        store.update_key("k1", expect="retired", state="retired", verify_until=-5)
    assert store.get_key("k1") == key(
        state="retired", activate_at=2000, retired_at=3000, verify_until=4000
    )


def test_set_key_state(store: Store) -> None:
    store.put_key(key(state="pending"))
    states: tuple[KeyStateName, ...] = ("active", "retired", "compromised")
    for state in states:
        store.set_key_state("k1", state)
        assert store.get_key("k1") == key(state=state)
        assert store.list_keys()[0].state == state
    with pytest.raises(NotFound):
        store.set_key_state("nope", "retired")
    assert store.get_key("nope") is None


# -- issuers ---------------------------------------------------------------------------


def test_issuer_round_trip_replace_and_order(store: Store) -> None:
    police = IssuerRecord(ISSUER, "police", "公安局", "Police", ("urn:a", "urn:b"))
    health = IssuerRecord("https://health.example", "health", "卫健委", "Health", ())
    store.put_issuer(police)
    store.put_issuer(health)
    assert store.get_issuer(ISSUER) == police
    assert store.get_issuer("https://health.example") == health
    assert store.get_issuer("https://nobody.example") is None
    assert store.list_issuers() == [health, police]
    renamed = IssuerRecord(ISSUER, "police", "市公安局", "City Police", ("urn:c",))
    store.put_issuer(renamed)
    assert store.get_issuer(ISSUER) == renamed
    assert store.list_issuers() == [health, renamed]


# -- status lists: metadata ------------------------------------------------------------


def test_status_list_create_get_list(store: Store) -> None:
    first = status_list("https://x.example/s/b", created_at=5)
    second = status_list("https://x.example/s/a", created_at=5)
    other = status_list("https://y.example/s/1", issuer="https://y.example", created_at=1)
    for record in (first, second, other):
        store.create_status_list(record)
    assert store.get_status_list(first.uri) == first
    assert store.get_status_list("https://x.example/s/none") is None
    assert store.list_status_lists() == [other, second, first]
    assert store.list_status_lists(ISSUER) == [second, first]
    assert store.list_status_lists("https://nobody.example") == []


def test_status_list_conflict(store: Store) -> None:
    store.create_status_list(status_list())
    with pytest.raises(Conflict):
        store.create_status_list(status_list(bits=8, size=8))
    assert store.get_status_list(URI) == status_list()


@pytest.mark.parametrize(("bits", "size"), [(3, 8), (16, 8), (0, 8), (2, 0)])
def test_status_list_rejects_bad_shapes(store: Store, bits: int, size: int) -> None:
    with pytest.raises(StoreError):
        store.create_status_list(status_list(bits=bits, size=size))
    assert store.get_status_list(URI) is None


@pytest.mark.parametrize(("bits", "size", "length"), [(1, 13, 2), (2, 5, 2), (4, 3, 2), (8, 3, 3)])
def test_new_list_is_all_zero_with_exact_length(
    store: Store, bits: int, size: int, length: int
) -> None:
    store.create_status_list(status_list(bits=bits, size=size))
    assert store.status_bytes(URI) == bytes(length)
    assert [store.get_status(URI, i) for i in range(size)] == [0] * size
    assert store.count_claimed(URI) == 0


def test_unknown_list_raises_not_found(store: Store) -> None:
    for call in (
        lambda: store.claim_status_index(URI, 0),
        lambda: store.count_claimed(URI),
        lambda: store.set_status(URI, 0, 1),
        lambda: store.get_status(URI, 0),
        lambda: store.status_bytes(URI),
    ):
        with pytest.raises(NotFound):
            call()


def test_out_of_range_index_and_value(store: Store) -> None:
    store.create_status_list(status_list(bits=2, size=10))
    for bad in (-1, 10, 1 << 40):
        with pytest.raises(StoreError) as info:
            store.set_status(URI, bad, 1)
        assert not isinstance(info.value, NotFound)
        with pytest.raises(StoreError):
            store.get_status(URI, bad)
        with pytest.raises(StoreError):
            store.claim_status_index(URI, bad)
    for value in (-1, 4):
        with pytest.raises(StoreError):
            store.set_status(URI, 3, value)
    assert store.status_bytes(URI) == bytes(3)
    assert store.count_claimed(URI) == 0


# -- status lists: bit order -----------------------------------------------------------


def test_token_status_list_spec_examples(store: Store) -> None:
    """The worked examples of the Token Status List draft (§4.1)."""
    one = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    two = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
    store.create_status_list(status_list("urn:one", bits=1, size=len(one)))
    store.create_status_list(status_list("urn:two", bits=2, size=len(two)))
    for uri, values in (("urn:one", one), ("urn:two", two)):
        for i, value in enumerate(values):
            store.set_status(uri, i, value)
    assert store.status_bytes("urn:one") == bytes([0xB9, 0xA3])
    assert store.status_bytes("urn:two") == bytes([0xC9, 0x44, 0xF9])
    assert pack(one, 1) == bytes([0xB9, 0xA3])
    assert pack(two, 2) == bytes([0xC9, 0x44, 0xF9])


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_status_bits_match_reference_packer(store: Store, bits: int) -> None:
    rng = random.Random(bits)
    size = 203  # not a multiple of 8: the last byte is partly padding
    store.create_status_list(status_list(bits=bits, size=size))
    values = [0] * size
    for i in rng.sample(range(size), 120):
        values[i] = rng.randrange(1, 1 << bits)
        store.set_status(URI, i, values[i])
    assert store.status_bytes(URI) == pack(values, bits)
    # Overwrite some entries, including back to 0, so that masking is exercised.
    for i in rng.sample(range(size), 60):
        values[i] = rng.randrange(0, 1 << bits)
        store.set_status(URI, i, values[i])
    data = store.status_bytes(URI)
    assert data == pack(values, bits)
    assert unpack(data, bits, size) == values
    assert [store.get_status(URI, i) for i in range(size)] == values


def test_lists_do_not_share_bits(store: Store) -> None:
    store.create_status_list(status_list("urn:a", bits=1, size=8))
    store.create_status_list(status_list("urn:b", bits=1, size=8))
    store.set_status("urn:a", 0, 1)
    assert store.claim_status_index("urn:a", 3)
    assert store.status_bytes("urn:b") == b"\x00"
    assert store.claim_status_index("urn:b", 3)
    assert store.count_claimed("urn:b") == 1


# -- status lists: claims --------------------------------------------------------------


def test_claim_status_index(store: Store) -> None:
    store.create_status_list(status_list(size=100))
    assert store.claim_status_index(URI, 42) is True
    assert store.claim_status_index(URI, 42) is False
    assert store.claim_status_index(URI, 0) is True
    assert store.claim_status_index(URI, 99) is True
    assert store.count_claimed(URI) == 3
    # Claims are bookkeeping only: the statuses stay 0.
    assert store.status_bytes(URI) == bytes(25)


def test_claims_are_unique_under_concurrency(store: Store) -> None:
    store.create_status_list(status_list(size=1000))
    indices = random.Random(7).sample(range(1000), 200)

    def claim(_: int) -> list[int]:
        return [i for i in indices if store.claim_status_index(URI, i)]

    won = [i for result in run_threads(8, claim) for i in result]
    assert sorted(won) == sorted(indices)
    assert store.count_claimed(URI) == 200


@pytest.mark.parametrize("bits", [1, 2])
def test_set_status_concurrency_loses_nothing(store: Store, bits: int) -> None:
    per_byte = 8 // bits
    size = per_byte * 64
    store.create_status_list(status_list(bits=bits, size=size))
    values = [(i % ((1 << bits) - 1)) + 1 for i in range(size)]  # all non-zero

    def write(thread: int) -> None:
        # Thread t owns the t-th entry of every byte: its neighbours belong to others.
        for i in range(thread, size, per_byte):
            store.set_status(URI, i, values[i])

    run_threads(per_byte, write)
    assert store.status_bytes(URI) == pack(values, bits)


@pytest.mark.slow
def test_large_list(store: Store) -> None:
    size = 10_000_000
    store.create_status_list(status_list(bits=2, size=size))
    writes = {0: 1, 1: 2, 4_999_999: 3, 5_000_000: 2, size - 1: 1}
    started = time.perf_counter()
    for idx, value in writes.items():
        store.set_status(URI, idx, value)
    assert {idx: store.get_status(URI, idx) for idx in writes} == writes
    assert store.get_status(URI, 1234) == 0
    assert store.claim_status_index(URI, size - 1)
    assert store.count_claimed(URI) == 1
    assert time.perf_counter() - started < 2.0
    data = store.status_bytes(URI)
    assert len(data) == 2_500_000
    for idx, value in writes.items():
        assert (data[idx // 4] >> (idx % 4 * 2)) & 3 == value
    assert data.count(0) == len(data) - 4  # idx 0 and 1 share byte 0


# -- credential registry ---------------------------------------------------------------


def test_credential_round_trip_and_conflict(store: Store) -> None:
    record = credential()
    store.put_credential(record)
    assert store.get_credential("c1") == record
    assert record.state == "valid"
    assert store.get_credential("c2") is None
    with pytest.raises(Conflict):
        store.put_credential(credential(vct="urn:other", state="revoked"))
    assert store.get_credential("c1") == record
    suspended = credential("c3", state="suspended")
    store.put_credential(suspended)
    assert store.get_credential("c3") == suspended


def test_list_credentials_filters_and_order(store: Store) -> None:
    alice, bob = "110101199001011237", "110101198512120027"
    other = "https://health.example"
    records = [
        credential("c-b", subject=alice, issued_at=20),
        credential("c-a", subject=alice, issued_at=20),
        credential("c-0", subject=alice, issued_at=30, issuer=other),
        credential("c-z", subject=bob, issued_at=10),
        credential("c-y", subject=bob, issued_at=40, issuer=other),
    ]
    for record in records:
        store.put_credential(record)

    def ids(**kw: str) -> list[str]:
        return [c.id for c in store.list_credentials(**kw)]

    assert ids() == ["c-z", "c-a", "c-b", "c-0", "c-y"]
    assert ids(subject=alice) == ["c-a", "c-b", "c-0"]
    assert ids(subject=bob) == ["c-z", "c-y"]
    assert ids(issuer=ISSUER) == ["c-z", "c-a", "c-b"]
    assert ids(issuer=other) == ["c-0", "c-y"]
    assert ids(subject=alice, issuer=other) == ["c-0"]
    assert ids(subject="nobody") == []
    assert ids(issuer="https://nobody.example") == []
    assert store.list_credentials(subject=bob, issuer=ISSUER) == [records[3]]


def test_list_credentials_by_signing_key(store: Store) -> None:
    """What one key signed (a key's last expiry, a compromised key's re-issue)."""
    other = "https://health.example"
    for record in (
        credential("c-1", kid="old", issued_at=10),
        credential("c-2", kid="new", issued_at=20),
        credential("c-3", kid="old", issued_at=30, subject="110101198512120027"),
        credential("c-4", kid="old", issued_at=5, issuer=other),
    ):
        store.put_credential(record)

    def ids(**kw: str) -> list[str]:
        return [c.id for c in store.list_credentials(**kw)]

    assert ids(issuer=ISSUER, kid="old") == ["c-1", "c-3"]
    assert ids(issuer=ISSUER, kid="new") == ["c-2"]
    assert ids(kid="old") == ["c-4", "c-1", "c-3"]
    assert ids(subject="110101198512120027", kid="old") == ["c-3"]
    assert ids(issuer=ISSUER, kid="gone") == []


def test_set_credential_state(store: Store) -> None:
    store.put_credential(credential())
    store.set_credential_state("c1", "suspended")
    assert store.get_credential("c1") == credential(state="suspended")
    store.set_credential_state("c1", "revoked")
    assert store.list_credentials(subject=credential().subject)[0].state == "revoked"
    with pytest.raises(NotFound):
        store.set_credential_state("nope", "revoked")
    assert store.get_credential("nope") is None


def test_unknown_states_are_rejected(store: Store) -> None:
    store.put_key(key())
    store.put_credential(credential())
    with pytest.raises(StoreError):
        store.set_key_state("k1", "lost")  # type: ignore[arg-type]  # deliberately not the declared type: the runtime check is under test
    with pytest.raises(StoreError):
        store.set_credential_state("c1", "gone")  # type: ignore[arg-type]  # deliberately not the declared type: the runtime check is under test
    assert store.get_key("k1") == key()
    assert store.get_credential("c1") == credential()


# -- open_store ------------------------------------------------------------------------


def test_open_store_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "opened.db"
    first = open_store(f"sqlite:///{path}")
    try:
        assert isinstance(first, SQLiteStore)
        first.put_scene_policies(b"1")
    finally:
        first.close()
    second = open_store(f"sqlite:///{path}")
    try:
        assert second.scene_policies() == b"1"
    finally:
        second.close()


@pytest.mark.redis
def test_open_store_redis(redis_server: str) -> None:
    opened = open_store(redis_server)
    try:
        assert isinstance(opened, RedisStore)
        opened.put_scene_policies(b"1")
        assert opened.scene_policies() == b"1"
    finally:
        assert isinstance(opened, RedisStore)
        opened.client.flushdb()
        opened.close()


def test_open_store_unknown_scheme() -> None:
    with pytest.raises(StoreError):
        open_store("postgres://localhost/ecert")


# -- unavailability --------------------------------------------------------------------


@pytest.mark.redis
def test_redis_unreachable_raises_store_unavailable() -> None:
    client = redis.Redis(
        host="127.0.0.1",
        port=free_port(),  # nothing listens there
        socket_timeout=0.2,
        socket_connect_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    store = RedisStore(client)
    try:
        calls: list[Callable[[], object]] = [
            lambda: store.trust_version(),
            lambda: store.put_key(key()),
            lambda: store.list_issuers(),
            lambda: store.create_status_list(status_list()),
            lambda: store.claim_status_index(URI, 1),
            lambda: store.set_status(URI, 1, 1),
            lambda: store.status_bytes(URI),
            lambda: store.list_credentials(subject="x"),
            lambda: store.set_credential_state("c1", "revoked"),
        ]
        started = time.perf_counter()
        for call in calls:
            with pytest.raises(StoreUnavailable) as info:
                call()
            assert isinstance(info.value.__cause__, redis.ConnectionError | redis.TimeoutError)
            assert info.value.code == "store_unavailable"
        assert time.perf_counter() - started < 5
    finally:
        store.close()


def test_sqlite_locked_raises_store_unavailable(tmp_path: Path) -> None:
    path = str(tmp_path / "locked.db")
    store = SQLiteStore(path, busy_timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailable) as info:
            store.put_scene_policies(b"1")
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        blocker.execute("ROLLBACK")
        store.put_scene_policies(b"1")  # the pool recovered: the connection is usable again
        assert store.scene_policies() == b"1"
    finally:
        blocker.close()
        store.close()


# -- SQLite specifics ------------------------------------------------------------------


def test_sqlite_schema_is_idempotent_and_versioned(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    with SQLiteStore(path) as first:
        first.create_status_list(status_list())
    with SQLiteStore(path) as second:
        assert second.get_status_list(URI) == status_list()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StoreError) as info:
        SQLiteStore(path)
    assert info.value.code == "schema_too_new"


def test_sqlite_set_status_rewrites_one_chunk(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    sqlite_store.create_status_list(status_list(bits=2, size=10_000_000))
    sqlite_store.set_status(URI, 5_000_000, 3)
    sqlite_store.set_status(URI, 5_000_001, 1)
    with sqlite3.connect(sqlite_store.path) as raw:
        rows = raw.execute("SELECT chunk_no, length(data) FROM status_chunks").fetchall()
    raw.close()
    assert rows == [(1_250_000 // CHUNK_SIZE, CHUNK_SIZE)]


def test_sqlite_closed_store_raises(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "c.db"))
    store.close()
    store.close()
    with pytest.raises(StoreError):
        store.trust_version()


def test_sqlite_in_memory() -> None:
    with SQLiteStore(":memory:") as store:
        store.create_status_list(status_list(bits=1, size=16))
        run_threads(4, lambda t: store.set_status(URI, t, 1))
        assert store.status_bytes(URI) == b"\x0f\x00"


def _claim_in_process(path: str, indices: list[int], own: int) -> list[int]:
    """Worker of the multi-process test: claim ``indices``, set status ``own`` to 1."""
    with SQLiteStore(path) as store:
        store.set_status(URI, own, 1)
        return [i for i in indices if store.claim_status_index(URI, i)]


def test_sqlite_several_processes_share_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    with SQLiteStore(path) as store:
        store.create_status_list(status_list(bits=1, size=256))
    indices = list(range(16, 116))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        futures = [pool.submit(_claim_in_process, path, indices, own) for own in range(4)]
        won = [i for future in futures for i in future.result()]
    assert sorted(won) == indices
    with SQLiteStore(path) as store:
        assert store.count_claimed(URI) == 100
        assert store.status_bytes(URI)[:1] == b"\x0f"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_sqlite_store_used_across_fork(sqlite_store: SQLiteStore) -> None:
    sqlite_store.create_status_list(status_list(bits=1, size=16))
    sqlite_store.set_status(URI, 0, 1)  # the parent now has pooled connections
    pid = os.fork()
    if pid == 0:  # child: report through the exit code, never return into pytest
        code = 1
        try:
            claimed = sqlite_store.claim_status_index(URI, 5)
            code = 0 if claimed and sqlite_store.get_status(URI, 0) == 1 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sqlite_store.claim_status_index(URI, 5) is False
    assert sqlite_store.count_claimed(URI) == 1


# -- Redis specifics -------------------------------------------------------------------


def _raw_bits_key(store: RedisStore, uri: str) -> str:
    """The documented name of a list's bits key: ``P:{sl:<sha256(uri)[:16]>}:bits``."""
    return f"{store.prefix}:{{sl:{hashlib.sha256(uri.encode()).hexdigest()[:16]}}}:bits"


@pytest.mark.redis
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_redis_raw_string_is_the_token_status_list(redis_store: RedisStore, bits: int) -> None:
    """Both ways: what BITFIELD writes is the packed array, and packed bytes read back."""
    rng = random.Random(100 + bits)
    size = 77
    redis_store.create_status_list(status_list(bits=bits, size=size))
    values = [rng.randrange(0, 1 << bits) for _ in range(size)]
    for i, value in enumerate(values):
        redis_store.set_status(URI, i, value)
    bits_key = _raw_bits_key(redis_store, URI)
    assert redis_store.client.get(bits_key) == pack(values, bits)
    other = [rng.randrange(0, 1 << bits) for _ in range(size)]
    redis_store.client.set(bits_key, pack(other, bits))
    assert [redis_store.get_status(URI, i) for i in range(size)] == other


@pytest.mark.redis
def test_redis_status_bytes_pads_a_short_string(redis_store: RedisStore) -> None:
    redis_store.create_status_list(status_list(bits=8, size=10))
    redis_store.set_status(URI, 2, 0xAB)
    bits_key = _raw_bits_key(redis_store, URI)
    assert redis_store.client.strlen(bits_key) == 3
    assert redis_store.status_bytes(URI) == b"\x00\x00\xab" + bytes(7)


@pytest.mark.redis
def test_redis_key_layout_is_cluster_ready(redis_store: RedisStore) -> None:
    subject = "110101199001011237"
    redis_store.create_status_list(status_list())
    redis_store.claim_status_index(URI, 1)
    redis_store.set_status(URI, 1, 1)
    redis_store.put_credential(credential("c1", subject=subject))
    redis_store.put_credential(credential("c2", subject=subject))
    names = sorted(k.decode() if isinstance(k, bytes) else k for k in redis_store.client.keys("*"))
    assert all(name.startswith("ecert:{") for name in names)

    def slots(part: str) -> set[int]:
        found = {key_slot(name.encode()) for name in names if part in name}
        assert found, part
        return found

    list_keys = [name for name in names if ":{sl:" in name]
    assert {name.rsplit(":", 1)[1] for name in list_keys} == {
        "meta",
        "bits",
        "claims",
        "claimed",
        "creds",  # status index -> credential id (find_credential)
    }
    assert len(slots(":{sl:")) == 1
    assert len(slots(":{cred:c1}:")) == 1
    assert f"ecert:{{sub:{subject}}}:creds" in names
    assert redis_store.client.zrange(f"ecert:{{sub:{subject}}}:creds", 0, -1) == [b"c1", b"c2"]
    assert _raw_bits_key(redis_store, URI) in names


@pytest.mark.redis
def test_redis_prefix_separates_stores(redis_server: str) -> None:
    a = RedisStore.from_url(redis_server, prefix="tenant-a")
    b = RedisStore.from_url(redis_server, prefix="tenant-b")
    try:
        a.put_scene_policies(b"a")
        assert b.scene_policies() is None
        b.create_status_list(status_list())
        assert a.get_status_list(URI) is None
    finally:
        a.client.flushdb()
        a.close()
        b.close()


@pytest.mark.redis
def test_redis_rejects_decoding_client_and_bad_prefix(redis_server: str) -> None:
    client = redis.Redis.from_url(redis_server, decode_responses=True)
    try:
        with pytest.raises(StoreError):
            RedisStore(client)
    finally:
        client.close()
    raw = redis.Redis.from_url(redis_server)
    try:
        with pytest.raises(StoreError):
            RedisStore(raw, prefix="a{b}")
    finally:
        raw.close()
