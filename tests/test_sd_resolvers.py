"""The two ``_sd`` resolvers of sdjwt/disclosures.py agree (RFC 9901 §7.1).

``resolve`` takes a fast path (``_resolve_flat``) when the payload's only digests are
in its top-level ``_sd``, and the general recursive walk (``_Resolution``) otherwise.
Hypothesis draws payloads and disclosures, attacks included (duplicate digests, ``...``
entries, a disclosure presented twice or referenced twice, ``_sd`` inside arrays,
reserved and clashing names, malformed disclosures, non-UTF-8 bytes), and the property
is: with the payload's bytes (fast path allowed) and without them (always the walk),
``resolve`` returns the same claims or raises the same error (class, code and message).
Disclosures and payload bytes are built from raw JSON here, not with sdjwt's helpers.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keys import EcertError
from sdjwt import resolve

NAMES = ["a", "b", "name", "id_number", "iss", "status", "cnf", "vct", "_sd", "...", "_sd_alg"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.text(alphabet="ab中", max_size=3)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)
    ),
    max_leaves=6,
)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def dig(encoded: str) -> str:
    return b64(hashlib.sha256(encoded.encode("ascii")).digest())


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@st.composite
def disclosure(draw: st.DrawFn, n: int) -> str:
    salt = f"salt{n}"
    kind = draw(st.sampled_from(["object", "object", "object", "array", "array", "bad"]))
    if kind == "object":
        return b64(dumps([salt, draw(st.sampled_from(NAMES)), draw(VALUES)]))
    if kind == "array":
        return b64(dumps([salt, draw(VALUES)]))
    bad = draw(
        st.sampled_from(
            [b'["s"]', b'["s",1,2]', b'"x"', b"[1,2]", b'["s","a",1,2]', b"\xff\xfe", b"[", b"{}"]
        )
    )
    return b64(bad.replace(b'"s"', f'"{salt}"'.encode()))


@st.composite
def case(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """A payload whose digests point at drawn disclosures, and what is presented."""
    discs = [draw(disclosure(n)) for n in range(draw(st.integers(0, 5)))]
    digests = [dig(d) for d in discs] + [b64(bytes([n]) * 32) for n in range(2)]  # + decoys
    top: list[Any] = []
    nested: list[Any] = []
    array: list[Any] = [1]
    for d in digests:
        place = draw(st.sampled_from(["top", "top", "top", "nested", "array", "twice", "none"]))
        if place == "top":
            top.insert(draw(st.integers(0, len(top))), d)
        elif place == "nested":
            nested.append(d)
        elif place == "array":
            array.append({"...": d})
        elif place == "twice":
            top.extend([d, d])
    payload: dict[str, Any] = {"iss": "https://i", "vct": "urn:x"}
    for name in draw(st.lists(st.sampled_from(["a", "b", "name"]), max_size=2, unique=True)):
        payload[name] = draw(VALUES)
    empty_sd: bool = draw(st.booleans())
    if top or empty_sd:
        payload["_sd"] = top
    if nested:
        payload["address"] = {"_sd": nested, "city": "x"}
    if len(array) > 1:
        payload["list"] = array
    attack = draw(
        st.sampled_from(
            ["none"] * 6
            + ["sd-in-array", "dots-extra", "sd-not-list", "digest-int", "alg", "alg-bad"]
        )
    )
    if attack == "sd-in-array":
        payload["arr"] = [{"_sd": top[:1]}]
    elif attack == "dots-extra" and len(array) > 1:
        array[1]["x"] = 1
    elif attack == "sd-not-list":
        payload["_sd"] = "x"
    elif attack == "digest-int":
        payload.setdefault("_sd", []).append(7)
    elif attack == "alg":
        payload["_sd_alg"] = "sha-256"
    elif attack == "alg-bad":
        payload["_sd_alg"] = "sha-512"
    presented = [d for d in discs if draw(st.integers(0, 3)) > 0]  # most, not all
    if presented and draw(st.integers(0, 3)) == 0:
        presented.append(presented[draw(st.integers(0, len(presented) - 1))])  # twice
    if draw(st.integers(0, 3)) == 0:
        presented.append(b64(dumps(["extra", "a", 1])))  # referenced by nothing
    return payload, draw(st.permutations(presented))


def outcome(payload: dict[str, Any], presented: list[str], raw: bytes | None) -> Any:
    try:
        return ("ok", resolve(payload, presented, raw_payload=raw))
    except EcertError as err:
        return ("refused", type(err).__name__, err.code, err.message)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case())
@example(({"iss": "i", "_sd": []}, []))
def test_the_fast_path_and_the_walk_agree(drawn: tuple[dict[str, Any], list[str]]) -> None:
    payload, presented = drawn
    raw = dumps(payload)
    assert outcome(payload, presented, raw) == outcome(payload, presented, None)


def test_the_fast_path_is_taken_and_agrees_on_a_flat_credential() -> None:
    """The property above is not vacuous: a flat payload does take the fast path."""
    import sdjwt.disclosures as module

    discs = [b64(dumps([f"s{n}", name, "v"])) for n, name in enumerate(["a", "b"])]
    payload = {"iss": "i", "_sd": [dig(d) for d in discs]}
    raw = dumps(payload)
    assert module._only_top_level_sd(payload, raw)
    assert (
        resolve(payload, discs, raw_payload=raw)
        == resolve(payload, discs)
        == {
            "iss": "i",
            "a": "v",
            "b": "v",
        }
    )
