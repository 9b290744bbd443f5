"""The verify path's short cuts give exactly the answers of the general code they skip.

* ``verifier.core._holder_key`` reads a plain P-256 ``cnf.jwk`` straight into its encoded
  point; ``keys.jwk.public_key_from_jwk`` is the general reader. Hypothesis draws JWKs,
  hostile ones included (non-canonical or non-ASCII coordinates, wrong lengths, points
  off the curve, extra or private members, other types), built from raw bytes here: the
  same public key, or the same error (class and message).
* ``keys.jsonstrict.loads`` calls the decoder's scanner directly for text that is one
  value with no whitespace around it; the property is that it answers as the full
  ``JSONDecoder.decode`` path does (value, or error class and message), on any text.
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
from keys.signing import VerifyingKey
from verifier.core import _holder_key

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
