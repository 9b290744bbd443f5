"""keys.trustlist: the signed trust list of DESIGN.md §3 (``typ: trustlist+jwt``).

Malformed lists are signed here by hand with ``sign_compact(payload, anchor,
typ="trustlist+jwt")``: a list that is correctly signed but badly structured must
still be refused, because a verifier acts on every member of it.
"""

from __future__ import annotations

import copy
import hmac
import json
from collections.abc import Callable
from typing import Any, cast

import jwt
import pytest

from issuer import default_scenes
from keys import (
    SceneDict,
    SigningKey,
    TrustListError,
    VerifyingKey,
    build_trust_list,
    sign_compact,
    verify_trust_list,
)
from keys.b64 import b64url_decode, b64url_encode

NOW = 1_800_000_000
ANCHOR_ID = "https://ecert.example"
POLICE = "https://ecert.example/issuers/police"
CIVIL = "https://ecert.example/issuers/civil-affairs"
ID_CARD = "urn:ecert:resident-id-card"
TYP = "trustlist+jwt"


@pytest.fixture(scope="module")
def anchor() -> SigningKey:
    return SigningKey.generate("ES256")


@pytest.fixture(scope="module")
def police_keys() -> tuple[SigningKey, SigningKey]:
    return SigningKey.generate("ES256"), SigningKey.generate("EdDSA")


def issuer_entry(iss: str, *keys: SigningKey, revoked: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "iss": iss,
        "name": {"zh": "市公安局", "en": "City Police"},
        "jwks": {"keys": [dict(k.public_jwk()) for k in keys]},
        "revoked_kids": list(revoked),
        "vcts": [ID_CARD],
    }


@pytest.fixture
def payload(police_keys: tuple[SigningKey, SigningKey]) -> dict[str, Any]:
    """A well-formed trust-list payload (mutated by the structure tests)."""
    compromised = SigningKey.generate()
    return {
        "iss": ANCHOR_ID,
        "iat": NOW,
        "exp": NOW + 7 * 86400,
        "ttl": 3600,
        "issuers": [
            issuer_entry(POLICE, *police_keys, revoked=(compromised.kid,)),
            issuer_entry(CIVIL, SigningKey.generate()),
        ],
        "scenes": copy.deepcopy(default_scenes()),
    }


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    h64, p64, s64 = token.split(".")
    return json.loads(b64url_decode(h64)), json.loads(b64url_decode(p64)), s64


# -- round trip --------------------------------------------------------------------------


def test_build_and_verify_round_trip(
    anchor: SigningKey, payload: dict[str, Any], police_keys: tuple[SigningKey, SigningKey]
) -> None:
    token = build_trust_list(
        anchor,
        anchor_id=ANCHOR_ID,
        issuers=payload["issuers"],
        scenes=payload["scenes"],
        now=NOW,
        lifetime=3 * 86400,
        ttl=600,
    )
    trust = verify_trust_list(token, anchor.public_jwk())
    assert (trust.iss, trust.iat, trust.exp, trust.ttl) == (ANCHOR_ID, NOW, NOW + 3 * 86400, 600)
    assert trust.token == token
    assert set(trust.issuers) == {POLICE, CIVIL}
    police = trust.issuers[POLICE]
    assert set(police.keys) == {k.kid for k in police_keys}
    assert {k.alg for k in police.keys.values()} == {"ES256", "EdDSA"}
    assert police.revoked_kids == frozenset(payload["issuers"][0]["revoked_kids"])
    assert police.vcts == frozenset({ID_CARD})
    assert police.name == {"zh": "市公安局", "en": "City Police"}
    hotel = trust.scenes["hotel"]
    assert hotel.accept[ID_CARD] == ("name", "id_number")
    assert hotel.max_age == 120


def test_the_token_is_a_trustlist_jwt_signed_by_the_anchor(
    anchor: SigningKey, payload: dict[str, Any]
) -> None:
    token = build_trust_list(
        anchor, anchor_id=ANCHOR_ID, issuers=payload["issuers"], scenes=[], now=NOW
    )
    header, body, _ = parts(token)
    assert header == {"alg": "ES256", "typ": TYP, "kid": anchor.kid}
    assert set(body) == {"iss", "iat", "exp", "ttl", "issuers", "scenes"}
    assert body["exp"] == NOW + 7 * 86400 and body["ttl"] == 3600


