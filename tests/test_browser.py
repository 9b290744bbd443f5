"""The web pages in a real browser: Debian's Chromium driven by Playwright, against
``ecert serve --demo`` running under gunicorn on 127.0.0.1.

The whole flow at a phone's size, in English and in Chinese: a citizen logs in to
``/wallet``, opens the resident identity card, chooses the hotel scene, sees which
fields will be shown, shows the QR code; the QR image is decoded with a real decoder
and typed into ``/scan`` by the hotel's staff, who see "Valid" and only the name and
the ID number. Locators go by role and accessible name, so the names are tested too.
Screenshots of every screen go to the test's folder (and to
``test-output/screenshots/`` when ``ECERT_SCREENSHOTS`` is set); axe-core checks the
pages for serious accessibility violations.
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
    CHROMIUM,
    CHROMIUM_ARGS,
    PageErrors,
    Screenshots,
    Service,
    phone_context,
    qr_video,
    require_chromium,
    running_service,
    serious_violations,
    wait_until,
)
from verifier.qrimage import decode_qr

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

require_chromium()

#: Milliseconds Playwright waits for an expectation.
TIMEOUT = 15_000
FONT_SIZE = "e => parseFloat(getComputedStyle(e).fontSize)"


@dataclass(frozen=True)
class Texts:
    """What a person sees and what assistive technology names, per language."""

    lang: str
    citizen_id: str
    password: str
    log_in: str
    id_card: str
    licence: str
    proof: str
    suspended: str
    revoked: str
    scene: str
    show_qr: str
    qr_code: str
    online_qr: str
    name: str
    id_number: str
    venue_key: str
    qr_content: str
    valid: str
    invalid: str
    issuer: str
    hotel: str
    activity: str
    elder: str
    next_scan: str
    replayed: str


EN = Texts(
    lang="en", citizen_id="Citizen ID", password="Password", log_in="Log in",
    id_card="Resident ID card", licence="Motor vehicle driving licence",
    proof="Proof of no criminal record", suspended="Suspended", revoked="Revoked",
    scene="Scene", show_qr="Show QR", qr_code="QR code", online_qr="Online QR",
    name="Name", id_number="Citizen ID number", venue_key="Venue key",
    qr_content="QR content", valid="Valid", invalid="Invalid",
    issuer="City Public Security Bureau", hotel="Grand City Hotel", activity="Activity",
    elder="Elder mode", next_scan="Next scan", replayed="This QR code was already used",
)
ZH = Texts(
    lang="zh", citizen_id="公民身份号码", password="密码", log_in="登录",
    id_card="居民身份证", licence="机动车驾驶证", proof="无犯罪记录证明",
    suspended="已暂停", revoked="已吊销", scene="使用场景", show_qr="出示二维码",
    qr_code="二维码", online_qr="在线二维码", name="姓名", id_number="公民身份号码",
    venue_key="场所密钥", qr_content="二维码内容", valid="有效", invalid="无效",
    issuer="市公安局", hotel="城市大酒店", activity="记录", elder="长辈模式",
    next_scan="继续核验", replayed="此二维码已经使用过",
)


# -- fixtures ------------------------------------------------------------------------------


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
        raw = response.read()
        if response.headers.get_content_type() == "image/png":
            return raw
        return json.loads(raw or b"null")


#: The demo citizens' names and ID numbers (cli/seed.py): what the hotel may see.
PEOPLE = [("张三", "110101199003070011"), ("李四", "11010119920815004X")]


def _seed(service: Service) -> None:
    """Give each demo citizen a suspended driving licence and a revoked proof, so that
    the wallet shows its marks (and names must stay unique per type)."""
    for index, (name, id_number) in enumerate(PEOPLE):
        assert service.citizen(index)["citizen_id"] == id_number
        _seed_citizen(service, name, id_number)


def _seed_citizen(service: Service, name: str, citizen: str) -> None:
    police = next(d for d in service.demo["departments"] if d["issuer"] == "police")
    key = police["api_key"]
    person = {"name": name, "sex": "男", "id_number": citizen}
    licence = _call(service, "POST", "/api/v1/issuers/police/credentials", {
        "vct": "urn:ecert:driving-licence", "citizen_id": citizen,
        "claims": {**person, "nationality": "中国", "address": "北京市东城区示例路1号",
                   "birth_date": "1990-03-07", "first_issue_date": "2010-05-01",
                   "licence_class": "C1", "valid_from": "2020-05-01",
                   "file_number": "110100123456", "issuing_authority": "北京市公安局交通管理局"},
    }, key)
    _call(service, "POST", f"/api/v1/issuers/police/credentials/{licence['id']}/suspend",
          None, key)
    proof = _call(service, "POST", "/api/v1/issuers/police/credentials", {
        "vct": "urn:ecert:no-criminal-record-proof", "citizen_id": citizen,
        "claims": {**person, "no_criminal_record": True, "proof_number": "WFZ-2026-000001",
                   "issue_date": "2026-01-05", "issuing_authority": "北京市公安局东城分局"},
    }, key)
    _call(service, "POST", f"/api/v1/issuers/police/credentials/{proof['id']}/revoke",
          None, key)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("browser-service")) as running:
        _seed(running)
        yield running


@pytest.fixture(scope="module")
def citizen_token(service: Service) -> str:
    """A session of demo citizen 0 made over the API (one log-in for several tests)."""
    answer = _call(service, "POST", "/api/v1/auth/login", service.citizen(0), None)
    return str(answer["access_token"])


def _hotel_qr(service: Service, token: str) -> tuple[str, bytes]:
    """A fresh hotel presentation of citizen 0's ID card: its QR text and PNG."""
    items = _call(service, "GET", "/api/v1/wallet/credentials", None, token)["items"]
    card = next(i for i in items if i["vct"] == "urn:ecert:resident-id-card")
    shown = _call(service, "POST", f"/api/v1/wallet/credentials/{card['id']}/presentations",
                  {"scene": "hotel", "mode": "offline"}, token)
    png = _call(service, "GET", f"/api/v1/wallet/presentations/{shown['id']}/qr.png", None, token)
    return str(shown["qr"]), png






