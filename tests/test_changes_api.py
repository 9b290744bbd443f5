"""One change, every certificate, over HTTP on SQLite and Redis: the police change a
citizen's name once, and the ID card (police), the social security card (human
resources) and the marriage certificate (civil affairs) are re-issued by their own
issuers into the wallet and onto the citizen's phone; the vehicle licence, whose
``name`` is its owner's and carries no subject field, is untouched. The old ones are
revoked in the status lists, the citizen gets a notice and activity entries."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer import load_catalogue
from store.interface import IssuerRecord
from tests.api_helpers import (
    ID_CARD,
    AuthActions,
    api_app,
    auth,
    bearer,
    client,
    demo,
    services_of,
)
from tests.factory import DERIVED, full_example
from tests.hygiene import personal
from tests.test_devices_api import copies, new_key, registered

__all__ = ["api_app", "auth", "client", "demo"]

SOCIAL = "urn:ecert:social-security-card"
MARRIAGE = "urn:ecert:marriage-certificate"
VEHICLE = "urn:ecert:vehicle-licence"
OLD_NAME = "张三"  # the demo citizen's name (cli/demo.py)
NEW_NAME = personal("张叁", "test_changes_api new name")
CATALOGUE = load_catalogue()


def changes_path(citizen: str, job: str | None = None) -> str:
    base = f"/api/v1/subjects/{citizen}/changes"
    return base if job is None else f"{base}/{job}"


def change_body(**members: Any) -> dict[str, Any]:
    body = {"field": "name", "value": NEW_NAME, "effective": "2026-01-05", "reason": "依法变更姓名"}
    body.update(members)
    return body


def issue(
    client: FlaskClient, headers: dict[str, str], slug: str, vct: str, citizen: str, **claims: Any
) -> str:
    values: dict[str, Any] = {**full_example(CATALOGUE.get(vct)), "name": OLD_NAME, **claims}
    got = client.post(
        f"/api/v1/issuers/{slug}/credentials",
        json={"vct": vct, "citizen_id": citizen, "claims": values},
        headers=headers,
    )
    assert got.status_code == 201, got.get_json()
    return str(got.get_json()["id"])


def human_resources(app: Flask) -> dict[str, str]:
    """A human-resources department (not in the demo) and its key's headers."""
    svc = services_of(app)
    record: IssuerRecord = svc.platform.register_issuer(
        "human-resources", name_zh="市人力社保局", name_en="Human Resources", vcts=[SOCIAL]
    )
    key = personal(svc.accounts.issue_api_key("department", record.iss)[1], "HR API key")
    return bearer(key)


