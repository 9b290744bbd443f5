"""Guardians and carers over HTTP on SQLite and Redis (issue 12): a guardianship issued
by the police gives the parent held-for copies of the child's cards, presented at the
hospital as one set and verified with both parties shown; refused once the guardianship
is revoked and after the child's majority; an elder authorises a carer from the wallet
(``/api/v1/wallet/carers``), whose presentation at the bank is verified, and refused for
a scene not authorised, after withdrawal and after ``until``; every refusal's code."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.catalogue import load_catalogue
from service.links import eighteenth_birthday
from service.wallets import credential_claims
from store.interface import VenueRecord
from tests.api_helpers import AuthActions, api_app, auth, bearer, client, demo, services_of
from tests.factory import full_example
from tests.hygiene import personal, personal_claims

__all__ = ["api_app", "auth", "client", "demo"]

ID_CARD = "urn:ecert:resident-id-card"
HOUSEHOLD = "urn:ecert:household-register"
GUARDIANSHIP = "urn:ecert:guardianship"
CARE = "urn:ecert:care-authorisation"
AGE = "urn:ecert:age-attestation"
CHILD_ID = "110101201601010035"  # not the demo's son (cli/seed.py)
CHILD = personal("李小明", "a ward's name")
OTHER_CHILD_ID = "110101201009010052"
OTHER_CHILD = personal("李小红", "another ward's name")
ELDER_ID = "11010119480303004X"  # not the demo's elder
ELDER = personal("王老汉", "an elder's name")
PASSWORD = personal("pw-链接-0001", "a test citizen's password")
CARERS = "/api/v1/wallet/carers"
CATALOGUE = load_catalogue()


#: Every scene names a category of issuer/data/scene_categories.json.
_CATEGORIES = {
    "hotel": "accommodation",
    "hospital": "medical",
    "bank": "finance",
    "pharmacy": "medical",
    "library": "culture_tourism",
}


def _scene(scene_id: str, claims: list[str], **flags: bool) -> dict[str, Any]:
    return {
        "id": scene_id,
        "name": {"zh": scene_id, "en": scene_id},
        "accept": [{"vct": ID_CARD, "claims": claims}],
        "max_age": 120,
        "category": _CATEGORIES[scene_id],
        **flags,
    }


@dataclass
class World:
    app: Flask
    client: FlaskClient
    auth: AuthActions
    venues: dict[str, dict[str, str]]

    @property
    def svc(self) -> Any:
        return services_of(self.app).instance

    def login(self, citizen_id: str) -> dict[str, str]:
        got = self.client.post(
            "/api/v1/auth/login", json={"citizen_id": citizen_id, "password": PASSWORD}
        )
        assert got.status_code == 200, got.get_json()
        return bearer(personal(got.get_json()["access_token"], "a test citizen's token"))

    def citizen(self, citizen_id: str, name: str, birth: str) -> dict[str, str]:
        self.svc.accounts.create_citizen(citizen_id, PASSWORD)
        self.issue("police", ID_CARD, citizen_id, name=name, id_number=citizen_id, birth_date=birth)
        return self.login(citizen_id)

    def issue_raw(self, slug: str, vct: str, citizen_id: str, claims: dict[str, Any]) -> Any:
        return self.client.post(
            f"/api/v1/issuers/{slug}/credentials",
            json={"vct": vct, "citizen_id": citizen_id, "claims": claims},
            headers=self.auth.department(slug),
        )

    def issue(self, slug: str, vct: str, citizen_id: str, **claims: Any) -> str:
        values = personal_claims({**full_example(CATALOGUE.get(vct)), **claims}, "link claims")
        got = self.issue_raw(slug, vct, citizen_id, values)
        assert got.status_code == 201, got.get_json()
        return str(got.get_json()["id"])

    def cards(self, headers: dict[str, str]) -> list[dict[str, Any]]:
        got = self.client.get("/api/v1/wallet/credentials", headers=headers)
        assert got.status_code == 200, got.get_json()
        items: list[dict[str, Any]] = got.get_json()["items"]
        return items

    def held(self, headers: dict[str, str], name: str, vct: str = ID_CARD) -> str:
        (card,) = [
            c
            for c in self.cards(headers)
            if c["held_for"] is not None and c["held_for"]["name"] == name and c["vct"] == vct
        ]
        return str(card["id"])

    def present(self, headers: dict[str, str], card: str, scene: str) -> Any:
        return self.client.post(
            f"/api/v1/wallet/credentials/{card}/presentations",
            json={"scene": scene, "mode": "online"},
            headers=headers,
        )

    def qr(self, headers: dict[str, str], card: str, scene: str) -> str:
        got = self.present(headers, card, scene)
        assert got.status_code == 201, got.get_json()
        return str(got.get_json()["qr"])

    def verify(self, qr: str, scene: str) -> dict[str, Any]:
        got = self.client.post(
            "/api/v1/verify", json={"qr": qr, "scene": scene}, headers=self.venues[scene]
        )
        assert got.status_code == 200, got.get_json()
        answer: dict[str, Any] = got.get_json()
        return answer


@pytest.fixture
def world(api_app: Flask, client: FlaskClient, auth: AuthActions) -> World:
    svc = services_of(api_app).instance
    svc.platform.set_scenes(
        [
            _scene("hotel", ["name", "id_number"]),
            _scene("hospital", ["name", "id_number", "sex", "birth_date"], guardian=True),
            _scene("bank", ["name", "id_number"], carer=True),
            _scene("pharmacy", ["name", "id_number"], carer=True),
            _scene("library", ["name"], carer=True),
        ]
    )
    svc.verification.online.check_every = 0.0
    venues = {}
    for scene in ("hotel", "hospital", "bank", "pharmacy", "library"):
        svc.store.put_venue(VenueRecord(f"v-{scene}", scene, scene, (scene,), 0))
        key = svc.accounts.issue_api_key("venue", f"v-{scene}")[1]
        venues[scene] = bearer(personal(key, "a venue key"))
    return World(api_app, client, auth, venues)


def _guardianship(world: World, guardian: str, ward: str, name: str, born: str) -> Any:
    claims = {
        "guardian_name": "张三",
        "guardian_id_number": guardian,
        "ward_name": name,
        "ward_id_number": ward,
        "ward_birth_date": born,
        "relationship": "father",
    }
    return world.issue_raw("police", GUARDIANSHIP, guardian, personal_claims(claims, "a link"))


def _job_ended(world: World, job_id: str) -> None:
    """Wait for the app's job worker to end a job."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = world.svc.jobs.get(job_id)
        if job is not None and job.state in ("done", "failed"):
            assert job.state == "done", job
            return
        time.sleep(0.05)
    raise AssertionError("the job did not end within 60 s")