def test_verify_accepts_the_anchor_as_verifying_key_or_jwk(
    anchor: SigningKey, payload: dict[str, Any]
) -> None:
    token = sign_compact(payload, anchor, typ=TYP)
    assert verify_trust_list(token, anchor.verifying_key()).iss == ANCHOR_ID
    assert verify_trust_list(token, anchor.public_jwk()).iss == ANCHOR_ID


def test_an_eddsa_anchor_works(payload: dict[str, Any]) -> None:
    anchor = SigningKey.generate("EdDSA")
    token = sign_compact(payload, anchor, typ=TYP)
    assert set(verify_trust_list(token, anchor.public_jwk()).issuers) == {POLICE, CIVIL}


def test_pyjwt_reads_our_trust_list(anchor: SigningKey, payload: dict[str, Any]) -> None:
    token = sign_compact(payload, anchor, typ=TYP)
    key = jwt.PyJWK(dict(anchor.public_jwk())).key
    # NOW is in the future: PyJWT would judge iat; only the signature interop matters here
    options: jwt.types.Options = {"verify_exp": False, "verify_iat": False}
    decoded = jwt.decode(token, key, algorithms=["ES256"], options=options)
    assert decoded["issuers"][0]["iss"] == POLICE


def test_expiry_is_left_to_the_verifier(anchor: SigningKey, payload: dict[str, Any]) -> None:
    payload["exp"] = 1  # long past: verify_trust_list still parses it
    assert verify_trust_list(sign_compact(payload, anchor, typ=TYP), anchor.public_jwk()).exp == 1


# -- signature, anchor, typ, alg ---------------------------------------------------------


def test_verify_fails_with_another_anchor(anchor: SigningKey, payload: dict[str, Any]) -> None:
    token = sign_compact(payload, anchor, typ=TYP)
    with pytest.raises(TrustListError):
        verify_trust_list(token, SigningKey.generate().public_jwk())


def test_verify_fails_when_signed_by_another_key_under_the_anchor_kid(
    anchor: SigningKey, payload: dict[str, Any]
) -> None:
    impostor = SigningKey.generate()
    token = sign_compact(payload, impostor, typ=TYP)
    p64 = token.split(".")[1]
    header = {"alg": "ES256", "typ": TYP, "kid": anchor.kid}
    forged_h64 = b64url_encode(json.dumps(header).encode())
    signature = b64url_encode(impostor.sign(f"{forged_h64}.{p64}".encode()))
    with pytest.raises(TrustListError, match="signature"):
        verify_trust_list(f"{forged_h64}.{p64}.{signature}", anchor.public_jwk())


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: p["issuers"][0]["vcts"].append("urn:ecert:passport"), id="add-vct"),
        pytest.param(lambda p: p["issuers"][0]["revoked_kids"].clear(), id="drop-revoked-kid"),
        pytest.param(lambda p: p.update(exp=p["exp"] + 1), id="extend-exp"),
        pytest.param(lambda p: p["scenes"][0].update(max_age=86400), id="widen-max-age"),
    ],
)
def test_verify_fails_on_a_tampered_payload(
    anchor: SigningKey, payload: dict[str, Any], tamper: Callable[[dict[str, Any]], None]
) -> None:
    h64, _, s64 = sign_compact(payload, anchor, typ=TYP).split(".")
    tamper(payload)
    p64 = b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
    with pytest.raises(TrustListError):
        verify_trust_list(f"{h64}.{p64}.{s64}", anchor.public_jwk())


def test_verify_fails_on_a_tampered_signature(anchor: SigningKey, payload: dict[str, Any]) -> None:
    h64, p64, s64 = sign_compact(payload, anchor, typ=TYP).split(".")
    signature = bytearray(b64url_decode(s64))
    signature[10] ^= 0x80
    with pytest.raises(TrustListError):
        verify_trust_list(f"{h64}.{p64}.{b64url_encode(bytes(signature))}", anchor.public_jwk())


@pytest.mark.parametrize(
    "typ", ["JWT", "statuslist+jwt", "dc+sd-jwt", "TRUSTLIST+JWT", "application/trustlist+jwt"]
)
def test_verify_fails_on_a_wrong_typ(anchor: SigningKey, payload: dict[str, Any], typ: str) -> None:
    with pytest.raises(TrustListError):
        verify_trust_list(sign_compact(payload, anchor, typ=typ), anchor.public_jwk())


