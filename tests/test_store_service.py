"""Contract tests of the service part of :mod:`store` (citizens, wallets, sessions, API
keys, venues, activity, short-lived entries): every test taking ``store`` runs on SQLite
and on a real Redis server.

Expiry is tested through the ``now`` argument, never by sleeping. Redis also drops
entries by its own clock, so the times given to it are around ``time.time()``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
import redis
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.retry import Retry

from store.interface import (
    IDEMPOTENCY,
    ActivityRecord,
    ApiKeyRecord,
    CitizenRecord,
    Conflict,
    CredentialRecord,
    InvalidArgument,
    Limit,
    NotFound,
    SessionRecord,
    Store,
    StoreUnavailable,
    VenueRecord,
    WalletItem,
    WalletRecord,
)
from store.redis import RedisStore
from store.sqlite import _MIGRATIONS, SCHEMA_VERSION, SQLiteStore
from tests.conftest import free_port
from tests.factory import run_threads
from tests.hygiene import personal
from tests.redis_replies import all_bytes, as_bytes

CITIZEN = personal("110101199001011237", "test_store_service CITIZEN")
OTHER = personal("310101198505054321", "test_store_service OTHER")
URI = "https://ecert.example/status/1"
#: The once-space the contract tests of once-values write in (any declared one would do).
SPACE = IDEMPOTENCY
URI2 = "https://ecert.example/status/2"
ISSUER = "https://police.example"
HOUR = 3600

T = TypeVar("T")

# -- helpers ---------------------------------------------------------------------------


def now_s() -> int:
    """Whole seconds of the real clock (Redis expiries follow it)."""
    return int(time.time())


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def credential(
    cid: str = "c1", *, uri: str = URI, idx: int = 7, issued_at: int = 1000
) -> CredentialRecord:
    return CredentialRecord(
        id=cid,
        vct="urn:ecert:id-card",
        issuer=ISSUER,
        subject=CITIZEN,
        kid="k1",
        status_uri=uri,
        status_idx=idx,
        issued_at=issued_at,
        expires_at=issued_at + 86400,
    )


def citizen(cid: str = CITIZEN, *, password_hash: str = "$argon2id$v=19$x") -> CitizenRecord:
    return CitizenRecord(citizen_id=cid, password_hash=password_hash, created_at=100)


def wallet(cid: str = CITIZEN, *, holder_kid: str = "h1") -> WalletRecord:
    return WalletRecord(
        citizen_id=cid,
        holder_kid=holder_kid,
        holder_blob=b"\x00holder\xff" + holder_kid.encode(),
        key_blob=bytes(range(256)),
        created_at=100,
    )


def item(
    credential_id: str = "c1", *, cid: str = CITIZEN, added_at: int = 100, blob: bytes = b"\x01\x02"
) -> WalletItem:
    return WalletItem(
        citizen_id=cid,
        credential_id=credential_id,
        vct="urn:ecert:id-card",
        issuer=ISSUER,
        expires_at=added_at + 86400,
        added_at=added_at,
        blob=blob,
    )


def session(token: str = "t1", *, created_at: int, expires_at: int) -> SessionRecord:
    return SessionRecord(
        token_hash=digest(token), citizen_id=CITIZEN, created_at=created_at, expires_at=expires_at
    )


def api_key(
    key_id: str = "ak1", *, principal: str = ISSUER, created_at: int = 100, **kw: object
) -> ApiKeyRecord:
    record = ApiKeyRecord(
        key_id=key_id,
        key_hash=digest(f"secret-{key_id}"),
        kind="department",
        principal=principal,
        created_at=created_at,
    )
    return dataclasses.replace(record, **kw)  # type: ignore[arg-type]  # kw: any field, wrong types on purpose too


def venue(venue_id: str = "v1", *, name_en: str = "Hotel") -> VenueRecord:
    return VenueRecord(
        venue_id=venue_id,
        name_zh="酒店",
        name_en=name_en,
        scenes=("hotel", "bank"),
        created_at=100,
    )


def activity(event_id: str, at: int, *, cid: str = CITIZEN, valid: bool = True) -> ActivityRecord:
    return ActivityRecord(
        event_id=event_id,
        citizen_id=cid,
        at=at,
        venue_id="v1",
        scene="hotel",
        vct="urn:ecert:id-card" if valid else None,
        credential_id="c1" if valid else None,
        claims=("name", "birth_date") if valid else (),
        valid=valid,
        codes=() if valid else ("revoked",),
    )


# -- credential registry: find by status position --------------------------------------


def test_find_credential(store: Store) -> None:
    store.put_credential(credential("c1", idx=7))
    store.put_credential(credential("c2", idx=8))
    store.put_credential(credential("c3", uri=URI2, idx=7))
    assert store.find_credential(URI, 7) == credential("c1", idx=7)
    assert store.find_credential(URI, 8) == credential("c2", idx=8)
    assert store.find_credential(URI2, 7) == credential("c3", uri=URI2, idx=7)
    assert store.find_credential(URI, 9) is None
    assert store.find_credential("https://elsewhere.example/status/1", 7) is None
    store.set_credential_state("c1", "revoked")
    found = store.find_credential(URI, 7)
    assert found is not None
    assert found.state == "revoked"


def test_find_credential_first_put_wins(store: Store) -> None:
    store.put_credential(credential("c1", idx=3))
    store.put_credential(credential("c0", idx=3, issued_at=10))
    found = store.find_credential(URI, 3)
    assert found is not None
    assert found.id == "c1"


def test_find_credential_conflict_leaves_the_index(store: Store) -> None:
    store.put_credential(credential("c1", idx=3))
    with pytest.raises(Conflict):
        store.put_credential(credential("c1", idx=4))
    assert store.find_credential(URI, 4) is None
    assert store.find_credential(URI, 3) == credential("c1", idx=3)


# -- citizens --------------------------------------------------------------------------


def test_citizen_round_trip_conflict_and_password(store: Store) -> None:
    assert store.get_citizen(CITIZEN) is None
    store.put_citizen(citizen())
    assert store.get_citizen(CITIZEN) == citizen()
    with pytest.raises(Conflict):
        store.put_citizen(citizen(password_hash="other"))
    assert store.get_citizen(CITIZEN) == citizen()
    store.set_citizen_password(CITIZEN, "$argon2id$v=19$new")
    assert store.get_citizen(CITIZEN) == citizen(password_hash="$argon2id$v=19$new")
    store.set_citizen_password(CITIZEN, "")  # identity-provider only
    assert store.get_citizen(CITIZEN) == citizen(password_hash="")
    with pytest.raises(NotFound):
        store.set_citizen_password(OTHER, "x")
    assert store.get_citizen(OTHER) is None


def test_citizen_without_password(store: Store) -> None:
    store.put_citizen(citizen(password_hash=""))
    assert store.get_citizen(CITIZEN) == citizen(password_hash="")


def test_list_citizens_sorted_by_id(store: Store) -> None:
    assert store.list_citizens() == []
    for cid in ("3", "1", "2"):
        store.put_citizen(citizen(cid))
    assert [c.citizen_id for c in store.list_citizens()] == ["1", "2", "3"]
    store.set_citizen_password("2", "new")
    assert store.list_citizens()[1] == citizen("2", password_hash="new")


# -- wallets ---------------------------------------------------------------------------


def test_create_wallet_first_one_wins(store: Store) -> None:
    assert store.get_wallet(CITIZEN) is None
    assert store.create_wallet(wallet(holder_kid="first")) is True
    assert store.create_wallet(wallet(holder_kid="second")) is False
    assert store.get_wallet(CITIZEN) == wallet(holder_kid="first")
    assert store.get_wallet(OTHER) is None


def test_create_wallet_first_wins_under_concurrency(store: Store) -> None:
    results = run_threads(8, lambda t: store.create_wallet(wallet(holder_kid=f"h{t}")))
    assert results.count(True) == 1
    winner = results.index(True)
    assert store.get_wallet(CITIZEN) == wallet(holder_kid=f"h{winner}")


def test_wallet_items_round_trip_replace_delete(store: Store) -> None:
    assert store.get_wallet_item(CITIZEN, "c1") is None
    assert store.list_wallet_items(CITIZEN) == []
    store.put_wallet_item(item("c1", blob=b"one"))
    assert store.get_wallet_item(CITIZEN, "c1") == item("c1", blob=b"one")
    store.put_wallet_item(item("c1", blob=b"two", added_at=200))
    assert store.get_wallet_item(CITIZEN, "c1") == item("c1", blob=b"two", added_at=200)
    assert store.list_wallet_items(CITIZEN) == [item("c1", blob=b"two", added_at=200)]
    assert store.get_wallet_item(OTHER, "c1") is None
    assert store.delete_wallet_item(CITIZEN, "c1") is True
    assert store.delete_wallet_item(CITIZEN, "c1") is False
    assert store.get_wallet_item(CITIZEN, "c1") is None
    assert store.list_wallet_items(CITIZEN) == []


def test_list_wallet_items_order_and_isolation(store: Store) -> None:
    store.put_wallet_item(item("b", added_at=200))
    store.put_wallet_item(item("z", added_at=100))
    store.put_wallet_item(item("a", added_at=200))
    store.put_wallet_item(item("m", added_at=300))
    store.put_wallet_item(item("x", cid=OTHER, added_at=50))
    assert [i.credential_id for i in store.list_wallet_items(CITIZEN)] == ["z", "a", "b", "m"]
    assert store.list_wallet_items(OTHER) == [item("x", cid=OTHER, added_at=50)]
    assert store.delete_wallet_item(OTHER, "a") is False
    assert len(store.list_wallet_items(CITIZEN)) == 4


def test_concurrent_wallet_writes_lose_nothing(store: Store) -> None:
    """8 threads x 50 adds of distinct ids on one citizen, then each deletes half."""
    threads, per = 8, 50

    def work(t: int) -> list[str]:
        ids = [f"t{t}-c{i:02d}" for i in range(per)]
        for n, credential_id in enumerate(ids):
            store.put_wallet_item(item(credential_id, added_at=n, blob=credential_id.encode()))
        deleted = ids[::2]
        for credential_id in deleted:
            assert store.delete_wallet_item(CITIZEN, credential_id) is True
        return ids[1::2]

    kept = sorted(i for chunk in run_threads(threads, work) for i in chunk)
    items = store.list_wallet_items(CITIZEN)
    assert len(items) == threads * per // 2
    assert sorted(i.credential_id for i in items) == kept
    assert all(i.blob == i.credential_id.encode() for i in items)
    assert [(i.added_at, i.credential_id) for i in items] == sorted(
        (i.added_at, i.credential_id) for i in items
    )


@pytest.mark.slow
def test_interleaved_wallet_writes_lose_nothing(store: Store) -> None:
    """16 threads each add 200 items and delete every other one right after adding the next."""
    threads, per = 16, 200

    def work(t: int) -> None:
        for i in range(per):
            store.put_wallet_item(item(f"t{t:02d}-{i:03d}", added_at=i))
            if i % 2:
                assert store.delete_wallet_item(CITIZEN, f"t{t:02d}-{i - 1:03d}") is True
            if i % 50 == 0:
                store.list_wallet_items(CITIZEN)  # a reader in the middle of the writers

    run_threads(threads, work)
    expected = sorted(f"t{t:02d}-{i:03d}" for t in range(threads) for i in range(1, per, 2))
    assert sorted(i.credential_id for i in store.list_wallet_items(CITIZEN)) == expected


# -- sessions --------------------------------------------------------------------------


def test_session_round_trip_expiry_and_delete(store: Store) -> None:
    t = now_s()
    record = session("t1", created_at=t, expires_at=t + HOUR)
    store.put_session(record)
    assert store.get_session(record.token_hash, t) == record
    assert store.get_session(record.token_hash, t + HOUR - 0.001) == record
    assert store.get_session(record.token_hash, t + HOUR) is None  # expired at expires_at
    assert store.get_session(record.token_hash, t + 2 * HOUR) is None
    assert store.get_session(digest("unknown"), t) is None
    store.delete_session(record.token_hash)
    assert store.get_session(record.token_hash, t) is None
    store.delete_session(record.token_hash)  # unknown: nothing happens


def test_session_replace(store: Store) -> None:
    t = now_s()
    store.put_session(session("t1", created_at=t, expires_at=t + 60))
    longer = session("t1", created_at=t, expires_at=t + HOUR)
    store.put_session(longer)
    assert store.get_session(longer.token_hash, t + 120) == longer


def test_session_expired_in_the_past_is_not_returned(store: Store) -> None:
    t = now_s()
    old = session("old", created_at=t - HOUR, expires_at=t - 10)
    store.put_session(old)
    assert store.get_session(old.token_hash, t) is None
    assert store.get_session(old.token_hash, t - 5) is None


# -- API keys --------------------------------------------------------------------------


def test_api_key_round_trip_and_conflicts(store: Store) -> None:
    record = api_key("ak1")
    assert store.get_api_key(record.key_hash) is None
    store.put_api_key(record)
    assert store.get_api_key(record.key_hash) == record
    with pytest.raises(Conflict):
        store.put_api_key(api_key("ak1", key_hash=digest("another secret")))
    assert store.get_api_key(digest("another secret")) is None
    with pytest.raises(Conflict):
        store.put_api_key(api_key("ak2", key_hash=record.key_hash))
    assert store.get_api_key(record.key_hash) == record
    assert store.list_api_keys() == [record]


def test_api_key_revoke_is_idempotent(store: Store) -> None:
    record = api_key("ak1")
    store.put_api_key(record)
    store.revoke_api_key("ak1", 500)
    revoked = dataclasses.replace(record, revoked_at=500)
    assert store.get_api_key(record.key_hash) == revoked
    store.revoke_api_key("ak1", 900)  # already revoked: the first time stays
    assert store.get_api_key(record.key_hash) == revoked
    assert store.list_api_keys() == [revoked]
    with pytest.raises(NotFound):
        store.revoke_api_key("nope", 500)


def test_api_key_put_revoked_and_venue_kind(store: Store) -> None:
    record = api_key("ak1", kind="venue", principal="v1", revoked_at=42)
    store.put_api_key(record)
    assert store.get_api_key(record.key_hash) == record
    with pytest.raises(InvalidArgument):
        store.put_api_key(api_key("ak2", kind="root"))
    assert store.list_api_keys() == [record]


def test_list_api_keys_order_and_principal(store: Store) -> None:
    keys = [
        api_key("b", created_at=200),
        api_key("c", created_at=100, principal="v1", kind="venue"),
        api_key("a", created_at=200),
        api_key("d", created_at=50),
    ]
    for record in keys:
        store.put_api_key(record)
    assert [k.key_id for k in store.list_api_keys()] == ["d", "c", "a", "b"]
    assert [k.key_id for k in store.list_api_keys(ISSUER)] == ["d", "a", "b"]
    assert [k.key_id for k in store.list_api_keys("v1")] == ["c"]
    assert store.list_api_keys("nobody") == []


# -- venues ----------------------------------------------------------------------------


def test_venue_round_trip_replace_and_order(store: Store) -> None:
    assert store.get_venue("v1") is None
    assert store.list_venues() == []
    store.put_venue(venue("v2"))
    store.put_venue(venue("v1"))
    assert store.get_venue("v1") == venue("v1")
    store.put_venue(venue("v1", name_en="Grand Hotel"))
    assert store.get_venue("v1") == venue("v1", name_en="Grand Hotel")
    assert [v.venue_id for v in store.list_venues()] == ["v1", "v2"]


# -- activity --------------------------------------------------------------------------


def test_activity_newest_first_ties_and_limit(store: Store) -> None:
    assert store.list_activity(CITIZEN) == []
    events = [
        activity("e1", 100),
        activity("e3", 300, valid=False),
        activity("e2a", 200),
        activity("e2b", 200),
        activity("x", 999, cid=OTHER),
    ]
    for event in events:
        store.add_activity(event)
    got = store.list_activity(CITIZEN)
    assert [e.event_id for e in got] == ["e3", "e2b", "e2a", "e1"]
    assert got[0] == activity("e3", 300, valid=False)
    assert got[-1] == activity("e1", 100)
    assert [e.event_id for e in store.list_activity(CITIZEN, limit=2)] == ["e3", "e2b"]
    assert [e.event_id for e in store.list_activity(CITIZEN, limit=3)] == ["e3", "e2b", "e2a"]
    assert store.list_activity(CITIZEN, limit=0) == []
    assert store.list_activity(OTHER) == [activity("x", 999, cid=OTHER)]
    with pytest.raises(InvalidArgument):
        store.list_activity(CITIZEN, limit=-1)


def test_activity_same_event_id_is_replaced(store: Store) -> None:
    store.add_activity(activity("e1", 100))
    store.add_activity(activity("e1", 150, valid=False))
    assert store.list_activity(CITIZEN) == [activity("e1", 150, valid=False)]


def test_activity_default_limit_and_cap(store: Store) -> None:
    for n in range(1005):
        store.add_activity(activity(f"e{n:04d}", 1000 + n))
    assert len(store.list_activity(CITIZEN)) == 100
    kept = store.list_activity(CITIZEN, limit=5000)
    assert len(kept) == 1000  # the newest 1000 are kept
    assert kept[0].event_id == "e1004"
    assert kept[-1].event_id == "e0005"
    store.add_activity(activity("ancient", 1))  # older than all kept: dropped at once
    assert [e.event_id for e in store.list_activity(CITIZEN, limit=5000)] == [
        e.event_id for e in kept
    ]


# -- hit: fixed-window counters ----------------------------------------------------------


def next_window(window: int) -> int:
    """The start of the window after the current one: far enough from its real end."""
    return (now_s() // window + 1) * window


def test_hit_counts_per_window_and_counter(store: Store) -> None:
    start = next_window(HOUR)
    assert [store.hit("login:ip", HOUR, start + 1) for _ in range(3)] == [1, 2, 3]
    assert store.hit("login:ip", HOUR, start + HOUR - 0.5) == 4  # same window
    assert store.hit("login:ip", HOUR, start + HOUR) == 1  # the next window
    assert store.hit("login:ip", HOUR, start + HOUR + 10) == 2
    assert store.hit("login:other", HOUR, start + 1) == 1
    assert store.hit("login:ip", 2 * HOUR, start + 1) == 1  # a different window size


def test_hit_rejects_bad_windows(store: Store) -> None:
    for bad in (0, -60):
        with pytest.raises(InvalidArgument):
            store.hit("c", bad, time.time())
    with pytest.raises(InvalidArgument):
        store.hit("c", 60, float("nan"))


def test_hit_exact_under_concurrency(store: Store) -> None:
    start = next_window(HOUR)
    threads, per = 8, 25
    results = run_threads(
        threads, lambda t: [store.hit("api:v1", HOUR, start + 5) for _ in range(per)]
    )
    counts = sorted(c for chunk in results for c in chunk)
    assert counts == list(range(1, threads * per + 1))
    assert store.hit("api:v1", HOUR, start + 5) == threads * per + 1


# -- sliding windows ---------------------------------------------------------------------

TEN_IN_15_MIN = (Limit(10, 900),)


def test_window_add_until_full_then_waits_exactly(store: Store) -> None:
    t = float(now_s())
    for n in range(10):
        assert store.window_add("acct", f"e{n}", t + n, TEN_IN_15_MIN) == 0.0
    # Full: the oldest (at t) leaves at t + 900; asked at t + 20, that is 880 s away.
    assert store.window_add("acct", "e10", t + 20, TEN_IN_15_MIN) == pytest.approx(880.0)
    assert store.window_wait("acct", t + 20, TEN_IN_15_MIN) == pytest.approx(880.0)
    assert store.window_wait("acct", t + 899.5, TEN_IN_15_MIN) == pytest.approx(0.5)
    # The refused entry was not recorded: at t + 900 exactly one slot is free.
    assert store.window_add("acct", "e11", t + 900, TEN_IN_15_MIN) == 0.0
    assert store.window_add("acct", "e12", t + 900, TEN_IN_15_MIN) == pytest.approx(1.0)
    assert store.window_wait("other", t, TEN_IN_15_MIN) == 0.0  # counters are separate


def test_window_slides_across_epoch_aligned_boundaries(store: Store) -> None:
    """A fixed window lets 2 x count through around a boundary; a sliding one does not."""
    boundary = float(next_window(900))
    for n in range(10):
        assert store.window_add("acct", f"a{n}", boundary - 5 + n * 0.1, TEN_IN_15_MIN) == 0.0
    for n in range(10):  # just after the boundary: a fixed window would start again
        assert store.window_add("acct", f"b{n}", boundary + 5 + n, TEN_IN_15_MIN) > 800
    assert store.window_add("acct", "late", boundary + 895, TEN_IN_15_MIN) == 0.0


def test_window_several_limits_wait_for_the_longest(store: Store) -> None:
    t = float(now_s())
    limits = (Limit(3, 60), Limit(5, 3600))
    for n in range(3):
        assert store.window_add("acct", f"x{n}", t + n, limits) == 0.0
    assert store.window_add("acct", "x3", t + 10, limits) == pytest.approx(50.0)
    assert store.window_add("acct", "x3", t + 61, limits) == 0.0
    assert store.window_add("acct", "x4", t + 62, limits) == 0.0
    # Five in the hour now (t, t+1, t+2, t+61, t+62): the first leaves the hour at t + 3600.
    assert store.window_wait("acct", t + 200, limits) == pytest.approx(3400.0)


def test_window_force_discard_and_clear(store: Store) -> None:
    t = float(now_s())
    one = (Limit(1, 60),)
    assert store.window_add("addr", "a", t, one) == 0.0
    assert store.window_add("addr", "b", t + 1, one, force=True) == pytest.approx(59.0)
    store.window_discard("addr", "a")
    assert store.window_wait("addr", t + 2, one) == pytest.approx(59.0)  # "b" is still there
    store.window_discard("addr", "b")
    store.window_discard("addr", "b")  # idempotent
    assert store.window_wait("addr", t + 2, one) == 0.0
    store.window_add("addr", "c", t + 3, one)
    store.window_clear("addr")
    store.window_clear("addr")
    assert store.window_add("addr", "d", t + 4, one) == 0.0


def test_window_keeps_only_what_the_limits_need(store: Store) -> None:
    t = float(now_s())
    limits = (Limit(3, 60), Limit(5, 600))
    for n in range(50):
        store.window_add("addr", f"f{n}", t + n * 0.01, limits, force=True)
    store.window_add("addr", "old", t - 700, limits, force=True)  # older than any window
    # Five at most are kept; the decision is the same as with all fifty.
    assert store.window_wait("addr", t + 1, limits) == pytest.approx(599.0 + 0.45)
    if isinstance(store, SQLiteStore):
        assert _count(store, "window_entries") == 5
    else:
        assert isinstance(store, RedisStore)
        (key,) = redis_keys(store, "*win*")
        assert store.client.zcard(key) == 5


def test_window_rejects_bad_arguments(store: Store) -> None:
    t = time.time()
    bad_limits: list[tuple[Limit, ...]] = [
        (),
        (Limit(0, 60),),
        (Limit(3, 0),),
        (Limit(3, 32 * 24 * 3600),),
        (Limit(10_001, 60),),
        (Limit(True, 60),),
        tuple(Limit(1, 60) for _ in range(5)),
    ]
    for limits in bad_limits:
        with pytest.raises(InvalidArgument):
            store.window_add("c", "e", t, limits)
        with pytest.raises(InvalidArgument):
            store.window_wait("c", t, limits)
    for counter, entry in (("", "e"), ("c", ""), ("c" * 201, "e"), ("c", "e" * 201)):
        with pytest.raises(InvalidArgument):
            store.window_add(counter, entry, t, TEN_IN_15_MIN)
    with pytest.raises(InvalidArgument):
        store.window_add("c", "e", float("nan"), TEN_IN_15_MIN)
    with pytest.raises(InvalidArgument):
        store.window_wait("c", float("inf"), TEN_IN_15_MIN)


def test_window_add_is_exact_under_concurrency(store: Store) -> None:
    t = float(now_s())
    limits = (Limit(50, 600),)
    threads, per = 8, 25
    results = run_threads(
        threads,
        lambda n: [store.window_add("acct", f"{n}-{i}", t, limits) == 0.0 for i in range(per)],
    )
    assert sum(ok for chunk in results for ok in chunk) == 50
    assert store.window_wait("acct", t, limits) == pytest.approx(600.0)


@pytest.mark.redis
def test_redis_window_log_carries_a_ttl(redis_store: RedisStore) -> None:
    t = float(now_s())
    redis_store.window_add("login:acct:x", "e", t, (Limit(3, 60), Limit(5, 900)))
    (key,) = redis_store.client.keys("*")
    assert as_bytes(key).decode() == f"ecert:{{win:{digest('login:acct:x')[:16]}}}:login:acct:x"
    assert 0 < redis_store.client.pttl(key) <= 900_000


# -- nonces ----------------------------------------------------------------------------


def test_remember_nonce_once_until_expiry(store: Store) -> None:
    t = time.time()
    assert store.remember_nonce("n1", t + 60, t) is True
    assert store.remember_nonce("n1", t + 60, t + 1) is False
    assert store.remember_nonce("n1", t + 120, t + 59.999) is False
    assert store.remember_nonce("n2", t + 60, t) is True
    # At its expiry the nonce is forgotten (the caller's clock decides).
    assert store.remember_nonce("n1", t + 180, t + 60) is True
    assert store.remember_nonce("n1", t + 180, t + 61) is False


def test_remember_nonce_already_expired_is_not_kept(store: Store) -> None:
    t = time.time()
    assert store.remember_nonce("late", t - 1, t) is True
    assert store.remember_nonce("late", t + 60, t) is True
    assert store.remember_nonce("late", t - 1, t) is False  # a live one is a replay
    with pytest.raises(InvalidArgument):
        store.remember_nonce("x", float("inf"), t)


def test_remember_nonce_exactly_once_under_concurrency(store: Store) -> None:
    t = time.time()
    nonces = [f"nonce-{i}" for i in range(20)]
    results = run_threads(8, lambda _t: [store.remember_nonce(n, t + 60, t) for n in nonces])
    for column in zip(*results, strict=True):
        assert list(column).count(True) == 1


# -- once-values -----------------------------------------------------------------------


def test_put_once_get_once(store: Store) -> None:
    t = time.time()
    assert store.once(SPACE).get("k", t) is None
    assert store.once(SPACE).put("k", b"first", t + 60, t) is True
    assert store.once(SPACE).put("k", b"second", t + 60, t) is False
    assert store.once(SPACE).get("k", t) == b"first"
    assert store.once(SPACE).put("k", b"third", t + 90, t, replace=True) is True
    assert store.once(SPACE).get("k", t + 60) == b"third"
    assert store.once(SPACE).get("k", t + 90) is None  # expired at expires_at
    assert store.once(SPACE).get("k", t + 100) is None
    # Past its expiry the key is free again (the caller's clock decides).
    assert store.once(SPACE).put("k", b"fourth", t + 200, t + 100) is True
    assert store.once(SPACE).get("k", t + 100) == b"fourth"
    assert store.once(SPACE).get("other", t) is None


def test_put_once_binary_and_empty_values(store: Store) -> None:
    t = time.time()
    assert store.once(SPACE).put("bin", bytes(range(256)), t + 60, t) is True
    assert store.once(SPACE).get("bin", t) == bytes(range(256))
    assert store.once(SPACE).put("empty", b"", t + 60, t) is True
    assert store.once(SPACE).get("empty", t) == b""
    assert store.once(SPACE).put("empty", b"x", t + 60, t) is False


def test_put_once_already_expired_leaves_nothing(store: Store) -> None:
    t = time.time()
    assert store.once(SPACE).put("k", b"v", t - 1, t) is True
    assert store.once(SPACE).get("k", t - 2) is None
    assert store.once(SPACE).put("k", b"live", t + 60, t) is True
    assert store.once(SPACE).put("k", b"gone", t - 1, t) is False
    assert store.once(SPACE).put("k", b"gone", t - 1, t, replace=True) is True
    assert store.once(SPACE).get("k", t) is None


def test_put_once_exactly_once_under_concurrency(store: Store) -> None:
    t = time.time()
    once = store.once(SPACE)
    results = run_threads(8, lambda i: once.put("auth-code", f"w{i}".encode(), t + 60, t))
    assert results.count(True) == 1
    assert store.once(SPACE).get("auth-code", t) == f"w{results.index(True)}".encode()


# -- what reaches the disk or the server ---------------------------------------------------


def redis_keys(store: RedisStore, pattern: str) -> list[bytes]:
    """Every key matching ``pattern``: on a Redis Cluster, KEYS asks every master."""
    client = store.client
    if isinstance(client, RedisCluster):
        return all_bytes(client.keys(pattern, target_nodes=RedisCluster.PRIMARIES))
    return all_bytes(client.keys(pattern))


def raw_dump(store: Store) -> bytes:
    """Every byte the backend holds: the SQLite files, or every Redis key's values."""
    if isinstance(store, SQLiteStore):
        files = b""
        for suffix in ("", "-wal"):
            path = Path(store.path + suffix)
            if path.exists():
                files += path.read_bytes()
        return files
    assert isinstance(store, RedisStore)
    client = store.client
    out: list[bytes] = []
    for name in all_bytes(client.scan_iter("*")):
        out.append(name)
        kind = client.type(name)
        if kind == b"string":
            out.append(as_bytes(client.get(name)))
        elif kind == b"hash":
            out.extend(all_bytes(b for pair in client.hgetall(name).items() for b in pair))
        elif kind == b"zset":
            out.extend(all_bytes(client.zrange(name, 0, -1)))
        elif kind == b"set":
            out.extend(all_bytes(client.smembers(name)))
        elif kind == b"list":
            out.extend(all_bytes(client.lrange(name, 0, -1)))
        else:
            raise AssertionError(f"unexpected type {kind!r} of {name!r}")
    return b"\n".join(out)


