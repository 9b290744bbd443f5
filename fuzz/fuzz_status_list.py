#!/usr/bin/env python3
"""Fuzz the status-list decoders: ``StatusList.decode`` and ``load_status_list_token``.

Contract: both raise only ``keys.errors.EcertError`` subclasses; a decoded list answers
``len`` and ``get`` inside its range.

Input, by its first byte:
``L`` + bits byte + ``lst`` text: ``StatusList.decode(lst, bits)``;
``Z`` + bits byte + bytes: the same with ``lst`` = base64url(bytes), straight to zlib;
``T`` + text: ``load_status_list_token(text, trust list)``;
``S`` + header JSON + NUL + payload JSON: signed by the issuer's key (``$KID`` in the
header becomes its kid), then ``load_status_list_token``.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["keys", "sdjwt", "verifier"]):
    from keys.errors import EcertError
    from sdjwt import StatusList
    from verifier.bundle import load_status_list_token

import _world

WORLD = _world.make_world()
TRUST = WORLD.verifier.trust_list


def _check(statuses: StatusList) -> None:
    size = len(statuses)
    for idx in (0, size // 2, size - 1):
        if 0 <= idx < size:
            statuses.get(idx)


def TestOneInput(data: bytes) -> None:
    kind, rest = data[:1], data[1:]
    try:
        if kind in (b"L", b"Z"):
            if not rest:
                return
            bits, body = rest[0], rest[1:]
            lst = body.decode("utf-8", "surrogateescape") if kind == b"L" else _world.b64(body)
            if isinstance(lst, bytes):
                lst = lst.decode("ascii")
            _check(StatusList.decode(lst, bits))
        elif kind == b"T":
            _check(load_status_list_token(rest.decode("utf-8", "surrogateescape"), TRUST).statuses)
        elif kind == b"S":
            header, _, payload = rest.partition(b"\x00")
            header = header.replace(b"$KID", WORLD.issuer_key.kid.encode("ascii"))
            token = _world.sign_jws(header, payload, WORLD.issuer_key).decode("ascii")
            _check(load_status_list_token(token, TRUST).statuses)
    except EcertError:
        return


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