def _refused(answer: dict[str, Any], code: str, member: int | None = None) -> None:
    assert answer["valid"] is False, answer
    assert any(
        e["code"] == code and (member is None or e.get("member") == member)
        for e in answer["errors"]
    ), answer["errors"]
    assert answer["claims"] == {}


# -- guardians ---------------------------------------------------------------------------


def test_a_guardian_presents_a_childs_card_at_the_hospital(world: World) -> None:
    father_id = world.auth.citizen_ids[0]
    father = world.auth.citizen(0)
    world.citizen(CHILD_ID, CHILD, "2016-01-01")
    got = _guardianship(world, father_id, CHILD_ID, CHILD, "2016-01-01")
    assert got.status_code == 201, got.get_json()
    link_id = got.get_json()["id"]
    assert world.svc.store.get_credential(link_id).expires_at == eighteenth_birthday("2016-01-01")

    copy = world.held(father, CHILD)
    answer = world.verify(world.qr(father, copy, "hospital"), "hospital")
    assert answer["valid"], answer["errors"]
    assert [m["role"] for m in answer["members"]] == ["ward", "guardianship"]
    assert answer["claims"][GUARDIANSHIP] == {
        "guardian_name": "张三",
        "ward_name": CHILD,
        "relationship": "father",
    }
    assert answer["claims"][ID_CARD]["id_number"] == CHILD_ID
    # the guardian's own card is presented alone, as before
    own = next(
        c["id"] for c in world.cards(father) if c["held_for"] is None and c["vct"] == ID_CARD
    )
    assert world.verify(world.qr(father, own, "hotel"), "hotel")["valid"]
    # a scene that takes no guardian: nothing is made
    refused = world.present(father, copy, "hotel")
    assert refused.status_code == 400 and refused.get_json()["code"] == "scene_unmet"

    # the child's new credential reaches the guardian too
    world.issue("police", HOUSEHOLD, CHILD_ID, name=CHILD, id_number=CHILD_ID)
    assert world.held(father, CHILD, HOUSEHOLD)

    # revoked by the police: the set is refused, the copies leave the guardian's wallet
    made = world.qr(father, copy, "hospital")
    revoked = world.client.post(
        f"/api/v1/issuers/police/credentials/{link_id}/revoke",
        headers=world.auth.department("police"),
    )
    assert revoked.status_code == 200, revoked.get_json()
    _refused(world.verify(made, "hospital"), "revoked")
    assert world.svc.store.get_credential(copy).state == "revoked"
    assert not [c for c in world.cards(father) if c["held_for"] is not None]
    assert world.present(father, copy, "hospital").status_code == 404


