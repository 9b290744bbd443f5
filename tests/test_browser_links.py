"""Guardians and carers as people see them (issue 12), in a real Chromium at 390×844, in
Chinese and in English: the demo mother's wallet shows her son's card "held for 李小明",
offers only the scenes that take a guardian, and shows one QR code for the set; the
hospital's scanner reads it (the real QR decoder) and says "presented by the guardian
王芳 for 李小明"; the demo elder authorises a carer on the Carers panel and withdraws
it at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cli.seed import DEMO_CARER, DEMO_ELDER, DEMO_MOTHER, seed_links_demo
from service.instance import open_instance
from store.interface import VenueRecord
from tests.browser_helpers import (
    PHONE,
    PageErrors,
    Service,
    box_of,
    require_chromium,
    running_service,
    serious_violations,
)
from tests.hygiene import personal
from verifier.qrimage import decode_qr

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

require_chromium()

TIMEOUT = 15_000
HOSPITAL_VENUE = "city-hospital"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("links-service")) as running:
        # The shipped scenes may not say yet which take guardians and carers: say it
        # (the trust list is re-read by the service within a second), and add a hospital.
        with open_instance(running.instance) as instance:
            logins = seed_links_demo(instance, instance.accounts)
            # The demo's elder starts with the demo's carer: withdrawn here, so that the
            # test starts from an elder with no active carer.
            for link in instance.links.carers(DEMO_ELDER):
                if link.state == "active":
                    instance.links.withdraw(DEMO_ELDER, link.link_id)
            for login in logins:
                personal(login["password"], "a links demo password")
            running.demo["citizens"].extend(logins)
            scenes = [
                dict(s, guardian=True)
                if s["id"] == "hospital"
                else dict(s, carer=True)
                if s["id"] in ("bank", "pharmacy")
                else s
                for s in instance.platform.scenes()
            ]
            instance.platform.set_scenes(scenes)  # type: ignore[arg-type]
            instance.store.put_venue(
                VenueRecord(HOSPITAL_VENUE, "市第一医院", "City Hospital", ("hospital",), 0)
            )
            key = instance.accounts.issue_api_key("venue", HOSPITAL_VENUE)[1]
            running.demo["venues"].append(
                {"id": HOSPITAL_VENUE, "api_key": personal(key, "the hospital's key")}
            )
        yield running


def _password(service: Service, citizen_id: str) -> str:
    return str(
        next(c for c in service.demo["citizens"] if c["citizen_id"] == citizen_id)["password"]
    )


def _open(browser: Any, service: Service) -> tuple[Any, Any, PageErrors]:
    context = browser.new_context(
        base_url=service.base,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        service_workers="block",
    )
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    return context, page, PageErrors(page)


def _log_in(page: Any, service: Service, citizen_id: str, lang: str) -> None:
    page.goto("/wallet" if lang == "zh" else "/wallet?lang=en")
    labels = (
        ("公民身份号码", "密码", "登录") if lang == "zh" else ("Citizen ID", "Password", "Log in")
    )
    page.get_by_label(labels[0], exact=True).fill(citizen_id)
    page.get_by_label(labels[1], exact=True).fill(_password(service, citizen_id))
    page.get_by_role("button", name=labels[2], exact=True).click()


def _inside_the_phone(locator: Any, min_height: float = 44) -> None:
    box = box_of(locator)
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert box["height"] >= min_height


WORDS = {
    "zh": {
        "held": "代李小明持有", "scene": "使用场景", "show": "出示二维码",
        "venue_key": "场所密钥", "log_in": "登录", "qr_content": "二维码内容", "valid": "有效",
        "by": "由监护人王芳为李小明出示", "tab": "授权", "carers": "代办人",
        "carer_id": "代办人公民身份号码", "add": "授权代办人", "active": "有效",
        "withdraw": "撤回授权", "withdrawn": "已撤回", "added": "已授权",
        "withdraw_label": "撤回对{carer}的授权",
    },
    "en": {
        "held": "Held for 李小明", "scene": "Scene", "show": "Show QR",
        "venue_key": "Venue key", "log_in": "Log in", "qr_content": "QR content",
        "valid": "Valid", "by": "Presented by the guardian 王芳 for 李小明", "tab": "Consents",
        "carers": "Carers", "carer_id": "Carer's citizen ID number", "add": "Authorise carer",
        "active": "Active", "withdraw": "Withdraw", "withdrawn": "Withdrawn",
        "added": "Authorised", "withdraw_label": "Withdraw the authorisation of {carer}",
    },
}  # fmt: skip


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_mother_shows_her_sons_card_and_the_hospital_sees_who_presents(
    browser: Any, service: Service, shots: Any, lang: str
) -> None:
    w = WORDS[lang]
    context, page, errors = _open(browser, service)
    staff_context, staff, staff_errors = _open(browser, service)
    try:
        _log_in(page, service, DEMO_MOTHER, lang)
        held = page.locator('[data-held-for="guardianship"]')
        expect(held).to_have_count(1)
        expect(held).to_contain_text(w["held"])
        _inside_the_phone(held)
        shots.take(page, f"held-for-{lang}")
        assert serious_violations(page) == []

        held.click()
        scene = page.get_by_label(w["scene"], exact=True)
        # only the scenes that take a guardian (and accept the card)
        assert scene.locator("option").evaluate_all("os => os.map(o => o.value)") == ["hospital"]
        page.get_by_role("button", name=w["show"], exact=True).click()
        image = page.locator("#qr-img")
        page.wait_for_function(
            "() => { const i = document.getElementById('qr-img'); "
            "return !i.hidden && i.complete && i.naturalWidth > 0; }"
        )
        url = decode_qr(image.screenshot())
        assert url.startswith(service.base + "/p/"), url
        _inside_the_phone(image)
        shots.take(page, f"qr-{lang}")
        assert serious_violations(page) == []

        staff.goto("/scan" if lang == "zh" else "/scan?lang=en")
        staff.get_by_label(w["venue_key"], exact=True).fill(service.venue_key(HOSPITAL_VENUE))
        staff.get_by_role("button", name=w["log_in"], exact=True).click()
        staff.get_by_label(w["scene"], exact=True).select_option("hospital")
        box = staff.get_by_label(w["qr_content"], exact=True)
        box.fill(url)
        box.press("Enter")
        status = staff.get_by_role("status")
        expect(status.locator(".verdict")).to_have_text(w["valid"])
        expect(status.locator(".verdict-delegation")).to_have_text(w["by"])
        shots.take(staff, f"scan-{lang}")
        assert staff.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert errors.errors == [] and staff_errors.errors == []
    finally:
        context.close()
        staff_context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_elder_authorises_a_carer_and_withdraws_it(
    browser: Any, service: Service, shots: Any, lang: str
) -> None:
    w = WORDS[lang]
    masked = DEMO_CARER[:4] + "*" * 10 + DEMO_CARER[-4:]
    context, page, errors = _open(browser, service)
    try:
        _log_in(page, service, DEMO_ELDER, lang)
        page.get_by_role("button", name=w["tab"], exact=True).click()
        panel = page.get_by_role("region", name=w["carers"])
        expect(panel).to_be_visible()
        panel.get_by_label(w["carer_id"], exact=True).fill(DEMO_CARER)
        bank = panel.locator('input[type=checkbox][value="bank"]')
        expect(bank).to_have_count(1)
        expect(panel.locator('input[type=checkbox][value="hospital"]')).to_have_count(0)
        bank.check()
        add = panel.get_by_role("button", name=w["add"], exact=True)
        _inside_the_phone(add)
        shots.take(page, f"carers-form-{lang}")
        add.click()
        expect(panel.locator("#carers-notice")).to_contain_text(w["added"])
        item = panel.locator("[data-carer]").filter(has_text=w["active"])
        expect(item).to_have_count(1)
        expect(item).to_contain_text(masked)
        withdraw = item.get_by_role("button", name=w["withdraw_label"].format(carer=masked))
        expect(withdraw).to_have_text(w["withdraw"])
        _inside_the_phone(withdraw)
        shots.take(page, f"carers-active-{lang}")
        assert serious_violations(page) == []

        withdraw.click()
        expect(panel.locator("[data-carer]").filter(has_text=w["active"])).to_have_count(0)
        expect(panel.locator("[data-carer]").first).to_contain_text(w["withdrawn"])
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shots.take(page, f"carers-withdrawn-{lang}")
        assert errors.errors == []
    finally:
        context.close()


def test_a_venues_openid4vp_request_never_offers_a_card_held_for_a_child(
    browser: Any, service: Service, shots: Any
) -> None:
    """The hotel asks the mother's web wallet for an ID card: the panel offers her own
    card only, not her son's held for him (which the service refuses alone anyway)."""
    import json
    import urllib.request

    request = urllib.request.Request(
        service.base + "/api/v1/verify/requests",
        data=json.dumps({"scene": "hotel"}).encode(),
        headers={
            "Authorization": "Bearer " + service.venue_key("grand-hotel"),
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        link = json.loads(response.read())["link"]
    context, page, errors = _open(browser, service)
    try:
        page.goto(link.replace(service.base, ""))
        _log_in(page, service, DEMO_MOTHER, "zh")
        panel = page.locator("#oid4vp-panel")
        expect(panel.locator("#oid4vp-title")).to_have_text("城市大酒店 请您出示证照")
        radios = panel.get_by_role("radio")
        expect(radios).to_have_count(1)
        own = page.locator("#card-list button:not([data-held-for])", has_text="居民身份证")
        held = page.locator('#card-list button[data-held-for]', has_text="居民身份证")
        expect(held).to_have_count(1)
        expect(own).to_have_count(1)
        shots.take(page, "oid4vp-own-card-only")
        assert errors.errors == []
    finally:
        context.close()
