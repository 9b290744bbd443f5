"""The phone's online mode (issue 9, phone first): a phone with a device key makes the
presentation itself and hands it to ``POST /api/v1/wallet/presentations`` to be held
behind a short ``/p/<token>`` URL; the service never signs for that device.

The phone's WebCrypto key is a ``cryptography`` P-256 key; presentations and every
attack are built here from raw JSON and bytes (disclosures picked by decoding them, the
KB-JWT signed as WebCrypto does), not with the project's SD-JWT helpers, so that a bug
in those helpers cannot hide one in the checks. Real SQLite and Redis (the ``api_app``
fixture runs each test on both).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient

from tests.api_helpers import (
    BASE_URL,
    AuthActions,
    api_app,
    auth,
    card_id,
    client,
    demo,
    path_of,
    services_of,
)
from tests.hygiene import personal
from tests.test_devices_api import copies, jws, new_key, registered

__all__ = ["api_app", "auth", "client", "demo"]

HOLD = "/api/v1/wallet/presentations"
DEVICES = "/api/v1/wallet/devices"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claim_of(disclosure: str) -> str | None:
    array = json.loads(unb64(disclosure))
    return str(array[1]) if isinstance(array, list) and len(array) == 3 else None


def phone_presents(
    key: ec.EllipticCurvePrivateKey,
    sd_jwt: str,
    claims: list[str],
    aud: str,
    *,
    iat: int | None = None,
) -> str:
    """``jwt~d…~kb`` disclosing ``claims`` (top level), the KB-JWT by ``key``."""
    jwt, *rest = sd_jwt.split("~")
    chosen = [d for d in rest if d and claim_of(d) in claims]
    assert sorted(claim_of(d) or "" for d in chosen) == sorted(claims)
    presented = "~".join([jwt, *chosen]) + "~"
    payload = {
        "iat": int(time.time()) if iat is None else iat,
        "aud": aud,
        "nonce": b64(os.urandom(16)),
        "sd_hash": b64(hashlib.sha256(presented.encode("ascii")).digest()),
    }
    text = presented + jws({"alg": "ES256", "typ": "kb+jwt"}, payload, key)
    return personal(text, "a phone-made presentation")


class Phone:
    """A registered device of one citizen and its copy of the resident ID card."""

    def __init__(self, client: FlaskClient, headers: dict[str, str]) -> None:
        self.headers = headers
        self.key = new_key()
        self.device = registered(client, headers, self.key)
        self.card = card_id(client, headers)
        held = copies(client, headers, self.device)
        copy = next(c for c in held if c["credential_id"] == self.card)
        self.copy_id: str = copy["id"]
        self.sd_jwt: str = copy["sd_jwt"]

    def hotel(self, scene_aud: str = "hotel") -> str:
        return phone_presents(self.key, self.sd_jwt, ["name", "id_number", "portrait"], scene_aud)


def hold(
    client: FlaskClient, headers: dict[str, str], presentation: str, scene: str = "hotel"
) -> Any:
    body = {"presentation": presentation, "scene": scene, "mode": "online"}
    return client.post(HOLD, json=body, headers=headers)


def problem(response: Any) -> tuple[int, str, str | None]:
    body = response.get_json()
    return response.status_code, str(body["code"]), body.get("reason")


def scan(client: FlaskClient, auth: AuthActions, qr: str, scene: str = "hotel") -> dict[str, Any]:
    venue = "grand-hotel" if scene == "hotel" else "city-bank"
    got = client.post("/api/v1/verify", headers=auth.venue(venue), json={"qr": qr, "scene": scene})
    assert got.status_code == 200, got.get_data(as_text=True)
    result: dict[str, Any] = got.get_json()
    return result


# -- the walk-through ---------------------------------------------------------------------


def test_a_phone_made_presentation_is_held_and_redeemed_once_with_the_portrait(
    client: FlaskClient, auth: AuthActions
) -> None:
    phone = Phone(client, auth.citizen())
    got = hold(client, phone.headers, phone.hotel())
    assert got.status_code == 201, got.get_json()
    answer = got.get_json()
    assert answer["mode"] == "online"
    assert answer["qr"].startswith(BASE_URL + "/p/")
    assert answer["expires_at"] - time.time() <= 120
    qr = personal(answer["qr"], "an online QR URL")
    # its QR image, like any presentation of the citizen's
    image = client.get(f"{HOLD}/{answer['id']}/qr.png", headers=phone.headers)
    assert image.status_code == 200 and image.mimetype == "image/png"
    # the /p page of the URL exists (the scanner redeems it at /api/v1/verify)
    assert client.get(path_of(qr)).status_code == 200

    result = scan(client, auth, qr)
    assert result["valid"], result
    assert set(result["claims"]) == {"name", "id_number", "portrait"}
    assert result["claims"]["portrait"].startswith("data:image/")
    again = scan(client, auth, qr)
    assert not again["valid"] and again["errors"][0]["code"] == "replayed"


def test_the_held_presentation_keeps_its_nonce_for_the_venue(
    client: FlaskClient, auth: AuthActions
) -> None:
    """Holding verifies without using up the nonce: the same text scanned directly
    still passes once (and then the URL is a replay)."""
    phone = Phone(client, auth.citizen())
    text = phone.hotel()
    got = hold(client, phone.headers, text)
    assert got.status_code == 201, got.get_json()
    assert scan(client, auth, text)["valid"]
    result = scan(client, auth, got.get_json()["qr"])
    assert [e["code"] for e in result["errors"]] == ["replayed"]


def test_the_activity_shows_a_copy_s_check_under_its_card(
    client: FlaskClient, auth: AuthActions
) -> None:
    phone = Phone(client, auth.citizen())
    qr = hold(client, phone.headers, phone.hotel()).get_json()["qr"]
    assert scan(client, auth, qr)["valid"]
    items = client.get("/api/v1/wallet/activity", headers=phone.headers).get_json()["items"]
    assert items[0]["valid"] and items[0]["scene"] == "hotel"
    assert items[0]["credential"] == phone.card != phone.copy_id


# -- refusals -------------------------------------------------------------------------------


def test_another_citizen_s_copy_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    theirs = Phone(client, auth.citizen(1))
    mine = Phone(client, auth.citizen(0))
    assert problem(hold(client, mine.headers, theirs.hotel())) == (
        403,
        "device_copy_required",
        None,
    )
    # their own hands it over fine
    assert hold(client, theirs.headers, theirs.hotel()).status_code == 201


def test_a_credential_whose_key_the_service_holds_is_refused(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    """The assisted mode's original credential (service-held key) cannot use this route,
    even with a correct presentation (made here by the vault, as the service would)."""
    headers = auth.citizen()
    Phone(client, headers)  # the citizen has a device too: only its copy may be held
    svc = services_of(api_app)
    citizen = auth.citizen_ids[0]
    scene = svc.online.verifier().trust_list.scenes["hotel"]
    made = svc.instance.vault.present(citizen, card_id(client, headers), scene)
    text = personal(made.text, "a service-made presentation")
    assert scan(client, auth, text)["valid"]  # it verifies...
    made = svc.instance.vault.present(citizen, card_id(client, headers), scene)
    text = personal(made.text, "a service-made presentation")
    assert problem(hold(client, headers, text)) == (403, "device_copy_required", None)


def test_a_presentation_for_another_scene_is_refused(
    client: FlaskClient, auth: AuthActions
) -> None:
    phone = Phone(client, auth.citizen())
    made_for_bank = phone_presents(phone.key, phone.sd_jwt, ["name", "id_number"], "bank")
    assert problem(hold(client, phone.headers, made_for_bank)) == (
        400,
        "presentation_refused",
        "key_binding_invalid",
    )
    # a hotel presentation asked to be held for the pharmacy: its aud is "hotel"
    assert problem(hold(client, phone.headers, phone.hotel(), "pharmacy")) == (
        400,
        "presentation_refused",
        "key_binding_invalid",
    )
    assert problem(hold(client, phone.headers, phone.hotel(), "no_such_scene"))[:2] == (
        404,
        "unknown_scene",
    )


def test_a_tampered_presentation_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    phone = Phone(client, auth.citizen())
    # another key signs the KB-JWT: not the copy's holder
    stranger = phone_presents(new_key(), phone.sd_jwt, ["name", "id_number"], "hotel")
    assert problem(hold(client, phone.headers, stranger))[:2] == (400, "presentation_refused")
    # a claim's value changed in its disclosure: its digest is in no _sd
    text = phone.hotel()
    jwt, *rest = text.split("~")
    forged = []
    for d in rest[:-1]:
        array = json.loads(unb64(d))
        if array[1] == "name":
            array[2] = "李四"
            d = b64(json.dumps(array, ensure_ascii=False).encode("utf-8"))
        forged.append(d)
    presented = "~".join([jwt, *forged]) + "~"
    payload = {
        "iat": int(time.time()),
        "aud": "hotel",
        "nonce": b64(os.urandom(16)),
        "sd_hash": b64(hashlib.sha256(presented.encode("ascii")).digest()),
    }
    text = personal(presented + jws({"alg": "ES256", "typ": "kb+jwt"}, payload, phone.key), "x")
    status, code, reason = problem(hold(client, phone.headers, text))
    assert (status, code) == (400, "presentation_refused") and reason
    # one flipped byte of the issuer's signature
    head, sig = jwt.rsplit(".", 1)
    flipped = head + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    text = personal(phone.hotel().replace(jwt, flipped, 1), "x")
    assert problem(hold(client, phone.headers, text)) == (
        400,
        "presentation_refused",
        "invalid_signature",
    )
    # a stale KB-JWT (older than the scene's max_age)
    old = phone_presents(phone.key, phone.sd_jwt, ["name", "id_number"], "hotel", iat=1)
    assert problem(hold(client, phone.headers, old))[:2] == (400, "presentation_refused")
    # the compact QR transport is not what the phone hands over
    assert problem(hold(client, phone.headers, "EC1:" + "A" * 40)) == (
        400,
        "presentation_refused",
        "malformed",
    )


def test_an_oversized_presentation_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    phone = Phone(client, auth.citizen())
    text = phone.hotel()
    padded = text.replace("~", "~" + "A" * (16 * 1024) + "~", 1)
    assert problem(hold(client, phone.headers, padded))[:2] == (400, "presentation_too_large")
    huge = "A" * (70 * 1024)  # beyond the service's body limit: werkzeug's 413
    assert problem(hold(client, phone.headers, huge))[:2] == (413, "too_large")


def test_a_removed_device_s_copy_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    phone = Phone(client, auth.citizen())
    text = phone.hotel()
    assert client.delete(f"{DEVICES}/{phone.device}", headers=phone.headers).status_code == 204
    assert problem(hold(client, phone.headers, text)) == (
        400,
        "presentation_refused",
        "revoked",
    )


def test_holding_needs_a_citizen_session(client: FlaskClient, auth: AuthActions) -> None:
    phone = Phone(client, auth.citizen())
    got = client.post(HOLD, json={"presentation": phone.hotel(), "scene": "hotel"})
    assert got.status_code == 401
    got = client.post(
        HOLD, json={"presentation": phone.hotel(), "scene": "hotel"}, headers=auth.venue()
    )
    assert got.status_code == 401
    got = hold(client, phone.headers, phone.hotel())
    assert got.status_code == 201
    body = {"presentation": phone.hotel(), "scene": "hotel", "mode": "offline"}
    assert client.post(HOLD, json=body, headers=phone.headers).status_code == 400
