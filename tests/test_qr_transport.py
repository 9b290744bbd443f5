"""The compact QR transport (sdjwt.qr_transport): lossless on every credential type and
on the RFC 9901 example, accepted by the verifier like the plain text, refused cleanly
when malformed, small enough for the QR targets, and readable by a real decoder."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter, ImageOps

from issuer import load_catalogue
from keys.b64 import b64url_encode
from keys.errors import FormatError
from keys.jws import parse_compact
from keys.signing import VerifyingKey
from sdjwt import digest, qr_transport
from sdjwt.qr_transport import (
    DICTIONARIES,
    DICTIONARY,
    DICTIONARY_SHA256,
    DICTIONARY_V1,
    DICTIONARY_V1_SHA256,
    DICTIONARY_V2,
    DICTIONARY_V2_SHA256,
    MAX_COMPACT,
    MAX_SET,
    MAX_SKELETON,
    PREFIX,
    PREFIX_V1,
    b45decode,
    b45encode,
    decode_compact,
    encode_compact,
    is_compact,
)
from store.sqlite import SQLiteStore
from tests.factory import ID_CLAIMS, World, full_example
from verifier import Verifier
from verifier.qrimage import decode_qr
from wallet import WalletError
from wallet.presentation import present
from wallet.qr import presentation_qr_text, qr_version, render_png

CATALOGUE = load_catalogue()
RFC9901 = Path(__file__).parent / "vectors" / "rfc9901"
#: The version-1 dictionary is part of the format: changing it needs a new version.
FROZEN_DICTIONARY_SHA256 = "c3a365a38be24c382375ca9b0cb4b7bada624fac9972a7fd757b3f4bf56868e5"
#: Version 2's, likewise (also recorded in docs/formats.md).
FROZEN_DICTIONARY_V2_SHA256 = "79e235c8d7736bb6947817a99e52debc2babcc5215ab08999811aa3dae9824cb"


def _unwrap(path: Path) -> str:
    """An RFC example as printed, without the line breaks added for the RFC's layout."""
    return "".join(path.read_text().split())






# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def module_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    store = SQLiteStore(str(tmp_path_factory.mktemp("qr-transport") / "ecert.db"))
    try:
        yield World(store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def id_presentations(module_world: World) -> dict[str, str]:
    """Resident ID card presentations: hotel and bank; hotel of a card with a photo digest."""
    world = module_world
    scenes = world.verifier().trust_list.scenes
    held, wallet = world.issue_id_card()
    photo, photo_wallet = world.issue_id_card(
        claims={**ID_CLAIMS, "photo_digest": b64url_encode(hashlib.sha256(b"photo").digest())}
    )
    return {
        "hotel": wallet.present_for_scene(held, scenes["hotel"]),
        "bank": wallet.present_for_scene(held, scenes["bank"]),
        "hotel+photo": photo_wallet.present_for_scene(photo, scenes["hotel"]),
    }


@pytest.fixture(scope="module")
def every_type(module_world: World) -> dict[str, list[str]]:
    """For each catalogue type: presentations disclosing everything, one claim, nothing."""
    world = module_world
    registry = world.platform.register_issuer(
        "registry", name_zh="登记处", name_en="Registry", vcts=list(CATALOGUE.vcts)
    )
    out: dict[str, list[str]] = {}
    for ctype in CATALOGUE.types:
        wallet = world.wallet()
        issued = world.issuer.issue(
            registry.iss,
            ctype.vct,
            subject="citizen-9",
            claims=full_example(ctype, "样例Sample示例"),
            holder_jwk=wallet.holder_jwk,
        )
        held = wallet.add(issued.sd_jwt)
        names = sorted(held.claim_names())
        out[ctype.vct] = [
            issued.sd_jwt,  # as issued: every disclosure, no KB-JWT
            *(
                present(held, chosen, holder_key=wallet.holder_key, aud="hotel", now=world.clock())
                for chosen in (names, names[:1], [])
            ),
        ]
    return out


def fresh_verifier(world: World) -> Verifier:
    return world.verifier()


# -- lossless ---------------------------------------------------------------------------------


def test_the_catalogue_is_covered(every_type: dict[str, list[str]]) -> None:
    assert set(every_type) == set(CATALOGUE.vcts) and len(every_type) >= 28


@pytest.mark.parametrize("vct", sorted(CATALOGUE.vcts))
def test_round_trip_on_every_credential_type(every_type: dict[str, list[str]], vct: str) -> None:
    for plain in every_type[vct]:
        compact = encode_compact(plain)
        assert compact.startswith(PREFIX) and is_compact(compact)
        assert decode_compact(compact) == plain
        assert len(compact) < len(plain)


@pytest.mark.parametrize("which", ["hotel", "bank", "hotel+photo"])
def test_round_trip_on_id_card_presentations(id_presentations: dict[str, str], which: str) -> None:
    plain = id_presentations[which]
    assert decode_compact(encode_compact(plain)) == plain


@pytest.mark.parametrize("name", ["sd_jwt_kb_presentation.txt", "sd_jwt_issuance.txt"])
def test_round_trip_on_the_rfc9901_examples(name: str) -> None:
    plain = _unwrap(RFC9901 / name)
    assert plain.count("~") >= 2
    compact = encode_compact(plain)
    assert decode_compact(compact) == plain


#: The RFC 9901 example presentation as the version-1 encoder wrote it before version 2
#: (made with sdjwt/qr_transport.py of commit fbbe43b): a QR code shown before the
#: change must keep decoding to the same text.
FROZEN_EC1_RFC9901 = (
    "EC1:.%E*.PYUOK52+-LL%U.V7V0SS54%NVKJ2+%ALR4KH58J9LIB/W1EHHGG4:DIPQUNUFQ3D-/EUZSZO3-/EENM"
    "DGW 2U/WB52MXU1-47J5RU3S2+1/$QR4LOYEGOEK+7X1BF3PJUQ$U9TZKBORWX1M:4 7T%XCJY0AX7F2W3LI2SJ2"
    ".C4AJDSKGAMNPNUB1L7QY4O8/P%WVM%T7H95/F*CQ5195PPZU3MDR86R090UK0%.0*QKJQU 7ALB3Y7Q3IO+NO19"
    "W1P1GJT00LO:KTOO .V8SPU+8/*I:APVL22$7 $C87Q62FLGK.DEPA6K.J:NA8$I+6SR G*L1% K3BFG/PMMKALC"
    "%VMWI1TRM2QRQE17O75IDAYLWWB7EG5097U5352IIKJUG-3RY5V10VE2MD8WJSAJPFTO20UFULR-FJWCV.PHTK6I"
    "W8OMKU:GR1O2RA6:TOJ6BFB0A9ET426B.W8 2JZ.Q3LFW.I2GTTEGH59MIOH3KV98L30M1G$4S%-78QAD3SC866G"
    "I:FRVSO.ND/K8EMG86DMHPO%9/:IGDEBEJEJCSRI1H9X76P.5+F1.+3-%54BL+/02PTMECLT3M8NAKR*NVH%6VIM"
    "2-PTGV$ H3/4 J4 QH3:IU*URTEK5295S07U/9N+0ES8LJ/C/0P/P8H%IZ+77/OKOIO:AJLMNJC4PGGW0$$AUZD4"
    "T3PII570D$6OZ1Q2UIYBGDVPUUM:QC9JNAKBOI1GA %4J$A* 9YRU0Z7$RUX*U4R0%HGCYLNEG9ULB.EB:199TQ*"
    "OEHLC6ED%AN OHDQ71Q8VGG-UK%T3SVKQ8L0FH9NX6P$Z3ZKJ169L8OZW6FA55*LUW2ZE2 EB3S9FO0J2C76OO2Q"
    "O+BKMS706 W49R3M:UJFNU 1$O7%:4FLFM1DURS40DZ86+4H$KC8O8DOBMCH*IMT6U9FO6VT*K4RLQCX3DD6KIUC"
    "82D7N7AWSNCSRVO:52IN/9RTPDU A P7JXQTG74V7%-TH-RQ UH63IPSUGV0KTAV3P5EUHRFFJJEJD88UNB%.BZ."
    "M02A$CHH:P3JHS*CJGBY+AGLRMG4-ZGF13O3NF.I3F609B6YHR5N13B8CHV8BNYS.Z2EY1U71NIJSWOUG2MZE:XT"
    "D%3%B55GS"
)


def test_a_frozen_version_1_text_still_decodes_and_its_signatures_verify() -> None:
    plain = _unwrap(RFC9901 / "sd_jwt_kb_presentation.txt")
    assert FROZEN_EC1_RFC9901.startswith(PREFIX_V1) and is_compact(FROZEN_EC1_RFC9901)
    assert decode_compact(FROZEN_EC1_RFC9901) == plain
    assert encode_compact(plain, version=1) == FROZEN_EC1_RFC9901  # the old encoder, kept
    # the decoded text is the signed one: the issuer's and the holder's signatures hold
    issuer_jwt, *_, kb_jwt = plain.split("~")
    issuer = parse_compact(issuer_jwt, typ="example+sd-jwt")
    VerifyingKey.from_jwk(json.loads((RFC9901 / "issuer_jwk.json").read_text())).verify(
        issuer.signing_input, issuer.signature
    )
    kb = parse_compact(kb_jwt, typ="kb+jwt")
    VerifyingKey.from_jwk(issuer.payload["cnf"]["jwk"]).verify(kb.signing_input, kb.signature)
    assert kb.payload["sd_hash"] == digest(plain[: len(plain) - len(kb_jwt)])


@pytest.mark.parametrize("version", [1, 2])
def test_the_verifier_accepts_both_versions(world: World, version: int) -> None:
    held, wallet = world.issue_id_card()
    verifier = fresh_verifier(world)
    plain = wallet.present_for_scene(held, verifier.trust_list.scenes["hotel"])
    compact = encode_compact(plain, version=version)
    assert compact.startswith(f"EC{version}:") and decode_compact(compact) == plain
    result = verifier.verify(compact, "hotel")
    assert result.valid, result.errors


def test_version_2_of_one_presentation_is_that_presentation(
    id_presentations: dict[str, str],
) -> None:
    plain = id_presentations["hotel"]
    v1, v2 = encode_compact(plain, version=1), encode_compact(plain)
    assert v2.startswith("EC2:") and decode_compact(v2) == decode_compact(v1) == plain
    inflate = zlib.decompressobj(-15, DICTIONARY_V2)
    assert inflate.decompress(b45decode(v2[4:]))[:1] == b"\x01"  # m = 1


@pytest.mark.parametrize("size", [2, 3, MAX_SET])
def test_a_set_round_trips_to_the_plain_set_text(
    every_type: dict[str, list[str]], size: int
) -> None:
    vcts = sorted(every_type)
    members = [every_type[vcts[i]][2] for i in range(size)]  # one claim each, with KB-JWT
    plain = _set_text(members)
    assert plain.startswith('["') and " " not in plain
    compact = encode_compact(plain)
    assert compact.startswith("EC2:") and decode_compact(compact) == plain
    # one stream: the set is smaller than its members' texts one by one
    assert len(compact) < sum(len(encode_compact(m)) for m in members)


def test_a_set_of_the_same_presentation_twice_keeps_each_members_references() -> None:
    plain = _unwrap(RFC9901 / "sd_jwt_kb_presentation.txt")
    twice = _set_text([plain, plain])
    compact = encode_compact(twice)
    assert decode_compact(compact) == twice
    inflate = zlib.decompressobj(-15, DICTIONARY)
    skeleton = inflate.decompress(b45decode(compact[len(PREFIX) :]))
    assert skeleton[0] == 2 and skeleton.count(b"\x00\xf1") == 2  # an sd_hash each


@pytest.mark.parametrize(
    "bad",
    [
        "[]",
        "[",
        '[""]',
        '["a"]',  # one member: not a set
        '["eyJh.eyJh.c2ln~"]',
        '["eyJh.eyJh.c2ln~", "eyJh.eyJh.c2ln~"]',  # a space
        '[ "eyJh.eyJh.c2ln~","eyJh.eyJh.c2ln~"]',
        '["eyJh.eyJh.c2ln~","eyJh.eyJh.c2ln~"]\n',
        '["eyJh.eyJh.c2ln~","eyJh.eyJh.c2ln~",]',
        '["eyJh.eyJh.c2ln~",["eyJh.eyJh.c2ln~"]]',
        '["eyJh.eyJh.c2ln~",1]',
        '["\\u0065yJh.eyJh.c2ln~","eyJh.eyJh.c2ln~"]',  # an escape
        '["eyJh.eyJh.c2ln~","eyJh.eyJh.c2ln~"',
        '["eyJh.eyJh.c2ln~",""]',
        '["eyJh.eyJh.c2ln~","eyJh.eyJh.c2ln~","eyJh.eyJh.c2ln~","eyJh.eyJh.c2ln~","eyJh.eyJh.c2ln~"]',
        '["eyJh.eyJh.c2ln~","eyJh.eyJh~"]',  # a member that is not an SD-JWT
        '["eyJh.eyJh.c2ln~","eyJh.eyJh.c2m~"]',  # non-canonical base64url
        "[" * 4000,
    ],
)
def test_encode_refuses_any_other_array_form(bad: str) -> None:
    with pytest.raises(FormatError):
        encode_compact(bad)


def test_a_set_is_version_2_only_and_unknown_versions_are_refused() -> None:
    plain = _unwrap(RFC9901 / "sd_jwt_kb_presentation.txt")
    with pytest.raises(FormatError):
        encode_compact(_set_text([plain, plain]), version=1)
    for version in (0, 3):
        with pytest.raises(FormatError, match="unsupported"):
            encode_compact(plain, version=version)


def test_the_compact_text_is_qr_alphanumeric(id_presentations: dict[str, str]) -> None:
    alphanumeric = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    compact = encode_compact(id_presentations["bank"])
    assert set(compact) <= alphanumeric
    assert not compact.endswith(" ")  # Base45 never ends in a space: nothing to trim


def test_digests_of_disclosed_claims_and_sd_hash_travel_as_references(
    id_presentations: dict[str, str],
) -> None:
    # bank: 8 of the 9 digests are recomputed from the disclosures, and the sd_hash too
    plain = id_presentations["bank"]
    compact = encode_compact(plain)
    body = b45decode(compact[len(PREFIX) :])
    inflate = zlib.decompressobj(-15, DICTIONARY)
    skeleton = inflate.decompress(body)
    assert skeleton.count(b"\x00\xf0") == 8
    assert skeleton.count(b"\x00\xf1") == 1
    # the tail: 1 digest + x + y + kid (32 bytes each), 8 salts + nonce, 2 signatures
    assert len(inflate.unused_data) == 4 * 32 + 9 * 16 + 2 * 64


def _segment(data: bytes) -> str:
    return b64url_encode(data)


def test_nested_disclosures_and_escapes_round_trip() -> None:
    # a disclosure that references another (recursive, RFC 9901 §4.2.6), a zero byte,
    # base64url strings too short, non-canonical and too long to lift out
    inner = _segment(b'["c2FsdHNhbHRzYWx0c2FsdA","street","Main St"]')
    outer = _segment(
        b'["c2FsdHNhbHRzYWx0c2FsdA","address",{"_sd":["' + digest(inner).encode() + b'"]}]'
    )
    header = _segment(b'{"alg":"ES256","x":"\x00\x00\x01","short":"AAAA"}')
    payload = _segment(
        b'{"_sd":["' + digest(outer).encode() + b'"],"nc":"AAAAAAAAAAAAAAAAAAAAAB",'
        b'"long":"' + b"A" * 400 + b'","odd":"' + b"A" * 25 + b'"}'
    )
    sig = _segment(bytes(range(64)))
    for plain in (
        f"{header}.{payload}.{sig}~{outer}~{inner}~",
        f"{header}.{payload}.{sig}~{inner}~{outer}~{header}.{payload}.{sig}",
        f"{header}.{payload}.{sig}~",
    ):
        assert decode_compact(encode_compact(plain)) == plain


_B64_TEXT = st.binary(min_size=1, max_size=60).map(b64url_encode)
_JSONISH = st.lists(
    st.one_of(
        st.binary(max_size=20),
        _B64_TEXT.map(lambda s: b'"' + s.encode() + b'"'),
        st.sampled_from([b'"', b"\x00", b'","', b'{"_sd":["', b"A" * 22]),
    ),
    max_size=12,
).map(b"".join)
_SEG = st.one_of(_JSONISH.filter(bool), st.binary(min_size=1, max_size=80)).map(b64url_encode)
_JWT = st.tuples(_SEG, _SEG, _SEG).map(".".join)


@settings(max_examples=300, deadline=None)
@given(_JWT, st.lists(_SEG, max_size=6), st.one_of(st.just(""), _JWT))
def test_round_trip_property(jwt: str, disclosures: list[str], kb: str) -> None:
    plain = "~".join([jwt, *disclosures, kb])
    assert decode_compact(encode_compact(plain)) == plain


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "eyJhbGciOiJFUzI1NiJ9",  # no "~"
        "eyJh.eyJh~",  # two segments
        "eyJh.eyJh.c2ln~a.b~",  # a disclosure with a "."
        "eyJh.eyJh.c2ln~~",  # an empty disclosure
        "eyJh.eyJh.c2m~",  # non-canonical base64url (unused bits set)
        "eyJh.eyJh.c2lua~",  # an impossible length
        "eyJh.eyJh.c2ln~ZGlz=~",  # padding
        "eyJh.eyJh.c2ln~ZGl\u00e9~",  # not ASCII
        "eyJh.eyJh.c2ln~" + "QUFB" * 5000 + "~",  # too large
    ],
)
def test_encode_refuses_what_is_not_a_canonical_sd_jwt(bad: str) -> None:
    with pytest.raises(FormatError):
        encode_compact(bad)


