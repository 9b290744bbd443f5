"""The phone as the wallet (issue 9), in a real Chromium driven by Playwright against
``ecert serve --demo`` under gunicorn.

A citizen logs in; the wallet page makes a non-extractable P-256 key, registers it as a
device and keeps the device's own credential copies in IndexedDB. The browser is then
taken **offline** (``context.set_offline(True)``): the phone builds the presentation,
signs the key-binding JWT with the device key and draws the QR code itself. The QR is
decoded from a screenshot with a real decoder (zxing-cpp) and checked with the real
``ecert verify`` CLI against the verifier bundle downloaded before going offline. A
second browser context is a second device: its copy verifies too, and removing that
device (its own menu) revokes its copy while the first device's still verifies. A
browser with no WebCrypto gets the assisted mode, labelled. Both languages, 390×844.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_helpers import (
    ECERT,
    PageErrors,
    Screenshots,
    Service,
    phone_context,
    require_chromium,
    running_service,
    wait_until,
)
from verifier.qrimage import decode_qr

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

require_chromium()

TIMEOUT = 20_000
#: The demo citizens' names and ID numbers (cli/seed.py): what the hotel may see.
PEOPLE = [("张三", "110101199003070011"), ("李四", "11010119920815004X")]
STRINGS = Path(__file__).resolve().parent.parent / "api" / "web" / "strings.json"
EN = {"lang": "en", "id_card": "Resident ID card", "show_qr": "Show QR", "qr_code": "QR code",
      "citizen_id": "Citizen ID", "password": "Password", "log_in": "Log in",
      "scene": "Scene", "remove": "Remove this device", "key_here": "Key on this phone",
      "held": "Held by the service", "online_qr": "Online QR"}
ZH = {"lang": "zh", "id_card": "居民身份证", "show_qr": "出示二维码", "qr_code": "二维码",
      "citizen_id": "公民身份号码", "password": "密码", "log_in": "登录",
      "scene": "使用场景", "remove": "移除本设备", "key_here": "密钥在本机",
      "held": "由服务保管", "online_qr": "在线二维码"}

#: The device record(s) straight from IndexedDB (not through device.js), and what
#: WebCrypto says when asked to export each private key.
EXPORT_PROBE = """async () => {
  const db = await new Promise((ok, ko) => {
    const r = indexedDB.open("ecert-device");
    r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error);
  });
  const records = await new Promise((ok, ko) => {
    const out = [];
    const cursor = db.transaction("kv").objectStore("kv").openCursor();
    cursor.onsuccess = () => {
      const c = cursor.result;
      if (!c) return ok(out);
      if (String(c.key).startsWith("device:")) out.push(c.value);
      c.continue();
    };
    cursor.onerror = () => ko(cursor.error);
  });
  const answers = [];
  for (const rec of records) {
    const k = rec.privateKey;
    const tries = [];
    for (const format of ["jwk", "pkcs8"]) {
      try { await crypto.subtle.exportKey(format, k); tries.push(format + ":exported"); }
      catch (e) { tries.push(format + ":" + e.name); }
    }
    answers.push({type: k.type, extractable: k.extractable, tries: tries,
                  hasD: JSON.stringify(rec).includes('"d"')});
  }
  return answers;
}"""

SETTLED = (
    "() => window.EcertDevice && EcertDevice.state.mode === 'device' && "
    "EcertDevice.state.data && EcertDevice.state.data.copies && "
    "Object.keys(EcertDevice.state.data.copies).length > 0 && "
    "Array.isArray(EcertDevice.state.data.cards) && EcertDevice.state.data.cards.length > 0"
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("phone")) as running:
        yield running




def _download(service: Service, path: str, target: Path) -> Path:
    with urllib.request.urlopen(service.base + path, timeout=30) as response:
        target.write_bytes(response.read())
    return target


def _verify(text: str, bundle: Path, anchor: Path) -> tuple[int, dict[str, Any]]:
    """The real CLI, as a venue with no network runs it."""
    run = subprocess.run(
        [ECERT, "verify", "-", "--bundle", str(bundle), "--anchor", str(anchor),
         "--scene", "hotel"],
        input=text, capture_output=True, text=True, timeout=60, check=False,
    )
    assert run.stdout.strip(), run.stderr
    return run.returncode, json.loads(run.stdout)


def _errors(page: Any) -> list[str]:
    """The page's script errors and CSP violations, as they come."""
    return PageErrors(page).errors


