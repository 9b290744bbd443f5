"""Interoperability with an independent TypeScript implementation: the OpenWallet
Foundation's ``@sd-jwt/sd-jwt-vc`` and ``@sd-jwt/jwt-status-list`` (pinned in
interop/ts/package.json, installed by ``scripts/setup test`` with ``npm ci``), run in Node
by interop/ts/check.mjs.

- It verifies what we issue and present (issuer signature, disclosures, the KB-JWT with
  its nonce) and reads our status list through its own status-list fetcher, so it sees a
  revocation and a suspension in the list we publish (libdeflate-compressed ZLIB).
- It reads status lists we publish, entry by entry.
- We verify what it issues and presents, through a trust list we sign for it.
- Tampering is refused on both sides, so neither check can pass whatever the input.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import sdjwt
from issuer import encode_status_list_token
from keys import SigningKey
from keys.b64 import b64url_decode
from sdjwt import StatusList
from store.sqlite import SQLiteStore
from tests.factory import ID_CLAIMS, World
from tests.interop_helpers import (
    HOTEL_CLAIMS,
    VCT,
    ForeignIssuer,
    split_presentation,
    unverified_payload,
)
from verifier import Verifier

ROOT = Path(__file__).resolve().parent.parent
TS = ROOT / "interop" / "ts"


class Node:
    """A Node script of interop/ts (check.mjs by default): one JSON request a line, one
    JSON answer a line."""

    def __init__(self, script: str = "check.mjs") -> None:
        if not (TS / "node_modules" / "@sd-jwt" / "sd-jwt-vc").is_dir():
            pytest.fail("interop/ts/node_modules is missing: run scripts/setup test (npm ci)")
        self.proc = subprocess.Popen(
            ["node", script],
            cwd=TS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __call__(self, op: str, **request: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **request}) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    runner = Node()
    yield runner
    runner.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = SQLiteStore(str(tmp_path / "ecert.db"))
    yield World(store)
    store.close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def private_jwk(key: SigningKey) -> dict[str, Any]:
    """A P-256 private JWK built here from our key (the library never exports one)."""
    assert isinstance(key.key, ec.EllipticCurvePrivateKey)
    jwk: dict[str, Any] = dict(key.public_jwk())
    jwk["d"] = _b64(key.key.private_numbers().private_value.to_bytes(32, "big"))
    return jwk


def _published(world: World, uri: str) -> tuple[dict[str, Any], str]:
    """The police's public JWK and the status list token ``uri``, from the bundle we publish."""
    bundle = world.bundle()
    trust = unverified_payload(bundle["trust_list"])
    (police,) = [i for i in trust["issuers"] if i["iss"] == world.police.iss]
    token = next(t for t in bundle["status_lists"] if unverified_payload(t)["sub"] == uri)
    (jwk,) = police["jwks"]["keys"]
    return jwk, token


def _ts_verify(node: Node, world: World, presentation: str) -> dict[str, Any]:
    jwt, _, kb = split_presentation(presentation)
    uri = unverified_payload(jwt)["status"]["status_list"]["uri"]
    jwk, token = _published(world, uri)
    return node(
        "verify",
        presentation=presentation,
        issuer_jwk=jwk,
        status_uri=uri,
        status_jwt=token,
        nonce=unverified_payload(kb)["nonce"],
        now=int(world.clock()),
        # A list changed twice in one second is stamped one second ahead, so that its
        # iat is strictly newer (issuer/status.py): a verifier needs some clock skew.
        skew=60,
    )


def test_the_ts_library_verifies_our_presentation_and_reads_its_status(
    node: Node, world: World
) -> None:
    held, wallet = world.issue_id_card()
    scene = world.verifier().source.scene("hotel")
    presentation = wallet.present_for_scene(held, scene)

    answer = _ts_verify(node, world, presentation)
    assert answer["ok"], answer
    assert {name: answer["claims"][name] for name in HOTEL_CLAIMS} == {
        name: ID_CLAIMS[name] for name in HOTEL_CLAIMS
    }
    assert answer["claims"]["vct"] == VCT
    assert answer["header"]["typ"] == "dc+sd-jwt"
    assert answer["kb"]["aud"] == "hotel"
    assert answer["status"] == sdjwt.VALID

    world.issuer.revoke(world.police.iss, world.last_id)
    answer = _ts_verify(node, world, presentation)
    assert answer["ok"], answer
    assert answer["status"] == sdjwt.INVALID


def test_the_ts_library_sees_a_suspension_in_our_list(node: Node, world: World) -> None:
    held, wallet = world.issue_id_card()
    world.issuer.suspend(world.police.iss, world.last_id)
    presentation = wallet.present_for_scene(held, world.verifier().source.scene("hotel"))
    answer = _ts_verify(node, world, presentation)
    assert answer["ok"], answer
    assert answer["status"] == sdjwt.SUSPENDED


