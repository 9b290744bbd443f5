"""The bulk decoders of the compact QR transport equal plain reference decoders.

``sdjwt.qr_transport`` decodes Base45 with ``bytes.translate`` and big-integer
arithmetic over all groups at once, and unpacks the skeleton in bytes. The oracles are
in tests/qr_reference.py: a Base45 decoder written one character at a time, and the
first version-1 unpacker. Hypothesis draws valid and invalid inputs (any text, the
alphabet at every length, out-of-range groups, real presentations built here from raw
JSON, their skeletons and tails damaged byte by byte, random skeletons with every kind
of escape) and the property is: the same bytes, or a ``FormatError`` with the same
message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keys.errors import FormatError
from sdjwt.qr_transport import (
    DICTIONARIES,
    MAX_PRESENTATION,
    b45decode,
    decode_compact,
    decode_compact_ascii,
    encode_compact,
)
from tests import qr_reference as ref

Outcome = tuple[str, Any]


def outcome(decode: Any, text: Any) -> Outcome:
    try:
        return ("ok", decode(text))
    except FormatError as err:  # anything else is a failure of the test
        return ("refused", err.message)


# -- Base45 -------------------------------------------------------------------------------------

ALPHABET = ref.B45
#: the characters of the highest values: groups of these overflow 65535 (or 255)
HIGH = "UVWXYZ $%*+-./:"


def b45(data: bytes) -> str:
    """RFC 9285 §4 encoding, written here plainly (not the project's encoder)."""
    out = []
    for i in range(0, len(data), 2):
        chunk = data[i : i + 2]
        n = int.from_bytes(chunk, "big")
        digits = 3 if len(chunk) == 2 else 2
        for _ in range(digits):
            n, r = divmod(n, 45)
            out.append(ALPHABET[r])
    return "".join(out)


@settings(max_examples=1500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.text(alphabet=ALPHABET, max_size=60),
        st.text(alphabet=HIGH, max_size=12),
        st.text(alphabet=ALPHABET + "abc\x00\xff中\ud800", max_size=20),
        st.binary(max_size=120).map(b45),
        st.tuples(st.binary(max_size=40), st.text(alphabet=ALPHABET, min_size=1, max_size=3)).map(
            lambda parts: b45(parts[0]) + parts[1]
        ),
    )
)
@example("GGW")  # 65536: the smallest group out of range
@example("FGW")  # 65535: the largest in range
@example("U5")  # 255: the largest final pair
@example("V5")  # 256
@example("::")  # 2024
@example(":::")  # 91124: the largest group of three
@example("")
@example("0")
@example("0000")
@example("GGW" + "a")  # the length is checked before the alphabet
@example("a00")  # the alphabet before the range
@example("GGWa00")  # ... wherever the bad character is
@example("\ud800\ud800\ud800")
def test_base45_equals_the_plain_decoder(text: str) -> None:
    assert outcome(b45decode, text) == outcome(ref.b45decode, text)


@pytest.mark.parametrize("size", [5459, 5460, 5461, 5462, 8000])
def test_base45_of_any_size_equals_the_plain_decoder(size: int) -> None:
    # around and past the largest compact text (its groups use a precomputed mask)
    data = hashlib.shake_256(b"%d" % size).digest(size)
    text = b45(data)
    assert b45decode(text) == data == ref.b45decode(text)
    high = text[:-3] + "GGW" if len(text) % 3 == 0 else text[:-2] + "V5"
    assert outcome(b45decode, high) == outcome(ref.b45decode, high)
    assert outcome(b45decode, high)[0] == "refused"


def test_base45_rfc9285_vectors() -> None:
    assert b45decode("QED8WEX0") == b"ietf!"
    assert b45decode("%69 VD92EX0") == b"Hello!!"
    assert b45decode("UJCLQE7W581") == b"base-45"
    assert b45decode("BB8") == b"AB"
    for bad in ("GGW", "GGW0", "ZZZ", ":::", "AB:", "V5", "aBC", "A", "ABCD"):
        with pytest.raises(FormatError):
            b45decode(bad)


# -- the unpacker -------------------------------------------------------------------------------


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