def test_store_keeps_blobs_as_given_and_no_plaintext(store: Store) -> None:
    plaintext = b"eyJhbGciOiJFUzI1NiJ9.SECRET-DISCLOSURE-Zhang-San-110101199001011237~"
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    nonce = os.urandom(12)
    sealed = nonce + aead.encrypt(nonce, plaintext, b"ad")
    holder = b"\x99" + aead.encrypt(nonce, b"HOLDER-PRIVATE-KEY-PLAINTEXT", None)
    record = WalletRecord(
        citizen_id="c-dump", holder_kid="h", holder_blob=holder, key_blob=sealed, created_at=1
    )
    assert store.create_wallet(record)
    store.put_wallet_item(item("c1", cid="c-dump", blob=sealed))
    t = time.time()
    assert store.once(SPACE).put("blob", sealed, t + 60, t)
    assert store.get_wallet(record.citizen_id) == record
    stored = store.get_wallet_item("c-dump", "c1")
    assert stored is not None
    assert stored.blob == sealed
    assert store.once(SPACE).get("blob", t) == sealed
    dump = raw_dump(store)
    assert b"SECRET-DISCLOSURE" not in dump
    assert b"Zhang-San" not in dump
    assert b"HOLDER-PRIVATE-KEY" not in dump
    assert sealed in dump  # the once-value is kept byte for byte


