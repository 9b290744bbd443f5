"""Offline verification throughput: our ``Verifier`` against the SD-JWT reference
implementation and against the raw P-256 signature checks it cannot avoid.

Run from the repository root::

    .venv/bin/python bench/verify.py [--seconds N] [--rounds R] [--clock wall|cpu]

Measurements interleaved round by round (ours, compact, returning, reference, raw), best
round kept:

* **ours**: ``Verifier.verify(presentation, "hotel")``, the full offline check of
  DESIGN.md §7: the issuer's signature and the KB-JWT's, the trust list (issuer, key,
  type), claims against the clock, disclosures, the status list, the scene and replay.
* **compact**: the same presentations as compact ``EC2:`` QR texts (what the wallet writes today)
  (:mod:`sdjwt.qr_transport`: Base45, DEFLATE with the preset dictionary, the packed
  skeleton), ``Verifier.verify(qr_text, "hotel")``: unpacking plus the full check.
* **reference**: ``sd_jwt.verifier.SDJWTVerifier`` on the same presentations (issuer
  signature, disclosures, KB-JWT signature, ``aud``, ``nonce``, ``sd_hash``), then
  ``get_verified_payload()``; the issuer key comes from a prepared ``jwcrypto`` JWK.
* **raw**: ``public_key.verify(der_signature, message, ECDSA(SHA256()))`` with
  ``cryptography`` on messages as long as our issuer-signed JWT's signing input.

Every presentation comes from its own credential issued to its own holder key (at
least 200, more when the machine is fast enough to use them up), and each is verified
once per round; every round gets a fresh ``Verifier``, so its replay cache never
rejects one. The wallets and the verifier share a fixed clock, so no presentation
goes stale however long the run takes. ``ratio`` is ours / (raw / 2): the share of the
two-signature ceiling that the whole verification reaches.

A fourth measurement, **returning**, verifies each credential a second time with a
fresh KB-JWT after the verifier has seen it once (a venue's regulars, or an online
verifier serving many venues): the verifier remembers issuer-signed JWTs whose
signature it has checked, so only the KB-JWT signature is checked again.

``--clock cpu`` times every loop with the process's CPU time instead of the wall clock:
on a machine shared with other work, time spent waiting for a core then does not count
(cache and memory contention still do). Both clocks time all measurements alike.

The last line of the output is one JSON object:
``{"ours_per_s", "reference_per_s", "raw_p256_per_s", "ratio", "compact_per_s",
"compact_ratio", "returning_per_s", "returning_ratio"}``; ``ratio`` is the cold figure of
the plain form (every credential new), ``compact_ratio`` the same for the ``EC2:`` form.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import cryptography
from cryptography.hazmat.backends.openssl import backend as openssl_backend
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from cli.demo import DEMO_CLAIMS
from issuer import CredentialIssuer, Keyring, Platform, StatusRegistry
from keys import KeyWrapper, generate_secret
from sdjwt.qr_transport import encode_compact
from service.publication import Publication
from store.sqlite import SQLiteStore
from verifier import Verifier
from wallet import Wallet

SCENE = "hotel"
VCT = "urn:ecert:resident-id-card"
CLAIMS = DEMO_CLAIMS
#: Fewest distinct credentials (and holders) in the pool.
MIN_POOL = 200
#: The pool holds this many times what a round is expected to use at the calibrated rate.
POOL_MARGIN = 2.0
#: Messages for the raw measurement (distinct, signed once each before timing).
RAW_MESSAGES = 64
#: The clock is read every this many operations inside a timed loop.
CLOCK_STRIDE = 16
#: The clocks of ``--clock``: elapsed time, or the CPU time of this process.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
clock: Callable[[], float] = time.perf_counter


# -- machine facts ------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts() -> dict[str, str]:
    try:
        usable = str(len(os.sched_getaffinity(0)))
    except AttributeError:
        usable = "?"
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cryptography": cryptography.__version__,
        "openssl": openssl_backend.openssl_version_text(),
        "sd-jwt (reference)": metadata.version("sd-jwt"),
        "jwcrypto": metadata.version("jwcrypto"),
        "cpu": cpu_model(),
        "cores": f"{os.cpu_count()} logical, {usable} usable (the bench uses one)",
        "platform": platform.platform(),
    }


# -- the presentation pool ----------------------------------------------------------


@dataclass
class Pool:
    """Distinct hotel presentations, each from its own credential and holder."""

    presentations: list[str]
    #: the same presentations as compact ``EC2:`` QR texts (what the wallet writes today)
    compact: list[str]
    nonces: list[str]
    issuer_jwk: dict[str, Any]
    signing_input_length: int


class Stack:
    """One platform with one ES256 issuer, in a temporary SQLite store."""

    def __init__(self, directory: str, now: float) -> None:
        self.now = now
        self.store = SQLiteStore(str(Path(directory) / "bench.db"))
        keyring = Keyring(self.store, KeyWrapper(generate_secret()))
        self.platform = Platform(self.store, keyring, base_url="https://ecert.example")
        self.platform.ensure_anchor()
        self.platform.register_issuer("police", name_zh="公安局", name_en="Police", vcts=[VCT])
        self.iss = self.platform.issuer_url("police")
        self.status = StatusRegistry(self.store)
        self.issuer = CredentialIssuer(self.store, keyring, self.status)
        self.issuer_key = keyring.signing_key(self.iss)
        self.publication = Publication(self.store, keyring, self.platform, self.status)
        self.presentations: list[str] = []
        self.compact: list[str] = []
        self.returning: list[str] = []
        self.bundle: dict[str, Any] | None = None
        self.scene = self.verifier().trust_list.scenes[SCENE]

    def grow(self, size: int) -> None:
        """Issue credentials to fresh holders and present each once, up to ``size``."""
        fixed = self.now
        while len(self.presentations) < size:
            wallet = Wallet(clock=lambda: fixed)
            issued = self.issuer.issue(
                self.iss,
                VCT,
                subject=f"citizen-{len(self.presentations)}",
                claims=CLAIMS,
                holder_jwk=wallet.holder_jwk,
            )
            held = wallet.add(issued.sd_jwt)
            presentation = wallet.present_for_scene(held, self.scene)
            self.presentations.append(presentation)
            self.compact.append(encode_compact(presentation))
            # the same credential shown again later, with a fresh KB-JWT
            self.returning.append(wallet.present_for_scene(held, self.scene))
        self.bundle = None

    def verifier(self, **kwargs: Any) -> Verifier:
        """A fresh verifier (empty replay cache) on the current bundle."""
        if self.bundle is None:
            self.bundle = self.publication.bundle(max_age=0)
        verify_at = self.now + 1
        return Verifier(
            self.bundle, anchor=self.platform.anchor_jwk(), clock=lambda: verify_at, **kwargs
        )

    def pool(self) -> Pool:
        nonces = [kb_nonce(p) for p in self.presentations]
        jwt = self.presentations[0].split("~", 1)[0]
        return Pool(
            self.presentations,
            self.compact,
            nonces,
            dict(self.issuer_key.public_jwk()),
            len(jwt.rsplit(".", 1)[0]),
        )


def kb_nonce(presentation: str) -> str:
    """The nonce of a presentation's KB-JWT (read unverified, for the reference verifier)."""
    segment = presentation.rsplit("~", 1)[1].split(".")[1]
    payload = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return str(payload["nonce"])