def test_a_copy_of_one_child_with_the_link_of_another_is_refused(world: World) -> None:
    father_id = world.auth.citizen_ids[0]
    father = world.auth.citizen(0)
    world.citizen(CHILD_ID, CHILD, "2016-01-01")
    world.citizen(OTHER_CHILD_ID, OTHER_CHILD, "2010-09-01")
    assert _guardianship(world, father_id, CHILD_ID, CHILD, "2016-01-01").status_code == 201
    other = _guardianship(world, father_id, OTHER_CHILD_ID, OTHER_CHILD, "2010-09-01")
    assert other.status_code == 201
    svc = world.svc
    scene = svc.verification.online.verifier().trust_list.scenes["hospital"]
    # the wallet never pairs them: build the set server-side, as an attacker's wallet would
    mixed = svc.vault.present_with_link(
        father_id,
        world.held(father, CHILD),
        other.get_json()["id"],
        scene,
        ("guardian_name", "ward_name", "relationship"),
    )
    qr = svc.presentations.show(father_id, mixed, "online").qr
    _refused(world.verify(qr, "hospital"), "link_mismatch", 0)


def test_a_guardianship_ends_at_the_childs_majority(world: World) -> None:
    father_id = world.auth.citizen_ids[0]
    father = world.auth.citizen(0)
    world.citizen(CHILD_ID, CHILD, "2016-01-01")
    assert _guardianship(world, father_id, CHILD_ID, CHILD, "2016-01-01").status_code == 201
    copy = world.held(father, CHILD)
    svc = world.svc
    copy_record = svc.store.get_credential(copy)
    assert copy_record.expires_at <= eighteenth_birthday("2016-01-01")
    later = eighteenth_birthday("2016-01-01") + 60
    svc.vault.clock = lambda: later
    svc.links.clock = lambda: later
    try:
        refused = world.present(father, copy, "hospital")
        assert refused.status_code in (404, 409), refused.get_json()
        assert svc.links.refresh(father_id) == 1
        (link,) = svc.links.links_of(father_id)
        assert link.state == "expired"
        assert svc.store.get_credential(copy).state == "revoked"
        assert not [c for c in world.cards(father) if c["held_for"] is not None]
    finally:
        svc.vault.clock = time.time
        svc.links.clock = time.time


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"guardian_id_number": "440305198812120064"}, "guardianship_invalid"),
        ({"ward_birth_date": "2015-06-02"}, "guardianship_invalid"),
        ({"relationship": "uncle"}, "guardianship_invalid"),
        ({"ward_id_number": "110101199003070011"}, "guardianship_invalid"),
        (
            {"ward_id_number": "11010119480303004X", "ward_birth_date": "1948-03-03"},
            "guardianship_ward_adult",
        ),
    ],
)
def test_a_guardianship_that_does_not_hold_together_is_refused(
    world: World, change: dict[str, str], code: str
) -> None:
    father_id = world.auth.citizen_ids[0]
    claims = {
        "guardian_name": "张三",
        "guardian_id_number": father_id,
        "ward_name": CHILD,
        "ward_id_number": CHILD_ID,
        "ward_birth_date": "2016-01-01",
        "relationship": "father",
        **change,
    }
    got = world.issue_raw("police", GUARDIANSHIP, father_id, personal_claims(claims, "a link"))
    assert got.status_code == 422, got.get_json()
    assert got.get_json()["code"] == code
    assert not world.svc.links.links_of(father_id)


def test_a_department_cannot_issue_a_care_authorisation(world: World) -> None:
    values = personal_claims(full_example(CATALOGUE.get(CARE)), "care claims")
    got = world.issue_raw("civil-affairs", CARE, world.auth.citizen_ids[1], values)
    assert got.status_code == 403 and got.get_json()["code"] == "care_authorisation_from_wallet"


# -- carers ------------------------------------------------------------------------------


def _until(days: int) -> str:
    china = dt.timezone(dt.timedelta(hours=8))  # a care authorisation's days end there
    return (dt.datetime.now(china).date() + dt.timedelta(days=days)).isoformat()


