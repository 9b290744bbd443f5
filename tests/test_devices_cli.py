"""The operator removes a citizen's lost phone at a counter (``ecert admin device``) and
a department's ``ecert revoke|suspend`` reaches the copies on the citizen's devices: the
same use cases as the HTTP API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from cli.seed import seed_demo
from service.instance import open_instance
from tests.api_helpers import BASE_URL
from tests.factory import ID_CARD, ID_CLAIMS
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


def test_a_registration_that_fails_halfway_leaves_no_device_and_no_valid_copy(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy that cannot be issued (the store or the issuer failing mid-way) must not
    leave a device with some of the cards: the device is removed and the copies made so
    far are revoked, so the phone starts again with a new key."""
    with open_instance(instance) as ecert:
        logins = seed_demo(ecert, ecert.accounts)
        personal_demo(logins)
        citizen = logins["citizens"][0]["citizen_id"]
        police = next(i for i in ecert.store.list_issuers() if ID_CARD in i.vcts)
        ecert.issuance.issue(police, ID_CARD, citizen, {**ID_CLAIMS, "id_number": citizen})
        assert len(ecert.wallets.credentials(citizen)) >= 2
        devices = ecert.devices
        made: list[str] = []
        real_copy = devices._copy

        def copy_then_fail(citizen_id: str, device: Any, credential_id: str) -> Any:
            if made:
                raise OSError("the disk is full")
            copy = real_copy(citizen_id, device, credential_id)
            assert copy is not None
            made.append(copy.copy_id)
            return copy

        monkeypatch.setattr(devices, "_copy", copy_then_fail)
        nonce = devices.nonce(citizen, SESSION).c_nonce
        with pytest.raises(OSError):
            devices.register(citizen, SESSION, proof(new_key(), nonce), "phone")
        listed = devices.list_devices(citizen)
        assert [d.state for d in listed] == ["removed"]
        assert len(made) == 1
        assert ecert.store.get_credential(made[0]) is not None
        assert devices._vault.live_state(made[0]) == "revoked"
