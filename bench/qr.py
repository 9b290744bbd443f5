"""QR codes of offline presentations: sizes with and without the compact QR transport,
and how fast ``wallet.qr.render_png`` draws them against ``qrcode``'s defaults.

Run from the repository root::

    .venv/bin/python bench/qr.py [--credentials N] [--rounds R] [--repeat K]

Sizes: ``N`` resident ID cards (default 20), each issued by our ``CredentialIssuer`` to
its own wallet (own P-256 holder key, own salts and nonce), presented for the ``hotel``
scene (name and ID number) and for the ``bank`` scene (the eight claims it asks). For
each presentation: the plain SD-JWT+KB length and the compact text
(``sdjwt.qr_transport.encode_compact``) length, and the smallest QR version at error
correction L, M and Q of both (``wallet.qr.qr_version``: the compact text is one
alphanumeric segment; the plain text is ``qrcode``'s segmentation). Every compact text
is decoded back to its plain text and verified offline for its scene (a failure aborts
the bench). A third row, ``hotel+photo``, is the same hotel presentation from cards that
also carry the optional ``photo_digest`` claim: one more digest in the credential.

Speed: for the first hotel and bank presentations, compact and plain, the PNG render
time of ``qrcode``'s defaults (``QRCode(box_size=8, border=4)``, ``add_data``,
``make(fit=True)`` with its automatic choice among the eight masks, ``make_image()``,
PNG) against ``wallet.qr.render_png`` (same box size and border, level M). Rounds
alternate the two; each round times ``K`` renders (default 5) and the best round of
each is kept. ``ratio`` is ours / qrcode default for the compact hotel text. The
transport's own encode and decode times are reported too.

The last line of the output is one JSON object with ``sizes`` (per scene: plain and
compact length and versions, min/median/max), ``render_ms`` and ``ratio``.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import qrcode
import qrcode.constants

from cli.demo import DEMO_CLAIMS
from issuer import CredentialIssuer, Keyring, Platform, StatusRegistry
from keys import KeyWrapper, generate_secret
from sdjwt.qr_transport import decode_compact, encode_compact
from service.publication import Publication
from store.sqlite import SQLiteStore
from verifier import Verifier
from wallet import Wallet, WalletError
from wallet.qr import qr_version, render_png

VCT = "urn:ecert:resident-id-card"
CLAIMS = DEMO_CLAIMS
PHOTO_DIGEST = "sha-256:" + "q" * 43  # the shape of a photo digest claim
LEVELS = ("L", "M", "Q")
TARGETS = {"hotel": 22, "bank": 27, "hotel+photo": 22}  # version at level M


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts() -> dict[str, str]:
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "qrcode": metadata.version("qrcode"),
        "pillow": metadata.version("pillow"),
        "cpu": cpu_model(),
        "cores": f"{os.cpu_count()} logical (the bench uses one)",
        "platform": platform.platform(),
    }


# -- presentations ---------------------------------------------------------------------


class Stack:
    """One platform with one ES256 issuer, in a temporary SQLite store, on a fixed clock."""

    def __init__(self, directory: str) -> None:
        self.now = time.time()
        self.store = SQLiteStore(str(Path(directory) / "bench.db"))
        clock = self.clock
        keyring = Keyring(self.store, KeyWrapper(generate_secret()), clock=clock)
        self.platform = Platform(self.store, keyring, base_url="https://ecert.example", clock=clock)
        self.platform.ensure_anchor()
        self.platform.register_issuer("police", name_zh="公安局", name_en="Police", vcts=[VCT])
        self.iss = self.platform.issuer_url("police")
        self.status = StatusRegistry(self.store, clock=clock)
        self.issuer = CredentialIssuer(self.store, keyring, self.status, clock=clock)
        self.publication = Publication(self.store, keyring, self.platform, self.status)
        self._verifier: Verifier | None = None

    def clock(self) -> float:
        return self.now

    def verifier(self) -> Verifier:
        if self._verifier is None:
            bundle = self.publication.bundle(max_age=0)
            anchor = dict(self.platform.anchor_jwk())
            self._verifier = Verifier(bundle, anchor=anchor, clock=self.clock)
        return self._verifier

    def present(self, n: int, claims: dict[str, str], scene: str) -> list[str]:
        scenes = self.verifier().trust_list.scenes
        out = []
        for i in range(n):
            wallet = Wallet(clock=self.clock)
            issued = self.issuer.issue(
                self.iss, VCT, subject=f"citizen-{i}", claims=claims,
                holder_jwk=wallet.holder_jwk,
            )  # fmt: skip
            held = wallet.add(issued.sd_jwt)
            out.append(wallet.present_for_scene(held, scenes[scene]))
        self._verifier = None  # the next bundle carries the status lists just used
        return out


def sizes(stack: Stack, presentations: list[str], scene: str) -> dict[str, Any]:
    """Lengths and QR versions, plain and compact; checks every compact text verifies."""
    rows: dict[str, list[int]] = {"plain_chars": [], "compact_chars": []}
    for level in LEVELS:
        rows[f"plain_{level}"] = []
        rows[f"compact_{level}"] = []
    verifier = stack.verifier()
    for plain in presentations:
        compact = encode_compact(plain)
        if decode_compact(compact) != plain:
            sys.exit("the compact transport did not round-trip")
        result = verifier.verify(compact, scene)
        if not result.valid:
            sys.exit(f"a compact presentation did not verify: {result.errors}")
        rows["plain_chars"].append(len(plain))
        rows["compact_chars"].append(len(compact))
        for level in LEVELS:
            rows[f"plain_{level}"].append(_version(plain, level))
            rows[f"compact_{level}"].append(_version(compact, level))
    return {
        k: {"min": min(v), "median": statistics.median(v), "max": max(v)} for k, v in rows.items()
    }


def _span(v: dict[str, Any]) -> str:
    """A version column: median, and the range when it varies; >40 means it does not fit."""

    def one(n: float) -> str:
        return ">40" if n > 40 else f"v{n:g}"

    if v["min"] == v["max"]:
        return one(v["median"])
    return f"{one(v['median'])} ({v['min']}–{v['max']})"


def _version(text: str, level: Any) -> int:
    try:
        return qr_version(text, level)
    except WalletError:  # too large for any version at this level
        return 41


# -- rendering ---------------------------------------------------------------------------


def qrcode_default(text: str) -> bytes:
    """What ``qrcode`` does with its defaults (mask chosen among eight), as a PNG."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image().save(out)
    return out.getvalue()