@st.composite
def presentations(draw: st.DrawFn) -> str:
    """An SD-JWT+KB built from raw JSON: digests, keys, nonce and signatures drawn."""
    rand = st.binary(min_size=32, max_size=32)
    n = draw(st.integers(0, 4))
    disclosures = [
        b64json(
            [b64(draw(st.binary(min_size=16, max_size=16))), f"c{i}", draw(st.text(max_size=8))]
        )
        for i in range(n)
    ]
    digests = [b64(hashlib.sha256(d.encode("ascii")).digest()) for d in disclosures]
    decoys = [b64(draw(rand)) for _ in range(draw(st.integers(0, 2)))]
    header = {"alg": "ES256", "kid": b64(draw(rand)), "typ": "dc+sd-jwt"}
    payload = {
        "iss": "https://ecert.example/issuers/police",
        "_sd": sorted(digests + decoys),
        "cnf": {"jwk": {"kty": "EC", "crv": "P-256", "x": b64(draw(rand)), "y": b64(draw(rand))}},
        "note": draw(st.text(alphabet='ab\x00"\\中', max_size=6)),
    }
    issuer_jwt = ".".join(
        [b64json(header), b64json(payload), b64(draw(st.binary(min_size=1, max_size=80)))]
    )
    prefix = "~".join([issuer_jwt, *disclosures, ""])
    if not draw(st.booleans()):
        return prefix
    kb = {
        "iat": 1,
        "aud": "hotel",
        "nonce": b64(draw(st.binary(min_size=16, max_size=16))),
        "sd_hash": b64(hashlib.sha256(prefix.encode("ascii")).digest()),
    }
    kb_jwt = ".".join(
        [
            b64json({"alg": "ES256", "typ": "kb+jwt"}),
            b64json(kb),
            b64(draw(st.binary(min_size=64, max_size=64))),
        ]
    )
    return prefix + kb_jwt


VERSIONS = st.sampled_from([1, 2])


def deflated(skeleton: bytes, version: int) -> bytes:
    dictionary = DICTIONARIES[version]
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary)
    return deflate.compress(skeleton) + deflate.flush()


def compact_text(version: int, skeleton: bytes, tail: bytes) -> str:
    return f"EC{version}:" + b45(deflated(skeleton, version) + tail)


def parts_of(compact: str) -> tuple[int, bytes, bytes]:
    version = int(compact[2])
    inflate = zlib.decompressobj(-15, DICTIONARIES[version])
    skeleton = inflate.decompress(ref.b45decode(compact[4:]))
    return version, skeleton, inflate.unused_data


def set_text(members: list[str]) -> str:
    return json.dumps(members, separators=(",", ":"))


def both_agree(text: str) -> None:
    fast = outcome(decode_compact, text)
    assert fast == outcome(ref.decode_compact, text)
    if fast[0] == "ok":
        assert decode_compact_ascii(text) == fast[1].encode("ascii")


@settings(max_examples=300, deadline=None)
@given(presentations(), VERSIONS)
def test_real_presentations_decode_alike(plain: str, version: int) -> None:
    compact = encode_compact(plain, version=version)
    assert compact.startswith(f"EC{version}:")
    assert decode_compact(compact) == plain == ref.decode_compact(compact)


@settings(max_examples=200, deadline=None)
@given(st.lists(presentations(), min_size=2, max_size=4))
def test_real_sets_decode_alike(members: list[str]) -> None:
    plain = set_text(members)
    compact = encode_compact(plain)
    assert decode_compact(compact) == plain == ref.decode_compact(compact)


EDITS = st.lists(
    st.tuples(st.sampled_from(["skeleton", "tail"]), st.sampled_from(["flip", "cut", "add"]),
              st.integers(0, 2000), st.integers(0, 255)),
    min_size=1, max_size=3,
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(st.lists(presentations(), min_size=1, max_size=3), EDITS, VERSIONS)
def test_damaged_skeletons_and_tails_decode_alike(
    members: list[str], edits: list[tuple[str, str, int, int]], version: int
) -> None:
    plain = members[0] if len(members) == 1 or version == 1 else set_text(members)
    version, skeleton, tail = parts_of(encode_compact(plain, version=version))
    parts = {"skeleton": bytearray(skeleton), "tail": bytearray(tail)}
    for which, how, at, value in edits:
        data = parts[which]
        at = at % (len(data) + 1)
        if how == "add":
            data[at:at] = bytes([value])
        elif at < len(data):
            if how == "flip":
                data[at] = value
            else:
                del data[at]
    both_agree(compact_text(version, bytes(parts["skeleton"]), bytes(parts["tail"])))


ESCAPES = st.one_of(
    st.binary(min_size=1, max_size=6).filter(lambda b: 0 not in b),
    st.just(b"\x00\x00"),
    st.integers(1, 255).map(lambda k: bytes([0, k])),
    st.integers(0, 5).map(lambda j: b"\x00\xf0" + bytes([j])),
    st.just(b"\x00\xf0\x80\x01"),
    st.just(b"\x00\xf1"),
    st.just(b"\x00"),
)


@st.composite
def skeletons(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """Skeletons of the grammar with escapes of every kind, and a tail of some length; a
    version-2 skeleton starts with a count (of 0 to 5 presentations)."""
    out = bytearray()
    for _ in range(draw(st.integers(1, 2))):
        out += bytes([draw(st.integers(0, 3)), draw(st.sampled_from([0, 0, 1, 1, 2]))])
        out += draw(_skeleton_segments())
    return bytes(out), draw(st.binary(max_size=300))


@st.composite
def _skeleton_segments(draw: st.DrawFn) -> bytes:
    out = bytearray()
    for _ in range(draw(st.integers(0, 9))):
        packed = b"".join(draw(st.lists(ESCAPES, max_size=5)))
        out += bytes([len(packed)]) + packed
        if draw(st.integers(0, 3)) == 0:
            out.append(draw(st.integers(0, 70)))  # a signature length
    return bytes(out)


@settings(max_examples=1500, deadline=None)
@given(skeletons(), st.integers(0, 5))
def test_random_skeletons_decode_alike(parts: tuple[bytes, bytes], count: int) -> None:
    skeleton, tail = parts
    both_agree(compact_text(1, skeleton, tail))
    both_agree(compact_text(2, bytes([count]) + skeleton, tail))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=200), VERSIONS)
