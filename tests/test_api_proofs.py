"""Proof queries over HTTP on both stores (issue 11): the public proof types, a query
refused without consent (an unknown citizen answered the same), answered after the
citizen approves the department's request (the consents API), refused again after the
citizen withdraws it; the proof checked offline by
``Verifier.verify_proof`` from the published bundle, and refused for another audience,
when tampered with, expired, signed by an unknown key or by a department not authorised
for the proof type. Every query, answered or refused, is recorded for the citizen and
published as a use."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jwt.api_jws import PyJWS

from cli.seed import DemoLogins
from keys import SigningKey
from keys.proofjwt import TYP_PROOF
from sdjwt import LEEWAY
from service.instance import Ecert
from service.uses import Use
from service.verification import build_online_verifier
from tests.api_helpers import (
    AuthActions,
    api_app,
    auth,
    bearer,
    client,
    demo,
    jwt_payload,
    services_of,
)
from tests.hygiene import personal
from verifier import Verifier

__all__ = ["api_app", "auth", "client", "demo"]

QUERIES = "/api/v1/proofs/queries"
PURPOSE = personal("办理婚姻登记前的身份核验（测试）", "test_api_proofs purpose")
OTHER_PURPOSE = personal("另一用途（测试）", "test_api_proofs other purpose")
STRANGER = personal("110101200001010096", "test_api_proofs unknown citizen")
ASKING = "civil-affairs"  # asks the police's "identity" proof
PROOF = "identity"


def _until() -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()


def _ecert(api_app: Flask) -> Ecert:
    return services_of(api_app).instance


def _ask(
    client: FlaskClient, auth: AuthActions, citizen: str, *, purpose: str = PURPOSE, **more: Any
) -> Any:
    body = {"proof_type": PROOF, "citizen_id": citizen, "purpose": purpose, **more}
    return client.post(QUERIES, json=body, headers=auth.department(ASKING))


def _verifier(client: FlaskClient) -> Verifier:
    bundle = client.get("/api/v1/verifier/bundle").get_json()
    anchor = client.get("/api/v1/verifier/anchor").get_json()
    return Verifier(bundle, anchor=anchor)


def _approved(
    client: FlaskClient, auth: AuthActions, which: int = 0, proof: str = PROOF
) -> str:
    """The asking department requests consent and the citizen approves it, over HTTP
    (the consents API); the consent's id."""
    asked = client.post(
        "/api/v1/proofs/consent-requests",
        json={
            "citizen_id": auth.citizen_ids[which],
            "proof_type": proof,
            "purpose": PURPOSE,
            "until": _until(),
        },
        headers=auth.department(ASKING),
    )
    assert asked.status_code == 201, asked.get_json()
    consent_id: str = asked.get_json()["id"]
    approved = client.post(
        f"/api/v1/wallet/consents/{consent_id}/approve", headers=auth.citizen(which)
    )
    assert approved.status_code == 200, approved.get_json()
    return consent_id


def _listen(api_app: Flask) -> list[Use]:
    seen: list[Use] = []
    _ecert(api_app).uses.subscribe(seen.append)
    return seen


