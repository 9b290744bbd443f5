"""OpenID4VCI 1.0 issuance (service/oid4vci.py, api/oid4vci_api.py) over the Flask app.

The wallet here is built from raw parts: its P-256 key is made with ``cryptography``
and its key proofs are JSON and signatures assembled in this file (not with
:mod:`wallet.device_proof` or the project's signing keys), so that a proof the service
accepts is one the spec's text describes, and an attack is the bytes it sends. Each
refusal is checked by its wire ``error`` (the spec's) and ecert's own ``code``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.parse
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api_helpers import (
    BASE_URL,
    ID_CARD,
    ID_CLAIMS,
    AuthActions,
    api_app,
    auth,
    client,
    demo,
    services_of,
)

# The fixtures of tests/api_helpers.py, used by name below.
__all__ = ["api_app", "auth", "client", "demo"]

PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
FORM = "application/x-www-form-urlencoded"


# -- a wallet made of raw parts ----------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RawWallet:
    """A holder key and key proofs as OpenID4VCI 1.0 Appendix F.1 writes them."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64(numbers.x.to_bytes(32, "big")),
            "y": b64(numbers.y.to_bytes(32, "big")),
        }

    def proof(
        self,
        nonce: str | None,
        *,
        aud: str = BASE_URL,
        iat: int | None = None,
        header: dict[str, Any] | None = None,
    ) -> str:
        head = header or {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": self.jwk}
        payload: dict[str, Any] = {"aud": aud, "iat": int(time.time()) if iat is None else iat}
        if nonce is not None:
            payload["nonce"] = nonce
        signing_input = (
            b64(json.dumps(head).encode()) + "." + b64(json.dumps(payload).encode())
        ).encode("ascii")
        r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return signing_input.decode() + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def ed25519_proof(nonce: str) -> str:
    """A key proof with another key type (Ed25519, EdDSA): not what the metadata says."""
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    head = {
        "typ": "openid4vci-proof+jwt",
        "alg": "EdDSA",
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)},
    }
    payload = {"aud": BASE_URL, "iat": int(time.time()), "nonce": nonce}
    signing_input = b64(json.dumps(head).encode()) + "." + b64(json.dumps(payload).encode())
    return signing_input + "." + b64(key.sign(signing_input.encode()))


# -- helpers -----------------------------------------------------------------------------


def make_offer(client: FlaskClient, auth: AuthActions, citizen: int = 0) -> dict[str, Any]:
    response = client.post(
        "/api/v1/issuers/police/offers",
        headers=auth.department("police"),
        json={"citizen_id": auth.citizen_ids[citizen], "vct": ID_CARD, "claims": ID_CLAIMS},
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def offer_object(offer_uri: str) -> dict[str, Any]:
    assert offer_uri.startswith("openid-credential-offer://?credential_offer=")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(offer_uri).query)
    value: dict[str, Any] = json.loads(query["credential_offer"][0])
    return value


def code_of(made: dict[str, Any]) -> str:
    code: str = offer_object(made["offer_uri"])["grants"][PRE_AUTH]["pre-authorized_code"]
    return code


def token(client: FlaskClient, code: str, tx_code: str | None, **extra: str) -> TestResponse:
    form = {"grant_type": PRE_AUTH, "pre-authorized_code": code, **extra}
    if tx_code is not None:
        form["tx_code"] = tx_code
    return client.post("/api/v1/oid4vci/token", data=form, content_type=FORM)


def access_token(client: FlaskClient, made: dict[str, Any]) -> str:
    response = token(client, code_of(made), made["tx_code"])
    assert response.status_code == 200, response.get_json()
    value: str = response.get_json()["access_token"]
    return value


def c_nonce(client: FlaskClient) -> str:
    response = client.post("/api/v1/oid4vci/nonce")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    value: str = response.get_json()["c_nonce"]
    return value


def credential(
    client: FlaskClient, access: str | None, body: dict[str, Any] | None
) -> TestResponse:
    headers = {"Authorization": f"Bearer {access}"} if access else {}
    return client.post("/api/v1/oid4vci/credential", headers=headers, json=body)