def test_the_dictionaries_are_frozen() -> None:
    assert hashlib.sha256(DICTIONARY_V1).hexdigest() == DICTIONARY_V1_SHA256
    assert DICTIONARY_V1_SHA256 == FROZEN_DICTIONARY_SHA256
    assert hashlib.sha256(DICTIONARY_V2).hexdigest() == DICTIONARY_V2_SHA256
    assert DICTIONARY_V2_SHA256 == FROZEN_DICTIONARY_V2_SHA256
    assert dict(DICTIONARIES) == {1: DICTIONARY_V1, 2: DICTIONARY_V2}
    assert (PREFIX, DICTIONARY, DICTIONARY_SHA256) == ("EC2:", DICTIONARY_V2, DICTIONARY_V2_SHA256)
    # version 2 keeps version 1's fragments (the ID card's templates last, most frequent)
    assert DICTIONARY_V2.endswith(DICTIONARY_V1)
    assert len(DICTIONARY_V2) <= 32 * 1024  # DEFLATE's window: the whole of it is used


def test_the_docs_record_the_dictionary_hashes() -> None:
    formats = (Path(__file__).parent.parent / "docs" / "formats.md").read_text(encoding="utf-8")
    assert FROZEN_DICTIONARY_SHA256 in formats and FROZEN_DICTIONARY_V2_SHA256 in formats