def _forge(header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    h64 = b64url_encode(json.dumps(header).encode())
    p64 = b64url_encode(json.dumps(payload).encode())
    return f"{h64}.{p64}.{b64url_encode(sign(f'{h64}.{p64}'.encode()))}"


def test_verify_fails_when_the_alg_does_not_match_the_anchor_key(
    anchor: SigningKey, payload: dict[str, Any]
) -> None:
    # an EdDSA signature presented under the ES256 anchor's kid
    other = SigningKey.generate("EdDSA")
    token = _forge({"alg": "EdDSA", "typ": TYP, "kid": anchor.kid}, payload, other.sign)
    with pytest.raises(TrustListError, match="anchor"):
        verify_trust_list(token, anchor.public_jwk())


def test_verify_fails_when_an_eddsa_anchor_meets_es256(payload: dict[str, Any]) -> None:
    anchor = SigningKey.generate("EdDSA")
    token = _forge({"alg": "ES256", "typ": TYP, "kid": anchor.kid}, payload, anchor.sign)
    with pytest.raises(TrustListError):
        verify_trust_list(token, anchor.public_jwk())


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES384"])
def test_verify_fails_on_algorithms_outside_the_allow_list(
    anchor: SigningKey, payload: dict[str, Any], alg: str
) -> None:
    # HS256 "signed" with the anchor's public JWK as secret: the classic confusion attack
    secret = json.dumps(anchor.public_jwk()).encode()
    header = {"alg": alg, "typ": TYP, "kid": anchor.kid}
    if alg == "HS256":
        token = _forge(header, payload, lambda data: hmac.digest(secret, data, "sha256"))
    else:
        token = _forge(header, payload, anchor.sign)
    with pytest.raises(TrustListError):
        verify_trust_list(token, anchor.public_jwk())


def test_verify_fails_without_a_kid(anchor: SigningKey, payload: dict[str, Any]) -> None:
    token = _forge({"alg": "ES256", "typ": TYP}, payload, anchor.sign)
    with pytest.raises(TrustListError):
        verify_trust_list(token, anchor.public_jwk())


@pytest.mark.parametrize("param", ["jwk", "jku", "x5u", "x5c", "crit"])
def test_verify_fails_on_key_selecting_headers(
    anchor: SigningKey, payload: dict[str, Any], param: str
) -> None:
    value: Any = dict(anchor.public_jwk()) if param == "jwk" else "https://evil.example/k"
    header = {"alg": "ES256", "typ": TYP, "kid": anchor.kid, param: value}
    with pytest.raises(TrustListError):
        verify_trust_list(_forge(header, payload, anchor.sign), anchor.public_jwk())


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "not a jwt at all", "..."])
def test_verify_fails_on_garbage(anchor: SigningKey, token: str) -> None:
    with pytest.raises(TrustListError):
        verify_trust_list(token, anchor.public_jwk())


def test_verify_fails_on_an_anchor_jwk_that_is_not_a_public_key(anchor: SigningKey) -> None:
    token = sign_compact({"iss": ANCHOR_ID}, anchor, typ=TYP)
    with pytest.raises(TrustListError):
        verify_trust_list(token, {"kty": "RSA", "n": "AQAB", "e": "AQAB"})


def test_duplicate_member_names_are_refused(anchor: SigningKey, payload: dict[str, Any]) -> None:
    body = json.dumps(payload)[:-1] + ', "iss": "https://evil.example"}'
    h64 = b64url_encode(json.dumps({"alg": "ES256", "typ": TYP, "kid": anchor.kid}).encode())
    p64 = b64url_encode(body.encode())
    s64 = b64url_encode(anchor.sign(f"{h64}.{p64}".encode()))
    with pytest.raises(TrustListError):
        verify_trust_list(f"{h64}.{p64}.{s64}", anchor.public_jwk())


# -- structure ---------------------------------------------------------------------------


def _repeat_issuer(p: dict[str, Any]) -> None:
    p["issuers"].append(copy.deepcopy(p["issuers"][0]))


def _repeat_kid(p: dict[str, Any]) -> None:
    keys = p["issuers"][0]["jwks"]["keys"]
    keys.append(dict(keys[0]))


