"""The wallet page as a new citizen meets it (issue 9), in a real Chromium at 390×844, in
English and in Chinese: the document's own validity beside the credential's technical
expiry, the full card view (masked until tapped, masked again on leaving), removing a
card (with a confirmation that says what it means), logging out from the header menu
(with a confirmation), switching language without losing the screen, the QR screen in
elder mode on one screen with a brightness hint, and times with their time zone.

Locators go by role and accessible name, so the new controls' names are tested too.
Screenshots go to the test's folder (``test-output/screenshots/`` with
``ECERT_SCREENSHOTS``); axe-core checks the new screens.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser_helpers import (
    PHONE,
    PageErrors,
    Screenshots,
    Service,
    require_chromium,
    running_service,
    serious_violations,
)
from verifier.qrimage import decode_qr

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

require_chromium()

TIMEOUT = 15_000


@dataclass(frozen=True)
class Texts:
    """What a person sees and what assistive technology names, per language."""

    lang: str
    other: str  # the language link
    citizen_id: str
    password: str
    log_in: str
    id_card: str
    permit: str
    licence: str
    proof: str
    valid_until: str
    long_term: str
    copy_until: str
    all_fields: str
    show: str
    hide: str
    id_number: str
    name: str
    remove: str
    remove_title: str
    remove_confirm: str
    remove_meaning: str
    removed: str
    cancel: str
    menu: str
    log_out: str
    log_out_title: str
    cards_tab: str
    activity_tab: str
    consents_tab: str
    scene: str
    show_qr: str
    qr_code: str
    done: str
    back: str
    online_qr: str
    elder: str
    brightness: str


EN = Texts(
    lang="en", other="中文", citizen_id="Citizen ID", password="Password", log_in="Log in",
    id_card="Resident ID card", permit="Residence permit",
    licence="Motor vehicle driving licence", proof="Proof of no criminal record",
    valid_until="Valid until {}", long_term="Valid: long-term",
    copy_until="Digital copy valid until {}", all_fields="View all fields",
    show="Show {}", hide="Hide {}", id_number="Citizen ID number", name="Name",
    remove="Remove from wallet", remove_title="Remove the {} from this wallet?",
    remove_confirm="Remove", remove_meaning="the certificate is not revoked",
    removed="The {} was removed from this wallet.", cancel="Cancel", menu="Menu",
    log_out="Log out", log_out_title="Log out?", cards_tab="Certificates",
    activity_tab="Activity", consents_tab="Consents", scene="Scene", show_qr="Show QR",
    qr_code="QR code",
    done="Done", back="Back", online_qr="Online QR", elder="Elder mode",
    brightness="Turn up your screen brightness so the code scans easily.",
)
ZH = Texts(
    lang="zh", other="English", citizen_id="公民身份号码", password="密码", log_in="登录",
    id_card="居民身份证", permit="居住证", licence="机动车驾驶证", proof="无犯罪记录证明",
    valid_until="有效期至 {}", long_term="有效期：长期", copy_until="电子证照有效期至 {}",
    all_fields="查看全部信息", show="显示{}", hide="隐藏{}", id_number="公民身份号码",
    name="姓名", remove="从钱包删除此证照", remove_title="从本钱包删除“{}”？",
    remove_confirm="删除", remove_meaning="证照不会被吊销", removed="已从钱包删除“{}”。",
    cancel="取消", menu="菜单", log_out="退出登录", log_out_title="退出登录？",
    cards_tab="证照", activity_tab="记录", consents_tab="授权", scene="使用场景",
    show_qr="出示二维码",
    qr_code="二维码", done="完成", back="返回", online_qr="在线二维码", elder="长辈模式",
    brightness="调高屏幕亮度，扫码更顺利。",
)
LANGS = [pytest.param(EN, id="en"), pytest.param(ZH, id="zh")]

#: Demo citizen 0 (cli/seed.py): the ID card's own end date, and its masked forms.
ID_NUMBER = "110101199003070011"
ID_VALID_UNTIL = "2040-01-01"
PERMIT_VALID_UNTIL = "2028-01-05"


# -- the service, seeded -------------------------------------------------------------------


def _call(service: Service, method: str, path: str, body: Any, token: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        service.base + path,
        data=json.dumps(body).encode("utf-8") if body is not None else None,
        method=method,
        headers=headers,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def _police(service: Service) -> str:
    return str(next(d for d in service.demo["departments"] if d["issuer"] == "police")["api_key"])


def _issue(service: Service, vct: str, citizen: str, claims: dict[str, Any]) -> str:
    body = {"vct": vct, "citizen_id": citizen, "claims": claims}
    answer = _call(service, "POST", "/api/v1/issuers/police/credentials", body, _police(service))
    return str(answer["id"])


def _proof(service: Service, citizen: str, name: str) -> str:
    """A proof of no criminal record: a type with no end date of its own."""
    return _issue(service, "urn:ecert:no-criminal-record-proof", citizen, {
        "name": name, "sex": "男", "id_number": citizen, "no_criminal_record": True,
        "proof_number": "WFZ-2026-000002", "issue_date": "2026-01-05",
        "issuing_authority": "北京市公安局东城分局",
    })


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("wallet-service")) as running:
        citizen = running.citizen(0)["citizen_id"]
        assert citizen == ID_NUMBER
        # a residence permit whose own end date comes after its technical expiry
        _issue(running, "urn:ecert:residence-permit", citizen, {
            "name": "张三", "sex": "男", "ethnicity": "汉", "birth_date": "1990-03-07",
            "id_number": citizen, "household_address": "北京市东城区示例路1号",
            "residence_address": "北京市朝阳区示例街9号",
            "issuing_authority": "北京市公安局朝阳分局", "issue_date": "2026-01-05",
            "valid_until": PERMIT_VALID_UNTIL,
        })
        # a long-term driving licence (its type has valid_until; this one has none)
        other = running.citizen(1)["citizen_id"]
        _issue(running, "urn:ecert:driving-licence", other, {
            "name": "李四", "sex": "女", "nationality": "中国", "id_number": other,
            "address": "北京市东城区样例胡同8号", "birth_date": "1992-08-15",
            "first_issue_date": "2012-05-01", "licence_class": "C1",
            "valid_from": "2022-05-01", "file_number": "110100123457",
            "issuing_authority": "北京市公安局交通管理局",
        })
        yield running






def _open(
    browser: Any, service: Service, timezone: str = "Asia/Shanghai"
) -> tuple[Any, Any, PageErrors]:
    context = browser.new_context(
        base_url=service.base,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id=timezone,
        service_workers="block",
    )
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    return context, page, PageErrors(page)


def _path(t: Texts) -> str:
    return "/wallet" if t.lang == "zh" else "/wallet?lang=en"


def log_in(page: Any, service: Service, t: Texts, who: int = 0) -> None:
    citizen = service.citizen(who)
    page.goto(_path(t))
    page.get_by_label(t.citizen_id, exact=True).fill(citizen["citizen_id"])
    page.get_by_label(t.password, exact=True).fill(citizen["password"])
    page.get_by_role("button", name=t.log_in, exact=True).click()
    expect(page.get_by_role("button", name=t.id_card, exact=True)).to_be_visible()


def _token(service: Service, who: int) -> str:
    answer = _call(service, "POST", "/api/v1/auth/login", service.citizen(who), None)
    return str(answer["access_token"])


def _card_dates(service: Service, who: int) -> dict[str, dict[str, Any]]:
    items = _call(service, "GET", "/api/v1/wallet/credentials", None, _token(service, who))
    return {item["vct"]: item for item in items["items"]}


def _day(page: Any, epoch: int) -> str:
    """The date the phone shows for an epoch (its own time zone)."""
    day: str = page.evaluate(
        "e => { const d = new Date(e * 1000); const p = n => String(n).padStart(2, '0');"
        " return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()); }",
        epoch,
    )
    return day


# -- 1. the document's own validity ---------------------------------------------------------


@pytest.mark.parametrize("t", LANGS)
def test_valid_until_is_the_documents_own_date_and_the_copys_expiry_has_its_own_label(
    browser: Any, service: Service, shots: Screenshots, t: Texts
) -> None:
    items = _card_dates(service, 0)
    context, page, errors = _open(browser, service)
    try:
        log_in(page, service, t)
        card = page.get_by_role("button", name=t.id_card, exact=True)
        copy = _day(page, items["urn:ecert:resident-id-card"]["expires_at"])
        assert copy < ID_VALID_UNTIL  # the ten-year credential ends before the card
        expect(card).to_have_accessible_description(re.compile(
            re.escape(t.valid_until.format(ID_VALID_UNTIL)) + ".*"
            + re.escape(t.copy_until.format(copy))
        ))
        permit = page.get_by_role("button", name=t.permit, exact=True)
        permit_copy = _day(page, items["urn:ecert:residence-permit"]["expires_at"])
        assert permit_copy < PERMIT_VALID_UNTIL
        expect(permit).to_have_accessible_description(
            re.compile(re.escape(t.valid_until.format(PERMIT_VALID_UNTIL)))
        )
        shots.take(page, "cards")
        card.click()
        summary = page.locator("#card-summary")
        expect(summary).to_contain_text(t.valid_until.format(ID_VALID_UNTIL))
        expect(summary).to_contain_text(t.copy_until.format(copy))
        shots.take(page, "card")
        assert errors.errors == [], errors.errors
    finally:
        context.close()

    # A long-term document says so; never a date that is not on it.
    context, page, errors = _open(browser, service)
    try:
        log_in(page, service, t, who=1)
        licence = page.get_by_role("button", name=t.licence, exact=True)
        expect(licence).to_have_accessible_description(re.compile(re.escape(t.long_term)))
        # its one document line says long-term; the other line is the copy's expiry
        line = licence.locator(".card-valid-until")
        expect(line).to_have_text(t.long_term)
        expect(licence.locator(".card-copy")).to_have_text(re.compile("^" + re.escape(
            t.copy_until.format("")
        )))
        shots.take(page, "cards-long-term")
        assert errors.errors == [], errors.errors
    finally:
        context.close()


# -- 2. the full card view --------------------------------------------------------------------


@pytest.mark.parametrize("t", LANGS)
def test_the_full_card_view_is_masked_until_tapped_and_masked_again_on_leaving(
    browser: Any, service: Service, shots: Screenshots, t: Texts
) -> None:
    context, page, errors = _open(browser, service)
    try:
        log_in(page, service, t)
        page.get_by_role("button", name=t.id_card, exact=True).click()
        page.get_by_role("button", name=t.all_fields, exact=True).click()
        fields = page.locator("#details-fields")
        expect(fields.locator("dt").first).to_have_text(t.name)
        values = fields.locator("dd .detail-value")
        expect(values.first).to_have_text("张*")
        expect(fields).to_contain_text("1101**********0011")
        expect(fields).not_to_contain_text(ID_NUMBER)
        expect(fields).not_to_contain_text("张三")
        expect(fields).not_to_contain_text("1990-03-07")
        # every field has its own button, named after the field
        names = fields.get_by_role("button").evaluate_all(
            "bs => bs.map(b => b.getAttribute('aria-label'))"
        )
        assert len(names) >= 9 and len(set(names)) == len(names), names
        assert all(n.startswith(t.show.format("")) for n in names), names
        shots.take(page, "details-masked")
        assert serious_violations(page) == []

        page.get_by_role("button", name=t.show.format(t.id_number), exact=True).click()
        expect(fields).to_contain_text(ID_NUMBER)
        hide = page.get_by_role("button", name=t.hide.format(t.id_number), exact=True)
        expect(hide).to_be_focused()
        expect(fields).not_to_contain_text("张三")  # only the field tapped
        shots.take(page, "details-one-shown")
        hide.click()
        expect(fields).not_to_contain_text(ID_NUMBER)

        page.get_by_role("button", name=t.show.format(t.name), exact=True).click()
        expect(fields).to_contain_text("张三")
        page.get_by_role("button", name=re.compile(f"{t.back}$")).click()
        page.get_by_role("button", name=t.all_fields, exact=True).click()
        expect(fields).to_contain_text("1101**********0011")
        expect(fields).not_to_contain_text("张三")  # masked again after leaving
        assert errors.errors == [], errors.errors
    finally:
        context.close()


def test_masking_rules(browser: Any, service: Service) -> None:
    """The masking itself (wallet.js ``mask``), run in the page."""
    context, page, _ = _open(browser, service)
    try:
        page.goto("/wallet?lang=en")
        cases = {
            ("id_number", "110101199003070011"): "1101**********0011",
            ("id_number", "11010119920815004X"): "1101**********004X",
            ("name", "张三"): "张*",
            ("name", "欧阳娜娜"): "欧***",
            ("spouse_name", "Ann Lee"): "A******",
            ("sex", "男"): "*",
            ("birth_date", "1990-03-07"): "****-**-**",
            ("licence_class", "C1"): "*1",
            ("address", "北京市东城区示例路1号"): "北京********",
            ("no_criminal_record", True): "**",
            ("disability_level", 2): "**",
            ("guardian_name", None): "—",
            ("portrait", "data:image/jpeg;base64,/9j/4AAQSkZJRg=="): "(photo hidden)",
        }
        for (claim, value), masked in cases.items():
            got = page.evaluate("([c, v]) => window.EcertWallet.mask(c, v)", [claim, value])
            assert got == masked, (claim, value, got)
            if isinstance(value, str) and len(value) > 2:
                assert value not in got
    finally:
        context.close()


# -- 3. removing a card ----------------------------------------------------------------------


@pytest.mark.parametrize("t", LANGS)
def test_a_card_is_removed_from_the_wallet_after_a_confirmation(
    browser: Any, service: Service, shots: Screenshots, t: Texts
) -> None:
    proof = _proof(service, ID_NUMBER, "张三")
    context, page, errors = _open(browser, service)
    try:
        log_in(page, service, t)
        page.get_by_role("button", name=t.proof, exact=True).click()
        page.get_by_role("button", name=t.all_fields, exact=True).click()
        page.get_by_role("button", name=t.remove, exact=True).click()
        dialog = page.get_by_role("dialog", name=t.remove_title.format(t.proof), exact=True)
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(t.remove_meaning)
        expect(dialog.get_by_role("button", name=t.cancel, exact=True)).to_be_focused()
        shots.take(page, "remove-dialog")
        assert serious_violations(page) == []
        dialog.get_by_role("button", name=t.cancel, exact=True).click()
        expect(dialog).to_be_hidden()
        assert proof in _card_ids(service)  # nothing happened

        page.get_by_role("button", name=t.remove, exact=True).click()
        dialog.get_by_role("button", name=t.remove_confirm, exact=True).click()
        expect(page.locator("#cards-notice")).to_have_text(t.removed.format(t.proof))
        expect(page.get_by_role("button", name=t.proof, exact=True)).to_have_count(0)
        expect(page.get_by_role("button", name=t.id_card, exact=True)).to_be_visible()
        shots.take(page, "removed")
        assert proof not in _card_ids(service)
        # The department's record is unchanged: it is still there and was not revoked
        # (a revoked credential cannot be suspended: 409 invalid_transition).
        status = _call(service, "POST", f"/api/v1/issuers/police/credentials/{proof}/suspend",
                       None, _police(service))
        assert status["status"] == "suspended", status
        assert errors.errors == [], errors.errors
    finally:
        context.close()


def _card_ids(service: Service) -> set[str]:
    items = _call(service, "GET", "/api/v1/wallet/credentials", None, _token(service, 0))
    return {item["id"] for item in items["items"]}


# -- 4. log out from the header menu -------------------------------------------------------


@pytest.mark.parametrize("t", LANGS)
def test_log_out_is_in_the_header_menu_with_a_confirmation(
    browser: Any, service: Service, shots: Screenshots, t: Texts
) -> None:
    context, page, errors = _open(browser, service)
    try:
        log_in(page, service, t)
        tabs = page.get_by_role("navigation").get_by_role("button")
        expect(tabs).to_have_text([t.cards_tab, t.activity_tab, t.consents_tab])  # no log-out tab
        expect(page.get_by_role("button", name=t.log_out, exact=True)).to_have_count(0)
        menu = page.get_by_role("button", name=t.menu, exact=True)
        expect(menu).to_have_attribute("aria-expanded", "false")
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        shots.take(page, "menu")
        assert serious_violations(page) == []
        page.get_by_role("button", name=t.log_out, exact=True).click()
        dialog = page.get_by_role("dialog", name=t.log_out_title, exact=True)
        expect(dialog).to_be_visible()
        shots.take(page, "log-out-dialog")
        dialog.get_by_role("button", name=t.cancel, exact=True).click()
        expect(page.get_by_role("button", name=t.id_card, exact=True)).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('ecert.wallet.token')")

        menu.click()
        page.keyboard.press("Escape")  # the menu closes without logging out
        expect(menu).to_have_attribute("aria-expanded", "false")
        menu.click()
        page.get_by_role("button", name=t.log_out, exact=True).click()
        dialog.get_by_role("button", name=t.log_out, exact=True).click()
        expect(page.get_by_role("button", name=t.log_in, exact=True)).to_be_visible()
        expect(menu).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('ecert.wallet.token')") is None
        assert errors.errors == [], errors.errors
    finally:
        context.close()


# -- 5. switching language keeps the screen ------------------------------------------------


@pytest.mark.parametrize("t", LANGS)
def test_switching_language_keeps_the_screen(
    browser: Any, service: Service, shots: Screenshots, t: Texts
) -> None:
    other = ZH if t is EN else EN
    context, page, errors = _open(browser, service)
    try:
        log_in(page, service, t)
        page.get_by_role("button", name=t.id_card, exact=True).click()
        page.get_by_label(t.scene, exact=True).select_option("bank")
        page.get_by_role("link", name=t.other).click()
        expect(page.locator("#card-title")).to_have_text(other.id_card)
        expect(page.get_by_label(other.scene, exact=True)).to_have_value("bank")
        shots.take(page, "card-other-language")

        page.get_by_role("button", name=other.all_fields, exact=True).click()
        page.get_by_role("link", name=other.other).click()
        expect(page.locator("#details-title")).to_have_text(t.id_card)
        expect(page.locator("#details-fields")).to_contain_text("1101**********0011")

        page.get_by_role("button", name=re.compile(f"{t.back}$")).click()
        page.get_by_label(t.scene, exact=True).select_option("hotel")
        page.get_by_role("button", name=t.show_qr, exact=True).click()
        expect(page.get_by_role("img", name=t.qr_code, exact=True)).to_be_visible()
        page.get_by_role("link", name=t.other).click()
        image = page.get_by_role("img", name=other.qr_code, exact=True)
        expect(image).to_be_visible()
        page.wait_for_function(
            "() => { const i = document.getElementById('qr-img'); "
            "return !i.hidden && i.complete && i.naturalWidth > 0; }"
        )
        assert decode_qr(image.screenshot()).startswith("EC2:")
        shots.take(page, "qr-other-language")
        # back goes to the card, as it did before the switch
        page.get_by_role("button", name=other.done, exact=True).click()
        expect(page.get_by_label(other.scene, exact=True)).to_have_value("hotel")

        page.get_by_role("button", name=other.activity_tab, exact=True).click()
        page.get_by_role("link", name=other.other).click()
        expect(page.locator("body")).to_have_attribute("data-screen", "activity")
        expect(page.get_by_role("button", name=t.activity_tab, exact=True)).to_have_attribute(
            "aria-current", "page"
        )
        assert errors.errors == [], errors.errors
    finally:
        context.close()


@pytest.mark.parametrize("t", LANGS)
def test_the_preview_says_the_photo_goes_with_an_online_code_only(
    browser: Any, service: Service, shots: Screenshots, t: Texts
) -> None:
    """Hotel and bank ask for the portrait, which only an online code carries: the
    citizen learns that before showing a code; a scene that does not ask says nothing."""
    texts = json.loads((Path(__file__).parent.parent / "api/web/strings.json").read_text())
    note = texts[t.lang]["preview_portrait_online"]
    context, page, errors = _open(browser, service)
    try:
        log_in(page, service, t)
        page.get_by_role("button", name=t.id_card, exact=True).click()
        page.get_by_label(t.scene, exact=True).select_option("hotel")
        expect(page.locator("#preview-photo")).to_contain_text(note)
        shots.take(page, "preview-photo-note")
        page.get_by_label(t.scene, exact=True).select_option("pharmacy")
        expect(page.locator("#preview-photo")).to_be_hidden()
        assert errors.errors == [], errors.errors
    finally:
        context.close()


# -- 6. the QR screen in elder mode ------------------------------------------------------------


@pytest.mark.parametrize("t", LANGS)
def test_in_elder_mode_the_qr_screen_keeps_its_controls_on_one_screen(
    browser: Any, service: Service, shots: Screenshots, t: Texts
) -> None:
    context, page, errors = _open(browser, service)
    try:
        log_in(page, service, t)
        page.get_by_role("button", name=t.elder, exact=True).click()
        page.get_by_role("button", name=t.id_card, exact=True).click()
        page.get_by_label(t.scene, exact=True).select_option("hotel")
        page.get_by_role("button", name=t.show_qr, exact=True).click()
        image = page.get_by_role("img", name=t.qr_code, exact=True)
        expect(image).to_be_visible()
        page.wait_for_function(
            "() => { const i = document.getElementById('qr-img'); "
            "return !i.hidden && i.complete && i.naturalWidth > 0; }"
        )
        expect(page.locator("#qr-brightness")).to_have_text(re.compile(re.escape(t.brightness)))
        expect(page.locator("#qr-brightness")).to_be_visible()
        for mode in ("offline", "online"):
            if mode == "online":
                page.get_by_role("switch", name=t.online_qr, exact=True).check()
            assert page.evaluate("window.scrollY") == 0
            for control in (
                image,
                page.locator("#qr-countdown"),
                page.get_by_role("switch", name=t.online_qr, exact=True),
                page.get_by_role("button", name=t.done, exact=True),
            ):
                box = control.bounding_box()
                assert box is not None and box["y"] >= 0, (mode, box)
                assert box["y"] + box["height"] <= PHONE["height"], (mode, control, box)
            box = image.bounding_box()
            assert box is not None and box["width"] >= 240, box
            assert decode_qr(image.screenshot())
            shots.take(page, f"qr-elder-{mode}")
        assert errors.errors == [], errors.errors
    finally:
        context.close()


# -- 7. times with their time zone --------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "timezone", "zone"),
    [
        pytest.param(EN, "Asia/Shanghai", "UTC+8", id="en-shanghai"),
        pytest.param(ZH, "Asia/Kolkata", "UTC+5:30", id="zh-kolkata"),
    ],
)
def test_activity_times_show_their_time_zone_newest_first(
    browser: Any, service: Service, shots: Screenshots, t: Texts, timezone: str, zone: str
) -> None:
    token = _token(service, 0)
    items = _call(service, "GET", "/api/v1/wallet/credentials", None, token)["items"]
    card = next(i for i in items if i["vct"] == "urn:ecert:resident-id-card")
    venues = [v for v in service.demo["venues"] if v["id"] in ("grand-hotel", "city-bank")]
    seen = []
    for venue in venues:  # within a second or two: the order must still be newest first
        scene = venue["scenes"][0]
        shown = _call(service, "POST", f"/api/v1/wallet/credentials/{card['id']}/presentations",
                      {"scene": scene, "mode": "offline"}, token)
        result = _call(service, "POST", "/api/v1/verify", {"qr": shown["qr"], "scene": scene},
                       venue["api_key"])
        assert result["valid"], result
        seen.append(venue["id"])
    context, page, errors = _open(browser, service, timezone)
    try:
        log_in(page, service, t)
        page.get_by_role("button", name=t.activity_tab, exact=True).click()
        times = page.locator("#activity-list time")
        expect(times.first).to_have_text(re.compile(
            r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(" + re.escape(zone) + r"\)$"
        ))
        activity = _call(service, "GET", "/api/v1/wallet/activity", None, token)["items"]
        assert [e["venue"]["id"] for e in activity[: len(seen)]] == seen[::-1]
        shots.take(page, "activity")
        assert errors.errors == [], errors.errors
    finally:
        context.close()
