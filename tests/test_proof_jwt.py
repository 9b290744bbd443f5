"""The proof JWT (``proof+jwt``) and its offline check, ``Verifier.verify_proof`` (issue 11).

The answering department signs; a verifier holding the published bundle (the trust list
says which issuer may answer which proof type) checks it with no network. Attacks are
built from raw bytes and JSON, signed with PyJWT directly where a signature must be good.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.api_jws import PyJWS

from issuer.proofs import sign_proof
from keys import SigningKey
from keys.proofjwt import MAX_PROOF, TYP_PROOF
from keys.trustlist import build_trust_list, verify_trust_list
from sdjwt import LEEWAY
from store.sqlite import SQLiteStore
from tests.factory import World
from tests.hygiene import personal
from verifier import Verifier
from verifier.errors import ERROR_CODES

CITIZEN = personal("110101199003070011", "test_proof_jwt citizen")
PURPOSE = personal("办理户籍迁移（测试）", "test_proof_jwt purpose")
ANSWER: dict[str, str | int | bool] = {"found": True, "no_criminal_record": True}


@pytest.fixture
def world(sqlite_store: SQLiteStore) -> World:
    return World(sqlite_store)


def _asking(world: World) -> str:
    return world.civil.iss


def _proof(world: World, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "iss": world.police.iss,
        "aud": _asking(world),
        "sub": CITIZEN,
        "proof_type": "no-criminal-record",
        "claims": ANSWER,
        "purpose": PURPOSE,
        "iat": int(world.clock()),
        "valid_for": 600,
    }
    args.update(overrides)
    key = overrides.pop("key", None) or world.keyring.signing_key(world.police.iss)
    args.pop("key", None)
    return sign_proof(key, **args)


def _raw(
    key: SigningKey, payload: bytes | Mapping[str, Any], header: Mapping[str, Any] | None = None
) -> str:
    """A compact JWS over exactly these payload bytes, signed with PyJWT."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"typ": TYP_PROOF, "kid": key.kid, **(header or {})}
    return PyJWS().encode(body, key.key, algorithm=key.alg, headers=headers)