def test_base45_is_rfc9285() -> None:
    # RFC 9285 §4.3 examples
    assert b45encode(b"AB") == "BB8"
    assert b45encode(b"Hello!!") == "%69 VD92EX0"
    assert b45encode(b"base-45") == "UJCLQE7W581"
    assert b45decode("QED8WEX0") == b"ietf!"
    for bad in ("GGW", "ZZZZ", "A", "abc", "BB8:"):
        with pytest.raises(FormatError):
            b45decode(bad)


# -- the verifier ------------------------------------------------------------------------------


def test_verifier_accepts_compact_and_plain_alike(world: World) -> None:
    held, wallet = world.issue_id_card()
    plain_verifier, compact_verifier = fresh_verifier(world), fresh_verifier(world)
    plain = wallet.present_for_scene(held, plain_verifier.trust_list.scenes["hotel"])
    compact = encode_compact(plain)
    plain_result = plain_verifier.verify(plain, "hotel")
    compact_result = compact_verifier.verify(compact, "hotel")
    assert plain_result.valid, plain_result.errors
    assert compact_result.to_dict() == plain_result.to_dict()
    assert compact_result.claims == {"name": ID_CLAIMS["name"], "id_number": ID_CLAIMS["id_number"]}
    # one presentation, whatever its transport: the second showing is a replay
    assert plain_verifier.verify(compact, "hotel").codes == ["replayed"]