def _open(browser: Any, service: Service) -> tuple[Any, Any, PageErrors]:
    context = phone_context(browser, service.base)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    return context, page, PageErrors(page)


def _path(page_path: str, t: Texts) -> str:
    return page_path if t.lang == "zh" else f"{page_path}?lang={t.lang}"


# -- steps -----------------------------------------------------------------------------------


def log_in_citizen(page: Any, service: Service, t: Texts, who: int) -> None:
    """Log in as demo citizen ``who`` (each may log in 5 times in 5 minutes)."""
    citizen = service.citizen(who)
    page.get_by_label(t.citizen_id, exact=True).fill(citizen["citizen_id"])
    page.get_by_label(t.password, exact=True).fill(citizen["password"])
    page.get_by_role("button", name=t.log_in, exact=True).click()
    expect(page.get_by_role("button", name=t.id_card, exact=True)).to_be_visible()


def choose_hotel(page: Any, t: Texts, who: int) -> None:
    page.get_by_role("button", name=t.id_card, exact=True).click()
    scene = page.get_by_label(t.scene, exact=True)
    expect(scene).to_be_visible()
    assert scene.evaluate("e => e.tagName") == "SELECT"
    values = scene.locator("option").evaluate_all("options => options.map(o => o.value)")
    # Only the scenes that accept a resident identity card, by id.
    assert "hotel" in values and "bank" in values
    assert "school" not in values, values
    scene.select_option("hotel")
    preview = page.locator("#preview")
    expect(preview.locator("dt")).to_have_text([t.name, t.id_number])
    expect(preview.locator("dd")).to_have_text(list(PEOPLE[who]))


def _is_qr_png(response: Any) -> bool:
    return "/api/v1/wallet/presentations/" in response.url and response.url.endswith("/qr.png")


def _png(page: Any, response: Any) -> bytes:
    """The QR PNG at the URL the page fetched, fetched again with the page's token
    (the page's own response body is not kept when a service worker is in the way)."""
    assert response.status == 200
    token = page.evaluate("() => sessionStorage.getItem('ecert.wallet.token')")
    again = page.request.get(response.url, headers={"Authorization": f"Bearer {token}"})
    assert again.status == 200 and again.headers["content-type"] == "image/png"
    png: bytes = again.body()
    assert png.startswith(b"\x89PNG")
    return png


def _qr_shown(page: Any) -> None:
    page.wait_for_function(
        "() => { const i = document.getElementById('qr-img'); "
        "return !i.hidden && i.complete && i.naturalWidth > 0; }"
    )


