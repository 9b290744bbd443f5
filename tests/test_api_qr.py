"""QR codes over HTTP (issue 4): presentation ids and images, online QR, image uploads.

On SQLite and Redis. Every PNG the service renders is decoded with a real decoder
(zxing-cpp, :func:`verifier.qrimage.decode_qr`) and compared with the ``qr`` text
exactly; venues upload a PNG and a photo-like JPEG; an online QR URL is redeemed
once; and a raw dump of the store shows no presentation or personal data.
"""

from __future__ import annotations

import io
import random
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageFilter, ImageOps
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from api.errors import PROBLEM_MIMETYPE
from api.presentations import presentations
from api.verify_api import MAX_UPLOAD_LENGTH
from keys import derive_key, generate_secret
from keys.b64 import b64url_decode
from sdjwt.qr_transport import decode_compact, is_compact
from service.presentations import (
    EXPIRED_GRACE,
    KEY_LABEL,
    MAX_ONLINE_VERSION,
    OnlineQrRefused,
    OnlineQrUnavailable,
    QrPresentations,
)
from tests.api_helpers import (
    BASE_URL,
    ID_CARD,
    AuthActions,
    api_app,
    auth,
    card_id,
    client,
    demo,
    path_of,
    services_of,
)
from tests.factory import DERIVED
from tests.hygiene import personal
from tests.redis_replies import all_bytes, as_bytes
from verifier import Verifier
from verifier.qrimage import decode_qr
from wallet.qr import qr_version

# The fixtures of tests/api_helpers.py, used by name below.
__all__ = ["api_app", "auth", "client", "demo"]

ONLINE_PREFIX = BASE_URL + "/p/"
#: The first demo citizen's name (on the resident ID card the demo issues).
NAME = personal("张三", "test_api_qr NAME")

# -- helpers ---------------------------------------------------------------------------