def test_a_carer_presents_for_an_elder_at_the_bank(world: World) -> None:
    elder = world.citizen(ELDER_ID, ELDER, "1948-03-03")
    world.issue("police", HOUSEHOLD, ELDER_ID, name=ELDER, id_number=ELDER_ID)
    carer_id = world.auth.citizen_ids[1]
    carer = world.auth.citizen(1)
    given = world.client.post(
        CARERS,
        json={"carer_id": carer_id, "scenes": ["bank", "pharmacy"], "until": _until(30)},
        headers=elder,
    )
    assert given.status_code == 201, given.get_json()
    entry = given.get_json()
    assert entry["state"] == "active" and entry["scenes"] == ["bank", "pharmacy"]
    assert entry["carer"] == carer_id[:4] + "*" * 10 + carer_id[-4:]
    assert entry["until"] == _until(30)

    # only what the scenes accept is copied: the ID card, not the household register
    copy = world.held(carer, ELDER)
    assert not [c for c in world.cards(carer) if c["vct"] == HOUSEHOLD]
    answer = world.verify(world.qr(carer, copy, "bank"), "bank")
    assert answer["valid"], answer["errors"]
    assert [m["role"] for m in answer["members"]] == ["principal", "care_authorisation"]
    assert answer["claims"][CARE] == {
        "principal_name": ELDER,
        "carer_name": "李四",
        "scenes": "bank pharmacy",
    }
    # a scene that takes carers but is not authorised: made, and refused by the verifier
    _refused(world.verify(world.qr(carer, copy, "library"), "library"), "scene_unmet", 1)
    # a scene that takes no carer: not made
    assert world.present(carer, copy, "hospital").get_json()["code"] == "scene_unmet"

    # withdrawn: at once
    made = world.qr(carer, copy, "bank")
    gone = world.client.delete(f"{CARERS}/{entry['id']}", headers=elder)
    assert gone.status_code == 200 and gone.get_json()["state"] == "withdrawn"
    _refused(world.verify(made, "bank"), "revoked")
    assert world.svc.store.get_credential(copy).state == "revoked"
    assert not [c for c in world.cards(carer) if c["held_for"] is not None]
    again = world.client.delete(f"{CARERS}/{entry['id']}", headers=elder)
    assert again.status_code == 404 and again.get_json()["code"] == "not_found"
    (listed,) = world.client.get(CARERS, headers=elder).get_json()["items"]
    assert listed["state"] == "withdrawn" and not listed["active"]


def test_a_care_authorisation_ends_after_until(world: World) -> None:
    elder = world.citizen(ELDER_ID, ELDER, "1948-03-03")
    carer_id = world.auth.citizen_ids[1]
    carer = world.auth.citizen(1)
    given = world.client.post(
        CARERS, json={"carer_id": carer_id, "scenes": ["bank"], "until": _until(0)}, headers=elder
    )
    assert given.status_code == 201, given.get_json()
    copy = world.held(carer, ELDER)
    svc = world.svc
    later = given.get_json()["expires_at"] + 60
    svc.vault.clock = lambda: later
    svc.links.clock = lambda: later
    try:
        assert world.present(carer, copy, "bank").status_code in (404, 409)
        (listed,) = world.client.get(CARERS, headers=elder).get_json()["items"]
        assert listed["state"] == "expired"
        assert svc.store.get_credential(copy).state == "revoked"
    finally:
        svc.vault.clock = time.time
        svc.links.clock = time.time


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"scenes": ["hospital"]}, 422, "carer_invalid"),
        ({"scenes": ["nowhere"]}, 422, "carer_invalid"),
        ({"until": _until(366)}, 422, "carer_invalid"),
        ({"until": _until(-1)}, 422, "carer_invalid"),
        ({"until": "2026-02-30"}, 422, "carer_invalid"),
        ({"carer_id": ELDER_ID}, 422, "carer_invalid"),
        ({"scenes": []}, 400, "invalid_request"),
        ({"extra": 1}, 400, "invalid_request"),
    ],
)
def test_a_care_authorisation_the_wallet_refuses(
    world: World, body: dict[str, Any], status: int, code: str
) -> None:
    elder = world.citizen(ELDER_ID, ELDER, "1948-03-03")
    full = {"carer_id": world.auth.citizen_ids[1], "scenes": ["bank"], "until": _until(9)}
    got = world.client.post(CARERS, json={**full, **body}, headers=elder)
    assert got.status_code == status, got.get_json()
    assert got.get_json()["code"] == code
    assert world.client.get(CARERS, headers=elder).get_json()["items"] == []


def test_an_unknown_carer_is_answered_like_a_known_one_and_carers_are_capped(
    world: World,
) -> None:
    elder = world.citizen(ELDER_ID, ELDER, "1948-03-03")
    known = world.client.post(
        CARERS,
        json={"carer_id": world.auth.citizen_ids[1], "scenes": ["bank"], "until": _until(9)},
        headers=elder,
    )
    unknown = world.client.post(
        CARERS,
        json={"carer_id": "110101197007070052", "scenes": ["bank"], "until": _until(9)},
        headers=elder,
    )
    assert known.status_code == unknown.status_code == 201
    assert set(known.get_json()) == set(unknown.get_json())
    assert unknown.get_json()["state"] == "active"
    third = world.client.post(
        CARERS,
        json={"carer_id": "110101201009010052", "scenes": ["bank"], "until": _until(9)},
        headers=elder,
    )
    assert third.status_code == 201
    full = world.client.post(
        CARERS,
        json={"carer_id": "110101197505050070", "scenes": ["bank"], "until": _until(9)},
        headers=elder,
    )
    assert full.status_code == 409 and full.get_json()["code"] == "carer_limit_reached"
    # a citizen with no ID card cannot be named in an authorisation
    world.svc.accounts.create_citizen("110101198001010061", PASSWORD)
    bare = world.login("110101198001010061")
    unnamed = world.client.post(
        CARERS,
        json={"carer_id": world.auth.citizen_ids[1], "scenes": ["bank"], "until": _until(9)},
        headers=bare,
    )
    assert unnamed.status_code == 422 and unnamed.get_json()["code"] == "carer_principal_unnamed"


