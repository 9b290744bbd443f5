"""The wallet's activity section as the citizen's side of every use (issue 11), in a real
Chromium at 390×844, in English and in Chinese: a venue verifies the citizen's ID card;
on the activity page the citizen rates the check 4 stars with a comment, downloads its
receipt (checked here with PyJWT against the platform key the service publishes) and
reports it as misuse. Locators go by role and accessible name; axe-core checks the
section; screenshots go to the test's folder."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.browser_helpers import Screenshots, Service, require_chromium, serious_violations
from tests.hygiene import personal
from tests.test_browser_wallet import EN, ZH, Texts, _call, _open, _token, log_in, service

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

require_chromium()

__all__ = ["service"]


@dataclass(frozen=True)
class Words:
    """The activity section's new controls, per language."""

    page: Texts
    receipt: str
    stars: str
    comment: str
    save: str
    saved: str
    report: str
    report_label: str
    send: str
    reported: str
    comment_text: str
    report_text: str


WORDS = [
    pytest.param(
        Words(EN, "Receipt", "{} stars", "Comment (optional, at most 500 characters)",
              "Save rating", "Rating saved.", "Report misuse",
              "What went wrong? (at most 1000 characters, for the platform's operator)",
              "Send report", "Reported", "Quick and polite at the desk",
              "They photocopied my ID card"),
        id="en",
    ),
    pytest.param(
        Words(ZH, "回执", "{} 星", "评价内容（可不填，最多 500 字）", "提交评价", "评价已提交。",
              "举报滥用", "哪里不对？（最多 1000 字，将交给平台运营方处理）", "提交举报",
              "已举报", "前台办理很快，态度很好", "他们复印了我的身份证"),
        id="zh",
    ),
]


def _verify_at_hotel(service: Service, token: str) -> str:
    """The hotel verifies citizen 0's ID card; the event id of that use."""
    items = _call(service, "GET", "/api/v1/wallet/credentials", None, token)["items"]
    card = next(i for i in items if i["vct"] == "urn:ecert:resident-id-card")
    shown = _call(service, "POST", f"/api/v1/wallet/credentials/{card['id']}/presentations",
                  {"scene": "hotel", "mode": "offline"}, token)
    result = _call(service, "POST", "/api/v1/verify", {"qr": shown["qr"], "scene": "hotel"},
                   service.venue_key("grand-hotel"))
    assert result["valid"], result
    uses = _call(service, "GET", "/api/v1/wallet/receipts", None, token)["items"]
    event_id: str = uses[0]["event_id"]
    return event_id


def _status_of(service: Service, method: str, path: str, body: Any, token: str) -> int:
    try:
        _call(service, method, path, body, token)
    except urllib.error.HTTPError as err:
        return int(err.code)
    return 200


