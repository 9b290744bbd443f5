#!/usr/bin/env python3
"""Fuzz ``Verifier.verify(text, scene)``: the presentation parser and every check after it.

Contract: ``verify`` never raises for any text, except ``UnknownScene`` for a scene the
trust list does not define; its result uses only the stable error codes, shows no
claims unless valid, is printable as UTF-8 JSON, and is valid only for the one
presentation the wallet made (in raw mode), and, for a signed input, valid only with
sane NumericDates (finite numbers within ±2^53: issue 7 §3). Any other exception is
a crash.

Input: raw bytes (tried as bytes and as text), or ``SIGN\\n`` + NUL-separated parts
that the signing oracle turns into a genuinely signed presentation (see _world.py).
The last byte picks the scene (mostly ``hotel``). See fuzz/README.md.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["keys", "sdjwt", "verifier"]):
    import keys
    import sdjwt  # noqa: F401
    from sdjwt.qr_transport import decode_compact, is_compact
    from verifier import ERROR_CODES, UnknownScene

import _world

WORLD = _world.make_world()


def _same_presentation(text: bytes) -> bool:
    text = text.rstrip(b"\r\n")
    if is_compact(text):
        try:
            return decode_compact(text.decode("ascii")) == WORLD.presentation
        except (UnicodeDecodeError, keys.errors.EcertError):
            return False
    return text == WORLD.presentation.encode("ascii")


def verify(text: str | bytes, scene: str) -> bool:
    """Verify and check the contract; True if the result was valid."""
    try:
        result = WORLD.verifier.verify(text, scene)
    except UnknownScene:
        if scene in WORLD.verifier.trust_list.scenes:
            raise
        return False
    _world.check_result(result, ERROR_CODES)
    return result.valid


def TestOneInput(data: bytes) -> None:
    scene = _world.SCENES[data[-1] % 8] if data and data[-1] % 8 < len(_world.SCENES) else "hotel"
    if data.startswith(_world.SIGN):
        parts = data[len(_world.SIGN) :].split(b"\x00")
        if len(parts) >= 4 and verify(_world.sign_presentation(WORLD, parts), scene):
            _world.check_times(parts[1], ("exp", "nbf", "iat"))
            _world.check_times(parts[-1], ("iat",))
        return
    if verify(data, scene) and not _same_presentation(data):
        raise AssertionError("valid for bytes that are not the wallet's presentation")
    text = data.decode("utf-8", "surrogateescape")  # any str, lone surrogates included
    if verify(text, scene) and not _same_presentation(data):
        raise AssertionError("valid for text that is not the wallet's presentation")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