def request_body(proof: str, config: str = "resident-id-card") -> dict[str, Any]:
    return {"credential_configuration_id": config, "proofs": {"jwt": [proof]}}


def oauth_error(response: TestResponse, status: int, error: str, code: str) -> dict[str, Any]:
    """An RFC 6749 / OpenID4VCI error answer (not a problem): its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert "no-store" in response.headers["Cache-Control"]
    body: dict[str, Any] = response.get_json()
    assert body["error"] == error and body["code"] == code, body
    description = body["error_description"]
    assert all(
        c in "\x20\x21" or "\x23" <= c <= "\x5b" or "\x5d" <= c <= "\x7e" for c in description
    )
    return body


def payload_of(sd_jwt: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(unb64(sd_jwt.split("~")[0].split(".")[1]))
    return value


# -- metadata ----------------------------------------------------------------------------


def test_credential_issuer_metadata_lists_every_catalogue_type(
    client: FlaskClient, api_app: Flask
) -> None:
    response = client.get("/.well-known/openid-credential-issuer")
    assert response.status_code == 200 and response.mimetype == "application/json"
    meta = response.get_json()
    assert meta["credential_issuer"] == BASE_URL
    assert meta["credential_endpoint"] == BASE_URL + "/api/v1/oid4vci/credential"
    assert meta["nonce_endpoint"] == BASE_URL + "/api/v1/oid4vci/nonce"
    assert "authorization_servers" not in meta  # the issuer is its own AS (§12.2.4)
    configs = meta["credential_configurations_supported"]
    catalogue = services_of(api_app).oid4vci.catalogue
    assert sorted(c["vct"] for c in configs.values()) == sorted(t.vct for t in catalogue)
    card = configs["resident-id-card"]
    assert card["format"] == "dc+sd-jwt" and card["vct"] == ID_CARD
    assert card["cryptographic_binding_methods_supported"] == ["jwk"]
    assert card["credential_signing_alg_values_supported"] == ["ES256"]
    assert card["proof_types_supported"] == {
        "jwt": {"proof_signing_alg_values_supported": ["ES256"]}
    }
    display = {d["locale"]: d["name"] for d in card["credential_metadata"]["display"]}
    assert display == {"zh-CN": "居民身份证", "en": "Resident ID card"}
    claims = {tuple(c["path"]): c for c in card["credential_metadata"]["claims"]}
    name = claims[("name",)]
    assert name["mandatory"] is True
    assert {d["locale"]: d["name"] for d in name["display"]} == {"zh-CN": "姓名", "en": "Name"}
    assert claims[("valid_until",)]["mandatory"] is False


def test_authorization_server_metadata(client: FlaskClient) -> None:
    meta = client.get("/.well-known/oauth-authorization-server").get_json()
    assert meta["issuer"] == BASE_URL
    assert meta["token_endpoint"] == BASE_URL + "/api/v1/oid4vci/token"
    assert meta["grant_types_supported"] == [PRE_AUTH]
    assert meta["pre-authorized_grant_anonymous_access_supported"] is True


# -- offers ------------------------------------------------------------------------------


def test_an_offer_is_a_link_a_qr_and_a_code_given_apart(
    client: FlaskClient, auth: AuthActions
) -> None:
    from verifier.qrimage import decode_qr

    made = make_offer(client, auth)
    assert set(made) == {"id", "offer_uri", "qr", "tx_code", "expires_in"}
    assert made["tx_code"].isdigit() and len(made["tx_code"]) == 6
    assert made["tx_code"] not in made["offer_uri"]
    offer = offer_object(made["offer_uri"])
    assert offer["credential_issuer"] == BASE_URL
    assert offer["credential_configuration_ids"] == ["resident-id-card"]
    grant = offer["grants"][PRE_AUTH]
    assert grant["tx_code"]["input_mode"] == "numeric" and grant["tx_code"]["length"] == 6
    assert len(grant["tx_code"]["description"]) <= 300
    assert made["tx_code"] not in json.dumps(offer)
    assert made["qr"].startswith("data:image/png;base64,")
    assert decode_qr(base64.b64decode(made["qr"].split(",", 1)[1])) == made["offer_uri"]
    assert 0 < made["expires_in"] <= 600


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"vct": "urn:ecert:marriage-certificate"}, 403, "issuer_not_authorised"),
        ({"citizen_id": "110101199001011234"}, 404, "unknown_citizen"),
        ({"claims": {**ID_CLAIMS, "birth_date": "not a date"}}, 400, "claims_invalid"),
    ],
)
def test_an_offer_is_checked_as_an_issuance(
    client: FlaskClient, auth: AuthActions, change: dict[str, Any], status: int, code: str
) -> None:
    body = {"citizen_id": auth.citizen_ids[0], "vct": ID_CARD, "claims": ID_CLAIMS, **change}
    response = client.post(
        "/api/v1/issuers/police/offers", headers=auth.department("police"), json=body
    )
    assert response.status_code == status, response.get_json()
    assert response.get_json()["code"] == code


def test_an_offer_needs_the_departments_own_key(client: FlaskClient, auth: AuthActions) -> None:
    body = {"citizen_id": auth.citizen_ids[0], "vct": ID_CARD, "claims": ID_CLAIMS}
    assert client.post("/api/v1/issuers/police/offers", json=body).status_code == 401
    other = client.post(
        "/api/v1/issuers/police/offers", headers=auth.department("civil-affairs"), json=body
    )
    assert other.status_code == 403


# -- the whole flow ----------------------------------------------------------------------


def test_the_pre_authorized_flow_issues_a_credential_bound_to_the_proven_key(
    client: FlaskClient, auth: AuthActions
) -> None:
    made = make_offer(client, auth)
    state = client.get(f"/api/v1/issuers/police/offers/{made['id']}", headers=auth.department())
    assert state.get_json()["state"] == "offered"
    answer = token(client, code_of(made), made["tx_code"])
    assert answer.status_code == 200 and "no-store" in answer.headers["Cache-Control"]
    body = answer.get_json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 300
    wallet = RawWallet()
    issued = credential(client, body["access_token"], request_body(wallet.proof(c_nonce(client))))
    assert issued.status_code == 200, issued.get_json()
    assert "no-store" in issued.headers["Cache-Control"]
    (entry,) = issued.get_json()["credentials"]
    sd_jwt = entry["credential"]
    payload = payload_of(sd_jwt)
    assert payload["cnf"]["jwk"] == wallet.jwk
    assert payload["iss"] == BASE_URL + "/issuers/police" and payload["vct"] == ID_CARD
    disclosed = {json.loads(unb64(d))[1]: json.loads(unb64(d))[2] for d in sd_jwt.split("~")[1:-1]}
    assert disclosed["name"] == ID_CLAIMS["name"]
    # the department sees it issued, and can revoke it like any other credential
    state = client.get(f"/api/v1/issuers/police/offers/{made['id']}", headers=auth.department())
    assert state.get_json()["state"] == "issued"
    cid = state.get_json()["credential_id"]
    revoked = client.post(
        f"/api/v1/issuers/police/credentials/{cid}/revoke", headers=auth.department()
    )
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    # another department does not see the offer
    other = client.get(
        f"/api/v1/issuers/civil-affairs/offers/{made['id']}",
        headers=auth.department("civil-affairs"),
    )
    assert other.status_code == 404 and other.get_json()["code"] == "offer_not_found"


# -- the token endpoint's refusals -------------------------------------------------------


def test_a_wrong_tx_code_is_invalid_grant_and_the_offer_burns_after_five(
    client: FlaskClient, auth: AuthActions
) -> None:
    made = make_offer(client, auth)
    code = code_of(made)
    wrong = f"{(int(made['tx_code']) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        body = oauth_error(
            token(client, code, wrong), 400, "invalid_grant", "oid4vci_tx_code_wrong"
        )
        assert f"{left} tries left" in body["error_description"]
    oauth_error(token(client, code, wrong), 400, "invalid_grant", "oid4vci_offer_burnt")
    # burnt: the right code no longer works either
    oauth_error(token(client, code, made["tx_code"]), 400, "invalid_grant", "oid4vci_offer_burnt")
    state = client.get(f"/api/v1/issuers/police/offers/{made['id']}", headers=auth.department())
    assert state.get_json()["state"] == "burnt"


def test_a_pre_authorized_code_is_single_use(client: FlaskClient, auth: AuthActions) -> None:
    made = make_offer(client, auth)
    assert token(client, code_of(made), made["tx_code"]).status_code == 200
    oauth_error(
        token(client, code_of(made), made["tx_code"]), 400, "invalid_grant", "oid4vci_offer_used"
    )


def test_an_expired_offer_is_refused(
    client: FlaskClient, auth: AuthActions, api_app: Flask
) -> None:
    made = make_offer(client, auth)
    service = services_of(api_app).oid4vci
    service.clock = lambda: time.time() + 601
    oauth_error(
        token(client, code_of(made), made["tx_code"]), 400, "invalid_grant", "oid4vci_offer_expired"
    )


@pytest.mark.parametrize(
    ("form", "error", "code"),
    [
        ({"grant_type": PRE_AUTH}, "invalid_request", "oid4vci_request_invalid"),
        ({"pre-authorized_code": "x"}, "invalid_request", "oid4vci_request_invalid"),
        (
            {"grant_type": "authorization_code", "code": "x"},
            "unsupported_grant_type",
            "oid4vci_grant_unsupported",
        ),
        (
            {"grant_type": PRE_AUTH, "pre-authorized_code": "nope", "tx_code": "123456"},
            "invalid_grant",
            "oid4vci_grant_invalid",
        ),
    ],
)
def test_malformed_token_requests(
    client: FlaskClient, form: dict[str, str], error: str, code: str
) -> None:
    response = client.post("/api/v1/oid4vci/token", data=form, content_type=FORM)
    oauth_error(response, 400, error, code)


def test_a_missing_tx_code_is_invalid_request(client: FlaskClient, auth: AuthActions) -> None:
    made = make_offer(client, auth)
    oauth_error(
        token(client, code_of(made), None), 400, "invalid_request", "oid4vci_tx_code_missing"
    )
    # no try was spent: the right code still works
    assert token(client, code_of(made), made["tx_code"]).status_code == 200


def test_a_token_request_is_form_encoded_with_no_repeated_parameter(
    client: FlaskClient, auth: AuthActions
) -> None:
    made = make_offer(client, auth)
    as_json = client.post(
        "/api/v1/oid4vci/token",
        json={
            "grant_type": PRE_AUTH,
            "pre-authorized_code": code_of(made),
            "tx_code": made["tx_code"],
        },
    )
    oauth_error(as_json, 400, "invalid_request", "oid4vci_request_invalid")
    raw = urllib.parse.urlencode(
        [
            ("grant_type", PRE_AUTH),
            ("pre-authorized_code", code_of(made)),
            ("tx_code", "1"),
            ("tx_code", made["tx_code"]),
        ]
    )
    repeated = client.post("/api/v1/oid4vci/token", data=raw, content_type=FORM)
    oauth_error(repeated, 400, "invalid_request", "oid4vci_request_invalid")


# -- the credential endpoint's refusals --------------------------------------------------


def test_no_or_an_unknown_access_token_is_401_invalid_token(client: FlaskClient) -> None:
    wallet = RawWallet()
    for access in (None, "not-a-token"):
        response = credential(client, access, request_body(wallet.proof(c_nonce(client))))
        oauth_error(response, 401, "invalid_token", "oid4vci_token_invalid")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def access(client: FlaskClient, auth: AuthActions) -> str:
    return access_token(client, make_offer(client, auth))


def test_a_proof_with_a_nonce_not_ours_is_invalid_nonce(client: FlaskClient, access: str) -> None:
    wallet = RawWallet()
    response = credential(client, access, request_body(wallet.proof(b64(b"\x01" * 32))))
    oauth_error(response, 400, "invalid_nonce", "oid4vci_nonce_invalid")


def test_a_nonce_is_spent_by_its_first_proof(
    client: FlaskClient, auth: AuthActions, access: str
) -> None:
    wallet = RawWallet()
    nonce = c_nonce(client)
    assert credential(client, access, request_body(wallet.proof(nonce))).status_code == 200
    other = access_token(client, make_offer(client, auth))
    response = credential(client, other, request_body(wallet.proof(nonce)))
    oauth_error(response, 400, "invalid_nonce", "oid4vci_nonce_invalid")


def test_a_proof_without_a_nonce_is_invalid_proof(client: FlaskClient, access: str) -> None:
    response = credential(client, access, request_body(RawWallet().proof(None)))
    oauth_error(response, 400, "invalid_proof", "oid4vci_proof_invalid")


def test_a_proof_for_another_audience_is_invalid_proof(client: FlaskClient, access: str) -> None:
    proof = RawWallet().proof(c_nonce(client), aud=BASE_URL + "/issuers/police")
    body = oauth_error(
        credential(client, access, request_body(proof)),
        400,
        "invalid_proof",
        "oid4vci_proof_invalid",
    )
    assert body["cause"] == "device_proof_audience"


def test_a_proof_with_another_key_type_is_invalid_proof(client: FlaskClient, access: str) -> None:
    response = credential(client, access, request_body(ed25519_proof(c_nonce(client))))
    oauth_error(response, 400, "invalid_proof", "oid4vci_proof_invalid")


def test_a_proof_signed_by_another_key_is_invalid_proof(client: FlaskClient, access: str) -> None:
    wallet, thief = RawWallet(), RawWallet()
    header = {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": wallet.jwk}
    proof = thief.proof(c_nonce(client), header=header)
    body = oauth_error(
        credential(client, access, request_body(proof)),
        400,
        "invalid_proof",
        "oid4vci_proof_invalid",
    )
    assert body["cause"] == "device_proof_signature"


def test_a_stale_proof_is_invalid_proof(client: FlaskClient, access: str) -> None:
    proof = RawWallet().proof(c_nonce(client), iat=int(time.time()) - 3600)
    body = oauth_error(
        credential(client, access, request_body(proof)),
        400,
        "invalid_proof",
        "oid4vci_proof_invalid",
    )
    assert body["cause"] == "device_proof_stale"


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        (
            {"proofs": {"jwt": ["x"]}},
            "invalid_credential_request",
            "oid4vci_credential_request_invalid",
        ),
        (
            {"credential_configuration_id": "driving-licence", "proofs": {"jwt": ["x"]}},
            "unknown_credential_configuration",
            "oid4vci_configuration_unknown",
        ),
        (
            {"credential_configuration_id": "nothing", "proofs": {"jwt": ["x"]}},
            "unknown_credential_configuration",
            "oid4vci_configuration_unknown",
        ),
        (
            {"credential_identifier": "x", "proofs": {"jwt": ["x"]}},
            "invalid_credential_request",
            "oid4vci_credential_request_invalid",
        ),
        (
            {"credential_configuration_id": "resident-id-card"},
            "invalid_proof",
            "oid4vci_proof_invalid",
        ),
        (
            {
                "credential_configuration_id": "resident-id-card",
                "proof": {"proof_type": "jwt", "jwt": "x"},
            },
            "invalid_credential_request",
            "oid4vci_credential_request_invalid",
        ),
        (
            {"credential_configuration_id": "resident-id-card", "proofs": {"jwt": ["x", "y"]}},
            "invalid_credential_request",
            "oid4vci_credential_request_invalid",
        ),
        (
            {"credential_configuration_id": "resident-id-card", "proofs": {"jwt": []}},
            "invalid_credential_request",
            "oid4vci_credential_request_invalid",
        ),
        (
            {"credential_configuration_id": "resident-id-card", "proofs": {"ldp_vp": [{}]}},
            "invalid_proof",
            "oid4vci_proof_invalid",
        ),
        (
            {"credential_configuration_id": "resident-id-card", "proofs": {"jwt": ["a.b.c"]}},
            "invalid_proof",
            "oid4vci_proof_invalid",
        ),
    ],
)
def test_malformed_credential_requests(
    client: FlaskClient, access: str, body: dict[str, Any], error: str, code: str
) -> None:
    oauth_error(credential(client, access, body), 400, error, code)


def test_an_access_token_gives_one_credential(client: FlaskClient, access: str) -> None:
    wallet = RawWallet()
    assert (
        credential(client, access, request_body(wallet.proof(c_nonce(client)))).status_code == 200
    )
    again = credential(client, access, request_body(wallet.proof(c_nonce(client))))
    oauth_error(again, 400, "credential_request_denied", "oid4vci_credential_denied")


def test_an_access_token_expires(client: FlaskClient, access: str, api_app: Flask) -> None:
    wallet = RawWallet()
    nonce = c_nonce(client)
    later = time.time() + 301
    services_of(api_app).oid4vci.clock = lambda: later
    response = credential(client, access, request_body(wallet.proof(nonce, iat=int(later))))
    oauth_error(response, 401, "invalid_token", "oid4vci_token_invalid")


# -- at rest -----------------------------------------------------------------------------


def test_an_offer_at_rest_holds_no_code_no_tx_code_and_no_claim(
    client: FlaskClient, auth: AuthActions, api_app: Flask, tmp_path: Any
) -> None:
    made = make_offer(client, auth)
    code = code_of(made)
    svc = services_of(api_app)
    path = getattr(svc.store, "path", None)
    if path is None:
        pytest.skip("the dump of this backend is read by tests/test_pseudonyms.py")
    raw = b""
    for suffix in ("", "-wal"):
        with open(str(path) + suffix, "rb") as handle:
            raw += handle.read()
    for secret in (code, made["tx_code"], auth.citizen_ids[0], ID_CLAIMS["address"]):
        assert secret.encode() not in raw, secret
    assert hashlib.sha256(code.encode()).hexdigest().encode() in raw  # named by its hash


# -- the web wallet accepts an offer -----------------------------------------------------


def test_the_web_wallet_accepts_its_citizens_offer_only(
    client: FlaskClient, auth: AuthActions
) -> None:
    made = make_offer(client, auth, citizen=1)
    body = {"offer": made["offer_uri"], "tx_code": made["tx_code"]}
    other = client.post("/api/v1/wallet/offers", headers=auth.citizen(0), json=body)
    assert other.status_code == 403 and other.get_json()["code"] == "offer_not_yours"
    wrong = {**body, "tx_code": f"{(int(made['tx_code']) + 1) % 1_000_000:06d}"}
    refused = client.post("/api/v1/wallet/offers", headers=auth.citizen(1), json=wrong)
    assert refused.status_code == 400 and refused.get_json()["code"] == "oid4vci_tx_code_wrong"
    accepted = client.post("/api/v1/wallet/offers", headers=auth.citizen(1), json=body)
    assert accepted.status_code == 201, accepted.get_json()
    listed = client.get("/api/v1/wallet/credentials", headers=auth.citizen(1)).get_json()
    assert accepted.get_json()["id"] in [item["id"] for item in listed["items"]]
    again = client.post("/api/v1/wallet/offers", headers=auth.citizen(1), json=body)
    assert again.status_code == 400 and again.get_json()["code"] == "oid4vci_offer_used"
    foreign = {**body, "offer": made["offer_uri"].replace("ecert.test", "evil.test")}
    assert (
        client.post("/api/v1/wallet/offers", headers=auth.citizen(1), json=foreign).get_json()[
            "code"
        ]
        == "oid4vci_request_invalid"
    )


@pytest.mark.parametrize(
    "offer",
    [
        "openid-credential-offer://?a=1&b=2&c=3&d=4&e=5&credential_offer=%7B%7D",
        "openid-credential-offer://?credential_offer=not-json",
        "openid-credential-offer://?credential_offer=%5B%5D",
        "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fecert.test%2Fo",
        "https://[::1",
        "{",
    ],
)
def test_the_web_wallet_refuses_what_is_not_an_offer(
    client: FlaskClient, auth: AuthActions, offer: str
) -> None:
    body = {"offer": offer, "tx_code": "123456"}
    refused = client.post("/api/v1/wallet/offers", headers=auth.citizen(0), json=body)
    assert refused.status_code == 400, refused.get_json()
    assert refused.get_json()["code"] == "oid4vci_request_invalid"
