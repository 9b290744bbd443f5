"""wallet: holding SD-JWT VCs and presenting them (selective disclosure + KB-JWT, RFC 9901 §4.3)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from issuer import load_catalogue
from keys import LocalizedName, Scene, SigningKey, sign_compact
from keys.b64 import b64url_decode, b64url_encode
from sdjwt import decode_disclosure
from tests.factory import ID_CARD, ID_CLAIMS, NOW, World, example_value
from wallet import (
    NONCE_BYTES,
    ClaimsUnavailable,
    CredentialUnreadable,
    HeldCredential,
    NotHolder,
    Wallet,
    present,
)

DRIVING = "urn:ecert:driving-licence"


def split_presentation(text: str) -> tuple[str, list[str], str]:
    parts = text.split("~")
    return parts[0], parts[1:-1], parts[-1]


def jws_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    h64, p64, _ = token.split(".")
    return json.loads(b64url_decode(h64)), json.loads(b64url_decode(p64))


def disclosed(text: str) -> dict[str, Any]:
    _, disclosures, _ = split_presentation(text)
    out: dict[str, Any] = {}
    for encoded in disclosures:
        d = decode_disclosure(encoded)
        assert d.name is not None
        out[d.name] = d.value
    return out


def sample_claims(vct: str) -> dict[str, Any]:
    """Claims that satisfy every required claim of ``vct``."""
    values = {"date": "2020-01-01", "integer": 1, "boolean": True}
    return {
        spec.name: example_value(spec, "甲")
        if spec.type in ("id_number", "enum")
        else values.get(spec.type, "甲")
        for spec in load_catalogue().get(vct).claims
        if spec.required
    }


@pytest.fixture
def held(world: World) -> tuple[HeldCredential, Wallet]:
    return world.issue_id_card()


# -- HeldCredential.parse ------------------------------------------------------------------


def test_parse_reads_our_credential(world: World) -> None:
    wallet = world.wallet()
    issued = world.issuer.issue(
        world.police.iss, ID_CARD, subject="c", claims=ID_CLAIMS, holder_jwk=wallet.holder_jwk
    )
    held = HeldCredential.parse(issued.sd_jwt)
    assert held.sd_jwt == issued.sd_jwt
    assert (held.iss, held.vct) == (world.police.iss, ID_CARD)
    assert held.exp == issued.record.expires_at
    assert held.holder_kid == wallet.holder_key.kid
    assert set(held.disclosures) == set(ID_CLAIMS)
    assert held.plain_claims == {}
    assert held.claim_names() == set(ID_CLAIMS)
    for name, encoded in held.disclosures.items():
        assert [decode_disclosure(e).name for e in encoded] == [name]


def _credential_signed_with(payload: dict[str, Any], typ: str = "dc+sd-jwt") -> str:
    return sign_compact(payload, SigningKey.generate(), typ=typ) + "~"


def _payload(world: World, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": world.police.iss,
        "iat": NOW,
        "exp": NOW + 86400,
        "vct": ID_CARD,
        "_sd_alg": "sha-256",
        "_sd": [],
        "cnf": {"jwk": dict(world.wallet().holder_jwk)},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


GARBAGE: dict[str, Any] = {
    "empty": lambda w, c: "",
    "no-tilde": lambda w, c: c.split("~", 1)[0],
    "words": lambda w, c: "this is not a credential~",
    "three-dots": lambda w, c: "a.b.c~",
    "bad-disclosure": lambda w, c: c + "!!notbase64!!~",
    "disclosure-not-an-array": lambda w, c: c + b64url_encode(b'{"a":1}') + "~",
    "empty-disclosure": lambda w, c: c.replace("~", "~~", 1),
    "with-kb-jwt": lambda w, c: c + c.split("~", 1)[0],
    "status-list-typ": lambda w, c: _credential_signed_with(_payload(w), typ="statuslist+jwt"),
    "alg-none": lambda w, c: (
        b64url_encode(b'{"alg":"none","typ":"dc+sd-jwt"}') + "." + c.split(".")[1] + ".~"
    ),
    "no-cnf": lambda w, c: _credential_signed_with(_payload(w, cnf=None)),
    "cnf-not-a-key": lambda w, c: _credential_signed_with(_payload(w, cnf={"jwk": {"kty": "X"}})),
    "no-vct": lambda w, c: _credential_signed_with(_payload(w, vct=None)),
    "no-exp": lambda w, c: _credential_signed_with(_payload(w, exp=None)),
    "exp-a-string": lambda w, c: _credential_signed_with(_payload(w, exp="tomorrow")),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_parse_rejects(world: World, held: tuple[HeldCredential, Wallet], name: str) -> None:
    text = GARBAGE[name](world, held[0].sd_jwt)
    with pytest.raises(CredentialUnreadable):
        HeldCredential.parse(text)


def test_parse_rejects_a_presentation(held: tuple[HeldCredential, Wallet]) -> None:
    credential, wallet = held
    presentation = present(credential, ["name"], holder_key=wallet.holder_key, aud="hotel", now=NOW)
    with pytest.raises(CredentialUnreadable, match="key-binding"):
        HeldCredential.parse(presentation)


# -- Wallet.add ----------------------------------------------------------------------------------


def test_add_keeps_credentials_bound_to_this_wallet(world: World) -> None:
    wallet = world.wallet()
    first, _ = world.issue_id_card(wallet)
    second, _ = world.issue_id_card(wallet)
    assert wallet.credentials == [first, second]
    assert wallet.find(ID_CARD) is second


def test_add_rejects_a_credential_bound_to_another_holder(world: World) -> None:
    _, owner = world.issue_id_card()
    issued = world.issuer.issue(
        world.police.iss, ID_CARD, subject="c", claims=ID_CLAIMS, holder_jwk=owner.holder_jwk
    )
    thief = world.wallet()
    with pytest.raises(NotHolder):
        thief.add(issued.sd_jwt)
    assert thief.credentials == []


def test_find_raises_when_no_credential_of_the_type_is_held(world: World) -> None:
    with pytest.raises(ClaimsUnavailable):
        world.wallet().find(ID_CARD)


def test_a_wallet_makes_a_p256_holder_key() -> None:
    wallet = Wallet()
    assert wallet.holder_key.alg == "ES256"
    assert "d" not in wallet.holder_jwk
    assert wallet.holder_jwk["kid"] == wallet.holder_key.kid


# -- present -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [
        [],
        ["name"],
        ["name", "id_number"],
        ["birth_date", "sex", "address"],
        sorted(ID_CLAIMS),
    ],
    ids=["nothing", "name", "hotel", "three", "everything"],
)
def test_present_discloses_exactly_the_requested_claims(
    held: tuple[HeldCredential, Wallet], claims: list[str]
) -> None:
    credential, wallet = held
    text = present(credential, claims, holder_key=wallet.holder_key, aud="hotel", now=NOW)
    assert disclosed(text) == {name: ID_CLAIMS[name] for name in claims}
    jwt, _, kb = split_presentation(text)
    assert jwt == credential.sd_jwt.split("~", 1)[0]
    assert kb.count(".") == 2


def test_kb_jwt_has_the_members_of_design_3(held: tuple[HeldCredential, Wallet]) -> None:
    credential, wallet = held
    text = present(credential, ["name"], holder_key=wallet.holder_key, aud="hotel", now=NOW + 7)
    _, _, kb = split_presentation(text)
    header, payload = jws_parts(kb)
    assert header["typ"] == "kb+jwt"
    assert header["alg"] == "ES256"
    assert set(payload) == {"iat", "aud", "nonce", "sd_hash"}
    assert payload["iat"] == NOW + 7
    assert payload["aud"] == "hotel"
    presented = text[: len(text) - len(kb)]
    assert presented.endswith("~")
    expected = b64url_encode(hashlib.sha256(presented.encode("ascii")).digest())
    assert payload["sd_hash"] == expected


def test_kb_jwt_is_signed_by_the_holder_key(held: tuple[HeldCredential, Wallet]) -> None:
    credential, wallet = held
    text = present(credential, ["name"], holder_key=wallet.holder_key, aud="hotel", now=NOW)
    h64, p64, s64 = split_presentation(text)[2].split(".")
    wallet.holder_key.verifying_key().verify(f"{h64}.{p64}".encode(), b64url_decode(s64))


def test_nonce_has_128_bits_and_is_fresh_each_time(held: tuple[HeldCredential, Wallet]) -> None:
    credential, wallet = held
    nonces = set()
    for _ in range(5):
        text = present(credential, ["name"], holder_key=wallet.holder_key, aud="hotel", now=NOW)
        nonce = jws_parts(split_presentation(text)[2])[1]["nonce"]
        assert len(b64url_decode(nonce)) >= 16 == NONCE_BYTES
        nonces.add(nonce)
    assert len(nonces) == 5


def test_nonce_and_randomness_can_be_injected(held: tuple[HeldCredential, Wallet]) -> None:
    credential, wallet = held
    given = present(credential, [], holder_key=wallet.holder_key, aud="bank", now=NOW, nonce="n-1")
    assert jws_parts(split_presentation(given)[2])[1]["nonce"] == "n-1"
    fixed = present(
        credential,
        [],
        holder_key=wallet.holder_key,
        aud="bank",
        now=NOW,
        token_bytes=lambda n: b"\x07" * n,
    )
    assert jws_parts(split_presentation(fixed)[2])[1]["nonce"] == b64url_encode(b"\x07" * 16)


@pytest.mark.parametrize("missing", ["photo_digest", "nickname", "iss", "_sd"])
def test_a_missing_claim_raises_claims_unavailable(
    held: tuple[HeldCredential, Wallet], missing: str
) -> None:
    credential, wallet = held
    with pytest.raises(ClaimsUnavailable):
        present(credential, ["name", missing], holder_key=wallet.holder_key, aud="x", now=NOW)


def test_present_with_another_holder_key_raises_not_holder(
    held: tuple[HeldCredential, Wallet],
) -> None:
    with pytest.raises(NotHolder):
        present(held[0], ["name"], holder_key=SigningKey.generate(), aud="hotel", now=NOW)


def test_a_repeated_claim_is_disclosed_once(world: World) -> None:
    credential, wallet = world.issue_id_card()
    text = present(
        credential,
        ["name", "id_number", "name"],
        holder_key=wallet.holder_key,
        aud="hotel",
        now=world.clock(),
    )
    assert len(split_presentation(text)[1]) == 2
    assert world.verifier().verify(text, "hotel").valid


def test_a_plain_claim_needs_no_disclosure(world: World) -> None:
    dept = world.platform.register_issuer(
        "traffic", name_zh="交警支队", name_en="Traffic police", vcts=[DRIVING]
    )
    wallet = world.wallet()
    claims = sample_claims(DRIVING)
    issued = world.issuer.issue(
        dept.iss, DRIVING, subject="c", claims=claims, holder_jwk=wallet.holder_jwk
    )
    credential = wallet.add(issued.sd_jwt)
    assert credential.plain_claims == {"issuing_authority": claims["issuing_authority"]}
    text = present(
        credential,
        ["issuing_authority", "name"],
        holder_key=wallet.holder_key,
        aud="x",
        now=NOW,
    )
    assert disclosed(text) == {"name": claims["name"]}


# -- present_for_scene ---------------------------------------------------------------------------


def test_present_for_scene_discloses_what_the_scene_needs_and_verifies(world: World) -> None:
    credential, wallet = world.issue_id_card()
    verifier = world.verifier()
    world.clock.advance(30)
    for scene_id in ("hotel", "hospital", "bank"):
        scene = verifier.trust_list.scenes[scene_id]
        text = wallet.present_for_scene(credential, scene)
        assert set(disclosed(text)) == set(scene.accept[ID_CARD])
        kb = jws_parts(split_presentation(text)[2])[1]
        assert (kb["aud"], kb["iat"]) == (scene_id, NOW + 30)
        result = verifier.verify(text, scene_id)
        assert result.valid, result.errors
        assert result.claims == {c: ID_CLAIMS[c] for c in scene.accept[ID_CARD]}


def test_present_for_scene_raises_when_the_scene_does_not_accept_the_type(world: World) -> None:
    credential, wallet = world.issue_id_card()
    school = world.verifier().trust_list.scenes["school"]
    assert ID_CARD not in school.accept
    with pytest.raises(ClaimsUnavailable):
        wallet.present_for_scene(credential, school)


def test_present_for_scene_raises_when_the_credential_lacks_a_claim(world: World) -> None:
    credential, wallet = world.issue_id_card()
    scene = Scene(
        id="photo_check",
        name=LocalizedName(zh="人像核验", en="Photo check"),
        accept={ID_CARD: ("name", "photo_digest")},
        max_age=60,
    )
    with pytest.raises(ClaimsUnavailable):
        wallet.present_for_scene(credential, scene)
