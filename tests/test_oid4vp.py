"""OpenID4VP 1.0 at the service (issue 13, presentation): a venue's request for a scene,
the signed request object, and the wallet's response by ``direct_post`` and
``direct_post.jwt``, over HTTP on both store backends.

The wallet is played here: a P-256 device key registered with the service (so the
credential is bound to it), the request object read from raw JSON, the KB-JWT signed
with ``aud`` = the client id and the request's ``nonce``; attacks (tampered
disclosures, extra claims, other nonce or audience, replay, another request's state,
an expired request) are built from raw strings. The JWE of ``direct_post.jwt`` is made
with jwcrypto, the library the service decrypts with; the independent wallet of
tests/test_oid4vp_interop.py encrypts with its own code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from jwcrypto import jwe, jwk

from issuer.catalogue import default_scenes
from keys import SigningKey
from keys.trustlist import Scene
from service.oid4vp import scene_query
from tests.api_helpers import (
    AuthActions,
    api_app,
    auth,
    card_id,
    client,
    demo,
    services_of,
)
from tests.test_devices_api import copies, new_key, registered
from verifier.dcql import parse_query
from wallet.presentation import HeldCredential, present

__all__ = ["api_app", "auth", "client", "demo"]

REQUESTS = "/api/v1/verify/requests"


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _segment(token: str, index: int) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(_b64d(token.split(".")[index]))
    return parsed


@dataclass
class Asked:
    """A request as the wallet sees it: the object's header and payload, and its id."""

    id: str
    header: dict[str, Any]
    payload: dict[str, Any]
    token: str

    @property
    def response_path(self) -> str:
        return urllib.parse.urlsplit(str(self.payload["response_uri"])).path


def ask(
    client: FlaskClient, auth: AuthActions, scene: str = "hotel", mode: str = "direct_post.jwt"
) -> Asked:
    made = client.post(REQUESTS, json={"scene": scene, "response_mode": mode}, headers=auth.venue())
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(body["qr"]).query)
    assert body["qr"].startswith("openid4vp://?")
    assert query["request_uri"] == [body["request_uri"]]
    fetched = client.get(urllib.parse.urlsplit(body["request_uri"]).path)
    assert fetched.status_code == 200
    assert fetched.mimetype == "application/oauth-authz-req+jwt"
    token = fetched.get_data(as_text=True)
    asked = Asked(body["id"], _segment(token, 0), _segment(token, 1), token)
    assert query["client_id"] == [asked.payload["client_id"]]
    return asked


@dataclass
class Phone:
    """A device key of the demo citizen and its copy of the ID card."""

    key: ec.EllipticCurvePrivateKey
    sd_jwt: str

    def present(self, asked: Asked, claims: list[str], **kb: Any) -> str:
        return present(
            HeldCredential.parse(self.sd_jwt),
            claims,
            holder_key=SigningKey.from_private_key(self.key),
            aud=kb.get("aud", asked.payload["client_id"]),
            nonce=kb.get("nonce", asked.payload["nonce"]),
        )


@pytest.fixture
def phone(client: FlaskClient, auth: AuthActions) -> Phone:
    headers = auth.citizen()
    key = new_key()
    device = registered(client, headers, key)
    (copy,) = copies(client, headers, device)
    return Phone(key, copy["sd_jwt"])


def encrypt(asked: Asked, params: dict[str, Any], enc: str = "A128GCM", **header: Any) -> str:
    (public,) = asked.payload["client_metadata"]["jwks"]["keys"]
    protected = {"alg": "ECDH-ES", "enc": enc, "kid": public["kid"], **header}
    token = jwe.JWE(json.dumps(params).encode(), protected=json.dumps(protected))
    token.add_recipient(jwk.JWK(**public))
    return str(token.serialize(compact=True))


def answer(
    client: FlaskClient, asked: Asked, presentations: dict[str, list[str]], **extra: Any
) -> Any:
    params = {"vp_token": presentations, "state": asked.payload["state"], **extra}
    if asked.payload["response_mode"] == "direct_post.jwt":
        form = {"response": encrypt(asked, params)}
    else:
        form = {"vp_token": json.dumps(presentations), "state": params["state"]}
    return client.post(asked.response_path, data=form)


def state_of(client: FlaskClient, auth: AuthActions, asked: Asked) -> dict[str, Any]:
    got = client.get(f"{REQUESTS}/{asked.id}", headers=auth.venue())
    assert got.status_code == 200, got.get_json()
    body: dict[str, Any] = got.get_json()
    return body


