"""Proactive issuance, part 1: reading a batch body (service.batches) and issuing many
credentials into wallets at once (Issuance.issue_many), on SQLite and Redis.

Rows are built as raw bytes here, never with the parser's own helpers, so that a bug
in how the parser splits or checks lines cannot hide itself.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.batches import (
    MARK_SCOPE,
    MAX_BODY,
    MAX_LINE,
    MAX_NOTICE,
    MAX_ROW_ID,
    MAX_ROWS,
    parse_batch,
)
from service.errors import BatchEmpty, BatchTooLarge
from service.instance import Ecert, open_instance
from service.issuance import BulkItem
from store.interface import IssuerRecord
from store.redis import RedisStore
from store.sqlite import SQLiteStore
from tests.api_helpers import BASE_URL
from tests.factory import ID_CARD, ID_CLAIMS, MARRIAGE
from tests.hygiene import personal
from tests.test_devices_api import new_key, proof
from verifier import Verifier

NOTICE = {"zh": "您的证照已发放到钱包。", "en": "Your certificate is in your wallet."}


def _row(n: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "row_id": f"r-{n}",
        "citizen_id": f"citizen-{n}",
        "vct": ID_CARD,
        "claims": {"name": "张三"},
        "notice": NOTICE,
    }
    row.update(changes)
    return row


def _line(row: dict[str, Any]) -> bytes:
    return json.dumps(row, ensure_ascii=False).encode("utf-8")


def _codes(body: bytes) -> list[tuple[int, str]]:
    return [(e.line, e.code) for e in parse_batch(body).errors]


# -- parsing --------------------------------------------------------------------------


def test_good_rows_are_read_with_their_line_numbers_blank_lines_counted() -> None:
    body = b"\n".join([_line(_row(1)), b"", b"  \t", _line(_row(2)) + b"\r", b""])
    parsed = parse_batch(body)
    assert parsed.errors == []
    assert [(r.line, r.row_id, r.citizen_id) for r in parsed.rows] == [
        (1, "r-1", "citizen-1"),
        (4, "r-2", "citizen-2"),
    ]
    assert parsed.rows[0].claims == {"name": "张三"} and parsed.rows[0].notice == NOTICE
    assert parsed.total == 2


def test_a_bad_line_is_reported_with_its_code_and_the_others_go_on() -> None:
    lines = [
        _line(_row(1)),
        b'{"row_id": "r-2", "row_id": "r-2b", "citizen_id": "c", "vct": "v", '
        b'"claims": {}, "notice": {"zh": "z", "en": "e"}}',  # duplicate member
        b"not json",
        b"\xff\xfe{}",  # not UTF-8
        b"[1, 2]",
        _line(_row(6, extra=1)),
        _line({k: v for k, v in _row(7).items() if k != "notice"}),
        _line(_row(8, claims=["a"])),
        _line(_row(9, row_id="r-1")),  # repeats line 1
        _line(_row(10, citizen_id="no spaces allowed")),
        _line(_row(11, notice={"zh": "z"})),
        _line(_row(12, notice={"zh": "z", "en": "e\u0007"})),
        _line(_row(13, row_id="x" * (MAX_ROW_ID + 1))),
        _line(_row(14, row_id=7)),
        b"{" + b" " * MAX_LINE + b"}",
        _line(_row(16, notice={"zh": "长" * (MAX_NOTICE + 1), "en": "e"})),
        _line(_row(17, vct=" " + ID_CARD)),
        _line(_row(18)),
    ]
    assert _codes(b"\n".join(lines)) == [
        (2, "batch_line_malformed"),
        (3, "batch_line_malformed"),
        (4, "batch_line_malformed"),
        (5, "batch_line_malformed"),
        (6, "batch_row_invalid"),
        (7, "batch_row_invalid"),
        (8, "batch_row_invalid"),
        (9, "batch_row_duplicate"),
        (10, "batch_row_invalid"),
        (11, "batch_row_invalid"),
        (12, "batch_row_invalid"),
        (13, "batch_row_invalid"),
        (14, "batch_row_invalid"),
        (15, "batch_line_too_long"),
        (16, "batch_row_invalid"),
        (17, "batch_row_invalid"),
    ]
    assert [r.line for r in parse_batch(b"\n".join(lines)).rows] == [1, 18]


def test_messages_name_the_member_never_the_value() -> None:
    secret = personal("11010119900307SECRET", "a citizen id in a bad row")
    lines = [
        _line(_row(1, citizen_id=secret + " ")),
        _line(_row(2, row_id=secret + "\n")),
        _line(_row(3, **{secret: 1})),
        _line(_row(4, notice={"zh": secret, "en": 5})),
        b'{"row_id": "' + secret.encode() + b'", "row_id": 1}',
        _line(_row(6, row_id=secret)) + b"\n" + _line(_row(7, row_id=secret)),
    ]
    errors = parse_batch(b"\n".join(lines)).errors
    assert len(errors) == 6
    for error in errors:
        assert secret not in error.message and "SECRET" not in error.message
    messages = [e.message for e in errors]
    assert "'citizen_id'" in messages[0] and "'row_id'" in messages[1]
    assert "malformed name" in messages[2] and "'notice.en'" in messages[3]
    assert "line 6" in messages[5]


def test_body_limits() -> None:
    with pytest.raises(BatchEmpty):
        parse_batch(b"")
    with pytest.raises(BatchEmpty):
        parse_batch(b"\n \r\n\t\n")
    with pytest.raises(BatchTooLarge):
        parse_batch(b" " * (MAX_BODY + 1))
    # The rows are counted, not the lines: blank lines do not count.
    small = b"{}\n" * MAX_ROWS + b"\n" * 10
    assert parse_batch(small).total == MAX_ROWS
    with pytest.raises(BatchTooLarge):
        parse_batch(b"{}\n" * (MAX_ROWS + 1))


def test_a_hundred_thousand_id_card_rows_fit_the_body_limit() -> None:
    notice = {
        "zh": "您的育儿补贴资格证明已发放到您的钱包，无需申请。",
        "en": "Your childcare subsidy certificate is in your wallet; you did not need to apply.",
    }
    row = _row(0, citizen_id="110101199003070011", claims=ID_CLAIMS, notice=notice)
    # UTF-8 as written (ASCII escapes would double the Chinese text: 703 bytes).
    line = json.dumps(row, ensure_ascii=False).encode()
    assert (len(line) + 1) * 100_000 <= MAX_BODY


# -- issuing many into wallets --------------------------------------------------------

CITIZENS = [personal(f"batch-citizen-{n}", "test_batches citizen id") for n in range(3)]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def ecert(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ecert]:
    redis_url = request.getfixturevalue("redis_server") if request.param == "redis" else None
    instance = open_instance(tmp_path / "instance", base_url=BASE_URL, redis_url=redis_url)
    try:
        instance.platform.ensure_anchor()
        instance.platform.register_issuer(
            "police", name_zh="公安局", name_en="Police", vcts=[ID_CARD]
        )
        for citizen in CITIZENS:
            instance.accounts.create_citizen(citizen)
        yield instance
    finally:
        if redis_url is not None:
            instance.store.client.flushdb()  # type: ignore[attr-defined]
        instance.close()


def _police(ecert: Ecert) -> IssuerRecord:
    return ecert.platform.issuer("police")


def test_issue_many_issues_into_wallets_and_reports_each_refusal(ecert: Ecert) -> None:
    bad_claims = {**ID_CLAIMS, "birth_date": "1985-02-30"}
    items = [
        BulkItem(ID_CARD, CITIZENS[0], ID_CLAIMS),
        BulkItem(ID_CARD, "nobody-here", ID_CLAIMS),
        BulkItem(MARRIAGE, CITIZENS[1], ID_CLAIMS),
        BulkItem(ID_CARD, CITIZENS[1], bad_claims),
        BulkItem(ID_CARD, CITIZENS[1], ID_CLAIMS),
        BulkItem(ID_CARD, CITIZENS[0], ID_CLAIMS),  # a second card, same wallet
    ]
    results = ecert.issuance.issue_many(_police(ecert), items)
    codes = [getattr(r, "code", "issued") for r in results]
    assert codes == [
        "issued",
        "unknown_citizen",
        "issuer_not_authorised",
        "claims_invalid",
        "issued",
        "issued",
    ]
    issued = [r for r in results if not isinstance(r, Exception)]
    assert len({(r.status_uri, r.status_idx) for r in issued}) == 3
    verifier = Verifier(ecert.published_bundle(), anchor=ecert.platform.anchor_jwk())
    for n, citizen in ((0, CITIZENS[0]), (4, CITIZENS[1]), (5, CITIZENS[0])):
        record = results[n]
        assert not isinstance(record, Exception)
        assert record.subject == ecert.pseudonyms.of(citizen)
        card = ecert.wallets.credential(citizen, record.id)
        assert card.claims == ID_CLAIMS and card.status == "valid"
        assert card.item.expires_at == record.expires_at
        shown = ecert.wallets.present(citizen, record.id, "hotel", "offline")
        result = verifier.verify(shown.qr, "hotel")
        assert result.valid, result.errors
    held = {c.item.credential_id for c in ecert.wallets.credentials(CITIZENS[0])}
    assert held == {getattr(results[0], "id", None), getattr(results[5], "id", None)}
    assert ecert.wallets.credentials(CITIZENS[2]) == []
    # the operator's counters: the three issued, by department and type (UTC day)
    figures = ecert.stats.stats()
    today = figures["days"][-1]
    assert figures["issuance"]["by_department"]["police"][today] == 3
    every_day = dict.fromkeys(figures["days"], 0)
    assert figures["issuance"]["by_type"] == {ID_CARD: {**every_day, today: 3}}


def test_issue_many_under_given_ids_issues_each_id_once(ecert: Ecert) -> None:
    ids = ["Aa" * 11, "Bb" * 11]
    items = [BulkItem(ID_CARD, CITIZENS[n], ID_CLAIMS, credential_id=ids[n]) for n in range(2)]
    first = ecert.issuance.issue_many(_police(ecert), items)
    assert [getattr(r, "id", None) for r in first] == ids
    again = ecert.issuance.issue_many(_police(ecert), items)
    assert [getattr(r, "code", None) for r in again] == ["conflict", "conflict"]
    for n in range(2):
        assert [c.item.credential_id for c in ecert.wallets.credentials(CITIZENS[n])] == [ids[n]]


def test_issue_many_gives_every_active_device_a_copy(ecert: Ecert) -> None:
    session = "a-session-of-the-batch-test"
    nonce = ecert.devices.nonce(CITIZENS[0], session).c_nonce
    device = ecert.devices.register(CITIZENS[0], session, proof(new_key(), nonce), "phone")
    (record,) = ecert.issuance.issue_many(
        _police(ecert), [BulkItem(ID_CARD, CITIZENS[0], ID_CLAIMS)]
    )
    assert not isinstance(record, Exception)
    (copy,) = ecert.devices.credentials(CITIZENS[0], device.device.device_id)
    assert copy.credential_id == record.id and copy.status == "valid"
    assert copy.id != record.id


# -- the batch job: a crash anywhere in a chunk resumes without doubles ------------------


class Crash(BaseException):
    """What ``kill -9`` does to a worker, as far as the store can tell: it stops."""


def _batch_body(rows: int) -> bytes:
    return b"\n".join(
        json.dumps(
            {
                "row_id": f"row-{n}",
                "citizen_id": CITIZENS[n % len(CITIZENS)],
                "vct": ID_CARD,
                "claims": ID_CLAIMS,
                "notice": NOTICE,
            },
            ensure_ascii=False,
        ).encode()
        for n in range(rows)
    )


@pytest.mark.parametrize(
    "method, before",
    [
        ("put_credentials", True),  # ids noted, nothing issued
        ("put_wallet_items", True),  # issued, in no wallet: orphans
        ("put_notices", True),  # in the wallets, nobody told, not marked
        ("put_marks", True),  # told, not marked
        ("put_marks", False),  # marked, but the chunk's outcome not recorded
        ("finish_steps", False),  # recorded, but the run stopped before it went on
    ],
)
def test_a_crash_anywhere_in_a_chunk_resumes_and_every_row_is_held_once(
    ecert: Ecert, monkeypatch: pytest.MonkeyPatch, method: str, before: bool
) -> None:
    rows = 7
    job = ecert.batches.create(_police(ecert), _batch_body(rows))
    real = getattr(ecert.store, method)
    calls = {"n": 0}

    def crashing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        # finish_steps also records the write-ahead notes: crash on the outcomes.
        if method == "finish_steps" and calls["n"] < 2:
            return real(*args, **kwargs)
        if not before:
            real(*args, **kwargs)
        raise Crash

    monkeypatch.setattr(ecert.store, method, crashing)
    with pytest.raises(Crash):
        ecert.jobs.run(job.id)
    monkeypatch.setattr(ecert.store, method, real)
    ecert.jobs.holder = "the-restarted-worker"  # a new process, a new lease holder
    assert ecert.jobs.run(job.id) is None  # the crashed worker's lease still holds it
    later = time.time() + 3600
    ecert.jobs.clock = lambda: later  # its lease is over: the next worker resumes
    ended = ecert.jobs.run(job.id)
    assert ended is not None
    assert (ended.state, ended.done, ended.skipped, ended.failed) == ("done", rows, 0, 0)

    marks: set[str] = set()
    for step in ecert.jobs.all_steps(ended):
        key = ecert.batches.mark_key(_police(ecert).iss, step.data["row_id"])
        mark = ecert.store.get_mark(MARK_SCOPE, key)
        assert mark is not None and mark == step.data["credential"]
        marks.add(mark)
    held: set[str] = set()
    for citizen in CITIZENS:
        for card in ecert.wallets.credentials(citizen):
            assert card.status == "valid", card
            held.add(card.item.credential_id)
        told = {c for n in ecert.notices.list_notices(citizen) for c in n.credentials}
        assert told == {c.item.credential_id for c in ecert.wallets.credentials(citizen)}
    # Every row is held exactly once, as its marked credential; orphans are revoked.
    assert held == marks and len(held) == rows
    for citizen in CITIZENS:
        for record in ecert.issuer.credentials_of(citizen):
            assert (record.id in held) == (record.state == "valid")


def test_no_row_id_citizen_id_or_claim_is_in_clear_in_the_store(ecert: Ecert) -> None:
    row_id = personal("ROW-11010119900307SECRET", "a row id built from a citizen id")
    body = json.dumps(
        {"row_id": row_id, "citizen_id": CITIZENS[0], "vct": ID_CARD, "claims": ID_CLAIMS,
         "notice": NOTICE},
        ensure_ascii=False,
    ).encode()  # fmt: skip
    job = ecert.batches.create(_police(ecert), body)
    ended = ecert.jobs.run(job.id)
    assert ended is not None and ended.done == 1
    store = ecert.store
    if isinstance(store, SQLiteStore):
        dump = "\n".join(sqlite3.connect(store.path).iterdump()).encode("utf-8")
    else:
        assert isinstance(store, RedisStore)
        client = store.client
        dump = b"\n".join(
            key + b"=" + repr(client.dump(key)).encode() for key in client.scan_iter(count=1000)
        )
    for secret in (row_id, "SECRET", CITIZENS[0], ID_CLAIMS["name"], ID_CLAIMS["id_number"]):
        assert secret.encode("utf-8") not in dump, secret
