"""The HTTP endpoints of issue 3, end to end over the test client, on SQLite and Redis.

Departments issue and change status, citizens log in and use their wallet, venues
verify, and anyone fetches the public documents; every protected route is tried
with every kind of wrong credential.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api.errors import PROBLEM_MIMETYPE
from cli.seed import DemoLogins
from keys import VerifyingKey
from keys.b64 import b64url_decode
from sdjwt.qr_transport import decode_compact
from store.interface import ApiKeyKind, StoreUnavailable
from tests.api_helpers import (
    BASE_URL,
    ID_CARD,
    ID_CLAIMS,
    MARRIAGE,
    AuthActions,
    api_app,
    auth,
    bearer,
    client,
    demo,
    jwt_header,
    jwt_payload,
    path_of,
    services_of,
)
from tests.factory import DERIVED
from verifier import Verifier

# The fixtures of tests/api_helpers.py, used by name below.
__all__ = ["api_app", "auth", "client", "demo"]

# -- helpers ---------------------------------------------------------------------------


def problem(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """Assert a problem answer; its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIMETYPE
    body: dict[str, Any] = response.get_json()
    assert body["code"] == code and body["status"] == status
    return body


def issue(
    client: FlaskClient,
    auth: AuthActions,
    *,
    citizen: int = 0,
    claims: dict[str, Any] | None = None,
    issuer: str = "police",
    vct: str = ID_CARD,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """POST an issuance as the department ``issuer``."""
    return client.post(
        f"/api/v1/issuers/{issuer}/credentials",
        headers={**auth.department(issuer), **(headers or {})},
        json={"vct": vct, "citizen_id": auth.citizen_ids[citizen], "claims": claims or ID_CLAIMS},
    )


def wallet_ids(client: FlaskClient, headers: dict[str, str]) -> list[str]:
    """The wallet's cards, the derived attestations (issued alongside) left out."""
    response = client.get("/api/v1/wallet/credentials", headers=headers)
    assert response.status_code == 200
    return [item["id"] for item in response.get_json()["items"] if item["vct"] not in DERIVED]


def present(client: FlaskClient, headers: dict[str, str], cid: str, scene: str = "hotel") -> str:
    response = client.post(
        f"/api/v1/wallet/credentials/{cid}/presentations", headers=headers, json={"scene": scene}
    )
    assert response.status_code == 201, response.get_json()
    qr: str = response.get_json()["qr"]
    return qr


def verify(
    client: FlaskClient,
    auth: AuthActions,
    qr: str,
    scene: str = "hotel",
    venue: str = "grand-hotel",
) -> TestResponse:
    return client.post("/api/v1/verify", headers=auth.venue(venue), json={"qr": qr, "scene": scene})


def metric(client: FlaskClient, line_start: str) -> float:
    """The value of the first exposition line starting with ``line_start``."""
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# -- auth ------------------------------------------------------------------------------


def test_login_gives_a_bearer_session(client: FlaskClient, auth: AuthActions) -> None:
    citizen = auth.demo["citizens"][0]
    response = client.post("/api/v1/auth/login", json=dict(citizen))
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert response.headers["Cache-Control"] == "no-store"
    assert wallet_ids(client, bearer(body["access_token"]))


@pytest.mark.parametrize("which", ["wrong password", "unknown citizen"])
def test_a_failed_login_is_generic(client: FlaskClient, auth: AuthActions, which: str) -> None:
    citizen = dict(auth.demo["citizens"][0])
    if which == "wrong password":
        citizen["password"] = "not the password"
    else:
        citizen["citizen_id"] = "110101190001010006"
    body = problem(client.post("/api/v1/auth/login", json=citizen), 401, "login_failed")
    assert body["detail"] == "invalid citizen id or password"


def test_login_is_rate_limited_with_retry_after(client: FlaskClient, auth: AuthActions) -> None:
    citizen = {"citizen_id": auth.citizen_ids[0], "password": "not the password"}
    for _ in range(10):
        problem(client.post("/api/v1/auth/login", json=citizen), 401, "login_failed")
    response = client.post("/api/v1/auth/login", json=dict(auth.demo["citizens"][0]))
    problem(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1


def test_login_body_is_validated(client: FlaskClient, demo: DemoLogins) -> None:
    body = problem(
        client.post("/api/v1/auth/login", json={"citizen_id": "x"}), 400, "invalid_request"
    )
    assert [e["pointer"] for e in body["errors"]] == ["#/password"]


def test_logout_ends_the_session(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    problem(client.get("/api/v1/wallet/credentials", headers=headers), 401, "unauthorized")
    problem(client.post("/api/v1/auth/logout", headers=headers), 401, "unauthorized")


# -- issuing ---------------------------------------------------------------------------


def test_issuance_delivers_to_the_wallet_under_the_same_id(
    client: FlaskClient, auth: AuthActions
) -> None:
    before = metric(client, 'ecert_credentials_issued_total{issuer="police"}')
    response = issue(client, auth, citizen=1)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "vct", "status"} and body["vct"] == ID_CARD
    assert body["status"]["uri"] == f"{BASE_URL}/issuers/police/status/1"
    assert isinstance(body["status"]["idx"], int)
    assert body["id"] in wallet_ids(client, auth.citizen(1))
    assert body["id"] not in wallet_ids(client, auth.citizen(0))
    assert metric(client, 'ecert_credentials_issued_total{issuer="police"}') == before + 1


def test_issuance_to_an_unknown_citizen_is_404(client: FlaskClient, auth: AuthActions) -> None:
    response = client.post(
        "/api/v1/issuers/police/credentials",
        headers=auth.department(),
        json={"vct": ID_CARD, "citizen_id": "nobody", "claims": ID_CLAIMS},
    )
    problem(response, 404, "unknown_citizen")
    assert services_of_client(client).instance.store.get_wallet("nobody") is None


def test_a_type_outside_the_issuers_vcts_is_403(client: FlaskClient, auth: AuthActions) -> None:
    problem(issue(client, auth, vct=MARRIAGE), 403, "issuer_not_authorised")


def test_invalid_claims_name_the_field_never_the_value(
    client: FlaskClient, auth: AuthActions
) -> None:
    claims = {**ID_CLAIMS, "birth_date": "1988-02-30"}
    body = problem(issue(client, auth, claims=claims), 400, "claims_invalid")
    assert body["field"] == "birth_date" and "1988-02-30" not in str(body)
    claims = {k: v for k, v in ID_CLAIMS.items() if k != "name"}
    assert problem(issue(client, auth, claims=claims), 400, "claims_invalid")["field"] == "name"


def test_an_idempotent_retry_gets_the_first_answer(client: FlaskClient, auth: AuthActions) -> None:
    key = {"Idempotency-Key": "5f1c3a52-retry"}
    first = issue(client, auth, headers=key)
    second = issue(client, auth, headers=key)
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert wallet_ids(client, auth.citizen()).count(first.get_json()["id"]) == 1
    assert len(wallet_ids(client, auth.citizen())) == 2  # the demo's card and this one
    other = issue(client, auth, headers={"Idempotency-Key": "another"})
    assert other.get_json()["id"] != first.get_json()["id"]
    # The same key with another body is refused rather than answered with the first.
    reused = issue(client, auth, citizen=1, headers=key)
    problem(reused, 422, "idempotency_key_reused")


def test_a_retry_while_the_first_runs_is_409(
    api_app: Flask, client: FlaskClient, auth: AuthActions, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = services_of(api_app).instance.vault
    add = vault.add
    retries: list[TestResponse] = []

    def add_while_a_retry_arrives(*args: Any) -> Any:
        retries.append(issue(api_app.test_client(), auth, headers={"Idempotency-Key": "k1"}))
        return add(*args)

    monkeypatch.setattr(vault, "add", add_while_a_retry_arrives)
    first = issue(client, auth, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    problem(retries[0], 409, "conflict")
    monkeypatch.undo()
    assert issue(client, auth, headers={"Idempotency-Key": "k1"}).get_json() == first.get_json()


def test_a_failed_delivery_revokes_the_credential(
    api_app: Flask, client: FlaskClient, auth: AuthActions, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = services_of(api_app).instance
    citizen = auth.citizen_ids[1]

    def fail(*args: Any) -> Any:
        raise StoreUnavailable("the wallet store went away")

    monkeypatch.setattr(instance.vault, "add", fail)
    response = issue(client, auth, citizen=1, headers={"Idempotency-Key": "k2"})
    problem(response, 503, "store_unavailable")
    assert "Retry-After" in response.headers
    # The registry knows the citizen by pseudonym only.
    states = [r.state for r in instance.issuer.credentials_of(citizen) if r.vct not in DERIVED]
    assert sorted(states) == ["revoked", "valid"]  # the demo's card, and the withdrawn one
    monkeypatch.undo()
    # The failure was not kept: the retry runs again and succeeds.
    retry = issue(client, auth, citizen=1, headers={"Idempotency-Key": "k2"})
    assert retry.status_code == 201
    assert retry.get_json()["id"] in wallet_ids(client, auth.citizen(1))


def test_revoke_suspend_reinstate(client: FlaskClient, auth: AuthActions) -> None:
    cid = issue(client, auth).get_json()["id"]
    base = f"/api/v1/issuers/police/credentials/{cid}"
    dept = auth.department()
    for action, state in [("suspend", "suspended"), ("reinstate", "valid"), ("revoke", "revoked")]:
        response = client.post(f"{base}/{action}", headers=dept)
        assert response.status_code == 200
        assert response.get_json() == {"id": cid, "status": state}
    problem(client.post(f"{base}/reinstate", headers=dept), 409, "invalid_transition")
    problem(client.post(f"{base}/suspend", headers=dept), 409, "invalid_transition")
    # Revoking again is a no-op, not an error.
    assert client.post(f"{base}/revoke", headers=dept).get_json()["status"] == "revoked"


@pytest.mark.parametrize("action", ["revoke", "suspend", "reinstate"])
def test_another_issuers_credential_answers_like_a_missing_one(
    client: FlaskClient, auth: AuthActions, action: str
) -> None:
    cid = issue(client, auth).get_json()["id"]
    civil = auth.department("civil-affairs")
    foreign = client.post(
        f"/api/v1/issuers/civil-affairs/credentials/{cid}/{action}", headers=civil
    )
    missing = client.post(
        f"/api/v1/issuers/civil-affairs/credentials/no-such-id/{action}", headers=civil
    )
    assert problem(foreign, 404, "unknown_credential") == problem(
        missing, 404, "unknown_credential"
    )


# -- wallet ----------------------------------------------------------------------------


def test_the_wallet_lists_names_issuers_and_live_status(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    response = client.get("/api/v1/wallet/credentials", headers=headers)
    assert response.headers["Cache-Control"] == "no-store"
    (item,) = [i for i in response.get_json()["items"] if i["vct"] not in DERIVED]
    assert item["vct"] == ID_CARD and item["status"] == "valid"
    assert item["name"] == {"zh": "居民身份证", "en": "Resident ID card"}
    assert item["issuer"] == f"{BASE_URL}/issuers/police"
    assert isinstance(item["expires_at"], int)
    assert set(item) == {
        "id", "vct", "name", "issuer", "status", "expires_at", "valid_until", "long_term",
        "held_for",  # issue 12: null for the citizen's own card
    }
    assert item["held_for"] is None
    client.post(
        f"/api/v1/issuers/police/credentials/{item['id']}/suspend", headers=auth.department()
    )
    items = client.get("/api/v1/wallet/credentials", headers=headers).get_json()["items"]
    (item,) = [i for i in items if i["vct"] not in DERIVED]
    assert item["status"] == "suspended"


def test_one_credential_has_its_claims_and_sd_jwt(client: FlaskClient, auth: AuthActions) -> None:
    cid = issue(client, auth, citizen=1).get_json()["id"]
    response = client.get(f"/api/v1/wallet/credentials/{cid}", headers=auth.citizen(1))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["claims"] == ID_CLAIMS
    assert body["id"] == cid and body["status"] == "valid"
    jwt, *disclosures, last = body["credential"].split("~")
    assert last == "" and len(disclosures) >= 5
    assert jwt_payload(jwt)["vct"] == ID_CARD


def test_deleting_removes_from_the_wallet_only(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    (cid,) = wallet_ids(client, headers)
    assert client.delete(f"/api/v1/wallet/credentials/{cid}", headers=headers).status_code == 204
    assert wallet_ids(client, headers) == []
    problem(client.get(f"/api/v1/wallet/credentials/{cid}", headers=headers), 404, "not_found")
    problem(client.delete(f"/api/v1/wallet/credentials/{cid}", headers=headers), 404, "not_found")
    # The registry still knows it: the department can still revoke it.
    revoked = client.post(
        f"/api/v1/issuers/police/credentials/{cid}/revoke", headers=auth.department()
    )
    assert revoked.status_code == 200


def test_a_presentation_for_a_scene(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    (cid,) = wallet_ids(client, headers)
    url = f"/api/v1/wallet/credentials/{cid}/presentations"
    response = client.post(url, headers=headers, json={"scene": "hotel", "mode": "offline"})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "qr", "mode", "expires_at"} and body["mode"] == "offline"
    assert decode_compact(body["qr"]).count("~") == 3  # 2 disclosures
    problem(client.post(url, headers=headers, json={"scene": "moon_base"}), 404, "unknown_scene")
    problem(client.post(url, headers=headers, json={"scene": "school"}), 400, "scene_unmet")
    body = problem(
        client.post(url, headers=headers, json={"scene": "hotel", "mode": "carrier_pigeon"}),
        400,
        "invalid_request",
    )
    assert [e["pointer"] for e in body["errors"]] == ["#/mode"]
    missing = "/api/v1/wallet/credentials/no-such-id/presentations"
    problem(client.post(missing, headers=headers, json={"scene": "hotel"}), 404, "not_found")


def test_the_activity_shows_who_checked_what(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    (cid,) = wallet_ids(client, headers)
    assert client.get("/api/v1/wallet/activity", headers=headers).get_json() == {"items": []}
    qr = present(client, headers, cid)
    assert verify(client, auth, qr).get_json()["valid"]
    assert verify(client, auth, qr).get_json()["errors"][0]["code"] == "replayed"
    items = client.get("/api/v1/wallet/activity", headers=headers).get_json()["items"]
    assert len(items) == 2
    # Newest first; these two share a second, so their order is the store's tie-break.
    first, replayed = sorted(items, key=lambda item: not item["valid"])
    assert first["venue"] == {
        "id": "grand-hotel",
        "name": {"zh": "城市大酒店", "en": "Grand City Hotel"},
    }
    assert first["scene"] == "hotel" and first["vct"] == ID_CARD
    assert first["claims"] == ["name", "id_number"] and first["valid"] is True
    assert first["codes"] == []
    assert replayed["valid"] is False and replayed["codes"] == ["replayed"]
    assert replayed["at"] >= first["at"]
    other = client.get("/api/v1/wallet/activity", headers=auth.citizen(1)).get_json()
    assert other == {"items": []}


# -- verify ----------------------------------------------------------------------------


def test_issue_present_verify_revoke_verify_bundle(client: FlaskClient, auth: AuthActions) -> None:
    """The flow of issue 3: online verification, then the revoked answer offline too."""
    cid = issue(client, auth, citizen=1).get_json()["id"]
    headers = auth.citizen(1)
    valid_before = metric(client, 'ecert_verifications_total{code="none",result="valid"}')

    response = verify(client, auth, present(client, headers, cid))
    assert response.status_code == 200
    result = response.get_json()
    assert set(result) == {
        "valid",
        "vct",
        "iss",
        "scene",
        "status",
        "claims",
        "errors",
        "checked_at",
    }
    assert result["valid"] is True and result["status"] == "valid"
    assert result["claims"] == {"name": ID_CLAIMS["name"], "id_number": ID_CLAIMS["id_number"]}
    assert metric(client, 'ecert_verifications_total{code="none",result="valid"}') == (
        valid_before + 1
    )

    # Two QR codes made before the revocation, scanned after it (the wallet makes no
    # new one for a revoked credential: 409 credential_revoked, test_api_qr.py).
    qr, qr_offline = present(client, headers, cid), present(client, headers, cid)
    client.post(f"/api/v1/issuers/police/credentials/{cid}/revoke", headers=auth.department())
    result = verify(client, auth, qr).get_json()
    assert result["valid"] is False and result["claims"] == {}
    assert [e["code"] for e in result["errors"]] == ["revoked"]
    assert metric(client, 'ecert_verifications_total{code="revoked",result="invalid"}') == 1

    anchor = client.get("/api/v1/verifier/anchor").get_json()
    offline = Verifier(client.get("/api/v1/verifier/bundle").get_json(), anchor=anchor)
    assert offline.verify(qr_offline, "hotel").codes == ["revoked"]


def test_the_bank_scene_shows_what_the_bank_asks_for(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    (cid,) = wallet_ids(client, headers)
    result = verify(client, auth, present(client, headers, cid, "bank"), "bank", "city-bank")
    assert result.get_json()["valid"] is True
    assert "address" in result.get_json()["claims"]


def test_a_venue_verifies_only_its_scenes(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    (cid,) = wallet_ids(client, headers)
    qr = present(client, headers, cid, "bank")
    problem(verify(client, auth, qr, scene="bank", venue="grand-hotel"), 403, "forbidden")
    problem(verify(client, auth, qr, scene="moon_base"), 403, "forbidden")
    # Nothing was verified, so nothing was logged.
    assert client.get("/api/v1/wallet/activity", headers=headers).get_json() == {"items": []}


def test_garbage_is_a_result_not_an_error(client: FlaskClient, auth: AuthActions) -> None:
    result = verify(client, auth, "not a presentation").get_json()
    assert result["valid"] is False and result["errors"][0]["code"] == "malformed"


def test_the_qr_text_is_capped(client: FlaskClient, auth: AuthActions) -> None:
    body = problem(verify(client, auth, "x" * (16 * 1024 + 1)), 400, "invalid_request")
    assert [e["pointer"] for e in body["errors"]] == ["#/qr"]


# -- authorisation of every route ------------------------------------------------------

DEPARTMENT_ROUTES = [
    ("/api/v1/issuers/police/credentials", "issue"),
    ("/api/v1/issuers/police/credentials/{cid}/revoke", None),
    ("/api/v1/issuers/police/credentials/{cid}/suspend", None),
    ("/api/v1/issuers/police/credentials/{cid}/reinstate", None),
]
CITIZEN_ROUTES = [
    ("GET", "/api/v1/wallet/credentials", None),
    ("GET", "/api/v1/wallet/credentials/{cid}", None),
    ("DELETE", "/api/v1/wallet/credentials/{cid}", None),
    ("POST", "/api/v1/wallet/credentials/{cid}/presentations", {"scene": "hotel"}),
    ("GET", "/api/v1/wallet/activity", None),
    ("POST", "/api/v1/auth/logout", None),
]


def _revoked_key(api_app: Flask, principal: str) -> str:
    """A new key of ``principal``, revoked at once."""
    accounts = services_of(api_app).accounts
    kind: ApiKeyKind = "venue" if "/" not in principal else "department"
    record, secret = accounts.issue_api_key(kind, principal)
    accounts.revoke_api_key(record.key_id)
    return secret


def _wrong_credentials(
    api_app: Flask, auth: AuthActions, client: FlaskClient, kind: str
) -> dict[str, dict[str, str]]:
    """Headers that must all be refused with 401 on a route for ``kind``."""
    ended = auth.login(1)
    client.post("/api/v1/auth/logout", headers=bearer(ended))
    wrong = {
        "no key": {},
        "not bearer": {"Authorization": f"Basic {auth.department_key()}"},
        "malformed": {"Authorization": "Bearer not a token!"},
        "unknown key": bearer("ek_" + "A" * 43),
        "revoked department key": bearer(_revoked_key(api_app, f"{BASE_URL}/issuers/police")),
        "revoked venue key": bearer(_revoked_key(api_app, "grand-hotel")),
        "ended session": bearer(ended),
        "department key": auth.department(),
        "venue key": auth.venue(),
        "citizen token": auth.citizen(),
    }
    del wrong[f"{kind} key" if kind != "citizen" else "citizen token"]
    return wrong


@pytest.mark.parametrize(("route", "body_kind"), DEPARTMENT_ROUTES)
def test_department_routes_refuse_wrong_keys(
    api_app: Flask, client: FlaskClient, auth: AuthActions, route: str, body_kind: str | None
) -> None:
    cid = issue(client, auth).get_json()["id"]
    url = route.format(cid=cid)
    body = (
        {"vct": ID_CARD, "citizen_id": auth.citizen_ids[0], "claims": ID_CLAIMS}
        if body_kind
        else None
    )
    for name, headers in _wrong_credentials(api_app, auth, client, "department").items():
        response = client.post(url, headers=headers, json=body)
        problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
    # Another department's key: authenticated, but not for this issuer.
    problem(client.post(url, headers=auth.department("civil-affairs"), json=body), 403, "forbidden")
    # The credential was left alone by all of them.
    record = services_of(api_app).instance.store.get_credential(cid)
    assert record is not None and record.state == "valid"


@pytest.mark.parametrize(("method", "route", "body"), CITIZEN_ROUTES)
def test_citizen_routes_refuse_wrong_tokens(
    api_app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    method: str,
    route: str,
    body: dict[str, str] | None,
) -> None:
    (cid,) = wallet_ids(client, auth.citizen())
    url = route.format(cid=cid)
    for name, headers in _wrong_credentials(api_app, auth, client, "citizen").items():
        response = client.open(url, method=method, headers=headers, json=body)
        assert response.status_code == 401, name
        problem(response, 401, "unauthorized")
    assert wallet_ids(client, auth.citizen()) == [cid]


@pytest.mark.parametrize(
    ("method", "route", "body"), [r for r in CITIZEN_ROUTES if "{cid}" in r[1]]
)
def test_another_citizens_credential_is_404_like_a_missing_one(
    client: FlaskClient, auth: AuthActions, method: str, route: str, body: dict[str, str] | None
) -> None:
    (cid,) = wallet_ids(client, auth.citizen(0))
    intruder = auth.citizen(1)
    foreign = client.open(route.format(cid=cid), method=method, headers=intruder, json=body)
    missing = client.open(
        route.format(cid="no-such-id"), method=method, headers=intruder, json=body
    )
    assert problem(foreign, 404, "not_found") == problem(missing, 404, "not_found")
    assert wallet_ids(client, auth.citizen(0)) == [cid]


def test_the_venue_route_refuses_wrong_keys(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    body = {"qr": "not a presentation", "scene": "hotel"}
    for name, headers in _wrong_credentials(api_app, auth, client, "venue").items():
        response = client.post("/api/v1/verify", headers=headers, json=body)
        assert response.status_code == 401, name
        problem(response, 401, "unauthorized")
    assert client.post("/api/v1/verify", headers=auth.venue(), json=body).status_code == 200


def test_a_venue_whose_record_is_gone_is_403(
    api_app: Flask, client: FlaskClient, demo: DemoLogins
) -> None:
    _, secret = services_of(api_app).accounts.issue_api_key("venue", "closed-down-inn")
    response = client.post(
        "/api/v1/verify", headers=bearer(secret), json={"qr": "x", "scene": "hotel"}
    )
    problem(response, 403, "forbidden")


# -- public documents ------------------------------------------------------------------


def test_the_bundle_and_the_anchor_are_public_and_cacheable(
    client: FlaskClient, demo: DemoLogins
) -> None:
    response = client.get("/api/v1/verifier/bundle")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=60"
    bundle = response.get_json()
    assert set(bundle) == {"trust_list", "status_lists"} and len(bundle["status_lists"]) == 1
    anchor = client.get("/api/v1/verifier/anchor")
    assert anchor.status_code == 200 and anchor.headers["Cache-Control"].startswith("public")
    jwk = anchor.get_json()
    assert "d" not in jwk and jwk["kid"]
    verifier = Verifier(bundle, anchor=jwk)
    assert "hotel" in verifier.trust_list.scenes
    assert f"{BASE_URL}/issuers/police" in verifier.trust_list.issuers


def test_the_trust_list_is_a_signed_jwt(client: FlaskClient, demo: DemoLogins) -> None:
    response = client.get("/trust-list")
    assert response.status_code == 200
    assert response.mimetype == "application/trustlist+jwt"
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    payload = jwt_payload(response.get_data(as_text=True))
    assert payload["iss"] == BASE_URL and {s["id"] for s in payload["scenes"]} >= {"hotel"}


def test_the_status_list_is_served_at_its_uri_with_etag(
    client: FlaskClient, auth: AuthActions
) -> None:
    uri = issue(client, auth).get_json()["status"]["uri"]
    response = client.get(path_of(uri))
    assert response.status_code == 200
    assert response.mimetype == "application/statuslist+jwt"
    token = response.get_data(as_text=True)
    payload = jwt_payload(token)
    assert payload["sub"] == uri
    assert response.headers["Cache-Control"] == f"public, max-age={payload['ttl']}"
    etag = response.headers["ETag"]
    assert etag.startswith('"')
    again = client.get(path_of(uri), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    changed = client.get(path_of(uri), headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.get_data(as_text=True) == token


@pytest.mark.parametrize(
    "path", ["/issuers/police/status/2", "/issuers/nobody/status/1", "/issuers/police/status/x"]
)
def test_an_unknown_status_list_is_404(client: FlaskClient, demo: DemoLogins, path: str) -> None:
    problem(client.get(path), 404, "not_found")


def test_issuer_metadata_keys_verify_a_credential_issued_over_http(
    client: FlaskClient, auth: AuthActions
) -> None:
    cid = issue(client, auth, citizen=1).get_json()["id"]
    sd_jwt = client.get(f"/api/v1/wallet/credentials/{cid}", headers=auth.citizen(1)).get_json()[
        "credential"
    ]
    response = client.get("/.well-known/jwt-vc-issuer/issuers/police")
    assert response.status_code == 200
    metadata = response.get_json()
    assert metadata["issuer"] == f"{BASE_URL}/issuers/police"
    jwt = sd_jwt.split("~")[0]
    header = jwt_header(jwt)
    (jwk,) = [k for k in metadata["jwks"]["keys"] if k["kid"] == header["kid"]]
    assert "d" not in jwk
    signing_input, signature = jwt.rsplit(".", 1)
    VerifyingKey.from_jwk(jwk).verify(signing_input.encode("ascii"), b64url_decode(signature))
    assert jwt_payload(jwt)["iss"] == metadata["issuer"]
    problem(client.get("/.well-known/jwt-vc-issuer/issuers/nobody"), 404, "unknown_issuer")


def test_public_documents_need_no_key(client: FlaskClient, demo: DemoLogins) -> None:
    for path in (
        "/api/v1/verifier/bundle",
        "/api/v1/verifier/anchor",
        "/trust-list",
        "/issuers/police/status/1",
        "/.well-known/jwt-vc-issuer/issuers/police",
    ):
        assert client.get(path).status_code == 200, path


# -- the OpenAPI document --------------------------------------------------------------


def test_every_endpoint_is_documented(client: FlaskClient) -> None:
    from openapi_spec_validator import validate

    document = client.get("/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    expected = {
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/logout"),
        ("post", "/api/v1/issuers/{issuer}/credentials"),
        ("post", "/api/v1/issuers/{issuer}/credentials/{id}/revoke"),
        ("post", "/api/v1/issuers/{issuer}/credentials/{id}/suspend"),
        ("post", "/api/v1/issuers/{issuer}/credentials/{id}/reinstate"),
        ("get", "/api/v1/wallet/credentials"),
        ("get", "/api/v1/wallet/credentials/{id}"),
        ("delete", "/api/v1/wallet/credentials/{id}"),
        ("post", "/api/v1/wallet/credentials/{id}/presentations"),
        ("get", "/api/v1/wallet/activity"),
        ("post", "/api/v1/verify"),
        ("get", "/api/v1/verifier/bundle"),
        ("get", "/api/v1/verifier/anchor"),
        ("get", "/trust-list"),
        ("get", "/issuers/{issuer}/status/{n}"),
        ("get", "/.well-known/jwt-vc-issuer/issuers/{issuer}"),
    }
    documented = {(m, p) for p, item in paths.items() for m in item if m != "parameters"}
    assert expected <= documented
    issue_op = paths["/api/v1/issuers/{issuer}/credentials"]["post"]
    assert issue_op["security"] == [{"departmentKey": []}]
    assert {"201", "400", "401", "403", "404", "409"} <= set(issue_op["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in issue_op["parameters"])
    assert paths["/api/v1/verify"]["post"]["security"] == [{"venueKey": []}]
    wallet_op = paths["/api/v1/wallet/credentials/{id}"]["get"]
    assert wallet_op["security"] == [{"citizenToken": []}]
    assert "security" not in paths["/trust-list"]["get"]


def services_of_client(client: FlaskClient) -> Any:
    """The services of a test client's app."""
    return services_of(client.application)


def test_a_bundle_fetched_right_after_a_revocation_shows_it(tmp_path: Path) -> None:
    """The signed lists are cached, but a status change refreshes them at once."""
    from api import create_app
    from api.services import services
    from cli.seed import seed_demo
    from verifier import Verifier

    app = create_app(
        {"TESTING": True, "INSTANCE": str(tmp_path / "i"), "BASE_URL": "https://ecert.example"}
    )
    with app.app_context():
        built = services()
        logins = seed_demo(built.instance, built.accounts)
        citizen = logins["citizens"][0]["citizen_id"]
        cred = next(
            i.credential_id for i in built.instance.vault.items(citizen) if i.vct == ID_CARD
        )
    client = app.test_client()
    police = next(d for d in logins["departments"] if d["issuer"] == "police")["api_key"]
    anchor = client.get("/api/v1/verifier/anchor").get_json()
    before = client.get("/api/v1/verifier/bundle").get_json()
    with app.app_context():
        # shown before the revocation (none is made after it), checked after it
        scene = Verifier(before, anchor=anchor).trust_list.scenes["hotel"]
        shown = services().instance.vault.present(citizen, cred, scene)
    revoked = client.post(
        f"/api/v1/issuers/police/credentials/{cred}/revoke",
        headers={"Authorization": f"Bearer {police}"},
    )
    assert revoked.status_code == 200
    after = client.get("/api/v1/verifier/bundle").get_json()
    assert after["status_lists"] != before["status_lists"]
    assert Verifier(after, anchor=anchor).verify(shown.text, "hotel").codes == ["revoked"]