def _log_in(page: Any, service: Service, t: dict[str, str], who: int) -> None:
    citizen = service.citizen(who)
    page.get_by_label(t["citizen_id"], exact=True).fill(citizen["citizen_id"])
    page.get_by_label(t["password"], exact=True).fill(citizen["password"])
    page.get_by_role("button", name=t["log_in"], exact=True).click()
    expect(page.get_by_role("button", name=t["id_card"], exact=True)).to_be_visible()


def _log_out(page: Any, t: dict[str, str], *, device: bool) -> None:
    """Log out through the header menu and its confirmation; with a device key the
    dialog says that the key and the cards stay on this phone, without one that the
    saved card list is deleted."""
    texts = json.loads(STRINGS.read_text(encoding="utf-8"))[t["lang"]]
    page.get_by_role("button", name=texts["menu_button"], exact=True).click()
    page.get_by_role("button", name=texts["log_out"], exact=True).click()
    dialog = page.get_by_role("dialog", name=texts["menu_logout_title"])
    said = texts["menu_logout_text_device" if device else "menu_logout_text"]
    expect(dialog).to_contain_text(said)
    dialog.get_by_role("button", name=texts["log_out"], exact=True).click()


def _phone_qr(page: Any, t: dict[str, str], who: int) -> str:
    """Open the ID card, choose the hotel, show the QR: made on the phone; its text
    as a camera reads it (a screenshot of the image, decoded by zxing-cpp)."""
    page.get_by_role("button", name=t["id_card"], exact=True).click()
    page.get_by_label(t["scene"], exact=True).select_option("hotel")
    # No network: the preview's values come from the phone's own copy.
    expect(page.locator("#preview dd")).to_have_text(list(PEOPLE[who]))
    page.get_by_role("button", name=t["show_qr"], exact=True).click()
    image = page.get_by_role("img", name=t["qr_code"], exact=True)
    expect(image).to_be_visible()
    expect(image).to_have_attribute("data-made", "phone")
    page.wait_for_function(
        "() => { const i = document.getElementById('qr-img'); "
        "return !i.hidden && i.complete && i.naturalWidth > 0; }"
    )
    expect(page.locator("#qr-countdown")).to_have_text(re.compile(r"\d"))
    box = image.bounding_box()
    assert box is not None and box["width"] >= 300, box
    text = decode_qr(image.screenshot())
    assert text.startswith("EC2:"), text[:20]
    return text


def _expect_valid(text: str, bundle: Path, anchor: Path, who: int) -> None:
    code, result = _verify(text, bundle, anchor)
    assert code == 0 and result["valid"] is True, result
    assert result["scene"] == "hotel"
    assert list(result["claims"]) == ["name", "id_number"] or set(result["claims"]) == {
        "name", "id_number"
    }, result["claims"]
    assert list(result["claims"].values()) == list(PEOPLE[who]), result["claims"]


def test_the_phone_shows_a_valid_qr_offline_and_a_removed_device_is_revoked(
    browser: Any, service: Service, shots: Screenshots, tmp_path: Path
) -> None:
    t = EN
    first = phone_context(browser, service.base)
    first.set_default_timeout(TIMEOUT)
    second = phone_context(browser, service.base)
    second.set_default_timeout(TIMEOUT)
    try:
        page = first.new_page()
        errors = _errors(page)
        page.goto("/wallet?lang=en")
        _log_in(page, service, t, 0)
        page.wait_for_function(SETTLED)
        card = page.get_by_role("button", name=t["id_card"], exact=True)
        expect(card).to_have_accessible_description(re.compile(t["key_here"]))
        expect(page.get_by_role("button", name=t["remove"], exact=True)).to_be_visible()
        shots.take(page, "cards-device")

        # The private key is in IndexedDB as a CryptoKey that cannot be exported.
        probe = page.evaluate(EXPORT_PROBE)
        assert len(probe) == 1, probe
        assert probe[0]["type"] == "private" and probe[0]["extractable"] is False, probe
        assert probe[0]["tries"] == ["jwk:InvalidAccessError", "pkcs8:InvalidAccessError"], probe
        assert probe[0]["hasD"] is False

        bundle = _download(service, "/api/v1/verifier/bundle", tmp_path / "bundle.json")
        anchor = _download(service, "/api/v1/verifier/anchor", tmp_path / "anchor.json")

        # Flight mode: no network at all from here on for this phone.
        first.set_offline(True)
        assert page.evaluate("() => navigator.onLine") is False
        text = _phone_qr(page, t, 0)
        # The online QR (a /p/ link) is not offered with no network.
        expect(page.get_by_role("switch", name=t["online_qr"], exact=True)).to_be_hidden()
        expect(page.locator("#device-qr-note")).to_be_visible()
        shots.take(page, "qr-offline")
        _expect_valid(text, bundle, anchor, 0)

        # A second device of the same citizen: its own key, its own copy.
        other = second.new_page()
        other_errors = _errors(other)
        other.goto("/wallet?lang=en")
        _log_in(other, service, t, 0)
        other.wait_for_function(SETTLED)
        ids = [
            p.evaluate("() => EcertDevice.state.device.deviceId") for p in (page, other)
        ]
        assert ids[0] != ids[1]
        second.set_offline(True)
        other_text = _phone_qr(other, t, 0)
        assert other_text != text
        _expect_valid(other_text, bundle, anchor, 0)

        # Removing the second device from its own menu revokes its copy at once.
        second.set_offline(False)
        other.get_by_role("button", name="Done", exact=True).click()
        other.get_by_role("button", name="Certificates", exact=True).click()
        other.once("dialog", lambda dialog: dialog.accept())
        other.get_by_role("button", name=t["remove"], exact=True).click()
        other.wait_for_function("() => EcertDevice.state.mode === 'assisted'")
        other_card = other.get_by_role("button", name=t["id_card"], exact=True)
        expect(other_card).to_have_accessible_description(re.compile(t["held"]))
        assert other.evaluate(EXPORT_PROBE) == []  # wiped from that browser
        expect(other.locator("#device-status")).to_contain_text("holds no key of yours")
        shots.take(other, "cards-device-removed")

        fresh = _download(service, "/api/v1/verifier/bundle", tmp_path / "bundle-2.json")
        code, result = _verify(other_text, fresh, anchor)
        assert code != 0 and result["valid"] is False, result
        assert "revoked" in json.dumps(result["errors"]), result
        assert result["claims"] == {}
        # The first phone's copy is untouched.
        _expect_valid(text, fresh, anchor, 0)
        assert errors == [] and other_errors == [], errors + other_errors
    finally:
        first.close()
        second.close()