# -- errors ----------------------------------------------------------------------------


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
    t = time.time()
    try:
        calls: list[Callable[[], object]] = [
            lambda: store.find_credential(URI, 1),
            lambda: store.put_citizen(citizen()),
            lambda: store.list_citizens(),
            lambda: store.create_wallet(wallet()),
            lambda: store.list_wallet_items(CITIZEN),
            lambda: store.get_session("x", t),
            lambda: store.put_api_key(api_key()),
            lambda: store.get_api_key("x"),
            lambda: store.list_venues(),
            lambda: store.add_activity(activity("e", 1)),
            lambda: store.list_activity(CITIZEN),
            lambda: store.hit("c", 60, t),
            lambda: store.window_add("c", "e", t, (Limit(1, 60),)),
            lambda: store.window_wait("c", t, (Limit(1, 60),)),
            lambda: store.window_clear("c"),
            lambda: store.remember_nonce("n", t + 60, t),
            lambda: store.once(SPACE).put("k", b"v", t + 60, t),
            lambda: store.once(SPACE).get("k", t),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable) as info:
                call()
            assert isinstance(info.value.__cause__, redis.ConnectionError | redis.TimeoutError)
    finally:
        store.close()


def test_sqlite_locked_raises_store_unavailable(tmp_path: Path) -> None:
    path = str(tmp_path / "locked.db")
    store = SQLiteStore(path, busy_timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    t = time.time()
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        calls: list[Callable[[], object]] = [
            lambda: store.remember_nonce("n", t + 60, t),
            lambda: store.hit("c", 60, t),
            lambda: store.create_wallet(wallet()),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable):
                call()
        blocker.execute("ROLLBACK")
        assert store.remember_nonce("n", t + 60, t) is True  # nothing was half-written
        assert store.hit("c", 60, t) == 1
    finally:
        blocker.close()
        store.close()


# -- SQLite specifics ------------------------------------------------------------------


def test_sqlite_upgrades_a_version_1_file(tmp_path: Path) -> None:
    path = str(tmp_path / "v1.db")
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in _MIGRATIONS[0].split(";"):
            if statement.strip():
                raw.execute(statement)
        raw.execute("PRAGMA user_version = 1")
        raw.execute(
            "INSERT INTO credentials VALUES"
            " ('old', 'urn:ecert:id-card', ?, ?, 'k1', ?, 7, 1000, 87400, 'valid')",
            (ISSUER, CITIZEN, URI),
        )
    finally:
        raw.close()
    with SQLiteStore(path) as store:
        assert store.find_credential(URI, 7) == credential("old", idx=7)
        store.put_citizen(citizen())
        assert store.create_wallet(wallet())
        assert store.hit("c", 60, 1000.0) == 1
        assert store.window_add("c", "e", 1000.0, (Limit(1, 60),)) == 0.0  # schema 3
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
        plan = raw.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM credentials WHERE status_uri = ? AND status_idx = ?",
            (URI, 7),
        ).fetchall()
    raw.close()
    assert "credentials_by_status" in str(plan)