def _repeat_scene(p: dict[str, Any]) -> None:
    p["scenes"].append(copy.deepcopy(p["scenes"][0]))


def _key(p: dict[str, Any]) -> dict[str, Any]:
    key: dict[str, Any] = p["issuers"][0]["jwks"]["keys"][0]
    return key


def _scene(p: dict[str, Any]) -> dict[str, Any]:
    scene: dict[str, Any] = p["scenes"][0]
    return scene


def _issuer(p: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = p["issuers"][0]
    return entry


#: Correctly signed, badly structured payloads: each must raise TrustListError.
STRUCTURE_ERRORS: dict[str, Callable[[dict[str, Any]], object]] = {
    "repeated-iss": _repeat_issuer,
    "repeated-kid": _repeat_kid,
    "repeated-scene-id": _repeat_scene,
    "scene-with-empty-accept": lambda p: _scene(p).update(accept=[]),
    "scene-without-accept": lambda p: _scene(p).pop("accept"),
    "scene-accept-without-vct": lambda p: _scene(p)["accept"][0].pop("vct"),
    "scene-accept-claims-not-strings": lambda p: _scene(p)["accept"][0].update(claims=[1]),
    "scene-max-age-zero": lambda p: _scene(p).update(max_age=0),
    "scene-max-age-negative": lambda p: _scene(p).update(max_age=-5),
    "scene-max-age-float": lambda p: _scene(p).update(max_age=120.0),
    "scene-max-age-bool": lambda p: _scene(p).update(max_age=True),
    "scene-without-id": lambda p: _scene(p).pop("id"),
    "scene-name-without-en": lambda p: _scene(p)["name"].pop("en"),
    "scene-not-an-object": lambda p: p["scenes"].append("hotel"),
    "exp-not-an-integer": lambda p: p.update(exp="1800604800"),
    "exp-float": lambda p: p.update(exp=1.5e9),
    "exp-missing": lambda p: p.pop("exp"),
    "iat-bool": lambda p: p.update(iat=True),
    "ttl-null": lambda p: p.update(ttl=None),
    "iss-not-a-string": lambda p: p.update(iss=["https://ecert.example"]),
    "issuers-not-an-array": lambda p: p.update(issuers={}),
    "scenes-missing": lambda p: p.pop("scenes"),
    "issuer-not-an-object": lambda p: p["issuers"].append(POLICE),
    "issuer-without-iss": lambda p: _issuer(p).pop("iss"),
    "issuer-name-not-localised": lambda p: _issuer(p).update(name="Police"),
    "issuer-vcts-missing": lambda p: _issuer(p).pop("vcts"),
    "issuer-vcts-a-string": lambda p: _issuer(p).update(vcts=ID_CARD),
    "issuer-revoked-kids-not-strings": lambda p: _issuer(p).update(revoked_kids=[1]),
    "jwks-not-an-object": lambda p: _issuer(p).update(jwks=[]),
    "jwks-without-keys": lambda p: _issuer(p).update(jwks={}),
    "key-without-kid": lambda p: _key(p).pop("kid"),
    "key-kid-not-thumbprint": lambda p: _key(p).update(kid="police-2025"),
    "key-with-private-d": lambda p: _key(p).update(d="jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"),
    "key-of-another-curve": lambda p: _key(p).update(crv="P-384"),
    "key-alg-mismatch": lambda p: _key(p).update(alg="EdDSA"),
}


@pytest.mark.parametrize("name", list(STRUCTURE_ERRORS))
def test_structure_errors_are_refused(
    anchor: SigningKey, payload: dict[str, Any], name: str
) -> None:
    STRUCTURE_ERRORS[name](payload)
    token = sign_compact(payload, anchor, typ=TYP)
    with pytest.raises(TrustListError):
        verify_trust_list(token, anchor.public_jwk())


def test_scene_listing_a_vct_twice_is_refused(anchor: SigningKey, payload: dict[str, Any]) -> None:
    hotel = _scene(payload)
    assert hotel["id"] == "hotel"
    hotel["accept"].append({"vct": ID_CARD, "claims": ["name"]})  # weaker rule, listed last
    token = sign_compact(payload, anchor, typ=TYP)
    with pytest.raises(TrustListError):
        verify_trust_list(token, anchor.public_jwk())


@pytest.mark.parametrize("name", ["repeated-iss", "repeated-kid", "scene-with-empty-accept"])
def test_build_refuses_to_sign_a_list_no_verifier_would_accept(
    anchor: SigningKey, payload: dict[str, Any], name: str
) -> None:
    STRUCTURE_ERRORS[name](payload)
    with pytest.raises(TrustListError):
        build_trust_list(
            anchor,
            anchor_id=ANCHOR_ID,
            issuers=payload["issuers"],
            scenes=payload["scenes"],
            now=NOW,
        )


def test_revoked_kids_may_be_omitted(anchor: SigningKey, payload: dict[str, Any]) -> None:
    del payload["issuers"][1]["revoked_kids"]
    trust = verify_trust_list(sign_compact(payload, anchor, typ=TYP), anchor.public_jwk())
    assert trust.issuers[CIVIL].revoked_kids == frozenset()


def test_the_same_key_may_serve_two_issuers(anchor: SigningKey, payload: dict[str, Any]) -> None:
    # kids are unique per issuer; a shared HSM key under two departments is legal
    payload["issuers"][1]["jwks"] = copy.deepcopy(payload["issuers"][0]["jwks"])
    trust = verify_trust_list(sign_compact(payload, anchor, typ=TYP), anchor.public_jwk())
    assert set(trust.issuers[CIVIL].keys) == set(trust.issuers[POLICE].keys)


def test_keys_are_indexed_by_their_computed_thumbprint(
    anchor: SigningKey, payload: dict[str, Any], police_keys: tuple[SigningKey, SigningKey]
) -> None:
    trust = verify_trust_list(sign_compact(payload, anchor, typ=TYP), anchor.public_jwk())
    for key in police_keys:
        loaded = trust.issuers[POLICE].keys[key.kid]
        assert isinstance(loaded, VerifyingKey)
        loaded.verify(b"data", key.sign(b"data"))


# -- the scenes shipped by default -------------------------------------------------------

SHIPPED = ["hotel", "hospital", "bank", "internet_cafe", "pharmacy", "school"]


@pytest.mark.parametrize("scene_id", SHIPPED)
def test_default_scenes_include(scene_id: str) -> None:
    scenes = {s["id"]: s for s in default_scenes()}
    scene = scenes[scene_id]
    assert scene["name"]["zh"].strip() and scene["name"]["en"].strip()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in scene["name"]["zh"])
    rules = scene["accept"] + scene.get("all_of", [])  # school: all of two
    assert rules and all(rule["claims"] for rule in rules)
    assert isinstance(scene["max_age"], int) and scene["max_age"] > 0


