"""A 100,000-row batch into wallets from the command line (issue 10, "Proactive
issuance"): bad rows reported with their line and code while the batch goes on, then
the same file again, which skips every row issued and issues only the rows added.

Marked slow (about two minutes here): the test command runs it; nothing is asserted on
a timing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from cli.main import main
from service.instance import open_instance
from tests.factory import ID_CARD, ID_CLAIMS
from tests.hygiene import personal

pytestmark = pytest.mark.slow

ROWS = 100_000
CITIZENS = 1_000
NOTICE = {"zh": "您的居民身份证已发放到钱包。", "en": "Your resident ID card is in your wallet."}


def _citizen(n: int) -> str:
    return f"bulk-citizen-{n % CITIZENS:05d}"


def _line(n: int) -> str:
    """Row ``n`` of the batch; every 10,000th from 5,000 on is bad, in one of four ways."""
    row: dict[str, Any] = {
        "row_id": f"2026-07-{n:06d}",
        "citizen_id": _citizen(n),
        "vct": ID_CARD,
        "claims": ID_CLAIMS,
        "notice": NOTICE,
    }
    if n % 10_000 == 5_000:
        kind = (n // 10_000) % 4
        if kind == 0:
            return '{"row_id": "' + str(row["row_id"]) + '", "row_id": "again"}'
        if kind == 1:
            row["citizen_id"] = "nobody-at-all"
        elif kind == 2:
            row["claims"] = {**ID_CLAIMS, "birth_date": "1985-13-01"}
        else:
            del row["notice"]
    return json.dumps(row, ensure_ascii=False)


BAD = {n + 1: n for n in range(ROWS) if n % 10_000 == 5_000}  # line number -> row


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def instance(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """An instance with the police and 1,000 citizens, on SQLite or on a Redis database of
    the session's server of its own (emptied afterwards)."""
    monkeypatch.setenv("ECERT_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("ECERT_KEY_SECRET", raising=False)
    monkeypatch.delenv("ECERT_REDIS_URL", raising=False)
    client = None
    if request.param == "redis":
        url = str(request.getfixturevalue("redis_server")).rsplit("/", 1)[0] + "/11"
        monkeypatch.setenv("ECERT_REDIS_URL", url)
        client = redis.Redis.from_url(url)
        client.flushdb()
    try:
        assert main(["init", "--base-url", "https://ecert.example"]) == 0
        department = ["admin", "department", "add", "police", "--zh", "公安", "--en", "Police"]
        assert main([*department, "--vct", ID_CARD]) == 0
        with open_instance(tmp_path / "instance") as ecert:
            for n in range(CITIZENS):
                ecert.accounts.create_citizen(personal(_citizen(n), "a bulk citizen id"))
        yield tmp_path
    finally:
        if client is not None:
            client.flushdb()
            client.close()


def _issue(capsys: pytest.CaptureFixture[str], batch: Path) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(["issue-batch", str(batch), "--into-wallets", "--issuer", "police", "--quiet"])
    return code, json.loads(capsys.readouterr().out)


def test_a_hundred_thousand_rows_with_bad_ones_then_again(
    instance: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = instance / "batch.jsonl"
    batch.write_text("\n".join(_line(n) for n in range(ROWS)) + "\n", encoding="utf-8")
    good = ROWS - len(BAD)

    code, first = _issue(capsys, batch)
    assert code == 1
    assert {k: first[k] for k in ("state", "total", "issued", "skipped", "failed")} == {
        "state": "done", "total": ROWS, "issued": good, "skipped": 0, "failed": len(BAD),
    }  # fmt: skip
    codes = {e["line"]: e["code"] for e in first["errors"]}
    assert set(codes) == set(BAD)
    assert {codes[line] for line in BAD} == {
        "batch_line_malformed", "unknown_citizen", "claims_invalid", "batch_row_invalid",
    }  # fmt: skip

    # The same file with 10 rows more: only those are issued.
    with batch.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(_line(n) for n in range(ROWS, ROWS + 10)) + "\n")
    code, again = _issue(capsys, batch)
    assert (again["total"], again["issued"], again["skipped"], again["failed"]) == (
        ROWS + 10, 10, good, len(BAD),
    )  # fmt: skip

    with open_instance(instance / "instance") as ecert:
        for n in (0, 1, 499, 999):
            citizen = _citizen(n)
            rows = [m for m in range(ROWS + 10) if _citizen(m) == citizen and m + 1 not in BAD]
            cards = ecert.wallets.credentials(citizen)
            assert len(cards) == len(rows)
            assert all(card.status == "valid" for card in cards)
