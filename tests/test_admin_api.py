"""``GET /api/v1/admin/stats`` (issue 11): the operator's figures per UTC day, behind an
operator key, on SQLite and Redis; the counting of issuances, verifications and proof
queries that feeds them."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.uses import Use
from tests.api_helpers import (
    ID_CARD,
    ID_CLAIMS,
    AuthActions,
    api_app,
    auth,
    bearer,
    card_id,
    client,
    demo,
    services_of,
)

__all__ = ["api_app", "auth", "client", "demo"]

TODAY = dt.datetime.now(dt.UTC).date().isoformat()


def stats(client: FlaskClient, auth: AuthActions, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/admin/stats{query}", headers=auth.operator())
    assert response.status_code == 200, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def test_stats_count_http_issuances_and_verifications_by_day(
    client: FlaskClient, auth: AuthActions
) -> None:
    before = stats(client, auth)
    assert before["days"][-1] == TODAY and len(before["days"]) == 14
    assert before["issuance"]["by_department"] == {}  # the demo's seeding is not issuance

    for n in range(2):
        response = client.post(
            "/api/v1/issuers/police/credentials",
            headers=auth.department(),
            json={"vct": ID_CARD, "citizen_id": auth.citizen_ids[n], "claims": ID_CLAIMS},
        )
        assert response.status_code == 201, response.get_json()
    citizen = auth.citizen()
    qr = client.post(
        f"/api/v1/wallet/credentials/{card_id(client, citizen)}/presentations",
        headers=citizen,
        json={"scene": "hotel"},
    ).get_json()["qr"]
    ok = client.post("/api/v1/verify", headers=auth.venue(), json={"qr": qr, "scene": "hotel"})
    assert ok.get_json()["valid"] is True
    again = client.post("/api/v1/verify", headers=auth.venue(), json={"qr": qr, "scene": "hotel"})
    assert again.get_json()["valid"] is False  # replayed
    forged = client.post(
        "/api/v1/verify", headers=auth.venue("city-bank"), json={"qr": "EC1:0000", "scene": "bank"}
    )
    assert forged.get_json()["valid"] is False

    got = stats(client, auth, f"?from={TODAY}&to={TODAY}")
    assert got["days"] == [TODAY] and got["from"] == got["to"] == TODAY
    assert got["issuance"]["by_department"] == {"police": {TODAY: 2}}
    assert got["issuance"]["by_type"] == {ID_CARD: {TODAY: 2}}
    verification = got["verification"]
    assert verification["by_scene"] == {"bank": {TODAY: 1}, "hotel": {TODAY: 2}}
    assert verification["by_venue"] == {"city-bank": {TODAY: 1}, "grand-hotel": {TODAY: 2}}
    assert verification["refused"] == {"bank": {TODAY: 1}, "hotel": {TODAY: 1}}
    assert sum(v[TODAY] for v in verification["refusal_codes"].values()) >= 2
    assert "replayed" in verification["refusal_codes"]
    # every series has every day of the range, 0 where nothing happened
    week = stats(client, auth)
    assert week["issuance"]["by_department"]["police"] == {
        **dict.fromkeys(week["days"], 0),
        TODAY: 2,
    }


def test_proof_queries_are_counted_from_the_uses_they_publish(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    uses = services_of(api_app).instance.uses
    at = int(time.time())
    for accepted in (True, True, False):
        uses.record(
            Use(
                event_id="ev",
                kind="proof_query",
                at=at,
                subject="ps_x",
                actor_kind="department",
                actor="civil-affairs",
                topic="kinship-parent-child",
                purpose="a purpose",
                answered_by="police",
                accepted=accepted,
            )
        )
    # a part that is no slug (it would carry anything) is counted as "other"
    uses.record(
        Use("ev", "proof_query", at, "", "department", "police|x y", "birth", accepted=False)
    )
    got = stats(client, auth)["proof_queries"]
    assert got["by_department"]["civil-affairs"][TODAY] == 3
    assert got["by_department"]["other"][TODAY] == 1
    assert got["by_proof_type"] == {
        "birth": {**got["by_proof_type"]["birth"], TODAY: 1},
        "kinship-parent-child": {**got["by_proof_type"]["kinship-parent-child"], TODAY: 3},
    }
    assert got["refused"]["civil-affairs"][TODAY] == 1


def test_the_stats_need_an_operator_key(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    url = "/api/v1/admin/stats"
    for headers, status, code in (
        ({}, 401, "unauthorized"),
        (bearer("ek_" + "A" * 43), 401, "unauthorized"),
        (auth.citizen(), 401, "unauthorized"),
        (auth.department(), 403, "forbidden"),
        (auth.venue(), 403, "forbidden"),
    ):
        response = client.get(url, headers=headers)
        assert (response.status_code, response.get_json()["code"]) == (status, code), headers
    accounts = services_of(api_app).accounts
    key, secret = accounts.issue_api_key("operator", "night-shift")
    assert client.get(url, headers=bearer(secret)).status_code == 200
    accounts.revoke_api_key(key.key_id)
    response = client.get(url, headers=bearer(secret))
    assert (response.status_code, response.get_json()["code"]) == (401, "unauthorized")
    # an operator key opens nothing else
    assert client.get("/api/v1/wallet/credentials", headers=auth.operator()).status_code == 401
    response = client.post(
        "/api/v1/verify", headers=auth.operator(), json={"qr": "EC1:00", "scene": "hotel"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?from=2026-12-02&to=2026-12-01", "stats_range_invalid"),
        ("?from=2026-01-01&to=2026-04-03", "stats_range_invalid"),  # 93 days
        ("?from=2026-02-30&to=2026-03-01", "stats_range_invalid"),
        ("?to=2026-13-01", "stats_range_invalid"),
        ("?to=0001-01-05", "stats_range_invalid"),  # 13 days before: no such date
        ("?from=0000-12-31&to=0001-01-01", "stats_range_invalid"),
        ("?from=yesterday", "invalid_request"),
        ("?from=2026-12-01%0A", "invalid_request"),
        ("?to=" + "9" * 5000, "invalid_request"),
    ],
)
def test_a_bad_range_is_refused_with_its_code(
    client: FlaskClient, auth: AuthActions, query: str, code: str
) -> None:
    response = client.get(f"/api/v1/admin/stats{query}", headers=auth.operator())
    assert response.status_code == 400
    assert response.get_json()["code"] == code


def test_92_days_are_allowed_and_the_answer_is_documented(
    client: FlaskClient, auth: AuthActions
) -> None:
    got = stats(client, auth, "?from=2026-01-01&to=2026-04-02")
    assert len(got["days"]) == 92 and got["days"][0] == "2026-01-01"
    document = json.loads(client.get("/openapi.json").data)
    operation = document["paths"]["/api/v1/admin/stats"]["get"]
    assert operation["security"] == [{"operatorKey": []}]
    assert {p["name"] for p in operation["parameters"]} == {"from", "to"}
    assert {"200", "400", "401", "403"} <= set(operation["responses"])


# -- ratings and follow-up (part 2: the receipts' ratings and misuse reports) ----------------


def _verified_event(client: FlaskClient, auth: AuthActions, citizen: dict[str, str]) -> str:
    """A hotel verification of the citizen's ID card; its event id (from the receipts)."""
    qr = client.post(
        f"/api/v1/wallet/credentials/{card_id(client, citizen)}/presentations",
        headers=citizen,
        json={"scene": "hotel"},
    ).get_json()["qr"]
    ok = client.post("/api/v1/verify", headers=auth.venue(), json={"qr": qr, "scene": "hotel"})
    assert ok.get_json()["valid"] is True
    items = client.get("/api/v1/wallet/receipts", headers=citizen).get_json()["items"]
    event_id: str = items[0]["event_id"]
    return event_id


