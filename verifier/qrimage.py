"""Reading QR codes from camera frames, photos and uploads, with the zxing-cpp decoder."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image, UnidentifiedImageError

from verifier.errors import Malformed

#: Images larger than this (in bytes, or pixels) are refused before decoding.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000


def decode_qr(image_bytes: bytes) -> str:
    """The text of the QR code in a PNG/JPEG image.

    Raises :class:`~verifier.errors.Malformed` for an unreadable image, no QR code
    or more than one.
    """
    if len(image_bytes) > MAX_IMAGE_BYTES:
        raise Malformed("the image is too large")
    try:
        with Image.open(io.BytesIO(image_bytes)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise Malformed("the image has too many pixels")
            img.load()
            grey = img.convert("L")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise Malformed("the file is not a readable PNG or JPEG image") from err
    results = zxingcpp.read_barcodes(
        grey, formats=zxingcpp.BarcodeFormats([zxingcpp.BarcodeFormat.QRCode])
    )
    texts = [r.text for r in results if r.valid]
    if not texts:
        raise Malformed("no QR code was found in the image")
    if len(set(texts)) > 1:
        raise Malformed("the image holds more than one QR code")
    return texts[0]
