"""``ecert issue-batch``: many credentials from JSON Lines, nothing lost on a bad line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from keys import SigningKey
from tests.factory import ID_CARD, ID_CLAIMS
from wallet import HeldCredential


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ECERT_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("ECERT_KEY_SECRET", raising=False)
    monkeypatch.delenv("ECERT_REDIS_URL", raising=False)
    assert main(["init", "--base-url", "https://ecert.example"]) == 0
    assert (
        main(["issuer", "add", "police", "--zh", "公安", "--en", "Police", "--vct", ID_CARD]) == 0
    )
    return tmp_path


def test_every_line_gets_a_result_and_bad_lines_do_not_stop_the_batch(
    instance: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = dict(SigningKey.generate().public_jwk())
    good = {
        "issuer": "police",
        "vct": ID_CARD,
        "subject": "c-1",
        "claims": ID_CLAIMS,
        "holder_jwk": holder,
    }
    lines = [
        json.dumps(good, ensure_ascii=False),
        "not json",
        json.dumps({**good, "claims": {"name": "x"}}),  # missing required claims
        "",
        json.dumps({**good, "subject": "c-2"}, ensure_ascii=False),
        json.dumps({**good, "vct": "urn:ecert:marriage-certificate"}),  # not authorised
    ]
    batch = instance / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = instance / "out.jsonl"

    code = main(["issue-batch", str(batch), "-o", str(out), "--quiet"])

    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert code == 1  # some lines failed
    assert [r["line"] for r in results] == [1, 2, 3, 5, 6]
    assert [r.get("error", {}).get("code") for r in results] == [
        None,
        "malformed",
        "claims_invalid",
        None,
        "issuer_not_authorised",
    ]
    issued = [r for r in results if "id" in r]
    assert len({r["id"] for r in issued}) == 2
    for r in issued:
        assert HeldCredential.parse(r["credential"]).vct == ID_CARD
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    err = capsys.readouterr().err
    assert "2 issued, 3 failed" in err
    assert ID_CLAIMS["id_number"] not in err


def test_an_all_good_batch_exits_zero(instance: Path) -> None:
    holder = dict(SigningKey.generate().public_jwk())
    line = {
        "issuer": "police",
        "vct": ID_CARD,
        "subject": "c",
        "claims": ID_CLAIMS,
        "holder_jwk": holder,
    }
    batch = instance / "b.jsonl"
    batch.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["issue-batch", str(batch), "-o", str(instance / "o.jsonl"), "-q"]) == 0