def until_done(client: FlaskClient, location: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = client.get(location, headers=headers)
        assert got.status_code == 200, got.get_json()
        body: dict[str, Any] = got.get_json()
        if body["state"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError("the change job did not finish within 60 s")


def wallet(client: FlaskClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The wallet's cards by id, the derived attestations (issued alongside) left out."""
    items = client.get("/api/v1/wallet/credentials", headers=headers).get_json()["items"]
    return {item["id"]: item for item in items if item["vct"] not in DERIVED}


def claims_of(client: FlaskClient, headers: dict[str, str], card: str) -> dict[str, Any]:
    got = client.get(f"/api/v1/wallet/credentials/{card}", headers=headers)
    assert got.status_code == 200, got.get_json()
    claims: dict[str, Any] = got.get_json()["claims"]
    return claims


def status_bit(app: Flask, credential_id: str) -> int:
    """The credential's value in its status list, as the store holds it."""
    store = services_of(app).store
    record = store.get_credential(credential_id)
    assert record is not None
    return store.get_status(record.status_uri, record.status_idx)


@pytest.fixture
def town(client: FlaskClient, auth: AuthActions, api_app: Flask) -> dict[str, Any]:
    """The demo citizen with an ID card (police), a social security card (human
    resources), a marriage certificate (civil affairs), a vehicle licence (police) and a
    phone registered as a device."""
    citizen = auth.citizen_ids[0]
    me = auth.citizen()
    hr = human_resources(api_app)
    cards = {
        ID_CARD: next(i for i, c in wallet(client, me).items() if c["vct"] == ID_CARD),
        SOCIAL: issue(client, hr, "human-resources", SOCIAL, citizen),
        MARRIAGE: issue(
            client, auth.department("civil-affairs"), "civil-affairs", MARRIAGE, citizen,
            spouse_name="李丽",
        ),
        VEHICLE: issue(client, auth.department(), "police", VEHICLE, citizen),
    }
    device = registered(client, me, new_key())
    return {"citizen": citizen, "me": me, "hr": hr, "cards": cards, "device": device}


def test_a_name_change_reissues_every_card_that_carries_it_whoever_issued_it(
    client: FlaskClient, auth: AuthActions, api_app: Flask, town: dict[str, Any]
) -> None:
    citizen, me, cards = town["citizen"], town["me"], town["cards"]
    police = auth.department()
    got = client.post(changes_path(citizen), json=change_body(), headers=police)
    assert got.status_code == 202, got.get_json()
    answer = got.get_json()
    assert answer["field"] == "name" and answer["state"] in ("pending", "running", "done")
    assert sorted((c["vct"], c["issuer"]) for c in answer["credentials"]) == [
        (MARRIAGE, "civil-affairs"),
        (ID_CARD, "police"),
        (SOCIAL, "human-resources"),
    ]
    location = got.headers["Location"]
    assert location == changes_path(citizen, answer["id"])

    done = until_done(client, location, police)
    assert done["state"] == "done"
    by_vct = {c["vct"]: c for c in done["credentials"]}
    assert set(by_vct) == {ID_CARD, SOCIAL, MARRIAGE}
    held = wallet(client, me)
    for vct in (ID_CARD, SOCIAL, MARRIAGE):
        entry = by_vct[vct]
        assert entry["state"] == "done" and entry["old"] == cards[vct], entry
        new = entry["new"]
        # the old one: revoked in its issuer's status list, gone from the wallet
        assert status_bit(api_app, cards[vct]) == 1
        assert cards[vct] not in held
        # the new one: valid, in the wallet, with the new name and every other claim kept
        assert held[new]["status"] == "valid" and held[new]["vct"] == vct
        assert status_bit(api_app, new) == 0
        claims = claims_of(client, me, new)
        carrying = CATALOGUE.get(vct).claim_for("name")
        assert carrying is not None and claims[carrying] == NEW_NAME
    assert claims_of(client, me, by_vct[MARRIAGE]["new"])["spouse_name"] == "李丽"
    # issued by its own issuer
    svc = services_of(api_app)
    issuers = ((ID_CARD, "police"), (SOCIAL, "human-resources"), (MARRIAGE, "civil-affairs"))
    for vct, slug in issuers:
        record = svc.store.get_credential(by_vct[vct]["new"])
        assert record is not None and record.issuer == svc.platform.issuer_url(slug)
    # untouched: the vehicle licence (its `name` is the owner's, no subject field)
    assert held[cards[VEHICLE]]["status"] == "valid"
    assert claims_of(client, me, cards[VEHICLE])["name"] == OLD_NAME
    assert len(held) == 4

    # the phone: a valid copy of each new card, none of the old ones left valid
    phone = {c["credential_id"]: c for c in copies(client, me, town["device"])}
    for vct in (ID_CARD, SOCIAL, MARRIAGE):
        assert phone[by_vct[vct]["new"]]["status"] == "valid"
        assert cards[vct] not in phone or phone[cards[vct]]["status"] == "revoked"
    assert phone[cards[VEHICLE]]["status"] == "valid"

    # the citizen's notice, in both languages, naming the new cards
    notices = client.get("/api/v1/wallet/notices", headers=me).get_json()["items"]
    assert len(notices) == 1
    notice = notices[0]
    assert notice["kind"] == "change"
    assert notice["text"] == {
        "zh": "您的姓名已变更，已更新 3 张证照",
        "en": "Your name changed; 3 certificates were updated",
    }
    assert sorted(notice["credentials"]) == sorted(c["new"] for c in by_vct.values())
    # the activity: which field changed on which card, by whom; names, never values
    activity = client.get("/api/v1/wallet/activity", headers=me).get_json()["items"]
    changes = [a for a in activity if a["kind"] == "change"]
    assert sorted((a["vct"], a["venue"]["id"], a["field"], a["claims"]) for a in changes) == [
        (MARRIAGE, "civil-affairs", "name", ["name"]),
        (ID_CARD, "police", "name", ["name"]),
        (SOCIAL, "human-resources", "name", ["name"]),
    ]
    assert all(a["credential"] == by_vct[a["vct"]]["new"] and a["valid"] for a in changes)
    assert NEW_NAME not in str(activity) and OLD_NAME not in str(activity)


def test_the_same_idempotency_key_twice_changes_nothing_more(
    client: FlaskClient, auth: AuthActions, api_app: Flask, town: dict[str, Any]
) -> None:
    citizen, me = town["citizen"], town["me"]
    headers = {**auth.department(), "Idempotency-Key": "rename-2026-0001"}
    first = client.post(changes_path(citizen), json=change_body(), headers=headers)
    assert first.status_code == 202, first.get_json()
    until_done(client, first.headers["Location"], auth.department())
    cards_after = wallet(client, me)
    again = client.post(changes_path(citizen), json=change_body(), headers=headers)
    assert again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert len(services_of(api_app).jobs.list_jobs(kind="change")) == 1
    assert wallet(client, me) == cards_after
    # the same key with another body
    other = client.post(changes_path(citizen), json=change_body(value="张仨"), headers=headers)
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    # the same change again without a key: every card already holds the new name
    repeat = client.post(changes_path(citizen), json=change_body(), headers=auth.department())
    assert repeat.status_code == 202
    done = until_done(client, repeat.headers["Location"], auth.department())
    assert {(c["state"], c["reason"]) for c in done["credentials"]} == {("skipped", "same_value")}
    assert wallet(client, me) == cards_after
    assert len(client.get("/api/v1/wallet/notices", headers=me).get_json()["items"]) == 1


def test_two_changes_of_one_card_both_land(
    client: FlaskClient, auth: AuthActions, town: dict[str, Any]
) -> None:
    citizen, me = town["citizen"], town["me"]
    # both planned against the same ID card before either ran: the second follows the
    # first's replacement instead of being lost
    police = auth.department()
    first = client.post(changes_path(citizen), json=change_body(), headers=police)
    second = client.post(
        changes_path(citizen),
        json=change_body(field="address", value="北京市西城区新址2号"),
        headers=police,
    )
    assert first.status_code == second.status_code == 202
    until_done(client, first.headers["Location"], police)
    until_done(client, second.headers["Location"], police)
    cards = [c for c in wallet(client, me).values() if c["vct"] == ID_CARD]
    assert len(cards) == 1 and cards[0]["status"] == "valid"
    claims = claims_of(client, me, cards[0]["id"])
    assert (claims["name"], claims["address"]) == (NEW_NAME, "北京市西城区新址2号")


def test_who_may_change_what_and_what_answers(
    client: FlaskClient, auth: AuthActions, town: dict[str, Any]
) -> None:
    citizen = town["citizen"]
    civil = auth.department("civil-affairs")
    got = client.post(changes_path(citizen), json=change_body(), headers=civil)
    assert got.status_code == 403 and got.get_json()["code"] == "field_not_owned"
    got = client.post(
        changes_path(citizen), json=change_body(field="marital_status", value="已婚"),
        headers=auth.department(),
    )
    assert got.status_code == 403 and got.get_json()["code"] == "field_not_owned"
    got = client.post(changes_path(citizen), json=change_body(field="surname"), headers=civil)
    assert got.status_code == 422 and got.get_json()["code"] == "field_unknown"
    got = client.post(
        changes_path(citizen), json=change_body(value="名" * 65), headers=auth.department()
    )
    assert got.status_code == 422
    assert (got.get_json()["code"], got.get_json()["field"]) == ("change_invalid", "value")
    assert "名" * 65 not in got.get_data(as_text=True)
    got = client.post(
        changes_path(citizen), json=change_body(effective="2099-01-01"), headers=auth.department()
    )
    assert (got.status_code, got.get_json()["field"]) == (422, "effective")
    unknown = personal("110101198001019998", "test_changes_api unknown citizen")
    got = client.post(changes_path(unknown), json=change_body(), headers=auth.department())
    assert got.status_code == 404 and got.get_json()["code"] == "unknown_citizen"
    # keys: none, a venue's, a citizen's
    for headers in ({}, auth.venue(), town["me"]):
        got = client.post(changes_path(citizen), json=change_body(), headers=headers)
        assert got.status_code == 401, got.get_json()

    made = client.post(changes_path(citizen), json=change_body(), headers=auth.department())
    job = made.get_json()["id"]
    # another department, another citizen, an unknown id: the same 404
    for path, headers in (
        (changes_path(citizen, job), civil),
        (changes_path(auth.citizen_ids[1], job), auth.department()),
        (changes_path(unknown, job), auth.department()),
        (changes_path(citizen, "no-such-job"), auth.department()),
    ):
        got = client.get(path, headers=headers)
        assert got.status_code == 404 and got.get_json()["code"] == "job_not_found", path


def test_notices_are_the_citizens_own_and_can_be_dismissed(
    client: FlaskClient, auth: AuthActions, town: dict[str, Any]
) -> None:
    citizen, me = town["citizen"], town["me"]
    made = client.post(changes_path(citizen), json=change_body(), headers=auth.department())
    until_done(client, made.headers["Location"], auth.department())
    notice = client.get("/api/v1/wallet/notices", headers=me).get_json()["items"][0]
    other = auth.citizen(1)
    assert client.get("/api/v1/wallet/notices", headers=other).get_json()["items"] == []
    got = client.delete(f"/api/v1/wallet/notices/{notice['id']}", headers=other)
    assert got.status_code == 404 and got.get_json()["code"] == "not_found"
    got = client.delete(f"/api/v1/wallet/notices/{notice['id']}", headers=me)
    assert got.status_code == 204
    assert client.get("/api/v1/wallet/notices", headers=me).get_json()["items"] == []
    got = client.delete(f"/api/v1/wallet/notices/{notice['id']}", headers=me)
    assert got.status_code == 404
    assert client.get("/api/v1/wallet/notices", headers=auth.department()).status_code == 401