def _count(store: SQLiteStore, table: str) -> int:
    with sqlite3.connect(store.path) as raw:
        (count,) = raw.execute(f"SELECT count(*) FROM {table}").fetchone()
    raw.close()
    return int(count)


def test_sqlite_purges_expired_short_lived_rows(sqlite_store: SQLiteStore) -> None:
    s = sqlite_store
    s.put_session(session("a", created_at=0, expires_at=100))
    s.put_session(session("b", created_at=0, expires_at=1000))
    s.put_session(session("c", created_at=200, expires_at=900))  # purges "a"
    assert _count(s, "sessions") == 2
    s.remember_nonce("n1", 100.0, 0.0)
    s.remember_nonce("n2", 1000.0, 0.0)
    s.remember_nonce("n3", 1000.0, 200.0)  # purges "n1"
    assert _count(s, "nonces") == 2
    s.once(SPACE).put("k1", b"v", 100.0, 0.0)
    s.once(SPACE).put("k2", b"v", 1000.0, 200.0)  # purges "k1"
    assert _count(s, "once_values") == 1
    s.hit("c", 60, 0.0)
    s.hit("c", 60, 61.0)  # purges the window [0, 60)
    assert _count(s, "counters") == 1


def _service_in_process(path: str, worker: int, nonces: list[str]) -> tuple[bool, list[bool]]:
    """Worker of the multi-process test: race for one wallet, some nonces and a counter."""
    with SQLiteStore(path) as store:
        won = store.create_wallet(wallet(holder_kid=f"p{worker}"))
        fresh = [store.remember_nonce(n, 2000.0, 1000.0) for n in nonces]
        for _ in range(25):
            store.hit("shared", 60, 1000.0)
        return won, fresh