def show_qr(page: Any, t: Texts) -> tuple[Any, str]:
    """Press "Show QR"; the QR image's text as shown on the screen (decoded from the
    element, like a camera sees it). A code the service made (assisted mode) is also
    decoded from the PNG the page fetched (with its bearer token); a code the phone made
    with its device key is drawn on the page and never fetched (issue 9, phone first)."""
    fetched: list[Any] = []

    def on_response(response: Any) -> None:
        if _is_qr_png(response):
            fetched.append(response)

    page.on("response", on_response)
    try:
        page.get_by_role("button", name=t.show_qr, exact=True).click()
        image = page.get_by_role("img", name=t.qr_code, exact=True)
        expect(image).to_be_visible()
        expect(image).to_have_attribute("src", re.compile(r"^blob:"))
        _qr_shown(page)
        made = image.get_attribute("data-made")
        if made != "phone":
            page.wait_for_function("() => 1")  # deliver the response events
            assert fetched, "a code the service made comes from its qr.png"
    finally:
        page.remove_listener("response", on_response)
    # What the phone shows scans (the element as rendered, like a camera sees it).
    text = decode_qr(image.screenshot())
    if made != "phone":
        assert decode_qr(_png(page, fetched[-1])) == text
    box = image.bounding_box()
    assert box is not None and box["width"] >= 300, box  # a large QR on a 390 px screen
    expect(page.locator("#qr-countdown")).to_have_text(re.compile(r"\d"))
    return image, text


def log_in_venue(page: Any, service: Service, t: Texts) -> None:
    page.get_by_label(t.venue_key, exact=True).fill(service.venue_key("grand-hotel"))
    page.get_by_role("button", name=t.log_in, exact=True).click()
    scene = page.get_by_label(t.scene, exact=True)
    expect(scene).to_be_visible()
    scene.select_option("hotel")


def scan_text(page: Any, t: Texts, text: str) -> Any:
    """Type the QR text as a scanner gun does (then Enter); the result region."""
    box = page.get_by_label(t.qr_content, exact=True)
    box.fill(text)
    box.press("Enter")
    status = page.get_by_role("status")
    expect(status.locator(".verdict")).to_be_visible()
    return status


def expect_valid_hotel(status: Any, t: Texts, who: int) -> None:
    expect(status.locator(".verdict")).to_have_text(t.valid)
    expect(status.locator(".claims dt")).to_have_text([t.name, t.id_number])
    expect(status.locator(".claims dd")).to_have_text(list(PEOPLE[who]))
    expect(status).to_contain_text(t.issuer)


# -- tests -----------------------------------------------------------------------------------


def _walk(browser: Any, service: Service, shots: Screenshots, t: Texts, who: int) -> None:
    wallet_context, wallet, wallet_errors = _open(browser, service)
    staff_context, staff, staff_errors = _open(browser, service)
    try:
        wallet.goto(_path("/wallet", t))
        html_lang = "en" if t.lang == "en" else "zh-CN"
        expect(wallet.locator("html")).to_have_attribute("lang", html_lang)
        expect(wallet.get_by_role("button", name=t.log_in, exact=True)).to_be_visible()
        shots.take(wallet, "wallet-login")

        log_in_citizen(wallet, service, t, who)
        # Suspended and revoked cards say so (in their accessible description too).
        licence = wallet.get_by_role("button", name=t.licence, exact=True)
        expect(licence).to_have_accessible_description(re.compile(t.suspended))
        proof = wallet.get_by_role("button", name=t.proof, exact=True)
        expect(proof).to_have_accessible_description(re.compile(t.revoked))
        shots.take(wallet, "wallet-cards")

        choose_hotel(wallet, t, who)
        shots.take(wallet, "wallet-preview")

        _, text = show_qr(wallet, t)
        online = wallet.get_by_role("switch", name=t.online_qr, exact=True)
        expect(online).not_to_be_checked()
        shots.take(wallet, "wallet-qr")

        staff.goto(_path("/scan", t))
        expect(staff.get_by_label(t.venue_key, exact=True)).to_be_visible()
        shots.take(staff, "scan-login")
        log_in_venue(staff, service, t)
        shots.take(staff, "scan-ready")

        status = scan_text(staff, t, text)
        expect_valid_hotel(status, t, who)
        shots.take(staff, "scan-valid")

        # The same code again is a copy: "Invalid", with the reason in plain words.
        staff.get_by_role("button", name=t.next_scan, exact=True).click()
        status = scan_text(staff, t, text)
        expect(status.locator(".verdict")).to_have_text(t.invalid)
        expect(status).to_contain_text(t.replayed)
        expect(status.locator(".claims")).to_have_count(0)
        shots.take(staff, "scan-invalid")

        # The citizen sees who checked what.
        wallet.get_by_role("button", name=re.compile("^(Done|完成)$")).click()
        wallet.get_by_role("button", name=t.activity, exact=True).click()
        expect(wallet.locator("#activity-list li").first).to_contain_text(t.hotel)
        shots.take(wallet, "wallet-activity")
        assert wallet_errors.errors == [] and staff_errors.errors == [], (
            wallet_errors.errors + staff_errors.errors
        )
    finally:
        wallet_context.close()
        staff_context.close()