def ours(text: str) -> bytes:
    return render_png(text, level="M", border=4)


def best_ms(fns: dict[str, Callable[[], object]], rounds: int, repeat: int) -> dict[str, float]:
    """Best time of one call in ms, over ``rounds`` alternating rounds of ``repeat`` calls."""
    best = {name: float("inf") for name in fns}
    for fn in fns.values():
        fn()  # warm up
    for _ in range(rounds):
        for name, fn in fns.items():
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                for _ in range(repeat):
                    fn()
                elapsed = (time.perf_counter() - start) / repeat
            finally:
                gc.enable()
            best[name] = min(best[name], elapsed * 1000)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--credentials", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    for key, value in machine_facts().items():
        print(f"{key:>12}: {value}")
    print()

    with tempfile.TemporaryDirectory() as directory:
        stack = Stack(directory)
        scenes = {
            "hotel": stack.present(args.credentials, CLAIMS, "hotel"),
            "bank": stack.present(args.credentials, CLAIMS, "bank"),
            "hotel+photo": stack.present(
                args.credentials, {**CLAIMS, "photo_digest": PHOTO_DIGEST}, "hotel"
            ),
        }
        table = {
            name: sizes(stack, pres, "hotel" if name.startswith("hotel") else name)
            for name, pres in scenes.items()
        }
        stack.store.close()

    print(f"sizes over {args.credentials} credentials (median, min–max)")
    print(f"{'scene':<12} {'form':<8} {'chars':>16} " + " ".join(f"{lv:>11}" for lv in LEVELS))
    for name, row in table.items():
        for form in ("plain", "compact"):
            chars = row[f"{form}_chars"]
            cells = [f"{chars['median']:>6g} ({chars['min']}–{chars['max']})"]
            for level in LEVELS:
                cells.append(f"{_span(row[f'{form}_{level}']):>11}")
            print(f"{name:<12} {form:<8} {cells[0]:>16} " + " ".join(cells[1:]))
    met = {name: table[name]["compact_M"]["max"] <= target for name, target in TARGETS.items()}
    print(
        "targets at level M:",
        ", ".join(f"{k} ≤ v{TARGETS[k]}: {'met' if v else 'MISSED'}" for k, v in met.items()),
    )
    print()

    texts = {
        "hotel compact": encode_compact(scenes["hotel"][0]),
        "hotel plain": scenes["hotel"][0],
        "bank compact": encode_compact(scenes["bank"][0]),
        "bank plain": scenes["bank"][0],
    }
    render: dict[str, dict[str, float]] = {}
    print(f"PNG render, best of {args.rounds} rounds × {args.repeat} (ms)")
    print(f"{'text':<14} {'version':>7} {'qrcode default':>15} {'ours':>8} {'ratio':>6}")
    for label, text in texts.items():
        times = best_ms(
            {"qrcode_default": partial(qrcode_default, text), "ours": partial(ours, text)},
            args.rounds,
            args.repeat,
        )
        times["ratio"] = times["ours"] / times["qrcode_default"]
        render[label] = {k: round(v, 3) for k, v in times.items()}
        print(
            f"{label:<14} {qr_version(text):>7} {times['qrcode_default']:>15.1f} "
            f"{times['ours']:>8.1f} {times['ratio']:>6.2f}"
        )

    plain = scenes["bank"][0]
    compact = encode_compact(plain)
    codec = best_ms(
        {"encode": lambda: encode_compact(plain), "decode": lambda: decode_compact(compact)},
        args.rounds,
        200,
    )
    print(
        f"\ncompact transport (bank): encode {codec['encode'] * 1000:.0f} µs, "
        f"decode {codec['decode'] * 1000:.0f} µs"
    )

    summary = {
        "sizes": table,
        "targets_met": met,
        "render_ms": render,
        "ratio": render["hotel compact"]["ratio"],
        "codec_us": {k: round(v * 1000, 1) for k, v in codec.items()},
    }
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()
