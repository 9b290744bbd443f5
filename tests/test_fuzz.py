"""Property tests: hostile text into ``Verifier.verify``, and the format codecs.

The contract under fuzzing (DESIGN.md §7): ``verify`` never raises for a bad
presentation, reports only the stable codes of §4, shows no claims unless valid, is
never valid for anything but the presentation the wallet made, and answers quickly
(hypothesis ``deadline``, not timing asserts).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.b64 import b64url_encode
from sdjwt import NEVER_DISCLOSABLE, SALT_BYTES, StatusList, make_disclosure
from store.sqlite import SQLiteStore
from tests.factory import World
from verifier import ERROR_CODES, MAX_PRESENTATION, VerificationResult, Verifier

FUZZ = settings(
    max_examples=200,
    deadline=500,  # milliseconds per call: a scanned QR must answer at once
)
CODECS = settings(max_examples=200, deadline=None)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class NeverSeen:
    """A replay cache that remembers nothing, so the original stays valid for every example."""

    def check_and_add(self, nonce: str, expires_at: float, now: float) -> bool:
        return True


@dataclass(frozen=True)
class Target:
    verifier: Verifier
    original: str
    police_kid: str

    @property
    def segments(self) -> list[str]:
        return self.original.split("~")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    store = SQLiteStore(str(tmp_path_factory.mktemp("fuzz") / "ecert.db"))
    try:
        world = World(store)
        held, wallet = world.issue_id_card()
        v = world.verifier(replay=NeverSeen())
        original = wallet.present_for_scene(held, v.trust_list.scenes["hotel"])
        assert v.verify(original, "hotel").valid
        yield Target(v, original, world.keyring.signing_key(world.police.iss).kid)
    finally:
        store.close()


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _same_presentation(text: str | bytes, original: str) -> bool:
    """``text`` is the original, give or take the scanner's line ending.

    Nothing else may verify: base64url is decoded canonically, so no other spelling
    of the same bytes is accepted (test_advisory.py).
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            return False
    return text.rstrip("\r\n") == original


def check_contract(target: Target, text: str | bytes) -> None:
    result = target.verifier.verify(text, "hotel")
    assert isinstance(result, VerificationResult)
    assert set(result.codes) <= set(ERROR_CODES)
    assert not result.valid or _same_presentation(text, target.original)
    assert result.valid or (result.claims == {} and result.to_dict()["claims"] == {})


# -- random input ------------------------------------------------------------------------


@FUZZ
@given(text=st.text(max_size=3000))
def test_random_text(target: Target, text: str) -> None:
    check_contract(target, text)


@FUZZ
@given(text=st.text(alphabet=B64URL + ".~\r\n", max_size=3000))
def test_random_text_in_the_presentation_alphabet(target: Target, text: str) -> None:
    check_contract(target, text)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_random_bytes(target: Target, data: bytes) -> None:
    check_contract(target, data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def junk_credentials(draw: st.DrawFn, police_kid: str) -> str:
    """Grammatical presentations with random headers and payloads: reach the deeper checks."""
    header: dict[str, Any] = {
        "alg": draw(st.sampled_from(["ES256", "EdDSA", "none", "HS256", "RS256"])),
        "typ": draw(st.sampled_from(["dc+sd-jwt", "kb+jwt", "JWT"])),
    }
    if draw(st.booleans()):
        header["kid"] = draw(st.sampled_from([police_kid, "", "../key"]) | JSON)
    payload = draw(st.dictionaries(st.text(max_size=8), JSON, max_size=6))
    if draw(st.booleans()):
        payload |= {
            "iss": "https://ecert.example/issuers/police",
            "vct": draw(st.text(max_size=30)),
        }
    signature = draw(st.binary(min_size=1, max_size=80))
    jwt = f"{_json64(header)}.{_json64(payload)}.{b64url_encode(signature)}"
    disclosures = draw(st.lists(st.text(alphabet=B64URL, min_size=1, max_size=40), max_size=3))
    kb = draw(st.sampled_from(["", f"{_json64({'alg': 'ES256', 'typ': 'kb+jwt'})}.e30.AAAA"]))
    return "~".join([jwt, *disclosures]) + "~" + kb


def _json64(value: Any) -> str:
    return b64url_encode(json.dumps(value).encode("utf-8"))


@FUZZ
@given(data=st.data())
def test_junk_credentials(target: Target, data: st.DataObject) -> None:
    check_contract(target, data.draw(junk_credentials(target.police_kid)))


# -- mutations of a valid presentation -----------------------------------------------------


@FUZZ
@given(data=st.data())
def test_byte_flips(target: Target, data: st.DataObject) -> None:
    raw = bytearray(target.original.encode("ascii"))
    flips = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(raw) - 1), st.integers(1, 255)), min_size=1, max_size=4
        )
    )
    for position, mask in flips:
        raw[position] ^= mask

    check_contract(target, bytes(raw))


