"""The proof platform end to end over HTTP on both stores (issue 11), in the order a
citizen meets it: a department's query refused without consent, answered after the
citizen approves its request, refused again after the withdrawal; the proof checked
offline; every query a receipt in the citizen's wallet (named from the proof-type
catalogue, signed by the platform's anchor), rated by the citizen, seen by the
department and by the operator; and every query in the audit chain."""

from __future__ import annotations

import datetime as dt

import jwt
from flask import Flask
from flask.testing import FlaskClient

from tests.api_helpers import AuthActions, api_app, auth, client, demo
from tests.hygiene import personal
from tests.test_api_proofs import ASKING, PROOF, PURPOSE, _approved, _ask, _ecert, _verifier

__all__ = ["api_app", "auth", "client", "demo"]

RECEIPTS = "/api/v1/wallet/receipts"
COMMENT = personal("查询前没有提前告知用途", "the proof walk's rating comment")


def test_a_query_its_consent_receipt_rating_stats_and_audit(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ecert = _ecert(api_app)
    citizen_id = auth.citizen_ids[0]
    assert _ask(client, auth, citizen_id).get_json()["code"] == "consent_required"
    consent = _approved(client, auth)
    answered = _ask(client, auth, citizen_id)
    assert answered.status_code == 200, answered.get_json()
    proof = personal(answered.get_json()["proof"], "the proof walk's proof")
    verifier = _verifier(client)
    assert verifier.verify_proof(proof, audience=ecert.platform.issuer_url(ASKING)).valid
    other = verifier.verify_proof(proof, audience=ecert.platform.issuer_url("health"))
    assert not other.valid and other.codes == ["wrong_audience"]
    citizen = auth.citizen()
    assert client.delete(f"/api/v1/wallet/consents/{consent}", headers=citizen).status_code == 200
    assert _ask(client, auth, citizen_id).get_json()["code"] == "consent_required"

    # The citizen sees the three queries, newest first, by the catalogue's name.
    items = client.get(RECEIPTS, headers=citizen).get_json()["items"]
    queries = [i for i in items if i["kind"] == "proof_query"]
    assert [q["result"]["outcome"] for q in queries] == ["refused", "accepted", "refused"]
    assert {q["topic"] for q in queries} == {PROOF}
    assert queries[1]["topic_name"] == {"zh": "居民身份信息核验", "en": "Identity details"}
    assert queries[1]["actor"]["id"] == ASKING and queries[1]["purpose"] == PURPOSE
    event = queries[1]["event_id"]
    receipt = client.get(f"{RECEIPTS}/{event}?download=1", headers=citizen).get_data(as_text=True)
    anchor = client.get("/api/v1/verifier/anchor").get_json()
    payload = jwt.decode(receipt, jwt.PyJWK(anchor), algorithms=[anchor["alg"]])
    assert (payload["jti"], payload["kind"], payload["topic"]) == (event, "proof_query", PROOF)
    assert payload["answered_by"] == "police" and citizen_id not in receipt

    # A low rating: the asking department sees it, and so does the operator's follow-up.
    rated = client.put(
        f"{RECEIPTS}/{event}/rating", json={"stars": 2, "comment": COMMENT}, headers=citizen
    )
    assert rated.status_code == 200, rated.get_json()
    own = client.get("/api/v1/ratings", headers=auth.department(ASKING)).get_json()["items"]
    assert [(r["stars"], r["comment"], r["topic"]) for r in own] == [(2, COMMENT, PROOF)]
    assert client.get("/api/v1/ratings", headers=auth.department("police")).get_json() == {
        "items": []
    }
    figures = client.get("/api/v1/admin/stats", headers=auth.operator()).get_json()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert figures["proof_queries"]["by_department"][ASKING][today] == 3
    assert figures["proof_queries"]["refused"][ASKING][today] == 2
    (low,) = figures["follow_up"]["low_ratings"]
    assert (low["event_id"], low["stars"], low["comment"]) == (event, 2, COMMENT)

    # The audit chain holds the three queries, intact.
    report = ecert.audit.verify()
    assert report.intact and report.entries == 3