@pytest.mark.parametrize("w", WORDS)
def test_rate_download_and_report_a_use_from_the_activity_page(
    browser: Any, service: Service, shots: Screenshots, w: Words, tmp_path: Path
) -> None:
    t = w.page
    token = _token(service, 0)
    event_id = _verify_at_hotel(service, token)
    comment = personal(w.comment_text, "a rating comment typed in the browser")
    report = personal(w.report_text, "a misuse report typed in the browser")
    context, page, errors = _open(browser, service)
    try:
        log_in(page, service, t)
        page.get_by_role("button", name=t.activity_tab, exact=True).click()
        entry = page.locator(f'#activity-list .receipt[data-event="{event_id}"]')
        expect(entry).to_be_visible()
        item = page.locator("#activity-list > li").filter(
            has=page.locator(f'.receipt[data-event="{event_id}"]')
        )
        expect(item.locator(".activity-venue")).to_have_text(
            "Grand City Hotel" if t.lang == "en" else "城市大酒店"
        )

        # 4 stars with a comment
        entry.get_by_role("button", name=w.stars.format(4), exact=True).click()
        for n in range(1, 6):
            pressed = "true" if n <= 4 else "false"
            star = entry.get_by_role("button", name=w.stars.format(n), exact=True)
            expect(star).to_have_attribute("aria-pressed", pressed)
        entry.get_by_label(w.comment, exact=True).fill(comment)
        entry.get_by_role("button", name=w.save, exact=True).click()
        expect(entry.locator(".rating-note")).to_contain_text(w.saved)
        uses = _call(service, "GET", "/api/v1/wallet/receipts", None, token)["items"]
        rated = next(u for u in uses if u["event_id"] == event_id)["rating"]
        assert (rated["stars"], rated["comment"]) == (4, comment)
        shots.take(page, f"rated-{t.lang}")

        # the receipt, downloaded, verifies with the platform key the service publishes
        with page.expect_download() as info:
            entry.get_by_role("button", name=w.receipt, exact=True).click()
        download = info.value
        assert download.suggested_filename == f"receipt-{event_id}.jwt"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        anchor = _call(service, "GET", "/api/v1/verifier/anchor", None, None)
        payload = jwt.decode(saved.read_text(), jwt.PyJWK(anchor), algorithms=[anchor["alg"]])
        assert payload["jti"] == event_id and payload["actor"]["id"] == "grand-hotel"
        assert jwt.get_unverified_header(saved.read_text())["typ"] == "receipt+jwt"

        # report misuse
        opener = entry.get_by_role("button", name=w.report, exact=True)
        opener.click()
        expect(opener).to_have_attribute("aria-expanded", "true")
        entry.get_by_label(w.report_label, exact=True).fill(report)
        violations = serious_violations(page)
        assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
        shots.take(page, f"report-{t.lang}")
        entry.get_by_role("button", name=w.send, exact=True).click()
        done = entry.get_by_role("button", name=w.reported, exact=True)
        expect(done).to_be_disabled()
        # the service holds the report: a second one for this use is refused
        again = f"/api/v1/wallet/receipts/{event_id}/reports"
        assert _status_of(service, "POST", again, {"text": "again"}, token) == 409

        # after a reload: the rating, still editable today, and the report are shown
        page.reload()
        page.get_by_role("button", name=t.activity_tab, exact=True).click()
        expect(
            entry.get_by_role("button", name=w.stars.format(4), exact=True)
        ).to_have_attribute("aria-pressed", "true")
        expect(entry.get_by_role("button", name=w.reported, exact=True)).to_be_disabled()
        shots.take(page, f"activity-{t.lang}")
        assert errors.errors == [], errors.errors
    finally:
        context.close()


@pytest.mark.parametrize("w", WORDS)
def test_a_proof_query_shows_its_proof_and_fields_by_name(
    browser: Any, service: Service, w: Words
) -> None:
    """A department's answered query is listed by the proof type's name and the answer's
    claim labels from the proof-type catalogue (never the raw claim ids, nor ``found``)."""
    t = w.page
    token = _token(service, 0)
    citizen = service.citizen(0)["citizen_id"]
    purpose = personal(f"browser proof query ({t.lang})", "a proof query's purpose")
    until = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 86_400))
    _call(service, "POST", "/api/v1/wallet/consents", {
        "department": "civil-affairs", "proof_type": "identity", "purpose": purpose,
        "until": until}, token)  # fmt: skip
    departments = service.demo["departments"]
    civil = next(d["api_key"] for d in departments if d["issuer"] == "civil-affairs")
    _call(service, "POST", "/api/v1/proofs/queries", {
        "proof_type": "identity", "citizen_id": citizen, "purpose": purpose}, civil)  # fmt: skip
    context, page, errors = _open(browser, service)
    try:
        log_in(page, service, t)
        page.get_by_role("button", name=t.activity_tab, exact=True).click()
        item = page.locator("#activity-list > li").filter(has_text=purpose)
        expect(item.locator(".activity-what")).to_contain_text(
            "Identity details" if t.lang == "en" else "居民身份信息核验"
        )
        fields = item.locator(".activity-fields")
        expect(fields).to_contain_text("Date of birth" if t.lang == "en" else "出生日期")
        expect(fields).not_to_contain_text("birth_date")
        expect(fields).not_to_contain_text("found")
        assert errors.errors == [], errors.errors
    finally:
        context.close()
