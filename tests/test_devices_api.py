"""Devices over HTTP (issue 9, server side): a phone registers its own P-256 key with an
OpenID4VCI key proof, receives its own copy of each credential bound to that key, and
presents it itself; the copies follow the card's status; removing a device revokes its
copies at once.

The phone's WebCrypto key is played by a ``cryptography`` P-256 key: the proof JWT and
every attack on it are built here from raw JSON and bytes (not with the project's JWS
helpers), so a bug in those helpers cannot hide a bug in the checks. Presentations are
made with the *device* key (:func:`wallet.presentation.present`) and checked by the
offline :class:`verifier.Verifier` against the bundle the service publishes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from flask import Flask
from flask.testing import FlaskClient

from keys import SigningKey
from tests.api_helpers import (
    BASE_URL,
    ID_CARD,
    ID_CLAIMS,
    AuthActions,
    api_app,
    auth,
    card_id,
    client,
    demo,
    services_of,
)
from tests.factory import DERIVED
from tests.hygiene import personal
from verifier import Verifier
from wallet.presentation import HeldCredential, present

__all__ = ["api_app", "auth", "client", "demo"]

DEVICES = "/api/v1/wallet/devices"
PROOF_TYP = "openid4vci-proof+jwt"


# -- the phone, played from raw bytes --------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    size = (key.curve.key_size + 7) // 8
    return {
        "kty": "EC",
        "crv": {256: "P-256", 384: "P-384"}[key.curve.key_size],
        "x": b64(numbers.x.to_bytes(size, "big")),
        "y": b64(numbers.y.to_bytes(size, "big")),
    }


def jws(header: dict[str, Any], payload: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    """A compact JWS signed as WebCrypto's ECDSA does (raw r || s)."""
    signing_input = (
        b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    ).encode()
    digest = hashes.SHA256() if key.curve.key_size == 256 else hashes.SHA384()
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
    size = (key.curve.key_size + 7) // 8
    return signing_input.decode() + "." + b64(r.to_bytes(size, "big") + s.to_bytes(size, "big"))


def proof(
    key: ec.EllipticCurvePrivateKey,
    nonce: str,
    *,
    header: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
) -> str:
    """An OpenID4VCI key proof JWT; ``header``/``payload`` entries override (None: drop)."""
    h: dict[str, Any] = {"typ": PROOF_TYP, "alg": "ES256", "jwk": public_jwk(key)}
    p: dict[str, Any] = {"aud": BASE_URL, "iat": int(time.time()), "nonce": nonce}
    for base, changes in ((h, header or {}), (p, payload or {})):
        for name, value in changes.items():
            if value is None:
                base.pop(name, None)
            else:
                base[name] = value
    return personal(jws(h, p, key), "a device key proof")


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def c_nonce(client: FlaskClient, headers: dict[str, str]) -> str:
    got = client.post(f"{DEVICES}/nonce", headers=headers)
    assert got.status_code == 200, got.get_json()
    body = got.get_json()
    assert body["expires_in"] == 300
    return str(body["c_nonce"])


def register(
    client: FlaskClient,
    headers: dict[str, str],
    key: ec.EllipticCurvePrivateKey,
    label: str | None = "my phone",
    **changes: Any,
) -> Any:
    token = proof(key, c_nonce(client, headers), **changes)
    body: dict[str, Any] = {"proof": token} if label is None else {"proof": token, "label": label}
    return client.post(DEVICES, json=body, headers=headers)


def registered(
    client: FlaskClient, headers: dict[str, str], key: ec.EllipticCurvePrivateKey
) -> str:
    got = register(client, headers, key)
    assert got.status_code == 201, got.get_json()
    return str(got.get_json()["id"])


def copies(client: FlaskClient, headers: dict[str, str], device: str) -> list[dict[str, Any]]:
    got = client.get(f"{DEVICES}/{device}/credentials", headers=headers)
    assert got.status_code == 200, got.get_json()
    items: list[dict[str, Any]] = got.get_json()["items"]
    for item in items:
        personal(item["sd_jwt"], "a device copy")
    # the derived attestations' copies (issued beside the ID card) left out
    return [item for item in items if item["vct"] not in DERIVED]


def thumbprint(jwk: dict[str, str]) -> str:
    members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64(hashlib.sha256(canonical).digest())


def payload_of(sd_jwt: str) -> dict[str, Any]:
    segment = sd_jwt.split("~", 1)[0].split(".")[1]
    parsed: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return parsed


def verifier(client: FlaskClient) -> Verifier:
    """The offline verifier on the bundle the service publishes now."""
    anchor = client.get("/api/v1/verifier/anchor").get_json()
    return Verifier(client.get("/api/v1/verifier/bundle").get_json(), anchor=anchor)