def test_the_wallet_opens_offline_with_no_session_and_shows_a_qr(
    browser: Any, service: Service, shots: Screenshots, tmp_path: Path
) -> None:
    """Tab closed, flight mode: the wallet opens from the service worker with the cards
    kept on this phone, in Chinese, and makes a QR code that verifies."""
    t = ZH
    context = phone_context(browser, service.base)
    context.set_default_timeout(TIMEOUT)
    try:
        page = context.new_page()
        errors = _errors(page)
        page.goto("/wallet")
        wait_until(
            page,
            "async () => { const r = await navigator.serviceWorker.ready; return !!r.active; }"
        )
        _log_in(page, service, t, 1)
        page.wait_for_function(SETTLED)
        bundle = _download(service, "/api/v1/verifier/bundle", tmp_path / "bundle.json")
        anchor = _download(service, "/api/v1/verifier/anchor", tmp_path / "anchor.json")
        # Log out: the menu says the key and cards stay on this phone.
        expect(page.locator("#device-logout-note")).to_be_visible()
        _log_out(page, t, device=True)
        page.close()

        context.set_offline(True)
        again = context.new_page()
        errors += _errors(again)
        again.goto("/wallet")
        expect(again.get_by_role("button", name=t["id_card"], exact=True)).to_be_visible()
        expect(again.locator("#cards-offline")).to_contain_text("仍可出示二维码")
        shots.take(again, "cards-offline-no-session")
        text = _phone_qr(again, t, 1)
        shots.take(again, "qr-offline-no-session")
        _expect_valid(text, bundle, anchor, 1)
        assert errors == [], errors
    finally:
        context.close()


