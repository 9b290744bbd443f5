"""``ecert issue-batch FILE --into-wallets --issuer SLUG``: the batch job from the command
line (the same job as ``POST …/batches``): the summary as JSON, the credentials in the
wallets, a re-run that skips every row issued, and ``ecert jobs show`` that follows it.
Without the flag, ``issue-batch`` keeps its behaviour (tests/test_cli_batch.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from service.instance import open_instance
from tests.factory import ID_CARD, ID_CLAIMS
from tests.hygiene import personal

CITIZENS = [personal(f"cli-batch-citizen-{n}", "test_cli_batch_wallets citizen") for n in range(2)]
NOTICE = {"zh": "您的证照已发放到钱包。", "en": "Your certificate is in your wallet."}


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ECERT_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("ECERT_KEY_SECRET", raising=False)
    monkeypatch.delenv("ECERT_REDIS_URL", raising=False)
    assert main(["init", "--base-url", "https://ecert.example"]) == 0
    assert (
        main(["issuer", "add", "police", "--zh", "公安", "--en", "Police", "--vct", ID_CARD]) == 0
    )
    with open_instance(tmp_path / "instance") as ecert:
        for citizen in CITIZENS:
            ecert.accounts.create_citizen(citizen)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def test_issue_batch_into_wallets_runs_the_batch_job(
    instance: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"row_id": f"r-{n}", "citizen_id": CITIZENS[n % 2], "vct": ID_CARD,
         "claims": ID_CLAIMS, "notice": NOTICE}
        for n in range(5)
    ]  # fmt: skip
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(2, '{"row_id": "bad"}')
    batch = instance / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["issue-batch", str(batch), "--into-wallets", "--issuer", "police", "--quiet"]

    code, summary = _run(capsys, *argv)
    assert code == 1  # one line failed
    assert {k: summary[k] for k in ("state", "total", "issued", "skipped", "failed")} == {
        "state": "done", "total": 6, "issued": 5, "skipped": 0, "failed": 1,
    }  # fmt: skip
    assert summary["errors"] == [
        {"line": 3, "code": "batch_row_invalid", "message": "The row has no 'citizen_id'."}
    ]
    with open_instance(instance / "instance") as ecert:
        held = [len(ecert.wallets.credentials(c)) for c in CITIZENS]
        assert held == [3, 2]
        assert all(len(ecert.notices.list_notices(c)) == h for c, h in zip(CITIZENS, held))

    # The job is the service's: `ecert jobs show` follows it.
    code, shown = _run(capsys, "jobs", "show", summary["id"])
    assert code == 0 and (shown["kind"], shown["done"], shown["failed"]) == ("batch", 5, 1)
    assert [(e["line"], e["code"]) for e in shown["errors"]] == [(3, "batch_row_invalid")]

    # Again: every good row was issued, so every one is skipped.
    code, again = _run(capsys, *argv)
    assert (again["issued"], again["skipped"], again["failed"]) == (0, 5, 1)
    with open_instance(instance / "instance") as ecert:
        assert [len(ecert.wallets.credentials(c)) for c in CITIZENS] == [3, 2]


def test_into_wallets_needs_the_issuer_and_the_old_form_needs_its_output(
    instance: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = instance / "batch.jsonl"
    batch.write_text("{}\n", encoding="utf-8")
    assert main(["issue-batch", str(batch), "--into-wallets"]) == 2
    assert "--issuer" in capsys.readouterr().err
    assert main(["issue-batch", str(batch)]) == 2
    assert "-o/--output" in capsys.readouterr().err