def test_whole_flow_in_english(browser: Any, service: Service, shots: Screenshots) -> None:
    _walk(browser, service, shots, EN, who=0)


def test_whole_flow_in_chinese(browser: Any, service: Service, shots: Screenshots) -> None:
    _walk(browser, service, shots, ZH, who=1)


def test_online_qr_and_elder_mode(browser: Any, service: Service, shots: Screenshots) -> None:
    """The switch makes an online QR (a short URL, a small code) that the hotel redeems
    once; elder mode makes the text larger and is remembered."""
    t = EN
    wallet_context, wallet, wallet_errors = _open(browser, service)
    staff_context, staff, _ = _open(browser, service)
    try:
        wallet.goto(_path("/wallet", t))
        log_in_citizen(wallet, service, t, 0)
        choose_hotel(wallet, t, 0)
        image, offline_text = show_qr(wallet, t)
        with wallet.expect_response(_is_qr_png) as answer:
            wallet.get_by_role("switch", name=t.online_qr, exact=True).check()
        url = decode_qr(_png(wallet, answer.value))
        _qr_shown(wallet)
        assert decode_qr(image.screenshot()) == url
        assert url.startswith(service.base + "/p/"), url
        assert url != offline_text

        elder = wallet.get_by_role("button", name=t.elder, exact=True)
        expect(elder).to_have_attribute("aria-pressed", "false")
        small = wallet.locator("h1:visible").evaluate(FONT_SIZE)
        elder.click()
        expect(elder).to_have_attribute("aria-pressed", "true")
        large = wallet.locator("h1:visible").evaluate(FONT_SIZE)
        assert large >= small * 1.2
        shots.take(wallet, "wallet-qr-online-elder")
        wallet.reload()
        expect(wallet.locator("html")).to_have_class(re.compile(r"\belder\b"))

        staff.goto(_path("/scan", t))
        log_in_venue(staff, service, t)
        status = scan_text(staff, t, url)
        expect_valid_hotel(status, t, 0)
        assert wallet_errors.errors == [], wallet_errors.errors
    finally:
        wallet_context.close()
        staff_context.close()


def test_service_worker_keeps_the_card_list_offline(
    browser: Any, service: Service, shots: Screenshots
) -> None:
    t = EN
    context, page, _ = _open(browser, service)
    try:
        page.goto(_path("/wallet", t))
        wait_until(
            page,
            "async () => { const r = await navigator.serviceWorker.ready; return !!r.active; }"
        )
        # Controlled from the next load on; the card list fetched under control is kept.
        page.reload()
        page.wait_for_function("() => !!navigator.serviceWorker.controller")
        log_in_citizen(page, service, t, 1)
        wait_until(
            page,
            "async () => !!(await (await caches.open('ecert-wallet-data'))"
            ".match('/api/v1/wallet/credentials'))"
        )
        context.set_offline(True)
        page.reload()
        expect(page.get_by_role("button", name=t.id_card, exact=True)).to_be_visible()
        expect(page.locator("#cards-offline")).to_be_visible()
        shots.take(page, "wallet-offline")
        context.set_offline(False)
        # Logging out forgets the saved list (an empty cache of that name may come back).
        # Log out is in the header menu, with a confirmation (issue 9).
        page.get_by_role("button", name="Menu", exact=True).click()
        page.get_by_role("button", name="Log out", exact=True).click()
        page.get_by_role("dialog", name="Log out?").get_by_role(
            "button", name="Log out", exact=True
        ).click()
        wait_until(
            page,
            "async () => !(await caches.has('ecert-wallet-data')) || "
            "!(await (await caches.open('ecert-wallet-data'))"
            ".match('/api/v1/wallet/credentials'))"
        )
    finally:
        context.close()


