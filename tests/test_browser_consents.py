"""Consents (授权) as the citizen sees them (issue 11), in a real Chromium at 390×844, in
Chinese and in English: the police ask over HTTP; the wallet shows the request as a
notice with "Review", and on the consents screen who asks, for which proof, why and until
when, with Approve / Decline; approved, it is granted (the department sees it) with a
one-tap Withdraw; withdrawn, it moves below with the declined ones, at once."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

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

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

require_chromium()

TIMEOUT = 15_000
PROOF = "no-criminal-record"
#: Its name in the proof-type catalogue (GET /api/v1/proofs/types), which the page shows.
PROOF_NAME = {"zh": "无犯罪记录证明", "en": "No criminal record"}
PURPOSE = {
    "zh": personal("办理出租车驾驶员从业资格审核", "browser consent purpose zh"),
    "en": personal("Taxi driver licence background check", "browser consent purpose en"),
}
DECLINED = personal("Second request, to decline", "browser consent purpose declined")
POLICE = {"zh": "市公安局", "en": "City Public Security Bureau"}


def _call(service: Service, method: str, path: str, body: Any, token: str) -> Any:
    request = urllib.request.Request(
        service.base + path,
        data=json.dumps(body).encode("utf-8") if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def _police_key(service: Service) -> str:
    return str(next(d for d in service.demo["departments"] if d["issuer"] == "police")["api_key"])


def _ask(service: Service, purpose: str) -> str:
    """The police ask the first demo citizen; the request's id."""
    made = _call(service, "POST", "/api/v1/proofs/consent-requests", {
        "citizen_id": service.citizen(0)["citizen_id"], "proof_type": PROOF,
        "purpose": purpose, "until": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86_400)),
    }, _police_key(service))  # fmt: skip
    return str(made["id"])


def _state(service: Service, consent_id: str) -> str:
    got = _call(
        service, "GET", f"/api/v1/proofs/consent-requests/{consent_id}", None, _police_key(service)
    )
    return str(got["state"])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("consents-service")) as running:
        yield running


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


def _log_in(page: Any, service: Service, lang: str) -> None:
    citizen = service.citizen(0)
    page.goto("/wallet" if lang == "zh" else "/wallet?lang=en")
    labels = (
        ("公民身份号码", "密码", "登录") if lang == "zh" else ("Citizen ID", "Password", "Log in")
    )
    page.get_by_label(labels[0], exact=True).fill(citizen["citizen_id"])
    page.get_by_label(labels[1], exact=True).fill(citizen["password"])
    page.get_by_role("button", name=labels[2], exact=True).click()


def _inside_the_phone(locator: Any, min_height: float = 44) -> None:
    box = box_of(locator)
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert box["height"] >= min_height


