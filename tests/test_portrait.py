"""The portrait (issue 9): an ``image`` claim of the resident ID card, typed and bounded
in the catalogue and checked at issuance; scenes that ask for it get it from online
presentations only; the offline QR code never carries it and stays small. And the
scanner's verdict table (``api.pages.SCAN_VERDICTS``), which must class every code the
verify API can return, and the ``made_for`` of a code refused for another scene.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.pages import SCAN_VERDICTS, strings
from cli.seed import demo_portrait
from issuer import load_catalogue, validate_claims
from issuer.catalogue import CatalogueError, parse_catalogue, parse_scenes
from issuer.errors import ClaimsInvalid
from keys.trustlist import PORTRAIT_CLAIM, Scene
from sdjwt import decode_disclosure
from sdjwt.qr_transport import decode_compact
from service.errors import OnlineQrRefused
from tests.api_helpers import ID_CARD, AuthActions, api_app, auth, card_id, client, demo
from tests.factory import ID_CLAIMS, World
from tests.hygiene import LogLine, find_leaks, personal
from verifier.errors import ERROR_CODES
from wallet.presentation import present
from wallet.qr import presentation_qr_text, qr_version

__all__ = ["api_app", "auth", "client", "demo"]

CARD = load_catalogue().get(ID_CARD)
SPEC = CARD.claim(PORTRAIT_CLAIM)
assert SPEC.max_bytes is not None
MAX_BYTES: int = SPEC.max_bytes
#: The largest QR version the hotel's offline code may need at level M (issue 9).
MAX_HOTEL_VERSION = 22
#: A value that must never be echoed by an error message.
SECRET = personal("SEKRIT-portrait-张三", "test_portrait SECRET")


def jpeg_url(size: int) -> str:
    """A data URL of ``size`` bytes that start like a JPEG (random, so incompressible)."""
    data = b"\xff\xd8\xff\xe0" + os.urandom(size - 4)
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def claims_with(portrait: object) -> dict[str, Any]:
    return {**ID_CLAIMS, PORTRAIT_CLAIM: portrait}


# -- the catalogue and issuance ----------------------------------------------------------


def test_the_id_card_portrait_is_a_bounded_selectively_disclosable_image() -> None:
    assert SPEC.type == "image" and SPEC.sd and not SPEC.required
    assert set(SPEC.media_types) == {"image/jpeg", "image/png"}
    assert 1024 <= MAX_BYTES <= 6 * 1024
    # no scene lists it among the claims it requires: it is never needed to pass
    for scene in parse_scenes(json.loads(_scenes_json()), load_catalogue()):
        for rule in scene["accept"]:
            assert PORTRAIT_CLAIM not in rule["claims"], scene["id"]


def _scenes_json() -> str:
    from importlib import resources

    return resources.files("issuer").joinpath("data", "scenes.json").read_text("utf-8")


def test_a_portrait_at_its_limit_is_accepted_in_both_media_types() -> None:
    assert validate_claims(CARD, claims_with(jpeg_url(MAX_BYTES)))[PORTRAIT_CLAIM]
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    value = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    assert validate_claims(CARD, claims_with(value))[PORTRAIT_CLAIM] == value
    assert validate_claims(CARD, claims_with(demo_portrait("x")))[PORTRAIT_CLAIM]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (jpeg_url(MAX_BYTES + 1), "larger than"),
        ("data:image/jpeg;base64," + "A" * 200_000, "larger than"),  # refused before decoding
        ("data:image/gif;base64," + base64.b64encode(b"GIF89a" + b"\0" * 16).decode(), "must be"),
        ("data:image/jpeg;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n\0").decode(), "not a"),
        ("data:image/png;base64," + base64.b64encode(b"\xff\xd8\xff\xe0\0").decode(), "not a"),
        ("data:image/jpeg;base64,/9j_4AAQ", "data URL"),  # base64url is not base64
        ("data:image/jpeg;base64,/9j/4AA", "data URL"),  # not a multiple of 4
        ("data:image/jpeg,/9j/4AAQ", "data URL"),  # not base64
        ("data:image/jpeg;base64,/9j/4AAQ\n", "data URL"),
        ("https://example.com/me.jpg", "data URL"),
        ("", "data URL"),
        (f"data:image/jpeg;base64,{SECRET}", "data URL"),
        (12345, "image data URL"),
        ({"src": "x"}, "image data URL"),
    ],
)
def test_issuance_refuses_what_is_not_a_small_jpeg_or_png(value: object, why: str) -> None:
    with pytest.raises(ClaimsInvalid) as caught:
        validate_claims(CARD, claims_with(value))
    assert caught.value.field == PORTRAIT_CLAIM
    assert why in caught.value.message
    assert SECRET not in caught.value.message and "base64,/" not in caught.value.message


def test_the_world_issues_and_refuses_portraits(world: World) -> None:
    held, _ = world.issue_id_card(claims=claims_with(demo_portrait("citizen-1")))
    assert PORTRAIT_CLAIM in held.disclosures
    with pytest.raises(ClaimsInvalid):
        world.issue_id_card(claims=claims_with(jpeg_url(MAX_BYTES + 1)))


def _raw_catalogue() -> list[dict[str, Any]]:
    return [t.to_dict() for t in load_catalogue().types]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("media_types"), "needs 'media_types' and 'max_bytes'"),
        (lambda c: c.pop("max_bytes"), "needs 'media_types' and 'max_bytes'"),
        (lambda c: c.update(media_types=[]), "needs 'media_types' and 'max_bytes'"),
        (lambda c: c.update(media_types=["image/gif"]), "media_types"),
        (lambda c: c.update(max_bytes=64 * 1024), "max_bytes"),
        (lambda c: c.update(sd=False), "selectively disclosable"),
        (lambda c: c.update(type="string", max_length=10), "only image claims"),
    ],
)
def test_the_catalogue_checks_image_claims(change: Any, message: str) -> None:
    data = _raw_catalogue()
    card = next(t for t in data if t["vct"] == ID_CARD)
    portrait = next(c for c in card["claims"] if c["name"] == PORTRAIT_CLAIM)
    change(portrait)
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(data)


def test_a_scene_may_ask_for_a_portrait_only_of_a_type_that_has_one() -> None:
    catalogue = load_catalogue()
    hotel = next(
        s for s in parse_scenes(json.loads(_scenes_json()), catalogue) if s["id"] == "hotel"
    )
    assert hotel["portrait"] is True
    school = {
        "id": "school",
        "name": {"zh": "入学", "en": "School"},
        "accept": [{"vct": "urn:ecert:birth-medical-certificate", "claims": ["name"]}],
        "max_age": 120,
        "portrait": True,
        "category": "education",
    }
    with pytest.raises(CatalogueError, match="portrait"):
        parse_scenes([school], catalogue)
    with pytest.raises(CatalogueError):
        parse_scenes([{**school, "portrait": "yes"}], catalogue)


def test_the_scene_model_writes_portrait_only_when_true() -> None:
    base = {
        "id": "hotel",
        "name": {"zh": "旅馆", "en": "Hotel"},
        "accept": [{"vct": ID_CARD, "claims": ["name"]}],
        "max_age": 120,
    }
    assert "portrait" not in Scene.model_validate(base).to_json()
    assert Scene.model_validate({**base, "portrait": False}).portrait is False
    assert Scene.model_validate({**base, "portrait": True}).to_json()["portrait"] is True


# -- offline and online presentations ----------------------------------------------------


def test_the_offline_hotel_code_carries_no_portrait_and_stays_small(world: World) -> None:
    # the largest portrait the catalogue allows: only its digest is in the credential
    held, wallet = world.issue_id_card(claims=claims_with(jpeg_url(MAX_BYTES)))
    hotel = world.verifier().trust_list.scenes["hotel"]
    assert hotel.portrait
    presentation = wallet.present_for_scene(held, hotel)
    disclosed = [decode_disclosure(d).name for d in presentation.split("~")[1:-1]]
    assert disclosed == ["name", "id_number"]
    text = presentation_qr_text(presentation)
    assert qr_version(text, "M") <= MAX_HOTEL_VERSION, qr_version(text, "M")
    result = world.verifier().verify(text, "hotel")
    assert result.valid and PORTRAIT_CLAIM not in result.claims


def test_a_disclosed_portrait_reaches_only_scenes_that_ask_for_it(world: World) -> None:
    portrait = jpeg_url(MAX_BYTES)  # the largest: the presentation stays under 16 KiB
    held, wallet = world.issue_id_card(claims=claims_with(portrait))
    verifier = world.verifier()
    scenes = verifier.trust_list.scenes

    for scene_id, expected in (("hotel", True), ("hospital", False), ("pharmacy", False)):
        scene = scenes[scene_id]
        wanted = (*scene.accept[ID_CARD], PORTRAIT_CLAIM)
        text = present(held, wanted, holder_key=wallet.holder_key, aud=scene_id, now=world.clock())
        result = verifier.verify(text, scene_id)
        assert result.valid, result.errors
        assert (result.claims.get(PORTRAIT_CLAIM) == portrait) is expected, scene_id
        if not expected:
            assert PORTRAIT_CLAIM not in result.to_dict()["claims"]


def _show(client: FlaskClient, headers: dict[str, str], mode: str) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/wallet/credentials/{card_id(client, headers)}/presentations",
        headers=headers,
        json={"scene": "hotel", "mode": mode},
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _verify(
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


def test_online_the_hotel_sees_the_demo_portrait_and_offline_it_does_not(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    offline = _show(client, headers, "offline")
    assert "portrait" not in decode_compact(offline["qr"])
    assert all(
        decode_disclosure(d).name != PORTRAIT_CLAIM
        for d in decode_compact(offline["qr"]).split("~")[1:-1]
    )
    assert qr_version(offline["qr"], "M") <= MAX_HOTEL_VERSION
    result = _verify(client, auth, offline["qr"])
    assert result["valid"] and set(result["claims"]) == {"name", "id_number"}

    online = _show(client, headers, "online")
    result = _verify(client, auth, online["qr"])
    assert result["valid"], result
    portrait = result["claims"][PORTRAIT_CLAIM]
    assert portrait.startswith("data:image/jpeg;base64,")
    assert validate_claims(CARD, claims_with(portrait))[PORTRAIT_CLAIM] == portrait


def test_the_scenes_endpoint_says_which_scenes_want_a_portrait(client: FlaskClient) -> None:
    scenes = {s["id"]: s for s in client.get("/api/v1/scenes").get_json()}
    assert scenes["hotel"]["portrait"] is True and scenes["bank"]["portrait"] is True
    assert scenes["hospital"]["portrait"] is False
    spec = client.get("/openapi.json").get_json()["components"]["schemas"]
    assert "portrait" in spec["Scene"]["properties"]


# -- a code for another scene ----------------------------------------------------------------


def test_a_code_for_another_scene_says_which_one(client: FlaskClient, auth: AuthActions) -> None:
    headers = auth.citizen()
    for mode in ("offline", "online"):
        qr = _show(client, headers, mode)["qr"]
        result = _verify(client, auth, qr, scene="bank", venue="city-bank")
        assert not result["valid"] and "key_binding_invalid" in [
            e["code"] for e in result["errors"]
        ]
        assert result["made_for"] == "hotel", mode
        # still usable where it was made for
        assert _verify(client, auth, qr)["valid"]
    # a valid result, and a refusal for another reason, say nothing of it
    qr = _show(client, headers, "offline")["qr"]
    assert "made_for" not in _verify(client, auth, qr)
    assert "made_for" not in _verify(client, auth, qr)  # replayed
    assert "made_for" not in _verify(client, auth, "EC1:nonsense")


def test_made_for_names_only_scenes_of_the_trust_list(world: World) -> None:
    held, wallet = world.issue_id_card()
    verifier = world.verifier()

    for aud, named in (("hotel", "hotel"), ("https://evil.example/x", None), ("nowhere", None)):
        text = present(
            held, ("name", "id_number"), holder_key=wallet.holder_key, aud=aud, now=world.clock()
        )
        result = verifier.verify(text, "pharmacy")
        assert [e["code"] for e in result.errors] == ["key_binding_invalid"]
        assert result.made_for == named
        assert result.to_dict().get("made_for") == named
    # an expected audience (OpenID4VP-style) is not a scene: never named
    text = present(
        held, ("name", "id_number"), holder_key=wallet.holder_key, aud="hotel", now=world.clock()
    )
    result = verifier.verify(text, "pharmacy", expected_aud="https://rp.example")
    assert result.made_for is None


# -- the scanner's verdict table -------------------------------------------------------------


def _verify_api_codes() -> set[str]:
    """Every code ``POST /api/v1/verify`` can put in a result: the verifier's, and those
    of refused online QR codes (service.errors)."""
    from service import errors as service_errors

    online = {
        cls.code
        for cls in vars(service_errors).values()
        if isinstance(cls, type) and issubclass(cls, OnlineQrRefused) and cls is not OnlineQrRefused
    }
    return set(ERROR_CODES) | online


def test_every_code_the_verify_api_returns_has_a_verdict() -> None:
    assert _verify_api_codes() <= set(SCAN_VERDICTS)
    assert set(SCAN_VERDICTS) <= set(ERROR_CODES)  # and no stale entry
    assert set(SCAN_VERDICTS.values()) == {"retry", "recheck", "refuse"}


@pytest.mark.parametrize(
    "code",
    [
        "revoked",
        "suspended",
        "invalid_signature",
        "unknown_issuer",
        "issuer_not_authorised",
        "unsupported_alg",
        "key_compromised",
        "disclosure_invalid",
        "replayed",
        "expired",
    ],
)
def test_what_the_certificate_itself_fails_is_refused(code: str) -> None:
    assert SCAN_VERDICTS[code] == "refuse"


@pytest.mark.parametrize(
    "code", ["malformed", "presentation_expired", "key_binding_invalid", "scene_unmet"]
)
def test_what_a_new_code_can_fix_asks_for_one(code: str) -> None:
    assert SCAN_VERDICTS[code] == "retry"


def test_the_page_gets_the_table_and_the_texts_of_every_class(client: FlaskClient) -> None:
    for lang in ("zh", "en"):
        html = client.get(f"/scan?lang={lang}").get_data(as_text=True)
        block = html.split('<script type="application/json" id="strings">', 1)[1]
        data = json.loads(block.split("</script>", 1)[0])
        assert data["verdicts"] == SCAN_VERDICTS
        for verdict in ("retry", "recheck", "refuse"):
            assert data[f"scan_verdict_{verdict}"] and data[f"scan_verdict_{verdict}_hint"]
        for code in SCAN_VERDICTS:
            assert code in strings()[lang]["codes"]
        assert "{scene}" in data["scan_made_for"] and "{here}" in data["scan_made_for"]


# -- the landing page and the online QR page -------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_landing_page(client: FlaskClient, lang: str) -> None:
    response = client.get(f"/?lang={lang}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    suffix = "" if lang == "zh" else "?lang=en"
    for href in (f'href="/wallet{suffix}"', f'href="/scan{suffix}"', 'href="/openapi.json"'):
        assert href in html
    assert strings()[lang]["landing_title"] in html
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_online_qr_page_is_a_styled_page_that_reveals_nothing(
    client: FlaskClient, auth: AuthActions, lang: str
) -> None:
    qr = _show(client, auth.citizen(), "online")["qr"]
    path = qr[qr.index("/p/") :]
    page = client.get(f"{path}?lang={lang}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Robots-Tag"] == "noindex"
    html = page.get_data(as_text=True)
    assert strings()[lang]["p_heading"] in html and "app.css" in html
    assert "张三" not in html and "eyJ" not in html
    # the same page for a token that never existed
    assert client.get(f"/p/{'B' * 22}?lang={lang}").get_data() == page.get_data()
    assert _verify(client, auth, qr)["valid"]


# -- log hygiene -----------------------------------------------------------------------------


def test_a_portrait_in_a_log_line_is_caught_whatever_it_shows() -> None:
    line = f"claims portrait={demo_portrait('anyone')}"
    assert [leak.what for leak in find_leaks([LogLine("t", line)], {})] == [
        "a portrait (image data URL)"
    ]
    assert find_leaks([LogLine("t", "media type data:image/jpeg;base64, allowed")], {}) == []


# -- issuance over HTTP ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "portrait",
    [
        "big",  # one byte over max_bytes
        "data:image/svg+xml;base64," + base64.b64encode(b"<svg onload=alert(1)>").decode(),
        "data:image/jpeg;base64," + base64.b64encode(b"<html>not a jpeg</html>").decode(),
    ],
)
def test_a_department_cannot_issue_a_bad_portrait(
    client: FlaskClient, auth: AuthActions, portrait: str
) -> None:
    value = jpeg_url(MAX_BYTES + 1) if portrait == "big" else portrait
    response = client.post(
        "/api/v1/issuers/police/credentials",
        headers=auth.department(),
        json={"vct": ID_CARD, "citizen_id": auth.citizen_ids[0], "claims": claims_with(value)},
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == "claims_invalid" and body["field"] == PORTRAIT_CLAIM
    assert value[30:60] not in response.get_data(as_text=True)


def test_a_department_issues_a_portrait_at_its_limit(
    client: FlaskClient, auth: AuthActions
) -> None:
    response = client.post(
        "/api/v1/issuers/police/credentials",
        headers=auth.department(),
        json={
            "vct": ID_CARD,
            "citizen_id": auth.citizen_ids[1],
            "claims": claims_with(jpeg_url(MAX_BYTES)),
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