def _payload(world: World) -> dict[str, Any]:
    now = int(world.clock())
    return {
        "iss": world.police.iss,
        "aud": _asking(world),
        "sub": CITIZEN,
        "proof_type": "no-criminal-record",
        "claims": dict(ANSWER),
        "purpose": PURPOSE,
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _codes(verifier: Verifier, token: str | bytes, audience: str, **kw: Any) -> list[str]:
    return verifier.verify_proof(token, audience=audience, **kw).codes


# -- a good proof ------------------------------------------------------------------------


def test_a_proof_verifies_offline_from_the_bundle(world: World) -> None:
    token = _proof(world)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {
        "alg": "ES256",
        "kid": world.keyring.signing_key(world.police.iss).kid,
        "typ": "proof+jwt",
    }
    result = world.verifier().verify_proof(token, audience=_asking(world))
    assert result.valid, result.errors
    assert result.claims == ANSWER and result.purpose == PURPOSE
    assert (result.iss, result.aud, result.sub) == (world.police.iss, _asking(world), CITIZEN)
    assert result.proof_type == "no-criminal-record"
    assert result.exp == result.iat + 600  # type: ignore[operator]
    assert result.to_dict()["valid"] is True


def test_pyjwt_verifies_the_signature_with_the_jwk_from_the_trust_list(world: World) -> None:
    token = _proof(world, iat=int(time.time()))  # PyJWT checks iat and exp on its own clock
    trust = verify_trust_list(world.bundle()["trust_list"], world.anchor_jwk)
    police = trust.issuers[world.police.iss]
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = police.keys[kid].to_jwk()
    decoded = jwt.decode(
        token,
        key=jwt.PyJWK(dict(jwk)).key,
        algorithms=["ES256"],
        audience=_asking(world),
        options={"require": ["exp", "iat"]},
    )
    assert decoded["claims"] == ANSWER and decoded["sub"] == CITIZEN
    assert "no-criminal-record" in police.proof_types


def test_the_trust_list_says_which_issuer_answers_which_proof_type(world: World) -> None:
    trust = world.verifier().trust_list
    assert "no-criminal-record" in trust.issuers[world.police.iss].proof_types
    assert "kinship-spouse" in trust.issuers[world.civil.iss].proof_types
    assert "no-criminal-record" not in trust.issuers[world.civil.iss].proof_types


# -- refusals, each with its stable code ----------------------------------------------------


def test_another_audience_is_refused(world: World) -> None:
    token = _proof(world)
    assert _codes(world.verifier(), token, world.police.iss) == ["wrong_audience"]
    result = world.verifier().verify_proof(token, audience=world.police.iss)
    assert result.claims == {} and result.to_dict()["claims"] == {}


def test_a_tampered_answer_is_refused(world: World) -> None:
    h, p, s = _proof(world, claims={"found": False}).split(".")
    payload = json.loads(base64.urlsafe_b64decode(p + "=="))
    payload["claims"]["found"] = True
    forged = f"{h}.{_b64(json.dumps(payload).encode())}.{s}"
    assert _codes(world.verifier(), forged, _asking(world)) == ["invalid_signature"]


def test_an_expired_proof_is_refused_after_the_leeway(world: World) -> None:
    token = _proof(world)
    verifier = world.verifier()
    now = world.clock()
    assert _codes(verifier, token, _asking(world), now=now + 600 + LEEWAY) == []
    assert _codes(verifier, token, _asking(world), now=now + 600 + LEEWAY + 1) == ["expired"]


def test_a_proof_dated_in_the_future_is_not_yet_valid(world: World) -> None:
    token = _proof(world, iat=int(world.clock()) + LEEWAY + 5)
    assert _codes(world.verifier(), token, _asking(world)) == ["not_yet_valid"]


def test_an_unknown_key_is_refused(world: World) -> None:
    stranger = SigningKey.generate()
    token = _raw(stranger, _payload(world))
    assert _codes(world.verifier(), token, _asking(world)) == ["unknown_key"]
    no_kid = PyJWS().encode(
        json.dumps(_payload(world)).encode(), stranger.key, algorithm="ES256",
        headers={"typ": TYP_PROOF},
    )
    assert _codes(world.verifier(), no_kid, _asking(world)) == ["unknown_key"]


def test_an_unknown_issuer_is_refused(world: World) -> None:
    payload = {**_payload(world), "iss": "https://elsewhere.example/issuers/police"}
    token = _raw(world.keyring.signing_key(world.police.iss), payload)
    assert _codes(world.verifier(), token, _asking(world)) == ["unknown_issuer"]


def test_an_issuer_not_authorised_for_the_proof_type_is_refused(world: World) -> None:
    # civil affairs signs, with its own published key, a proof that only the police answer
    civil_key = world.keyring.signing_key(world.civil.iss)
    token = _proof(world, key=civil_key, iss=world.civil.iss, aud=world.police.iss)
    assert _codes(world.verifier(), token, world.police.iss) == ["issuer_not_authorised"]
    # and a proof type nobody answers
    token = _proof(world, proof_type="no-such-proof")
    assert _codes(world.verifier(), token, _asking(world)) == ["issuer_not_authorised"]


def test_a_trust_list_of_before_proofs_still_loads_and_authorises_no_proof(world: World) -> None:
    issuers, scenes = world.platform.trust_entries()
    for entry in issuers:
        del entry["proof_types"]
    token = build_trust_list(
        world.anchor, anchor_id=world.platform.anchor_id, issuers=issuers, scenes=scenes,
        now=int(world.clock()),
    )
    trust = verify_trust_list(token, world.anchor_jwk)
    assert trust.issuers[world.police.iss].proof_types == frozenset()
    bundle = {**world.bundle(), "trust_list": token}
    old = Verifier(bundle, anchor=world.anchor_jwk, clock=world.clock)
    assert _codes(old, _proof(world), _asking(world)) == ["issuer_not_authorised"]


def test_the_wrong_typ_and_alg_are_refused(world: World) -> None:
    key = world.keyring.signing_key(world.police.iss)
    assert _codes(world.verifier(), _raw(key, _payload(world), {"typ": "JWT"}), "x") == [
        "malformed"
    ]
    h = _b64(json.dumps({"alg": "none", "typ": TYP_PROOF, "kid": key.kid}).encode())
    unsigned = f"{h}.{_b64(json.dumps(_payload(world)).encode())}.AAAA"
    assert _codes(world.verifier(), unsigned, _asking(world)) == ["unsupported_alg"]
    h = _b64(json.dumps({"alg": "HS256", "typ": TYP_PROOF, "kid": key.kid}).encode())
    assert _codes(world.verifier(), f"{h}.{unsigned.split('.')[1]}.AAAA", "x") == [
        "unsupported_alg"
    ]


def test_duplicate_members_are_refused_even_when_signed(world: World) -> None:
    key = world.keyring.signing_key(world.police.iss)
    good = json.dumps(_payload(world))
    doubled = good[:-1] + f', "aud": "{world.police.iss}"}}'
    assert _codes(world.verifier(), _raw(key, doubled.encode()), world.police.iss) == [
        "malformed"
    ]
    claims_doubled = good.replace('"found": true', '"found": false, "found": true')
    assert _codes(world.verifier(), _raw(key, claims_doubled.encode()), _asking(world)) == [
        "malformed"
    ]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"claims": {"found": True, "x": {"nested": 1}}}, id="nested-claim"),
        pytest.param({"claims": {"found": True, "x": [1]}}, id="array-claim"),
        pytest.param({"claims": {"found": True, "x": None}}, id="null-claim"),
        pytest.param({"claims": {"found": True, "x": 1.5}}, id="float-claim"),
        pytest.param({"claims": {"found": True, "x": 2**60}}, id="huge-integer"),
        pytest.param({"claims": {"found": True, "x": "a" * 513}}, id="long-text"),
        pytest.param({"claims": {"found": True, "Bad Name": 1}}, id="bad-claim-name"),
        pytest.param({"claims": {"found": "yes"}}, id="found-not-boolean"),
        pytest.param({"claims": {"no_criminal_record": True}}, id="no-found"),
        pytest.param({"claims": {f"c{i}": 1 for i in range(40)} | {"found": True}}, id="many"),
        pytest.param({"claims": []}, id="claims-array"),
        pytest.param({"aud": ["a", "b"]}, id="aud-array"),
        pytest.param({"sub": 5}, id="sub-number"),
        pytest.param({"proof_type": "Not An Id"}, id="proof-type-grammar"),
        pytest.param({"purpose": "p" * 201}, id="purpose-too-long"),
        pytest.param({"iat": "now"}, id="iat-string"),
        pytest.param({"exp": True}, id="exp-boolean"),
        pytest.param({"extra": 1}, id="unknown-member"),
        pytest.param({"exp": 10**10}, id="lifetime-too-long"),
        pytest.param({"jti": ""}, id="empty-jti"),
    ],
)
def test_claim_types_and_bounds_are_checked_after_the_signature(
    world: World, change: dict[str, Any]
) -> None:
    key = world.keyring.signing_key(world.police.iss)
    token = _raw(key, {**_payload(world), **change})
    assert _codes(world.verifier(), token, _asking(world)) == ["malformed"]


