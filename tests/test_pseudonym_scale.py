"""The pseudonym migration at the scale of a city: streaming, batched, bounded, resumable.

The legacy instances here are built with raw SQL ``INSERT``s and raw Redis commands
(the layouts the code before pseudonyms wrote), not with the project's store, so that
nothing of the new code shapes the data the migration meets. Ids are shaped like
resident ID numbers (the log-hygiene check looks for that shape in every log line, so
the progress lines are checked to hold none). Searches of the dumps are of raw bytes.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from keys.pseudonym import Pseudonyms, is_pseudonym, is_sealed_id
from store.pseudonymize import MARKER, pseudonymize
from store.redis import RedisStore
from store.sqlite import SQLiteStore
from tests.conftest import flush_cluster

CITY = 100_000
#: Python memory the migration of :data:`CITY` citizens may use at its peak. Collecting
#: every id (as the first version did) takes several times this; one batch of 1,000
#: ids and their pseudonyms takes well under a megabyte.
PEAK_BOUND = 4 * 1024 * 1024
MAC_KEY, SEAL_KEY = b"\x11" * 32, b"\x22" * 32
ISSUER = "https://police.example.gov.cn"
VCT = "urn:ecert:id-card"
RESIDENT_ID = re.compile(rb"[1-9]\d{16}[\dX]")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def pseudonyms() -> Pseudonyms:
    return Pseudonyms(MAC_KEY, SEAL_KEY)


def resident_id(n: int) -> str:
    """The ``n``-th of many distinct, well-formed resident ID numbers (GB 11643)."""
    born = datetime.date(1950, 1, 1) + datetime.timedelta(days=n // 1000)
    body = f"110105{born:%Y%m%d}{n % 1000:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]
    return body + check


# -- a legacy SQLite instance, raw ------------------------------------------------------------


def legacy_sqlite(path: Path, count: int) -> list[str]:
    """A SQLite instance of ``count`` citizens as the code before pseudonyms wrote it
    (one wallet, item, activity event and credential each; a session for every tenth);
    the citizen ids."""
    SQLiteStore(str(path)).close()  # the current schema, empty
    ids = [resident_id(n) for n in range(count)]
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO citizens VALUES (?, ?, ?)",
                ((c, "$argon2id$v=19$m=8,t=1,p=1$legacy", 1_700_000_000) for c in ids),
            )
            conn.executemany(
                "INSERT INTO wallets VALUES (?, ?, ?, ?, ?)",
                ((c, f"kid-{n}", b"H" * 64, b"K" * 48, 1_700_000_000) for n, c in enumerate(ids)),
            )
            conn.executemany(
                "INSERT INTO wallet_items VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((c, f"cred-{n}", VCT, ISSUER, 1_900_000_000, 1_700_000_001, b"B" * 200)
                 for n, c in enumerate(ids)),
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO activity VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((c, f"ev-{n}", 1_700_000_002, "grand-hotel", "hotel", VCT, f"cred-{n}",
                  '["name"]', 1, "[]") for n, c in enumerate(ids)),
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((f"cred-{n}", VCT, ISSUER, c, "kid-issuer", "https://s.example/1", n,
                  1_700_000_001, 1_900_000_000, "valid") for n, c in enumerate(ids)),
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO sessions VALUES (?, ?, ?, ?)",
                ((f"tok-{n:08d}", c, 1_700_000_000, 4_000_000_000)
                 for n, c in enumerate(ids) if n % 10 == 0),
            )  # fmt: skip
    finally:
        conn.close()
    return ids


def sqlite_dump(path: Path) -> bytes:
    parts = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def clear_ids_in(data: bytes, ids: set[str]) -> int:
    """How many of ``ids`` appear in ``data`` in clear (ASCII digits)."""
    return len({m.decode() for m in RESIDENT_ID.findall(data)} & ids)


TABLES = {
    "citizens": "citizen_id",
    "wallets": "citizen_id",
    "wallet_items": "citizen_id",
    "activity": "citizen_id",
    "credentials": "subject",
}


def check_moved(path: Path, ids: list[str]) -> None:
    """Every row is still there, under the right pseudonym, and no clear id is left."""
    names = pseudonyms()
    conn = sqlite3.connect(path)
    try:
        for table, column in TABLES.items():
            values = [str(v) for (v,) in conn.execute(f"SELECT {column} FROM {table}")]
            assert len(values) == len(ids), table
            assert all(is_pseudonym(v) for v in values), f"a clear id left in {table}"
        # Each citizen's records moved to *its* pseudonym (sampled across the batches).
        for n in range(0, len(ids), 997):
            alias = names.of(ids[n])
            item = conn.execute(
                "SELECT credential_id FROM wallet_items WHERE citizen_id = ?", (alias,)
            ).fetchone()
            subject = conn.execute(
                "SELECT subject FROM credentials WHERE id = ?", (f"cred-{n}",)
            ).fetchone()
            assert item == (f"cred-{n}",) and subject == (alias,)
        sessions = conn.execute("SELECT token_hash, citizen_id FROM sessions").fetchall()
        assert len(sessions) == len(range(0, len(ids), 10))
        for token, sealed in sessions:
            assert is_sealed_id(sealed)
            assert names.open(sealed, token) == ids[int(token[4:])]
    finally:
        conn.close()


class Crash(Exception):
    """Injected half-way."""


@pytest.mark.slow
def test_a_city_sized_sqlite_instance_migrates_in_bounded_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ecert.db"
    ids = legacy_sqlite(path, CITY)
    clear = set(ids)
    assert clear_ids_in(sqlite_dump(path), clear) == CITY  # the search finds them
    store = SQLiteStore(str(path))
    names = pseudonyms()
    try:
        caplog.set_level(logging.INFO, logger="ecert.store.pseudonymize")
        tracemalloc.start()
        try:
            moved = pseudonymize(store, names.of, names.seal)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert moved == CITY
        assert peak < PEAK_BOUND, f"the migration peaked at {peak} bytes of Python memory"
        assert store.get_config(MARKER) is not None
        # Through the store: a citizen is found by pseudonym, the clear id finds nothing.
        assert store.get_citizen(names.of(ids[12345])) is not None
        assert store.get_citizen(ids[12345]) is None
    finally:
        store.close()
    check_moved(path, ids)
    data = sqlite_dump(path)
    assert clear_ids_in(data, clear) == 0
    assert names.of(ids[-1]).encode() in data
    # Progress was logged, as counts: never an id, a pseudonym or a token.
    lines = [r.getMessage() for r in caplog.records if r.name == "ecert.store.pseudonymize"]
    assert lines and f"{CITY} citizens moved" in lines[-1]
    assert any("in progress" in line for line in lines)
    for line in lines:
        assert not RESIDENT_ID.search(line.encode()) and "ps_" not in line and "tok-" not in line


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from keys.pseudonym import Pseudonyms
    from store.pseudonymize import pseudonymize
    from store.sqlite import SQLiteStore

    path, at, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    seen = []

    def hook(name):
        if name == when:
            seen.append(name)
            if len(seen) == at:
                os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no rollback by us

    names = Pseudonyms(b"\\x11" * 32, b"\\x22" * 32)
    pseudonymize(SQLiteStore(path), names.of, names.seal, hook=hook)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("when", ["sqlite:staged", "sqlite:batch"])
def test_a_migration_killed_at_a_batch_resumes(tmp_path: Path, when: str) -> None:
    """SIGKILL inside a batch's open transaction, or just after a commit: the next open
    finishes the move, and no row is lost or left in clear."""
    path = tmp_path / "ecert.db"
    ids = legacy_sqlite(path, 20_000)
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(path), "7", when],
        capture_output=True,
        check=False,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    conn = sqlite3.connect(path)
    try:
        left = conn.execute(
            "SELECT count(*) FROM citizens WHERE citizen_id NOT LIKE 'ps\\_%' ESCAPE '\\'"
        ).fetchone()[0]
    finally:
        conn.close()
    done = 6 if when == "sqlite:staged" else 7  # the killed batch's transaction is lost
    assert left == len(ids) - done * 1000
    store = SQLiteStore(str(path))
    names = pseudonyms()
    try:
        assert store.get_config(MARKER) is None
        assert pseudonymize(store, names.of, names.seal) == left
    finally:
        store.close()
    check_moved(path, ids)
    assert clear_ids_in(sqlite_dump(path), set(ids)) == 0


# -- Redis and Redis Cluster, raw --------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cluster", marks=[pytest.mark.redis, pytest.mark.cluster]),
    ]
)
def redis_store(request: pytest.FixtureRequest) -> Iterator[RedisStore]:
    cluster = request.param == "cluster"
    url: str = request.getfixturevalue("redis_cluster" if cluster else "redis_server")
    store = RedisStore.from_url(url, cluster=cluster)
    try:
        yield store
    finally:
        store.close()
        if cluster:
            flush_cluster(url)
        else:
            client = redis.Redis.from_url(url)
            try:
                client.flushdb()
            finally:
                client.close()


def k(tag: str, name: str) -> str:
    return f"ecert:{{{tag}}}:{name}"


def legacy_redis(r: Any, count: int, orphans: int) -> list[str]:
    """``count`` citizens written as the code before pseudonyms did, plus ``orphans``
    credentials whose clear subject has no citizen record or set entry; the ids."""
    from store.redis.base import tag_hash

    ids = [resident_id(n) for n in range(count + orphans)]
    pipe = r.pipeline(transaction=False)
    for n, cid in enumerate(ids):
        cred = f"cred-{n}"
        record = {"id": cred, "vct": VCT, "issuer": ISSUER, "subject": cid, "kid": "kid-i",
                  "status_uri": "https://s.example/1", "status_idx": n,
                  "issued_at": 1_700_000_000 + n, "expires_at": 1_900_000_000}  # fmt: skip
        pipe.set(k(f"cred:{cred}", "rec"), json.dumps(record))
        pipe.set(k(f"cred:{cred}", "state"), "valid")
        pipe.zadd(k(f"iss:{tag_hash(ISSUER)}", "creds"), {cred: 1_700_000_000 + n})
        if n >= count:
            continue  # an orphan: only the registry names this subject
        pipe.zadd(k(f"sub:{cid}", "creds"), {cred: 1_700_000_000 + n})
        pipe.set(k(f"sub:{cid}", "citizen"), json.dumps({"citizen_id": cid, "created_at": 1}))
        pipe.set(k(f"sub:{cid}", "password"), "$argon2id$legacy")
        pipe.set(k(f"sub:{cid}", "wallet"), json.dumps({"citizen_id": cid, "holder_kid": "h"}))
        pipe.hset(k(f"sub:{cid}", "items"), cred, json.dumps({"citizen_id": cid, "n": n}))
        pipe.zadd(k(f"sub:{cid}", "activity"), {f"ev-{n}": 1_700_000_005})
        pipe.hset(k(f"sub:{cid}", "events"), f"ev-{n}", json.dumps({"citizen_id": cid}))
        pipe.sadd(k("citizens", "ids"), cid)
        if n % 10 == 0:
            token = f"tok-{n:08d}"
            session = {"token_hash": token, "citizen_id": cid, "created_at": 1,
                       "expires_at": 4_000_000_000}  # fmt: skip
            pipe.set(k(f"sess:{token}", "rec"), json.dumps(session), ex=3600)
    pipe.sadd(k("creds", "issuers"), ISSUER)
    pipe.execute()
    return ids


def redis_dump(r: Any) -> bytes:
    """Every key and value (by type) of every master."""
    out: list[bytes] = []
    for name in r.scan_iter(count=1000):
        out.append(name)
        kind = r.type(name)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            out.append(r.get(name) or b"")
        elif kind == "hash":
            for field, value in r.hgetall(name).items():
                out += [field, value]
        elif kind in ("zset", "set"):
            out += list(r.zrange(name, 0, -1) if kind == "zset" else r.smembers(name))
    return b"\n".join(out)


@pytest.mark.slow
def test_redis_migrates_by_batches_through_a_crash(redis_store: RedisStore) -> None:
    """Several SSCAN/ZSCAN batches, a crash between copying and deleting, then the rest:
    every citizen's keys, the registry's subjects, the set and the sessions moved."""
    r: Any = redis_store.client
    ids = legacy_redis(r, 1_000, orphans=30)
    clear = set(ids)
    assert clear_ids_in(redis_dump(r), clear) == len(ids)
    names = pseudonyms()
    copied: list[str] = []

    def crash(name: str) -> None:
        if name == "redis:registry":
            copied.append(name)
            if len(copied) == 3:
                raise Crash(name)

    with pytest.raises(Crash):
        pseudonymize(redis_store, names.of, names.seal, hook=crash, batch=100)
    assert redis_store.get_config(MARKER) is None
    left = [m for m in r.smembers(k("citizens", "ids")) if not is_pseudonym(m.decode())]
    assert 0 < len(left) <= 1_000 - 100  # stopped after whole batches, mid-way
    assert pseudonymize(redis_store, names.of, names.seal, batch=100) == len(left) + 30
    assert clear_ids_in(redis_dump(r), clear) == 0
    members = {m.decode() for m in r.smembers(k("citizens", "ids"))}
    assert members == {names.of(c) for c in ids[:1_000]}
    for n in range(0, len(ids), 97):
        alias = names.of(ids[n])
        record = json.loads(r.get(k(f"cred:cred-{n}", "rec")) or b"{}")
        assert record["subject"] == alias
        assert r.zscore(k(f"sub:{alias}", "creds"), f"cred-{n}") is not None
        if n < 1_000:
            assert json.loads(r.get(k(f"sub:{alias}", "citizen")) or b"{}")["citizen_id"] == alias
            assert r.hget(k(f"sub:{alias}", "items"), f"cred-{n}") is not None
            assert r.zscore(k(f"sub:{alias}", "activity"), f"ev-{n}") is not None
    for n in range(0, 1_000, 10):
        token = f"tok-{n:08d}"
        session = json.loads(r.get(k(f"sess:{token}", "rec")) or b"{}")
        assert names.open(session["citizen_id"], token) == ids[n]
        assert 0 < int(r.ttl(k(f"sess:{token}", "rec"))) <= 3600


@pytest.mark.parametrize("crash_at", ["redis:copied", "redis:deleted", "redis:registry"])
def test_redis_subjects_in_no_set_migrate_through_a_crash(
    redis_store: RedisStore, crash_at: str
) -> None:
    """Citizens known only as a credential's subject (no account, not in the set): a
    crash at any step of their batch leaves them findable, and nothing in clear after."""
    r: Any = redis_store.client
    ids = legacy_redis(r, 0, orphans=40)
    # their old citizen index, as put_credential wrote it: the one old key they have
    pipe = r.pipeline(transaction=False)
    for n, cid in enumerate(ids):
        pipe.zadd(k(f"sub:{cid}", "creds"), {f"cred-{n}": 1_700_000_000 + n})
    pipe.execute()
    names = pseudonyms()

    def crash(name: str) -> None:
        if name == crash_at:
            raise Crash(name)

    with pytest.raises(Crash):
        pseudonymize(redis_store, names.of, names.seal, hook=crash, batch=1_000)
    pseudonymize(redis_store, names.of, names.seal, batch=1_000)
    assert clear_ids_in(redis_dump(r), set(ids)) == 0
    for n, cid in enumerate(ids):
        alias = names.of(cid)
        assert json.loads(r.get(k(f"cred:cred-{n}", "rec")))["subject"] == alias
        assert r.zscore(k(f"sub:{alias}", "creds"), f"cred-{n}") is not None
    assert not r.exists(k("citizens", "ids"))
