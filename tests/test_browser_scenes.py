"""The scene pickers with 73 scenes, in a real browser at a phone's size (390×844), in
both languages: Debian's Chromium driven by Playwright against ``ecert serve --demo``.

The wallet lists an ID card's scenes grouped by category (``<optgroup>``, named in the
page language) with a search over scene and category names; a scene that needs an
online check (SIM card registration) shows so in the preview and gets only an online
code (the switch is on and locked). The telecom hall's staff (a venue of a category the
demo did not have before) see the scene's needs beside the picker and verify the code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.browser_helpers import (
    PageErrors,
    Screenshots,
    Service,
    phone_context,
    require_chromium,
    running_service,
)
from verifier.qrimage import decode_qr

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

require_chromium()

TIMEOUT = 15_000


@dataclass(frozen=True)
class Texts:
    lang: str
    citizen_id: str
    password: str
    log_in: str
    id_card: str
    scene: str
    search: str
    show_qr: str
    qr_code: str
    online_qr: str
    venue_key: str
    qr_content: str
    valid: str
    accommodation: str
    telecom: str
    hotel: str
    sim_card: str
    sim_query: str
    online_only: str
    needs_online: str
    no_match: str


EN = Texts(
    lang="en", citizen_id="Citizen ID", password="Password", log_in="Log in",
    id_card="Resident ID card", scene="Scene", search="Find a scene", show_qr="Show QR",
    qr_code="QR code", online_qr="Online QR", venue_key="Venue key",
    qr_content="QR content", valid="Valid", accommodation="Accommodation",
    telecom="Telecommunications", hotel="Hotel check-in", sim_card="SIM card registration",
    sim_query="sim", online_only="only an online code", needs_online="Online check",
    no_match="No scene has a name like that.",
)
ZH = Texts(
    lang="zh", citizen_id="公民身份号码", password="密码", log_in="登录", id_card="居民身份证",
    scene="使用场景", search="查找场景", show_qr="出示二维码", qr_code="二维码",
    online_qr="在线二维码", venue_key="场所密钥", qr_content="二维码内容", valid="有效",
    accommodation="住宿", telecom="通信", hotel="旅馆住宿登记", sim_card="电话卡实名登记",
    sim_query="电话卡", online_only="只能出示在线二维码", needs_online="须在线核验",
    no_match="没有名称相符的场景。",
)  # fmt: skip

GROUPS = """select => Array.from(select.querySelectorAll('optgroup')).map(g => ({
    label: g.label,
    category: g.dataset.category,
    options: Array.from(g.querySelectorAll('option')).map(o => o.value),
}))"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("browser-scenes")) as running:
        yield running


def _open(browser: Any, service: Service) -> tuple[Any, Any, PageErrors]:
    context = phone_context(browser, service.base)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    return context, page, PageErrors(page)


def _path(page_path: str, t: Texts) -> str:
    return page_path if t.lang == "zh" else f"{page_path}?lang={t.lang}"


def _fits_the_phone(page: Any) -> None:
    # nothing wider than the 390 px screen: no sideways scrolling
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width


@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
def test_scenes_by_category_and_an_online_scene_at_a_new_venue(
    browser: Any, service: Service, shots: Screenshots, t: Texts
) -> None:
    wallet_context, wallet, wallet_errors = _open(browser, service)
    staff_context, staff, staff_errors = _open(browser, service)
    try:
        wallet.goto(_path("/wallet", t))
        who = 0 if t.lang == "en" else 1
        citizen = service.citizen(who)
        wallet.get_by_label(t.citizen_id, exact=True).fill(citizen["citizen_id"])
        wallet.get_by_label(t.password, exact=True).fill(citizen["password"])
        wallet.get_by_role("button", name=t.log_in, exact=True).click()
        wallet.get_by_role("button", name=t.id_card, exact=True).click()

        # The ID card's scenes, grouped by category in the page's language.
        scene = wallet.get_by_label(t.scene, exact=True)
        expect(scene).to_be_visible()
        groups = scene.evaluate(GROUPS)
        by_category = {g["category"]: g for g in groups}
        assert by_category["accommodation"]["label"] == t.accommodation
        assert by_category["telecom"]["label"] == t.telecom
        assert "hotel" in by_category["accommodation"]["options"]
        assert "sim_card" in by_category["telecom"]["options"]
        assert sum(len(g["options"]) for g in groups) > 20
        assert "school" not in {o for g in groups for o in g["options"]}  # not an ID card's
        assert len({g["category"] for g in groups}) == len(groups)  # each category once
        _fits_the_phone(wallet)
        shots.take(wallet, "wallet-scenes-grouped")

        # The search narrows the long list by name, in the page's language.
        search = wallet.get_by_label(t.search, exact=True)
        expect(search).to_be_visible()
        search.fill("zzzz-no-such-scene")
        expect(wallet.get_by_text(t.no_match, exact=True)).to_be_visible()
        expect(wallet.get_by_role("button", name=t.show_qr, exact=True)).to_be_disabled()
        search.fill(t.sim_query)
        expect(scene.locator("option")).to_have_count(1)
        expect(scene).to_have_value("sim_card")
        expect(wallet.locator("#preview-online")).to_be_visible()
        expect(wallet.locator("#preview-online")).to_contain_text(t.online_only)
        shots.take(wallet, "wallet-scene-search")

        # Only an online code for a scene that needs an online check.
        wallet.get_by_role("button", name=t.show_qr, exact=True).click()
        switch = wallet.get_by_role("switch", name=t.online_qr, exact=True)
        expect(switch).to_be_checked()
        expect(switch).to_be_disabled()
        image = wallet.get_by_role("img", name=t.qr_code, exact=True)
        expect(image).to_be_visible()
        wallet.wait_for_function(
            "() => { const i = document.getElementById('qr-img'); "
            "return !i.hidden && i.complete && i.naturalWidth > 0; }"
        )
        text = decode_qr(image.screenshot())
        assert re.fullmatch(re.escape(service.base) + r"/p/[A-Za-z0-9_-]+", text), text
        shots.take(wallet, "wallet-online-only")

        # The telecom hall: its scenes grouped, the scene's needs shown, the code valid.
        staff.goto(_path("/scan", t))
        staff.get_by_label(t.venue_key, exact=True).fill(service.venue_key("telecom-hall"))
        staff.get_by_role("button", name=t.log_in, exact=True).click()
        picker = staff.get_by_label(t.scene, exact=True)
        expect(picker).to_be_visible()
        venue_groups = picker.evaluate(GROUPS)
        assert [g["label"] for g in venue_groups] == [t.telecom]
        assert set(venue_groups[0]["options"]) == {"sim_card", "broadband", "number_portability"}
        picker.select_option("sim_card")
        needs = staff.locator("#scene-needs")
        expect(needs).to_contain_text(t.telecom)
        expect(needs).to_contain_text(t.needs_online)
        _fits_the_phone(staff)
        shots.take(staff, "scan-scene-needs")

        box = staff.get_by_label(t.qr_content, exact=True)
        box.fill(text)
        box.press("Enter")
        status = staff.get_by_role("status")
        expect(status.locator(".verdict")).to_have_text(t.valid)
        expect(status).to_contain_text(t.sim_card)
        shots.take(staff, "scan-valid")
        assert wallet_errors.errors == [] and staff_errors.errors == [], (
            wallet_errors.errors + staff_errors.errors
        )
    finally:
        wallet_context.close()
        staff_context.close()
