"""``ecert admin``: everything the demo seeds, one step at a time, then used over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api import create_app
from cli.main import main
from tests.factory import ID_CARD, ID_CLAIMS


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "instance"
    monkeypatch.setenv("ECERT_INSTANCE", str(folder))
    assert main(["init", "--base-url", "https://ecert.example"]) == 0
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_operator_sets_up_a_department_venue_and_citizen_by_hand(
    instance: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(
        capsys,
        "admin",
        "department",
        "add",
        "police",
        "--zh",
        "市公安局",
        "--en",
        "City Police",
        "--vct",
        ID_CARD,
    )
    assert code == 0 and "shown once" in err
    department = json.loads(out)
    code, out, _ = run(
        capsys, "admin", "venue", "add", "inn", "--zh", "客栈", "--en", "Inn", "--scene", "hotel"
    )
    venue = json.loads(out)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a long password\n"))
    code, out, _ = run(capsys, "admin", "citizen", "add", "c-1", "--password-stdin")
    assert code == 0 and "password" not in json.loads(out)

    app = create_app({"TESTING": True})
    client = app.test_client()
    issued = client.post(
        "/api/v1/issuers/police/credentials",
        json={"vct": ID_CARD, "citizen_id": "c-1", "claims": ID_CLAIMS},
        headers={"Authorization": f"Bearer {department['api_key']}"},
    )
    assert issued.status_code == 201, issued.get_json()
    login = client.post(
        "/api/v1/auth/login", json={"citizen_id": "c-1", "password": "a long password"}
    )
    token = login.get_json()["access_token"]
    shown = client.post(
        f"/api/v1/wallet/credentials/{issued.get_json()['id']}/presentations",
        json={"scene": "hotel", "mode": "offline"},
        headers={"Authorization": f"Bearer {token}"},
    ).get_json()
    result = client.post(
        "/api/v1/verify",
        json={"qr": shown["qr"], "scene": "hotel"},
        headers={"Authorization": f"Bearer {venue['api_key']}"},
    ).get_json()
    assert result["valid"], result

    # Rotation: the old key stops working at once, the new one works.
    code, out, _ = run(capsys, "admin", "key", "rotate", venue["key_id"])
    rotated = json.loads(out)
    again = client.post(
        "/api/v1/verify",
        json={"qr": "x", "scene": "hotel"},
        headers={"Authorization": f"Bearer {venue['api_key']}"},
    )
    assert again.status_code == 401
    fresh = client.post(
        "/api/v1/verify",
        json={"qr": "x", "scene": "hotel"},
        headers={"Authorization": f"Bearer {rotated['api_key']}"},
    )
    assert fresh.status_code == 200
    code, _, _ = run(capsys, "admin", "key", "revoke", rotated["key_id"])
    assert code == 0
    code, out, _ = run(capsys, "admin", "key", "list", "--principal", "inn")
    keys = json.loads(out)
    assert all(k["revoked_at"] is not None for k in keys)
    assert "api_key" not in out and "ek_" not in out


def test_a_venue_with_an_unknown_scene_is_refused(
    instance: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "admin", "venue", "add", "x", "--zh", "x", "--en", "x", "--scene", "casino"
    )
    assert code == 2 and "unknown scenes" in err


def test_citizens_import_from_csv_goes_on_past_bad_rows(
    instance: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    csv_file = tmp_path / "citizens.csv"
    csv_file.write_text(
        "citizen_id,password\nc-1,first password\nbad id!,whatever pass\nc-2,\nc-1,again pass\n",
        encoding="utf-8",
    )
    code, _, err = run(capsys, "admin", "citizen", "import", str(csv_file))
    assert code == 1
    assert "2 created, 1 already there, 1 refused" in err
    assert "line 3" in err and "whatever pass" not in err
    code, out, _ = run(capsys, "admin", "citizen", "add", "c-3")
    assert code == 0 and len(json.loads(out)["password"]) >= 12


def test_exports(instance: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run(
        capsys,
        "admin",
        "department",
        "add",
        "police",
        "--zh",
        "公安",
        "--en",
        "Police",
        "--vct",
        ID_CARD,
    )
    assert run(capsys, "admin", "export", "bundle", "-o", str(tmp_path / "b.json"))[0] == 0
    assert set(json.loads((tmp_path / "b.json").read_text())) == {"trust_list", "status_lists"}
    assert run(capsys, "admin", "export", "trust-list", "-o", str(tmp_path / "t.jwt"))[0] == 0
    assert (tmp_path / "t.jwt").read_text().startswith("eyJ")


def test_an_operator_key_is_shown_once_opens_the_stats_and_is_revoked_by_name(
    instance: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "admin", "operator-key", "add", "night-shift")
    assert code == 0 and "shown once" in err
    made = json.loads(out)
    assert made["name"] == "night-shift" and made["api_key"].startswith("ek_")
    code, out, _ = run(capsys, "admin", "key", "list", "--principal", "night-shift")
    assert [k["kind"] for k in json.loads(out)] == ["operator"] and "ek_" not in out

    client = create_app({"TESTING": True}).test_client()
    headers = {"Authorization": f"Bearer {made['api_key']}"}
    assert client.get("/api/v1/admin/stats", headers=headers).status_code == 200

    code, out, _ = run(capsys, "admin", "operator-key", "revoke", "night-shift")
    assert code == 0 and json.loads(out)["revoked"] == [made["key_id"]]
    assert client.get("/api/v1/admin/stats", headers=headers).status_code == 401
    code, _, err = run(capsys, "admin", "operator-key", "revoke", "night-shift")
    assert code != 0 and "no live operator key" in err
    code, _, err = run(capsys, "admin", "operator-key", "add", "bad name")
    assert code != 0
