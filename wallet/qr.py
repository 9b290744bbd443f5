"""QR images of presentations (PNG and SVG), rendered with ``qrcode``."""

from __future__ import annotations

import io
from typing import Literal

import qrcode
import qrcode.constants
import qrcode.image.svg

from wallet.errors import WalletError

ErrorCorrection = Literal["L", "M", "Q", "H"]
_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def _make(text: str, level: ErrorCorrection, border: int) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=_LEVELS[level], border=border, box_size=8)
    qr.add_data(text)
    try:
        qr.make(fit=True)
    except (ValueError, qrcode.exceptions.DataOverflowError) as err:
        raise WalletError("the text is too long for a QR code", code="qr_too_large") from err
    return qr


def qr_version(text: str, level: ErrorCorrection = "M") -> int:
    """The smallest QR version (1–40) that holds ``text`` at ``level``."""
    version: int = _make(text, level, 4).version
    return version


def render_png(text: str, *, level: ErrorCorrection = "M", border: int = 4) -> bytes:
    """A PNG of the QR code for ``text``. Raises :class:`WalletError` if it does not fit."""
    image = _make(text, level, border).make_image()
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def render_svg(text: str, *, level: ErrorCorrection = "M", border: int = 4) -> bytes:
    """An SVG of the QR code for ``text``. Raises :class:`WalletError` if it does not fit."""
    image = _make(text, level, border).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
