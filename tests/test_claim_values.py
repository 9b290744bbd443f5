"""Claim values are what the specs say, or ``malformed`` (issue 7 §3).

``exp``, ``nbf``, ``iat`` (credential, KB-JWT, trust list) are RFC 7519 NumericDates:
finite JSON numbers within ±2^53, a fraction allowed (the trust list, our own format,
says integer). Strings are Unicode: a lone surrogate, or bytes that are not UTF-8, in a
header, a payload or a disclosure is ``malformed``.

Every hostile token is built here from raw JSON text and signed with the test world's
real keys (the police department's, the holder's, the anchor's), so that the signature
is good and only the value under test is wrong.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from keys import MAX_NUMERIC_DATE, FormatError, numeric_date
from keys.b64 import b64url_encode
from sdjwt import digest, sd_hash
from tests.factory import World
from tests.test_verifier import Card, make_card, rejected_with, sign_raw, unb64json
from verifier import LEEWAY, BundleInvalid, Verifier

#: JSON texts that are not a NumericDate (the raw text goes into the signed token).
NOT_A_DATE: dict[str, str] = {
    "overflowing-exponent": "1e400",
    "negative-overflowing-exponent": "-1e400",
    "2^64": "18446744073709551616",
    "2^53+1": "9007199254740993",
    "-2^53-1": "-9007199254740993",
    "null": "null",
    "string": '"1800000000"',
    "true": "true",
    "false": "false",
    "array": "[1800000000]",
    "object": '{"t":1800000000}',
    "NaN": "NaN",
    "Infinity": "Infinity",
}


@pytest.fixture
def card(world: World) -> Card:
    return make_card(world)


def _with_raw(claims: dict[str, Any], name: str, raw: str) -> str:
    """``claims`` as compact JSON text, with ``name`` set to the raw JSON text ``raw``."""
    marker = "\x00marker\x00"
    text = json.dumps({**claims, name: marker}, ensure_ascii=False, separators=(",", ":"))
    return text.replace(json.dumps(marker), raw)


def _credential(card: Card, payload_text: str, header: str | None = None) -> str:
    key = card.police_key
    header = header or json.dumps({"alg": key.alg, "typ": "dc+sd-jwt", "kid": key.kid})
    return sign_raw(header, payload_text, key)


def _kb_text(card: Card, presented: str, **changes: Any) -> dict[str, Any]:
    body = {
        "iat": card.now,
        "aud": "hotel",
        "nonce": b64url_encode(secrets.token_bytes(16)),
        "sd_hash": sd_hash(presented),
    }
    return body | changes


def _present_with_kb(card: Card, kb_payload: str, kb_header: str | None = None) -> str:
    presented = "~".join([card.jwt, *card.disclosures()]) + "~"
    holder = card.wallet.holder_key
    header = kb_header or json.dumps({"alg": holder.alg, "typ": "kb+jwt"})
    return presented + sign_raw(header, kb_payload.replace("@SD_HASH@", sd_hash(presented)), holder)


# -- the shared NumericDate check ----------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 1.5, -1, MAX_NUMERIC_DATE, -MAX_NUMERIC_DATE, 1e15])
def test_numeric_date_accepts_finite_numbers_within_2_53(value: float) -> None:
    assert numeric_date({"exp": value}, "exp") == value


@pytest.mark.parametrize(
    "value",
    [None, True, False, "1", [1], {"a": 1}, float("inf"), float("-inf"), float("nan"),
     2**64, MAX_NUMERIC_DATE + 1, -MAX_NUMERIC_DATE - 1, 1e300],
)  # fmt: skip
def test_numeric_date_refuses_everything_else(value: object) -> None:
    with pytest.raises(FormatError) as caught:
        numeric_date({"exp": value}, "exp", where="the credential")
    assert caught.value.code == "malformed" and "the credential's 'exp'" in caught.value.message


def test_numeric_date_absent_is_absent_but_present_null_is_not() -> None:
    assert numeric_date({}, "nbf", required=False) is None
    with pytest.raises(FormatError):
        numeric_date({"nbf": None}, "nbf", required=False)
    with pytest.raises(FormatError, match="has no 'exp'"):
        numeric_date({}, "exp")


def test_numeric_date_integer_refuses_fractions_even_whole_ones() -> None:
    assert numeric_date({"iat": 5}, "iat", integer=True) == 5
    for value in (5.5, 5.0):
        with pytest.raises(FormatError, match="integer"):
            numeric_date({"iat": value}, "iat", integer=True)


# -- the credential --------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("raw", NOT_A_DATE.values(), ids=NOT_A_DATE.keys())
def test_credential_date_that_is_not_a_numeric_date_is_malformed(
    card: Card, claim: str, raw: str
) -> None:
    forged = card.present(_credential(card, _with_raw(card.payload, claim, raw)))
    assert rejected_with(card.verify(forged), "malformed")


def test_credential_dates_may_have_fractions(card: Card) -> None:
    payload = card.payload | {
        "exp": card.now + 3600.25,
        "nbf": card.now - 0.5,
        "iat": card.now - 0.5,
    }
    assert card.verify(card.present(_credential(card, json.dumps(payload)))).valid


def test_credential_dates_at_the_edge_of_2_53_are_numbers(card: Card) -> None:
    payload = card.payload | {"exp": MAX_NUMERIC_DATE, "nbf": -MAX_NUMERIC_DATE}
    assert card.verify(card.present(_credential(card, json.dumps(payload)))).valid


def test_credential_without_optional_dates_is_valid(card: Card) -> None:
    assert "nbf" not in card.payload
    payload = {k: v for k, v in card.payload.items() if k != "iat"}
    assert card.verify(card.present(_credential(card, json.dumps(payload)))).valid


def test_credential_without_exp_is_malformed(card: Card) -> None:
    payload = {k: v for k, v in card.payload.items() if k != "exp"}
    assert rejected_with(
        card.verify(card.present(_credential(card, json.dumps(payload)))), "malformed"
    )


def test_credential_issued_in_the_future_is_malformed(card: Card) -> None:
    ahead = card.payload | {"iat": card.now + LEEWAY + 1}
    result = card.verify(card.present(_credential(card, json.dumps(ahead))))
    assert rejected_with(result, "malformed")
    assert any("'iat' is in the future" in e["message"] for e in result.errors)


def test_credential_issued_within_the_leeway_is_valid(card: Card) -> None:
    ahead = card.payload | {"iat": card.now + LEEWAY}
    assert card.verify(card.present(_credential(card, json.dumps(ahead)))).valid


# -- the KB-JWT -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", NOT_A_DATE.values(), ids=NOT_A_DATE.keys())
def test_kb_jwt_iat_that_is_not_a_numeric_date_is_key_binding_invalid(card: Card, raw: str) -> None:
    body = _with_raw({"aud": "hotel", "nonce": "n-1", "sd_hash": "@SD_HASH@"}, "iat", raw)
    assert rejected_with(card.verify(_present_with_kb(card, body)), "key_binding_invalid")


def test_kb_jwt_iat_missing_is_key_binding_invalid(card: Card) -> None:
    body = json.dumps({"aud": "hotel", "nonce": "n-1", "sd_hash": "@SD_HASH@"})
    assert rejected_with(card.verify(_present_with_kb(card, body)), "key_binding_invalid")


def test_kb_jwt_iat_may_have_a_fraction(card: Card) -> None:
    body = json.dumps(
        {"iat": card.now - 0.75, "aud": "hotel", "nonce": "n-2", "sd_hash": "@SD_HASH@"}
    )
    assert card.verify(_present_with_kb(card, body)).valid


# -- the trust list -------------------------------------------------------------------------


def _bundle_with_trust_list_text(world: World, text: str) -> dict[str, Any]:
    bundle = world.bundle()
    header = {"alg": world.anchor.alg, "typ": "trustlist+jwt", "kid": world.anchor.kid}
    bundle["trust_list"] = sign_raw(header, text, world.anchor)
    return bundle


def _trust_list_payload(world: World) -> dict[str, Any]:
    payload: dict[str, Any] = unb64json(world.bundle()["trust_list"].split(".")[1])
    return payload


TRUST_LIST_NOT_A_DATE = {**NOT_A_DATE, "fraction": "4102444800.5", "whole-float": "4102444800.0"}


@pytest.mark.parametrize("claim", ["iat", "exp"])
@pytest.mark.parametrize("raw", TRUST_LIST_NOT_A_DATE.values(), ids=TRUST_LIST_NOT_A_DATE.keys())
def test_trust_list_date_that_is_not_an_integer_date_is_refused(
    world: World, claim: str, raw: str
) -> None:
    bundle = _bundle_with_trust_list_text(world, _with_raw(_trust_list_payload(world), claim, raw))
    with pytest.raises(BundleInvalid) as caught:
        Verifier(bundle, anchor=world.anchor_jwk)
    assert caught.value.code == "bundle_invalid"


def test_trust_list_signed_the_same_way_but_with_good_dates_is_accepted(world: World) -> None:
    # The control for the test above: the forging itself is not what fails.
    payload = _trust_list_payload(world)
    bundle = _bundle_with_trust_list_text(world, _with_raw(payload, "exp", str(payload["exp"])))
    assert (
        Verifier(bundle, anchor=world.anchor_jwk, clock=world.clock).trust_list.exp
        == payload["exp"]
    )


# -- strings are Unicode ------------------------------------------------------------------


def _disclosure_raw(text: bytes) -> str:
    return b64url_encode(text)


def _with_disclosure(card: Card, name_disclosure: str) -> str:
    """The card, re-signed with its ``name`` digest swapped for ``name_disclosure``'s."""
    payload = card.payload
    old = digest(card.disclosure("name"))
    payload["_sd"] = [digest(name_disclosure) if d == old else d for d in payload["_sd"]]
    jwt = _credential(card, json.dumps(payload))
    return card.present(jwt, [name_disclosure, card.disclosure("id_number")])