# -- the measurements ---------------------------------------------------------------


@dataclass
class Round:
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def timed(items: Sequence[Any], step: Callable[[Any], bool], budget: float) -> Round:
    """Apply ``step`` to ``items`` in order until the budget or the items run out.

    Raises SystemExit when a step reports failure: a bench of failing checks is void.
    """
    gc.collect()
    gc.disable()
    try:
        count = 0
        now = clock
        started = now()
        for item in items:
            if not step(item):
                raise SystemExit(f"verification failed during the bench (item {count})")
            count += 1
            if count % CLOCK_STRIDE == 0 and now() - started >= budget:
                break
        elapsed = now() - started
    finally:
        gc.enable()
    return Round(count, elapsed)


def round_ours(stack: Stack, pool: Pool, budget: float) -> Round:
    verify = stack.verifier().verify  # built outside the timing: bundle checks are one-off

    def step(presentation: str) -> bool:
        return verify(presentation, SCENE).valid

    return timed(pool.presentations, step, budget)


def round_compact(stack: Stack, pool: Pool, budget: float) -> Round:
    """The same fresh presentations, scanned as compact ``EC2:`` QR texts."""
    verify = stack.verifier().verify

    def step(text: str) -> bool:
        return verify(text, SCENE).valid

    return timed(pool.compact, step, budget)