def test_the_ts_library_refuses_our_presentation_tampered(node: Node, world: World) -> None:
    held, wallet = world.issue_id_card()
    presentation = wallet.present_for_scene(held, world.verifier().source.scene("hotel"))
    jwt, disclosures, kb = split_presentation(presentation)
    # One disclosure swapped for another claim's: the KB-JWT's sd_hash no longer matches.
    forged = "~".join([jwt, *reversed(disclosures), kb])
    assert forged != presentation
    assert not _ts_verify(node, world, forged)["ok"]
    # And a wrong nonce: the KB-JWT is bound to ours.
    jwt_uri = unverified_payload(jwt)["status"]["status_list"]["uri"]
    jwk, token = _published(world, jwt_uri)
    answer = node(
        "verify",
        presentation=presentation,
        issuer_jwk=jwk,
        status_uri=jwt_uri,
        status_jwt=token,
        nonce="another-nonce",
        now=int(world.clock()),
    )
    assert not answer["ok"]


@pytest.mark.parametrize("size", [16, 10_000, 250_000])
def test_the_ts_library_reads_every_entry_of_a_list_we_publish(node: Node, size: int) -> None:
    rng = random.Random(size)
    statuses = StatusList.zeros(2, size)
    chosen = rng.sample(range(size), max(1, size // 100))
    for idx in chosen:
        statuses.set(idx, rng.choice((sdjwt.INVALID, sdjwt.SUSPENDED)))
    key = SigningKey.generate("ES256")
    token = encode_status_list_token(
        statuses, uri="https://x/status/1", iss="https://x", key=key, now=int(time.time())
    )
    lst = unverified_payload(token)["status_list"]["lst"]
    assert b64url_decode(lst)[:1] == b"\x78"  # a ZLIB header (RFC 1950), as §4.1 requires
    indices = sorted({*chosen, *rng.sample(range(size), min(size, 200)), 0, size - 1})
    answer = node("status", jwt=token, indices=indices)
    assert answer["ok"], answer
    assert answer["bits"] == 2
    assert answer["statuses"] == [statuses.get(i) for i in indices]


def _ts_issued(node: Node, foreign: ForeignIssuer, holder: dict[str, Any], now: int) -> str:
    payload = {
        "iss": foreign.iss,
        "iat": now,
        "exp": now + 365 * 86400,
        "vct": VCT,
        "cnf": {"jwk": {k: holder[k] for k in ("kty", "crv", "x", "y")}},
        "status": {"status_list": {"idx": 517, "uri": foreign.status_uri}},
        **ID_CLAIMS,
    }
    answer = node(
        "issue",
        issuer_private_jwk=private_jwk(foreign.key),
        kid=foreign.key.kid,
        payload=payload,
        sd=sorted(ID_CLAIMS),
    )
    assert answer["ok"], answer
    credential: str = answer["credential"]
    return credential


@pytest.fixture
def foreign() -> ForeignIssuer:
    return ForeignIssuer(
        iss="https://other-province.example/issuers/police",
        key=SigningKey.generate("ES256"),
        anchor=SigningKey.generate("ES256"),
    )


def test_we_verify_what_the_ts_library_issues_and_presents(
    node: Node, foreign: ForeignIssuer
) -> None:
    now = int(time.time())
    holder = node("key")["jwk"]
    credential = _ts_issued(node, foreign, holder, now)
    answer = node(
        "present",
        credential=credential,
        holder_private_jwk=holder,
        disclose=list(HOTEL_CLAIMS),
        aud="hotel",
        nonce="n-4a1e0c2b9d7f",
        iat=now,
    )
    assert answer["ok"], answer
    presentation: str = answer["presentation"]

    result = Verifier(foreign.bundle(now), anchor=foreign.anchor.public_jwk()).verify(
        presentation, "hotel"
    )
    assert result.valid, result.errors
    assert (result.vct, result.iss, result.status) == (VCT, foreign.iss, "valid")
    assert result.claims == {name: ID_CLAIMS[name] for name in HOTEL_CLAIMS}

    revoked = Verifier(
        foreign.bundle(now, statuses={517: sdjwt.INVALID}), anchor=foreign.anchor.public_jwk()
    ).verify(presentation, "hotel")
    assert revoked.codes == ["revoked"]

    # Made for another scene: refused by us, as our own would be.
    other = node(
        "present",
        credential=credential,
        holder_private_jwk=holder,
        disclose=list(HOTEL_CLAIMS),
        aud="bank",
        nonce="n-4a1e0c2b9d7f",
        iat=now,
    )
    result = Verifier(foreign.bundle(now), anchor=foreign.anchor.public_jwk()).verify(
        other["presentation"], "hotel"
    )
    assert result.codes == ["key_binding_invalid"]
