"""The compact QR transport (sdjwt.qr_transport): lossless on every credential type and
on the RFC 9901 example, accepted by the verifier like the plain text, refused cleanly
when malformed, small enough for the QR targets, and readable by a real decoder."""

from __future__ import annotations

import contextlib
import hashlib
import io
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
from sdjwt import digest, qr_transport
from sdjwt.qr_transport import (
    DICTIONARY,
    DICTIONARY_SHA256,
    MAX_COMPACT,
    MAX_SKELETON,
    PREFIX,
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
    assert set(every_type) == set(CATALOGUE.vcts) and len(every_type) == 34


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


def test_the_dictionary_is_frozen() -> None:
    assert hashlib.sha256(DICTIONARY).hexdigest() == DICTIONARY_SHA256
    assert DICTIONARY_SHA256 == FROZEN_DICTIONARY_SHA256


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


def _body(skeleton: bytes, tail: bytes = b"") -> str:
    return PREFIX + b45encode(_deflated(skeleton) + tail)


def _malformed_cases(good: str) -> dict[str, str | bytes]:
    body = b45decode(good[len(PREFIX) :])
    inflate = zlib.decompressobj(-15, DICTIONARY)
    skeleton = inflate.decompress(body)
    tail = inflate.unused_data
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
        "wrong version": "EC2:" + good[len(PREFIX) :],
        "version 0": "EC0:" + good[len(PREFIX) :],
        "too long": PREFIX + "0" * MAX_COMPACT,
        "not ascii": PREFIX + "ÄÖÜ",
        "not ascii bytes": (PREFIX + "AB").encode() + b"\xff\xfe",
        "space inside": PREFIX + " " + good[len(PREFIX) :],
    }


_CASES = [
    "prefix only", "garbage", "lowercase", "base45 out of range", "base45 impossible length",
    "not deflate", "truncated", "truncated by one group", "tail too short", "tail too long",
    "deflate truncated", "skeleton bytes left over", "skeleton truncated", "unknown flags",
    "unknown escape", "digest reference in a disclosure", "digest reference out of range",
    "sd_hash outside the KB-JWT", "empty signature", "empty segment", "varint too long",
    "escape at the end", "zlib bomb", "wrong version", "version 0",
    "too long", "not ascii", "not ascii bytes", "space inside",
]  # fmt: skip


@pytest.fixture(scope="module")
def malformed(module_world: World, id_presentations: dict[str, str]) -> dict[str, str | bytes]:
    cases = _malformed_cases(encode_compact(id_presentations["hotel"]))
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


def _deflated(skeleton: bytes) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
    return deflate.compress(skeleton) + deflate.flush()


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