def test_compact_failures_are_those_of_the_plain_text(world: World) -> None:
    held, wallet = world.issue_id_card()
    plain = wallet.present_for_scene(held, fresh_verifier(world).trust_list.scenes["hotel"])
    compact = encode_compact(plain)
    # shown for another scene: the same refusal either way
    other_plain = fresh_verifier(world).verify(plain, "bank")
    other_compact = fresh_verifier(world).verify(compact, "bank")
    assert other_compact.to_dict() == other_plain.to_dict()
    assert not other_compact.valid
    world.clock.advance(600)  # too old
    stale_plain = fresh_verifier(world).verify(plain, "hotel")
    stale_compact = fresh_verifier(world).verify(compact, "hotel")
    assert stale_compact.to_dict() == stale_plain.to_dict()
    assert "presentation_expired" in stale_compact.codes


@pytest.mark.parametrize("suffix", ["\r\n", "\n", "\r"])
def test_a_compact_text_with_a_trailing_enter_verifies(world: World, suffix: str) -> None:
    held, wallet = world.issue_id_card()
    verifier = fresh_verifier(world)
    compact = encode_compact(wallet.present_for_scene(held, verifier.trust_list.scenes["hotel"]))
    result = verifier.verify(compact + suffix, "hotel")
    assert result.valid, result.errors


