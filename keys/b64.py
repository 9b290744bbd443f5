"""Base64url without padding (RFC 7515 §2, RFC 4648 §5), strict on input."""

from __future__ import annotations

import base64
import binascii

from keys.errors import FormatError

_TO_STD = str.maketrans("-_", "+/")
_PAD = ("", "", "==", "=")


def b64url_encode(data: bytes) -> str:
    """Encode bytes as unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url text.

    The caller has already checked the alphabet (the compact-serialization grammar
    does, once, for a whole presentation); here a length of 1 mod 4 and any
    non-alphabet character are still rejected.

    Raises :class:`FormatError`.
    """
    rem = len(text) % 4
    if rem == 1:
        raise FormatError("base64url text has an impossible length")
    try:
        return binascii.a2b_base64(text.translate(_TO_STD) + _PAD[rem], strict_mode=True)
    except (binascii.Error, ValueError) as err:
        raise FormatError("invalid base64url text") from err