WORDS = {
    "zh": {
        "notices": "通知", "review": "去处理", "title": "授权", "pending": "待处理的请求",
        "granted": "已同意", "closed": "已撤回、已拒绝或已过期", "approve": "同意",
        "decline": "拒绝", "withdraw": "撤回", "withdrawn": "已撤回", "declined": "已拒绝",
        "approve_label": "同意{who}的请求：{what}", "withdraw_label": "撤回给{who}的授权：{what}",
        "decline_label": "拒绝{who}的请求：{what}", "tab": "授权", "elder": "长辈模式",
    },
    "en": {
        "notices": "Notices", "review": "Review", "title": "Consents",
        "pending": "Requests waiting for you", "granted": "Granted",
        "closed": "Withdrawn, declined or expired", "approve": "Approve", "decline": "Decline",
        "withdraw": "Withdraw", "withdrawn": "Withdrawn", "declined": "Declined",
        "approve_label": "Approve the request of {who}: {what}",
        "withdraw_label": "Withdraw the consent given to {who}: {what}",
        "decline_label": "Decline the request of {who}: {what}", "tab": "Consents",
        "elder": "Elder mode",
    },
}  # fmt: skip


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_request_is_approved_then_withdrawn_in_the_wallet(
    browser: Any, service: Service, shots: Any, lang: str
) -> None:
    w = WORDS[lang]
    who = POLICE[lang]
    what = PROOF_NAME[lang]
    asked = _ask(service, PURPOSE[lang])
    context, page, errors = _open(browser, service)
    try:
        _log_in(page, service, lang)
        # The request arrives as a notice, with a way to answer it.
        notices = page.get_by_role("region", name=w["notices"])
        review = notices.get_by_role("button", name=w["review"]).first
        expect(review).to_be_visible()
        review.click()
        expect(page.get_by_role("heading", name=w["title"], level=1)).to_be_visible()
        expect(page.get_by_role("button", name=w["tab"], exact=True)).to_have_attribute(
            "aria-current", "page"
        )

        pending = page.get_by_role("region", name=w["pending"])
        item = pending.locator(f'[data-consent="{asked}"]')
        expect(item).to_contain_text(who)  # who
        expect(item).to_contain_text(PROOF_NAME[lang])  # what: the catalogue's name
        expect(item).to_contain_text(PURPOSE[lang])  # why
        expect(item).to_contain_text(time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86_400)))
        approve = item.get_by_role("button", name=w["approve_label"].format(who=who, what=what))
        decline = item.get_by_role("button", name=w["decline_label"].format(who=who, what=what))
        expect(approve).to_have_text(w["approve"])
        expect(decline).to_have_text(w["decline"])
        _inside_the_phone(approve)
        _inside_the_phone(decline)
        shots.take(page, f"pending-{lang}")
        assert serious_violations(page) == []

        approve.click()
        granted = page.get_by_role("region", name=w["granted"])
        item = granted.locator(f'[data-consent="{asked}"]')
        withdraw = item.get_by_role("button", name=w["withdraw_label"].format(who=who, what=what))
        expect(withdraw).to_have_text(w["withdraw"])
        _inside_the_phone(withdraw)
        expect(pending.locator(f'[data-consent="{asked}"]')).to_have_count(0)
        assert _state(service, asked) == "granted"
        shots.take(page, f"granted-{lang}")

        withdraw.click()  # one tap, no confirmation: effective at once
        closed = page.get_by_role("region", name=w["closed"])
        item = closed.locator(f'[data-consent="{asked}"]')
        expect(item).to_contain_text(w["withdrawn"])
        expect(item.get_by_role("button")).to_have_count(0)
        expect(granted.locator(f'[data-consent="{asked}"]')).to_have_count(0)
        assert _state(service, asked) == "withdrawn"
        shots.take(page, f"withdrawn-{lang}")
        assert serious_violations(page) == []
        # Elder mode's larger type: nothing runs off the side of the phone.
        page.get_by_role("button", name=w["elder"]).click()
        expect(page.locator("html.elder")).to_have_count(1)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        _inside_the_phone(closed.locator(f'[data-consent="{asked}"]'))
        shots.take(page, f"elder-{lang}")
        assert errors.errors == []
    finally:
        context.close()


def test_a_request_is_declined_from_the_consents_tab(
    browser: Any, service: Service, shots: Any
) -> None:
    asked = _ask(service, DECLINED)
    context, page, errors = _open(browser, service)
    try:
        _log_in(page, service, "en")
        page.get_by_role("button", name="Consents", exact=True).click()
        item = page.get_by_role("region", name="Requests waiting for you").locator(
            f'[data-consent="{asked}"]'
        )
        expect(item).to_contain_text(DECLINED)
        declining = f"Decline the request of {POLICE['en']}: {PROOF_NAME['en']}"
        item.get_by_role("button", name=declining).click()
        closed = page.get_by_role("region", name="Withdrawn, declined or expired")
        expect(closed.locator(f'[data-consent="{asked}"]')).to_contain_text("Declined")
        assert _state(service, asked) == "declined"
        shots.take(page, "declined-en")
        assert errors.errors == []
    finally:
        context.close()
