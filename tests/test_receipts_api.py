"""Receipts, ratings and misuse reports over HTTP (issue 11), on both stores: the citizen's
``/api/v1/wallet/receipts`` and a venue's or department's ``/api/v1/ratings``."""

from __future__ import annotations

from typing import Any

import jwt
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.receipts import RATING_EDIT_WINDOW
from tests.api_helpers import (
    AuthActions,
    api_app,
    auth,
    bearer,
    card_id,
    client,
    demo,
    services_of,
)
from tests.hygiene import personal

__all__ = ["api_app", "auth", "client", "demo"]

PROBLEM = "application/problem+json"
RECEIPTS = "/api/v1/wallet/receipts"


def problem(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json()
    assert body["code"] == code and body["status"] == status
    return body


def verify_at(client: FlaskClient, auth: AuthActions, citizen: dict[str, str], venue: str) -> None:
    scene = {"grand-hotel": "hotel", "city-bank": "bank"}[venue]
    made = client.post(
        f"/api/v1/wallet/credentials/{card_id(client, citizen)}/presentations",
        headers=citizen,
        json={"scene": scene},
    )
    assert made.status_code == 201, made.get_json()
    qr = made.get_json()["qr"]
    body = {"qr": qr, "scene": scene}
    checked = client.post("/api/v1/verify", headers=auth.venue(venue), json=body)
    assert checked.status_code == 200 and checked.get_json()["valid"], checked.get_json()


def only_receipt(client: FlaskClient, citizen: dict[str, str]) -> dict[str, Any]:
    response = client.get(RECEIPTS, headers=citizen)
    assert response.status_code == 200
    (item,) = response.get_json()["items"]
    entry: dict[str, Any] = item
    return entry


def test_the_citizen_lists_each_use_and_downloads_its_receipt(
    client: FlaskClient, auth: AuthActions
) -> None:
    citizen = auth.citizen()
    assert client.get(RECEIPTS, headers=citizen).get_json() == {"items": []}
    verify_at(client, auth, citizen, "grand-hotel")
    item = only_receipt(client, citizen)
    assert item["kind"] == "verification"
    assert item["actor"] == {
        "kind": "venue",
        "id": "grand-hotel",
        "name": {"zh": "城市大酒店", "en": "Grand City Hotel"},
    }
    assert item["topic"] == "hotel" and item["topic_name"]["en"]
    assert item["fields"] == ["name", "id_number"]
    assert item["result"] == {"outcome": "accepted", "codes": []}
    assert item["rating"] is None and item["report"] is None and item["purpose"] == ""
    eid = item["event_id"]
    as_json = client.get(f"{RECEIPTS}/{eid}", headers=citizen)
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    token = as_json.get_json()["receipt"]
    download = client.get(f"{RECEIPTS}/{eid}?download=1", headers=citizen)
    assert download.status_code == 200
    assert download.mimetype == "application/receipt+jwt"
    assert download.headers["Content-Disposition"] == f'attachment; filename="receipt-{eid}.jwt"'
    assert download.headers["Cache-Control"] == "no-store"
    anchor = client.get("/api/v1/verifier/anchor").get_json()
    for jws in (token, download.get_data(as_text=True)):
        payload = jwt.decode(jws, jwt.PyJWK(anchor), algorithms=[anchor["alg"]])
        assert payload["jti"] == eid and payload["actor"]["id"] == "grand-hotel"
    problem(client.get(f"{RECEIPTS}/{eid}?download=yes", headers=citizen), 400, "invalid_request")


def test_rate_edit_and_lock_over_http(client: FlaskClient, auth: AuthActions) -> None:
    citizen = auth.citizen()
    verify_at(client, auth, citizen, "grand-hotel")
    eid = only_receipt(client, citizen)["event_id"]
    receipts = services_of(client.application).receipts
    now = [2_000_000_000.0]
    receipts.clock = lambda: now[0]
    url = f"{RECEIPTS}/{eid}/rating"
    comment = personal("办理很快，谢谢 fast, thanks", "a rating comment")
    rated = client.put(url, headers=citizen, json={"stars": 4, "comment": comment})
    assert rated.status_code == 200, rated.get_json()
    assert rated.get_json() == {
        "stars": 4,
        "comment": comment,
        "created_at": 2_000_000_000,
        "updated_at": 2_000_000_000,
        "editable_until": 2_000_000_000 + RATING_EDIT_WINDOW,
    }
    assert only_receipt(client, citizen)["rating"]["stars"] == 4
    now[0] += 3600
    assert client.put(url, headers=citizen, json={"stars": 3.0}).get_json()["stars"] == 3
    assert client.put(url, headers=citizen, json={"stars": 5}).get_json()["stars"] == 5
    problem(client.put(url, headers=citizen, json={"stars": 3, "comment": "a\x07"}), 400,
            "rating_invalid")
    wrong: list[dict[str, object]] = [
        {"stars": 0},
        {"stars": 6},
        {"stars": 3, "comment": "x" * 501},
        {"stars": "4"},
        {"stars": 4.5},
        {"stars": True},
        {"stars": 4, "why": "x"},
        {},
    ]
    for bad in wrong:
        problem(client.put(url, headers=citizen, json=bad), 400, "invalid_request")
    broken = client.put(url, headers=citizen, data="[", content_type="application/json")
    problem(broken, 400, "invalid_request")
    now[0] += RATING_EDIT_WINDOW
    body = problem(client.put(url, headers=citizen, json={"stars": 1}), 409, "rating_locked")
    assert comment not in str(body)
    assert only_receipt(client, citizen)["rating"]["stars"] == 5
    # The venue sees its own rating (no citizen data); the bank and the police see none.
    mine = client.get("/api/v1/ratings", headers=auth.venue()).get_json()["items"]
    assert mine == [
        {
            "stars": 5,
            "comment": "",
            "topic": "hotel",
            "created_at": 2_000_000_000,
            "updated_at": 2_000_000_000 + 3600,
        }
    ]
    assert client.get("/api/v1/ratings", headers=auth.venue("city-bank")).get_json() == {
        "items": []
    }
    assert client.get("/api/v1/ratings", headers=auth.department()).get_json() == {"items": []}
    problem(client.get("/api/v1/ratings", headers=citizen), 401, "unauthorized")
    problem(client.get("/api/v1/ratings"), 401, "unauthorized")


def test_a_misuse_report_is_accepted_once(client: FlaskClient, auth: AuthActions) -> None:
    citizen = auth.citizen()
    verify_at(client, auth, citizen, "city-bank")
    eid = only_receipt(client, citizen)["event_id"]
    url = f"{RECEIPTS}/{eid}/reports"
    problem(client.post(url, headers=citizen, json={"text": "  "}), 400, "report_invalid")
    problem(client.post(url, headers=citizen, json={"text": "a\x00b"}), 400, "report_invalid")
    problem(client.post(url, headers=citizen, json={"text": "x" * 1001}), 400, "invalid_request")
    problem(client.post(url, headers=citizen, json={"text": ""}), 400, "invalid_request")
    text = personal("银行多复印了一份 an extra copy", "a misuse report")
    made = client.post(url, headers=citizen, json={"text": text})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert set(body) == {"id", "event_id", "created_at", "state"}
    assert body["event_id"] == eid and body["state"] == "open"
    problem(client.post(url, headers=citizen, json={"text": "again"}), 409, "report_exists")
    assert only_receipt(client, citizen)["report"] == body
    store = services_of(client.application).store
    assert [r.report_id for r in store.list_reports("open")] == [body["id"]]


def test_another_citizens_event_answers_like_an_unknown_one(
    client: FlaskClient, auth: AuthActions
) -> None:
    owner = auth.citizen(0)
    verify_at(client, auth, owner, "grand-hotel")
    eid = only_receipt(client, owner)["event_id"]
    other = auth.citizen(1)
    for target in (eid, "ffffffffffffffff00000000"):
        answers = [
            client.get(f"{RECEIPTS}/{target}", headers=other),
            client.get(f"{RECEIPTS}/{target}?download=1", headers=other),
            client.put(f"{RECEIPTS}/{target}/rating", headers=other, json={"stars": 1}),
            client.post(f"{RECEIPTS}/{target}/reports", headers=other, json={"text": "x"}),
        ]
        for answer in answers:
            body = problem(answer, 404, "receipt_not_found")
            assert body["detail"] == "No such use of your data."
    assert client.get(RECEIPTS, headers=other).get_json() == {"items": []}
    problem(client.get(f"{RECEIPTS}/{'x' * 65}", headers=other), 400, "invalid_request")
    for path in (RECEIPTS, f"{RECEIPTS}/{eid}"):
        problem(client.get(path), 401, "unauthorized")
        problem(client.get(path, headers=auth.venue()), 401, "unauthorized")
    problem(client.get(RECEIPTS, headers=bearer("not-a-session")), 401, "unauthorized")
    assert client.get("/api/v1/ratings", headers=auth.venue()).get_json() == {"items": []}


def test_the_routes_are_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths[RECEIPTS]) == {"get"}
    assert set(paths[RECEIPTS + "/{event_id}"]) == {"get"}
    assert set(paths[RECEIPTS + "/{event_id}/rating"]) == {"put"}
    assert set(paths[RECEIPTS + "/{event_id}/reports"]) == {"post"}
    assert set(paths["/api/v1/ratings"]) == {"get"}
    assert paths["/api/v1/ratings"]["get"]["security"] == [
        {"venueKey": []},
        {"departmentKey": []},
    ]
    put = paths[RECEIPTS + "/{event_id}/rating"]["put"]
    assert {"400", "404", "409"} <= set(put["responses"])
