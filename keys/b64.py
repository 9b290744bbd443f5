"""Base64url without padding (RFC 7515 §2, RFC 4648 §5), strict on input."""

from __future__ import annotations

import base64
import binascii
import re

from keys.errors import FormatError

_TO_STD = bytes.maketrans(b"-_", b"+/")
_ALPHABET_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: byte -> its 6-bit value (0 for anything else; the alphabet is checked separately)
_SEXTET = bytes(_ALPHABET_CHARS.index(b) if b in _ALPHABET_CHARS else 0 for b in range(256))
#: by length mod 4: the low bits of the last character that encode no data
_UNUSED_BITS = (0, 0, 0b1111, 0b11)
_PAD = (b"", b"", b"==", b"=")
_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Encode bytes as unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url text.

    Raises :class:`FormatError` for a character outside the base64url alphabet
    (padding included) or an impossible length.
    """
    if not isinstance(text, str) or _ALPHABET.fullmatch(text) is None:
        raise FormatError("invalid base64url text")
    return b64url_decode_unchecked(text)


def b64url_decode_unchecked(text: str) -> bytes:
    """Decode base64url text whose alphabet the caller has already checked.

    The compact-serialization grammar of a presentation checks the alphabet once
    for the whole string; this skips doing it again per segment (the verify path is
    measured against raw signature checks). Raises :class:`FormatError` for an
    impossible length.
    """
    try:
        return b64url_decode_segment(text.encode("ascii"))
    except UnicodeEncodeError as err:
        raise FormatError("invalid base64url text") from err


def b64url_decode_segment(segment: bytes) -> bytes:
    """Decode base64url bytes whose alphabet the caller has checked; canonical only.

    Raises :class:`FormatError` for an impossible length or non-zero unused bits in the
    last character (RFC 4648 §3.5): one value has exactly one encoding, so a text
    cannot be altered without its meaning changing.
    """
    rem = len(segment) & 3
    if rem == 1:
        raise FormatError("base64url text has an impossible length")
    if rem and _SEXTET[segment[-1]] & _UNUSED_BITS[rem]:
        raise FormatError("base64url text is not canonical")
    try:
        return binascii.a2b_base64(segment.translate(_TO_STD) + _PAD[rem])
    except (binascii.Error, ValueError) as err:
        raise FormatError("invalid base64url text") from err
