"""wallet.qr renders, verifier.qrimage reads: every image is checked with a real decoder
(zxing-cpp), including a photo of the screen as a webcam or phone would take it."""

from __future__ import annotations

import io
import re
import struct
import zlib
from xml.etree import ElementTree

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from tests.factory import World
from verifier.errors import Malformed
from verifier.qrimage import MAX_IMAGE_BYTES, MAX_PIXELS, decode_qr
from wallet import WalletError
from wallet.qr import ErrorCorrection, qr_version, render_png, render_svg

SVG_NS = "{http://www.w3.org/2000/svg}"
SHORT_URL = "https://ecert.example/p/3q2-7wEjRmWx0cNvYtZk9A"


@pytest.fixture(scope="module")
def presentations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Real presentations of a resident ID card: small (hotel) and large (bank)."""
    from store.sqlite import SQLiteStore

    store = SQLiteStore(str(tmp_path_factory.mktemp("qr") / "ecert.db"))
    try:
        world = World(store)
        held, wallet = world.issue_id_card()
        scenes = world.verifier().trust_list.scenes
        return {
            "hotel": wallet.present_for_scene(held, scenes["hotel"]),
            "bank": wallet.present_for_scene(held, scenes["bank"]),
        }
    finally:
        store.close()


def png(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


# -- PNG ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["hotel", "bank"])
def test_png_of_a_presentation_decodes_to_the_same_text(
    presentations: dict[str, str], which: str
) -> None:
    text = presentations[which]
    image = render_png(text)
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode_qr(image) == text


@pytest.mark.parametrize("level", ["L", "M"])
def test_png_of_a_presentation_decodes_at_levels_l_and_m(
    presentations: dict[str, str], level: ErrorCorrection
) -> None:
    # an offline presentation is ~1,700 characters: version 30+ at L and M, too big for Q/H
    text = presentations["hotel"]
    assert decode_qr(render_png(text, level=level)) == text


@pytest.mark.parametrize("level", ["L", "M", "Q", "H"])
def test_png_of_the_online_url_decodes_at_every_level(level: ErrorCorrection) -> None:
    assert decode_qr(render_png(SHORT_URL, level=level)) == SHORT_URL


def test_higher_error_correction_needs_a_larger_version() -> None:
    levels: list[ErrorCorrection] = ["L", "M", "Q", "H"]
    versions = [qr_version(SHORT_URL, level) for level in levels]
    assert versions == sorted(versions) and versions[0] < versions[-1]


@pytest.mark.parametrize(
    "text",
    [SHORT_URL, "x", "李四 北京市东城区", "a~b~c" * 40],
    ids=["online-url", "one-char", "chinese", "tildes"],
)
def test_png_round_trips_other_texts(text: str) -> None:
    assert decode_qr(render_png(text)) == text


def test_too_much_text_raises_qr_too_large() -> None:
    with pytest.raises(WalletError) as info:
        render_png("A" * 8000)
    assert info.value.code == "qr_too_large"
    with pytest.raises(WalletError):
        render_svg("A" * 8000)


# -- a photo of the screen ------------------------------------------------------------------------


def photo_of(qr_png: bytes, *, angle: float = 4.0, blur: float = 1.0) -> bytes:
    """What a webcam makes of a phone screen: scaled, tilted, soft, grey, JPEG."""
    qr = Image.open(io.BytesIO(qr_png)).convert("L")
    qr = qr.resize((qr.width * 3, qr.height * 3), Image.Resampling.BICUBIC)
    qr = qr.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=180)
    qr = qr.filter(ImageFilter.GaussianBlur(blur))
    qr = ImageOps.expand(qr, border=120, fill=150)
    # a grey desk with the screen slightly off-centre
    background = Image.new("L", (qr.width + 300, qr.height + 200), 128)
    background.paste(qr, (200, 60))
    return png(background.convert("RGB"), "JPEG", quality=80)


def test_a_photo_of_the_qr_still_decodes(presentations: dict[str, str]) -> None:
    text = presentations["hotel"]
    photo = photo_of(render_png(text))
    assert photo.startswith(b"\xff\xd8")  # JPEG
    assert decode_qr(photo) == text


def test_a_photo_of_the_online_qr_still_decodes() -> None:
    photo = photo_of(render_png(SHORT_URL), angle=-7.0, blur=1.5)
    assert decode_qr(photo) == SHORT_URL


# -- SVG -------------------------------------------------------------------------------------------


_RECT = re.compile(r"M([\d.]+),([\d.]+)H([\d.]+)V([\d.]+)H([\d.]+)z")


def rasterise(svg: bytes, scale: float = 10.0) -> Image.Image:
    """Draw qrcode's SvgPathImage output (one path of axis-aligned rectangles)."""
    root = ElementTree.fromstring(svg)
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    (path,) = root.iter(f"{SVG_NS}path")
    d = path.attrib["d"]
    rects = _RECT.findall(d)
    assert rects and "".join(m.group(0) for m in _RECT.finditer(d)) == d, "unexpected path"
    image = Image.new("L", (round(width * scale), round(height * scale)), 255)
    draw = ImageDraw.Draw(image)
    for x1, y1, x2, y2, _ in rects:
        box = [round(float(v) * scale) for v in (x1, y1, x2, y2)]
        draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=0)
    return image