def _problem(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.get_json()
    return {k: v for k, v in body.items() if k not in ("instance", "request_id")}


# -- the proof types ---------------------------------------------------------------------


def test_the_proof_types_are_public(client: FlaskClient) -> None:
    response = client.get("/api/v1/proofs/types")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert len(items) >= 30
    assert {tuple(sorted(i)) for i in items} == {
        ("answered_by", "claims", "id", "inputs", "name", "valid_for")
    }
    parent = next(i for i in items if i["id"] == "kinship-parent-child")
    assert parent["answered_by"] == "health"
    assert [i["name"] for i in parent["inputs"]] == ["relative_id"]
    assert parent["claims"][0]["name"] == "found"
    assert set(parent["name"]) == {"zh", "en"}


# -- refused without consent, answered with it, refused after withdrawal ------------------


def test_no_consent_refuses_and_an_unknown_citizen_is_answered_the_same(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    seen = _listen(api_app)
    known, unknown = auth.citizen_ids[0], STRANGER
    first = _ask(client, auth, known)
    second = _ask(client, auth, unknown)
    assert first.status_code == second.status_code == 403
    assert first.get_json()["code"] == "consent_required"
    assert _problem(first) == _problem(second)
    assert first.headers.get("Content-Type") == second.headers.get("Content-Type")
    # the same write for both: one refused query under each one's pseudonym
    store, pseudonyms = _ecert(api_app).store, _ecert(api_app).pseudonyms
    for citizen in (known, unknown):
        (record,) = store.list_proof_queries(pseudonyms.of(citizen))
        assert (record.answered, record.codes, record.claims) == (
            False,
            ("consent_required",),
            (),
        )
        assert (record.department, record.proof_type, record.answered_by) == (
            ASKING,
            PROOF,
            "police",
        )
    # and both published as uses, refused
    assert [(u.kind, u.accepted, u.codes, u.actor_kind, u.actor, u.topic) for u in seen] == [
        ("proof_query", False, ("consent_required",), "department", ASKING, PROOF)
    ] * 2
    assert [u.subject for u in seen] == [pseudonyms.of(known), pseudonyms.of(unknown)]


def test_granted_after_approval_refused_after_withdrawal(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    citizen = auth.citizen_ids[0]
    seen = _listen(api_app)
    assert _ask(client, auth, citizen).status_code == 403
    consent_id = _approved(client, auth)

    response = _ask(client, auth, citizen)
    assert response.status_code == 200, response.get_json()
    token = personal(response.get_json()["proof"], "a proof JWT")
    ecert = _ecert(api_app)
    result = _verifier(client).verify_proof(token, audience=ecert.platform.issuer_url(ASKING))
    assert result.valid, result.errors
    assert result.iss == ecert.platform.issuer_url("police")
    assert result.sub == citizen and result.proof_type == PROOF and result.purpose == PURPOSE
    assert result.claims["found"] is True
    assert set(result.claims) == {"found", "name", "sex", "birth_date", "valid_until"}
    assert result.exp == result.iat + 600  # type: ignore[operator]

    # another purpose is another consent
    assert _ask(client, auth, citizen, purpose=OTHER_PURPOSE).status_code == 403
    # the purpose is compared after NFC and trimming
    assert _ask(client, auth, citizen, purpose=f"  {PURPOSE}\n").status_code == 200

    withdrawn = client.delete(f"/api/v1/wallet/consents/{consent_id}", headers=auth.citizen())
    assert withdrawn.status_code in (200, 204), withdrawn.get_json()
    refused = _ask(client, auth, citizen)
    assert refused.status_code == 403 and refused.get_json()["code"] == "consent_required"

    assert [(u.accepted, u.codes) for u in seen] == [
        (False, ("consent_required",)),
        (True, ()),
        (False, ("consent_required",)),
        (True, ()),
        (False, ("consent_required",)),
    ]
    answered = seen[1]
    assert answered.fields == ("found", "name", "sex", "birth_date", "valid_until")
    assert answered.answered_by == "police" and answered.purpose == PURPOSE
    # the citizen's record, newest first, as uses for the receipts
    uses = ecert.proofs.uses_of(citizen)
    assert [u.event_id for u in uses] == [u.event_id for u in reversed(seen)]
    assert uses[3] == answered


def test_the_proof_is_refused_for_another_audience_and_when_tampered_or_expired(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    citizen = auth.citizen_ids[0]
    _approved(client, auth)
    token = _ask(client, auth, citizen).get_json()["proof"]
    ecert = _ecert(api_app)
    asking = ecert.platform.issuer_url(ASKING)
    verifier = _verifier(client)

    def codes(proof: str, audience: str = asking, **kw: Any) -> list[str]:
        return verifier.verify_proof(proof, audience=audience, **kw).codes

    assert codes(token) == []
    assert codes(token, ecert.platform.issuer_url("health")) == ["wrong_audience"]
    # tampered: the answer changed, the signature kept
    h, _, s = token.split(".")
    payload = jwt_payload(token)
    payload["claims"]["name"] = "someone else"
    forged = f"{h}.{_b64(json.dumps(payload).encode())}.{s}"
    assert codes(forged) == ["invalid_signature"]
    # expired: past exp and the leeway
    assert codes(token, now=payload["exp"] + LEEWAY + 1) == ["expired"]
    # an unknown key: the same payload signed by a key the trust list does not publish
    stranger = SigningKey.generate()
    assert codes(_sign(stranger, jwt_payload(token))) == ["unknown_key"]
    same_kid = _sign(stranger, jwt_payload(token), kid=jwt_header_kid(token))
    assert codes(same_kid) == ["invalid_signature"]
    # a department not authorised for the proof type: the police's own key, a proof that
    # only health answers
    police_key = ecert.keyring.signing_key(ecert.platform.issuer_url("police"))
    death = {**jwt_payload(token), "proof_type": "death", "claims": {"found": True}}
    assert codes(_sign(police_key, death)) == ["issuer_not_authorised"]


def test_no_record_is_answered_found_false(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    citizen = auth.citizen_ids[0]
    _approved(client, auth, proof="no-criminal-record")
    response = client.post(
        QUERIES,
        json={"proof_type": "no-criminal-record", "citizen_id": citizen, "purpose": PURPOSE},
        headers=auth.department(ASKING),
    )
    assert response.status_code == 200
    assert jwt_payload(response.get_json()["proof"])["claims"] == {"found": False}


def test_a_revoked_credential_is_no_record(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    citizen = auth.citizen_ids[0]
    _approved(client, auth)
    ecert = _ecert(api_app)
    police = ecert.platform.issuer_url("police")
    for item in ecert.vault.items(citizen):
        ecert.issuer.revoke(police, item.credential_id)
    token = _ask(client, auth, citizen).get_json()["proof"]
    assert jwt_payload(token)["claims"] == {"found": False}


def test_a_kinship_query_matches_the_relatives_id(
    api_app: Flask, client: FlaskClient, auth: AuthActions, demo: DemoLogins
) -> None:
    child, parent = auth.citizen_ids
    ecert = _ecert(api_app)
    claims = personal_birth(child, parent)
    issued = ecert.issuer.issue(
        ecert.platform.issuer_url("health"),
        "urn:ecert:birth-medical-certificate",
        subject=child,
        claims=claims,
        holder_jwk=ecert.vault.holder_jwk(child),
    )
    ecert.vault.add(child, issued.id, issued.sd_jwt)
    _approved(client, auth, proof="kinship-parent-child")

    def ask(inputs: Any) -> Any:
        body = {
            "proof_type": "kinship-parent-child",
            "citizen_id": child,
            "purpose": PURPOSE,
            "inputs": inputs,
        }
        return client.post(QUERIES, json=body, headers=auth.department(ASKING))

    answered = ask({"relative_id": parent})
    assert answered.status_code == 200
    assert jwt_payload(answered.get_json()["proof"])["claims"] == {
        "found": True,
        "relationship": "mother",
        "birth_date": claims["birth_date"],
    }
    stranger = ask({"relative_id": STRANGER})
    assert jwt_payload(stranger.get_json()["proof"])["claims"] == {"found": False}
    missing = ask(None)
    assert missing.status_code == 422 and missing.get_json()["code"] == "proof_inputs_invalid"
    assert parent not in missing.get_data(as_text=True)
    bad = ask({"relative_id": "not-an-id"})
    assert bad.status_code == 422 and "not-an-id" not in bad.get_data(as_text=True)
    # the refusals are the citizen's to see too, with their code
    records = ecert.store.list_proof_queries(ecert.pseudonyms.of(child))
    assert [(r.answered, r.codes) for r in records] == [
        (False, ("proof_inputs_invalid",)),
        (False, ("proof_inputs_invalid",)),
        (True, ()),
        (True, ()),
    ]


# -- the request's bounds and the caller ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"proof_type": "no-such-proof"}, 404, "unknown_proof_type"),
        ({"purpose": "   "}, 422, "proof_query_invalid"),
        ({"purpose": "p" * 201}, 422, "proof_query_invalid"),
        ({"purpose": "a\x00b"}, 422, "proof_query_invalid"),
        ({"purpose": "p" * 801}, 400, "invalid_request"),
        ({"citizen_id": "1" * 65}, 400, "invalid_request"),
        ({"extra": 1}, 400, "invalid_request"),
        ({"inputs": {f"k{i}": "v" for i in range(9)}}, 400, "invalid_request"),
        ({"inputs": ["relative_id"]}, 400, "invalid_request"),
    ],
)
def test_a_malformed_query_is_refused_before_anything_is_written(
    api_app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    citizen = auth.citizen_ids[0]
    seen = _listen(api_app)
    full = {"proof_type": PROOF, "citizen_id": citizen, "purpose": PURPOSE, **body}
    response = client.post(QUERIES, json=full, headers=auth.department(ASKING))
    assert response.status_code == status, response.get_json()
    assert response.get_json()["code"] == code
    ecert = _ecert(api_app)
    assert ecert.store.list_proof_queries(ecert.pseudonyms.of(citizen)) == []
    assert seen == []


def test_only_a_department_key_may_query(client: FlaskClient, auth: AuthActions) -> None:
    body = {"proof_type": PROOF, "citizen_id": auth.citizen_ids[0], "purpose": PURPOSE}
    assert client.post(QUERIES, json=body).status_code == 401
    assert client.post(QUERIES, json=body, headers=auth.venue()).status_code == 401
    assert client.post(QUERIES, json=body, headers=auth.citizen()).status_code == 401
    assert client.post(QUERIES, json=body, headers=bearer("nope")).status_code == 401


def test_a_consent_names_a_catalogued_proof_type(api_app: Flask, auth: AuthActions) -> None:
    from service.errors import ConsentInvalid

    with pytest.raises(ConsentInvalid):
        _ecert(api_app).consents.grant(
            auth.citizen_ids[0], ASKING, "no-such-proof", PURPOSE, _until()
        )


# -- helpers ------------------------------------------------------------------------------


def personal_birth(child: str, mother: str) -> dict[str, Any]:
    from tests.hygiene import personal_claims

    return personal_claims(
        {
            "name": "张小明",
            "sex": "男",
            "birth_date": "1990-03-07",
            "birth_time": "08:30",
            "birth_place": "北京市东城区",
            "gestational_weeks": 39,
            "birth_weight_grams": 3300,
            "birth_length_cm": 50,
            "mother_name": "李四",
            "mother_nationality": "中国",
            "mother_ethnicity": "汉",
            "mother_id_number": mother,
            "father_name": "张三",
            "father_nationality": "中国",
            "father_ethnicity": "汉",
            "father_id_number": "110101196001010011",
            "medical_institution": "北京市东城区妇幼保健院",
            "certificate_number": "N110000001",
            "issue_date": "1990-03-10",
        },
        "test_api_proofs birth certificate",
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_header_kid(token: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    kid: str = header["kid"]
    return kid


def _sign(key: SigningKey, payload: dict[str, Any], *, kid: str | None = None) -> str:
    headers = {"typ": TYP_PROOF, "kid": kid or key.kid}
    return PyJWS().encode(json.dumps(payload).encode(), key.key, algorithm=key.alg, headers=headers)


def test_the_online_verifier_checks_a_proof_with_the_live_trust_list(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    citizen = auth.citizen_ids[0]
    _approved(client, auth)
    token = _ask(client, auth, citizen).get_json()["proof"]
    ecert = _ecert(api_app)
    live = build_online_verifier(ecert.store, ecert.platform, time.time)
    assert "identity" in live.trust_list.issuers[ecert.platform.issuer_url("police")].proof_types
    result = live.verify_proof(token, audience=ecert.platform.issuer_url(ASKING))
    assert result.valid, result.errors
    assert live.verify_proof(token, audience="someone").codes == ["wrong_audience"]
