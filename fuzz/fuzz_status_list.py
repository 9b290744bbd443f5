#!/usr/bin/env python3
"""Fuzz the status-list decoders: ``StatusList.decode`` and ``load_status_list_token``.

Contract: both raise only ``keys.errors.EcertError`` subclasses; a decoded list answers
``len`` and ``get`` inside its range; a loaded token has NumericDates within ±2^53, an
``exp`` at most a year (and a day) after its ``iat`` and no negative ``ttl`` (issue 7 §1).

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
    from verifier.bundle import LoadedStatusList, load_status_list_token

import _world

WORLD = _world.make_world()
TRUST = WORLD.verifier.trust_list


#: The longest a status list may claim to be fresh (issue 7 §1: "more than a year after
#: its iat" is refused), with a day's slack.
MAX_LIFETIME = 366 * 24 * 3600


def _check_loaded(loaded: LoadedStatusList) -> None:
    if not (_world.sane_numeric_date(loaded.iat) and _world.sane_numeric_date(loaded.exp)):
        raise AssertionError(f"loaded with iat={loaded.iat!r:.40} exp={loaded.exp!r:.40}")
    if loaded.exp - loaded.iat > MAX_LIFETIME:
        raise AssertionError(f"loaded with exp {loaded.exp - loaded.iat} s after its iat")
    if loaded.ttl is not None and loaded.ttl < 0:
        raise AssertionError(f"loaded with a negative ttl {loaded.ttl}")
    _check(loaded.statuses)


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
            _check_loaded(load_status_list_token(rest.decode("utf-8", "surrogateescape"), TRUST))
        elif kind == b"S":
            header, _, payload = rest.partition(b"\x00")
            header = header.replace(b"$KID", WORLD.issuer_key.kid.encode("ascii"))
            token = _world.sign_jws(header, payload, WORLD.issuer_key).decode("ascii")
            _check_loaded(load_status_list_token(token, TRUST))
    except EcertError:
        return


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