@FUZZ
@given(data=st.data())
def test_truncations(target: Target, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(target.original) - 1))
    keep_head = data.draw(st.booleans())

    check_contract(target, target.original[:cut] if keep_head else target.original[cut + 1 :])


@FUZZ
@given(data=st.data(), separator=st.sampled_from(["~", "."]))
def test_segment_swaps(target: Target, data: st.DataObject, separator: str) -> None:
    segments = target.original.split(separator)
    i = data.draw(st.integers(0, len(segments) - 1))
    j = data.draw(st.integers(0, len(segments) - 1))
    segments[i], segments[j] = segments[j], segments[i]

    check_contract(target, separator.join(segments))


@FUZZ
@given(data=st.data())
def test_inserted_tilde(target: Target, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(target.original)))
    tildes = data.draw(st.sampled_from(["~", "~~"]))

    check_contract(target, target.original[:at] + tildes + target.original[at:])


@FUZZ
@given(data=st.data())
def test_duplicated_disclosures(target: Target, data: st.DataObject) -> None:
    segments = target.segments
    disclosure = data.draw(st.sampled_from(segments[1:-1]))
    at = data.draw(st.integers(1, len(segments) - 1))
    segments.insert(at, disclosure)

    check_contract(target, "~".join(segments))


@FUZZ
@given(data=st.data())
def test_segment_replaced_by_random_base64url(target: Target, data: st.DataObject) -> None:
    segments = target.segments
    i = data.draw(st.integers(0, len(segments) - 1))
    segments[i] = data.draw(st.text(alphabet=B64URL + ".", max_size=200))

    check_contract(target, "~".join(segments))


@FUZZ
@given(padding=st.text(alphabet=B64URL, min_size=1, max_size=40))
def test_oversize_padding(target: Target, padding: str) -> None:
    filler = padding * (MAX_PRESENTATION // len(padding) + 1)

    check_contract(target, target.original[:-1] + filler)


# -- codecs ----------------------------------------------------------------------------------

NAMES = st.text(min_size=1, max_size=20).filter(
    lambda n: n not in NEVER_DISCLOSABLE and n not in ("_sd", "...")
)


@CODECS
@given(name=NAMES | st.none(), value=JSON)
def test_disclosure_salts_are_128_bits(name: str | None, value: Any) -> None:
    disclosure = make_disclosure(name, value)

    assert len(_b64(disclosure.salt)) == SALT_BYTES == 16


def test_disclosure_salts_are_unique_across_1000_draws() -> None:
    salts = {make_disclosure("name", "李四").salt for _ in range(1000)}

    assert len(salts) == 1000


@st.composite
def status_lists(draw: st.DrawFn) -> tuple[int, int, dict[int, int]]:
    bits = draw(st.sampled_from([1, 2, 4, 8]))
    size = draw(st.integers(1, 5000))
    values = draw(
        st.dictionaries(st.integers(0, size - 1), st.integers(0, (1 << bits) - 1), max_size=64)
    )
    return bits, size, values


@CODECS
@given(case=status_lists())
def test_status_list_round_trip(case: tuple[int, int, dict[int, int]]) -> None:
    bits, size, values = case
    statuses = StatusList.zeros(bits, size)
    for idx, value in values.items():
        statuses.set(idx, value)

    decoded = StatusList.decode(statuses.encode(), bits)

    assert [decoded.get(i) for i in range(size)] == [values.get(i, 0) for i in range(size)]


@CODECS
@given(case=status_lists())
def test_status_list_holds_at_least_its_size(case: tuple[int, int, dict[int, int]]) -> None:
    bits, size, _ = case

    assert len(StatusList.decode(StatusList.zeros(bits, size).encode(), bits)) >= size