def test_pages_have_no_serious_accessibility_violations(
    browser: Any, service: Service, shots: Screenshots
) -> None:
    """axe-core on the wallet (log-in, cards, QR, elder mode) and the scanner (log-in,
    results valid and invalid), in English and Chinese."""
    found: dict[str, list[dict[str, Any]]] = {}
    for who, t in enumerate((EN, ZH)):
        wallet_context, wallet, _ = _open(browser, service)
        staff_context, staff, _ = _open(browser, service)
        try:
            wallet.goto(_path("/wallet", t))
            expect(wallet.get_by_role("button", name=t.log_in, exact=True)).to_be_visible()
            found[f"{t.lang} wallet login"] = serious_violations(wallet)
            log_in_citizen(wallet, service, t, who)
            found[f"{t.lang} wallet cards"] = serious_violations(wallet)
            choose_hotel(wallet, t, who)
            found[f"{t.lang} wallet preview"] = serious_violations(wallet)
            _, text = show_qr(wallet, t)
            found[f"{t.lang} wallet qr"] = serious_violations(wallet)
            wallet.get_by_role("button", name=t.elder, exact=True).click()
            found[f"{t.lang} wallet qr elder"] = serious_violations(wallet)

            staff.goto(_path("/scan", t))
            expect(staff.get_by_label(t.venue_key, exact=True)).to_be_visible()
            found[f"{t.lang} scan login"] = serious_violations(staff)
            log_in_venue(staff, service, t)
            found[f"{t.lang} scan ready"] = serious_violations(staff)
            scan_text(staff, t, text)
            found[f"{t.lang} scan valid"] = serious_violations(staff)
            staff.get_by_role("button", name=t.next_scan, exact=True).click()
            scan_text(staff, t, text)
            found[f"{t.lang} scan invalid"] = serious_violations(staff)
        finally:
            wallet_context.close()
            staff_context.close()
    problems = {screen: v for screen, v in found.items() if v}
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)


def test_an_uploaded_image_is_decoded_by_the_server(
    browser: Any, service: Service, citizen_token: str, shots: Screenshots, tmp_path: Path
) -> None:
    t = EN
    _, png = _hotel_qr(service, citizen_token)
    image = tmp_path / "qr.png"
    image.write_bytes(png)
    blank = tmp_path / "blank.png"
    blank.write_bytes(_blank_png())
    context, staff, errors = _open(browser, service)
    try:
        staff.goto(_path("/scan", t))
        log_in_venue(staff, service, t)
        # A picture without a QR code is a message, not a verdict.
        staff.get_by_label("Upload a QR image", exact=True).set_input_files(str(blank))
        expect(staff.locator("#scan-error")).to_have_text("No readable QR code in this image.")
        expect(staff.get_by_role("status")).to_be_empty()
        staff.get_by_label("Upload a QR image", exact=True).set_input_files(str(image))
        status = staff.get_by_role("status")
        expect_valid_hotel(status, t, 0)
        shots.take(staff, "scan-upload-valid")
        assert errors.errors == [], errors.errors
    finally:
        context.close()


def _blank_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (300, 300), 255).save(out, format="PNG")
    return out.getvalue()


def test_camera_frames_are_decoded_by_the_server(
    playwright: Any, service: Service, citizen_token: str, shots: Screenshots, tmp_path: Path
) -> None:
    """Chromium's fake camera plays a video of the QR code; the page sends frames to
    the server's decoder until it reads one."""
    t = ZH
    _, png = _hotel_qr(service, citizen_token)
    video = qr_video(png, tmp_path / "qr.y4m")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    camera_browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    try:
        context, staff, errors = _open(camera_browser, service)
        context.grant_permissions(["camera"])
        staff.goto(_path("/scan", t))
        log_in_venue(staff, service, t)
        staff.get_by_role("button", name="用摄像头扫码", exact=True).click()
        status = staff.get_by_role("status")
        expect(status.locator(".verdict")).to_have_text(t.valid)
        expect_valid_hotel(status, t, 0)
        # The camera is off once a code was read.
        expect(staff.locator("#camera-box")).to_be_hidden()
        shots.take(staff, "scan-camera-valid")
        assert errors.errors == [], errors.errors
    finally:
        camera_browser.close()