def test_a_compact_text_as_bytes_verifies(world: World) -> None:
    held, wallet = world.issue_id_card()
    verifier = fresh_verifier(world)
    compact = encode_compact(wallet.present_for_scene(held, verifier.trust_list.scenes["hotel"]))
    result = verifier.verify(compact.encode("ascii") + b"\r\n", "hotel")
    assert result.valid, result.errors


def _body(skeleton: bytes, tail: bytes = b"", *, version: int = 2) -> str:
    """A compact text of a hand-made skeleton: version 2's count of one is added."""
    if version == 2:
        skeleton = b"\x01" + skeleton
    return f"EC{version}:" + b45encode(_deflated(skeleton, version) + tail)


def _raw_body(skeleton: bytes, tail: bytes = b"") -> str:
    return PREFIX + b45encode(_deflated(skeleton, 2) + tail)


def _malformed_cases(good: str, good_set: str) -> dict[str, str | bytes]:
    body = b45decode(good[len(PREFIX) :])
    inflate = zlib.decompressobj(-15, DICTIONARY)
    skeleton = inflate.decompress(body)[1:]  # without the count
    tail = inflate.unused_data
    inflate = zlib.decompressobj(-15, DICTIONARY)
    set_skeleton = inflate.decompress(b45decode(good_set[len(PREFIX) :]))
    set_tail = inflate.unused_data
    zero_bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = zero_bomb.compress(b"\x00" * (4 * 1024 * 1024)) + zero_bomb.flush()
    return {
        "prefix only": PREFIX,
        "garbage": PREFIX + "NOT BASE45 AT ALL!!",
        "lowercase": PREFIX + "abc",
        "base45 out of range": PREFIX + "GGW",
        "base45 impossible length": PREFIX + "ABCD",
        "not deflate": PREFIX + b45encode(b"\xff" * 40),
        "truncated": good[: len(PREFIX) + (len(good) - len(PREFIX)) // 2],
        "truncated by one group": good[:-3],
        "tail too short": _body(skeleton, tail[:-1]),
        "tail too long": _body(skeleton, tail + b"\x01"),
        "deflate truncated": PREFIX + b45encode(body[:60]),
        "skeleton bytes left over": _body(skeleton + b"\x00", tail),
        "skeleton truncated": _body(skeleton[:-5], tail),
        "unknown flags": _body(skeleton[:1] + b"\x02" + skeleton[2:], tail),
        "unknown escape": _body(b"\x00\x00\x02\x00\xf7\x01x\x40", b"\x01" * 64),
        "digest reference in a disclosure": _body(b"\x01\x00\x03\x00\xf0\x00", b""),
        "digest reference out of range": _body(b"\x00\x00\x03\x00\xf0\x05\x01x\x40", b"s" * 64),
        "sd_hash outside the KB-JWT": _body(b"\x00\x00\x02\x00\xf1\x01x\x40", b"s" * 64),
        "empty signature": _body(b"\x00\x00\x01x\x01x\x00", b""),
        "empty segment": _body(b"\x00\x00\x00\x01x\x40", b"s" * 64),
        "varint too long": _body(b"\xff\xff\xff\x7f", b""),
        "escape at the end": _body(b"\x00\x00\x01\x00", b""),
        "zlib bomb": PREFIX + b45encode(bomb),
        "wrong version": "EC3:" + good[len(PREFIX) :],
        "version 0": "EC0:" + good[len(PREFIX) :],
        "version with a leading zero": "EC02:" + good[len(PREFIX) :],
        "too long": PREFIX + "0" * MAX_COMPACT,
        "not ascii": PREFIX + "ÄÖÜ",
        "not ascii bytes": (PREFIX + "AB").encode() + b"\xff\xfe",
        "space inside": PREFIX + " " + good[len(PREFIX) :],
        # version 2: the count and the members
        "count missing": _raw_body(b""),
        "count zero": _raw_body(b"\x00" + skeleton, tail),
        "count over the limit": _raw_body(bytes([MAX_SET + 1]) + skeleton * 5, tail * 5),
        "count larger than the members": _raw_body(b"\x02" + skeleton, tail),
        "count smaller than the members": _raw_body(b"\x01" + set_skeleton[1:], set_tail),
        "a member's reference to another member's disclosure": _raw_body(
            b"\x02\x01\x00\x01x\x01x\x01y\x01" + b"\x00\x00\x03\x00\xf0\x00\x01y\x01", b"ss"
        ),
        "a member's sd_hash reference before its KB-JWT": _raw_body(
            b"\x02\x00\x01\x01x\x01y\x01\x01x\x01y\x01" + b"\x00\x00\x02\x00\xf1\x01y\x01",
            b"sss",
        ),
        "a version-1 skeleton under EC2": _raw_body(skeleton, tail),
        "a version-2 skeleton under EC1": PREFIX_V1
        + b45encode(_deflated(b"\x01" + skeleton, 1) + tail),
        "a version-2 body under EC1": PREFIX_V1 + good[len(PREFIX) :],
    }


_CASES = [
    "prefix only", "garbage", "lowercase", "base45 out of range", "base45 impossible length",
    "not deflate", "truncated", "truncated by one group", "tail too short", "tail too long",
    "deflate truncated", "skeleton bytes left over", "skeleton truncated", "unknown flags",
    "unknown escape", "digest reference in a disclosure", "digest reference out of range",
    "sd_hash outside the KB-JWT", "empty signature", "empty segment", "varint too long",
    "escape at the end", "zlib bomb", "wrong version", "version 0", "version with a leading zero",
    "too long", "not ascii", "not ascii bytes", "space inside",
    "count missing", "count zero", "count over the limit", "count larger than the members",
    "count smaller than the members", "a member's reference to another member's disclosure",
    "a member's sd_hash reference before its KB-JWT", "a version-1 skeleton under EC2",
    "a version-2 skeleton under EC1", "a version-2 body under EC1",
]  # fmt: skip


@pytest.fixture(scope="module")
def malformed(module_world: World, id_presentations: dict[str, str]) -> dict[str, str | bytes]:
    members = [id_presentations["hotel"], id_presentations["bank"]]
    cases = _malformed_cases(encode_compact(members[0]), encode_compact(_set_text(members)))
    assert set(cases) == set(_CASES)
    return cases


@pytest.fixture(scope="module")
def module_verifier(module_world: World, id_presentations: dict[str, str]) -> Verifier:
    return module_world.verifier()


@pytest.mark.parametrize("case", _CASES)
def test_malformed_compact_text_is_a_malformed_result(
    malformed: dict[str, str | bytes], module_verifier: Verifier, case: str
) -> None:
    text = malformed[case]
    result = module_verifier.verify(text, "hotel")
    assert result.codes == ["malformed"], result.errors
    assert result.claims == {} and result.vct is None
    if isinstance(text, str):
        with pytest.raises(FormatError):
            decode_compact(text)


def test_a_decompression_bomb_stops_at_the_limit(malformed: dict[str, str | bytes]) -> None:
    bomb = malformed["zlib bomb"]
    assert isinstance(bomb, str) and len(bomb) < MAX_COMPACT  # it gets past the size check
    with pytest.raises(FormatError, match="expands beyond"):
        decode_compact(bomb)
    assert MAX_SKELETON < 4 * 1024 * 1024


def test_is_compact() -> None:
    assert is_compact(PREFIX + "ABC") and is_compact("EC2:ABC") and is_compact(b"EC1:")
    assert not is_compact("eyJhbGciOiJFUzI1NiJ9.e30.c2ln~")
    assert not is_compact("HC1:ABC") and not is_compact("ec1:ABC") and not is_compact("EC:")
    assert not is_compact(b"\xff\xfe") and not is_compact(None)  # type: ignore[arg-type]  # deliberately not the declared type: the runtime check is under test


_BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.text(max_size=300),
        st.text(alphabet=_BASE45, max_size=300),
        st.binary(max_size=300).map(b45encode),
        st.tuples(st.binary(max_size=200), st.binary(max_size=100)).map(
            lambda parts: b45encode(_deflated(parts[0]) + parts[1])
        ),
    ),
    st.sampled_from(["", "\r\n"]),
)
def test_random_data_after_the_prefix_never_raises(
    module_verifier: Verifier, data: str, suffix: str
) -> None:
    result = module_verifier.verify(PREFIX + data + suffix, "hotel")
    assert not result.valid
    assert result.codes[0] in {"malformed", "key_binding_missing", "key_binding_invalid"}


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400), st.sampled_from([b"", b"\r\n"]))
def test_random_bytes_after_the_prefix_never_raise(
    module_verifier: Verifier, data: bytes, suffix: bytes
) -> None:
    result = module_verifier.verify(PREFIX.encode("ascii") + data + suffix, "hotel")
    assert result.codes and not result.valid


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_a_damaged_compact_text_never_raises(
    module_verifier: Verifier, id_presentations: dict[str, str], data: st.DataObject
) -> None:
    plain = id_presentations["bank"]
    good = encode_compact(plain)
    at = data.draw(st.integers(len(PREFIX), len(good) - 1))
    char = data.draw(st.sampled_from(_BASE45 + "~a"))
    damaged = good[:at] + char + good[at + 1 :]
    result = module_verifier.verify(damaged, "bank")
    if result.valid:  # only if the damage did not change the presentation at all
        assert decode_compact(damaged) == plain


