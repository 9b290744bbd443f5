"""The Token Status List bit array (draft-ietf-oauth-status-list §4) and its ``lst`` codec."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import deflate

from keys.b64 import b64url_decode, b64url_encode
from sdjwt.errors import FormatError

#: Status values (§7.1): 0 valid, 1 invalid (revoked), 2 suspended.
VALID, INVALID, SUSPENDED = 0, 1, 2
ALLOWED_BITS = (1, 2, 4, 8)
#: Compression level for ``lst``, chosen by bench/statuslist.py (docs/performance.md):
#: libdeflate (the ``deflate`` package) writes the same ZLIB format (RFC 1950) that every
#: verifier inflates, and at level 9 a 10-million-entry 2-bit list with 1% set is about
#: 1.07 x the size zlib reaches at level 9, in a fifth of zlib-9's time (~0.11 s). A list is
#: published once and downloaded by thousands of venues, so size wins up to the time
#: budget (docs/performance.md, "Status list publication").
COMPRESSION_LEVEL = 9
#: Upper bound on a decompressed list (64 MiB: 268 million 2-bit entries).
MAX_DECOMPRESSED = 64 * 1024 * 1024


class StatusList:
    """A packed array of ``bits``-wide statuses, least significant bit first in each byte."""

    __slots__ = ("bits", "data")

    def __init__(self, bits: int, data: bytes | bytearray) -> None:
        if bits not in ALLOWED_BITS:
            raise FormatError("status list 'bits' must be 1, 2, 4 or 8")
        self.bits = bits
        self.data = bytearray(data)

    @classmethod
    def zeros(cls, bits: int, size: int) -> StatusList:
        """A list of ``size`` entries, all 0 (valid)."""
        return cls(bits, bytearray((size * bits + 7) // 8))

    def __len__(self) -> int:
        return len(self.data) * 8 // self.bits

    def get(self, idx: int) -> int:
        """The status at ``idx``. Raises :class:`IndexError` when out of range."""
        bits = self.bits
        pos = idx * bits
        if idx < 0 or pos + bits > len(self.data) * 8:  # idx >= len(self), without the call
            raise IndexError(idx)
        return (self.data[pos >> 3] >> (pos & 7)) & ((1 << bits) - 1)

    def set(self, idx: int, value: int) -> None:
        """Set the status at ``idx``. Raises :class:`IndexError` or :class:`ValueError`."""
        if idx < 0 or idx >= len(self):
            raise IndexError(idx)
        mask = (1 << self.bits) - 1
        if not 0 <= value <= mask:
            raise ValueError(f"status value does not fit in {self.bits} bits")
        pos = idx * self.bits
        shift = pos & 7
        byte = self.data[pos >> 3] & ~(mask << shift) & 0xFF
        self.data[pos >> 3] = byte | (value << shift)

    def encode(self, compress: Callable[[bytes], bytes] | None = None) -> str:
        """The ``lst`` member: base64url of the ZLIB-compressed bytes (§4.1).

        ``compress`` makes the ZLIB stream; by default libdeflate at
        :data:`COMPRESSION_LEVEL`. (The specification's examples were made with zlib at
        level 9: ``partial(zlib.compress, level=9)`` reproduces them byte for byte.)
        """
        data = bytes(self.data)
        packed = compress(data) if compress else deflate.zlib_compress(data, COMPRESSION_LEVEL)
        return b64url_encode(bytes(packed))

    @classmethod
    def decode(cls, lst: object, bits: int, *, max_bytes: int = MAX_DECOMPRESSED) -> StatusList:
        """Decode an ``lst`` member, refusing a decompression bomb over ``max_bytes``.

        Raises :class:`FormatError`.
        """
        if not isinstance(lst, str):
            raise FormatError("status list 'lst' must be a string")
        compressed = b64url_decode(lst)
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(compressed, max_bytes)
        except zlib.error as err:
            raise FormatError("status list 'lst' is not zlib data") from err
        if inflater.unconsumed_tail or not inflater.eof:
            raise FormatError("status list 'lst' is truncated or too large")
        if inflater.unused_data:
            raise FormatError("status list 'lst' has data after the zlib stream")
        return cls(bits, data)