def refused(got: Any, code: str) -> None:
    body = got.get_json()
    assert got.status_code == 400, body
    assert body["error"] == "invalid_request" and body["code"] == code, body
    assert body["error_description"]


# -- the request ----------------------------------------------------------------------------


def test_the_request_object_is_signed_by_its_x509_hash_client_id(
    client: FlaskClient, auth: AuthActions
) -> None:
    asked = ask(client, auth)
    p, h = asked.payload, asked.header
    assert h["typ"] == "oauth-authz-req+jwt" and h["alg"] == "ES256"
    der = base64.b64decode(h["x5c"][0])
    cert = x509.load_der_x509_certificate(der)
    digest = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert p["client_id"] == "x509_hash:" + digest
    # the signature verifies with the certificate's key
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    signed, sig = asked.token.rsplit(".", 1)
    raw = _b64d(sig)
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    der_sig = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    public.verify(der_sig, signed.encode(), ec.ECDSA(hashes.SHA256()))
    assert p["response_type"] == "vp_token" and p["response_mode"] == "direct_post.jwt"
    assert p["response_uri"].endswith(f"/api/v1/openid4vp/responses/{asked.id}")
    assert len(p["nonce"]) >= 22 and len(p["state"]) >= 22 and p["exp"] - p["iat"] == 300
    meta = p["client_metadata"]
    (enc_key,) = meta["jwks"]["keys"]
    assert enc_key["kty"] == "EC" and enc_key["crv"] == "P-256" and "d" not in enc_key
    assert enc_key["alg"] == "ECDH-ES" and enc_key["use"] == "enc"
    assert meta["encrypted_response_enc_values_supported"] == ["A128GCM", "A256GCM"]
    assert "ES256" in meta["vp_formats_supported"]["dc+sd-jwt"]["kb-jwt_alg_values"]
    assert meta["client_name"]
    # the hotel accepts one of several documents: one credential set, an option each
    query = parse_query(p["dcql_query"])
    (hotel,) = [s for s in default_scenes() if s["id"] == "hotel"]
    assert [c.vct_values for c in query.credentials] == [(a["vct"],) for a in hotel["accept"]]
    assert len(query.credentials) >= 2
    assert query.credential_sets is not None
    assert [o for o in query.credential_sets[0].options] == [
        [a["vct"].removeprefix("urn:ecert:")] for a in hotel["accept"]
    ]
    # the hotel asks for the portrait when there is one (scene "portrait"): two claim sets
    id_card = query.credentials[0]
    assert [c.path for c in id_card.claims or ()] == [["name"], ["id_number"], ["portrait"]]
    assert id_card.claim_sets == [["c0", "c1", "c2"], ["c0", "c1"]]
    # a second request: another nonce, state and encryption key; the same client id
    again = ask(client, auth)
    assert again.payload["client_id"] == p["client_id"]
    assert again.payload["nonce"] != p["nonce"] and again.payload["state"] != p["state"]
    assert again.payload["client_metadata"]["jwks"] != meta["jwks"]


def test_the_client_id_is_the_same_in_every_worker(api_app: Flask) -> None:
    svc = services_of(api_app)
    from service.oid4vp import VerifierIdentity

    seed = hashlib.sha256(b"seed").digest()
    first = VerifierIdentity(seed, svc.platform.base_url)
    second = VerifierIdentity(seed, svc.platform.base_url)
    assert first.der == second.der and first.client_id == second.client_id


def test_a_scene_policy_becomes_a_dcql_query() -> None:
    single = Scene.model_validate(
        {
            "id": "cafe",
            "name": {"zh": "网吧", "en": "Cafe"},
            "accept": [{"vct": "urn:ecert:resident-id-card", "claims": ["name"]}],
            "max_age": 120,
            "portrait": True,
        }
    )
    query = scene_query(single)
    assert "credential_sets" not in query
    (credential,) = query["credentials"]
    # the portrait: asked for when there is one, never required (two claim sets)
    assert credential["claim_sets"] == [["c0", "c1"], ["c0"]]
    parse_query(query)
    both = Scene.model_validate(
        {
            "id": "set",
            "name": {"zh": "套", "en": "Set"},
            "accept": [{"vct": "urn:ecert:resident-id-card", "claims": ["name"]}],
            "all_of": [
                {"vct": "urn:ecert:resident-id-card", "claims": ["name", "sex"]},
                {"vct": "urn:ecert:household-register", "claims": ["address"]},
            ],
            "max_age": 120,
        }
    )
    query = scene_query(both)
    parsed = parse_query(query)
    assert [c.id for c in parsed.credentials] == [
        "resident-id-card",
        "resident-id-card_2",
        "household-register",
    ]
    assert parsed.credential_sets is not None
    assert parsed.credential_sets[0].options == [
        ["resident-id-card"],
        ["resident-id-card_2", "household-register"],
    ]


