#!/usr/bin/env python3
"""Fuzz ``sdjwt.qr_transport.decode_compact``: the compact QR transport decoder.

Contract: it returns a presentation or raises ``keys.errors.FormatError``, nothing
else; what it returns is re-encodable (or refused with ``FormatError``) and decodes
back to itself.

Input: ``B`` + bytes = the Base45 body after ``EC1:`` (reaches DEFLATE and the
skeleton at once); anything else is the QR text itself (UTF-8, bad bytes kept as
lone surrogates).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["keys", "sdjwt"]):
    from keys.errors import FormatError
    from sdjwt.qr_transport import PREFIX, b45encode, decode_compact, encode_compact


def TestOneInput(data: bytes) -> None:
    if data[:1] == b"B":
        text = PREFIX + b45encode(data[1:])
    else:
        text = data.decode("utf-8", "surrogateescape")
    try:
        presentation = decode_compact(text)
    except FormatError:
        return
    try:
        again = encode_compact(presentation)
    except FormatError:
        return
    if decode_compact(again) != presentation:
        raise AssertionError("the compact transport does not round-trip")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