def _deflated(skeleton: bytes, version: int = 2) -> bytes:
    dictionary = DICTIONARIES[version]
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary)
    return deflate.compress(skeleton) + deflate.flush()


def _set_text(members: list[str]) -> str:
    """The plain set text (common12.md): a JSON array written without spaces."""
    return json.dumps(members, separators=(",", ":"))


def test_decode_compact_never_raises_anything_but_format_error() -> None:
    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=120), st.binary(max_size=120))
    def check(skeleton: bytes, tail: bytes) -> None:
        with contextlib.suppress(FormatError):
            decode_compact(PREFIX + b45encode(_deflated(skeleton) + tail))

    check()


# -- QR codes -----------------------------------------------------------------------------------

#: The targets of issue 4, at error correction level M.
TARGETS = {"hotel": 22, "hotel+photo": 22, "bank": 27}


@pytest.mark.parametrize("which", sorted(TARGETS))
def test_qr_version_targets_at_level_m(id_presentations: dict[str, str], which: str) -> None:
    plain = id_presentations[which]
    compact = presentation_qr_text(plain)
    assert compact == encode_compact(plain)
    assert qr_version(compact, "M") <= TARGETS[which]
    assert qr_version(compact, "M") < qr_version(plain, "M") - 10


def test_presentation_qr_text_plain_and_refusal(id_presentations: dict[str, str]) -> None:
    plain = id_presentations["hotel"]
    assert presentation_qr_text(plain, compact=False) == plain
    with pytest.raises(WalletError) as info:
        presentation_qr_text("not an SD-JWT")
    assert info.value.code == "qr_unencodable"


