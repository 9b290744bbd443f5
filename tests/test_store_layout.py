"""What is at rest does not move: the SQLite schema and the Redis key layout.

``tests/store_schemas/v1.sql``, ``v2.sql`` and ``v3.sql`` are SQLite files (schema and
a few rows) dumped before the store was split per kind of record: version 3
as ``SQLiteStore`` wrote it, versions 1 and 2 from the migration steps 1..v (steps are
never edited) with rows inserted raw. ``v4.sql`` is version 3 plus step 4
(devices and their credential copies) with rows inserted raw, ``v5.sql`` version 4 plus
step 5 (jobs, their steps, marks and notices) with rows inserted raw, and ``v6.sql``
version 5 plus step 6 (the keys' rotation times, the registry's index by kid)
with two more keys inserted raw; ``v7.sql`` is version 6 plus step 7 (the
uses of citizens' data: consents, proof queries, audit, ratings, counters), ``v8.sql``
(today's) version 7 plus step 8 (links between citizens: guardians and carers). Each is loaded
as it is and opened with today's code: it migrates in place and every row reads back.
``redis_layout.json`` is every Redis key, type and value the code wrote for the same
records before the split: the code must write exactly that (another helper migrates
citizen ids in place and relies on it).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from store.errors import SchemaTooNew
from store.interface import (
    TRUST_VERSION,
    ActivityRecord,
    ApiKeyRecord,
    CitizenRecord,
    CredentialRecord,
    DeviceCopy,
    DeviceRecord,
    IssuerRecord,
    KeyRecord,
    Limit,
    SessionRecord,
    StatusListRecord,
    Store,
    VenueRecord,
    WalletItem,
    WalletRecord,
)
from store.redis import RedisStore
from store.sqlite import SCHEMA_VERSION, SQLiteStore
from tests.redis_replies import all_bytes, as_bytes

SCHEMAS = Path(__file__).resolve().parent / "store_schemas"
ISS = "https://police.example.gov.cn"
URI = "https://police.example.gov.cn/status/1"
CIT = "110101199003070011"
FAR = 4102444800

KEY = KeyRecord("k1", ISS, "ES256", "active", '{"kty":"EC","kid":"k1"}', b"\x00\xff\x10", 1000)
ISSUER = IssuerRecord(ISS, "police", "公安局", "Police", ("urn:ecert:id-card",))
STATUS_LIST = StatusListRecord(URI, ISS, 2, 64, 1000)
CREDENTIAL = CredentialRecord(
    "c1", "urn:ecert:id-card", ISS, CIT, "k1", URI, 1, 1000, 87400, "revoked"
)
WALLET = WalletRecord(CIT, "hk1", b"\x01\x02", b"\x03\x04", 1000)
ITEM = WalletItem(CIT, "c1", "urn:ecert:id-card", ISS, 87400, 1001, b"\x05\x06")
VENUE = VenueRecord("grand-hotel", "大酒店", "Grand Hotel", ("hotel",), 1000)
EVENT = ActivityRecord(
    "e1", CIT, 1002, "grand-hotel", "hotel", "urn:ecert:id-card", "c1", ("name",), True, ()
)
EVENT2 = ActivityRecord(
    "e2", CIT, 1003, "grand-hotel", "hotel", None, None, (), False, ("revoked",)
)
API_KEY = ApiKeyRecord("key1", "h1", "venue", "grand-hotel", 1000, None)
API_KEY2 = ApiKeyRecord("key2", "h2", "department", ISS, 1000, 1500)


def _load(version: int, path: Path) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.executescript((SCHEMAS / f"v{version}.sql").read_text(encoding="utf-8"))
    finally:
        raw.close()


def _schema(path: Path) -> set[tuple[str, str, str]]:
    raw = sqlite3.connect(path)
    try:
        rows = raw.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
        version = raw.execute("PRAGMA user_version").fetchone()[0]
    finally:
        raw.close()
    return {(t, n, " ".join(str(s).split())) for t, n, s in rows} | {("version", str(version), "")}


KEY0 = KeyRecord(
    "k0", ISS, "ES256", "retired", '{"kty":"EC","kid":"k0"}', b"\x03\x04", 900, 900, 1000, 87430
)
KEY2 = KeyRecord(
    "k2", ISS, "EdDSA", "pending", '{"kty":"OKP","kid":"k2"}', b"\x01\x02", 1100, FAR
)


def _check_v1_rows(s: Store) -> None:
    assert s.trust_version() == b"1"
    assert s.get_key("k1") == KEY  # its rotation times 0 (not set) after step 5
    assert s.list_issuers() == [ISSUER]
    assert s.list_status_lists() == [STATUS_LIST]
    assert s.count_claimed(URI) == 1
    assert s.get_status(URI, 1) == 1
    assert s.list_credentials(subject=CIT) == [CREDENTIAL]
    assert s.find_credential(URI, 1) == CREDENTIAL


def _check_v2_rows(s: Store) -> None:
    assert s.get_citizen(CIT) == CitizenRecord(CIT, "", 1000)
    assert s.get_wallet(CIT) == WALLET
    assert s.list_wallet_items(CIT) == [ITEM]
    assert s.get_api_key("h1") == API_KEY
    assert s.list_venues() == [VENUE]


DEVICE = DeviceRecord(
    CIT, "d1", "kid1", '{"kty":"EC","crv":"P-256","x":"x","y":"y"}', "Pixel 8", 1000, 1200
)
DEVICE2 = DeviceRecord(
    CIT, "d2", "kid2", '{"kty":"EC","crv":"P-256","x":"x2","y":"y2"}', "旧手机", 1100, 1100,
    "removed",
)
COPY = DeviceCopy(CIT, "d1", "c2", "c1", "urn:ecert:id-card", 1001, b"\x07\x08")


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5, 6, 7])
def test_a_file_of_every_schema_version_opens_migrates_and_reads(
    version: int, tmp_path: Path
) -> None:
    path = tmp_path / f"v{version}.db"
    _load(version, path)
    with SQLiteStore(str(path)) as s:
        _check_v1_rows(s)
        if version >= 2:
            _check_v2_rows(s)
        if version >= 3:
            assert s.list_activity(CIT) == [EVENT2, EVENT]
            assert s.get_session("t1", 2000.0) == SessionRecord("t1", CIT, 1000, FAR)
            assert s.list_api_keys() == [API_KEY, API_KEY2]
            assert s.last_status_stamp(URI) == 1000
            assert s.stamp_status_list(URI, 1000)[0] == 1000  # same bytes, same iat
            # "once1" is in no declared once-space: read by its raw key.
            assert s._get_once("once1", 2000.0) == b"v"
            assert s.remember_nonce("n1", FAR, 2000.0) is False  # still remembered
            assert s.window_wait("acct", FAR - 700.0, (Limit(1, 900),)) > 0
        assert s.list_keys() == ([KEY0, KEY, KEY2] if version >= 6 else [KEY])
        if version >= 4:
            assert s.list_devices(CIT) == [DEVICE, DEVICE2]
            assert s.list_device_copies(CIT) == [COPY]
            assert s.add_device(replace(DEVICE, device_id="d3"), 5) == "duplicate"
        if version >= 5:
            job = s.get_job("j1")
            assert job is not None and (job.state, job.done, job.lease_holder) == (
                "running",
                1,
                "w1",
            )
            assert [(st.n, st.state) for st in s.job_steps("j1")] == [(0, "done"), (1, "pending")]
            assert s.get_mark("rows:police", "k1") == "c1"
            assert [n.notice_id for n in s.list_notices(CIT)] == ["n1"]
        # Every kind writes into the migrated file.
        s.put_citizen(CitizenRecord("11010119900307002X", "", 2000))
        assert s.create_wallet(WalletRecord("11010119900307002X", "hk2", b"k", b"d", 2000))
        s.add_activity(EVENT)
        assert s.hit("c", 60, 1000.0) >= 1
        assert s.window_add("w", "e", 1000.0, (Limit(1, 60),)) == 0.0
        assert s.add_device(replace(DEVICE, device_id="d9", kid="kid9"), 5) == "added"
        assert s.put_mark("rows:police", "k9", "c9")
        assert s.update_key("k1", expect="active", state="retired", retired_at=2000)
        assert s.get_key("k1") == replace(KEY, state="retired", retired_at=2000)
        assert s.list_credentials(issuer=ISS, kid="k1") == [CREDENTIAL]
    fresh = tmp_path / "fresh.db"
    SQLiteStore(str(fresh)).close()
    assert _schema(path) == _schema(fresh)


def test_the_schema_is_the_one_captured_before_the_split(tmp_path: Path) -> None:
    """A new file gets exactly the tables, columns and indexes of the schema captured
    (3 before the split, then 4 with devices, 5 with jobs and notices, 6 with the keys'
    rotation times)."""
    captured = tmp_path / "captured.db"
    _load(SCHEMA_VERSION, captured)
    fresh = tmp_path / "fresh.db"
    SQLiteStore(str(fresh)).close()
    assert SCHEMA_VERSION == 8
    assert _schema(fresh) == _schema(captured)


def test_a_file_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    _load(6, path)
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(SchemaTooNew):
        SQLiteStore(str(path))


# -- Redis ------------------------------------------------------------------------------


def _write_all(s: RedisStore) -> None:
    """The records ``redis_layout.json`` was captured with, in the same order (the
    trust version and the once-value "once1", in no declared space, by their raw names)."""
    s._config_put(TRUST_VERSION, b"1")
    s.put_key(KEY)
    s.put_issuer(ISSUER)
    s.create_status_list(STATUS_LIST)
    assert s.claim_status_index(URI, 1)
    s.set_status(URI, 1, 1)
    s.put_credential(CREDENTIAL)
    s.stamp_status_list(URI, 1000)
    s.put_citizen(CitizenRecord(CIT, "$argon2id$x", 1000))
    s.create_wallet(WALLET)
    s.put_wallet_item(ITEM)
    s.put_session(SessionRecord("t1", CIT, 1000, FAR))
    s.put_api_key(API_KEY)
    s.put_api_key(API_KEY2)
    s.put_venue(VENUE)
    s.add_activity(EVENT)
    s.add_activity(EVENT2)
    assert s.remember_nonce("n1", FAR + 0.5, 1000.0)
    assert s._put_once("once1", b"v", float(FAR), 1000.0)
    s.hit("login:1", 60, FAR - 800.0)
    s.window_add("acct", "e", FAR - 800.0, (Limit(10, 900),))


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "b64:" + base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _dump(store: RedisStore) -> dict[str, Any]:
    r: Any = store.client  # redis-py types replies as bytes | str; this client gives bytes
    out: dict[str, Any] = {}
    for key in sorted(all_bytes(r.keys("*"))):
        kind = as_bytes(r.type(key)).decode()
        value: Any
        if kind == "string":
            value = r.get(key)
        elif kind == "hash":
            value = dict(sorted(r.hgetall(key).items()))
        elif kind == "zset":
            value = r.zrange(key, 0, -1, withscores=True)
        else:
            assert kind == "set"
            value = sorted(r.smembers(key))
        out[key.decode()] = {"type": kind, "value": _plain(value)}
    return out


def test_redis_writes_the_key_layout_and_bytes_captured_before_the_split(
    redis_store: RedisStore,
) -> None:
    _write_all(redis_store)
    expected = json.loads((SCHEMAS / "redis_layout.json").read_text(encoding="utf-8"))
    assert _dump(redis_store) == expected


def test_redis_reads_what_the_captured_layout_holds(redis_store: RedisStore) -> None:
    """The captured keys written raw (not by the store) read back as the records."""
    expected = json.loads((SCHEMAS / "redis_layout.json").read_text(encoding="utf-8"))
    r = redis_store.client

    def raw(text: str) -> bytes:
        return base64.b64decode(text[4:]) if text.startswith("b64:") else text.encode()

    for key, entry in expected.items():
        value = entry["value"]
        if entry["type"] == "string":
            r.set(key, raw(value))
        elif entry["type"] == "hash":
            r.hset(key, mapping={raw(k): raw(v) for k, v in value.items()})
        elif entry["type"] == "zset":
            r.zadd(key, {raw(member): score for member, score in value})
        else:
            r.sadd(key, *(raw(member) for member in value))
    s = redis_store
    _check_v1_rows(s)
    assert s.get_citizen(CIT) == CitizenRecord(CIT, "$argon2id$x", 1000)
    assert s.get_wallet(CIT) == WALLET
    assert s.list_wallet_items(CIT) == [ITEM]
    assert s.list_api_keys() == [API_KEY, API_KEY2]
    assert s.list_venues() == [VENUE]
    assert s.list_activity(CIT) == [EVENT2, EVENT]
    assert s.last_status_stamp(URI) == 1000
    assert s._get_once("once1", 2000.0) == b"v"


#: Commands the server ran for one operation (Lua's inner calls included), measured on
#: the code before the split: the split adds none.
COMMANDS = {
    "put_credential": 8,
    "add_activity": 4,
    "get_status": 3,
    "get_credential": 4,
    "get_venue": 1,
    "get_api_key": 4,
    "remember_nonce": 3,
    "find_credential": 5,
}


def test_redis_commands_per_operation_do_not_grow(redis_store: RedisStore) -> None:
    s = redis_store
    _write_all(s)
    r = s.client

    def processed() -> int:
        return int(r.info("stats")["total_commands_processed"])

    ops: dict[str, Callable[[int], object]] = {
        "put_credential": lambda i: s.put_credential(
            CredentialRecord(f"x{i}", "urn:ecert:id-card", ISS, CIT, "k1", URI, 2 + i, 1000, 9)
        ),
        "add_activity": lambda i: s.add_activity(
            ActivityRecord(
                f"ev{i}", CIT, 1010 + i, "grand-hotel", "hotel", None, None, (), True, ()
            )
        ),
        "get_status": lambda i: s.get_status(URI, 1),
        "get_credential": lambda i: s.get_credential("c1"),
        "get_venue": lambda i: s.get_venue("grand-hotel"),
        "get_api_key": lambda i: s.get_api_key("h1"),
        "remember_nonce": lambda i: s.remember_nonce(f"nn{i}", FAR, 1000.0),
        "find_credential": lambda i: s.find_credential(URI, 1),
    }
    counted: dict[str, int] = {}
    for name, op in ops.items():
        op(0)  # loads the operation's script, if any
        before = processed()
        op(1)
        counted[name] = processed() - before - 1  # less the INFO itself
    assert counted == COMMANDS
