"""The clerk's side in a real browser: the scanner's verdicts, the portrait, the landing
page and the ``/p/<token>`` page (Debian's Chromium driven by Playwright, against
``ecert serve --demo`` under gunicorn on 127.0.0.1, at 390×844, in both languages).

Presentations are made over the API as the citizen's wallet makes them (log in, ``POST
…/presentations``); attacks are built from the raw text (a flipped signature byte). The
scanner is driven by role and accessible name, like a scanner gun: type, then Enter.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sdjwt.qr_transport import decode_compact
from tests.browser_helpers import (
    Screenshots,
    Service,
    phone_context,
    require_chromium,
    running_service,
    serious_violations,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

require_chromium()

TIMEOUT = 15_000
ID_CARD = "urn:ecert:resident-id-card"
PERMIT = "urn:ecert:residence-permit"


@dataclass(frozen=True)
class Texts:
    """What the clerk sees, per language (api/web/strings.json)."""

    lang: str
    venue_key: str
    log_in: str
    scene: str
    qr_content: str
    verify: str
    valid: str
    invalid: str
    next_scan: str
    retry: str
    refuse: str
    hotel_scene: str
    bank_scene: str
    empty: str
    portrait_alt: str
    no_photo: str
    landing_title: str
    wallet_link: str
    scan_link: str
    api_link: str
    p_heading: str
    p_scan: str
    offline: str


EN = Texts(
    lang="en", venue_key="Venue key", log_in="Log in", scene="Scene",
    qr_content="QR content", verify="Verify", valid="Valid", invalid="Invalid",
    next_scan="Next scan", retry="Ask for a new code", refuse="Refuse",
    hotel_scene="Hotel check-in", bank_scene="Bank account opening",
    empty="Nothing to check: scan a QR code or type its content first.",
    portrait_alt="Photo of the certificate holder",
    no_photo="This code carries no photo: check the person against their ID document.",
    landing_title="Electronic certificates", wallet_link="Open my wallet",
    scan_link="Open the scanner", api_link="API description (OpenAPI 3.1)",
    p_heading="Show this to the staff", p_scan="Open the scanner",
    offline="No network. Try again later.",
)
ZH = Texts(
    lang="zh", venue_key="场所密钥", log_in="登录", scene="使用场景",
    qr_content="二维码内容", verify="核验", valid="有效", invalid="无效",
    next_scan="继续核验", retry="请对方重新出示", refuse="拒绝",
    hotel_scene="旅馆住宿登记", bank_scene="银行开户",
    empty="没有可核验的内容：请先扫描二维码或输入其内容。",
    portrait_alt="持证人照片",
    no_photo="此二维码不含照片：请核对对方的身份证件。",
    landing_title="电子证照", wallet_link="打开我的证照夹",
    scan_link="打开核验扫码", api_link="接口说明（OpenAPI 3.1）",
    p_heading="请出示给核验人员扫描", p_scan="打开核验扫码",
    offline="网络不可用，请稍后重试。",
)
LANGS = [pytest.param(EN, id="en"), pytest.param(ZH, id="zh")]

#: What a venue must never see on the /p page: the demo citizens' names and ID numbers.
PEOPLE = [("张三", "110101199003070011"), ("李四", "11010119920815004X")]


# -- the service and the API -----------------------------------------------------------------


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


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("clerk-service")) as running:
        yield running


@pytest.fixture(scope="module")
def token(service: Service) -> str:
    """A session of demo citizen 1 (one log-in for the module)."""
    answer = _call(service, "POST", "/api/v1/auth/login", service.citizen(1), None)
    return str(answer["access_token"])


def _police_key(service: Service) -> str:
    return str(next(d for d in service.demo["departments"] if d["issuer"] == "police")["api_key"])


def _credential(service: Service, token: str, vct: str) -> str:
    items = _call(service, "GET", "/api/v1/wallet/credentials", None, token)["items"]
    return str(next(i["id"] for i in items if i["vct"] == vct and i["status"] == "valid"))


def _qr(service: Service, token: str, scene: str, mode: str, vct: str = ID_CARD) -> str:
    """A fresh presentation's QR text, made as the wallet makes it."""
    credential = _credential(service, token, vct)
    shown = _call(service, "POST", f"/api/v1/wallet/credentials/{credential}/presentations",
                  {"scene": scene, "mode": mode}, token)
    return str(shown["qr"])


