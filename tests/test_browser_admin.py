"""The operator's dashboard (``/admin``) in a real browser: Debian's Chromium driven by
Playwright against ``ecert serve --demo`` under gunicorn, at 390×844 and at a desktop
width, in both languages.

After a few issuances and verifications over HTTP, and a citizen's 1-star rating and two
misuse reports, the operator logs in with the demo's operator key; every number of the
page's tables, and every number its charts draw, equals ``GET /api/v1/admin/stats``'s;
the rating's comment and the reports' texts are listed, and "Resolved" on one removes it
from the page and from the API's follow-up. The key stays in sessionStorage, never in
the address; a venue's key is refused; the page raises no script error or CSP violation.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_helpers import (
    PageErrors,
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
PROOF = "urn:ecert:no-criminal-record-proof"
GROUPS = [
    ("issuance", "by_department"),
    ("verification", "by_scene"),
    ("proof_queries", "by_department"),
    ("issuance", "by_type"),
    ("verification", "by_venue"),
    ("verification", "refused"),
    ("verification", "refusal_codes"),
    ("proof_queries", "by_proof_type"),
    ("proof_queries", "refused"),
]
CHARTED = GROUPS[:3]
TEXTS = {
    "zh": {"key": "运营密钥", "log_in": "登录", "title": "运营看板", "failed": "密钥无效"},
    "en": {
        "key": "Operator key",
        "log_in": "Log in",
        "title": "Operator's dashboard",
        "failed": "This key is not valid",
    },
}
RESOLVED = {"zh": "已处理", "en": "Resolved"}
COMMENT = "前台把我的证件拍照了 kept a photo"
REPORTS = ["酒店复印了我的身份证 copied my ID", "Asked for my home address 问了住址"]

#: The page's tables as {group: {series: {day: n}}}.
READ_TABLES = """() => {
  const out = {};
  document.querySelectorAll('table.figures:not(.stars)').forEach(t => {
    const group = {};
    t.querySelectorAll('tbody td').forEach(td => {
      (group[td.dataset.series] = group[td.dataset.series] || {})[td.dataset.day] =
        Number(td.textContent);
    });
    out[t.dataset.group] = group;
  });
  return out;
}"""


#: The ratings' tables as {group: {actor: [n1..n5]}}.
READ_STARS = """() => {
  const out = {};
  document.querySelectorAll('table.stars').forEach(t => {
    const group = {};
    t.querySelectorAll('tbody td[data-stars]').forEach(td => {
      (group[td.dataset.series] = group[td.dataset.series] || [])[Number(td.dataset.stars) - 1] =
        Number(td.textContent);
    });
    out[t.dataset.group] = group;
  });
  return out;
}"""


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
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return json.loads(err.read() or b"null")


def _operator_key(service: Service) -> str:
    return str(service.demo["operators"][0]["api_key"])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The demo service after 2 issuances and 4 verifications (2 valid, 2 refused), a
    1-star rating of the first valid one and a misuse report of each."""
    with running_service(tmp_path_factory.mktemp("admin-service")) as running:
        police = next(d for d in running.demo["departments"] if d["issuer"] == "police")
        for n in range(2):
            citizen = running.citizen(n)["citizen_id"]
            issued = _call(running, "POST", "/api/v1/issuers/police/credentials", {
                "vct": PROOF, "citizen_id": citizen,
                "claims": {"name": "张三", "sex": "男", "id_number": citizen,
                           "no_criminal_record": True, "proof_number": f"WFZ-2026-00000{n}",
                           "issue_date": "2026-01-05", "issuing_authority": "北京市公安局"},
            }, police["api_key"])
            assert "id" in issued, issued
        token = _call(running, "POST", "/api/v1/auth/login", running.citizen(0), None)
        token = token["access_token"]
        items = _call(running, "GET", "/api/v1/wallet/credentials", None, token)["items"]
        card = next(i for i in items if i["vct"] == "urn:ecert:resident-id-card")
        hotel = running.venue_key("grand-hotel")
        for n in range(2):
            shown = _call(running, "POST",
                          f"/api/v1/wallet/credentials/{card['id']}/presentations",
                          {"scene": "hotel", "mode": "offline"}, token)
            for _ in range(2 - n):  # valid (and the first replayed)
                _call(running, "POST", "/api/v1/verify", {"qr": shown["qr"], "scene": "hotel"},
                      hotel)
        _call(running, "POST", "/api/v1/verify", {"qr": "EC1:00", "scene": "bank"},
              running.venue_key("city-bank"))
        uses = _call(running, "GET", "/api/v1/wallet/receipts", None, token)["items"]
        events = [u["event_id"] for u in uses if u["result"]["outcome"] == "accepted"]
        assert len(events) == 2, uses
        rated = _call(running, "PUT", f"/api/v1/wallet/receipts/{events[0]}/rating",
                      {"stars": 1, "comment": COMMENT}, token)
        assert rated["stars"] == 1, rated
        for event_id, text in zip(events, REPORTS, strict=True):
            made = _call(running, "POST", f"/api/v1/wallet/receipts/{event_id}/reports",
                         {"text": text}, token)
            assert made["state"] == "open", made
        yield running