@pytest.mark.parametrize("which", ["hotel", "bank", "hotel+photo"])
@pytest.mark.parametrize("level", ["L", "M", "Q"])
def test_png_of_a_compact_text_decodes_to_the_same_text(
    id_presentations: dict[str, str], which: str, level: Any
) -> None:
    compact = encode_compact(id_presentations[which])
    assert decode_qr(render_png(compact, level=level)) == compact


def _photo_of(qr_png: bytes, *, angle: float, blur: float) -> bytes:
    """What a camera makes of a phone screen: scaled, tilted, soft, grey margins, JPEG."""
    qr = Image.open(io.BytesIO(qr_png)).convert("L")
    qr = qr.resize((qr.width * 2, qr.height * 2), Image.Resampling.BICUBIC)
    qr = qr.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=170)
    qr = qr.filter(ImageFilter.GaussianBlur(blur))
    qr = ImageOps.expand(qr, border=100, fill=150)
    desk = Image.new("L", (qr.width + 260, qr.height + 180), 120)
    desk.paste(qr, (170, 50))
    out = io.BytesIO()
    desk.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.mark.parametrize(("angle", "blur"), [(4.0, 1.0), (-4.0, 1.2), (3.0, 0.8)])
def test_a_photo_of_the_compact_hotel_qr_decodes(
    id_presentations: dict[str, str], angle: float, blur: float
) -> None:
    compact = encode_compact(id_presentations["hotel"])
    photo = _photo_of(render_png(compact), angle=angle, blur=blur)
    assert photo.startswith(b"\xff\xd8")
    scanned = decode_qr(photo)
    assert scanned == compact
    assert decode_compact(scanned) == id_presentations["hotel"]


def test_the_transport_module_is_pure() -> None:
    # no I/O: nothing in it opens files, sockets or processes
    source = Path(qr_transport.__file__).read_text()
    for word in ("open(", "socket", "subprocess", "requests", "urllib", "print("):
        assert word not in source