def test_default_scenes_hotel_needs_only_name_and_id_number() -> None:
    hotel = next(s for s in default_scenes() if s["id"] == "hotel")
    rules = {r["vct"]: r["claims"] for r in hotel["accept"]}
    assert rules[ID_CARD] == ["name", "id_number"]


def test_default_scenes_make_a_valid_trust_list(anchor: SigningKey) -> None:
    token = build_trust_list(
        anchor,
        anchor_id=ANCHOR_ID,
        issuers=[],
        scenes=cast("list[SceneDict]", default_scenes()),
        now=NOW,
    )
    trust = verify_trust_list(token, anchor.public_jwk())
    assert set(SHIPPED) <= set(trust.scenes)
    assert trust.scenes["school"].name["en"]


def test_default_scenes_are_a_fresh_copy() -> None:
    first = default_scenes()
    first[0]["accept"].clear()
    assert default_scenes()[0]["accept"]


def test_a_jwks_of_pinned_anchors_allows_rotation_without_a_flag_day(
    anchor: SigningKey, payload: dict[str, Any]
) -> None:
    new_anchor = SigningKey.generate()
    pinned = {"keys": [dict(anchor.public_jwk()), dict(new_anchor.public_jwk())]}
    for signer in (anchor, new_anchor):
        token = sign_compact(payload, signer, typ=TYP)
        assert verify_trust_list(token, pinned).iss == payload["iss"]
    stranger = SigningKey.generate()
    with pytest.raises(TrustListError):
        verify_trust_list(sign_compact(payload, stranger, typ=TYP), pinned)
    with pytest.raises(TrustListError):
        verify_trust_list(sign_compact(payload, anchor, typ=TYP), {"keys": []})
