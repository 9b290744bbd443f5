"""The audit chain (issue 11): every use appended to a hash chain with a keyed tag.

* the store contract (SQLite, Redis, the Cluster): appends link to the tail atomically,
  also from many threads at once, leaving one chain with no gap and no fork; a batch
  lands whole or not at all; on Redis an appender that keeps losing the race takes a
  turn, and a turn left by a dead worker lapses;
* the group append of a process's threads (``service.audit.GroupAppend``): each caller
  gets its own entry, a failed write fails exactly the appends of its group;
* over HTTP on both stores: verifications (and a proof query recorded as a use) are
  appended; ``ecert audit verify`` finds the chain intact; then the store is edited raw
  (SQLite ``UPDATE``/``DELETE``, Redis ``HSET``/``HDEL``) and verify names the entry:
  a body altered, an entry deleted in the middle, the whole chain rewritten from an
  edit by someone without the secret (the hashes recomputed here from the documented
  format, with ``hashlib``: only the keyed tags give it away);
* ``ecert audit export --since`` gives exactly the period's entries, mode 0600, their
  links re-checked here from the raw bodies, and a head whose signature verifies (with
  PyJWT) under the anchor key published at ``/api/v1/verifier/anchor``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from cli.main import main
from service.audit import GroupAppend
from service.instance import Ecert
from service.uses import Use
from store.errors import InvalidArgument, StoreUnavailable
from store.interface import AUDIT_GENESIS, MAX_AUDIT_BATCH, AuditEntry, Store
from store.redis import RedisStore
from store.sqlite import SQLiteStore
from tests.api_helpers import AuthActions, api_app, auth, card_id, client, demo, services_of
from tests.test_api_endpoints import present, verify

__all__ = ["api_app", "auth", "client", "demo"]

#: Spelled here from docs/formats.md, not imported from the code under test.
HASH_DOMAIN = b"ecert-audit-entry/v1\x00"
PURPOSE = "核实低保申请家庭成员关系"


def raw_hash(seq: int, at: int, prev: str, body: bytes) -> str:
    return hashlib.sha256(
        HASH_DOMAIN + f"{seq}\x00{at}\x00{prev}\x00".encode("ascii") + body
    ).hexdigest()


# -- the store contract ---------------------------------------------------------------------


def _linker(at: int, body: bytes) -> Callable[[int, str], AuditEntry]:
    def link(seq: int, prev: str) -> AuditEntry:
        digest = raw_hash(seq, at, prev, body)
        return AuditEntry(seq, at, body, prev, digest, hashlib.sha256(digest.encode()).hexdigest())

    return link


def _assert_one_chain(entries: list[AuditEntry], count: int) -> None:
    assert [e.seq for e in entries] == list(range(1, count + 1))
    prev = AUDIT_GENESIS
    for e in entries:
        assert e.prev == prev and e.hash == raw_hash(e.seq, e.at, e.prev, e.body)
        prev = e.hash


def test_appends_link_to_the_tail_and_read_back_by_seq_and_time(store: Store) -> None:
    assert store.audit_tail() is None and store.audit_first_since(0) is None
    made = [store.append_audit(_linker(1000 + 10 * n, f'{{"n":{n}}}'.encode())) for n in range(5)]
    _assert_one_chain(made, 5)
    assert store.audit_range(1, 1000) == made
    assert store.audit_range(2, 2) == made[1:3]
    assert store.audit_range(6, 10) == []
    assert store.audit_tail() == made[-1]
    assert store.audit_first_since(0) == 1
    assert store.audit_first_since(1011) == 3  # at 1020
    assert store.audit_first_since(1020) == 3
    assert store.audit_first_since(1041) is None


def test_an_entry_that_is_not_linked_where_the_store_says_is_refused(store: Store) -> None:
    store.append_audit(_linker(1000, b"{}"))

    def wrong_seq(seq: int, prev: str) -> AuditEntry:
        return _linker(1000, b"{}")(seq + 1, prev)

    def wrong_prev(seq: int, prev: str) -> AuditEntry:
        return _linker(1000, b"{}")(seq, AUDIT_GENESIS)

    for link in (wrong_seq, wrong_prev):
        with pytest.raises(InvalidArgument):
            store.append_audit(link)
    assert [e.seq for e in store.audit_range(1, 10)] == [1]
    for bad in ((0, 1), (1, -1), (1, 1001)):
        with pytest.raises(InvalidArgument):
            store.audit_range(*bad)


def _sibling(store: Store) -> Store:
    """Another store object on the same data (its own connections)."""
    if isinstance(store, SQLiteStore):
        return SQLiteStore(store.path)
    assert isinstance(store, RedisStore)
    return RedisStore(store.client, prefix=store.prefix)


def test_many_concurrent_appenders_leave_one_gap_free_chain(store: Store) -> None:
    threads, each = 8, 25
    siblings = [_sibling(store) for _ in range(threads)]
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def append(s: Store, n: int) -> None:
        try:
            start.wait()
            for i in range(each):
                s.append_audit(_linker(1000 + i, f'{{"t":{n},"i":{i}}}'.encode()))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    workers = [threading.Thread(target=append, args=(s, n)) for n, s in enumerate(siblings)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for s in siblings:
        if isinstance(s, SQLiteStore):
            s.close()
    assert errors == []
    entries = store.audit_range(1, 1000)
    _assert_one_chain(entries, threads * each)
    assert len({e.body for e in entries}) == threads * each  # every append once


def _redis_only(store: Store) -> RedisStore:
    if not isinstance(store, RedisStore):
        pytest.skip("Redis only: SQLite appends inside its write lock, with no race to lose")
    return store


def test_an_appender_that_lost_twice_takes_its_turn_and_its_next_write_wins(
    store: Store,
) -> None:
    """An appender that keeps losing the compare-and-set to a busy worker is not left to
    lose forever: after two losses it takes a turn, and the other worker waits for it."""
    mine = _redis_only(store)
    other = _sibling(store)
    calls: list[int] = []
    late: list[threading.Thread] = []

    def link(seq: int, prev: str) -> AuditEntry:
        calls.append(seq)
        if len(calls) <= 2:  # another worker writes first: this write loses
            other.append_audit(_linker(1, f'{{"other":{len(calls)}}}'.encode()))
        elif len(calls) == 3:  # and tries again while this one has its turn
            body = b'{"other":3}'
            late.append(threading.Thread(target=other.append_audit, args=(_linker(1, body),)))
            late[0].start()
            time.sleep(0.05)  # every chance to get in first
        return _linker(2, b'{"mine":1}')(seq, prev)

    entry = mine.append_audit(link)
    late[0].join(timeout=10)
    assert len(calls) == 3 and entry.seq == 3
    bodies = [e.body for e in store.audit_range(1, 10)]
    assert bodies == [b'{"other":1}', b'{"other":2}', b'{"mine":1}', b'{"other":3}']
    _assert_one_chain(store.audit_range(1, 10), 4)


def test_a_turn_left_by_a_dead_worker_holds_appends_up_only_for_its_life(
    store: Store,
) -> None:
    redis_store = _redis_only(store)
    turn = f"{redis_store.prefix}:{{audit}}:turn"
    redis_store.client.set(turn, "a-worker-that-died", px=200)
    assert store.append_audit(_linker(1000, b"{}")).seq == 1  # once the turn has lapsed
    # a turn that never lapses (written by hand): the append gives up, and writes nothing
    redis_store.client.set(turn, "stuck")
    redis_store.audit_patience = 0.3
    with pytest.raises(StoreUnavailable):
        store.append_audit(_linker(1001, b"{}"))
    redis_store.client.delete(turn)
    assert store.append_audit(_linker(1002, b"{}")).seq == 2
    _assert_one_chain(store.audit_range(1, 10), 2)


def test_a_batch_links_each_entry_to_the_one_before_and_lands_whole_or_not_at_all(
    store: Store,
) -> None:
    first = store.append_audit(_linker(1000, b'{"n":0}'))
    batch = store.append_audit_batch(
        [_linker(1001 + n, f'{{"n":{n + 1}}}'.encode()) for n in range(4)]
    )
    assert [e.seq for e in batch] == [2, 3, 4, 5] and batch[0].prev == first.hash
    _assert_one_chain(store.audit_range(1, 100), 5)
    assert store.audit_tail() == batch[-1]
    assert store.append_audit_batch([]) == []

    def wrong_prev(seq: int, prev: str) -> AuditEntry:
        return _linker(1000, b"{}")(seq, AUDIT_GENESIS)

    # one refused entry refuses the batch: nothing of it is written
    with pytest.raises(InvalidArgument):
        store.append_audit_batch([_linker(2000, b"{}"), wrong_prev, _linker(2001, b"{}")])
    too_many = [_linker(3000, b"{}")] * (MAX_AUDIT_BATCH + 1)
    with pytest.raises(InvalidArgument):
        store.append_audit_batch(too_many)
    assert store.audit_tail() == batch[-1]
    more = store.append_audit_batch([_linker(4000, b"{}")] * MAX_AUDIT_BATCH)
    assert more[0].prev == batch[-1].hash
    _assert_one_chain(store.audit_range(1, 1000), 5 + MAX_AUDIT_BATCH)


class Gate:
    """The store's batch append, held at its first call until ``waiting`` more appends
    have queued behind it (so that the grouping is certain, not a matter of timing); the
    batch sizes written are kept."""

    def __init__(self, store: Store, waiting: int) -> None:
        self.store = store
        self.waiting = waiting
        self.sizes: list[int] = []
        self.group: GroupAppend | None = None
        #: the write (by its index) that fails, and with what
        self.fail: tuple[int, BaseException] | None = None

    def append_batch(self, links: Sequence[Callable[[int, str], AuditEntry]]) -> list[AuditEntry]:
        if not self.sizes and self.group is not None:
            for _ in range(1000):  # up to 10 s
                if len(self.group._queue) >= self.waiting:
                    break
                time.sleep(0.01)
        self.sizes.append(len(links))
        if self.fail is not None and self.fail[0] == len(self.sizes) - 1:
            raise self.fail[1]
        return self.store.append_audit_batch(links)


def _append_from_threads(
    group: GroupAppend, threads: int, each: int
) -> tuple[list[AuditEntry], list[BaseException]]:
    start = threading.Barrier(threads)
    got: list[AuditEntry] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        start.wait()
        for i in range(each):
            try:
                entry = group.append(_linker(1000 + i, f'{{"t":{n},"i":{i}}}'.encode()))
            except BaseException as err:
                with lock:
                    errors.append(err)
            else:
                with lock:
                    got.append(entry)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not any(w.is_alive() for w in workers), "an append never returned"
    return got, errors


def test_the_threads_of_a_process_append_in_groups_and_each_gets_its_own_entry(
    store: Store,
) -> None:
    """One process's threads share one store object (as a worker's threads do): their
    appends are written a group at a time, every one once, in one gap-free chain."""
    threads, each = 8, 20
    gate = Gate(store, waiting=threads - 1)
    group = gate.group = GroupAppend(gate.append_batch)
    got, errors = _append_from_threads(group, threads, each)
    assert errors == []
    entries = store.audit_range(1, 1000)
    _assert_one_chain(entries, threads * each)
    assert sorted(got, key=lambda e: e.seq) == entries  # each caller got its own entry
    assert len({e.body for e in entries}) == threads * each
    assert sum(gate.sizes) == threads * each
    assert gate.sizes[0] == 1 and gate.sizes[1] >= threads - 1  # the first held, then a group
    assert len(gate.sizes) < threads * each


def test_a_failed_group_write_fails_each_of_its_appends_and_the_next_ones_go_on(
    store: Store,
) -> None:
    threads = 6
    gate = Gate(store, waiting=threads - 1)
    group = gate.group = GroupAppend(gate.append_batch)
    gate.fail = (1, StoreUnavailable("the store is down"))
    got, errors = _append_from_threads(group, threads, 1)
    # the first write (one entry, held until the others queued) went through; the group
    # after it failed, every one of its appends with the store's error
    assert gate.sizes == [1, threads - 1]
    assert len(errors) == threads - 1
    assert all(isinstance(err, StoreUnavailable) for err in errors)
    assert len(got) == 1
    _assert_one_chain(store.audit_range(1, 100), 1)
    assert group.append(_linker(5000, b"{}")).seq == 2


# -- over HTTP, then the CLI ----------------------------------------------------------------


@pytest.fixture
def ecert(api_app: Flask, monkeypatch: pytest.MonkeyPatch) -> Ecert:
    """The app's instance, with the environment the CLI needs to open the same one."""
    instance = services_of(api_app).instance
    settings = instance.settings
    monkeypatch.setenv("ECERT_INSTANCE", str(settings.instance))
    assert settings.key_secret is not None
    monkeypatch.setenv("ECERT_KEY_SECRET", settings.key_secret)
    if settings.redis_url:
        monkeypatch.setenv("ECERT_REDIS_URL", settings.redis_url)
    return instance


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def proof_query(ecert: Ecert, at: int, event_id: str = "pq-1") -> Use:
    use = Use(
        event_id=event_id,
        kind="proof_query",
        at=at,
        subject=ecert.pseudonyms.of("audit-test-citizen"),
        actor_kind="department",
        actor="civil-affairs",
        topic="kinship-parent-child",
        fields=("relation",),
        purpose=PURPOSE,
        answered_by="police",
        accepted=True,
    )
    ecert.uses.record(use)
    return use


