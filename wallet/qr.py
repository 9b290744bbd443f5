"""QR images of presentations (PNG and SVG), rendered with ``qrcode``.

Two choices make the codes small and the rendering fast (``bench/qr.py`` measures both):

* **Segment modes.** A compact QR text (``sdjwt.qr_transport``: ``EC1:`` + Base45) is
  made only of the 45 characters of the QR *alphanumeric* mode, 5.5 bits each, and is
  written as one alphanumeric segment; any other text keeps ``qrcode``'s own mix of
  numeric, alphanumeric and byte segments.
* **A fixed mask.** ``qrcode`` by default builds the symbol once per mask pattern (eight
  times) to score ISO/IEC 18004's penalty rules, which dominates rendering. Every mask
  is valid for every reader; the score only steers away from patterns that look like
  finder patterns or large uniform areas, which the scrambled bytes of a compressed,
  Base45-encoded presentation do not form. We use mask ``MASK`` and draw the PNG from
  the module matrix in one Pillow pass (tests decode every image with zxing-cpp,
  photographed too).
"""

from __future__ import annotations

import io
from typing import Literal

import qrcode
import qrcode.constants
import qrcode.image.svg
import qrcode.util
from PIL import Image

from keys.errors import FormatError
from sdjwt.qr_transport import encode_compact
from wallet.errors import QrTooLarge, QrUnencodable

ErrorCorrection = Literal["L", "M", "Q", "H"]
_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
#: The mask pattern of every code we draw (0–7, ISO/IEC 18004 §7.8.2).
MASK = 0
#: Pixels per module of a PNG.
BOX_SIZE = 8
#: The characters of the QR alphanumeric mode.
_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def presentation_qr_text(presentation: str, compact: bool = True) -> str:
    """The text to put in an offline QR code: the compact QR transport, or the plain text.

    Raises :class:`~wallet.errors.QrUnencodable` when ``presentation`` is not a
    well-formed SD-JWT presentation.
    """
    if not compact:
        return presentation
    try:
        return encode_compact(presentation)
    except FormatError as err:
        raise QrUnencodable(
            f"the presentation cannot be packed for a QR code: {err.message}",
        ) from err


def _make(text: str, level: ErrorCorrection, border: int) -> qrcode.QRCode:
    """The symbol for ``text`` at ``level`` with mask ``MASK``, at the smallest version."""
    qr = qrcode.QRCode(
        error_correction=_LEVELS[level], border=border, box_size=BOX_SIZE, mask_pattern=MASK
    )
    _add_segments(qr, text)
    qr.make(fit=False)  # the version is set: the bits are laid out once, masked once
    return qr


def _add_segments(qr: qrcode.QRCode, text: str) -> None:
    """Add ``text`` as one alphanumeric segment when it can be, and set the version."""
    if text and _ALPHANUMERIC.issuperset(text):
        data = text.encode("ascii")
        qr.add_data(qrcode.util.QRData(data, mode=qrcode.util.MODE_ALPHA_NUM, check_data=False))
        # ISO/IEC 18004 §7.4.4: 11 bits per pair, 6 for an odd last character
        payload = 4 + 11 * (len(data) // 2) + 6 * (len(data) % 2)
        limits = qrcode.util.BIT_LIMIT_TABLE[qr.error_correction]
        for version in range(1, 41):
            count_bits = 9 if version < 10 else 11 if version < 27 else 13
            if payload + count_bits <= limits[version]:
                qr.version = version
                return
        raise QrTooLarge("the text is too long for a QR code")
    qr.add_data(text)
    try:
        qr.best_fit()
    except (ValueError, qrcode.exceptions.DataOverflowError) as err:
        raise QrTooLarge("the text is too long for a QR code") from err


def qr_version(text: str, level: ErrorCorrection = "M") -> int:
    """The smallest QR version (1–40) that holds ``text`` at ``level``."""
    qr = qrcode.QRCode(error_correction=_LEVELS[level])
    _add_segments(qr, text)
    version: int = qr.version
    return version


def render_png(text: str, *, level: ErrorCorrection = "M", border: int = 4) -> bytes:
    """A PNG of the QR code for ``text``. Raises :class:`QrTooLarge` if it does not fit."""
    qr = _make(text, level, border)
    modules: list[list[bool | None]] = qr.modules
    size = len(modules)
    side = size + 2 * border
    # one byte per module, white border included: 0 black, 255 white
    white = b"\xff" * side
    rows = [white] * border
    margin = b"\xff" * border
    rows.extend(margin + bytes(0 if m else 255 for m in row) + margin for row in modules)
    rows.extend([white] * border)
    image = Image.frombytes("L", (side, side), b"".join(rows))
    image = image.resize((side * BOX_SIZE, side * BOX_SIZE), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.convert("1", dither=Image.Dither.NONE).save(out, "PNG", optimize=False)
    return out.getvalue()


def render_svg(text: str, *, level: ErrorCorrection = "M", border: int = 4) -> bytes:
    """An SVG of the QR code for ``text``. Raises :class:`QrTooLarge` if it does not fit."""
    image = _make(text, level, border).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