def test_svg_is_well_formed_xml_with_a_path(presentations: dict[str, str]) -> None:
    svg = render_svg(presentations["hotel"])
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert "viewBox" in root.attrib
    paths = list(root.iter(f"{SVG_NS}path"))
    assert len(paths) == 1 and paths[0].attrib["d"].startswith("M")
    assert not list(root.iter(f"{SVG_NS}script"))


def test_svg_and_png_of_the_same_text_decode(presentations: dict[str, str]) -> None:
    text = presentations["hotel"]
    assert decode_qr(render_png(text)) == text
    assert decode_qr(png(rasterise(render_svg(text)))) == text


def test_svg_of_the_online_url_decodes_once_drawn() -> None:
    assert decode_qr(png(rasterise(render_svg(SHORT_URL)))) == SHORT_URL


# -- decode_qr refuses -----------------------------------------------------------------------------


def _png_claiming_size(width: int, height: int) -> bytes:
    """A tiny, valid PNG whose header claims ``width`` x ``height`` pixels."""
    small = png(Image.new("L", (1, 1), 255))
    ihdr = struct.pack(">II", width, height) + small[24:29]
    chunk = b"IHDR" + ihdr
    crc = struct.pack(">I", zlib.crc32(chunk))
    return small[:12] + chunk + crc + small[33:]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not an image at all", id="text"),
        pytest.param(b"%PDF-1.7\n", id="pdf"),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'/>", id="svg"),
    ],
)
def test_decode_refuses_what_is_not_an_image(data: bytes) -> None:
    with pytest.raises(Malformed):
        decode_qr(data)


def test_decode_refuses_a_truncated_png() -> None:
    whole = render_png(SHORT_URL)
    with pytest.raises(Malformed):
        decode_qr(whole[: len(whole) // 2])


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_decode_refuses_an_image_without_a_qr_code(fmt: str) -> None:
    blank = Image.new("RGB", (400, 300), (240, 240, 240))
    with pytest.raises(Malformed, match="no QR"):
        decode_qr(png(blank, fmt))


def test_decode_refuses_an_oversized_input() -> None:
    data = render_png(SHORT_URL)
    with pytest.raises(Malformed, match="too large"):
        decode_qr(data + b"\x00" * (MAX_IMAGE_BYTES + 1 - len(data)))


def test_decode_refuses_too_many_pixels_before_decoding() -> None:
    side = int(MAX_PIXELS**0.5) + 1
    bomb = _png_claiming_size(side, side)
    assert len(bomb) < 100
    with pytest.raises(Malformed):
        decode_qr(bomb)


def test_decode_refuses_two_different_qr_codes() -> None:
    left = Image.open(io.BytesIO(render_png("first"))).convert("L")
    right = Image.open(io.BytesIO(render_png("second"))).convert("L")
    both = Image.new("L", (left.width + right.width + 40, max(left.height, right.height)), 255)
    both.paste(left, (0, 0))
    both.paste(right, (left.width + 40, 0))
    with pytest.raises(Malformed, match="more than one"):
        decode_qr(png(both))


def test_decode_accepts_the_same_code_twice() -> None:
    one = Image.open(io.BytesIO(render_png(SHORT_URL))).convert("L")
    two = Image.new("L", (one.width * 2 + 40, one.height), 255)
    two.paste(one, (0, 0))
    two.paste(one, (one.width + 40, 0))
    assert decode_qr(png(two)) == SHORT_URL
