"""The Token Status List bit array (draft-ietf-oauth-status-list §4) and its ``lst`` codec."""

from __future__ import annotations

import zlib

from keys.b64 import b64url_decode, b64url_encode
from sdjwt.errors import FormatError

#: Status values (§7.1): 0 valid, 1 invalid (revoked), 2 suspended.
VALID, INVALID, SUSPENDED = 0, 1, 2
ALLOWED_BITS = (1, 2, 4, 8)
#: zlib level for ``lst``, chosen by bench/statuslist.py (docs/performance.md): on
#: 10 million 2-bit entries with 1% revoked, level 6 publishes in ~0.15 s and is 29%
#: smaller than level 1 (0.02 s); level 9 takes over a second for 18% more. A list is
#: published once and downloaded by thousands of venues, so size wins up to level 6.
COMPRESSION_LEVEL = 6
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
        if idx < 0 or idx >= len(self):
            raise IndexError(idx)
        pos = idx * self.bits
        return (self.data[pos >> 3] >> (pos & 7)) & ((1 << self.bits) - 1)

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

    def encode(self, level: int = COMPRESSION_LEVEL) -> str:
        """The ``lst`` member: base64url of the zlib-compressed bytes (§4.1)."""
        return b64url_encode(zlib.compress(bytes(self.data), level))

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
