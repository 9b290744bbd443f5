"""OpenID4VP in the web pages (issue 13), in Debian's Chromium at a phone's size, in both
languages, against ``ecert serve --demo``: the hotel's staff press "ask the citizen's
wallet", the scanner shows the request's QR code; its web-wallet variant is decoded
with a real QR decoder from a screenshot and opened in the citizen's browser, which
(after the login) shows who asks, for which scene and which fields; on consent the
scanner shows "Valid" with the name and the ID number, as for a scanned code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_helpers import Screenshots, Service, running_service
from tests.test_browser import (
    EN,
    ZH,
    Texts,
    _open,
    _path,
    _seed,
    expect_valid_hotel,
    log_in_citizen,
    log_in_venue,
)
from verifier.qrimage import decode_qr

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

ASK = {"en": "Ask the citizen's wallet", "zh": "请市民的钱包出示"}
WEB_WALLET = {"en": "ecert web wallet (phone camera)", "zh": "ecert 网页钱包（手机相机）"}
ASKS = {"en": "Grand City Hotel asks for a certificate", "zh": "城市大酒店 请您出示证照"}
CONSENT = {"en": "Consent and show", "zh": "同意并出示"}
DONE = {"en": "Shown to Grand City Hotel.", "zh": "已向 城市大酒店 出示。"}
DECLINE = {"en": "Decline", "zh": "拒绝"}
DECLINED = {"en": "You declined the request.", "zh": "已拒绝此请求。"}
UNREACHABLE = {
    "en": "The service cannot be reached; the request is kept. Check the network and try again.",
    "zh": "无法连接服务，请求仍在。请检查网络后重试。",
}
RETRY = {"en": "Try again", "zh": "重试"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("oid4vp-browser")) as running:
        _seed(running)
        yield running


def _ask(staff: Any, service: Service, t: Texts) -> str:
    """The venue's staff ask for the web wallet: the link its QR code carries."""
    staff.goto(_path("/scan", t))
    log_in_venue(staff, service, t)
    staff.get_by_role("button", name=ASK[t.lang], exact=True).click()
    expect(staff.locator("#oid4vp-box img.oid4vp-qr")).to_be_visible()
    staff.get_by_role("button", name=WEB_WALLET[t.lang], exact=True).click()
    expect(staff.locator("#oid4vp-box")).to_contain_text(WEB_WALLET[t.lang])
    link = decode_qr(staff.locator("#oid4vp-box img.oid4vp-qr").screenshot())
    assert link.startswith(service.base + "/wallet?client_id=x509_hash"), link
    return str(link)


def _result(service: Service, link: str) -> dict[str, Any]:
    """The result of the request a web-wallet link names, as its venue reads it."""
    import json
    import urllib.parse
    import urllib.request

    query = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)
    request_id = query["request_uri"][0].rsplit("/", 1)[1]
    asked = urllib.request.Request(
        f"{service.base}/api/v1/verify/requests/{request_id}",
        headers={"Authorization": "Bearer " + service.venue_key("grand-hotel")},
    )
    with urllib.request.urlopen(asked, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())["result"]
    return result


def _walk(browser: Any, service: Service, shots: Screenshots, t: Texts) -> None:
    staff_context, staff, staff_errors = _open(browser, service)
    wallet_context, wallet, wallet_errors = _open(browser, service)
    try:
        link = _ask(staff, service, t)
        shots.take(staff, "scan-ask-web")

        wallet.goto(link + ("&lang=en" if t.lang == "en" else ""))
        log_in_citizen(wallet, service, t, 0)
        panel = wallet.locator("#oid4vp-panel")
        expect(panel.get_by_role("heading", name=ASKS[t.lang], exact=True)).to_be_visible()
        expect(panel).to_contain_text(t.hotel)
        expect(panel.locator(".oid4vp-fields li").first).to_have_text(t.name)
        expect(panel.locator(".oid4vp-fields li").nth(1)).to_have_text(t.id_number)
        expect(panel.get_by_role("radio", name=t.id_card, exact=True)).to_be_checked()
        shots.take(wallet, "wallet-asked")
        panel.get_by_role("button", name=CONSENT[t.lang], exact=True).click()
        expect(panel).to_contain_text(DONE[t.lang])
        shots.take(wallet, "wallet-shown")

        status = staff.get_by_role("status").filter(has=staff.locator(".verdict"))
        expect_valid_hotel(status, t, 0)
        shots.take(staff, "scan-answered")
        assert staff_errors.errors == [] and wallet_errors.errors == [], (
            staff_errors.errors + wallet_errors.errors
        )
    finally:
        staff_context.close()
        wallet_context.close()


@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
def test_the_scanner_asks_and_the_web_wallet_answers(
    browser: Any, service: Service, shots: Screenshots, t: Texts
) -> None:
    _walk(browser, service, shots, t)


@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
def test_the_web_wallet_keeps_a_request_it_could_not_send(
    browser: Any, service: Service, shots: Screenshots, t: Texts
) -> None:
    """No network at each of the panel's three calls (the request's description, the
    consent, the decline): the citizen is told, the request is kept and the buttons work
    again; nothing is left "waiting" and no promise is left unhandled."""
    staff_context, staff, staff_errors = _open(browser, service)
    wallet_context, wallet, wallet_errors = _open(browser, service)
    try:
        link = _ask(staff, service, t)
        wallet.route("**/api/v1/openid4vp/requests/*/about", lambda route: route.abort(), times=1)
        wallet.goto(link + ("&lang=en" if t.lang == "en" else ""))
        log_in_citizen(wallet, service, t, 1)
        panel = wallet.locator("#oid4vp-panel")
        expect(panel.get_by_role("alert")).to_have_text(UNREACHABLE[t.lang])
        shots.take(wallet, "wallet-unreachable")
        panel.get_by_role("button", name=RETRY[t.lang], exact=True).click()
        panel = wallet.locator("#oid4vp-panel")
        expect(panel.get_by_role("heading", name=ASKS[t.lang], exact=True)).to_be_visible()
        assert wallet.locator("#oid4vp-panel").count() == 1

        consent = panel.get_by_role("button", name=CONSENT[t.lang], exact=True)
        decline = panel.get_by_role("button", name=DECLINE[t.lang], exact=True)
        wallet.route(
            "**/api/v1/wallet/openid4vp/requests/*/answer", lambda route: route.abort(), times=1
        )
        consent.click()
        expect(panel.get_by_role("alert")).to_have_text(UNREACHABLE[t.lang])
        expect(consent).to_be_enabled()
        expect(decline).to_be_enabled()

        wallet.route(
            "**/api/v1/wallet/openid4vp/requests/*/decline", lambda route: route.abort(), times=1
        )
        decline.click()
        expect(panel.get_by_role("alert")).to_have_text(UNREACHABLE[t.lang])
        expect(decline).to_be_enabled()
        shots.take(wallet, "wallet-not-sent")
        decline.click()
        expect(panel).to_contain_text(DECLINED[t.lang])
        # the venue heard the refusal (the wallet's error response, OpenID4VP §8.5)
        assert _result(service, link)["errors"][0]["code"] == "vp_declined"
        assert staff_errors.errors == [] and wallet_errors.errors == [], (
            staff_errors.errors + wallet_errors.errors
        )
    finally:
        staff_context.close()
        wallet_context.close()