LONE_SURROGATE_DISCLOSURES: dict[str, bytes] = {
    "high-in-value": b'["c2FsdHNhbHRzYWx0","name","\\ud800"]',
    "low-in-value": b'["c2FsdHNhbHRzYWx0","name","x\\uDC00y"]',
    "reversed-pair": b'["c2FsdHNhbHRzYWx0","name","\\udc00\\ud800"]',
    "high-at-end-of-salt": b'["c2FsdHNhbHRzYWx0\\uD83D","name","Li"]',
    "in-a-nested-member-name": b'["c2FsdHNhbHRzYWx0","name",{"\\udbff":"Li"}]',
    "invalid-utf8": b'["c2FsdHNhbHRzYWx0","name","\xff"]',
    "utf8-encoded-surrogate": b'["c2FsdHNhbHRzYWx0","name","\xed\xa0\x80"]',
    "overlong-utf8": b'["c2FsdHNhbHRzYWx0","name","\xc0\xaf"]',
}


@pytest.mark.parametrize(
    "raw", LONE_SURROGATE_DISCLOSURES.values(), ids=LONE_SURROGATE_DISCLOSURES.keys()
)
def test_disclosure_that_is_not_unicode_is_malformed(card: Card, raw: bytes) -> None:
    assert rejected_with(card.verify(_with_disclosure(card, _disclosure_raw(raw))), "malformed")


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b'["c2FsdHNhbHRzYWx0","name","\\ud83d\\ude00 Li"]', "\U0001f600 Li"),
        (b'["c2FsdHNhbHRzYWx0","name","\\uD83D\\uDE00"]', "\U0001f600"),
        (b'["c2FsdHNhbHRzYWx0","name","\\\\ud800"]', "\\ud800"),  # an escaped backslash
    ],
    ids=["surrogate-pair", "surrogate-pair-upper-case", "escaped-backslash"],
)
def test_disclosure_with_valid_escapes_is_accepted(card: Card, raw: bytes, name: str) -> None:
    # The control: the same forging with valid text verifies (so the refusals above
    # are about the text, not about the re-signed credential).
    result = card.verify(_with_disclosure(card, _disclosure_raw(raw)))
    assert result.valid, result.errors
    assert result.claims["name"] == name