def test_a_missing_member_is_refused(world: World) -> None:
    key = world.keyring.signing_key(world.police.iss)
    for name in ("aud", "sub", "proof_type", "claims", "purpose", "iat", "exp", "jti", "iss"):
        payload = _payload(world)
        del payload[name]
        assert _codes(world.verifier(), _raw(key, payload), _asking(world)) == ["malformed"], name


def test_size_depth_and_grammar_are_bounded(world: World) -> None:
    key = world.keyring.signing_key(world.police.iss)
    verifier = world.verifier()
    assert _codes(verifier, "a" * (MAX_PROOF + 1), "x") == ["malformed"]
    big = {**_payload(world), "purpose": "p" * MAX_PROOF}
    assert _codes(verifier, _raw(key, big), _asking(world)) == ["malformed"]
    deep = json.dumps(_payload(world))[:-1] + ', "claims2": ' + "[" * 100 + "]" * 100 + "}"
    assert _codes(verifier, _raw(key, deep.encode()), _asking(world)) == ["malformed"]
    for junk in ("", "a.b", "a.b.c.d", "not a jwt", "é.é.é"):
        assert _codes(verifier, junk, "x") == ["malformed"], junk
    assert _codes(verifier, 12, "x") == ["malformed"]  # type: ignore[arg-type]


def test_a_stale_trust_list_is_reported_with_the_rest(world: World) -> None:
    verifier = world.verifier()
    token = _proof(world)
    far = world.clock() + 8 * 24 * 3600
    assert _codes(verifier, token, _asking(world), now=far) == ["trust_list_stale", "expired"]


def test_every_code_verify_proof_reports_is_a_stable_verifier_code() -> None:
    for code in ("wrong_audience", "issuer_not_authorised", "expired", "not_yet_valid",
                 "unknown_key", "invalid_signature", "malformed", "unsupported_alg"):
        assert code in ERROR_CODES


@pytest.fixture(scope="module")
def fixed_verifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Verifier, str]:
    store = SQLiteStore(str(tmp_path_factory.mktemp("proofs") / "ecert.db"))
    world = World(store)
    return world.verifier(), _proof(world)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_input_is_answered_with_stable_codes_never_an_exception(
    fixed_verifier: tuple[Verifier, str], data: st.DataObject
) -> None:
    verifier, token = fixed_verifier
    mutated = data.draw(
        st.one_of(
            st.text(max_size=200),
            st.binary(max_size=200),
            st.builds(
                lambda i, c: token[:i] + c + token[i + 1 :],
                st.integers(0, len(token) - 1),
                st.sampled_from("AZaz09-_.~=é"),
            ),
        )
    )
    result = verifier.verify_proof(mutated, audience="https://ecert.example/issuers/x")
    assert result.errors and all(e["code"] in ERROR_CODES for e in result.errors)
    assert result.claims == {}