def test_a_venue_asks_only_for_its_scenes_and_reads_only_its_requests(
    client: FlaskClient, auth: AuthActions
) -> None:
    forbidden = client.post(REQUESTS, json={"scene": "bank"}, headers=auth.venue())
    assert forbidden.status_code == 403
    unauthenticated = client.post(REQUESTS, json={"scene": "hotel"})
    assert unauthenticated.status_code == 401
    asked = ask(client, auth)
    assert state_of(client, auth, asked) == {"state": "pending", "result": {}}
    unknown = client.get(f"{REQUESTS}/AAAAAAAAAAAAAAAAAAAAAA", headers=auth.venue())
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "vp_request_not_found"


# -- the response ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["direct_post.jwt", "direct_post"])
def test_the_wallet_answers_and_the_venue_reads_the_result(
    client: FlaskClient, auth: AuthActions, phone: Phone, mode: str
) -> None:
    asked = ask(client, auth, mode=mode)
    shown = phone.present(asked, ["name", "id_number"])
    got = answer(client, asked, {"resident-id-card": [shown]})
    assert got.status_code == 200, got.get_json()
    assert got.get_json() == {}
    body = state_of(client, auth, asked)
    assert body["state"] == "answered"
    result = body["result"]
    assert result["valid"] is True, result
    assert set(result["claims"]) == {"name", "id_number"}  # only the scene's claims
    disclosed = {json.loads(_b64d(d))[1]: json.loads(_b64d(d))[2] for d in shown.split("~")[1:-1]}
    assert result["claims"] == disclosed
    assert result["scene"] == "hotel" and result["status"] == "valid"
    # the request is over: its object and a second answer are refused
    refused(answer(client, asked, {"resident-id-card": [shown]}), "vp_request_answered")
    late = client.get(urllib.parse.urlsplit(asked.payload["response_uri"]).path)
    assert late.status_code == 405  # the response URI only takes POST
    gone = client.get(f"/api/v1/openid4vp/requests/{asked.id}")
    assert gone.status_code == 400 and gone.get_json()["code"] == "vp_request_answered"


def test_a_tampered_presentation_is_refused_and_the_venue_sees_why(
    client: FlaskClient, auth: AuthActions, phone: Phone
) -> None:
    asked = ask(client, auth)
    shown = phone.present(asked, ["name", "id_number"])
    jwt, *rest = shown.split("~")
    header, payload, sig = jwt.split(".")
    claims = json.loads(_b64d(payload))
    claims["exp"] = claims["exp"] + 10**6
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = "~".join([f"{header}.{forged}.{sig}", *rest])
    got = answer(client, asked, {"resident-id-card": [tampered]})
    refused(got, "vp_presentation_refused")
    assert "invalid_signature" in got.get_json()["error_description"]
    result = state_of(client, auth, asked)["result"]
    assert result["valid"] is False and result["claims"] == {}
    assert [e["code"] for e in result["errors"]] == ["invalid_signature"]


@pytest.mark.parametrize(
    ("kb", "why"),
    [({"nonce": "another-nonce-0123456789"}, "nonce"), ({"aud": "hotel"}, "aud")],
    ids=["wrong-nonce", "wrong-audience"],
)
def test_a_key_binding_for_another_request_is_refused(
    client: FlaskClient, auth: AuthActions, phone: Phone, kb: dict[str, str], why: str
) -> None:
    asked = ask(client, auth)
    shown = phone.present(asked, ["name", "id_number"], **kb)
    got = answer(client, asked, {"resident-id-card": [shown]})
    refused(got, "vp_presentation_refused")
    assert "key_binding_invalid" in got.get_json()["error_description"]
    result = state_of(client, auth, asked)["result"]
    assert result["errors"][0]["code"] == "key_binding_invalid"
    assert why in result["errors"][0]["message"]


def test_a_presentation_made_for_one_request_is_refused_by_another(
    client: FlaskClient, auth: AuthActions, phone: Phone
) -> None:
    first, second = ask(client, auth), ask(client, auth)
    shown = phone.present(first, ["name", "id_number"])
    refused(answer(client, second, {"resident-id-card": [shown]}), "vp_presentation_refused")
    # and the first request's own response, encrypted to the first key, to the second URI
    form = {"response": encrypt(first, {"vp_token": {}, "state": first.payload["state"]})}
    third = ask(client, auth)
    refused(client.post(third.response_path, data=form), "vp_response_malformed")