def shown_by(key: ec.EllipticCurvePrivateKey, sd_jwt: str) -> str:
    """The phone's presentation for the hotel: name and ID number, KB-JWT by its key."""
    held = HeldCredential.parse(sd_jwt)
    return present(
        held, ["name", "id_number"], holder_key=SigningKey.from_private_key(key), aud="hotel"
    )


def codes_at_hotel(client: FlaskClient, key: ec.EllipticCurvePrivateKey, sd_jwt: str) -> list[str]:
    result = verifier(client).verify(shown_by(key, sd_jwt), "hotel")
    return [] if result.valid else result.codes


def department(client: FlaskClient, auth: AuthActions, action: str, credential: str) -> None:
    got = client.post(
        f"/api/v1/issuers/police/credentials/{credential}/{action}", headers=auth.department()
    )
    assert got.status_code == 200, got.get_json()


def code(response: Any) -> str:
    return str(response.get_json()["code"])


# -- the walk-through ---------------------------------------------------------------------


def test_a_device_gets_its_own_copy_that_it_presents_with_its_own_key(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    phone = new_key()
    got = register(client, headers, phone, label="  王五的手机  ")
    assert got.status_code == 201, got.get_json()
    body = got.get_json()
    assert body["label"] == "王五的手机"
    assert body["kid"] == thumbprint(public_jwk(phone))
    assert body["credentials"] == 2  # the ID card and the age attestation beside it
    listed = client.get(DEVICES, headers=headers).get_json()["items"]
    assert [(d["id"], d["state"]) for d in listed] == [(body["id"], "active")]

    card = card_id(client, headers)
    (copy,) = copies(client, headers, body["id"])
    assert copy["credential_id"] == card and copy["id"] != card and copy["vct"] == ID_CARD
    assert copy["status"] == "valid"
    claims = payload_of(copy["sd_jwt"])
    assert claims["cnf"]["jwk"] == public_jwk(phone)  # bound to the phone, not the service
    original = client.get(f"/api/v1/wallet/credentials/{card}", headers=headers).get_json()
    first = payload_of(original["credential"])
    assert claims["iss"] == first["iss"] and claims["exp"] <= first["exp"]
    assert claims["status"] != first["status"]  # its own status entry
    assert copy["sd_jwt"].count("~") == original["credential"].count("~")  # every disclosure

    result = verifier(client).verify(shown_by(phone, copy["sd_jwt"]), "hotel")
    assert result.valid, result.codes
    assert set(result.claims) == {"name", "id_number"}
    # the service's own holder key cannot present the device's copy
    with pytest.raises(Exception, match="another holder key"):
        shown_by(new_key(), copy["sd_jwt"])
    # the card list still shows one card
    items = client.get("/api/v1/wallet/credentials", headers=headers).get_json()["items"]
    assert [i["id"] for i in items if i["vct"] not in DERIVED] == [card]


def test_two_devices_revocation_suspension_and_removal(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    phone, tablet = new_key(), new_key()
    first, second = registered(client, headers, phone), registered(client, headers, tablet)
    (on_phone,) = copies(client, headers, first)
    (on_tablet,) = copies(client, headers, second)
    assert codes_at_hotel(client, phone, on_phone["sd_jwt"]) == []
    assert codes_at_hotel(client, tablet, on_tablet["sd_jwt"]) == []
    card = on_phone["credential_id"]

    department(client, auth, "suspend", card)
    assert codes_at_hotel(client, phone, on_phone["sd_jwt"]) == ["suspended"]
    assert codes_at_hotel(client, tablet, on_tablet["sd_jwt"]) == ["suspended"]
    assert [c["status"] for c in copies(client, headers, first)] == ["suspended"]

    # a lost tablet: removed, its copy revoked at once; the phone's copy is untouched
    assert client.delete(f"{DEVICES}/{second}", headers=headers).status_code == 204
    assert codes_at_hotel(client, tablet, on_tablet["sd_jwt"]) == ["revoked"]
    assert client.get(f"{DEVICES}/{second}/credentials", headers=headers).status_code == 404
    assert client.delete(f"{DEVICES}/{second}", headers=headers).status_code == 404
    states = {d["id"]: d["state"] for d in client.get(DEVICES, headers=headers).get_json()["items"]}
    assert states == {first: "active", second: "removed"}

    # reinstating the card reinstates the copies of active devices only
    department(client, auth, "reinstate", card)
    assert codes_at_hotel(client, phone, on_phone["sd_jwt"]) == []
    assert codes_at_hotel(client, tablet, on_tablet["sd_jwt"]) == ["revoked"]

    department(client, auth, "revoke", card)
    assert codes_at_hotel(client, phone, on_phone["sd_jwt"]) == ["revoked"]


def test_removing_a_device_leaves_the_other_devices_copy_valid(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    phone, tablet = new_key(), new_key()
    first, second = registered(client, headers, phone), registered(client, headers, tablet)
    (on_phone,) = copies(client, headers, first)
    (on_tablet,) = copies(client, headers, second)
    # removed from the other device's session (a second login)
    assert client.delete(f"{DEVICES}/{first}", headers=auth.citizen()).status_code == 204
    assert codes_at_hotel(client, phone, on_phone["sd_jwt"]) == ["revoked"]
    assert codes_at_hotel(client, tablet, on_tablet["sd_jwt"]) == []


def test_a_new_credential_reaches_every_device(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    phone = new_key()
    device = registered(client, headers, phone)
    citizen = auth.citizen_ids[0]
    permit = {**ID_CLAIMS, "id_number": citizen}
    issued = client.post(
        "/api/v1/issuers/police/credentials",
        json={"vct": ID_CARD, "citizen_id": citizen, "claims": permit},
        headers={**auth.department(), "Idempotency-Key": "devices-new-card"},
    )
    assert issued.status_code == 201, issued.get_json()
    new_id = issued.get_json()["id"]
    got = {c["credential_id"]: c for c in copies(client, headers, device)}
    assert len(got) == 2 and new_id in got
    assert codes_at_hotel(client, phone, got[new_id]["sd_jwt"]) == []
    # removing the card from the wallet revokes and forgets its copies
    removed = client.delete(f"/api/v1/wallet/credentials/{new_id}", headers=headers)
    assert removed.status_code == 204
    assert [c["credential_id"] for c in copies(client, headers, device)] == [
        card for card in got if card != new_id
    ]
    assert codes_at_hotel(client, phone, got[new_id]["sd_jwt"]) == ["revoked"]
    assert services_of(api_app).instance.store.get_credential(new_id) is not None


# -- refusals -----------------------------------------------------------------------------


def test_a_nonce_is_used_once(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    nonce = c_nonce(client, headers)
    first = client.post(DEVICES, json={"proof": proof(new_key(), nonce)}, headers=headers)
    assert first.status_code == 201
    again = client.post(DEVICES, json={"proof": proof(new_key(), nonce)}, headers=headers)
    assert again.status_code == 400 and code(again) == "device_nonce_invalid"


def test_an_expired_nonce_is_refused(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    nonce = c_nonce(client, headers)
    devices = services_of(api_app).instance.devices
    devices.clock = lambda: time.time() + 301
    try:
        late = proof(new_key(), nonce, payload={"iat": int(time.time()) + 301})
        got = client.post(DEVICES, json={"proof": late}, headers=headers)
    finally:
        devices.clock = time.time
    assert got.status_code == 400 and code(got) == "device_nonce_invalid"


def test_a_nonce_of_another_citizen_or_session_is_refused(
    client: FlaskClient, auth: AuthActions
) -> None:
    mine, theirs = auth.citizen(0), auth.citizen(1)
    nonce = c_nonce(client, theirs)
    got = client.post(DEVICES, json={"proof": proof(new_key(), nonce)}, headers=mine)
    assert got.status_code == 400 and code(got) == "device_nonce_invalid"
    other_session = auth.citizen(0)
    nonce = c_nonce(client, other_session)
    got = client.post(DEVICES, json={"proof": proof(new_key(), nonce)}, headers=mine)
    assert got.status_code == 400 and code(got) == "device_nonce_invalid"
    # an invented nonce alike
    got = client.post(DEVICES, json={"proof": proof(new_key(), "x" * 43)}, headers=mine)
    assert got.status_code == 400 and code(got) == "device_nonce_invalid"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"payload": {"aud": "https://evil.test"}}, "device_proof_audience"),
        ({"payload": {"aud": None}}, "device_proof_audience"),
        ({"payload": {"iat": int(time.time()) - 3600}}, "device_proof_stale"),
        ({"payload": {"iat": "now"}}, "device_proof_invalid"),
        ({"payload": {"nonce": None}}, "device_proof_invalid"),
        ({"header": {"typ": "JWT"}}, "device_proof_invalid"),
        ({"header": {"typ": None}}, "device_proof_invalid"),
        ({"header": {"alg": "ES384"}}, "device_proof_invalid"),
        ({"header": {"crit": ["x"]}}, "device_proof_invalid"),
        ({"header": {"kid": "k1"}}, "device_key_invalid"),
        ({"header": {"x5c": ["MIIB"]}}, "device_key_invalid"),
        ({"header": {"jwk": None}}, "device_key_invalid"),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_a_bad_key_proof_is_refused_with_its_code(
    client: FlaskClient, auth: AuthActions, changes: dict[str, Any], expected: str
) -> None:
    got = register(client, auth.citizen(), new_key(), **changes)
    assert got.status_code == 400, got.get_json()
    assert code(got) == expected


def test_a_jwk_with_its_private_part_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    key = new_key()
    private = {**public_jwk(key), "d": b64(key.private_numbers().private_value.to_bytes(32, "big"))}
    got = register(client, auth.citizen(), key, header={"jwk": private})
    assert got.status_code == 400 and code(got) == "device_key_invalid"


def test_another_curve_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    got = register(client, auth.citizen(), key)  # alg ES256 over a P-384 jwk
    assert got.status_code == 400 and code(got) == "device_key_invalid"


def test_a_proof_signed_by_another_key_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    key, thief = new_key(), new_key()
    nonce = c_nonce(client, headers)
    h = {"typ": PROOF_TYP, "alg": "ES256", "jwk": public_jwk(key)}
    p = {"aud": BASE_URL, "iat": int(time.time()), "nonce": nonce}
    forged = jws(h, p, thief)
    got = client.post(DEVICES, json={"proof": forged}, headers=headers)
    assert got.status_code == 400 and code(got) == "device_proof_signature"
    # and a flipped bit in a good signature
    token = jws(h, p, key)
    head, _, sig = token.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[5] ^= 1
    got = client.post(DEVICES, json={"proof": f"{head}.{b64(bytes(raw))}"}, headers=headers)
    assert got.status_code == 400 and code(got) == "device_proof_signature"
    # the refused proofs did not spend the nonce
    assert client.post(DEVICES, json={"proof": token}, headers=headers).status_code == 201


def test_garbage_proofs_and_labels_are_refused(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    for bad in ("", "a.b", "a.b.c", "é.é.é", "x" * 5000):
        got = client.post(DEVICES, json={"proof": bad}, headers=headers)
        assert got.status_code == 400, bad[:10]
    for label in ("   ", "x" * 41, "a\u0000b", "a\u202eb"):
        got = register(client, headers, new_key(), label=label)
        assert got.status_code == 400 and code(got) == "invalid_request", label
    got = register(client, headers, new_key(), label="x" * 40)
    assert got.status_code == 201
    got = register(client, headers, new_key(), label=None)
    assert got.status_code == 201 and got.get_json()["label"] == "Browser"
    extra = client.post(DEVICES, json={"proof": "a.b.c", "admin": True}, headers=headers)
    assert extra.status_code == 400


def test_the_same_key_twice_and_too_many_devices(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    key = new_key()
    device = registered(client, headers, key)
    again = register(client, headers, key)
    assert again.status_code == 409 and code(again) == "device_key_registered"
    # removed, the key still cannot come back (a lost phone stays lost)
    assert client.delete(f"{DEVICES}/{device}", headers=headers).status_code == 204
    again = register(client, headers, key)
    assert again.status_code == 409 and code(again) == "device_key_registered"
    devices = services_of(api_app).instance.devices
    assert devices.max_devices == 5
    for _ in range(5):
        registered(client, headers, new_key())
    full = register(client, headers, new_key())
    assert full.status_code == 409 and code(full) == "device_limit_reached"


def test_another_citizens_device_is_not_found(client: FlaskClient, auth: AuthActions) -> None:
    mine, theirs = auth.citizen(0), auth.citizen(1)
    device = registered(client, theirs, new_key())
    assert client.get(f"{DEVICES}/{device}/credentials", headers=mine).status_code == 404
    got = client.delete(f"{DEVICES}/{device}", headers=mine)
    assert got.status_code == 404 and code(got) == "not_found"
    assert client.get(DEVICES, headers=mine).get_json()["items"] == []
    assert copies(client, theirs, device)[0]["status"] == "valid"  # untouched


def test_the_routes_need_a_citizen_session(client: FlaskClient, auth: AuthActions) -> None:
    for method, path in (
        ("post", f"{DEVICES}/nonce"),
        ("post", DEVICES),
        ("get", DEVICES),
        ("delete", f"{DEVICES}/abc"),
        ("get", f"{DEVICES}/abc/credentials"),
    ):
        got = getattr(client, method)(path, headers=auth.venue(), json={"proof": "a.b.c"})
        assert got.status_code == 401, (method, path)
