#!/usr/bin/env python3
"""Fuzz the bundle reader: ``read_bundle_file`` on a file, ``load_bundle`` on what it read.

Contract: both raise only ``verifier.BundleInvalid``; a bundle that loads gives a
``Verifier`` whose ``verify`` keeps its own contract for every scene it defines.

Input: the bytes of the bundle file. Signing oracle: when ``trust_list`` is a JSON
object it is signed with the world's anchor key (as a ``trustlist+jwt``), and each
object in ``status_lists`` with the issuer's key (``statuslist+jwt``); the string
``"$ISSUER_JWK"`` becomes the issuer's public JWK. That reaches the trust list's and
the status lists' own checks behind the signatures.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import atheris

with atheris.instrument_imports(include=["keys", "sdjwt", "verifier"]):
    import sdjwt  # noqa: F401
    from keys import SigningKey
    from verifier import ERROR_CODES, BundleInvalid, Verifier
    from verifier.bundle import load_bundle, read_bundle_file

import _world

WORLD = _world.make_world()
FILE = WORLD.folder / "bundle.json"


def _signed(value: Any, key: SigningKey, typ: str, issuer_jwk: bytes) -> str:
    try:
        payload = json.dumps(value, separators=(",", ":")).encode("ascii")
    except (ValueError, RecursionError):  # the harness's own serialising, not the target's
        return ""
    payload = payload.replace(b'"$ISSUER_JWK"', issuer_jwk)
    header = json.dumps({"alg": key.alg, "kid": key.kid, "typ": typ}).encode("ascii")
    return _world.sign_jws(header, payload, key).decode("ascii")


def _sign(bundle: dict[str, Any]) -> dict[str, Any]:
    issuer_jwk = json.dumps(WORLD.issuer_key.public_jwk()).encode("ascii")
    out = dict(bundle)
    if isinstance(out.get("trust_list"), dict):
        trust = out["trust_list"]
        out["trust_list"] = _signed(trust, WORLD.anchor_key, "trustlist+jwt", issuer_jwk)
    if isinstance(out.get("status_lists"), list):
        out["status_lists"] = [
            _signed(s, WORLD.issuer_key, "statuslist+jwt", issuer_jwk) if isinstance(s, dict) else s
            for s in out["status_lists"]
        ]
    return out


def TestOneInput(data: bytes) -> None:
    FILE.write_bytes(data)
    try:
        bundle = read_bundle_file(FILE)
    except BundleInvalid:
        return
    bundle = _sign(bundle)
    try:
        load_bundle(bundle, WORLD.anchor_jwk)
        verifier = Verifier(
            bundle, anchor=WORLD.anchor_jwk, clock=lambda: _world.NOW, replay=_world.NeverSeen()
        )
    except BundleInvalid:
        return
    for scene in verifier.scenes[:4]:
        _world.check_result(verifier.verify(WORLD.presentation, scene), ERROR_CODES)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    try:
        atheris.Fuzz()
    finally:
        os.unlink(FILE)


if __name__ == "__main__":
    main()