def test_ratings_and_reports_reach_the_operator_who_resolves_them(
    client: FlaskClient, auth: AuthActions
) -> None:
    citizen = auth.citizen()
    low, high = _verified_event(client, auth, citizen), _verified_event(client, auth, citizen)
    comment, text = "柜台人员态度差 rude staff", "They photographed my card 拍照留存"
    for event_id, stars, note in ((low, 2, comment), (high, 5, "")):
        response = client.put(
            f"/api/v1/wallet/receipts/{event_id}/rating",
            headers=citizen,
            json={"stars": stars, "comment": note},
        )
        assert response.status_code == 200, response.get_json()
    response = client.post(
        f"/api/v1/wallet/receipts/{high}/reports", headers=citizen, json={"text": text}
    )
    assert response.status_code == 201, response.get_json()
    report_id = response.get_json()["id"]

    got = stats(client, auth)
    assert got["ratings"]["by_venue"] == {"grand-hotel": [0, 1, 0, 0, 1]}
    assert got["ratings"]["by_department"] == {}
    assert got["ratings"]["names"]["venue:grand-hotel"]["en"] == "Grand City Hotel"
    (rating,) = got["follow_up"]["low_ratings"]
    assert (rating["event_id"], rating["stars"], rating["comment"]) == (low, 2, comment)
    assert (rating["actor"], rating["topic"]) == ("grand-hotel", "hotel")
    (report,) = got["follow_up"]["reports"]
    assert (report["id"], report["event_id"], report["text"]) == (report_id, high, text)
    assert report["state"] == "open"
    # nothing in them names the citizen
    assert auth.citizen_ids[0] not in json.dumps(got, ensure_ascii=False)

    url = f"/api/v1/admin/reports/{report_id}/resolve"
    assert client.post(url, headers=auth.department()).status_code == 403
    assert client.post(url, headers=auth.venue()).status_code == 403
    assert client.post(url, headers=citizen).status_code == 401
    done = client.post(url, headers=auth.operator())
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["state"] == "resolved" and done.get_json()["resolved_at"] > 0
    again = client.post(url, headers=auth.operator())
    assert (again.status_code, again.get_json()["code"]) == (409, "conflict")
    unknown = client.post("/api/v1/admin/reports/nope/resolve", headers=auth.operator())
    assert (unknown.status_code, unknown.get_json()["code"]) == (404, "not_found")

    url = f"/api/v1/admin/ratings/{low}/follow-up"
    assert client.post(url, headers=auth.department()).status_code == 403
    done = client.post(url, headers=auth.operator())
    assert done.status_code == 200 and done.get_json() == {"event_id": low, "followed_up": True}
    for event_id in (low, high, "nope"):  # done, above 2 stars, unknown
        response = client.post(
            f"/api/v1/admin/ratings/{event_id}/follow-up", headers=auth.operator()
        )
        assert (response.status_code, response.get_json()["code"]) == (404, "not_found")
    bad = client.post("/api/v1/admin/ratings/a%20b/follow-up", headers=auth.operator())
    assert (bad.status_code, bad.get_json()["code"]) == (400, "invalid_request")

    after = stats(client, auth)
    assert after["follow_up"] == {"low_ratings": [], "reports": []}
    assert after["ratings"]["by_venue"] == {"grand-hotel": [0, 1, 0, 0, 1]}  # still counted