def run_verifications(client: FlaskClient, auth: AuthActions) -> int:
    """Three verifications over HTTP (accepted, replayed, forged): three uses."""
    citizen = auth.citizen()
    qr = present(client, citizen, card_id(client, citizen))
    assert verify(client, auth, qr).get_json()["valid"] is True
    assert verify(client, auth, qr).get_json()["valid"] is False
    assert verify(client, auth, "not a presentation").get_json()["valid"] is False
    return 3


class Raw:
    """The store's bytes edited without the project's code (an attacker with write
    access to the database, not the secret)."""

    def __init__(self, ecert: Ecert) -> None:
        self.ecert = ecert
        self.redis_url = ecert.settings.redis_url

    @contextmanager
    def _sqlite(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.ecert.settings.instance / "ecert.db", isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    def rows(self) -> list[dict[str, Any]]:
        """Every entry as a dict (body as bytes)."""
        if self.redis_url is None:
            with self._sqlite() as conn:
                got = conn.execute("SELECT seq, at, body, prev, hash, tag FROM audit ORDER BY seq")
                keys = ("seq", "at", "body", "prev", "hash", "tag")
                return [dict(zip(keys, row, strict=True)) for row in got.fetchall()]
        client = redis.Redis.from_url(self.redis_url)
        try:
            found = client.hgetall("ecert:{audit}:entries")
        finally:
            client.close()
        rows = [json.loads(v) for v in found.values()]
        for row in rows:
            row["body"] = base64.b64decode(row["body"])
        return sorted(rows, key=lambda r: int(r["seq"]))

    def write(self, row: dict[str, Any]) -> None:
        if self.redis_url is None:
            with self._sqlite() as conn:
                conn.execute(
                    "UPDATE audit SET at = ?, body = ?, prev = ?, hash = ?, tag = ? WHERE seq = ?",
                    (row["at"], row["body"], row["prev"], row["hash"], row["tag"], row["seq"]),
                )
            return
        stored = {**row, "body": base64.b64encode(row["body"]).decode("ascii")}
        client = redis.Redis.from_url(self.redis_url)
        try:
            client.hset("ecert:{audit}:entries", str(row["seq"]), json.dumps(stored))
            if row["seq"] == max(int(s) for s in client.hkeys("ecert:{audit}:entries")):
                client.hset("ecert:{audit}:tail", "hash", row["hash"])
        finally:
            client.close()

    def delete(self, seq: int) -> None:
        if self.redis_url is None:
            with self._sqlite() as conn:
                conn.execute("DELETE FROM audit WHERE seq = ?", (seq,))
            return
        client = redis.Redis.from_url(self.redis_url)
        try:
            assert client.hdel("ecert:{audit}:entries", str(seq)) == 1
        finally:
            client.close()


def test_verifications_over_http_and_a_proof_query_are_appended_and_verify_intact(
    ecert: Ecert, client: FlaskClient, auth: AuthActions, capsys: pytest.CaptureFixture[str]
) -> None:
    n = run_verifications(client, auth)
    proof_query(ecert, at=1_800_000_000)
    rows = Raw(ecert).rows()
    assert [r["seq"] for r in rows] == list(range(1, n + 2))
    bodies = [json.loads(r["body"]) for r in rows]
    assert [b["kind"] for b in bodies] == ["verification"] * n + ["proof_query"]
    assert [b["accepted"] for b in bodies[:n]] == [True, False, False]
    # the purpose is sealed in the body, never in clear
    assert PURPOSE.encode() not in rows[-1]["body"] and bodies[-1]["purpose"]
    code, out, err = cli(capsys, "audit", "verify")
    assert (code, out.strip()) == (0, f"{n + 1} entries, chain intact"), err


def _chain(ecert: Ecert, client: FlaskClient, auth: AuthActions) -> list[dict[str, Any]]:
    run_verifications(client, auth)
    proof_query(ecert, at=1_800_000_000)
    run_verifications(client, auth)
    rows = Raw(ecert).rows()
    assert len(rows) == 7
    return rows


def test_an_entry_altered_in_the_store_is_named(
    ecert: Ecert, client: FlaskClient, auth: AuthActions, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _chain(ecert, client, auth)
    row = rows[3]  # the proof query: say it was refused
    row["body"] = row["body"].replace(b'"accepted":true', b'"accepted":false')
    Raw(ecert).write(row)
    code, out, err = cli(capsys, "audit", "verify")
    assert code == 1 and out == ""
    assert "entry 4" in err and "body_altered" in err


def test_an_entry_deleted_in_the_middle_is_detected(
    ecert: Ecert, client: FlaskClient, auth: AuthActions, capsys: pytest.CaptureFixture[str]
) -> None:
    _chain(ecert, client, auth)
    Raw(ecert).delete(5)
    code, _, err = cli(capsys, "audit", "verify")
    assert code == 1 and "entry 5" in err and "seq_gap" in err


def test_a_chain_rewritten_without_the_secret_is_caught_by_the_tag(
    ecert: Ecert, client: FlaskClient, auth: AuthActions, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _chain(ecert, client, auth)
    raw = Raw(ecert)
    # Edit entry 3, then relink every later entry with the public hash: the links and
    # hashes are all consistent again; the tags cannot be recomputed without the secret.
    rows[2]["body"] = rows[2]["body"].replace(b'"accepted":false', b'"accepted":true')
    prev = rows[1]["hash"]
    for row in rows[2:]:
        row["prev"] = prev
        row["hash"] = prev = raw_hash(row["seq"], row["at"], row["prev"], row["body"])
        raw.write(row)
    code, _, err = cli(capsys, "audit", "verify")
    assert code == 1 and "entry 3" in err and "tag_wrong" in err, err


def _day(text: str) -> int:
    day = datetime.date.fromisoformat(text)
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp())


def test_export_since_a_date_gives_that_period_with_a_head_signed_by_the_platform(
    ecert: Ecert,
    client: FlaskClient,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    days = ["2027-03-01", "2027-03-02", "2027-03-02", "2027-03-03", "2027-03-04"]
    for n, day in enumerate(days):
        proof_query(ecert, at=_day(day) + 3600 * n, event_id=f"pq-{n}")
    out_file = tmp_path / "audit.jsonl"
    code, out, err = cli(
        capsys,
        "audit",
        "export",
        "--since",
        "2027-03-02",
        "--until",
        "2027-03-04",
        "--out",
        str(out_file),
    )
    assert code == 0 and out == "" and "3 audit entries exported" in err
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    *entries, head = lines
    assert [e["seq"] for e in entries] == [2, 3, 4]
    assert [e["use"]["event_id"] for e in entries] == ["pq-1", "pq-2", "pq-3"]
    assert {e["use"]["purpose"] for e in entries} == {PURPOSE}  # opened for the regulator
    # The regulator re-checks the links from the raw bodies.
    prev = entries[0]["prev"]
    for e in entries:
        assert e["prev"] == prev
        prev = raw_hash(e["seq"], e["at"], e["prev"], e["body"].encode("ascii"))
        assert e["hash"] == prev
    # The head verifies under the anchor key the platform publishes.
    anchor = client.get("/api/v1/verifier/anchor").get_json()
    token = head["head"]
    assert jwt.get_unverified_header(token)["typ"] == "ecert-audit-head+jwt"
    payload = json.loads(
        jwt.PyJWS().decode(token, key=jwt.PyJWK(anchor).key, algorithms=["ES256", "EdDSA"])
    )
    assert (payload["seq"], payload["hash"], payload["count"]) == (4, entries[-1]["hash"], 3)
    assert payload["iss"] == ecert.platform.anchor_id
    # to the end, on standard output
    code, out, _ = cli(capsys, "audit", "export", "--since", "2027-03-04")
    assert code == 0 and [json.loads(x).get("seq") for x in out.splitlines()] == [5, None]
    code, _, err = cli(capsys, "audit", "export", "--since", "March")
    assert code == 2 and "YYYY-MM-DD" in err


def test_an_export_stops_at_a_tampered_entry_and_signs_no_head(
    ecert: Ecert, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for n in range(3):
        proof_query(ecert, at=_day("2027-03-02") + n, event_id=f"pq-{n}")
    raw = Raw(ecert)
    row = raw.rows()[1]
    raw.write({**row, "at": row["at"] + 1})  # the time moved: covered by the hash
    (tmp_path / "out").mkdir()
    out_file = tmp_path / "out" / "audit.jsonl"
    code, _, err = cli(capsys, "audit", "export", "--since", "2027-03-01", "--out", str(out_file))
    assert code == 1 and "audit_chain_broken" in err and "entry 2" in err
    assert list(out_file.parent.iterdir()) == []  # no file, not even half of one


def test_the_tail_cut_off_is_what_the_chain_alone_cannot_prove(
    ecert: Ecert, client: FlaskClient, auth: AuthActions, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented limit (docs/operations.md, "Audit"): deleting the newest entry
    leaves a shorter chain. Redis's tail pointer still names the missing entry; SQLite's
    chain is intact and one shorter, and only a kept head shows the loss."""
    rows = _chain(ecert, client, auth)
    Raw(ecert).delete(len(rows))
    code, out, err = cli(capsys, "audit", "verify")
    if ecert.settings.redis_url is None:
        assert (code, out.strip()) == (0, f"{len(rows) - 1} entries, chain intact")
    else:
        assert code == 1 and f"seq {len(rows)}" in err and "unreadable" in err, err


def test_a_group_holds_one_to_the_most_a_batch_append_takes() -> None:
    def never(links: Sequence[Callable[[int, str], AuditEntry]]) -> list[AuditEntry]:
        raise AssertionError("not called")

    for limit in (0, MAX_AUDIT_BATCH + 1):
        with pytest.raises(InvalidArgument):
            GroupAppend(never, limit=limit)
    GroupAppend(never, limit=MAX_AUDIT_BATCH)