def problem(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """Assert a problem answer; its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIMETYPE
    body: dict[str, Any] = response.get_json()
    assert body["code"] == code and body["status"] == status
    return body



def show(
    client: FlaskClient, headers: dict[str, str], mode: str, scene: str = "hotel"
) -> dict[str, Any]:
    """POST a presentation of the citizen's ID card; the 201 answer."""
    response = client.post(
        f"/api/v1/wallet/credentials/{card_id(client, headers)}/presentations",
        headers=headers,
        json={"scene": scene, "mode": mode},
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def qr_png(client: FlaskClient, headers: dict[str, str], presentation_id: str) -> bytes:
    response = client.get(f"/api/v1/wallet/presentations/{presentation_id}/qr.png", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data()


def verify_text(
    client: FlaskClient,
    auth: AuthActions,
    qr: str,
    scene: str = "hotel",
    venue: str = "grand-hotel",
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/verify", headers=auth.venue(venue), json={"qr": qr, "scene": scene}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()
    return result


def upload(
    client: FlaskClient,
    auth: AuthActions,
    image: bytes,
    *,
    scene: str = "hotel",
    filename: str = "scan.png",
    venue: str = "grand-hotel",
) -> TestResponse:
    """POST an image of a QR code as multipart/form-data."""
    file = FileStorage(io.BytesIO(image), filename=filename, content_type="image/png")
    boundary, body = multipart({"scene": scene, "image": file})
    return client.post(
        "/api/v1/verify",
        headers=auth.venue(venue),
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def multipart(fields: dict[str, Any]) -> tuple[str, bytes]:
    """A multipart/form-data body, in memory (the test client would spool a large one to
    a temporary file that it leaves open)."""
    return encode_multipart(fields)


def codes(result: dict[str, Any]) -> list[str]:
    return [e["code"] for e in result["errors"]]


def photo_of(qr: bytes, *, angle: float = 4.0, blur: float = 1.2) -> bytes:
    """A webcam's view of a phone screen: scaled, tilted, soft, with margins, JPEG."""
    image = Image.open(io.BytesIO(qr)).convert("L")
    image = image.resize((image.width * 5 // 2, image.height * 5 // 2), Image.Resampling.BICUBIC)
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=170)
    image = image.filter(ImageFilter.GaussianBlur(blur))
    image = ImageOps.expand(image, border=100, fill=140)
    desk = Image.new("L", (image.width + 280, image.height + 180), 110)
    desk.paste(image, (190, 50))
    out = io.BytesIO()
    desk.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def noise_png(side: int = 400) -> bytes:
    """A PNG without a QR code (and too random to compress under 64 KiB)."""
    rng = random.Random(4)
    image = Image.frombytes("L", (side, side), bytes(rng.getrandbits(8) for _ in range(side**2)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def metrics_text(client: FlaskClient) -> str:
    return client.get("/metrics").get_data(as_text=True)


def advance(app: Flask, seconds: float) -> None:
    """Move the clock of the app's presentations (ids and online tokens) forward."""
    with app.app_context():
        shown = presentations()
        start = shown.clock()
        shown.clock = lambda: start + seconds


# -- offline ---------------------------------------------------------------------------


def test_an_offline_qr_is_compact_renders_and_verifies(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    body = show(client, headers, "offline")
    assert set(body) == {"id", "qr", "mode", "expires_at"} and body["mode"] == "offline"
    assert is_compact(body["qr"]) and body["qr"].startswith("EC2:")
    assert decode_compact(body["qr"]).count("~") == 3  # name and ID number, then the KB-JWT
    assert decode_qr(qr_png(client, headers, body["id"])) == body["qr"]

    # offline, with the bundle only
    anchor = client.get("/api/v1/verifier/anchor").get_json()
    offline = Verifier(client.get("/api/v1/verifier/bundle").get_json(), anchor=anchor)
    assert offline.verify(body["qr"], "hotel").valid
    # and online, once
    result = verify_text(client, auth, body["qr"])
    assert result["valid"] and set(result["claims"]) == {"name", "id_number"}
    assert codes(verify_text(client, auth, body["qr"])) == ["replayed"]


def test_the_svg_is_served_for_its_owner(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    body = show(client, headers, "online")
    response = client.get(f"/api/v1/wallet/presentations/{body['id']}/qr.svg", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["Cache-Control"] == "no-store"
    assert b"<svg" in response.get_data() and b"<path" in response.get_data()


# -- online ----------------------------------------------------------------------------


def test_an_online_qr_is_a_short_url_in_a_small_code(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    body = show(client, headers, "online")
    assert body["mode"] == "online"
    qr = body["qr"]
    assert qr.startswith(ONLINE_PREFIX)
    token = qr[len(ONLINE_PREFIX) :]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token) and len(b64url_decode(token)) >= 16
    assert qr_version(qr, "M") <= MAX_ONLINE_VERSION
    assert decode_qr(qr_png(client, headers, body["id"])) == qr
    # every presentation has its own id and token
    again = show(client, headers, "online")
    assert again["id"] != body["id"] and again["qr"] != qr


def test_an_online_qr_is_redeemed_once(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    qr = show(client, headers, "online")["qr"]
    result = verify_text(client, auth, qr)
    assert result["valid"] is True and result["status"] == "valid"
    assert result["vct"] == ID_CARD and result["claims"]["name"] == NAME
    # online, the hotel scene also gets the demo citizen's portrait (docs/formats.md)
    assert set(result["claims"]) == {"name", "id_number", "portrait"}
    again = verify_text(client, auth, qr)
    assert again["valid"] is False and codes(again) == ["replayed"] and again["claims"] == {}
    # the citizen sees the check (claim names only)
    items = client.get("/api/v1/wallet/activity", headers=headers).get_json()["items"]
    assert [(i["valid"], i["claims"]) for i in items] == [
        (True, ["name", "id_number", "portrait"])
    ]


def test_concurrent_redemptions_hand_the_presentation_out_once(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    qr = show(client, auth.citizen(), "online")["qr"]
    with api_app.app_context():
        shown = presentations()

    def redeem(_: int) -> str:
        try:
            return shown.redeem(qr, "hotel").presentation
        except OnlineQrRefused as err:
            return err.code

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(redeem, range(16)))
    handed_out = [o for o in outcomes if o != "replayed"]
    # name, ID number and (online, for the hotel) the portrait, then the KB-JWT
    assert len(handed_out) == 1 and handed_out[0].count("~") == 4


def test_an_unknown_or_mangled_token_is_malformed(client: FlaskClient, auth: AuthActions) -> None:
    real = show(client, auth.citizen(), "online")["qr"]
    for qr in (
        ONLINE_PREFIX + "A" * 22,  # well formed, never issued
        ONLINE_PREFIX + "short",
        ONLINE_PREFIX + "../../api/v1/verifier/bundle",
        real + "x",
        "https://elsewhere.example/p/" + real[len(ONLINE_PREFIX) :],  # another service's URL
    ):
        result = verify_text(client, auth, qr)
        assert codes(result) == ["malformed"], qr
    assert verify_text(client, auth, real)["valid"]  # none of that used the real one up
    assert verify_text(client, auth, real + "\r\n")["errors"][0]["code"] == "replayed"


def test_an_expired_online_qr_says_so_then_is_forgotten(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    body = show(client, headers, "online")
    max_age = body["expires_at"] - int(time.time())
    assert 0 < max_age <= 600
    advance(api_app, max_age + 1)
    assert codes(verify_text(client, auth, body["qr"])) == ["presentation_expired"]
    # its image is gone as well, like an unknown id
    gone = client.get(f"/api/v1/wallet/presentations/{body['id']}/qr.png", headers=headers)
    problem(gone, 404, "not_found")
    advance(api_app, max_age + EXPIRED_GRACE + 1)
    assert codes(verify_text(client, auth, body["qr"])) == ["malformed"]


def test_a_redeemed_then_expired_qr_is_not_valid_again(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    body = show(client, auth.citizen(), "online")
    assert verify_text(client, auth, body["qr"])["valid"]
    advance(api_app, 3600)
    assert codes(verify_text(client, auth, body["qr"])) == ["presentation_expired"]


def test_an_online_qr_for_another_scene_is_refused_without_using_it(
    client: FlaskClient, auth: AuthActions
) -> None:
    qr = show(client, auth.citizen(), "online", scene="hotel")["qr"]
    wrong = verify_text(client, auth, qr, scene="bank", venue="city-bank")
    assert codes(wrong) == ["key_binding_invalid"]
    assert verify_text(client, auth, qr)["valid"]


def test_the_short_url_itself_reveals_nothing(client: FlaskClient, auth: AuthActions) -> None:
    qr = show(client, auth.citizen(), "online")["qr"]
    page = client.get(path_of(qr))
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    text = page.get_data(as_text=True)
    assert "ecert verifier" in text
    assert NAME not in text and "eyJ" not in text and "EC1:" not in text and "EC2:" not in text
    # the same page for a token that never existed: not even an existence oracle
    assert client.get("/p/" + "B" * 22).get_data() == page.get_data()
    assert client.get("/p/anything").get_data() == page.get_data()
    # opening it did not use it up
    assert verify_text(client, auth, qr)["valid"]


def test_a_base_url_too_long_for_a_small_code_is_refused(api_app: Flask, auth: AuthActions) -> None:
    store = services_of(api_app).instance.store
    long_base = "https://" + "verification." * 7 + "example.gov.cn"
    book = QrPresentations(store, derive_key(generate_secret(), KEY_LABEL), long_base)
    with api_app.app_context():
        shown = presentations()
    svc = services_of(api_app)
    citizen = auth.citizen_ids[0]
    item = next(i for i in svc.instance.vault.items(citizen) if i.vct not in DERIVED)
    scene = svc.online.verifier().trust_list.scenes["hotel"]
    presentation = svc.instance.vault.present(citizen, item.credential_id, scene)
    with pytest.raises(OnlineQrUnavailable):
        book.show(citizen, presentation, "online")
    assert book.show(citizen, presentation, "offline").qr.startswith("EC2:")
    assert shown.show(citizen, presentation, "online").qr.startswith(ONLINE_PREFIX)


# -- QR images: the owner only ---------------------------------------------------------


@pytest.mark.parametrize("suffix", ["qr.png", "qr.svg"])
def test_only_the_owner_gets_the_image(client: FlaskClient, auth: AuthActions, suffix: str) -> None:
    owner = auth.citizen(0)
    body = show(client, owner, "online")
    url = f"/api/v1/wallet/presentations/{body['id']}/{suffix}"
    assert client.get(url, headers=owner).status_code == 200
    other = problem(client.get(url, headers=auth.citizen(1)), 404, "not_found")
    unknown = problem(
        client.get(f"/api/v1/wallet/presentations/{'C' * 22}/{suffix}", headers=owner),
        404,
        "not_found",
    )
    assert other == unknown  # another's looks exactly like none at all
    problem(client.get(url), 401, "unauthorized")
    problem(client.get(url, headers=auth.venue()), 401, "unauthorized")


# -- image uploads ---------------------------------------------------------------------


def test_a_venue_uploads_the_png_of_an_online_qr(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    body = show(client, headers, "online")
    response = upload(client, auth, qr_png(client, headers, body["id"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()
    assert result["valid"] is True and result["claims"]["name"] == NAME
    assert codes(upload(client, auth, qr_png(client, headers, body["id"])).get_json()) == [
        "replayed"
    ]


def test_a_venue_uploads_a_photo_of_an_offline_qr(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    body = show(client, headers, "offline")
    photo = photo_of(qr_png(client, headers, body["id"]))
    assert photo.startswith(b"\xff\xd8\xff") and len(photo) > 64 * 1024  # above the JSON cap
    response = upload(client, auth, photo, filename="photo.jpg")
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()
    assert result["valid"] is True, result
    assert set(result["claims"]) == {"name", "id_number"}


def test_a_photo_of_an_online_qr_verifies(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    body = show(client, headers, "online")
    photo = photo_of(qr_png(client, headers, body["id"]), angle=-4.0, blur=1.5)
    assert upload(client, auth, photo, filename="photo.jpg").get_json()["valid"] is True


@pytest.mark.parametrize(
    ("image", "why"),
    [
        (noise_png(), "no QR code"),
        (b"GIF89a" + b"\x00" * 64, "not PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "a broken PNG"),
        (b"", "empty"),
    ],
)
def test_an_image_without_a_readable_qr_is_a_malformed_result(
    client: FlaskClient, auth: AuthActions, image: bytes, why: str
) -> None:
    response = upload(client, auth, image)
    assert response.status_code == 200, (why, response.get_data(as_text=True))
    result = response.get_json()
    assert result["valid"] is False and codes(result) == ["malformed"], why
    assert result["scene"] == "hotel" and result["claims"] == {}
    # a camera frame without a code is not a verification: not counted
    assert 'ecert_verifications_total{code="malformed"' not in metrics_text(client)


def test_online_redemptions_are_counted(client: FlaskClient, auth: AuthActions) -> None:
    qr = show(client, auth.citizen(), "online")["qr"]
    verify_text(client, auth, qr)
    verify_text(client, auth, qr)
    verify_text(client, auth, ONLINE_PREFIX + "A" * 22)
    exposition = metrics_text(client)
    for line in (
        'ecert_verifications_total{code="none",result="valid"} 1.0',
        'ecert_verifications_total{code="replayed",result="invalid"} 1.0',
        'ecert_verifications_total{code="malformed",result="invalid"} 1.0',
    ):
        assert line in exposition, line


def test_the_upload_form_is_validated(client: FlaskClient, auth: AuthActions) -> None:
    venue = auth.venue()
    missing = client.post(
        "/api/v1/verify", headers=venue, data={"scene": "hotel"}, content_type="multipart/form-data"
    )
    body = problem(missing, 400, "invalid_request")
    assert body["errors"] == [
        {"in": "form", "pointer": "#/image", "code": "missing", "detail": "Field required"}
    ]
    bad_scene = upload(client, auth, noise_png(), scene="Hotel!")
    assert [
        (e["in"], e["pointer"]) for e in problem(bad_scene, 400, "invalid_request")["errors"]
    ] == [("form", "#/scene")]
    problem(upload(client, auth, noise_png(), scene="bank"), 403, "forbidden")
    problem(upload(client, auth, noise_png(), scene="hotel", venue="city-bank"), 403, "forbidden")
    # JSON keeps its validation, with the part named
    body = problem(
        client.post("/api/v1/verify", headers=venue, json={"scene": "hotel"}),
        400,
        "invalid_request",
    )
    assert [(e["in"], e["pointer"]) for e in body["errors"]] == [("body", "#/qr")]
    broken = client.post("/api/v1/verify", headers=venue, data="{", content_type="application/json")
    assert problem(broken, 400, "invalid_request")["detail"] == "The body is not valid JSON."
    # anything else is not a body this endpoint reads
    text = client.post("/api/v1/verify", headers=venue, data="EC1:...", content_type="text/plain")
    problem(text, 415, "unsupported_media_type")


def test_only_uploads_get_the_larger_body_cap(client: FlaskClient, auth: AuthActions) -> None:
    venue = auth.venue()
    big_json = client.post(
        "/api/v1/verify", headers=venue, json={"qr": "x" * (80 * 1024), "scene": "hotel"}
    )
    problem(big_json, 413, "too_large")
    huge = b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_UPLOAD_LENGTH
    problem(upload(client, auth, huge), 413, "too_large")
    # an anonymous upload is refused before its body is read
    anonymous = client.post(
        "/api/v1/verify",
        data={"scene": "hotel", "image": (io.BytesIO(noise_png()), "x.png")},
        content_type="multipart/form-data",
    )
    problem(anonymous, 401, "unauthorized")


# -- nothing in clear in the store -----------------------------------------------------


def _store_dump(app: Flask) -> bytes:
    """Every byte the store holds: the SQLite files, or every Redis key and value."""
    url = app.config.get("REDIS_URL")
    if url is None:
        folder = Path(app.config["INSTANCE"])
        # fold the WAL into the database file first, so that nothing hides in it
        with sqlite3.connect(folder / "ecert.db") as conn:
            conn.execute("PRAGMA wal_checkpoint(FULL)")
        return b"".join(
            p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith("ecert")
        )
    chunks: list[bytes] = []
    client = redis.Redis.from_url(url)
    try:
        for key in all_bytes(client.scan_iter(count=1000)):
            chunks.append(key)
            kind = client.type(key)
            if kind == b"string":
                chunks.append(as_bytes(client.get(key) or b""))
            elif kind == b"hash":
                for field, value in client.hgetall(key).items():
                    chunks += [as_bytes(field), as_bytes(value)]
            elif kind == b"set":
                chunks.extend(all_bytes(client.smembers(key)))
            elif kind == b"zset":
                chunks.extend(all_bytes(client.zrange(key, 0, -1)))
            elif kind == b"list":
                chunks.extend(all_bytes(client.lrange(key, 0, -1)))
    finally:
        client.close()
    return b"\n".join(chunks)


def _once_entries(app: Flask) -> bytes:
    """Only the short-lived entries (where presentations and tokens are kept)."""
    url = app.config.get("REDIS_URL")
    if url is None:
        with sqlite3.connect(Path(app.config["INSTANCE"]) / "ecert.db") as conn:
            rows = conn.execute("SELECT key, value FROM once_values").fetchall()
        return b"\n".join(k.encode() + b"=" + bytes(v) for k, v in rows)
    client = redis.Redis.from_url(url)
    try:
        return b"\n".join(
            key + b"=" + b"|".join(all_bytes(client.hvals(key)))
            for key in all_bytes(client.scan_iter(count=1000))
            if client.type(key) == b"hash" and b"once" in key
        )
    finally:
        client.close()


def test_the_store_holds_no_presentation_or_personal_data_in_clear(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    citizen = auth.citizen_ids[0]
    online = show(client, headers, "online")
    offline = show(client, headers, "offline")
    token = online["qr"][len(ONLINE_PREFIX) :]

    def check() -> None:
        dump = _store_dump(api_app)
        assert dump, "the dump is empty: it looked in the wrong place"
        assert NAME.encode("utf-8") not in dump
        # no JWT, hence no presentation, in clear (a JWT header, not three random bytes of
        # ciphertext that happen to read "eyJ")
        assert re.search(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ", dump) is None
        assert token.encode() not in dump and offline["qr"][:40].encode() not in dump
        once = _once_entries(api_app)
        assert b"online-qr" in once and b"qr-presentation" in once  # looked at the right rows
        for secret in (citizen, token, online["id"], offline["id"], "EC1:", "hotel"):
            assert secret.encode() not in once, secret

    check()
    assert verify_text(client, auth, online["qr"])["valid"]
    check()


# -- the contract ----------------------------------------------------------------------


def test_the_openapi_document_has_both_bodies_and_the_images(client: FlaskClient) -> None:
    from openapi_spec_validator import validate

    document = client.get("/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    verify = paths["/api/v1/verify"]["post"]
    content = verify["requestBody"]["content"]
    assert content["application/json"]["schema"]["required"] == ["qr", "scene"]
    form = content["multipart/form-data"]["schema"]
    assert form["properties"]["image"] == {**form["properties"]["image"], "format": "binary"}
    assert set(form["required"]) == {"image", "scene"}
    assert {"200", "400", "401", "403", "404", "413", "415"} <= set(verify["responses"])
    for suffix, media in (("png", "image/png"), ("svg", "image/svg+xml")):
        op = paths[f"/api/v1/wallet/presentations/{{id}}/qr.{suffix}"]["get"]
        assert op["security"] == [{"citizenToken": []}]
        assert media in op["responses"]["200"]["content"] and "404" in op["responses"]
    answer = document["components"]["schemas"]["PresentationAnswer"]
    assert set(answer["required"]) == {"id", "qr", "mode", "expires_at"}
    assert "security" not in paths["/p/{token}"]["get"]
