"""The operator removes a citizen's lost phone at a counter (``ecert admin device``) and
a department's ``ecert revoke|suspend`` reaches the copies on the citizen's devices: the
same use cases as the HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from cli.seed import seed_demo
from service.instance import open_instance
from tests.api_helpers import BASE_URL
from tests.hygiene import personal_demo
from tests.test_devices_api import new_key, proof

SESSION = "a-session-token-of-the-counter-test"


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "instance"
    monkeypatch.setenv("ECERT_INSTANCE", str(folder))
    assert main(["init", "--base-url", BASE_URL]) == 0
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_the_operator_lists_and_removes_a_device_and_a_department_revokes(
    instance: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_instance(instance) as ecert:
        logins = seed_demo(ecert, ecert.accounts)
        personal_demo(logins)
        citizen = logins["citizens"][0]["citizen_id"]
        devices = ecert.devices
        made = []
        for _ in range(2):
            nonce = devices.nonce(citizen, SESSION).c_nonce
            made.append(devices.register(citizen, SESSION, proof(new_key(), nonce), "phone"))
        lost, kept = (m.device.device_id for m in made)
        copy_of = {d: devices.credentials(citizen, d)[0] for d in (lost, kept)}
    capsys.readouterr()

    code, out = run(capsys, "admin", "device", "list", citizen)
    assert code == 0
    assert [(d["id"], d["state"]) for d in json.loads(out)] == [
        (d, "active") for d in sorted((lost, kept), key=[lost, kept].index)
    ]
    assert citizen not in out
    code, out = run(capsys, "admin", "device", "remove", citizen, lost)
    assert code == 0 and json.loads(out) == {"id": lost, "state": "removed"}
    assert run(capsys, "admin", "device", "remove", citizen, lost)[0] != 0  # 404: gone
    assert run(capsys, "admin", "device", "list", "no-such-citizen")[0] != 0

    card = copy_of[kept].credential_id
    assert run(capsys, "suspend", "police", card)[0] == 0
    with open_instance(instance) as ecert:
        state = {d: ecert.store.get_credential(c.id) for d, c in copy_of.items()}
        assert {d: r.state for d, r in state.items() if r} == {lost: "revoked", kept: "suspended"}
    assert run(capsys, "reinstate", "police", card)[0] == 0
    with open_instance(instance) as ecert:
        kept_copy = ecert.store.get_credential(copy_of[kept].id)
        lost_copy = ecert.store.get_credential(copy_of[lost].id)
        assert kept_copy is not None and kept_copy.state == "valid"
        assert lost_copy is not None and lost_copy.state == "revoked"
