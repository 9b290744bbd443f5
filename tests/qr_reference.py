"""Reference decoders of the compact QR transport, written plainly, for differential tests.

This is the version-1 decoder as first written (character by character, a string at a
time), and version 2 (a count, then that many version-1 presentations, each with its
own references) written the same way, kept here as the oracle of tests/test_qr_fast.py:
the fast decoder of ``sdjwt.qr_transport`` must return the same presentation (or set
text) or refuse with the same message. It uses the standard library only (no helper of
the project), so a bug shared by the project's helpers cannot hide here. Only the
frozen dictionaries come from the module under test (their hashes are pinned by tests).
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from hashlib import sha256

from keys.errors import FormatError
from sdjwt.qr_transport import DICTIONARIES, MAX_COMPACT, MAX_PRESENTATION, MAX_SKELETON

B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_PREFIX_RE = re.compile(r"EC([0-9]{1,3}):")
_MAX_TOKEN_BYTES = 239


def b45decode(text: str) -> bytes:
    """RFC 9285 §4.2, one character and one group at a time."""
    if len(text) % 3 == 1:
        raise FormatError("Base45 text has an impossible length")
    values = []
    for char in text:
        if char not in B45:
            raise FormatError("a character is outside the Base45 alphabet")
        values.append(B45.index(char))
    out = b""
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        n = sum(v * 45**k for k, v in enumerate(group))
        if len(group) == 3:
            if n > 65535:
                raise FormatError("a Base45 group is out of range")
            out += bytes([n // 256, n % 256])
        else:
            if n > 255:
                raise FormatError("a Base45 group is out of range")
            out += bytes([n])
    return out


def b64(data: bytes) -> str:
    if not data:
        raise FormatError("an empty segment in the compact QR data")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_compact(text: str) -> str:
    """The presentation in a compact QR text, or FormatError (the first decoder's order)."""
    if not isinstance(text, str):
        raise FormatError("the compact QR text must be text")
    if len(text) > MAX_COMPACT:
        raise FormatError("the compact QR text is too large")
    match = _PREFIX_RE.match(text[:6])
    if match is None:
        raise FormatError("not a compact QR text")
    if match.group() not in ("EC1:", "EC2:"):
        raise FormatError("unsupported compact QR transport version")
    version = int(match.group()[2])
    body = b45decode(text[4:])
    inflate = zlib.decompressobj(-15, DICTIONARIES[version])
    try:
        skeleton = inflate.decompress(body, MAX_SKELETON + 1)
    except zlib.error:
        raise FormatError("the compact QR data is not a valid DEFLATE stream") from None
    if len(skeleton) > MAX_SKELETON:
        raise FormatError("the compact QR data expands beyond the limit")
    if not inflate.eof:
        raise FormatError("the compact QR data is truncated")
    unpacker = _Unpacker(skeleton, inflate.unused_data)
    if version == 1:
        return unpacker.presentation()
    return unpacker.set_text()


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for shift in (0, 7, 14):
        if pos >= len(data):
            raise FormatError("the compact QR data is truncated")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
    raise FormatError("a length in the compact QR data is too large")


class _Unpacker:
    def __init__(self, skeleton: bytes, tail: bytes) -> None:
        self.skeleton = skeleton
        self.pos = 0
        self.tail = tail
        self.tail_pos = 0
        self.size = 0
        self.digests: list[str] | None = None
        self.sd_hash: str | None = None

    def presentation(self) -> str:
        presentation = self.member()
        if self.pos != len(self.skeleton) or self.tail_pos != len(self.tail):
            raise FormatError("the compact QR data has bytes left over")
        if len(presentation) > MAX_PRESENTATION:
            raise FormatError("the presentation is too large")
        return presentation

    def set_text(self) -> str:
        m = self.take(1)[0]
        if m < 1 or m > 4:
            raise FormatError("the compact QR data holds an unsupported number of presentations")
        members = [self.member() for _ in range(m)]
        if self.pos != len(self.skeleton) or self.tail_pos != len(self.tail):
            raise FormatError("the compact QR data has bytes left over")
        text = members[0] if m == 1 else json.dumps(members, separators=(",", ":"))
        if len(text) > MAX_PRESENTATION:
            raise FormatError("the presentation is too large")
        return text

    def member(self) -> str:
        self.digests = None
        self.sd_hash = None
        n = self.varint()
        flags = self.take(1)[0]
        if flags > 1:
            raise FormatError("unknown flags in the compact QR data")
        disclosures = [self.text() for _ in range(n)]
        self.digests = [b64(sha256(d.encode("ascii")).digest()) for d in disclosures]
        issuer_jwt = self.jwt()
        prefix = "~".join([issuer_jwt, *disclosures, ""])
        kb_jwt = ""
        if flags:
            self.sd_hash = b64(sha256(prefix.encode("ascii")).digest())
            kb_jwt = self.jwt()
        return prefix + kb_jwt

    def jwt(self) -> str:
        header = self.text()
        payload = self.text()
        signature = b64(self.take_tail(self.varint()))
        self.size += len(signature) + 2
        return f"{header}.{payload}.{signature}"

    def text(self) -> str:
        packed = self.take(self.varint())
        out = b""
        i = 0
        while i < len(packed):
            if packed[i] != 0:
                out += packed[i : i + 1]
                i += 1
                continue
            if i + 1 >= len(packed):
                raise FormatError("the compact QR data ends inside an escape")
            code = packed[i + 1]
            i += 2
            if code == 0:
                out += b"\x00"
            elif code <= _MAX_TOKEN_BYTES:
                out += b64(self.take_tail(code)).encode("ascii")
            elif code == 0xF0 and self.digests is not None:
                j, i = read_varint(packed, i)
                if j >= len(self.digests):
                    raise FormatError("a digest reference names no disclosure")
                out += self.digests[j].encode("ascii")
            elif code == 0xF1 and self.sd_hash is not None:
                out += self.sd_hash.encode("ascii")
            else:
                raise FormatError("an unknown escape in the compact QR data")
            if len(out) > MAX_PRESENTATION:
                raise FormatError("the presentation is too large")
        text = b64(out)
        self.size += len(text) + 1
        if self.size > MAX_PRESENTATION:
            raise FormatError("the presentation is too large")
        return text

    def varint(self) -> int:
        value, self.pos = read_varint(self.skeleton, self.pos)
        return value

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.skeleton):
            raise FormatError("the compact QR data is truncated")
        chunk = self.skeleton[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def take_tail(self, n: int) -> bytes:
        if self.tail_pos + n > len(self.tail):
            raise FormatError("the compact QR data is truncated")
        chunk = self.tail[self.tail_pos : self.tail_pos + n]
        self.tail_pos += n
        return chunk
