"""``ecert demo`` (issue 9): its QR code is the compact one the wallet shows (version
about 20, not 34), and what it says about a second offline check is true."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from verifier.qrimage import decode_qr
from wallet.qr import qr_version


def _verify(capsys: pytest.CaptureFixture[str], out: Path, *extra: str) -> dict[str, object]:
    capsys.readouterr()
    main([
        "verify", "--image", str(out / "hotel-qr.png"), "--bundle", str(out / "bundle.json"),
        "--anchor", str(out / "anchor.json"), "--scene", "hotel", *extra,
    ])  # fmt: skip
    answer: dict[str, object] = json.loads(capsys.readouterr().out)
    return answer


def test_the_demo_qr_is_compact_and_its_words_about_a_second_check_are_true(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ECERT_KEY_SECRET", "ECERT_REDIS_URL", "ECERT_BASE_URL", "ECERT_INSTANCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "demo-out"
    assert main(["demo", "-o", str(out)]) == 0
    said = capsys.readouterr().err
    text = decode_qr((out / "hotel-qr.png").read_bytes())
    assert text.startswith("EC2:") and text == (out / "hotel-qr.txt").read_text().strip()
    assert qr_version(text) <= 22, qr_version(text)
    assert f"QR version {qr_version(text)} at level M" in said
    assert "the same QR code again at this verifier: refused (replayed)" in said
    assert "once" not in said  # it used to claim "valid for 120 s, once" of every check

    # As it says: two runs sharing --replay-db, the second is refused...
    seen = str(out / "seen.db")
    assert "--replay-db" in said
    assert _verify(capsys, out, "--replay-db", seen)["valid"] is True
    second = _verify(capsys, out, "--replay-db", seen)
    assert second["valid"] is False
    assert [e["code"] for e in second["errors"]] == ["replayed"]  # type: ignore[attr-defined]
    # ...and without it, each run starts with an empty memory and accepts it again.
    assert "Without --replay-db each run starts with an empty memory" in said
    assert _verify(capsys, out)["valid"] is True