def test_random_bytes_decode_alike(skeleton: bytes, tail: bytes, version: int) -> None:
    both_agree(compact_text(version, skeleton, tail))
    both_agree(f"EC{version}:" + b45(skeleton + tail))


@pytest.mark.parametrize("version", [1, 2])
def test_a_presentation_over_the_limit_is_refused_alike(version: int) -> None:
    # one disclosure, then a header of digest references: 3 bytes each expand to 43
    refs = b"\x00\xf0\x00" * 400
    header = bytes([0x80 | len(refs) & 0x7F, len(refs) >> 7]) + refs
    skeleton = b"\x01\x00\x01x" + header + b"\x01y\x01"
    text = compact_text(version, skeleton if version == 1 else b"\x01" + skeleton, b"s")
    assert MAX_PRESENTATION < 400 * 43
    both_agree(text)
    with pytest.raises(FormatError, match="too large"):
        decode_compact(text)


def test_a_set_over_the_limit_is_refused_alike() -> None:
    # four members of 200 references each: each member alone is under the limit
    refs = b"\x00\xf0\x00" * 100
    header = bytes([0x80 | len(refs) & 0x7F, len(refs) >> 7]) + refs
    member = b"\x01\x00\x01x" + header + b"\x01y\x01"
    text = compact_text(2, b"\x04" + member * 4, b"ssss")
    assert 100 * 43 < MAX_PRESENTATION < 4 * 100 * 43
    both_agree(text)
    with pytest.raises(FormatError, match="too large"):
        decode_compact(text)


_SALT, _KEY = b"\x07" * 16, b"\x2a" * 32
_DISCLOSURE = b64json([b64(_SALT), "name", "王"])
_PREFIX_TEXT = "~".join(
    [
        ".".join(
            [
                b64json({"alg": "ES256", "kid": b64(_KEY), "typ": "dc+sd-jwt"}),
                b64json({"_sd": [b64(hashlib.sha256(_DISCLOSURE.encode()).digest())]}),
                b64(b"\x01" * 64),
            ]
        ),
        _DISCLOSURE,
        "",
    ]
)
_FIXED = _PREFIX_TEXT + ".".join(
    [
        b64json({"alg": "ES256", "typ": "kb+jwt"}),
        b64json({"sd_hash": b64(hashlib.sha256(_PREFIX_TEXT.encode()).digest())}),
        b64(b"\x02" * 64),
    ]
)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(
    "damage",
    ["none", "skeleton+1", "skeleton-1", "tail+1", "tail-1", "tail only", "no skeleton"],
)
def test_fixed_damage_decodes_alike(damage: str, version: int) -> None:
    version, skeleton, tail = parts_of(encode_compact(_FIXED, version=version))
    skeleton, tail = {
        "none": (skeleton, tail),
        "skeleton+1": (skeleton + b"\x00", tail),
        "skeleton-1": (skeleton[:-1], tail),
        "tail+1": (skeleton, tail + b"\x00"),
        "tail-1": (skeleton, tail[:-1]),
        "tail only": (b"", tail),
        "no skeleton": (skeleton, b""),
    }[damage]
    text = compact_text(version, skeleton, tail)
    both_agree(text)
    assert (outcome(decode_compact, text)[0] == "ok") == (damage == "none")
