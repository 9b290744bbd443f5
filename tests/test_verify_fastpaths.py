"""The verify path's short cuts give exactly the answers of the general code they skip.

* ``verifier.core._holder_key`` reads a plain P-256 ``cnf.jwk`` straight into its encoded
  point; ``keys.jwk.public_key_from_jwk`` is the general reader. Hypothesis draws JWKs,
  hostile ones included (non-canonical or non-ASCII coordinates, wrong lengths, points
  off the curve, extra or private members, other types), built from raw bytes here: the
  same public key, or the same error (class and message).
* ``keys.jsonstrict.loads`` calls the decoder's scanner directly for text that is one
  value with no whitespace around it; the property is that it answers as the full
  ``JSONDecoder.decode`` path does (value, or error class and message), on any text.
* ``verifier.core._date`` returns a plain in-range integer itself and hands anything
  else to ``keys.numericdate.numeric_date``: the same answer as ``numeric_date`` alone.
* ``verifier.core._split_presentation`` checks the SD-JWT+KB grammar with counts and
  searches over the whole text; a plain reading of RFC 9901 §4 (split, then every
  piece looked at) gives the same parts or the same refusal.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keys import EcertError, jsonstrict
from keys.jwk import public_key_from_jwk
from keys.numericdate import MAX_NUMERIC_DATE, numeric_date
from keys.signing import VerifyingKey
from verifier.core import _date, _holder_key, _split_presentation

Outcome = tuple[Any, ...]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def key_outcome(make: Any, jwk: Any) -> Outcome:
    try:
        key: VerifyingKey = make(jwk)
    except EcertError as err:
        return ("refused", type(err).__name__, err.message)
    point = key.key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return ("ok", key.alg, key.kid, point)


def general(jwk: Any) -> VerifyingKey:
    return VerifyingKey(*public_key_from_jwk(jwk), kid="")


_KEYS = [ec.generate_private_key(ec.SECP256R1()).public_key() for _ in range(4)]
_POINTS = [k.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint) for k in _KEYS]


@st.composite
def coordinate(draw: st.DrawFn, good: bytes) -> Any:
    kind = draw(st.sampled_from(["good"] * 6 + ["other", "flip", "noncanon", "char", "len", "int"]))
    text = b64(good)
    if kind == "other":
        return b64(draw(st.binary(min_size=32, max_size=32)))  # almost surely off the curve
    if kind == "flip":
        at = draw(st.integers(0, 41))
        return text[:at] + draw(st.sampled_from("AB_-")) + text[at + 1 :]
    if kind == "noncanon":  # the last character's unused bits set
        return (
            text[:-1]
            + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(text[-1])
                | 1
            ]
        )
    if kind == "char":
        at = draw(st.integers(0, 42))
        return text[:at] + draw(st.sampled_from("+/=.~ é\x00")) + text[at + 1 :]
    if kind == "len":
        return draw(st.sampled_from([text[:-1], text + "A", text + "==", ""]))
    if kind == "int":
        return draw(st.sampled_from([None, 1, ["x"], {"x": 1}]))
    return text


@st.composite
def jwks(draw: st.DrawFn) -> Any:
    point = draw(st.sampled_from(_POINTS))
    jwk: dict[str, Any] = {
        "kty": draw(st.sampled_from(["EC"] * 8 + ["OKP", "ec", "RSA"])),
        "crv": draw(st.sampled_from(["P-256"] * 8 + ["P-384", "Ed25519", "p-256"])),
        "x": draw(coordinate(point[1:33])),
        "y": draw(coordinate(point[33:])),
    }
    extra = draw(st.sampled_from([None] * 6 + ["d", "alg", "use", "key_ops", "kid", "drop"]))
    if extra == "drop":
        del jwk[draw(st.sampled_from(sorted(jwk)))]
    elif extra is not None:
        jwk[extra] = draw(st.sampled_from(["ES256", "sig", "enc", ["verify"], "x"]))
    return jwk


@settings(max_examples=1500, deadline=None)
@given(jwks())
@example({"kty": "EC", "crv": "P-256", "x": b64(_POINTS[0][1:33]), "y": b64(_POINTS[0][33:])})
@example({"kty": "EC", "crv": "P-256", "x": b64(bytes(32)), "y": b64(bytes(32))})
@example({"kty": "EC", "crv": "P-256", "x": "é" * 43, "y": b64(_POINTS[0][33:])})
def test_the_holder_key_short_cut_answers_as_the_jwk_reader(jwk: dict[str, Any]) -> None:
    assert key_outcome(_holder_key, jwk) == key_outcome(general, jwk)


def json_outcome(parse: Any, text: str | bytes) -> Outcome:
    try:
        return ("ok", repr(parse(text)))
    except EcertError as err:
        return ("refused", type(err).__name__, err.message)


def through_decode(text: str | bytes) -> Any:
    """``loads`` as it was: every text through ``JSONDecoder.decode``."""
    original = jsonstrict._SCAN
    try:
        jsonstrict._SCAN = _never  # the short cut fails over to decode every time
        return jsonstrict.loads(text)
    finally:
        jsonstrict._SCAN = original


def _never(text: str, index: int) -> tuple[Any, int]:
    raise StopIteration(index)


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=8,
)
SPACE = st.sampled_from(["", "", " ", "\n", "\t ", "x", ",", "]", "}", "1"])


@settings(max_examples=1500, deadline=None)
@given(
    st.one_of(
        st.tuples(SPACE, JSONISH.map(lambda v: json.dumps(v, allow_nan=True)), SPACE).map("".join),
        st.text(alphabet='{}[]":,0123456789.eE-+ ntrufalsNIy\\u', max_size=30),
        st.binary(max_size=20),
    )
)
@example('{"a":1,"a":2}')
@example('{"a":1,"a":2} ')
@example(" [1e400]")
@example("[NaN]")
@example('"\\ud800"')
@example("")
@example(" ")
@example("[1] [2]")
def test_loads_answers_as_the_full_decoder(text: str | bytes) -> None:
    assert json_outcome(jsonstrict.loads, text) == json_outcome(through_decode, text)


def date_outcome(read: Any, claims: dict[str, Any], required: bool) -> Outcome:
    try:
        value = read(claims, required)
    except EcertError as err:
        return ("refused", type(err).__name__, err.message)
    return ("ok", type(value).__name__, value)


DATES = st.one_of(
    st.integers(),
    st.sampled_from([MAX_NUMERIC_DATE, MAX_NUMERIC_DATE + 1, -MAX_NUMERIC_DATE - 1, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.just({}), st.builds(lambda v: {"exp": v}, DATES)), st.booleans())
def test_the_date_short_cut_answers_as_numeric_date(claims: dict[str, Any], required: bool) -> None:
    def fast(c: dict[str, Any], r: bool) -> Any:
        return _date(c, "exp", r, "the credential")  # type: ignore[call-overload]

    def general(c: dict[str, Any], r: bool) -> Any:
        return numeric_date(c, "exp", required=r, where="the credential")

    assert date_outcome(fast, claims, required) == date_outcome(general, claims, required)


def split_as_the_rfc_reads(raw: bytes) -> list[bytes]:
    """RFC 9901 §4, plainly: ``JWT~(disclosure~)*[KB-JWT]``, every piece looked at."""
    alphabet = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
    if any(c not in alphabet for c in raw):
        raise ValueError("alphabet")
    parts = raw.split(b"~")

    def is_jwt(piece: bytes) -> bool:
        pieces = piece.split(b".")
        return len(pieces) == 3 and all(pieces)

    if len(parts) < 2 or not is_jwt(parts[0]):
        raise ValueError("jwt")
    for disclosure in parts[1:-1]:
        if not disclosure or b"." in disclosure:
            raise ValueError("disclosure")
    if parts[-1] and not is_jwt(parts[-1]):
        raise ValueError("kb")
    return parts


def split_outcome(split: Any, raw: bytes) -> Outcome:
    try:
        return ("ok", tuple(split(raw)))
    except (EcertError, ValueError):
        return ("refused",)


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.sampled_from([b"a", b"B", b"-", b".", b"~", b"..", b"~~", b"=", b"a.b.c"]), max_size=14
    )
)
@example([b"a.b.c", b"~", b"a", b"~", b"a.b.c"])
@example([b"a.b.c", b"~", b"~", b"a.b.c"])
@example([b"a.b.c", b"~"])
@example([b".a.b", b"~"])
@example([b"a.b.c", b"~", b"a.", b"~", b"a.b.c"])
def test_the_grammar_check_refuses_what_the_rfc_refuses(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    assert split_outcome(_split_presentation, raw) == split_outcome(split_as_the_rfc_reads, raw)
