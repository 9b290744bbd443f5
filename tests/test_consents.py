"""Consent as a use case (``ecert.consents``) on SQLite and Redis: a department asks, the
citizen approves or declines, grants directly and withdraws at once; ``match`` (what the
proof query asks) finds only a granted, unexpired consent for exactly that department,
proof type and purpose; the bounds of each input; an unknown citizen answered like a
known one; the purpose sealed at rest."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from flask import Flask

from cli.seed import DemoLogins
from service.consents import MAX_PENDING_PER_DEPARTMENT, Consents, proof_type_shape
from service.errors import (
    ConsentInvalid,
    ConsentLimitReached,
    ConsentNotFound,
    ConsentStateConflict,
)
from service.uses import MAX_PURPOSE
from store.interface import CONSENT_CAP
from tests.api_helpers import api_app, demo, services_of
from tests.hygiene import personal

__all__ = ["api_app", "demo"]

#: 2026-03-10 12:00 UTC.
NOW = 1_773_144_000
TODAY = "2026-03-10"
PURPOSE = personal("办理低保资格审核 (minimum-living allowance review)", "consent purpose")
PROOF = "no-criminal-record"


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def consents(api_app: Flask, demo: DemoLogins) -> tuple[Consents, Clock, str]:
    clock = Clock()
    svc = services_of(api_app)
    svc.consents.clock = clock
    svc.notices.clock = clock
    return svc.consents, clock, demo["citizens"][0]["citizen_id"]


def test_a_request_approved_matches_until_its_day_ends_then_not(
    consents: tuple[Consents, Clock, str],
) -> None:
    c, clock, citizen = consents
    asked = c.request("police", citizen, PROOF, PURPOSE, "2026-03-12")
    assert (asked.state, asked.origin, asked.until_date) == ("pending", "request", "2026-03-12")
    assert c.match("police", citizen, PROOF, PURPOSE) is None  # pending: no
    approved = c.approve(citizen, asked.id)
    assert approved.state == "granted"
    # Exactly that department, proof type and purpose (NFC, trimmed).
    assert c.match("police", citizen, PROOF, f"  {PURPOSE}\n") == c.list(citizen)[0]
    assert c.match("civil-affairs", citizen, PROOF, PURPOSE) is None
    assert c.match("police", citizen, "birth", PURPOSE) is None
    assert c.match("police", citizen, PROOF, PURPOSE + "。") is None
    assert c.match("police", "110101199003070011x", PROOF, PURPOSE) is None
    # It holds through the end of 2026-03-12, UTC; not a second after.
    end = dt.datetime(2026, 3, 13, tzinfo=dt.UTC).timestamp()
    assert c.match("police", citizen, PROOF, PURPOSE, now=end - 1) is not None
    assert c.match("police", citizen, PROOF, PURPOSE, now=end) is None
    clock.now = end
    assert c.match("police", citizen, PROOF, PURPOSE) is None


def test_a_purpose_is_compared_after_nfc(consents: tuple[Consents, Clock, str]) -> None:
    c, _, citizen = consents
    composed = "核查 caf\u00e9"
    c.grant(citizen, "police", PROOF, composed, TODAY)
    assert c.match("police", citizen, PROOF, "核查 cafe\u0301") is not None


def test_a_withdrawal_takes_effect_at_once(consents: tuple[Consents, Clock, str]) -> None:
    c, _, citizen = consents
    given = c.grant(citizen, "police", PROOF, PURPOSE, TODAY)
    assert given.state == "granted" and given.origin == "grant"
    assert c.match("police", citizen, PROOF, PURPOSE) is not None
    assert c.withdraw(citizen, given.id).state == "withdrawn"
    assert c.match("police", citizen, PROOF, PURPOSE) is None
    with pytest.raises(ConsentStateConflict):
        c.withdraw(citizen, given.id)
    with pytest.raises(ConsentStateConflict):  # approving a withdrawn one
        c.approve(citizen, given.id)
    # A pending request may be withdrawn too; then it cannot be approved.
    asked = c.request("police", citizen, PROOF, PURPOSE, TODAY)
    assert c.withdraw(citizen, asked.id).state == "withdrawn"
    with pytest.raises(ConsentStateConflict):
        c.approve(citizen, asked.id)


def test_a_declined_request_never_matches_and_stays_declined(
    consents: tuple[Consents, Clock, str],
) -> None:
    c, _, citizen = consents
    asked = c.request("police", citizen, PROOF, PURPOSE, TODAY)
    assert c.decline(citizen, asked.id).state == "declined"
    with pytest.raises(ConsentStateConflict):
        c.approve(citizen, asked.id)
    with pytest.raises(ConsentStateConflict):
        c.decline(citizen, asked.id)
    assert c.match("police", citizen, PROOF, PURPOSE) is None
    assert c.get_for_department("police", asked.id).state == "declined"


def test_an_expired_request_cannot_be_approved(consents: tuple[Consents, Clock, str]) -> None:
    c, clock, citizen = consents
    asked = c.request("police", citizen, PROOF, PURPOSE, TODAY)
    clock.now += 86_400
    with pytest.raises(ConsentStateConflict):
        c.approve(citizen, asked.id)
    assert c.list(citizen)[0].to_dict(clock.now)["expired"] is True


def test_an_approval_racing_a_withdrawal_leaves_one_answer(
    consents: tuple[Consents, Clock, str],
) -> None:
    """Approve and withdraw a pending request at once, many times: the withdrawal always
    ends it (it retries from the state it finds), and the approval either won first or
    was refused; never a granted consent after a withdrawal succeeded."""
    c, _, citizen = consents
    for _ in range(10):
        asked = c.request("police", citizen, PROOF, PURPOSE, TODAY)
        barrier = threading.Barrier(2)
        results: dict[str, str] = {}

        def approve(cid: str = asked.id) -> None:
            barrier.wait()
            try:
                results["approve"] = c.approve(citizen, cid).state
            except ConsentStateConflict:
                results["approve"] = "refused"

        def withdraw(cid: str = asked.id) -> None:
            barrier.wait()
            results["withdraw"] = c.withdraw(citizen, cid).state

        threads = [threading.Thread(target=approve), threading.Thread(target=withdraw)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results["withdraw"] == "withdrawn"
        assert results["approve"] in ("granted", "refused")
        assert c.get_for_department("police", asked.id).state == "withdrawn"
    assert c.match("police", citizen, PROOF, PURPOSE) is None


def test_another_citizen_or_department_reaches_nothing(
    consents: tuple[Consents, Clock, str], demo: DemoLogins
) -> None:
    c, _, citizen = consents
    other = demo["citizens"][1]["citizen_id"]
    asked = c.request("police", citizen, PROOF, PURPOSE, TODAY)
    for act in (c.approve, c.decline, c.withdraw):
        with pytest.raises(ConsentNotFound):
            act(other, asked.id)
    assert c.list(other) == []
    with pytest.raises(ConsentNotFound):
        c.get_for_department("civil-affairs", asked.id)
    given = c.grant(citizen, "police", PROOF, PURPOSE, TODAY)
    with pytest.raises(ConsentNotFound):  # a citizen's own grant is not a request
        c.get_for_department("police", given.id)
    for bad in ("", "x" * 65, "../x", "a b"):
        with pytest.raises(ConsentNotFound):
            c.approve(citizen, bad)
    assert c.get_for_department("police", asked.id).state == "pending"


def test_an_unknown_citizen_is_answered_like_a_known_one(
    consents: tuple[Consents, Clock, str],
) -> None:
    c, _, citizen = consents
    known = c.request("police", citizen, PROOF, PURPOSE, TODAY)
    unknown = c.request("police", "110101190001010006", PROOF, PURPOSE, TODAY)
    assert {k for k in known.to_dict(NOW)} == {k for k in unknown.to_dict(NOW)}
    assert (known.state, len(known.id)) == (unknown.state, len(unknown.id))
    assert c.get_for_department("police", unknown.id).state == "pending"


@pytest.mark.parametrize(
    ("field", "department", "proof_type", "purpose", "until"),
    [
        ("department", "nobody", PROOF, PURPOSE, TODAY),
        ("department", "Police{x}", PROOF, PURPOSE, TODAY),
        ("proof_type", "police", "No Such", PURPOSE, TODAY),
        ("proof_type", "police", "x" * 65, PURPOSE, TODAY),
        ("purpose", "police", PROOF, "   ", TODAY),
        ("purpose", "police", PROOF, "x" * (MAX_PURPOSE + 1), TODAY),
        ("purpose", "police", PROOF, "审核\u202e", TODAY),  # a bidi override
        ("purpose", "police", PROOF, "审核\x00", TODAY),
        ("until", "police", PROOF, PURPOSE, "2026-03-09"),  # yesterday
        ("until", "police", PROOF, PURPOSE, "2027-03-11"),  # a year and a day
        ("until", "police", PROOF, PURPOSE, "2026-02-30"),
        ("until", "police", PROOF, PURPOSE, "20260310"),
        ("until", "police", PROOF, PURPOSE, "2026-03-10T00:00"),
    ],
)
def test_bounds_are_refused_with_the_member_named(
    consents: tuple[Consents, Clock, str],
    field: str,
    department: str,
    proof_type: str,
    purpose: str,
    until: str,
) -> None:
    c, _, citizen = consents
    with pytest.raises(ConsentInvalid) as err:
        c.request(department, citizen, proof_type, purpose, until)
    assert err.value.field == field
    with pytest.raises(ConsentInvalid) as err:
        c.grant(citizen, department, proof_type, purpose, until)
    assert err.value.field == field
    assert c.list(citizen) == []


def test_the_widest_bounds_pass(consents: tuple[Consents, Clock, str]) -> None:
    c, _, citizen = consents
    c.known_proof_type = proof_type_shape  # the widest id the shape allows, not a catalogued one
    got = c.grant(citizen, "police", "a" * 64, "x" * MAX_PURPOSE, "2027-03-10")
    assert got.until_date == "2027-03-10"
    with pytest.raises(ConsentInvalid) as err:
        c.request("police", "bad id!", PROOF, PURPOSE, TODAY)
    assert err.value.field == "citizen_id"


def test_a_request_tells_the_citizen_with_a_notice(
    api_app: Flask, consents: tuple[Consents, Clock, str]
) -> None:
    c, _, citizen = consents
    c.request("police", citizen, PROOF, PURPOSE, TODAY)
    (notice,) = services_of(api_app).notices.list_notices(citizen)
    assert notice.kind == "consent" and PROOF in notice.text.en


def test_a_citizen_full_of_live_consents_is_told_to_withdraw_one(
    consents: tuple[Consents, Clock, str],
) -> None:
    c, _, citizen = consents
    for _ in range(CONSENT_CAP):
        c.grant(citizen, "police", PROOF, PURPOSE, TODAY)
    with pytest.raises(ConsentLimitReached):
        c.grant(citizen, "police", PROOF, PURPOSE, TODAY)
    c.withdraw(citizen, c.list(citizen)[0].id)
    c.grant(citizen, "police", PROOF, PURPOSE, TODAY)


def test_the_purpose_is_sealed_at_rest(
    api_app: Flask, consents: tuple[Consents, Clock, str]
) -> None:
    c, _, citizen = consents
    given = c.grant(citizen, "police", PROOF, PURPOSE, TODAY)
    record = services_of(api_app).store.get_consent(given.id)
    assert record is not None
    assert PURPOSE.encode() not in record.blob and citizen not in record.citizen
    assert record.citizen.startswith("ps_")


def test_a_department_has_at_most_so_many_pending_requests_per_citizen(
    consents: tuple[Consents, Clock, str],
) -> None:
    c, clock, citizen = consents
    asked = [
        c.request("police", citizen, PROOF, PURPOSE, TODAY)
        for _ in range(MAX_PENDING_PER_DEPARTMENT)
    ]
    with pytest.raises(ConsentLimitReached):
        c.request("police", citizen, PROOF, PURPOSE, TODAY)
    c.request("civil-affairs", citizen, PROOF, PURPOSE, TODAY)  # another department's own
    c.decline(citizen, asked[0].id)  # answered: a place again
    c.request("police", citizen, PROOF, PURPOSE, TODAY)
    with pytest.raises(ConsentLimitReached):
        c.request("police", citizen, PROOF, PURPOSE, TODAY)
    clock.now += 86_400  # expired requests no longer count
    c.request("police", citizen, PROOF, PURPOSE, "2026-03-11")
