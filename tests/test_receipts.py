"""Receipts, ratings and misuse reports of the uses of a citizen's data (issue 11), on
both stores: a venue verifies over HTTP, and the citizen's use is then read, signed,
rated and reported through :class:`service.receipts.Receipts`."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient

from service.errors import (
    RatingInvalid,
    RatingLocked,
    ReceiptNotFound,
    ReportExists,
    ReportInvalid,
)
from service.receipts import RATING_EDIT_WINDOW, Receipts
from service.uses import Use
from tests.api_helpers import (
    BASE_URL,
    AuthActions,
    api_app,
    auth,
    card_id,
    client,
    demo,
    jwt_header,
    services_of,
)
from tests.hygiene import personal

__all__ = ["api_app", "auth", "client", "demo"]


def verified(client: FlaskClient, auth: AuthActions, which: int = 0) -> str:
    """Have the demo hotel verify citizen ``which``'s ID card; the use's event id."""
    headers = auth.citizen(which)
    made = client.post(
        f"/api/v1/wallet/credentials/{card_id(client, headers)}/presentations",
        headers=headers,
        json={"scene": "hotel"},
    )
    assert made.status_code == 201, made.get_json()
    checked = client.post(
        "/api/v1/verify", headers=auth.venue(), json={"qr": made.get_json()["qr"], "scene": "hotel"}
    )
    assert checked.status_code == 200 and checked.get_json()["valid"], checked.get_json()
    uses = receipts_of(client).list(auth.citizen_ids[which])
    return uses[0].event_id


def receipts_of(client: FlaskClient) -> Receipts:
    app = client.application
    return services_of(app).receipts


def test_a_receipt_verifies_with_the_platform_key_of_the_trust_data(
    client: FlaskClient, auth: AuthActions
) -> None:
    citizen = auth.citizen_ids[0]
    event_id = verified(client, auth)
    token = receipts_of(client).receipt(citizen, event_id)
    # The key every verifier pins, and the trust list it signs, as published over HTTP.
    anchor = client.get("/api/v1/verifier/anchor").get_json()
    bundle = client.get("/api/v1/verifier/bundle").get_json()
    trust_list = bundle["trust_list"]
    assert jwt_header(token)["kid"] == jwt_header(trust_list)["kid"] == anchor["kid"]
    key = jwt.PyJWK(anchor)
    payload: dict[str, Any] = jwt.decode(
        token, key, algorithms=[anchor["alg"]], options={"require": ["iss", "jti", "iat"]}
    )
    assert jwt.get_unverified_header(token)["typ"] == "receipt+jwt"
    assert payload["iss"] == BASE_URL == jwt.decode(trust_list, key, algorithms=["ES256"])["iss"]
    assert payload["jti"] == event_id
    assert payload["kind"] == "verification"
    assert payload["actor"] == {
        "kind": "venue",
        "id": "grand-hotel",
        "name": {"zh": "城市大酒店", "en": "Grand City Hotel"},
    }
    assert payload["topic"] == "hotel"
    assert payload["fields"] == ["name", "id_number"]
    assert payload["result"] == {"outcome": "accepted", "codes": []}
    assert isinstance(payload["at"], int) and payload["iat"] >= payload["at"]
    # No citizen id, in clear or as the store's pseudonym.
    pseudonym = services_of(client.application).pseudonyms.of(citizen)
    raw = json.dumps(payload, ensure_ascii=False)
    assert citizen not in raw and pseudonym not in raw
    # A byte changed in the payload breaks the signature.
    head, body, sig = token.split(".")
    forged = ".".join((head, body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1], sig))
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key, algorithms=[anchor["alg"]])


def test_another_citizens_event_is_not_found_like_an_unknown_one(
    client: FlaskClient, auth: AuthActions
) -> None:
    event_id = verified(client, auth, 0)
    other = auth.citizen_ids[1]
    receipts = receipts_of(client)
    for eid in (event_id, "ffffffffffffffff00000000", "x" * 65, ""):
        with pytest.raises(ReceiptNotFound) as err:
            receipts.receipt(other, eid)
        assert str(err.value) == "No such use of your data."
        with pytest.raises(ReceiptNotFound):
            receipts.rate(other, eid, 5)
        with pytest.raises(ReceiptNotFound):
            receipts.report(other, eid, "not mine")
    assert receipts.ratings_for("venue", "grand-hotel") == []


def test_one_rating_per_use_editable_for_a_day(client: FlaskClient, auth: AuthActions) -> None:
    citizen = auth.citizen_ids[0]
    event_id = verified(client, auth)
    receipts = receipts_of(client)
    now = [1_900_000_000.0]
    receipts.clock = lambda: now[0]
    comment = personal("前台很快 quick desk", "a rating comment")
    first = receipts.rate(citizen, event_id, 4, comment)
    assert (first.stars, first.comment, first.created_at) == (4, comment, 1_900_000_000)
    now[0] += RATING_EDIT_WINDOW - 1
    edited = receipts.rate(citizen, event_id, 2, "")
    assert (edited.stars, edited.created_at, edited.comment) == (2, 1_900_000_000, "")
    assert receipts.ratings_of(citizen, [event_id])[event_id].stars == 2
    now[0] += 1
    with pytest.raises(RatingLocked):
        receipts.rate(citizen, event_id, 5, "changed my mind")
    assert receipts.ratings_of(citizen, [event_id])[event_id].stars == 2
    # The venue sees its own ratings: stars, comment, topic and dates, no citizen data.
    (seen,) = receipts.ratings_for("venue", "grand-hotel")
    assert seen.to_dict() == {
        "stars": 2,
        "comment": "",
        "topic": "hotel",
        "created_at": 1_900_000_000,
        "updated_at": 1_900_000_000 + RATING_EDIT_WINDOW - 1,
    }
    assert receipts.ratings_for("department", "grand-hotel") == []
    store = services_of(client.application).store
    assert [r.event_id for r in store.list_low_ratings()] == [event_id]


@pytest.mark.parametrize(
    ("stars", "comment"),
    [(0, ""), (6, ""), (True, ""), ("5", ""), (4.0, ""), (3, "x" * 501), (3, "bell\x07"), (3, 7)],
)
def test_a_rating_out_of_bounds_is_refused(
    client: FlaskClient, auth: AuthActions, stars: object, comment: object
) -> None:
    citizen = auth.citizen_ids[0]
    event_id = verified(client, auth)
    with pytest.raises(RatingInvalid):
        receipts_of(client).rate(citizen, event_id, stars, comment)
    assert receipts_of(client).ratings_of(citizen, [event_id]) == {}


def test_a_misuse_report_reaches_the_operator_once(client: FlaskClient, auth: AuthActions) -> None:
    citizen = auth.citizen_ids[0]
    event_id = verified(client, auth)
    receipts = receipts_of(client)
    for text in ("", "   ", "x" * 1001, "\x1b[31m"):
        with pytest.raises(ReportInvalid):
            receipts.report(citizen, event_id, text)
    text = personal("他们拍了我的身份证 photo of my card", "a misuse report")
    report = receipts.report(citizen, event_id, text)
    with pytest.raises(ReportExists):
        receipts.report(citizen, event_id, "again")
    store = services_of(client.application).store
    (seen,) = store.list_reports("open")
    assert (seen.report_id, seen.event_id, seen.actor, seen.topic) == (
        report.id,
        event_id,
        "grand-hotel",
        "hotel",
    )
    assert seen.citizen == services_of(client.application).pseudonyms.of(citizen)
    assert text.encode() not in seen.blob
    assert receipts.report_text(seen) == text


def test_sources_merge_newest_first(client: FlaskClient, auth: AuthActions) -> None:
    citizen = auth.citizen_ids[0]
    event_id = verified(client, auth)
    receipts = receipts_of(client)
    pseudonym = services_of(client.application).pseudonyms.of(citizen)

    def proofs(cid: str, limit: int) -> list[Use]:
        if cid != citizen:
            return []
        use = Use(
            event_id="ffffffffffffffff00000000",
            kind="proof_query",
            at=4_000_000_000,
            subject=pseudonym,
            actor_kind="department",
            actor="civil-affairs",
            topic="no-criminal-record",
            fields=("record",),
            purpose="Job application check",
            answered_by="police",
            accepted=True,
        )
        return [use][:limit]

    receipts.add_source(proofs)
    uses = receipts.list(citizen)
    assert [u.event_id for u in uses] == ["ffffffffffffffff00000000", event_id]
    assert receipts.list(auth.citizen_ids[1]) == []
    token = receipts.receipt(citizen, "ffffffffffffffff00000000")
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["kind"] == "proof_query" and payload["purpose"] == "Job application check"
    assert payload["actor"]["kind"] == "department" and payload["answered_by"] == "police"
    assert receipts.rate(citizen, "ffffffffffffffff00000000", 5).stars == 5
    (seen,) = receipts.ratings_for("department", "civil-affairs")
    assert seen.topic == "no-criminal-record"