def _revoked_permit_qr(service: Service, token: str) -> str:
    """A hotel QR of a residence permit that the police then revoke."""
    citizen = service.citizen(1)["citizen_id"]
    issued = _call(service, "POST", "/api/v1/issuers/police/credentials", {
        "vct": PERMIT, "citizen_id": citizen,
        "claims": {"name": "李四", "sex": "女", "ethnicity": "汉", "birth_date": "1992-08-15",
                   "id_number": citizen, "household_address": "北京市东城区样例胡同8号",
                   "residence_address": "北京市朝阳区示例街9号",
                   "issuing_authority": "北京市公安局朝阳分局",
                   "issue_date": "2026-01-05", "valid_until": "2028-01-05"},
    }, _police_key(service))
    credential = str(issued["id"])
    shown = _call(service, "POST", f"/api/v1/wallet/credentials/{credential}/presentations",
                  {"scene": "hotel", "mode": "offline"}, token)
    _call(service, "POST", f"/api/v1/issuers/police/credentials/{credential}/revoke", None,
          _police_key(service))
    return str(shown["qr"])


def _forged(qr: str) -> str:
    """The plain presentation behind a compact QR, with its issuer signature altered."""
    plain = decode_compact(qr)
    jwt, _, rest = plain.partition("~")
    head, _, signature = jwt.rpartition(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    return f"{head}.{flipped}~{rest}"


# -- the browser -----------------------------------------------------------------------------




class Page:
    """A phone-sized page that records script errors and CSP violations."""

    def __init__(self, browser: Any, service: Service) -> None:
        self.context = phone_context(browser, service.base)
        self.context.set_default_timeout(TIMEOUT)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.errors.append(f"console: {message.text}")

    def close(self) -> None:
        self.context.close()
        assert self.errors == []


@pytest.fixture
def opened(browser: Any, service: Service) -> Iterator[Page]:
    page = Page(browser, service)
    yield page
    page.close()


def _path(path: str, t: Texts) -> str:
    return path if t.lang == "zh" else f"{path}?lang={t.lang}"


def scanner(page: Any, service: Service, t: Texts, venue: str, scene: str) -> None:
    page.goto(_path("/scan", t))
    page.get_by_label(t.venue_key, exact=True).fill(service.venue_key(venue))
    page.get_by_role("button", name=t.log_in, exact=True).click()
    select = page.get_by_label(t.scene, exact=True)
    expect(select).to_be_visible()
    select.select_option(scene)


def scan(page: Any, t: Texts, text: str) -> Any:
    """Type the text as a scanner gun does, then Enter; the result region."""
    if page.evaluate("() => document.body.getAttribute('data-screen')") == "result":
        page.get_by_role("button", name=t.next_scan, exact=True).click()
    box = page.get_by_label(t.qr_content, exact=True)
    box.fill(text)
    box.press("Enter")
    status = page.get_by_role("status")
    expect(status.locator(".verdict")).to_be_visible()
    return status


def expect_verdict(status: Any, t: Texts, verdict: str, code: str) -> None:
    """Invalid, with the action for its class, in its colour, and the code shown."""
    expect(status.locator(".verdict")).to_have_text(t.invalid)
    expect(status).to_have_attribute("data-verdict", verdict)
    action = t.refuse if verdict == "refuse" else t.retry
    expect(status.locator(".verdict-action")).to_have_text(action)
    expect(status.locator(".reason-code")).to_contain_text([code])
    colour = status.locator(".verdict-box").evaluate("e => getComputedStyle(e).backgroundColor")
    # red (--red #b3261e) for refuse, amber (--amber #7a4f00) for ask again
    assert colour == ("rgb(179, 38, 30)" if verdict == "refuse" else "rgb(122, 79, 0)"), colour


# -- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("t", LANGS)
def test_amber_asks_for_a_new_code_and_red_refuses(
    opened: Page, service: Service, token: str, shots: Screenshots, t: Texts
) -> None:
    page = opened.page
    scanner(page, service, t, "grand-hotel", "hotel")

    # unreadable: amber, ask for a new code
    status = scan(page, t, "not a certificate")
    expect_verdict(status, t, "retry", "malformed")
    shots.take(page, "retry-malformed")

    # a valid code, then the same code again: a copy, red
    qr = _qr(service, token, "hotel", "offline")
    expect(scan(page, t, qr).locator(".verdict")).to_have_text(t.valid)
    expect_verdict(scan(page, t, qr), t, "refuse", "replayed")
    shots.take(page, "refuse-replayed")

    # forged: the issuer's signature altered, red
    expect_verdict(scan(page, t, _forged(_qr(service, token, "hotel", "offline"))), t,
                   "refuse", "invalid_signature")
    shots.take(page, "refuse-forged")

    # revoked by the police after the code was made, red
    expect_verdict(scan(page, t, _revoked_permit_qr(service, token)), t, "refuse", "revoked")
    shots.take(page, "refuse-revoked")
    assert serious_violations(page) == []


@pytest.mark.parametrize("t", LANGS)
def test_a_code_for_another_scene_names_it(
    opened: Page, service: Service, token: str, shots: Screenshots, t: Texts
) -> None:
    page = opened.page
    scanner(page, service, t, "city-bank", "bank")
    for mode in ("offline", "online"):
        status = scan(page, t, _qr(service, token, "hotel", mode))
        expect_verdict(status, t, "retry", "key_binding_invalid")
        made_for = status.locator(".made-for")
        expect(made_for).to_contain_text(t.hotel_scene)
        expect(made_for).to_contain_text(t.bank_scene)
        shots.take(page, f"wrong-scene-{mode}")


@pytest.mark.parametrize("t", LANGS)
def test_a_scan_before_the_scene_names_arrive_still_names_the_scene(
    opened: Page, service: Service, token: str, t: Texts
) -> None:
    """The public scene list is fetched after log-in; a result waits for it.

    A scanner gun can read a code before that list has arrived (it did under the full
    suite's load): the answer then named the scene a code was made for by its id.
    """
    page = opened.page
    held: list[Any] = []

    def hold(route: Any) -> None:
        if "authorization" not in route.request.headers:  # not the log-in's own list
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/v1/scenes", hold)
    scanner(page, service, t, "city-bank", "bank")
    for _ in range(100):  # the request leaves after log-in; its handler runs in a wait
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the scanner did not ask for the scene names"
    box = page.get_by_label(t.qr_content, exact=True)
    box.fill(_qr(service, token, "hotel", "offline"))
    box.press("Enter")
    for route in held:
        route.continue_()
    page.unroute("**/api/v1/scenes")
    status = page.get_by_role("status")
    expect(status.locator(".verdict")).to_be_visible()
    expect(status.locator(".made-for")).to_contain_text(t.hotel_scene)


@pytest.mark.parametrize("t", LANGS)
def test_a_verification_that_never_answers_frees_the_scanner(
    opened: Page, service: Service, token: str, shots: Screenshots, t: Texts
) -> None:
    """A request that hangs (a dead mobile network, a proxy holding the connection) fails
    after the page's timeout: the scanner says the network is down and takes the next code,
    where it used to stay "verifying" and refuse every scan until a reload."""
    page = opened.page
    scanner(page, service, t, "grand-hotel", "hotel")
    page.evaluate("window.Ecert.timeouts.request = 400")
    held: list[Any] = []

    def hold(route: Any) -> None:  # never answered
        held.append(route)

    page.route("**/api/v1/verify", hold)
    box = page.get_by_label(t.qr_content, exact=True)
    box.fill(_qr(service, token, "hotel", "offline"))
    box.press("Enter")
    error = page.locator("#scan-error")
    expect(error).to_have_text(t.offline)
    assert held, "the scanner did not send the code"
    shots.take(page, "request-timed-out")
    page.unroute("**/api/v1/verify")
    box.fill(_qr(service, token, "hotel", "offline"))
    box.press("Enter")
    expect(page.get_by_role("status").locator(".verdict")).to_have_text(t.valid)
    expect(error).to_be_hidden()


@pytest.mark.parametrize("t", LANGS)
def test_an_empty_submit_says_so_and_the_next_scan_clears_it(
    opened: Page, service: Service, token: str, shots: Screenshots, t: Texts
) -> None:
    page = opened.page
    scanner(page, service, t, "grand-hotel", "hotel")
    error = page.locator("#scan-error")
    page.get_by_role("button", name=t.verify, exact=True).click()
    expect(error).to_be_visible()
    expect(error).to_have_text(t.empty)
    shots.take(page, "empty")
    # spaces only: still nothing to check
    box = page.get_by_label(t.qr_content, exact=True)
    box.fill("   ")
    box.press("Enter")
    expect(error).to_have_text(t.empty)
    # the next scan starts: the old error goes at once, and the result shows
    box.press_sequentially("x")
    expect(error).to_be_hidden()
    page.get_by_role("button", name=t.verify, exact=True).click()
    expect(page.get_by_role("status").locator(".verdict")).to_have_text(t.invalid)
    expect(error).to_be_hidden()
    # a result, then the next scan: the old result is gone
    page.get_by_role("button", name=t.next_scan, exact=True).click()
    expect(page.get_by_role("status")).to_be_empty()


@pytest.mark.parametrize("t", LANGS)
def test_the_portrait_online_and_the_no_photo_note_offline(
    opened: Page, service: Service, token: str, shots: Screenshots, t: Texts
) -> None:
    page = opened.page
    scanner(page, service, t, "grand-hotel", "hotel")

    status = scan(page, t, _qr(service, token, "hotel", "online"))
    expect(status.locator(".verdict")).to_have_text(t.valid)
    photo = status.get_by_role("img", name=t.portrait_alt, exact=True)
    expect(photo).to_be_visible()
    expect(photo).to_have_attribute("src", re.compile(r"^data:image/jpeg;base64,"))
    assert photo.evaluate("i => i.complete && i.naturalWidth > 0")
    expect(status.locator(".portrait-none")).to_have_count(0)
    # the photo is not a field row: the fields are still name and ID number only
    expect(status.locator(".claims dd")).to_have_text(list(PEOPLE[1]))
    # times say their zone (this browser runs in UTC)
    expect(status).to_contain_text(re.compile(r"\d{2}:\d{2}:\d{2} \(UTC\)"))
    shots.take(page, "portrait-online")

    status = scan(page, t, _qr(service, token, "hotel", "offline"))
    expect(status.locator(".verdict")).to_have_text(t.valid)
    expect(status.locator(".portrait-none")).to_have_text(t.no_photo)
    expect(status.get_by_role("img", name=t.portrait_alt)).to_have_count(0)
    shots.take(page, "portrait-offline")
    assert serious_violations(page) == []


@pytest.mark.parametrize("t", LANGS)
def test_the_landing_page_links_to_the_wallet_the_scanner_and_the_api(
    opened: Page, service: Service, shots: Screenshots, t: Texts
) -> None:
    page = opened.page
    page.goto(_path("/", t))
    expect(page.get_by_role("heading", name=t.landing_title, level=1)).to_be_visible()
    shots.take(page, "landing")
    assert serious_violations(page) == []
    suffix = "" if t.lang == "zh" else f"?lang={t.lang}"
    wallet = page.get_by_role("link", name=re.compile("^" + re.escape(t.wallet_link)))
    scan_link = page.get_by_role("link", name=re.compile("^" + re.escape(t.scan_link)))
    api = page.get_by_role("link", name=re.compile("^" + re.escape(t.api_link)))
    expect(wallet).to_have_attribute("href", "/wallet" + suffix)
    expect(scan_link).to_have_attribute("href", "/scan" + suffix)
    expect(api).to_have_attribute("href", "/openapi.json")
    scan_link.click()
    expect(page.get_by_label(t.venue_key, exact=True)).to_be_visible()
    page.go_back()
    with page.expect_response(lambda r: r.url.endswith("/openapi.json")) as answer:
        page.get_by_role("link", name=re.compile("^" + re.escape(t.api_link))).click()
    assert answer.value.status == 200


@pytest.mark.parametrize("t", LANGS)
def test_the_online_qr_page_is_styled_and_shows_nothing_personal(
    opened: Page, service: Service, token: str, shots: Screenshots, t: Texts
) -> None:
    page = opened.page
    qr = _qr(service, token, "hotel", "online")
    assert qr.startswith(service.base + "/p/")
    page.goto(qr + ("" if t.lang == "zh" else f"?lang={t.lang}"))
    expect(page.get_by_role("heading", name=t.p_heading, level=1)).to_be_visible()
    # styled like the rest: the same stylesheet and top bar
    assert page.locator(".topbar").count() == 1
    assert page.locator("link[rel=stylesheet]").get_attribute("href", timeout=TIMEOUT)
    text = page.locator("body").inner_text()
    for name, id_number in PEOPLE:
        assert name not in text and id_number not in text
    shots.take(page, "online-qr-page")
    assert serious_violations(page) == []
    page.get_by_role("link", name=t.p_scan, exact=True).click()
    expect(page.get_by_label(t.venue_key, exact=True)).to_be_visible()
    # opening the page did not use the code up
    scanner(page, service, t, "grand-hotel", "hotel")
    expect(scan(page, t, qr).locator(".verdict")).to_have_text(t.valid)
