"""Several certificates in one check, in a real browser (issue 12): at a phone's size
(390×844), in English and in Chinese, a citizen holding a household register and a birth
medical certificate shows the school-enrolment QR code (one code for the set, made by
the service: the assisted path); the school's staff scan it and see one verdict, then
each certificate by its catalogue name with its fields. With one card revoked after the
code was made, the scan is refused and names that card.

Against ``ecert serve --demo`` under gunicorn; the test scene with ``all_of`` and the
school's venue are added to the instance the service runs on, the cards are issued over
the departments' API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from issuer.catalogue import default_scenes, load_catalogue
from service.instance import Ecert
from service.settings import Settings
from store.interface import VenueRecord
from tests.browser_helpers import Screenshots, Service, running_service
from tests.factory import full_example
from tests.hygiene import personal
from tests.test_browser import EN, ZH, Texts, _call, _open, _path, scan_text, show_qr

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

HOUSEHOLD = "urn:ecert:household-register"
BIRTH = "urn:ecert:birth-medical-certificate"
SCENE = "school_set"
VENUE = "primary-school"
SCENE_NAME = {"zh": "入学报名（两证）", "en": "School enrolment (both papers)"}
CHILDREN = {0: ("张小明", "110101201506010029"), 1: ("李小红", "110101201009010052")}


@dataclass(frozen=True)
class Names:
    household: str
    birth: str


def _names(t: Texts) -> Names:
    catalogue = load_catalogue()
    lang = t.lang

    def name(vct: str) -> str:
        value: str = getattr(catalogue.get(vct).name, lang)
        return value

    return Names(name(HOUSEHOLD), name(BIRTH))


@dataclass
class School:
    service: Service
    venue_key: str
    #: per demo citizen: (household id, birth id)
    cards: dict[int, tuple[str, str]]


def _issue(service: Service, who: int) -> tuple[str, str]:
    """A household register and a birth certificate for demo citizen ``who``'s child,
    held in the citizen's wallet, over the departments' API."""
    citizen = service.citizen(who)["citizen_id"]
    child, child_id = CHILDREN[who]
    catalogue = load_catalogue()
    ids = []
    for slug, vct, extra in (
        ("police", HOUSEHOLD, {"name": child, "id_number": child_id}),
        (
            "health",
            BIRTH,
            {
                "name": child,
                "mother_name": "王芳",
                "mother_id_number": "440305198812120064",
                "father_id_number": "110101199003070011",
            },
        ),
    ):
        key = next(d["api_key"] for d in service.demo["departments"] if d["issuer"] == slug)
        claims = {**full_example(catalogue.get(vct)), **extra}
        issued = _call(
            service,
            "POST",
            f"/api/v1/issuers/{slug}/credentials",
            {"vct": vct, "citizen_id": citizen, "claims": claims},
            key,
        )
        ids.append(str(issued["id"]))
    return ids[0], ids[1]


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Iterator[School]:
    with running_service(tmp_path_factory.mktemp("browser-sets")) as service:
        scene = {
            "id": SCENE,
            "name": SCENE_NAME,
            "accept": [],
            "all_of": [
                {"vct": HOUSEHOLD, "claims": ["name", "id_number", "address"]},
                {"vct": BIRTH, "claims": ["name", "birth_date", "mother_name"]},
            ],
            "max_age": 120,
            "category": "education",
        }
        # the test scene and the school, on the instance the service runs on
        with Ecert.open(Settings.from_env({"ECERT_INSTANCE": str(service.instance)})) as ecert:
            ecert.platform.set_scenes([*default_scenes(), scene])
            venue = VenueRecord(VENUE, "第一小学", "No. 1 Primary School", (SCENE,), 0)
            ecert.store.put_venue(venue)
            key = personal(ecert.accounts.issue_api_key("venue", VENUE)[1], "school key")
        cards = {who: _issue(service, who) for who in CHILDREN}
        yield School(service, key, cards)


def _walk(browser: Any, school: School, shots: Screenshots, t: Texts, who: int) -> None:
    names = _names(t)
    child, child_id = CHILDREN[who]
    service = school.service
    wallet_context, wallet, wallet_errors = _open(browser, service)
    staff_context, staff, staff_errors = _open(browser, service)
    try:
        wallet.goto(_path("/wallet", t))
        citizen = service.citizen(who)
        wallet.get_by_label(t.citizen_id, exact=True).fill(citizen["citizen_id"])
        wallet.get_by_label(t.password, exact=True).fill(citizen["password"])
        wallet.get_by_role("button", name=t.log_in, exact=True).click()
        wallet.get_by_role("button", name=names.household, exact=True).click()
        scene = wallet.get_by_label(t.scene, exact=True)
        expect(scene).to_be_visible()
        scene.select_option(SCENE)
        # the preview names both certificates of the set
        preview = wallet.locator("#preview .preview-member dt")
        expect(preview).to_have_text([names.household, names.birth])
        shots.take(wallet, f"sets-{t.lang}-preview")

        _, text = show_qr(wallet, t)
        expect(wallet.locator("#qr-type")).to_have_text(f"{names.household} + {names.birth}")
        shots.take(wallet, f"sets-{t.lang}-qr")

        staff.goto(_path("/scan", t))
        staff.get_by_label(t.venue_key, exact=True).fill(school.venue_key)
        staff.get_by_role("button", name=t.log_in, exact=True).click()
        picker = staff.get_by_label(t.scene, exact=True)
        expect(picker).to_be_visible()
        picker.select_option(SCENE)
        status = scan_text(staff, t, text)
        expect(status.locator(".verdict")).to_have_text(t.valid)
        members = status.locator(".set-member")
        expect(members.locator(".member-name")).to_have_text([names.household, names.birth])
        expect(members.nth(0).locator("dd")).to_contain_text([child, child_id])
        expect(members.nth(1).locator("dd")).to_contain_text([child, "王芳"])
        shots.take(staff, f"sets-{t.lang}-scan-valid")

        # A new code, then the birth certificate is revoked: the set is refused, naming it.
        household, birth = school.cards[who]
        fresh = _set_qr(service, who, household)
        health = next(d for d in service.demo["departments"] if d["issuer"] == "health")
        _call(
            service,
            "POST",
            f"/api/v1/issuers/health/credentials/{birth}/revoke",
            None,
            health["api_key"],
        )
        staff.get_by_role("button", name=t.next_scan, exact=True).click()
        status = scan_text(staff, t, fresh)
        expect(status.locator(".verdict")).to_have_text(t.invalid)
        reason = status.locator(".reason").first
        expect(reason.locator(".reason-member")).to_have_text(names.birth)
        expect(reason.locator(".reason-code")).to_have_text("revoked")
        expect(status.locator(".set-member")).to_have_count(0)
        expect(status).not_to_contain_text(child)
        shots.take(staff, f"sets-{t.lang}-scan-refused")
        assert wallet_errors.errors == [] and staff_errors.errors == [], (
            wallet_errors.errors + staff_errors.errors
        )
    finally:
        wallet_context.close()
        staff_context.close()


def _set_qr(service: Service, who: int, card: str) -> str:
    """A fresh set code for the school, made over the wallet API (the text of its QR)."""
    token = _call(service, "POST", "/api/v1/auth/login", service.citizen(who), None)
    shown = _call(
        service,
        "POST",
        f"/api/v1/wallet/credentials/{card}/presentations",
        {"scene": SCENE, "mode": "offline"},
        token["access_token"],
    )
    assert shown["mode"] == "online" or shown["qr"].startswith("EC2:"), json.dumps(shown)
    return str(shown["qr"])


def test_a_set_in_english(browser: Any, school: School, shots: Screenshots) -> None:
    _walk(browser, school, shots, EN, who=0)


def test_a_set_in_chinese(browser: Any, school: School, shots: Screenshots) -> None:
    _walk(browser, school, shots, ZH, who=1)