@pytest.mark.slow
def test_sqlite_several_processes_share_the_short_lived_entries(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SQLiteStore(path).close()
    nonces = [f"n{i}" for i in range(30)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        futures = [pool.submit(_service_in_process, path, w, nonces) for w in range(4)]
        results = [future.result() for future in futures]
    assert [won for won, _ in results].count(True) == 1
    for column in zip(*(fresh for _, fresh in results), strict=True):
        assert list(column).count(True) == 1
    with SQLiteStore(path) as store:
        assert store.hit("shared", 60, 1000.0) == 4 * 25 + 1


# -- Redis specifics -------------------------------------------------------------------


def _names(store: RedisStore) -> list[str]:
    return sorted(k.decode() for k in all_bytes(store.client.keys("*")))


@pytest.mark.redis
def test_redis_citizen_shares_one_slot(redis_store: RedisStore) -> None:
    s = redis_store
    s.put_citizen(citizen())
    s.create_wallet(wallet())
    s.put_wallet_item(item("c1"))
    s.add_activity(activity("e1", 100))
    s.put_credential(credential("c1"))
    mine = [name for name in _names(s) if f"{{sub:{CITIZEN}}}" in name]
    assert {name.rsplit(":", 1)[1] for name in mine} == {
        "citizen",
        "password",
        "wallet",
        "items",
        "activity",
        "events",
        "creds",
    }
    assert len({key_slot(name.encode()) for name in mine}) == 1
    assert all(name.startswith("ecert:{") for name in _names(s))


@pytest.mark.redis
def test_redis_api_keys_share_one_slot(redis_store: RedisStore) -> None:
    redis_store.put_api_key(api_key("ak1"))
    redis_store.revoke_api_key("ak1", 5)
    names = [name for name in _names(redis_store) if "{apikeys}" in name]
    assert names == ["ecert:{apikeys}:hash", "ecert:{apikeys}:rec", "ecert:{apikeys}:revoked"]


@pytest.mark.redis
def test_redis_short_lived_entries_carry_a_ttl(redis_store: RedisStore) -> None:
    s = redis_store
    t = now_s()
    live = session("live", created_at=t, expires_at=t + HOUR)
    s.put_session(live)
    s.put_session(session("dead", created_at=t - HOUR, expires_at=t - 1))
    s.remember_nonce("n1", t + 60.5, t)
    s.remember_nonce("gone", t - 1, t)
    s.once(SPACE).put("k1", b"v", t + 60, t)
    window = next_window(HOUR)
    s.hit("c", HOUR, window)
    names = _names(s)
    assert names == sorted(
        [
            f"ecert:{{sess:{live.token_hash}}}:rec",
            f"ecert:{{nonce:{digest('n1')[:16]}}}:n1",
            f"ecert:{{once:{digest('idem:k1')[:16]}}}:idem:k1",
            f"ecert:{{hit:{digest('c')[:16]}}}:{HOUR}:{window}:c",
        ]
    )
    session_key = f"ecert:{{sess:{live.token_hash}}}:rec"
    assert s.client.expiretime(session_key) == t + HOUR
    nonce_key = f"ecert:{{nonce:{digest('n1')[:16]}}}:n1"
    assert s.client.pexpiretime(nonce_key) == (t + 60) * 1000 + 500
    for name in names:
        assert s.client.ttl(name) > 0


@pytest.mark.redis
def test_redis_activity_cap_drops_old_events_entirely(redis_store: RedisStore) -> None:
    s = redis_store
    for n in range(1010):
        s.add_activity(activity(f"e{n:04d}", n))
    assert s.client.zcard(f"ecert:{{sub:{CITIZEN}}}:activity") == 1000
    assert s.client.hlen(f"ecert:{{sub:{CITIZEN}}}:events") == 1000