def test_the_qr_code_refreshes_itself_before_it_expires(
    browser: Any, service: Service, citizen_token: str, shots: Screenshots
) -> None:
    """With the page's clock run forward, a new presentation and image replace the
    old one before it expires; the countdown uses the server's clock."""
    t = EN
    context, page, errors = _open(browser, service)
    try:
        # The session from the API, as if the citizen had just logged in.
        context.add_init_script(
            f"sessionStorage.setItem('ecert.wallet.token', {json.dumps(citizen_token)})"
        )
        page.clock.install()
        page.goto(_path("/wallet", t))
        choose_hotel(page, t, 0)
        with page.expect_response(_is_qr_png) as first:
            page.get_by_role("button", name=t.show_qr, exact=True).click()
        _qr_shown(page)
        first_url = page.get_by_role("img", name=t.qr_code).get_attribute("src")
        countdown = page.locator("#qr-countdown")
        expect(countdown).to_have_text(re.compile(r"Refreshes in (10[0-9]|9[0-9]) s"))
        with page.expect_response(_is_qr_png) as second:
            page.clock.run_for(110_000)
        assert second.value.url != first.value.url
        _qr_shown(page)
        image = page.get_by_role("img", name=t.qr_code)
        expect(image).not_to_have_attribute("src", first_url)
        # The page's clock is now ~110 s ahead of the server's: the count is still right.
        expect(countdown).to_have_text(re.compile(r"Refreshes in (10[0-9]|9[0-9]) s"))
        assert decode_qr(image.screenshot())
        assert errors.errors == [], errors.errors
    finally:
        context.close()


def test_a_scanner_gun_types_codes_one_after_another(
    browser: Any, service: Service, citizen_token: str, shots: Screenshots
) -> None:
    """At a desk, the QR content field has the focus: a scanner gun types a code and
    Enter, the verdict shows, and the next code typed goes straight back to the field."""
    t = EN
    context = browser.new_context(base_url=service.base, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT)
    staff = context.new_page()
    errors = PageErrors(staff)
    try:
        staff.goto(_path("/scan", t))
        log_in_venue(staff, service, t)
        expect(staff.get_by_label(t.qr_content, exact=True)).to_be_focused()
        for _ in range(2):
            text, _png = _hotel_qr(service, citizen_token)
            # Real key presses for the start and the Enter (what moves the focus and
            # submits); the rest in one go, which is much faster than key by key.
            staff.keyboard.type(text[:8])
            staff.keyboard.insert_text(text[8:])
            staff.keyboard.press("Enter")
            status = staff.get_by_role("status")
            expect_valid_hotel(status, t, 0)
        shots.take(staff, "scan-desk-valid")
        assert errors.errors == [], errors.errors
    finally:
        context.close()


# -- no QR code for a credential that cannot pass (issue 7 §5) ----------------------------

#: What the citizen reads instead of the QR code once the issuer revoked the card.
REVOKED_TEXT = {
    "en": "This certificate has been revoked by its issuer and cannot be shown.",
    "zh": "此证照已被签发机构吊销，无法出示。",
}
RESIDENCE_PERMIT = {"en": "Residence permit", "zh": "居住证"}
#: Text that must not be on screen when there is no QR code to scan.
SCAN_HINT = {"en": "Let the staff scan this code.", "zh": "请对方扫描此二维码。"}


def _issue_residence_permit(service: Service, who: int) -> tuple[str, str]:
    """A residence permit for demo citizen ``who`` (one each: card names stay unique);
    its id and the police key that revokes it."""
    name, citizen = PEOPLE[who]
    key = next(d for d in service.demo["departments"] if d["issuer"] == "police")["api_key"]
    issued = _call(
        service,
        "POST",
        "/api/v1/issuers/police/credentials",
        {
            "vct": "urn:ecert:residence-permit",
            "citizen_id": citizen,
            "claims": {
                "name": name,
                "sex": "男",
                "ethnicity": "汉",
                "birth_date": "1990-03-07",
                "id_number": citizen,
                "household_address": "北京市东城区示例路1号",
                "residence_address": "北京市朝阳区示例街9号",
                "issuing_authority": "北京市公安局朝阳分局",
                "issue_date": "2026-01-05",
                "valid_until": "2028-01-05",
            },
        },
        key,
    )
    return str(issued["id"]), key