# -- held-for copies and the rest of the service ----------------------------------------------


def test_held_for_copies_stay_off_devices_and_out_of_the_holders_own_changes(
    world: World,
) -> None:
    from tests.test_changes_api import change_body, changes_path, until_done
    from tests.test_devices_api import copies, new_key, registered

    father_id = world.auth.citizen_ids[0]
    father = world.auth.citizen(0)
    world.citizen(CHILD_ID, CHILD, "2016-01-01")
    got = _guardianship(world, father_id, CHILD_ID, CHILD, "2016-01-01")
    assert got.status_code == 201, got.get_json()
    copy = world.held(father, CHILD)
    # a phone registered now gets the father's cards and the link, never the child's copy
    device = registered(world.client, father, new_key())
    on_phone = {c["credential_id"] for c in copies(world.client, father, device)}
    assert got.get_json()["id"] in on_phone and copy not in on_phone
    # the copy is never shown alone, even through the card's own presentation route
    assert world.present(father, copy, "hospital").status_code == 201
    # the father's name changes: his cards are re-issued, the child's copy is not
    police = world.auth.department()
    changed = world.client.post(changes_path(father_id), json=change_body(), headers=police)
    assert changed.status_code == 202, changed.get_json()
    assert copy not in {c["old"] for c in changed.get_json()["credentials"]}
    until_done(world.client, changed.headers["Location"], police)
    assert world.held(father, CHILD) == copy
    # the child's name changes: the child's card is re-issued, and so is the copy
    renamed = world.client.post(
        changes_path(CHILD_ID), json=change_body(value=OTHER_CHILD), headers=police
    )
    assert renamed.status_code == 202, renamed.get_json()
    until_done(world.client, renamed.headers["Location"], police)
    assert world.svc.store.get_credential(copy).state == "revoked"
    fresh = world.held(father, OTHER_CHILD)  # the link names the child anew
    assert fresh != copy
    claims = world.client.get(f"/api/v1/wallet/credentials/{fresh}", headers=father).get_json()
    assert claims["claims"]["name"] == OTHER_CHILD


def test_a_key_compromise_reissues_the_link_and_the_copies_in_place(world: World) -> None:
    """The police key that signed a guardianship and the copies of the child's cards is
    reported compromised: its re-issue job gives the guardian a new link credential on
    the same link (still active, same end) and new copies that stay with the service
    (never on the phone), and the pair verifies at the hospital under the new key."""
    from tests.test_devices_api import copies, new_key, registered

    father_id = world.auth.citizen_ids[0]
    father = world.auth.citizen(0)
    world.citizen(CHILD_ID, CHILD, "2016-01-01")
    got = _guardianship(world, father_id, CHILD_ID, CHILD, "2016-01-01")
    assert got.status_code == 201, got.get_json()
    link_credential = str(got.get_json()["id"])
    copy = world.held(father, CHILD)
    device = registered(world.client, father, new_key())
    store = world.svc.store
    old = store.get_credential(link_credential)
    assert store.get_credential(copy).kid == old.kid

    reported = world.svc.compromise.report(old.kid)
    assert reported.job is not None
    _job_ended(world, reported.job.id)

    (link,) = world.svc.links.links_of(father_id)
    assert link.state == "active" and link.active
    record = store.get_link(world.svc.pseudonyms.of(father_id), link.link_id)
    assert record is not None and record.credential_id != link_credential
    renewed = store.get_credential(record.credential_id)
    assert renewed.state == "valid" and renewed.kid != old.kid
    assert renewed.expires_at == old.expires_at == eighteenth_birthday("2016-01-01")
    assert store.get_credential(link_credential).state == "revoked"
    fresh = world.held(father, CHILD)
    assert fresh != copy and store.get_credential(copy).state == "revoked"
    assert store.get_credential(fresh).expires_at == store.get_credential(copy).expires_at
    on_phone = {c["credential_id"] for c in copies(world.client, father, device)}
    assert record.credential_id in on_phone
    assert not on_phone & {copy, fresh}, "a held-for copy reached the phone"
    on_phone_claims = [credential_claims(c["sd_jwt"]) for c in copies(world.client, father, device)]
    assert not [c for c in on_phone_claims if c.get("id_number") == CHILD_ID], "a child's card"
    answer = world.verify(world.qr(father, fresh, "hospital"), "hospital")
    assert answer["valid"], answer["errors"]
    assert answer["claims"][GUARDIANSHIP]["ward_name"] == CHILD
    # the father's own age attestation still speaks of him, never of the child's card
    assert _age_attestations(world, father) == [{"age_over_18": True}]


