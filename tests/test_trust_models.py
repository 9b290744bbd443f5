"""The strict pydantic models of the trust list, the scene and the bilingual name.

Payloads are signed as raw JSON with a real anchor key (never through
``build_trust_list``, which would refuse to sign them), so each refusal comes from the
verifier's own parsing. Every refusal keeps the code ``trust_list_invalid`` (or the
catalogue's), names the field, and never repeats the value it refused.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from issuer import default_scenes, load_catalogue
from issuer.catalogue import CatalogueError, LocalisedText, parse_scenes
from keys import LocalizedName, Scene, SigningKey, TrustListError, verify_trust_list
from keys.b64 import b64url_encode
from keys.trustlist import trust_list_from_payload

ANCHOR = SigningKey.generate("ES256")
POLICE = SigningKey.generate("ES256")
#: A value that must never appear in a refusal.
SENTINEL = "张三-110101199003071233"


def signed(payload: Any) -> str:
    header = {"alg": "ES256", "typ": "trustlist+jwt", "kid": ANCHOR.kid}
    h64 = b64url_encode(json.dumps(header).encode())
    p64 = b64url_encode(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    return f"{h64}.{p64}.{b64url_encode(ANCHOR.sign(f'{h64}.{p64}'.encode()))}"


def good() -> dict[str, Any]:
    return {
        "iss": "https://ecert.example",
        "iat": 1_800_000_000,
        "exp": 1_800_600_000,
        "ttl": 3600,
        "issuers": [
            {
                "iss": "https://ecert.example/issuers/police",
                "name": {"zh": "市公安局", "en": "City Police"},
                "jwks": {"keys": [dict(POLICE.public_jwk())]},
                "revoked_kids": [],
                "vcts": ["urn:ecert:resident-id-card"],
            }
        ],
        "scenes": copy.deepcopy(default_scenes()),
    }


def mutate(path: str, value: Any) -> dict[str, Any]:
    """``good()`` with ``value`` at ``path`` ("issuers.0.name.en"); ``...`` deletes."""
    data = good()
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return data


REFUSED = [
    ("ttl", SENTINEL, "ttl"),
    ("ttl", "3600", "ttl"),
    ("iat", True, "iat"),
    ("iat", 1.8e9, "iat"),
    ("exp", 2**53 + 1, "exp"),
    ("exp", None, "exp"),
    ("iss", ..., "iss"),
    ("extra", SENTINEL, "extra"),
    ("issuers", {"iss": SENTINEL}, "issuers"),
    ("issuers.0.name.en", ..., "issuers[0].name.en"),
    ("issuers.0.name.fr", SENTINEL, "issuers[0].name.fr"),
    ("issuers.0.name", SENTINEL, "issuers[0].name"),
    ("issuers.0.vcts", [SENTINEL, 7], "issuers[0].vcts[1]"),
    ("issuers.0.revoked_kids", SENTINEL, "issuers[0].revoked_kids"),
    ("issuers.0.jwks.keys", SENTINEL, "issuers[0].jwks.keys"),
    ("issuers.0.jwks.x5u", SENTINEL, "issuers[0].jwks.x5u"),
    ("issuers.0.extra", SENTINEL, "issuers[0].extra"),
    ("scenes.0.max_age", 0, "scenes[0].max_age"),
    ("scenes.0.max_age", "120", "scenes[0].max_age"),
    ("scenes.0.accept", [], "scenes[0].accept"),
    ("scenes.0.accept", {"urn:ecert:resident-id-card": ["name"]}, "scenes[0].accept"),
    ("scenes.0.accept.0.claims", SENTINEL, "scenes[0].accept"),
    ("scenes.0.accept.0.extra", SENTINEL, "scenes[0].accept"),
    ("scenes.0.name.zh", 7, "scenes[0].name.zh"),
    ("scenes.0.id", ..., "scenes[0].id"),
]


@pytest.mark.parametrize(
    ("path", "value", "field"), REFUSED, ids=[f"{p}={v!r}" for p, v, _ in REFUSED]
)
def test_a_malformed_trust_list_is_refused_naming_the_field(
    path: str, value: Any, field: str
) -> None:
    payload = mutate(path, value)
    for signed_too in (True, False):
        with pytest.raises(TrustListError) as err:
            if signed_too:
                verify_trust_list(signed(payload), ANCHOR.verifying_key())
            else:
                trust_list_from_payload(payload)
        assert err.value.code == "trust_list_invalid"
        assert field in err.value.message
        assert SENTINEL not in err.value.message and "\n" not in err.value.message


def test_the_good_payload_is_accepted_both_ways() -> None:
    a = verify_trust_list(signed(good()), ANCHOR.verifying_key())
    b = trust_list_from_payload(good())
    assert a.scenes == b.scenes and a.issuers.keys() == b.issuers.keys()
    assert a.scenes["hotel"].accept["urn:ecert:resident-id-card"] == ("name", "id_number")


def test_a_scene_listing_a_vct_twice_is_refused() -> None:
    payload = good()
    payload["scenes"][0]["accept"].append(copy.deepcopy(payload["scenes"][0]["accept"][0]))
    with pytest.raises(TrustListError, match="twice"):
        trust_list_from_payload(payload)


def test_the_scene_round_trips_through_its_json_form() -> None:
    for raw in default_scenes():
        scene = Scene.model_validate(raw)
        assert scene.to_json() == raw
        assert Scene.model_validate(scene.to_json()) == scene


def test_the_catalogue_checks_scenes_with_the_same_model() -> None:
    scenes = default_scenes()
    scenes[0]["accept"][0]["claims"] = SENTINEL
    with pytest.raises(CatalogueError) as err:
        parse_scenes(scenes, load_catalogue(), source="scenes.json")
    assert "scenes.json[0].accept" in err.value.message and SENTINEL not in err.value.message


def test_one_bilingual_name() -> None:
    name = LocalizedName(zh="市公安局", en="City Police")
    assert LocalisedText is LocalizedName
    assert load_catalogue().types[0].name.__class__ is LocalizedName
    assert (name["zh"], name["en"], name.to_dict()) == ("市公安局", "City Police", name.to_dict())
    assert name == {"zh": "市公安局", "en": "City Police"} and name != {"zh": "市公安局"}
    assert hash(name) == hash(LocalizedName(zh="市公安局", en="City Police"))
    with pytest.raises(ValueError):
        LocalizedName.model_validate({"zh": "a", "en": 1})  # strict: no coercion
    with pytest.raises(ValueError):
        LocalizedName.model_validate({"zh": "a", "en": "b", "fr": "c"})  # extra="forbid"
    with pytest.raises(ValueError):
        name.zh = "x"  # frozen