@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
def test_a_revocation_replaces_the_qr_code_with_an_explanation(
    browser: Any, service: Service, citizen_token: str, shots: Screenshots, t: Texts
) -> None:
    """The QR screen is open; the department revokes the card over the API; at the next
    refresh the QR code is gone and a plain explanation (an alert) takes its place.
    Then the card screen and the card list say "revoked" too. At 390×844."""
    who = 0 if t is EN else 1
    permit_id, police = _issue_residence_permit(service, who)
    if who == 0:
        token = citizen_token
    else:
        token = _call(service, "POST", "/api/v1/auth/login", service.citizen(1), None)[
            "access_token"
        ]
    context, page, errors = _open(browser, service)
    try:
        context.add_init_script(
            f"sessionStorage.setItem('ecert.wallet.token', {json.dumps(token)})"
        )
        page.clock.install()
        page.goto(_path("/wallet", t))
        page.get_by_role("button", name=RESIDENCE_PERMIT[t.lang], exact=True).click()
        page.get_by_label(t.scene, exact=True).select_option("hotel")
        with page.expect_response(_is_qr_png):
            page.get_by_role("button", name=t.show_qr, exact=True).click()
        _qr_shown(page)
        image = page.get_by_role("img", name=t.qr_code, exact=True)
        assert decode_qr(image.screenshot()).startswith("EC2:")
        expect(page.get_by_text(SCAN_HINT[t.lang], exact=True)).to_be_visible()
        shots.take(page, "qr-before-revocation")

        revoke = f"/api/v1/issuers/police/credentials/{permit_id}/revoke"
        _call(service, "POST", revoke, None, police)
        with page.expect_response(
            lambda r: r.url.endswith(f"/{permit_id}/presentations") and r.status == 409
        ):
            page.clock.run_for(110_000)  # past the refresh time of the code shown

        alert = page.locator("#qr-refused")
        expect(alert).to_have_attribute("role", "alert")
        expect(alert).to_contain_text(REVOKED_TEXT[t.lang])
        expect(alert).to_be_visible()
        # no stale QR code, no "scan this code", no countdown to a next code
        expect(page.get_by_role("img", name=t.qr_code, exact=True)).to_be_hidden()
        assert page.locator("#qr-img").get_attribute("src") is None
        expect(page.get_by_text(SCAN_HINT[t.lang], exact=True)).to_be_hidden()
        expect(page.locator("#qr-countdown")).to_be_hidden()
        expect(page.get_by_role("switch", name=t.online_qr, exact=True)).to_be_hidden()
        # ...and it stays so: no further code is asked for
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/presentations" in r.url else None)
        page.clock.run_for(300_000)
        page.evaluate("() => 1")  # a round trip: request events have been delivered
        assert asked == []
        expect(alert).to_contain_text(REVOKED_TEXT[t.lang])
        shots.take(page, "qr-revoked")
        assert serious_violations(page) == []
        page.get_by_role("button", name=t.elder, exact=True).click()
        shots.take(page, "qr-revoked-elder")
        assert serious_violations(page) == []
        page.get_by_role("button", name=t.elder, exact=True).click()

        # Back: the card screen and the card list know it is revoked.
        page.get_by_role("button", name=re.compile("^(Done|完成)$")).click()
        expect(page.locator("#card-unusable")).to_contain_text(REVOKED_TEXT[t.lang])
        expect(page.get_by_role("button", name=t.show_qr, exact=True)).to_be_disabled()
        expect(page.locator("#card-summary")).to_contain_text(t.revoked)
        shots.take(page, "card-revoked")
        page.get_by_role("button", name=re.compile("(Back|返回)$")).click()
        card = page.get_by_role("button", name=RESIDENCE_PERMIT[t.lang], exact=True)
        expect(card).to_have_accessible_description(re.compile(t.revoked))
        shots.take(page, "cards-with-revoked")
        assert errors.errors == [], errors.errors
    finally:
        context.close()