def _age_attestations(world: World, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The over-18 claim of each age attestation in a wallet that is its own card."""
    out = []
    for card in world.cards(headers):
        if card["vct"] == AGE and card["held_for"] is None and card["status"] == "valid":
            got = world.client.get(f"/api/v1/wallet/credentials/{card['id']}", headers=headers)
            out.append({"age_over_18": got.get_json()["claims"]["age_over_18"]})
    return out


def _change_name(world: World, citizen_id: str, name: str) -> dict[str, Any]:
    """The police record a citizen's new name; the change job's final status."""
    from tests.test_changes_api import change_body, changes_path, until_done

    police = world.auth.department()
    changed = world.client.post(
        changes_path(citizen_id), json=change_body(value=name), headers=police
    )
    assert changed.status_code == 202, changed.get_json()
    done = until_done(world.client, changed.headers["Location"], police)
    assert done["state"] == "done", done
    return done


def _link_of(world: World, holder_id: str) -> Any:
    (link,) = world.svc.store.list_links(world.svc.pseudonyms.of(holder_id))
    return link


def test_a_wards_new_name_reaches_the_guardianship_on_the_same_link(world: World) -> None:
    """The child's name changes: the child's cards are re-issued, and so is the father's
    guardianship (``ward_name``), in place: the same link, the same end, the copies kept
    or renewed; the father presents the child's card at the hospital under the new name
    and is told; the child's own notice counts the child's cards only."""
    father_id = world.auth.citizen_ids[0]
    father = world.auth.citizen(0)
    child = world.citizen(CHILD_ID, CHILD, "2016-01-01")
    got = _guardianship(world, father_id, CHILD_ID, CHILD, "2016-01-01")
    assert got.status_code == 201, got.get_json()
    before = _link_of(world, father_id)
    made = world.qr(father, world.held(father, CHILD), "hospital")

    done = _change_name(world, CHILD_ID, OTHER_CHILD)
    (step,) = [c for c in done["credentials"] if c["vct"] == GUARDIANSHIP]
    assert (step["old"], step["state"], step["issuer"]) == (before.credential_id, "done", "police")

    after = _link_of(world, father_id)
    assert (after.link_id, after.state, after.until) == (before.link_id, "active", before.until)
    assert after.credential_id == step["new"] != before.credential_id
    store = world.svc.store
    assert store.get_credential(before.credential_id).state == "revoked"
    assert store.get_credential(after.credential_id).expires_at == before.until
    fresh = world.held(father, OTHER_CHILD)
    answer = world.verify(world.qr(father, fresh, "hospital"), "hospital")
    assert answer["valid"], answer["errors"]
    assert answer["claims"][GUARDIANSHIP]["ward_name"] == OTHER_CHILD
    assert answer["claims"][ID_CARD]["name"] == OTHER_CHILD
    # a code made before the change: its link credential is revoked now
    _refused(world.verify(made, "hospital"), "revoked")

    # the father is told, in both languages; the child's notice counts the child's cards
    told = world.client.get("/api/v1/wallet/notices", headers=father).get_json()["items"]
    assert [n["text"] for n in told] == [
        {
            "zh": "您持有的监护关系证明（未成年子女）已更新：被监护人姓名已变更",
            "en": "Your guardianship of a minor was updated: the ward's name changed",
        }
    ]
    assert told[0]["credentials"] == [after.credential_id]
    (own,) = world.client.get("/api/v1/wallet/notices", headers=child).get_json()["items"]
    assert after.credential_id not in own["credentials"]
    # the father's activity says which card changed, by whom, naming the claim only
    activity = world.client.get("/api/v1/wallet/activity", headers=father).get_json()["items"]
    changes = [a for a in activity if a["kind"] == "change"]
    assert [(a["vct"], a["venue"]["id"], a["claims"]) for a in changes] == [
        (GUARDIANSHIP, "police", ["ward_name"])
    ]

    # the same name again: the guardianship is left as it is
    again = _change_name(world, CHILD_ID, OTHER_CHILD)
    (same,) = [c for c in again["credentials"] if c["vct"] == GUARDIANSHIP]
    assert (same["state"], same["reason"], same["new"]) == ("skipped", "same_value", None)
    assert _link_of(world, father_id).credential_id == after.credential_id


def test_a_guardians_and_a_principals_new_names_reach_their_links(world: World) -> None:
    """The father's own name changes: his guardianship names him anew
    (``guardian_name``); an elder's name changes: the carer's care authorisation names
    her anew (``principal_name``); both sets verify with the new names."""
    from tests.test_changes_api import NEW_NAME

    father_id = world.auth.citizen_ids[0]
    father = world.auth.citizen(0)
    world.citizen(CHILD_ID, CHILD, "2016-01-01")
    assert _guardianship(world, father_id, CHILD_ID, CHILD, "2016-01-01").status_code == 201
    done = _change_name(world, father_id, NEW_NAME)
    (step,) = [c for c in done["credentials"] if c["vct"] == GUARDIANSHIP]
    assert step["state"] == "done"
    answer = world.verify(world.qr(father, world.held(father, CHILD), "hospital"), "hospital")
    assert answer["valid"], answer["errors"]
    assert answer["claims"][GUARDIANSHIP]["guardian_name"] == NEW_NAME
    # his own notice counts the guardianship with his other cards
    (told,) = world.client.get("/api/v1/wallet/notices", headers=father).get_json()["items"]
    assert step["new"] in told["credentials"]

    elder = world.citizen(ELDER_ID, ELDER, "1948-03-03")
    carer_id = world.auth.citizen_ids[1]
    carer = world.auth.citizen(1)
    given = world.client.post(
        CARERS, json={"carer_id": carer_id, "scenes": ["bank"], "until": _until(30)}, headers=elder
    )
    assert given.status_code == 201, given.get_json()
    renamed = personal("王老太", "an elder's new name")
    done = _change_name(world, ELDER_ID, renamed)
    (step,) = [c for c in done["credentials"] if c["vct"] == CARE]
    assert (step["state"], step["issuer"]) == ("done", "civil-affairs")
    answer = world.verify(world.qr(carer, world.held(carer, renamed), "bank"), "bank")
    assert answer["valid"], answer["errors"]
    assert answer["claims"][CARE]["principal_name"] == renamed
    (listed,) = world.client.get(CARERS, headers=elder).get_json()["items"]
    assert listed["id"] == given.get_json()["id"] and listed["state"] == "active"


def test_a_link_that_ends_before_its_step_is_left_ended(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A care authorisation withdrawn between the change's plan and its step: the step
    is skipped (``link_ended``) and nothing new is issued into the carer's wallet."""
    from api.services import job_runner

    runner = job_runner(world.app)  # the job is run below, after the withdrawal
    runner.stop()
    monkeypatch.setattr(runner, "start", lambda: None)  # a new job does not start it again
    elder = world.citizen(ELDER_ID, ELDER, "1948-03-03")
    carer = world.auth.citizen(1)
    given = world.client.post(
        CARERS,
        json={"carer_id": world.auth.citizen_ids[1], "scenes": ["bank"], "until": _until(30)},
        headers=elder,
    )
    assert given.status_code == 201, given.get_json()
    link = _link_of(world, world.auth.citizen_ids[1])
    svc = world.svc
    department = svc.store.get_issuer(svc.platform.issuer_url("police"))
    from tests.test_changes_api import change_body

    status = svc.changes.request(department, ELDER_ID, change_body(value="王老太"))
    cards_before = {c["id"] for c in world.cards(carer)}
    gone = world.client.delete(f"{CARERS}/{given.get_json()['id']}", headers=elder)
    assert gone.status_code == 200
    svc.jobs.run(status.id)
    ended = svc.changes.status(department, ELDER_ID, status.id)
    assert ended.state == "done"
    (step,) = [c for c in ended.credentials if c["vct"] == CARE]
    assert (step["state"], step["reason"], step["new"]) == ("skipped", "link_ended", None)
    assert svc.store.get_credential(link.credential_id).state == "revoked"
    assert {c["id"] for c in world.cards(carer)} <= cards_before


def test_a_guardians_own_attestation_is_never_derived_from_a_childs_card(world: World) -> None:
    """The child's ID card (and the child's age attestation) held for the child are the
    child's: the father's own age attestation is derived from his own ID card whatever
    is newer, and a sync of his wallet leaves the child's copies alone."""
    father_id = world.auth.citizen_ids[0]
    father = world.auth.citizen(0)
    world.citizen(CHILD_ID, CHILD, "2016-01-01")
    assert _guardianship(world, father_id, CHILD_ID, CHILD, "2016-01-01").status_code == 201
    held = {c["id"] for c in world.cards(father) if c["held_for"] is not None}
    assert {c["vct"] for c in world.cards(father) if c["id"] in held} == {ID_CARD, AGE}
    assert _age_attestations(world, father) == [{"age_over_18": True}]
    # the child's card is the newest ID card in the father's wallet, even preferred
    synced = world.svc.derived.sync(father_id, prefer=frozenset(held))
    assert synced.issued == [] and synced.revoked == []
    assert _age_attestations(world, father) == [{"age_over_18": True}]
    assert not world.svc.derived.due(father_id)
    store = world.svc.store
    assert all(store.get_credential(copy).state == "valid" for copy in held)


def test_a_reissue_racing_the_end_of_its_link_leaves_nothing_valid(world: World) -> None:
    """The two orders of a link credential's re-issue and its link's end: a link that
    ends just before the hand-over gets no new credential (``link_ended``, the new one
    revoked and out of the wallet); an end that read the link just before the hand-over
    revokes the new credential too."""
    father_id = world.auth.citizen_ids[0]
    father = world.auth.citizen(0)
    world.citizen(CHILD_ID, CHILD, "2016-01-01")
    assert _guardianship(world, father_id, CHILD_ID, CHILD, "2016-01-01").status_code == 201
    svc, store = world.svc, world.svc.store
    link = _link_of(world, father_id)
    # 1. ended (the state written, its credential not yet revoked) before the hand-over
    assert store.set_link_state(link.holder, link.link_id, "withdrawn", expect="active", at=1)
    done = svc.reissue.replace(father_id, link.credential_id, new_id="new-link-credential-1")
    assert (done.outcome, done.reason) == ("skipped", "link_ended")
    assert store.get_credential("new-link-credential-1").state == "revoked"
    assert "new-link-credential-1" not in {c["id"] for c in world.cards(father)}

    # 2. an end that read the link before a re-issue handed it over
    assert _guardianship(world, father_id, CHILD_ID, CHILD, "2016-01-01").status_code == 201
    (stale,) = [r for r in store.list_links(link.holder) if r.state == "active"]
    done = svc.reissue.replace(father_id, stale.credential_id, new_id="new-link-credential-2")
    assert done.outcome == "replaced"
    assert svc.links._end(stale, "revoked") is not None  # the end's own read was stale
    assert store.get_credential("new-link-credential-2").state == "revoked"
    assert store.get_credential(stale.credential_id).state == "revoked"


def test_a_card_held_for_a_child_is_never_shown_or_answered_as_the_guardians(
    world: World,
) -> None:
    """The copies of a child's cards in the father's wallet are the child's: an
    OpenID4VP answer refuses one (``scene_unmet``: only ever with its link), the father's
    own set takes his own household register even when the child's copy is newer, and a
    department's proof about the father answers from his own ID card."""
    from tests.test_api_proofs import ASKING, _approved, _ask, _verifier

    father_id = world.auth.citizen_ids[0]
    father = world.auth.citizen(0)
    own_name = next(
        world.client.get(f"/api/v1/wallet/credentials/{c['id']}", headers=father).get_json()[
            "claims"
        ]["name"]
        for c in world.cards(father)
        if c["vct"] == ID_CARD and c["held_for"] is None
    )
    world.issue("police", HOUSEHOLD, father_id, name=own_name, id_number=father_id)
    world.citizen(CHILD_ID, CHILD, "2016-01-01")
    world.issue("police", HOUSEHOLD, CHILD_ID, name=CHILD, id_number=CHILD_ID)
    assert _guardianship(world, father_id, CHILD_ID, CHILD, "2016-01-01").status_code == 201
    copy = world.held(father, CHILD)

    # OpenID4VP: the hotel asks; the father's answer with the child's copy is refused
    asked = world.client.post(
        "/api/v1/verify/requests", json={"scene": "hotel"}, headers=world.venues["hotel"]
    )
    assert asked.status_code == 201, asked.get_json()
    path = f"/api/v1/wallet/openid4vp/requests/{asked.get_json()['id']}/answer"
    refused = world.client.post(path, json={"credential_id": copy}, headers=father)
    assert refused.status_code == 400 and refused.get_json()["code"] == "scene_unmet"

    # a set scene: the father's own ID card with the newest household register of his own
    svc = world.svc
    scenes = [dict(s) for s in svc.platform.scenes() if s["id"] != "library"]
    scenes.append(
        {
            "id": "library",
            "name": {"zh": "library", "en": "library"},
            "accept": [],
            "all_of": [
                {"vct": ID_CARD, "claims": ["name", "id_number"]},
                {"vct": HOUSEHOLD, "claims": ["name", "id_number"]},
            ],
            "max_age": 120,
            "category": "culture_tourism",
        }
    )
    svc.platform.set_scenes(scenes)
    own_card = next(
        c["id"] for c in world.cards(father) if c["vct"] == ID_CARD and c["held_for"] is None
    )
    answer = world.verify(world.qr(father, own_card, "library"), "library")
    assert answer["valid"], answer["errors"]
    assert answer["claims"][HOUSEHOLD]["id_number"] == father_id

    # a proof about the father, with his consent: from his own ID card
    _approved(world.client, world.auth)
    got = _ask(world.client, world.auth, father_id)
    assert got.status_code == 200, got.get_json()
    result = _verifier(world.client).verify_proof(
        got.get_json()["proof"], audience=svc.platform.issuer_url(ASKING)
    )
    assert result.valid and result.claims["name"] == own_name, result.claims
    assert result.claims["birth_date"] != "2016-01-01"

    # the father as an elder's carer: the authorisation names him, not the child
    elder = world.citizen(ELDER_ID, ELDER, "1948-03-03")
    given = world.client.post(
        CARERS, json={"carer_id": father_id, "scenes": ["bank"], "until": _until(30)}, headers=elder
    )
    assert given.status_code == 201, given.get_json()
    answer = world.verify(world.qr(father, world.held(father, ELDER), "bank"), "bank")
    assert answer["valid"], answer["errors"]
    assert answer["claims"][CARE]["carer_name"] == own_name
