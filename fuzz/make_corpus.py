#!/usr/bin/env python3
"""Write the seed corpus of every harness into fuzz/corpus/<harness>/ (``seed-*`` files).

Seeds are real inputs made by the project in a fresh world (the demo's fake citizen)
plus a few edge cases. Signed-mode seeds carry placeholders instead of this world's
keys and digests, so they stay meaningful with the fresh keys of every run. Files
named ``crash-*`` are regression inputs saved from fuzzing runs: this script never
touches them. Run from the repository root: ``.venv/bin/python fuzz/make_corpus.py``.
"""

from __future__ import annotations

import base64
import json
import re
from hashlib import sha256
from pathlib import Path
from typing import Any

import _world

from keys.b64 import b64url_encode
from sdjwt.qr_transport import b45decode

CORPUS = Path(__file__).resolve().parent / "corpus"


def _json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _unsigned_parts(world: _world.World) -> list[bytes]:
    """The wallet's presentation as the signing oracle's parts, with placeholders."""
    jwt, *disclosures, kb = world.presentation.split("~")
    header, payload = (_json(s) for s in jwt.split(".")[:2])
    header["kid"] = "$KID"
    payload["cnf"]["jwk"] = "$HOLDER"
    digests = {b64url_encode(sha256(d.encode()).digest()): n for n, d in enumerate(disclosures)}
    payload["_sd"] = [f"$D{digests[d]}" if d in digests else d for d in payload["_sd"]]
    kb_header, kb_payload = (_json(s) for s in kb.split(".")[:2])
    kb_payload["sd_hash"] = "$SD_HASH"
    plain = [base64.urlsafe_b64decode(d + "=" * (-len(d) % 4)) for d in disclosures]
    return [_dump(header), _dump(payload), *plain, _dump(kb_header), _dump(kb_payload)]


def presentation(world: _world.World) -> dict[str, bytes]:
    parts = _unsigned_parts(world)
    signed = _world.SIGN + b"\x00".join(parts)
    no_kb = _world.SIGN + b"\x00".join([*parts[:-2], b"{}", b""])
    return {
        "valid-plain": world.presentation.encode("ascii"),
        "valid-crlf": world.presentation.encode("ascii") + b"\r\n",
        "valid-compact": world.compact.encode("ascii"),
        "signed-valid": signed,
        "signed-no-kb": no_kb,
        "signed-numbers": signed.replace(b'"iat":1800000000', b'"iat":1800000000.5', 1),
        "signed-nested-sd": signed.replace(b'"_sd_alg"', b'"x":{"_sd":["$D0"]},"_sd_alg"', 1),
        "empty": b"",
        "tildes": b"~~~",
        "three-dots": b"a.b.c~",
        "not-ascii": "证照~".encode(),
    }


def compact_qr(world: _world.World) -> dict[str, bytes]:
    return {
        "valid-text": world.compact.encode("ascii"),
        "valid-body": b"B" + b45decode(world.compact[4:]),
        "prefix-only": b"EC1:",
        "version-2": b"EC2:" + world.compact[4:].encode("ascii"),
        "bad-base45": b"EC1:~~~",
    }


def bundle(world: _world.World) -> dict[str, bytes]:
    trust = _json(world.bundle["trust_list"].split(".")[1])
    for issuer in trust["issuers"]:
        issuer["jwks"]["keys"] = ["$ISSUER_JWK"]
    lists = [_json(s.split(".")[1]) for s in world.bundle["status_lists"]]
    return {
        "real": _dump(world.bundle),
        "signed": _dump({"trust_list": trust, "status_lists": lists}),
        "signed-no-lists": _dump({"trust_list": trust}),
        "empty-object": b"{}",
        "not-json": b"\xff{",
        "array": b"[]",
    }


def status_list(world: _world.World) -> dict[str, bytes]:
    token = world.bundle["status_lists"][0]
    header, payload = (_json(s) for s in token.split(".")[:2])
    header["kid"] = "$KID"
    lst = payload["status_list"]["lst"]
    return {
        "token": b"T" + token.encode("ascii"),
        "signed": b"S" + _dump(header) + b"\x00" + _dump(payload),
        "lst": b"L\x02" + lst.encode("ascii"),
        "zlib": b"Z\x01" + base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)),
        "bits-3": b"L\x03" + lst.encode("ascii"),
        "not-base64": b"L\x01!!",
    }


def main() -> None:
    world = _world.make_world()
    for name, make in [
        ("presentation", presentation),
        ("compact_qr", compact_qr),
        ("bundle", bundle),
        ("status_list", status_list),
    ]:
        folder = CORPUS / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("seed-*"):
            old.unlink()
        for seed, data in make(world).items():
            if not re.fullmatch(r"[a-z0-9-]+", seed):
                raise ValueError(seed)
            (folder / f"seed-{seed}").write_bytes(data)
        print(f"{folder}: {sum(1 for _ in folder.iterdir())} files")


if __name__ == "__main__":
    main()