def _api_stats(service: Service) -> dict[str, Any]:
    stats: dict[str, Any] = _call(
        service, "GET", "/api/v1/admin/stats", None, _operator_key(service)
    )
    assert "days" in stats, stats
    return stats


def _log_in(page: Any, texts: dict[str, str], key: str) -> None:
    page.get_by_label(texts["key"], exact=True).fill(key)
    page.get_by_role("button", name=texts["log_in"], exact=True).click()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_dashboard_shows_the_apis_figures_in_tables_and_charts(
    browser: Any, service: Service, shots: Any, lang: str
) -> None:
    texts = TEXTS[lang]
    context = phone_context(browser, service.base)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    errors = PageErrors(page)
    try:
        page.goto("/admin" if lang == "zh" else "/admin?lang=en")
        # A venue's key is not an operator's.
        _log_in(page, texts, service.venue_key("grand-hotel"))
        expect(page.locator("#login-error")).to_contain_text(texts["failed"])
        assert page.evaluate("() => sessionStorage.getItem('ecert.admin.key')") is None

        _log_in(page, texts, _operator_key(service))
        expect(page.get_by_role("heading", name=texts["title"], level=1)).to_be_visible()
        page.wait_for_selector("table.figures")
        stats = _api_stats(service)
        drawn = sum(1 for section, group in CHARTED if stats[section][group])
        page.wait_for_function(
            f"() => Object.keys(window.EcertAdmin.chartData()).length === {drawn}"
        )
        tables = page.evaluate(READ_TABLES)
        charts = page.evaluate("() => window.EcertAdmin.chartData()")
        assert stats["issuance"]["by_department"]["police"][stats["to"]] == 2
        assert stats["verification"]["by_scene"]["hotel"][stats["to"]] == 3
        for section, group in GROUPS:
            assert tables.get(f"{section}.{group}", {}) == stats[section][group], group
        for section, group in CHARTED:
            if stats[section][group]:
                assert charts[f"{section}.{group}"] == stats[section][group], group
        # The key is kept for the tab only, never in the address.
        assert page.evaluate("() => sessionStorage.getItem('ecert.admin.key')") == (
            _operator_key(service)
        )
        assert _operator_key(service) not in page.url
        # Mobile first: nothing wider than the phone but the tables' own scroll boxes.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        shots.take(page, f"admin-{lang}-phone")
        assert serious_violations(page) == []

        page.set_viewport_size({"width": 1280, "height": 900})
        page.wait_for_timeout(300)  # the charts follow the width (debounced)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280
        shots.take(page, f"admin-{lang}-desktop")

        # Another range: one day, today; the page asks the API for it.
        page.set_viewport_size({"width": 390, "height": 844})
        page.locator("#range-from").fill(stats["to"])
        page.locator("#range-to").fill(stats["to"])
        page.locator("#range-form button[type=submit]").click()
        page.wait_for_function(
            "() => document.querySelectorAll('table.figures tbody tr').length > 0 && "
            "[...document.querySelectorAll('table.figures:not(.stars)')].every("
            "t => t.querySelectorAll('tbody tr').length === 1)"
        )
        one_day = _call(service, "GET", f"/api/v1/admin/stats?from={stats['to']}&to={stats['to']}",
                        None, _operator_key(service))
        tables = page.evaluate(READ_TABLES)
        for section, group in GROUPS:
            assert tables.get(f"{section}.{group}", {}) == one_day[section][group], group

        # Ratings: the stars per venue, as the API gives them.
        stars = page.evaluate(READ_STARS)
        assert stars == {"ratings.by_venue": one_day["ratings"]["by_venue"]}
        assert one_day["ratings"]["by_venue"] == {"grand-hotel": [1, 0, 0, 0, 0]}
        # Follow-up: every item the API lists, with the citizen's words; resolve one.
        follow_up = one_day["follow_up"]
        listed = page.locator("#follow-up-list li.follow-up-item")
        expected = len(follow_up["low_ratings"]) + len(follow_up["reports"])
        expect(listed).to_have_count(expected)
        text = page.locator("#follow-up-list").inner_text()
        for report in follow_up["reports"]:
            assert report["text"] in text
        for rating in follow_up["low_ratings"]:
            assert rating["comment"] == COMMENT and COMMENT in text
        assert expected >= 2  # the zh run resolves one, the en run another
        first = listed.first
        kind, item_id = first.get_attribute("data-kind"), first.get_attribute("data-id")
        first.get_by_role("button", name=RESOLVED[lang], exact=True).click()
        expect(listed).to_have_count(expected - 1)
        after = _api_stats(service)["follow_up"]
        ids = {r["id"] for r in after["reports"]} | {r["event_id"] for r in after["low_ratings"]}
        assert item_id not in ids and kind in ("rating", "report")
        assert len(after["reports"]) + len(after["low_ratings"]) == expected - 1
        shots.take(page, f"admin-{lang}-follow-up")
        assert serious_violations(page) == []
        assert errors.errors == []
    finally:
        context.close()
