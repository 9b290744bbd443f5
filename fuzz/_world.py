"""The world every harness fuzzes against, made once at start-up with the project's code.

A SQLite store in a temporary folder, the trust anchor, a police department, one
resident ID card in a wallet, the signed bundle, and a ``Verifier`` over it. The clock
is fixed (``NOW``) and the replay cache remembers nothing, so one presentation stays
valid for every input: what the fuzzer finds does not depend on the wall clock.

The *signing oracle* (``sign_presentation``, ``sign_jws``) lets a harness put bytes
*behind* a real signature: without it a fuzzer never gets past the signature checks,
and the claim checks (numbers, strings, ``_sd`` processing, key binding) are exactly
where hostile JSON does harm. Placeholders keep the committed seeds usable with the
fresh keys of each run (see ``fuzz/README.md``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

from cli.demo import DEMO_CLAIMS
from issuer import CredentialIssuer, Keyring, Platform, StatusRegistry
from keys import KeyWrapper, SigningKey, generate_secret
from keys.b64 import b64url_encode
from service.publication import Publication
from store.sqlite import SQLiteStore
from verifier import KB_FUTURE_SKEW, LEEWAY, VerificationResult, Verifier
from wallet import Wallet
from wallet.qr import presentation_qr_text

NOW = 1_800_000_000
BASE_URL = "https://ecert.example"
ID_CARD = "urn:ecert:resident-id-card"
#: Scenes a harness may pick: one defined with the ID card, one not, one unknown.
SCENES = ("hotel", "bank", "no-such-scene")
#: What a signed-mode input starts with; the rest is NUL-separated parts.
SIGN = b"SIGN\n"
CLAIMS: dict[str, Any] = dict(DEMO_CLAIMS)  # the demo's fictional citizen


class NeverSeen:
    """A replay cache that remembers nothing: the same presentation stays verifiable."""

    def check_and_add(self, nonce: str, expires_at: float, now: float) -> bool:
        return True


@dataclass
class World:
    verifier: Verifier
    bundle: dict[str, Any]
    anchor_jwk: dict[str, Any]
    anchor_key: SigningKey
    issuer_key: SigningKey
    holder_key: SigningKey
    presentation: str
    compact: str
    folder: Path


def make_world() -> World:
    folder = Path(tempfile.mkdtemp(prefix="ecert-fuzz-"))
    store = SQLiteStore(str(folder / "ecert.db"))

    def clock() -> float:
        return NOW

    keyring = Keyring(store, KeyWrapper(generate_secret()), clock=clock)
    platform = Platform(store, keyring, base_url=BASE_URL, clock=clock)
    anchor_key = platform.ensure_anchor()
    police = platform.register_issuer(
        "police", name_zh="市公安局", name_en="City Police", vcts=[ID_CARD]
    )
    status = StatusRegistry(store, list_size=4096, clock=clock)
    issuer = CredentialIssuer(store, keyring, status, clock=clock)
    wallet = Wallet(clock=clock)
    issued = issuer.issue(
        police.iss, ID_CARD, subject="citizen-1", claims=CLAIMS, holder_jwk=wallet.holder_jwk
    )
    held = wallet.add(issued.sd_jwt)
    bundle = Publication(store, keyring, platform, status).bundle(max_age=0)
    anchor_jwk = dict(anchor_key.public_jwk())
    verifier = Verifier(bundle, anchor=anchor_jwk, clock=clock, replay=NeverSeen())
    presentation = wallet.present_for_scene(held, verifier.trust_list.scenes["hotel"])
    world = World(
        verifier=verifier,
        bundle=bundle,
        anchor_jwk=anchor_jwk,
        anchor_key=anchor_key,
        issuer_key=keyring.signing_key(police.iss),
        holder_key=wallet.holder_key,
        presentation=presentation,
        compact=presentation_qr_text(presentation, compact=True),
        folder=folder,
    )
    store.close()
    if not verifier.verify(presentation, "hotel").valid:
        raise SystemExit("fuzz world: the start-up presentation does not verify")
    return world


def b64(data: bytes) -> bytes:
    return b64url_encode(data).encode("ascii")


def sign_jws(header: bytes, payload: bytes, key: SigningKey) -> bytes:
    """A compact JWS over the exact header and payload bytes given (no re-serialising)."""
    signing_input = b64(header) + b"." + b64(payload)
    return signing_input + b"." + b64(key.sign(signing_input))


def sign_presentation(world: World, parts: list[bytes]) -> bytes:
    """``[issuer header, issuer payload, *disclosures, kb header, kb payload]`` → SD-JWT+KB.

    Each part is raw JSON bytes (disclosures too, before base64url). Placeholders:
    ``$KID`` (the issuer's kid), ``"$HOLDER"`` (the holder's public JWK),
    ``$D0``…``$D9`` (the digest of disclosure n), ``$SD_HASH`` (the KB-JWT ``sd_hash``).
    An empty KB payload leaves the KB-JWT out.
    """
    header, payload, *disclosures, kb_header, kb_payload = parts
    holder = json.dumps(world.holder_key.public_jwk(), separators=(",", ":")).encode()
    encoded = [b64(d) for d in disclosures]
    payload = payload.replace(b'"$HOLDER"', holder)
    for n, disclosure in enumerate(encoded[:10]):
        payload = payload.replace(b"$D%d" % n, b64(sha256(disclosure).digest()))
    header = header.replace(b"$KID", world.issuer_key.kid.encode("ascii"))
    presented = b"~".join([sign_jws(header, payload, world.issuer_key), *encoded]) + b"~"
    if not kb_payload:
        return presented
    kb_payload = kb_payload.replace(b"$SD_HASH", b64(sha256(presented).digest()))
    return presented + sign_jws(kb_header, kb_payload, world.holder_key)


#: RFC 7519 NumericDate as issue 7 bounds it: a finite JSON number within ±2^53.
MAX_NUMERIC_DATE = 2**53


def sane_numeric_date(value: object) -> bool:
    """True for a NumericDate the verifier may act on (not bool, finite, within ±2^53)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE  # False for inf and NaN


def check_times(payload: bytes, names: tuple[str, ...]) -> None:
    """A payload behind a *valid* result carries only sane NumericDates in ``names``."""
    try:
        claims = json.loads(payload)
    except (ValueError, RecursionError):
        return  # not this oracle's business: the verifier's own parser decided
    if not isinstance(claims, dict):
        return
    for name in names:
        if name in claims and not sane_numeric_date(claims[name]):
            raise AssertionError(f"valid with {name}={str(claims[name])[:40]} (not a NumericDate)")
    if "iat" in claims and claims["iat"] > NOW + max(LEEWAY, KB_FUTURE_SKEW):  # a future iat
        raise AssertionError(f"valid with iat {claims['iat'] - NOW} s in the future")


def check_result(result: VerificationResult, codes: tuple[str, ...]) -> None:
    """The result's contract: stable codes, no claims unless valid, printable as JSON."""
    if not set(result.codes) <= set(codes):
        raise AssertionError(f"unknown error codes {result.codes}")
    if not result.valid and result.claims:
        raise AssertionError("claims shown for an invalid presentation")
    # What `ecert verify` and the API print: it must encode (no lone surrogates).
    json.dumps(result.to_dict(), ensure_ascii=False).encode("utf-8")