def round_returning(stack: Stack, pool: Pool, budget: float) -> Round:
    """Credentials the verifier has seen once already, shown again with fresh KB-JWTs."""
    # sized to hold the whole pool, as an online verifier sizes it to its memory
    verifier = stack.verifier(verified_cache=len(pool.presentations))
    for presentation in pool.presentations:  # first visits, not timed
        verifier.verify(presentation, SCENE)
    verify = verifier.verify

    def step(presentation: str) -> bool:
        return verify(presentation, SCENE).valid

    return timed(stack.returning[: len(pool.presentations)], step, budget)


def round_reference(pool: Pool, budget: float, *, limit: int | None = None) -> Round:
    keys = {pool.issuer_jwk["kid"]: JWK.from_json(json.dumps(pool.issuer_jwk))}

    def issuer_key(issuer: str, header: dict[str, Any]) -> JWK:
        return keys[header["kid"]]

    def step(item: tuple[str, str]) -> bool:
        presentation, nonce = item
        payload = SDJWTVerifier(
            presentation,
            issuer_key,
            expected_aud=SCENE,
            expected_nonce=nonce,
            serialization_format="compact",
        ).get_verified_payload()
        return bool(payload.get("name") == CLAIMS["name"])

    items = list(zip(pool.presentations, pool.nonces, strict=True))[:limit]
    return timed(items, step, budget)


def raw_material(length: int) -> tuple[ec.EllipticCurvePublicKey, list[tuple[bytes, bytes]]]:
    key = ec.generate_private_key(ec.SECP256R1())
    algorithm = ec.ECDSA(hashes.SHA256())
    pairs = []
    for _ in range(RAW_MESSAGES):
        message = os.urandom(length)
        pairs.append((key.sign(message, algorithm), message))
    return key.public_key(), pairs


def round_raw(
    public_key: ec.EllipticCurvePublicKey, pairs: list[tuple[bytes, bytes]], budget: float
) -> Round:
    algorithm = ec.ECDSA(hashes.SHA256())
    verify = public_key.verify

    def step(pair: tuple[bytes, bytes]) -> bool:
        verify(pair[0], pair[1], algorithm)  # raises InvalidSignature on failure
        return True

    repeats = max(1, math.ceil(200_000 / len(pairs)))
    return timed(pairs * repeats, step, budget)


# -- main ---------------------------------------------------------------------------