def test_a_device_removed_elsewhere_is_forgotten_and_registers_again_at_log_in(
    browser: Any, service: Service
) -> None:
    """Removed from another device or by the operator (here: the API, with the session's
    own token): the phone drops its key and copies at its next sync, and the next
    log-in registers a new key."""
    t = EN
    context = phone_context(browser, service.base)
    context.set_default_timeout(TIMEOUT)
    try:
        page = context.new_page()
        errors = _errors(page)
        page.goto("/wallet?lang=en")
        _log_in(page, service, t, 1)
        page.wait_for_function(SETTLED)
        old = page.evaluate("() => EcertDevice.state.device.deviceId")
        token = page.evaluate("() => sessionStorage.getItem('ecert.wallet.token')")
        request = urllib.request.Request(
            f"{service.base}/api/v1/wallet/devices/{old}",
            method="DELETE",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 204
        page.reload()
        page.wait_for_function("() => EcertDevice.state.mode === 'assisted'")
        assert page.evaluate(EXPORT_PROBE) == []
        card = page.get_by_role("button", name=t["id_card"], exact=True)
        expect(card).to_have_accessible_description(re.compile(t["held"]))

        _log_out(page, t, device=False)  # forgotten: back in the assisted mode
        _log_in(page, service, t, 1)
        page.wait_for_function(SETTLED)
        new = page.evaluate("() => EcertDevice.state.device.deviceId")
        assert new != old
        assert len(page.evaluate(EXPORT_PROBE)) == 1
        assert errors == [], errors
    finally:
        context.close()


@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
def test_a_browser_with_no_webcrypto_is_in_assisted_mode(
    browser: Any, service: Service, shots: Screenshots, t: dict[str, str]
) -> None:
    context = phone_context(browser, service.base)
    context.set_default_timeout(TIMEOUT)
    # As on a browser without WebCrypto (or an http:// page that is not a secure context).
    context.add_init_script(
        "Object.defineProperty(Crypto.prototype, 'subtle', {get: () => undefined});"
    )
    try:
        page = context.new_page()
        errors = _errors(page)
        page.goto("/wallet" if t["lang"] == "zh" else "/wallet?lang=en")
        _log_in(page, service, t, 0 if t["lang"] == "en" else 1)
        card = page.get_by_role("button", name=t["id_card"], exact=True)
        expect(card).to_have_accessible_description(re.compile(t["held"]))
        assert page.evaluate("() => EcertDevice.state.mode") == "assisted"
        expect(page.get_by_role("button", name=t["remove"], exact=True)).to_be_hidden()
        expect(page.locator("#device-status")).to_be_visible()
        shots.take(page, "cards-assisted")
        assert errors == [], errors
    finally:
        context.close()


#: The scanner's words (api/web/static/scan.js) this file needs, by language.
SCAN = {
    "en": {"venue_key": "Venue key", "log_in": "Log in", "scene": "Scene",
           "qr_content": "QR content", "valid": "Valid",
           "portrait_alt": "Photo of the certificate holder"},
    "zh": {"venue_key": "场所密钥", "log_in": "登录", "scene": "使用场景",
           "qr_content": "二维码内容", "valid": "有效", "portrait_alt": "持证人照片"},
}


def _makes_presentations(request: Any) -> bool:
    """A request that has the service make or hold a presentation (any method)."""
    path = request.url.split("?", 1)[0]
    return bool(re.search(r"/api/v1/wallet/(credentials/[^/]+/)?presentations$", path))


@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
def test_online_the_phone_makes_every_code_and_the_service_only_holds_the_online_one(
    browser: Any, service: Service, shots: Screenshots, tmp_path: Path, t: dict[str, str]
) -> None:
    """With a network: the offline code is made and drawn on the phone (no request has the
    service make a presentation); the online code is made on the phone too (with the
    portrait for the hotel) and only handed to the service to hold behind a /p/ URL,
    whose redemption at the scanner shows the portrait."""
    who = 0 if t["lang"] == "en" else 1
    words = SCAN[t["lang"]]
    context = phone_context(browser, service.base)
    context.set_default_timeout(TIMEOUT)
    staff_context = phone_context(browser, service.base)
    staff_context.set_default_timeout(TIMEOUT)
    try:
        page = context.new_page()
        errors = _errors(page)
        page.goto("/wallet" if t["lang"] == "zh" else "/wallet?lang=en")
        _log_in(page, service, t, who)
        page.wait_for_function(SETTLED)
        bundle = _download(service, "/api/v1/verifier/bundle", tmp_path / "bundle.json")
        anchor = _download(service, "/api/v1/verifier/anchor", tmp_path / "anchor.json")
        asked: list[tuple[str, str]] = []
        page.on(
            "request",
            lambda r: asked.append((r.method, r.url)) if _makes_presentations(r) else None,
        )
        assert page.evaluate("() => navigator.onLine") is True
        text = _phone_qr(page, t, who)
        page.evaluate("() => 1")  # a round trip: request events have been delivered
        assert asked == [], asked
        _expect_valid(text, bundle, anchor, who)

        # Online mode: made on the phone, held by the service (never the service's own
        # presentation route, which would sign with the service-held key).
        online = page.get_by_role("switch", name=t["online_qr"], exact=True)
        with page.expect_response(
            lambda r: r.url.endswith("/api/v1/wallet/presentations") and r.status == 201
        ):
            online.check()
        image = page.get_by_role("img", name=t["qr_code"], exact=True)
        expect(image).to_have_attribute("data-made", "phone")
        page.wait_for_function(
            "() => { const i = document.getElementById('qr-img'); "
            "return !i.hidden && i.complete && i.naturalWidth > 0; }"
        )
        url = decode_qr(image.screenshot())
        assert url.startswith(service.base + "/p/"), url
        page.evaluate("() => 1")
        assert [m for m, u in asked] == ["POST"], asked
        assert all(u.endswith("/api/v1/wallet/presentations") for _, u in asked), asked
        shots.take(page, "qr-online-made-on-phone")

        staff = staff_context.new_page()
        staff_errors = _errors(staff)
        staff.goto("/scan" if t["lang"] == "zh" else "/scan?lang=en")
        staff.get_by_label(words["venue_key"], exact=True).fill(service.venue_key("grand-hotel"))
        staff.get_by_role("button", name=words["log_in"], exact=True).click()
        staff.get_by_label(words["scene"], exact=True).select_option("hotel")
        box = staff.get_by_label(words["qr_content"], exact=True)
        box.fill(url)
        box.press("Enter")
        status = staff.get_by_role("status")
        expect(status.locator(".verdict")).to_have_text(words["valid"])
        expect(status.locator(".claims dd")).to_have_text(list(PEOPLE[who]))
        photo = status.get_by_role("img", name=words["portrait_alt"], exact=True)
        expect(photo).to_be_visible()
        expect(photo).to_have_attribute("src", re.compile(r"^data:image/"))
        shots.take(staff, "scan-phone-online-portrait")
        assert errors == [] and staff_errors == [], errors + staff_errors
    finally:
        context.close()
        staff_context.close()


def test_with_no_network_the_phone_reads_its_freshest_bundle_before_showing_a_code(
    browser: Any, service: Service, shots: Screenshots
) -> None:
    """The phone keeps the freshest verifier bundle it has seen, and reads its own
    copy's status in it (the status list decoded in the browser). A card suspended while
    the phone was online is not shown later in flight mode: the QR screen explains
    instead of drawing a code every venue would refuse, or saying "no network"."""
    t = EN
    texts = json.loads(STRINGS.read_text(encoding="utf-8"))["en"]
    police = next(d for d in service.demo["departments"] if d["issuer"] == "police")
    context = phone_context(browser, service.base)
    context.set_default_timeout(TIMEOUT)
    card = ""

    def department(action: str) -> None:
        request = urllib.request.Request(
            f"{service.base}/api/v1/issuers/police/credentials/{card}/{action}",
            method="POST",
            headers={"Authorization": f"Bearer {police['api_key']}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200

    def bundle_says(expected: str) -> None:
        script = (
            f"async () => (await EcertDevice.bundleRefusal({json.dumps(card)})) === "
            f"{json.dumps(expected)}"
        )
        # A sync may meet the service's bundle from just before the change (it is kept
        # signed for a moment): the network drops and comes back again, as it does.
        for _ in range(2):
            try:
                wait_until(page, script, timeout=10.0)
                return
            except AssertionError:
                context.set_offline(True)
                context.set_offline(False)
        wait_until(page, script)

    try:
        page = context.new_page()
        errors = _errors(page)
        page.goto("/wallet?lang=en")
        _log_in(page, service, t, 0)
        page.wait_for_function(SETTLED)
        card = page.evaluate(
            "() => Object.entries(EcertDevice.state.data.copies)"
            ".find(([, c]) => c.vct === 'urn:ecert:resident-id-card')[0]"
        )
        assert page.evaluate("() => !!EcertDevice.state.data.bundle")
        refusal = f"async () => await EcertDevice.bundleRefusal({json.dumps(card)})"
        assert page.evaluate(refusal) is None
        department("suspend")
        # The network drops and comes back (a tunnel): the device syncs its copies and
        # the fresher bundle; the card list on screen is the one from before.
        context.set_offline(True)
        context.set_offline(False)
        bundle_says("suspended")
        context.set_offline(True)
        page.get_by_role("button", name=t["id_card"], exact=True).click()
        page.get_by_label(t["scene"], exact=True).select_option("hotel")
        page.get_by_role("button", name=t["show_qr"], exact=True).click()
        alert = page.locator("#qr-refused")
        expect(alert).to_contain_text(texts["refused"]["credential_suspended"][0])
        expect(page.get_by_role("img", name=t["qr_code"], exact=True)).to_be_hidden()
        shots.take(page, "suspended-offline")
        # Lifted: back online, the next sync brings a bundle that says so.
        department("reinstate")
        context.set_offline(False)
        wait_until(
            page,
            f"async () => (await EcertDevice.bundleRefusal({json.dumps(card)})) === null",
        )
        assert errors == [], errors
    finally:
        context.close()
        if card:
            with contextlib.suppress(urllib.error.HTTPError):
                department("reinstate")
