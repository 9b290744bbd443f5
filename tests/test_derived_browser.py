"""The internet café in a real Chromium at 390×844, in Chinese and English: the demo
citizen's wallet holds the age attestation the police issued beside the ID card and shows
its internet-café QR; the café's scanner says "18+: yes" and nothing else: no name, no
ID number, no birth date. A minor's valid presentation reads a red "no"."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.browser_helpers import (
    ECERT,
    PHONE,
    PageErrors,
    Screenshots,
    Service,
    require_chromium,
    running_service,
)
from tests.hygiene import personal
from verifier.qrimage import decode_qr

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

require_chromium()

TIMEOUT = 15_000
CAFE = "net-cafe"
#: A minor (born 2010-09-01) the test issues an ID card to.
MINOR = personal("110101201009010052", "test_derived_browser minor's id")
MINOR_PASSWORD = personal("minor-Password-1", "test_derived_browser minor's password")


@dataclass(frozen=True)
class Texts:
    lang: str
    citizen_id: str
    password: str
    log_in: str
    id_card: str
    age: str
    scene: str
    show_qr: str
    qr_code: str
    venue_key: str
    qr_content: str
    valid: str
    over_18: str
    yes: str
    no: str


EN = Texts(
    lang="en", citizen_id="Citizen ID", password="Password", log_in="Log in",
    id_card="Resident ID card", age="Age attestation", scene="Scene", show_qr="Show QR",
    qr_code="QR code", venue_key="Venue key", qr_content="QR content", valid="Valid",
    over_18="18+ (aged 18 or over)", yes="✓ yes", no="✕ no",
)
ZH = Texts(
    lang="zh", citizen_id="公民身份号码", password="密码", log_in="登录", id_card="居民身份证",
    age="年龄证明", scene="使用场景", show_qr="出示二维码", qr_code="二维码",
    venue_key="场所密钥", qr_content="二维码内容", valid="有效", over_18="已满18周岁（18+）",
    yes="✓ 是", no="✕ 否",
)
LANGS = [pytest.param(EN, id="en"), pytest.param(ZH, id="zh")]


def _call(service: Service, path: str, body: Any, token: str) -> Any:
    request = urllib.request.Request(
        service.base + path,
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    """The demo, a net café venue (its key), and a minor with an ID card."""
    with running_service(tmp_path_factory.mktemp("derived-service")) as running:
        env = {"ECERT_INSTANCE": str(running.instance)}
        made = subprocess.run(
            [ECERT, "admin", "venue", "add", CAFE, "--zh", "星空网吧", "--en", "Starry Net Café",
             "--scene", "internet_cafe"],
            check=True, capture_output=True, env={**_environ(), **env},
        )  # fmt: skip
        key = personal(str(json.loads(made.stdout)["api_key"]), "the café's venue key")
        subprocess.run(
            [ECERT, "admin", "citizen", "add", MINOR, "--password-stdin"],
            check=True, capture_output=True, env={**_environ(), **env},
            input=(MINOR_PASSWORD + "\n").encode(),
        )  # fmt: skip
        police = next(d for d in running.demo["departments"] if d["issuer"] == "police")
        _call(running, "/api/v1/issuers/police/credentials", {
            "vct": "urn:ecert:resident-id-card", "citizen_id": MINOR, "claims": {
                "name": "王小华", "sex": "女", "ethnicity": "汉", "birth_date": "2010-09-01",
                "address": "北京市东城区测试街3号", "id_number": MINOR,
                "issuing_authority": "北京市公安局东城分局", "valid_from": "2024-09-01",
                "valid_until": "2029-09-01",
            },
        }, police["api_key"])  # fmt: skip
        yield running, key


def _environ() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("ECERT_")}


def _open(browser: Any, service: Service) -> tuple[Any, Any, PageErrors]:
    context = browser.new_context(
        base_url=service.base, viewport=PHONE, device_scale_factor=2, is_mobile=True,
        has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai", service_workers="block",
    )  # fmt: skip
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    return context, page, PageErrors(page)


def _path(path: str, t: Texts) -> str:
    return path if t.lang == "zh" else f"{path}?lang=en"


def _cafe_qr(page: Any, t: Texts, citizen_id: str, password: str) -> str:
    """Log in, open the age attestation, pick the internet café, show the QR: its text."""
    page.goto(_path("/wallet", t))
    page.get_by_label(t.citizen_id, exact=True).fill(citizen_id)
    page.get_by_label(t.password, exact=True).fill(password)
    page.get_by_role("button", name=t.log_in, exact=True).click()
    expect(page.get_by_role("button", name=t.id_card, exact=True)).to_be_visible()
    card = page.get_by_role("button", name=t.age, exact=True)
    expect(card).to_be_visible()
    card.click()
    scene = page.get_by_label(t.scene, exact=True)
    expect(scene).to_be_visible()
    values = scene.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert "internet_cafe" in values and "hotel" not in values, values
    scene.select_option("internet_cafe")
    preview = page.locator("#preview")
    expect(preview.locator("dt")).to_have_text([t.over_18])
    page.get_by_role("button", name=t.show_qr, exact=True).click()
    image = page.get_by_role("img", name=t.qr_code, exact=True)
    expect(image).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.getElementById('qr-img'); "
        "return !i.hidden && i.complete && i.naturalWidth > 0; }"
    )
    return decode_qr(image.screenshot())


def _scan(page: Any, t: Texts, key: str, text: str) -> Any:
    page.goto(_path("/scan", t))
    page.get_by_label(t.venue_key, exact=True).fill(key)
    page.get_by_role("button", name=t.log_in, exact=True).click()
    scene = page.get_by_label(t.scene, exact=True)
    expect(scene).to_be_visible()
    scene.select_option("internet_cafe")
    box = page.get_by_label(t.qr_content, exact=True)
    box.fill(text)
    box.press("Enter")
    status = page.get_by_role("status")
    expect(status.locator(".verdict")).to_be_visible()
    return status


@pytest.mark.parametrize("t", LANGS)
def test_the_internet_cafe_sees_18_plus_yes_and_no_birth_date(
    browser: Any, service: tuple[Service, str], shots: Screenshots, t: Texts
) -> None:
    running, key = service
    citizen = running.citizen(0)
    wallet_context, wallet, wallet_errors = _open(browser, running)
    staff_context, staff, staff_errors = _open(browser, running)
    try:
        text = _cafe_qr(wallet, t, citizen["citizen_id"], citizen["password"])
        shots.take(wallet, "cafe-qr")
        status = _scan(staff, t, key, text)
        expect(status.locator(".verdict")).to_have_text(t.valid)
        expect(status.locator(".claims dt")).to_have_text([t.over_18])
        expect(status.locator(".claims dd")).to_have_text([t.yes])
        shown = status.inner_text()
        for secret in (citizen["citizen_id"], "1990-03-07", "1990", "张三"):
            assert secret not in shown, secret
        shots.take(staff, "cafe-scan-yes")
        assert wallet_errors.errors == [] and staff_errors.errors == [], (
            wallet_errors.errors + staff_errors.errors
        )
    finally:
        wallet_context.close()
        staff_context.close()


def test_a_minor_is_a_valid_check_that_reads_a_red_no(
    browser: Any, service: tuple[Service, str], shots: Screenshots
) -> None:
    running, key = service
    t = ZH
    wallet_context, wallet, _ = _open(browser, running)
    staff_context, staff, staff_errors = _open(browser, running)
    try:
        text = _cafe_qr(wallet, t, MINOR, MINOR_PASSWORD)
        status = _scan(staff, t, key, text)
        expect(status.locator(".verdict")).to_have_text(t.valid)
        no = status.locator(".claims dd")
        expect(no).to_have_text([t.no])
        expect(no).to_have_class(re.compile(r"\bvalue-no\b"))
        color = no.evaluate("e => getComputedStyle(e).color")
        assert color != status.locator(".claims dt").evaluate("e => getComputedStyle(e).color")
        assert "2010" not in status.inner_text() and MINOR not in status.inner_text()
        shots.take(staff, "cafe-scan-minor-no")
        assert staff_errors.errors == [], staff_errors.errors
    finally:
        wallet_context.close()
        staff_context.close()