def test_more_claims_than_asked_are_refused_before_any_check(
    client: FlaskClient, auth: AuthActions, phone: Phone
) -> None:
    asked = ask(client, auth)
    shown = phone.present(asked, ["name", "id_number", "birth_date"])
    got = answer(client, asked, {"resident-id-card": [shown]})
    refused(got, "vp_presentation_refused")
    assert "birth_date" in got.get_json()["error_description"]
    assert state_of(client, auth, asked)["result"]["errors"][0]["code"] == "scene_unmet"


def test_fewer_claims_than_asked_or_the_wrong_query_are_refused(
    client: FlaskClient, auth: AuthActions, phone: Phone
) -> None:
    asked = ask(client, auth)
    refused(
        answer(client, asked, {"resident-id-card": [phone.present(asked, ["name"])]}),
        "vp_presentation_refused",
    )
    asked = ask(client, auth)
    shown = phone.present(asked, ["name", "id_number"])
    refused(answer(client, asked, {"residence-permit": [shown]}), "vp_presentation_refused")
    asked = ask(client, auth)
    refused(answer(client, asked, {"no-such-query": [shown]}), "vp_response_malformed")


def test_a_response_that_cannot_be_read_uses_nothing_up(
    client: FlaskClient, auth: AuthActions, phone: Phone
) -> None:
    asked = ask(client, auth)
    path = asked.response_path
    bad = [
        {"vp_token": "{}", "state": asked.payload["state"]},  # plain, but .jwt was asked
        {"response": "not.a.jwe"},
        {"response": encrypt(asked, {"vp_token": {}, "state": "other"})},
        {"response": encrypt(asked, {"vp_token": {}}, enc="A256CBC-HS512")},
        {"response": encrypt(asked, {"state": asked.payload["state"]}, zip="DEF")},
    ]
    for form in bad:
        refused(client.post(path, data=form), "vp_response_malformed")
    refused(client.post(path, json={"response": "x"}), "vp_response_malformed")
    # still answerable
    shown = phone.present(asked, ["name", "id_number"])
    assert answer(client, asked, {"resident-id-card": [shown]}).status_code == 200


def test_an_expired_request_is_refused(
    api_app: Flask, client: FlaskClient, auth: AuthActions, phone: Phone
) -> None:
    asked = ask(client, auth)
    oid4vp = services_of(api_app).vp_requests
    oid4vp.clock = lambda: time.time() + 301
    try:
        refused(
            answer(client, asked, {"resident-id-card": [phone.present(asked, ["name"])]}),
            "vp_request_expired",
        )
        assert state_of(client, auth, asked) == {"state": "expired", "result": {}}
        gone = client.get(f"/api/v1/openid4vp/requests/{asked.id}")
        assert gone.status_code == 400 and gone.get_json()["code"] == "vp_request_expired"
    finally:
        oid4vp.clock = time.time


def test_the_wallet_may_decline(client: FlaskClient, auth: AuthActions) -> None:
    asked = ask(client, auth, mode="direct_post")
    got = client.post(
        asked.response_path, data={"error": "access_denied", "state": asked.payload["state"]}
    )
    assert got.status_code == 200
    result = state_of(client, auth, asked)["result"]
    assert result["valid"] is False and result["errors"][0]["code"] == "vp_declined"


def test_our_wallet_reads_who_asks(client: FlaskClient, auth: AuthActions) -> None:
    asked = ask(client, auth)
    about = client.get(f"/api/v1/openid4vp/requests/{asked.id}/about").get_json()
    assert about["scene"] == "hotel" and about["venue"]["zh"] and about["venue"]["en"]
    assert about["dcql_query"] == asked.payload["dcql_query"]


def test_our_web_wallet_answers_with_the_key_the_service_holds(
    client: FlaskClient, auth: AuthActions
) -> None:
    asked = ask(client, auth)
    headers = auth.citizen()
    card = card_id(client, headers)
    path = f"/api/v1/wallet/openid4vp/requests/{asked.id}/answer"
    assert client.post(path, json={"credential_id": card}).status_code == 401
    got = client.post(path, json={"credential_id": card}, headers=headers)
    assert got.status_code == 200, got.get_json()
    result = got.get_json()["result"]
    assert result["valid"] is True and {"name", "id_number"} <= set(result["claims"])
    assert state_of(client, auth, asked)["result"] == result
    again = client.post(path, json={"credential_id": card}, headers=headers)
    assert again.status_code == 400 and again.get_json()["code"] == "vp_request_answered"


