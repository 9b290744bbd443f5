"""Re-issuing one credential in a wallet (service/reissue.py): the new one reaches the
wallet and every device before the old one is revoked, and a call repeated with the same
id after a crash at any point leaves exactly one valid version."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from cli.main import main
from cli.seed import seed_demo
from service.instance import Ecert, open_instance
from tests.api_helpers import BASE_URL
from tests.factory import ID_CARD
from tests.hygiene import personal, personal_demo
from tests.test_devices_api import new_key, proof
from wallet.presentation import HeldCredential
from wallet.vault import LiveState

SESSION = "a-session-token-of-the-reissue-test"


@pytest.fixture
def ecert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ecert:
    folder = tmp_path / "instance"
    monkeypatch.setenv("ECERT_INSTANCE", str(folder))
    assert main(["init", "--base-url", BASE_URL]) == 0
    opened = open_instance(folder)
    logins = seed_demo(opened, opened.accounts)
    personal_demo(logins)
    opened.test_citizen = logins["citizens"][0]["citizen_id"]  # type: ignore[attr-defined]
    return opened


def _id_card(ecert: Ecert, citizen: str) -> str:
    return next(
        c.item.credential_id for c in ecert.wallets.credentials(citizen) if c.item.vct == ID_CARD
    )


def _valid_id_cards(ecert: Ecert, citizen: str) -> list[str]:
    return [
        c.item.credential_id
        for c in ecert.wallets.credentials(citizen)
        if c.item.vct == ID_CARD and c.status == "valid"
    ]


def test_a_credential_is_replaced_with_the_new_value_everywhere(ecert: Ecert) -> None:
    citizen: str = ecert.test_citizen  # type: ignore[attr-defined]
    made = ecert.devices.register(
        citizen, SESSION, proof(new_key(), ecert.devices.nonce(citizen, SESSION).c_nonce), "phone"
    )
    old = _id_card(ecert, citizen)
    old_copy = next(
        c
        for c in ecert.devices.credentials(citizen, made.device.device_id)
        if c.credential_id == old
    )
    new_name = personal("李四新", "a changed name")
    new_id = secrets.token_urlsafe(16)
    done = ecert.reissue.replace(citizen, old, new_id=new_id, claims={"name": new_name})
    assert done.outcome == "replaced" and done.new is not None and done.new.id == new_id
    assert _valid_id_cards(ecert, citizen) == [new_id]
    assert ecert.wallets.credential(citizen, new_id).claims["name"] == new_name
    old_record = ecert.store.get_credential(old)
    assert old_record is not None and old_record.state == "revoked"
    assert ecert.vault.live_state(old_copy.id) == "revoked"
    copies = ecert.devices.credentials(citizen, made.device.device_id)
    new_copies = [c for c in copies if c.credential_id == new_id]
    assert len(new_copies) == 1 and new_copies[0].status == "valid"
    assert not [c for c in copies if c.credential_id == old]
    # The same call again (a crash right after it, the step run again): nothing more.
    again = ecert.reissue.replace(citizen, old, new_id=new_id, claims={"name": new_name})
    assert again.outcome == "replaced"
    assert _valid_id_cards(ecert, citizen) == [new_id]
    copies = ecert.devices.credentials(citizen, made.device.device_id)
    assert len([c for c in copies if c.credential_id == new_id]) == 1


def test_a_credential_issued_but_never_delivered_is_revoked_and_reported(ecert: Ecert) -> None:
    """The crash came between the registry and the wallet: the caller must use another id."""
    citizen: str = ecert.test_citizen  # type: ignore[attr-defined]
    old = _id_card(ecert, citizen)
    card = ecert.store.get_credential(old)
    assert card is not None
    lost = secrets.token_urlsafe(16)
    ecert.issuer.issue(
        card.issuer,
        ID_CARD,
        subject=citizen,
        claims=ecert.reissue.claims(citizen, old),
        holder_jwk=ecert.vault.holder_jwk(citizen),
        credential_id=lost,
    )
    got = ecert.reissue.replace(citizen, old, new_id=lost, claims={"name": "王五"})
    assert got.outcome == "orphaned"
    assert ecert.vault.live_state(lost) == "revoked"
    assert _valid_id_cards(ecert, citizen) == [old]  # never neither
    fresh = secrets.token_urlsafe(16)
    assert ecert.reissue.replace(citizen, old, new_id=fresh, claims={}).outcome == "replaced"
    assert _valid_id_cards(ecert, citizen) == [fresh]


def test_what_cannot_be_replaced_is_skipped_with_its_reason(ecert: Ecert) -> None:
    citizen: str = ecert.test_citizen  # type: ignore[attr-defined]
    other = "110101199901010010"
    old = _id_card(ecert, citizen)
    assert ecert.reissue.replace(other, old, new_id=secrets.token_urlsafe(16)).reason == "unknown"
    card = ecert.store.get_credential(old)
    assert card is not None
    ecert.issuer.suspend(card.issuer, old)
    skipped = ecert.reissue.replace(citizen, old, new_id=secrets.token_urlsafe(16))
    assert (skipped.outcome, skipped.reason) == ("skipped", "not_valid")


def test_the_card_list_read_during_a_reissue_never_shows_neither_version(
    ecert: Ecert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race that a kill -9 test once caught on Redis: the list is read before the
    new card is delivered, and the old card's status after it is revoked. The list is
    read again after the statuses, so the reader sees the change instead of a card with
    no valid version."""
    citizen: str = ecert.test_citizen  # type: ignore[attr-defined]
    old = _id_card(ecert, citizen)
    new_id = secrets.token_urlsafe(16)
    live_state = ecert.vault.live_state
    raced: list[str] = []

    def racing(credential_id: str) -> LiveState:
        if credential_id == old and not raced:
            raced.append(credential_id)  # the re-issue runs between the two reads
            ecert.reissue.replace(citizen, old, new_id=new_id, claims={})
        return live_state(credential_id)

    monkeypatch.setattr(ecert.vault, "live_state", racing)
    assert _valid_id_cards(ecert, citizen) == [new_id]
    assert raced == [old]


def test_a_card_taken_out_while_the_list_is_read_is_left_out_not_an_error(
    ecert: Ecert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the same race: the list names the old card, and the re-issue
    takes it out of the wallet before the list opens it."""
    citizen: str = ecert.test_citizen  # type: ignore[attr-defined]
    old = _id_card(ecert, citizen)
    new_id = secrets.token_urlsafe(16)
    credential = ecert.vault.credential
    raced: list[str] = []

    def racing(citizen_id: str, credential_id: str) -> HeldCredential:
        if credential_id == old and not raced:
            raced.append(credential_id)
            ecert.reissue.replace(citizen, old, new_id=new_id, claims={})
        return credential(citizen_id, credential_id)

    monkeypatch.setattr(ecert.vault, "credential", racing)
    assert _valid_id_cards(ecert, citizen) == [new_id]
    assert raced == [old]
