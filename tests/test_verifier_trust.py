"""The verifier's trust source, expected audience and nonce, and keys.jws.verify_compact.

Tokens are forged from raw JSON and bytes (tests.test_verifier's ``sign_raw``), so each
negative test fails for exactly the reason its name says.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

import pytest

from keys import (
    FormatError,
    KeyState,
    SignatureInvalid,
    SigningKey,
    TrustListError,
    VerifyingKey,
)
from keys.b64 import b64url_encode
from keys.errors import UnsupportedAlgorithm, WrongType
from keys.jws import verify_compact
from keys.trustlist import trust_list_from_payload
from service.verification import LiveStatusSource, OnlineVerifier
from tests.factory import ID_CARD, World
from tests.test_verifier import HOTEL_CLAIMS, Card, make_card, rejected_with, sign_raw
from verifier import (
    BundleTrustSource,
    LiveTrustSource,
    TrustSource,
    UnknownScene,
    VerificationResult,
    Verifier,
)
from verifier.errors import KeyCompromised, UnknownIssuer, UnknownKey

VENUE = "https://venue.example/grand-hotel"


@pytest.fixture
def card(world: World) -> Card:
    return make_card(world)


def _sd_hash(presented: str) -> str:
    digest = hashlib.sha256(presented.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def present_raw(card: Card, **kb: Any) -> str:
    """``jwt~name~id_number~`` and a KB-JWT whose payload is built from raw JSON:
    ``iat``, ``aud`` "hotel", a fresh ``nonce`` and the right ``sd_hash``, then ``kb``
    (a value of None removes the member)."""
    presented = "~".join([card.jwt, *card.disclosures(HOTEL_CLAIMS)]) + "~"
    body: dict[str, Any] = {
        "iat": int(card.now),
        "aud": "hotel",
        "nonce": b64url_encode(secrets.token_bytes(16)),
        "sd_hash": _sd_hash(presented),
    }
    for name, value in kb.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    holder = card.wallet.holder_key
    return presented + sign_raw({"alg": holder.alg, "typ": "kb+jwt"}, body, holder)


def only(result: VerificationResult, code: str) -> bool:
    return rejected_with(result, code) and set(result.codes) == {code}


# -- expected audience -----------------------------------------------------------------


def test_default_audience_is_still_the_scene(card: Card) -> None:
    v = card.world.verifier()
    assert v.verify(present_raw(card), "hotel").valid
    assert only(v.verify(present_raw(card, aud="bank"), "hotel"), "key_binding_invalid")


def test_expected_audience_is_accepted(card: Card) -> None:
    result = card.world.verifier().verify(present_raw(card, aud=VENUE), "hotel", expected_aud=VENUE)
    assert (result.valid, result.errors) == (True, [])


def test_expected_audience_replaces_the_scene_id(card: Card) -> None:
    v = card.world.verifier()
    result = v.verify(present_raw(card, aud="hotel"), "hotel", expected_aud=VENUE)
    assert only(result, "key_binding_invalid")
    assert "expected audience" in result.errors[0]["message"]


@pytest.mark.parametrize(
    "aud",
    [[VENUE], [VENUE, "https://other.example"], ["hotel"], [], {"aud": VENUE}, 7, ""],
    ids=["array-of-it", "array-with-it", "array-of-scene", "empty-array", "object", "int", "empty"],
)
@pytest.mark.parametrize("expected", [None, VENUE])
def test_an_audience_that_is_not_the_one_string_is_refused(
    card: Card, aud: Any, expected: str | None
) -> None:
    """RFC 9901 §4.3: a KB-JWT's ``aud`` is a single string; an array is refused even
    when it holds the expected audience (a presentation made for several verifiers
    could be replayed by any of them)."""
    result = card.world.verifier().verify(
        present_raw(card, aud=aud), "hotel", expected_aud=expected
    )
    assert only(result, "key_binding_invalid")


def test_a_missing_audience_is_refused(card: Card) -> None:
    result = card.world.verifier().verify(present_raw(card, aud=None), "hotel", expected_aud=VENUE)
    assert only(result, "key_binding_invalid")


def test_an_audience_differing_in_one_byte_is_refused(card: Card) -> None:
    near = VENUE[:-1] + chr(ord(VENUE[-1]) ^ 1)
    result = card.world.verifier().verify(present_raw(card, aud=near), "hotel", expected_aud=VENUE)
    assert only(result, "key_binding_invalid")


# -- expected nonce --------------------------------------------------------------------


def test_expected_nonce_is_accepted(card: Card) -> None:
    result = card.world.verifier().verify(
        present_raw(card, nonce="n-0S9wX4"), "hotel", expected_nonce="n-0S9wX4"
    )
    assert (result.valid, result.errors) == (True, [])


@pytest.mark.parametrize(
    "given", ["n-0S9wX5", "n-0S9wX", "n-0S9wX4 ", "N-0S9WX4", "n-0S9wX4\u0000", "ñ-0S9wX4"]
)
def test_another_nonce_is_refused_and_not_used_up(card: Card, given: str) -> None:
    v = card.world.verifier()
    wrong = present_raw(card, nonce=given)
    result = v.verify(wrong, "hotel", expected_nonce="n-0S9wX4")
    assert only(result, "key_binding_invalid")
    assert "nonce" in result.errors[0]["message"]
    # the refused presentation did not use up its nonce: shown where it is expected, it passes
    assert v.verify(wrong, "hotel", expected_nonce=given).valid


def test_no_expected_nonce_keeps_todays_behaviour(card: Card) -> None:
    assert card.world.verifier().verify(present_raw(card, nonce="anything"), "hotel").valid


def test_expected_aud_and_nonce_together(card: Card) -> None:
    text = present_raw(card, aud=VENUE, nonce="n1")
    v = card.world.verifier()
    assert only(
        v.verify(text, "hotel", expected_aud=VENUE, expected_nonce="n2"), "key_binding_invalid"
    )
    assert v.verify(text, "hotel", expected_aud=VENUE, expected_nonce="n1").valid


# -- trust sources ---------------------------------------------------------------------


def live_verifier(world: World, **kwargs: Any) -> Verifier:
    source = LiveTrustSource(world.platform.live_trust_list(), LiveStatusSource(world.store))
    return Verifier(source, clock=world.clock, **kwargs)


def test_a_live_trust_source_verifies_like_the_bundle(card: Card) -> None:
    text = card.for_scene("hotel")
    offline = card.world.verifier().verify(text, "hotel")
    live = live_verifier(card.world).verify(text, "hotel")
    assert live.to_dict() == offline.to_dict()
    assert live.valid


def test_a_live_trust_source_sees_a_revocation_at_once(card: Card) -> None:
    card.world.issuer.revoke(card.world.police.iss, card.world.last_id)
    assert only(live_verifier(card.world).verify(card.for_scene("hotel"), "hotel"), "revoked")


@pytest.mark.parametrize("make", ["bundle", "live"])
def test_the_key_resolver_answers_with_stable_codes(card: Card, make: str) -> None:
    world = card.world
    source: TrustSource = (
        world.verifier().source if make == "bundle" else live_verifier(world).source
    )
    police = world.police.iss
    kid = card.header["kid"]
    assert isinstance(source.issuer_key(police, kid), VerifyingKey)
    with pytest.raises(UnknownIssuer) as unknown:
        source.issuer_key("https://ecert.example/issuers/nobody", kid)
    with pytest.raises(UnknownKey) as no_kid:
        source.issuer_key(police, None)
    with pytest.raises(UnknownKey) as other_kid:
        source.issuer_key(police, "not-a-kid")
    with pytest.raises(UnknownScene):
        source.scene("casino")
    assert (unknown.value.code, no_kid.value.code, other_kid.value.code) == (
        "unknown_issuer",
        "unknown_key",
        "unknown_key",
    )
    assert source.may_issue(police, ID_CARD)
    assert not source.may_issue(world.civil.iss, ID_CARD)


def test_a_compromised_key_is_refused_by_the_live_source(card: Card) -> None:
    world = card.world
    kid = card.header["kid"]
    world.keyring.set_state(kid, KeyState.COMPROMISED)
    with pytest.raises(KeyCompromised) as err:
        live_verifier(world).source.issuer_key(world.police.iss, kid)
    assert err.value.code == "key_compromised"
    assert only(live_verifier(world).verify(card.for_scene("hotel"), "hotel"), "key_compromised")


def test_a_bundle_verifier_keeps_its_bundle_and_a_live_one_has_none(card: Card) -> None:
    assert isinstance(card.world.verifier().source, BundleTrustSource)
    assert card.world.verifier().bundle.problems == ()
    with pytest.raises(Exception) as err:
        live_verifier(card.world).bundle
    assert getattr(err.value, "code", None) == "verifier_misuse"


def test_from_bundle_is_the_constructor(card: Card) -> None:
    v = Verifier.from_bundle(
        card.world.bundle(), anchor=card.world.anchor_jwk, clock=card.world.clock
    )
    assert v.verify(card.for_scene("hotel"), "hotel").valid


def test_the_online_verifier_signs_no_trust_list(world: World) -> None:
    """The online path builds its verifier from the registry: no trust list is signed,
    none parsed again."""
    card = make_card(world)
    text = card.for_scene("hotel")  # (the wallet's view of the scene comes from a bundle)
    online = OnlineVerifier(world.store, world.platform, clock=world.clock)
    signed: list[str] = []
    original = world.platform.trust_list

    def spy(**kwargs: Any) -> str:
        signed.append("signed")
        return original(**kwargs)

    world.platform.trust_list = spy  # type: ignore[method-assign]
    result = online.verify(text, "hotel", venue_id="grand-hotel")
    assert result.valid
    assert signed == []
    assert online.verifier().trust_list.token == ""


def test_a_live_trust_list_payload_is_checked_like_a_signed_one() -> None:
    good: dict[str, Any] = {
        "iss": "https://a",
        "iat": 1,
        "exp": 2,
        "ttl": 3,
        "issuers": [],
        "scenes": [],
    }
    assert trust_list_from_payload(good).token == ""
    for bad in ({**good, "ttl": "3"}, {**good, "issuers": {}}, {**good, "exp": None}):
        with pytest.raises(TrustListError) as err:
            trust_list_from_payload(bad)
        assert err.value.code == "trust_list_invalid"


# -- keys.jws.verify_compact -----------------------------------------------------------

ES = SigningKey.generate("ES256")
ED = SigningKey.generate("EdDSA")


def seg(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return b64url_encode(text.encode("utf-8"))


def token(header: Any, payload: Any, key: SigningKey = ES) -> str:
    signing_input = f"{seg(header)}.{seg(payload)}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode('ascii')))}"


def by_iss(keys: Mapping[str, SigningKey]) -> Any:
    def resolve(header: Mapping[str, Any], payload: Mapping[str, Any]) -> VerifyingKey:
        key = keys.get(str(payload.get("iss")))
        if key is None or header.get("kid") != key.kid:
            raise UnknownIssuer("no such issuer or key")
        return key.verifying_key()

    return resolve


HEADER = {"alg": "ES256", "typ": "x+jwt", "kid": ES.kid}
PAYLOAD = {"iss": "a", "n": 1}


def test_verify_compact_returns_header_payload_and_the_resolved_key() -> None:
    jws = verify_compact(token(HEADER, PAYLOAD), "x+jwt", by_iss({"a": ES}))
    assert (jws.header, jws.payload, jws.key.kid) == (HEADER, PAYLOAD, ES.kid)
    assert json.loads(jws.raw_payload) == PAYLOAD
    assert (
        verify_compact(token(HEADER, PAYLOAD).encode(), "x+jwt", by_iss({"a": ES})).payload
        == PAYLOAD
    )


@pytest.mark.parametrize(
    ("forged", "error"),
    [
        (lambda: token(HEADER | {"typ": "y+jwt"}, PAYLOAD), WrongType),
        (lambda: token(HEADER | {"alg": "none"}, PAYLOAD), UnsupportedAlgorithm),
        (lambda: token(HEADER | {"alg": "HS256"}, PAYLOAD), UnsupportedAlgorithm),
        (lambda: token(HEADER | {"crit": ["exp"]}, PAYLOAD), FormatError),
        (lambda: token(HEADER | {"jwk": ES.public_jwk()}, PAYLOAD), FormatError),
        (lambda: token(HEADER | {"jku": "https://evil"}, PAYLOAD), FormatError),
        (lambda: token(HEADER | {"kid": 7}, PAYLOAD), FormatError),
        (lambda: token('{"alg":"ES256","typ":"x+jwt","typ":"x+jwt"}', PAYLOAD), FormatError),
        (lambda: token(HEADER, '{"iss":"a","iss":"b"}'), FormatError),
        (lambda: token(HEADER, "[1]"), FormatError),
        (lambda: token(HEADER, PAYLOAD, key=SigningKey.generate("ES256")), SignatureInvalid),
        (lambda: token(HEADER, {"iss": "b"}), UnknownIssuer),
        (lambda: token(HEADER | {"alg": "EdDSA"}, PAYLOAD, key=ED), UnsupportedAlgorithm),
        (lambda: token(HEADER, PAYLOAD) + "A", SignatureInvalid),
        (lambda: token(HEADER, PAYLOAD).replace(".", "..", 1), FormatError),
        (lambda: token(HEADER, PAYLOAD) + ".x", FormatError),
        (lambda: token(HEADER, PAYLOAD).replace(".", "é.", 1), FormatError),
        (lambda: token(HEADER, PAYLOAD) + "=", FormatError),
    ],
    ids=[
        "typ",
        "alg-none",
        "alg-hs256",
        "crit",
        "jwk",
        "jku",
        "kid-int",
        "dup-header",
        "dup-payload",
        "payload-array",
        "other-key",
        "unknown-iss",
        "alg-not-the-keys",
        "trailing-char",
        "empty-segment",
        "four-segments",
        "non-ascii",
        "padding",
    ],
)
def test_verify_compact_refuses(forged: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify_compact(forged(), "x+jwt", by_iss({"a": ES}))


def test_verify_compact_refuses_non_canonical_base64url() -> None:
    good = token(HEADER, PAYLOAD)
    h64, p64, s64 = good.split(".")
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(s64[-1])
    # a P-256 signature is 64 bytes: 86 characters, the last one's low 4 bits unused
    twin = s64[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last | 1]
    with pytest.raises(FormatError):
        verify_compact(f"{h64}.{p64}.{twin}", "x+jwt", by_iss({"a": ES}))


def test_verify_compact_bounds_the_size() -> None:
    big = token(HEADER, {"iss": "a", "pad": "x" * 70_000})
    with pytest.raises(FormatError):
        verify_compact(big, "x+jwt", by_iss({"a": ES}))
    assert (
        verify_compact(big, "x+jwt", by_iss({"a": ES}), max_length=len(big)).payload["iss"] == "a"
    )


def test_a_header_checked_for_one_typ_is_not_taken_for_another() -> None:
    """The header cache is keyed by bytes *and* typ, and never keeps a failure."""
    good = token(HEADER, PAYLOAD)
    verify_compact(good, "x+jwt", by_iss({"a": ES}))
    for _ in range(2):
        with pytest.raises(WrongType):
            verify_compact(good, "y+jwt", by_iss({"a": ES}))


def test_the_shared_header_cannot_be_altered_by_one_caller() -> None:
    """Checked headers are shared by every token with the same header bytes: read-only."""
    jws = verify_compact(token(HEADER, PAYLOAD), "x+jwt", by_iss({"a": ES}))
    with pytest.raises(TypeError):
        jws.header["kid"] = "another"  # type: ignore[index]
    assert verify_compact(token(HEADER, PAYLOAD), "x+jwt", by_iss({"a": ES})).header == HEADER