@pytest.mark.parametrize("mode", ["direct_post.jwt", "direct_post"])
def test_our_web_wallet_declines_in_either_response_mode(
    client: FlaskClient, auth: AuthActions, mode: str
) -> None:
    """The citizen says no: the venue reads ``vp_declined``, also for a request that
    asks for ``direct_post.jwt`` (a plain form error response is refused there)."""
    asked = ask(client, auth, mode=mode)
    path = f"/api/v1/wallet/openid4vp/requests/{asked.id}/decline"
    assert client.post(path).status_code == 401
    got = client.post(path, headers=auth.citizen())
    assert got.status_code == 200, got.get_json()
    result = got.get_json()["result"]
    assert result["valid"] is False and result["errors"][0]["code"] == "vp_declined"
    state = state_of(client, auth, asked)
    assert state["state"] == "answered" and state["result"] == result
    again = client.post(path, headers=auth.citizen())
    assert again.status_code == 400 and again.get_json()["code"] == "vp_request_answered"
    unknown = client.post("/api/v1/wallet/openid4vp/requests/nope/decline", headers=auth.citizen())
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "vp_request_not_found"


def _hostile_jwe(asked: Asked, header: dict[str, Any]) -> str:
    """A compact JWE whose protected header is ``header`` and the rest random bytes."""
    h = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return f"{h}..{'A' * 16}.{'B' * 40}.{'C' * 22}"


def test_hostile_jwes_are_refused_as_malformed_never_a_server_error(
    client: FlaskClient, auth: AuthActions
) -> None:
    asked = ask(client, auth)
    (public,) = asked.payload["client_metadata"]["jwks"]["keys"]
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
    other_curve = {
        "kty": "EC",
        "crv": "P-384",
        "x": base64.urlsafe_b64encode(p384.x.to_bytes(48)).rstrip(b"=").decode(),
        "y": base64.urlsafe_b64encode(p384.y.to_bytes(48)).rstrip(b"=").decode(),
    }
    off_curve = {**{k: public[k] for k in ("kty", "crv", "x")}, "y": public["x"]}
    base: dict[str, Any] = {"alg": "ECDH-ES", "enc": "A128GCM"}
    headers: list[dict[str, Any]] = [
        base,  # no epk
        {**base, "epk": other_curve},
        {**base, "epk": off_curve},
        {**base, "epk": "not an object"},
        {**base, "alg": "dir"},
        {**base, "alg": "RSA-OAEP"},
        {**base, "alg": "ECDH-ES+A128KW"},
        {**base, "kid": "another-key"},
        {**base, "crit": ["exp"]},
    ]
    for header in headers:
        got = client.post(asked.response_path, data={"response": _hostile_jwe(asked, header)})
        refused(got, "vp_response_malformed")
    assert state_of(client, auth, asked)["state"] == "pending"


@pytest.mark.parametrize(
    "vp_token",
    [
        "[]",
        '"x"',
        "{}",
        '{"resident-id-card": "x"}',
        '{"resident-id-card": []}',
        '{"resident-id-card": [1]}',
        '{"resident-id-card": ["not-an-sd-jwt"]}',
        '{"resident-id-card": ["a.b.c~"]}',
        '{"resident-id-card": ["x~y~"]}',
        '{"resident-id-card": [' + ",".join(['"a"'] * 5) + "]}",
        '{"a": 1, "a": 2}',
        "[" * 500 + "]" * 500,
        "not json",
    ],
)
def test_a_hostile_vp_token_is_malformed_and_the_venue_is_told(
    client: FlaskClient, auth: AuthActions, vp_token: str
) -> None:
    asked = ask(client, auth, mode="direct_post")
    got = client.post(
        asked.response_path, data={"vp_token": vp_token, "state": asked.payload["state"]}
    )
    refused(got, "vp_response_malformed")
    result = state_of(client, auth, asked)["result"]
    assert result["valid"] is False and result["errors"][0]["code"] == "malformed"


def test_another_venue_cannot_read_a_request_or_its_result(
    client: FlaskClient, auth: AuthActions, phone: Phone
) -> None:
    asked = ask(client, auth)
    shown = phone.present(asked, ["name", "id_number"])
    assert answer(client, asked, {"resident-id-card": [shown]}).status_code == 200
    theirs = client.get(f"{REQUESTS}/{asked.id}", headers=auth.venue("city-bank"))
    assert theirs.status_code == 404 and theirs.get_json()["code"] == "vp_request_not_found"
    assert "name" not in theirs.get_data(as_text=True)
