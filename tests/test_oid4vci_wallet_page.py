"""The web wallet accepts an OpenID4VCI offer (api/web/static/offer.js), in a real
Chromium at 390×844, in English and in Chinese.

A department makes an offer over HTTP for a citizen (``ecert serve --demo``, gunicorn);
the citizen, logged in, opens "add a certificate offered by a department", pastes the
link, sees which certificate is offered, types a wrong transaction code (refused, tries
left said), then the right one: the card is in the list. An offer made for another
citizen is refused with its own message, and the offer is still usable by its citizen.
Locators go by role and accessible name; axe-core checks the dialog.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
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

pytestmark = [pytest.mark.browser, pytest.mark.slow]
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
require_chromium()

TIMEOUT = 15_000
PROOF = "urn:ecert:no-criminal-record-proof"


@dataclass(frozen=True)
class Texts:
    lang: str
    citizen_id: str
    password: str
    log_in: str
    licence: str
    open: str
    link: str
    code: str
    submit: str
    offered: str
    wrong_left: str
    not_yours: str
    added: str
    proof: str


EN = Texts(
    lang="en", citizen_id="Citizen ID", password="Password", log_in="Log in",
    licence="Motor vehicle driving licence",
    open="Add a certificate offered by a department", link="Offer link", code="Code",
    submit="Add to wallet", offered="To be added: Proof of no criminal record",
    wrong_left="Wrong code. 4 tries left.",
    not_yours="This certificate was offered to someone else: it cannot go into your wallet.",
    added="The Proof of no criminal record was added to your wallet.",
    proof="Proof of no criminal record",
)  # fmt: skip
ZH = Texts(
    lang="zh", citizen_id="公民身份号码", password="密码", log_in="登录",
    licence="机动车驾驶证", open="添加发证部门提供的证照", link="证照领取链接", code="验证码",
    submit="添加到钱包", offered="将添加：无犯罪记录证明", wrong_left="验证码不正确，还可尝试4次。",
    not_yours="此证照是发给其他人的，不能添加到您的钱包。",
    added="“无犯罪记录证明”已添加到您的钱包。", proof="无犯罪记录证明",
)  # fmt: skip
LANGS = [pytest.param(EN, id="en"), pytest.param(ZH, id="zh")]


def _call(service: Service, path: str, body: Any, key: str) -> Any:
    request = urllib.request.Request(
        service.base + path,
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _offer(service: Service, who: int) -> dict[str, Any]:
    """A police offer of a proof of no criminal record for demo citizen ``who``."""
    police = next(d for d in service.demo["departments"] if d["issuer"] == "police")
    citizen = service.citizen(who)["citizen_id"]
    claims = {
        "name": "李四", "sex": "女", "id_number": citizen, "no_criminal_record": True,
        "proof_number": "WFZ-2026-000013", "issue_date": "2026-01-05",
        "issuing_authority": "北京市公安局东城分局",
    }  # fmt: skip
    body = {"citizen_id": citizen, "vct": PROOF, "claims": claims}
    made: dict[str, Any] = _call(service, "/api/v1/issuers/police/offers", body, police["api_key"])
    return made


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("offer-page")) as running:
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


def _log_in(page: Any, service: Service, t: Texts, who: int) -> None:
    citizen = service.citizen(who)
    page.goto("/wallet" if t.lang == "zh" else "/wallet?lang=en")
    page.get_by_label(t.citizen_id, exact=True).fill(citizen["citizen_id"])
    page.get_by_label(t.password, exact=True).fill(citizen["password"])
    page.get_by_role("button", name=t.log_in, exact=True).click()
    expect(page.get_by_role("button", name=t.open, exact=True)).to_be_visible()


@pytest.mark.parametrize("t", LANGS)
def test_a_citizen_adds_an_offered_certificate_with_the_counters_code(
    browser: Any, service: Service, shots: Screenshots, t: Texts
) -> None:
    made = _offer(service, 1)
    wrong = f"{(int(made['tx_code']) + 1) % 1_000_000:06d}"
    context, page, errors = _open(browser, service)
    try:
        _log_in(page, service, t, 1)
        # count once the card list is drawn (the citizen's ID card is in it)
        id_card = "居民身份证" if t.lang == "zh" else "Resident ID card"
        expect(page.get_by_role("button", name=id_card, exact=True).first).to_be_visible()
        before = page.get_by_role("button", name=t.proof, exact=True).count()
        page.get_by_role("button", name=t.open, exact=True).click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        dialog.get_by_label(t.link, exact=True).fill(made["offer_uri"])
        expect(dialog.get_by_text(t.offered, exact=True)).to_be_visible()
        dialog.get_by_label(t.code, exact=True).fill(wrong)
        dialog.get_by_role("button", name=t.submit, exact=True).click()
        expect(dialog.get_by_role("alert")).to_have_text(t.wrong_left)
        shots.take(page, "offer-wrong-code")
        assert serious_violations(page) == []

        dialog.get_by_label(t.code, exact=True).fill(made["tx_code"])
        dialog.get_by_role("button", name=t.submit, exact=True).click()
        expect(page.locator("#cards-notice")).to_have_text(t.added)
        expect(page.get_by_role("button", name=t.proof, exact=True)).to_have_count(before + 1)
        shots.take(page, "offer-added")
        assert errors.errors == []
    finally:
        context.close()


@pytest.mark.parametrize("t", LANGS)
def test_another_citizens_offer_is_refused_and_stays_theirs(
    browser: Any, service: Service, t: Texts
) -> None:
    made = _offer(service, 1)
    context, page, errors = _open(browser, service)
    try:
        _log_in(page, service, t, 0)
        page.get_by_role("button", name=t.open, exact=True).click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label(t.link, exact=True).fill(made["offer_uri"])
        dialog.get_by_label(t.code, exact=True).fill(made["tx_code"])
        dialog.get_by_role("button", name=t.submit, exact=True).click()
        expect(dialog.get_by_role("alert")).to_have_text(t.not_yours)
        assert errors.errors == []
    finally:
        context.close()
    # no try was spent: the offer still works for its own citizen
    context, page, errors = _open(browser, service)
    try:
        _log_in(page, service, t, 1)
        page.get_by_role("button", name=t.open, exact=True).click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label(t.link, exact=True).fill(made["offer_uri"])
        dialog.get_by_label(t.code, exact=True).fill(made["tx_code"])
        dialog.get_by_role("button", name=t.submit, exact=True).click()
        expect(page.locator("#cards-notice")).to_have_text(t.added)
    finally:
        context.close()