def summary(rounds: list[Round]) -> tuple[float, float]:
    rates = [r.rate for r in rounds]
    return max(rates), statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=3.0,
        help="time spent on each measurement, over all its rounds (default 3)",
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds per measurement; the best is kept"
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="time loops by the wall clock (default) or by this process's CPU time",
    )
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    if args.seconds <= 0 or args.rounds < 1:
        parser.error("--seconds must be positive and --rounds at least 1")
    budget = args.seconds / args.rounds

    print("machine")
    for name, value in machine_facts().items():
        print(f"  {name:<20} {value}")
    sys.stdout.flush()

    with tempfile.TemporaryDirectory(prefix="ecert-bench-") as directory:
        setup_started = time.perf_counter()
        stack = Stack(directory, now=float(int(time.time())))
        # Calibrate on the minimum pool (this also checks that everything verifies),
        # then grow the pool so that the fastest round cannot run out of presentations.
        stack.grow(MIN_POOL)
        estimate = max(
            (round_ours(stack, stack.pool(), budget=math.inf) for _ in range(3)),
            key=lambda r: r.rate,
        )
        needed = math.ceil(estimate.rate * budget * POOL_MARGIN)
        stack.grow(max(MIN_POOL, needed))
        pool = stack.pool()
        warm = round_reference(pool, budget=math.inf, limit=MIN_POOL)
        public_key, pairs = raw_material(pool.signing_input_length)
        setup = time.perf_counter() - setup_started

        print()
        print(
            f"pool: {len(pool.presentations)} presentations of {len(pool.presentations)} "
            f"distinct credentials and holders (hotel scene, issuer JWT signing input "
            f"{pool.signing_input_length} bytes); setup {setup:.1f} s; "
            f"{args.rounds} rounds of {budget:.2f} s each, {args.clock} clock (calibration: ours "
            f"{estimate.rate:.0f}/s, reference {warm.rate:.0f}/s)"
        )
        sys.stdout.flush()

        ours: list[Round] = []
        compact: list[Round] = []
        returning: list[Round] = []
        reference: list[Round] = []
        raw: list[Round] = []
        for _ in range(args.rounds):
            ours.append(round_ours(stack, pool, budget))
            compact.append(round_compact(stack, pool, budget))
            returning.append(round_returning(stack, pool, budget))
            reference.append(round_reference(pool, budget))
            raw.append(round_raw(public_key, pairs, budget))
        stack.store.close()

    exhausted = [r for r in ours + compact if r.count == len(pool.presentations)]
    rows = [
        ("ecert Verifier, full hotel check", ours),
        ("ecert Verifier, compact EC2: text", compact),
        ("ecert Verifier, returning credential", returning),
        ("reference SDJWTVerifier (sd-jwt)", reference),
        ("raw P-256 verify (cryptography)", raw),
    ]
    print()
    print(f"{'measurement':<34} {'best /s':>10} {'median /s':>10} {'ops/round':>10}  each round /s")
    for label, rounds in rows:
        best, median = summary(rounds)
        per_round = statistics.median(r.count for r in rounds)
        each = " ".join(f"{r.rate:.0f}" for r in rounds)
        print(f"{label:<34} {best:>10.1f} {median:>10.1f} {per_round:>10.0f}  {each}")
    ours_best, _ = summary(ours)
    reference_best, _ = summary(reference)
    raw_best, _ = summary(raw)
    ratio = ours_best / (raw_best / 2)
    paired = statistics.median(o.rate / (r.rate / 2) for o, r in zip(ours, raw, strict=True))
    print(f"{'ours / (raw / 2)':<34} {ratio:>10.3f}  (median of per-round pairs {paired:.3f})")
    compact_best, _ = summary(compact)
    compact_ratio = compact_best / (raw_best / 2)
    print(f"{'compact / (raw / 2)':<34} {compact_ratio:>10.3f}")
    returning_best, _ = summary(returning)
    print(f"{'returning / (raw / 2)':<34} {returning_best / (raw_best / 2):>10.3f}")
    print(f"{'ours / reference':<34} {ours_best / reference_best:>10.2f}")
    if exhausted:
        print(f"note: {len(exhausted)} round(s) used up the whole pool early")
    print(
        json.dumps(
            {
                "ours_per_s": round(ours_best, 1),
                "reference_per_s": round(reference_best, 1),
                "raw_p256_per_s": round(raw_best, 1),
                "ratio": round(ratio, 4),
                "compact_per_s": round(compact_best, 1),
                "compact_ratio": round(compact_ratio, 4),
                "returning_per_s": round(returning_best, 1),
                "returning_ratio": round(returning_best / (raw_best / 2), 4),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
