"""Consent over HTTP on SQLite and Redis: a department asks
(``POST /api/v1/proofs/consent-requests``), the citizen approves, declines, grants or
withdraws in the wallet (``/api/v1/wallet/consents``), and ``ecert.consents.match`` (what
the proof query asks) follows at once; expiry by the clock; another citizen or department
reaches nothing; each bound answers its code."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.uses import MAX_PURPOSE
from tests.api_helpers import AuthActions, api_app, auth, bearer, client, demo, services_of
from tests.hygiene import personal

__all__ = ["api_app", "auth", "client", "demo"]

#: 2026-03-10 12:00 UTC.
NOW = 1_773_144_000
TODAY = "2026-03-10"
PURPOSE = personal("核实低保申请人的无犯罪记录 (allowance review)", "consent API purpose")
PROOF = "no-criminal-record"
REQUESTS = "/api/v1/proofs/consent-requests"
WALLET = "/api/v1/wallet/consents"


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(api_app: Flask) -> Clock:
    at = Clock()
    services_of(api_app).consents.clock = at
    return at


def _ask(client: FlaskClient, auth: AuthActions, **members: Any) -> Any:
    by = members.pop("_by", "police")
    body = {
        "citizen_id": auth.citizen_ids[0],
        "proof_type": PROOF,
        "purpose": PURPOSE,
        "until": TODAY,
        **members,
    }
    return client.post(REQUESTS, json=body, headers=auth.department(by))


def _matches(app: Flask, auth: AuthActions, department: str = "police") -> bool:
    found = services_of(app).consents.match(department, auth.citizen_ids[0], PROOF, PURPOSE)
    return found is not None


def test_request_approve_match_withdraw_on_both_stores(
    api_app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    asked = _ask(client, auth)
    assert asked.status_code == 201, asked.get_json()
    body = asked.get_json()
    assert body["state"] == "pending" and body["until"] == TODAY
    assert body["purpose"] == PURPOSE and "citizen_id" not in body
    assert asked.headers["Location"].endswith(f"{REQUESTS}/{body['id']}")
    assert not _matches(api_app, auth)

    citizen = auth.citizen(0)
    listed = client.get(WALLET, headers=citizen).get_json()["items"]
    (entry,) = listed
    assert entry["id"] == body["id"] and entry["state"] == "pending"
    assert entry["department"] == "police" and entry["origin"] == "request"
    assert entry["department_name"] == {"zh": "市公安局", "en": "City Public Security Bureau"}
    notices = client.get("/api/v1/wallet/notices", headers=citizen).get_json()["items"]
    assert [n["kind"] for n in notices] == ["consent"]

    approved = client.post(f"{WALLET}/{body['id']}/approve", headers=citizen)
    assert approved.status_code == 200 and approved.get_json()["state"] == "granted"
    assert _matches(api_app, auth)
    seen = client.get(f"{REQUESTS}/{body['id']}", headers=auth.department())
    assert seen.status_code == 200 and seen.get_json()["state"] == "granted"

    withdrawn = client.delete(f"{WALLET}/{body['id']}", headers=citizen)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["state"] == "withdrawn"
    assert not _matches(api_app, auth)  # at once
    again = client.delete(f"{WALLET}/{body['id']}", headers=citizen)
    assert (again.status_code, again.get_json()["code"]) == (409, "consent_state")
    approve = client.post(f"{WALLET}/{body['id']}/approve", headers=citizen)
    assert (approve.status_code, approve.get_json()["code"]) == (409, "consent_state")
    assert (
        client.get(f"{REQUESTS}/{body['id']}", headers=auth.department()).get_json()["state"]
        == "withdrawn"
    )


def test_a_declined_request_does_not_match(
    api_app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    cid = _ask(client, auth).get_json()["id"]
    citizen = auth.citizen(0)
    declined = client.post(f"{WALLET}/{cid}/decline", headers=citizen)
    assert declined.status_code == 200 and declined.get_json()["state"] == "declined"
    assert not _matches(api_app, auth)
    approve = client.post(f"{WALLET}/{cid}/approve", headers=citizen)
    assert (approve.status_code, approve.get_json()["code"]) == (409, "consent_state")
    assert (
        client.get(f"{REQUESTS}/{cid}", headers=auth.department()).get_json()["state"] == "declined"
    )


def test_a_direct_grant_matches_until_the_end_of_its_day(
    api_app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    citizen = auth.citizen(0)
    granted = client.post(
        WALLET,
        json={"department": "police", "proof_type": PROOF, "purpose": PURPOSE, "until": TODAY},
        headers=citizen,
    )
    assert granted.status_code == 201, granted.get_json()
    body = granted.get_json()
    assert (body["state"], body["origin"], body["expired"]) == ("granted", "grant", False)
    assert _matches(api_app, auth)
    assert not _matches(api_app, auth, "civil-affairs")
    # 23:59:59 UTC of that day it holds; at midnight it is gone, and the list says so.
    clock.now = dt.datetime(2026, 3, 10, 23, 59, 59, tzinfo=dt.UTC).timestamp()
    assert _matches(api_app, auth)
    clock.now += 1
    assert not _matches(api_app, auth)
    (entry,) = client.get(WALLET, headers=citizen).get_json()["items"]
    assert entry["expired"] is True and entry["state"] == "granted"
    # The department never sees a citizen's own grant as a request.
    peek = client.get(f"{REQUESTS}/{body['id']}", headers=auth.department())
    assert (peek.status_code, peek.get_json()["code"]) == (404, "consent_not_found")


def test_a_past_until_in_the_store_never_matches(
    api_app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    """A consent granted in the past whose day is over (made under an earlier clock)."""
    clock.now = NOW - 30 * 86_400
    cid = _ask(client, auth, until="2026-02-09").get_json()["id"]
    assert client.post(f"{WALLET}/{cid}/approve", headers=auth.citizen(0)).status_code == 200
    clock.now = NOW
    record = services_of(api_app).store.get_consent(cid)
    assert record is not None and record.state == "granted" and record.until < NOW
    assert not _matches(api_app, auth)


def test_an_expired_request_cannot_be_approved(
    client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    cid = _ask(client, auth).get_json()["id"]
    clock.now += 86_400
    approve = client.post(f"{WALLET}/{cid}/approve", headers=auth.citizen(0))
    assert (approve.status_code, approve.get_json()["code"]) == (409, "consent_state")


def test_another_citizen_cannot_see_approve_decline_or_withdraw(
    api_app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    cid = _ask(client, auth).get_json()["id"]
    other = auth.citizen(1)
    assert client.get(WALLET, headers=other).get_json()["items"] == []
    for method, path in (
        ("post", f"{WALLET}/{cid}/approve"),
        ("post", f"{WALLET}/{cid}/decline"),
        ("delete", f"{WALLET}/{cid}"),
        ("post", f"{WALLET}/{'0' * 32}/approve"),  # an unknown id answers the same
    ):
        got = getattr(client, method)(path, headers=other)
        assert (got.status_code, got.get_json()["code"]) == (404, "consent_not_found"), path
    (entry,) = client.get(WALLET, headers=auth.citizen(0)).get_json()["items"]
    assert entry["state"] == "pending"
    assert not _matches(api_app, auth)


def test_another_department_cannot_read_the_request(
    client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    cid = _ask(client, auth).get_json()["id"]
    peek = client.get(f"{REQUESTS}/{cid}", headers=auth.department("civil-affairs"))
    assert (peek.status_code, peek.get_json()["code"]) == (404, "consent_not_found")
    unknown = client.get(f"{REQUESTS}/{'0' * 32}", headers=auth.department())
    assert unknown.get_json() == {**peek.get_json(), "detail": unknown.get_json()["detail"]}
    # A citizen's token or a venue's key is not a department's.
    assert client.get(f"{REQUESTS}/{cid}", headers=auth.citizen(0)).status_code == 401
    venue = _ask(client, auth, _by="police")  # the same body, then with a venue's key
    assert venue.status_code == 201
    body = {"citizen_id": auth.citizen_ids[0], "proof_type": PROOF, "purpose": PURPOSE}
    got = client.post(REQUESTS, json={**body, "until": TODAY}, headers=auth.venue())
    assert got.status_code == 401
    # Nor is a department's key a citizen's session.
    assert client.get(WALLET, headers=auth.department()).status_code == 401


def test_an_unknown_citizen_is_answered_like_a_known_one(
    client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    known = _ask(client, auth)
    unknown = _ask(client, auth, citizen_id="110101190001010006")
    assert (known.status_code, unknown.status_code) == (201, 201)
    a, b = known.get_json(), unknown.get_json()
    assert set(a) == set(b) and len(a["id"]) == len(b["id"])
    assert {k: v for k, v in a.items() if k != "id"} == {k: v for k, v in b.items() if k != "id"}


@pytest.mark.parametrize(
    ("member", "value", "field"),
    [
        ("purpose", "x" * (MAX_PURPOSE + 1), "purpose"),
        ("purpose", " \t ", "purpose"),
        ("purpose", "核查\u202egnp.exe", "purpose"),
        ("until", "2027-03-11", "until"),  # a year and a day ahead
        ("until", "2026-03-09", "until"),  # yesterday
        ("until", "10/03/2026", "until"),
        ("proof_type", "No_Such Proof", "proof_type"),
        ("department", "nowhere", "department"),
        ("department", "Police", "department"),
    ],
)
def test_bounds_answer_consent_invalid_with_the_member(
    client: FlaskClient, auth: AuthActions, clock: Clock, member: str, value: str, field: str
) -> None:
    grant = {"department": "police", "proof_type": PROOF, "purpose": PURPOSE, "until": TODAY}
    got = client.post(WALLET, json={**grant, member: value}, headers=auth.citizen(0))
    assert got.status_code == 422, got.get_json()
    problem = got.get_json()
    assert (problem["code"], problem["field"]) == ("consent_invalid", field)
    assert value not in problem["detail"]
    if member != "department":
        asked = _ask(client, auth, **{member: value})
        assert asked.status_code == 422
        assert (asked.get_json()["code"], asked.get_json()["field"]) == ("consent_invalid", field)
    assert client.get(WALLET, headers=auth.citizen(0)).get_json()["items"] == []


def test_shapes_outside_the_schema_are_invalid_requests(
    client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    too_long = _ask(client, auth, purpose="x" * (4 * MAX_PURPOSE + 1))
    assert (too_long.status_code, too_long.get_json()["code"]) == (400, "invalid_request")
    extra = _ask(client, auth, claims={"name": "x"})
    assert (extra.status_code, extra.get_json()["code"]) == (400, "invalid_request")
    bad_id = client.post(f"{WALLET}/{'a' * 65}/approve", headers=auth.citizen(0))
    assert bad_id.status_code in (400, 404)
    raw = client.post(
        REQUESTS,
        data=b'{"citizen_id": "1", "citizen_id": "2", "proof_type": "x", "purpose": "p",'
        b' "until": "2026-03-10"}',
        headers={**auth.department(), "Content-Type": "application/json"},
    )
    assert (raw.status_code, raw.get_json()["code"]) == (400, "invalid_request")


def test_the_widest_until_is_a_year_ahead(
    client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    got = _ask(client, auth, until="2027-03-10")
    assert got.status_code == 201 and got.get_json()["until"] == "2027-03-10"


def test_a_revoked_department_key_cannot_ask(
    api_app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    svc = services_of(api_app)
    record = svc.platform.issuer("police")
    key, secret = svc.accounts.issue_api_key("department", record.iss)
    headers = bearer(personal(secret, "a revoked department key"))
    svc.accounts.revoke_api_key(key.key_id)
    got = client.post(
        REQUESTS,
        json={
            "citizen_id": auth.citizen_ids[0],
            "proof_type": PROOF,
            "purpose": PURPOSE,
            "until": TODAY,
        },
        headers=headers,
    )
    assert got.status_code == 401