def test_lone_surrogate_in_the_credential_payload_is_malformed(card: Card) -> None:
    text = _with_raw(card.payload, "note", '"\\ud800"')
    assert rejected_with(card.verify(card.present(_credential(card, text))), "malformed")


def test_lone_surrogate_in_a_payload_member_name_is_malformed(card: Card) -> None:
    text = _with_raw(card.payload, "x", "1").replace('"x":', '"\\udfff":')
    assert rejected_with(card.verify(card.present(_credential(card, text))), "malformed")


def test_lone_surrogate_in_the_credential_header_is_malformed(card: Card) -> None:
    k = card.police_key
    header = f'{{"alg":"{k.alg}","typ":"dc+sd-jwt","kid":"{k.kid}","x5t":"\\ud800"}}'
    forged = card.present(_credential(card, json.dumps(card.payload), header=header))
    assert rejected_with(card.verify(forged), "malformed")


def test_lone_surrogate_in_the_kb_jwt_is_malformed(card: Card) -> None:
    body = json.dumps({"iat": card.now, "aud": "hotel", "sd_hash": "@SD_HASH@"})
    body = body[:-1] + ', "nonce": "n\\ud800"}'
    assert rejected_with(card.verify(_present_with_kb(card, body)), "malformed")
    holder = card.wallet.holder_key
    header = f'{{"alg":"{holder.alg}","typ":"kb+jwt","x":"\\udc00"}}'
    good_body = json.dumps(_kb_text(card, "")).replace(sd_hash(""), "@SD_HASH@")
    assert rejected_with(card.verify(_present_with_kb(card, good_body, header)), "malformed")
