"""One change, every certificate, as the citizen sees it (issue 10), in a real Chromium at
390×844, in Chinese and in English: the police change the demo citizen's name over
HTTP; the wallet page shows the notice ("Your name changed; 2 certificates were
updated") above the cards with a dismiss button, the activity says which field changed
on which card and who re-issued it (never a value), and a dismissed notice stays gone.
"""

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
NEW_NAME = personal("张叁", "test_browser_changes new name")
NOTICE = {
    "zh": "您的姓名已变更，已更新 2 张证照",
    "en": "Your name changed; 2 certificates were updated",
}


def _call(service: Service, method: str, path: str, body: Any, token: str) -> Any:
    request = urllib.request.Request(
        service.base + path,
        data=json.dumps(body).encode("utf-8") if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The demo; the first citizen also holds a proof of no criminal record (police), and
    the police change that citizen's name: two certificates re-issued."""
    with running_service(tmp_path_factory.mktemp("changes-service")) as running:
        citizen = running.citizen(0)["citizen_id"]
        police = next(d for d in running.demo["departments"] if d["issuer"] == "police")
        key = str(police["api_key"])
        _call(running, "POST", "/api/v1/issuers/police/credentials", {
            "vct": "urn:ecert:no-criminal-record-proof", "citizen_id": citizen,
            "claims": {
                "name": "张三", "sex": "男", "id_number": citizen, "no_criminal_record": True,
                "proof_number": "WFZ-2026-000003", "issue_date": "2026-01-05",
                "issuing_authority": "北京市公安局东城分局",
            },
        }, key)  # fmt: skip
        path = f"/api/v1/subjects/{citizen}/changes"
        made = _call(running, "POST", path, {
            "field": "name", "value": NEW_NAME, "effective": "2026-01-05", "reason": "更名",
        }, key)  # fmt: skip
        deadline = time.monotonic() + 60
        while _call(running, "GET", f"{path}/{made['id']}", None, key)["state"] != "done":
            assert time.monotonic() < deadline, "the change did not finish"
            time.sleep(0.1)
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
    zh = ("公民身份号码", "密码", "登录")
    labels = zh if lang == "zh" else ("Citizen ID", "Password", "Log in")
    page.get_by_label(labels[0], exact=True).fill(citizen["citizen_id"])
    page.get_by_label(labels[1], exact=True).fill(citizen["password"])
    page.get_by_role("button", name=labels[2], exact=True).click()


def test_the_citizen_sees_the_change_in_both_languages_and_dismisses_it(
    browser: Any, service: Service, shots: Any
) -> None:
    context, page, errors = _open(browser, service)
    try:
        # Chinese first: the notice, above the cards, with its dismiss button
        _log_in(page, service, "zh")
        notices = page.get_by_role("region", name="通知")
        expect(notices.get_by_text(NOTICE["zh"], exact=True)).to_be_visible()
        dismiss = notices.get_by_role("button", name=f"关闭这条通知：{NOTICE['zh']}")
        expect(dismiss).to_be_visible()
        expect(dismiss).to_have_text("知道了")
        notice_box = box_of(notices)
        card_box = box_of(page.get_by_role("button", name="居民身份证"))
        assert notice_box["y"] + notice_box["height"] <= card_box["y"]
        assert notice_box["x"] >= 0 and notice_box["x"] + notice_box["width"] <= PHONE["width"]
        # at 390 px the dismiss button stays inside the screen and big enough to tap
        button_box = box_of(dismiss)
        assert button_box["height"] >= 44
        assert button_box["x"] + button_box["width"] <= PHONE["width"]
        shots.take(page, "notice-zh")
        assert serious_violations(page) == []
        # the activity: which field changed on which card, who re-issued it
        page.get_by_role("button", name="记录", exact=True).click()
        changed = page.locator(".activity-item.change")
        expect(changed).to_have_count(2)
        expect(changed.filter(has_text="姓名已变更 · 居民身份证")).to_have_count(1)
        expect(changed.filter(has_text="姓名已变更 · 无犯罪记录证明")).to_have_count(1)
        expect(changed.first).to_contain_text("市公安局")
        expect(changed.first).to_contain_text("已重新签发")
        expect(page.locator("#activity-list")).not_to_contain_text(NEW_NAME)
        shots.take(page, "activity-zh")

        # English (the session is kept): the same notice in English; dismiss it
        page.goto("/wallet?lang=en")
        notices = page.get_by_role("region", name="Notices")
        expect(notices.get_by_text(NOTICE["en"], exact=True)).to_be_visible()
        shots.take(page, "notice-en")
        page.get_by_role("button", name=f"Dismiss this notice: {NOTICE['en']}").click()
        expect(notices).to_be_hidden()
        expect(page.get_by_role("button", name="Resident ID card")).to_be_visible()
        # gone for good: not shown again after a reload (once the page has asked)
        with page.expect_response(lambda r: r.url.endswith("/api/v1/wallet/notices")) as asked:
            page.reload()
        assert asked.value.status == 200
        expect(page.get_by_role("button", name="Resident ID card")).to_be_visible()
        expect(page.get_by_role("region", name="Notices")).to_be_hidden()
        page.get_by_role("button", name="Activity", exact=True).click()
        changed = page.locator(".activity-item.change")
        expect(changed.filter(has_text="Name changed · Resident ID card")).to_have_count(1)
        expect(changed.filter(has_text="Name changed · Proof of no criminal record")).to_have_count(
            1
        )
        expect(changed.first).to_contain_text("Re-issued")
        expect(changed.first).to_contain_text("City Public Security Bureau")
        shots.take(page, "activity-en")
        assert errors.errors == []
    finally:
        context.close()
