"""Publishing a 10-million-entry status list: which compressor and level, and how long it takes.

    .venv/bin/python bench/statuslist.py [--entries N] [--revoked-ratio R]

Builds a 2-bit list with a fraction of entries revoked or suspended at random
positions (random index allocation makes them scattered), then measures compression
time and size for zlib levels 1, 3, 6 and 9 and libdeflate levels 6 to 12 (the same
ZLIB format), and finally the full ``encode_status_list_token`` (compress + base64url
+ sign) at the chosen default. The last line is JSON: ``publish_seconds``,
``published_bytes`` (the compressed list), the levels' sizes, and
``size_vs_zlib9`` (published bytes over zlib level 9's).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import zlib
from collections.abc import Callable
from functools import partial

import deflate

from issuer.status import encode_status_list_token
from keys import SigningKey
from keys.b64 import b64url_decode
from sdjwt.statuslist import COMPRESSION_LEVEL, StatusList
from store.interface import StatusListRecord
from store.sqlite import SQLiteStore


def best_of(rounds: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--revoked-ratio", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    rng = random.Random(7)
    sl = StatusList.zeros(2, args.entries)
    for idx in rng.sample(range(args.entries), int(args.entries * args.revoked_ratio)):
        sl.set(idx, rng.choice((1, 1, 1, 2)))
    raw = bytes(sl.data)
    print(
        f"{args.entries:,} entries, 2 bits, {args.revoked_ratio:.1%} non-zero: {len(raw):,} bytes"
    )
    levels = {}
    for level in (1, 3, 6, 9):
        seconds = best_of(args.rounds, partial(zlib.compress, raw, level))
        size = len(zlib.compress(raw, level))
        levels[level] = {"seconds": round(seconds, 4), "bytes": size}
        print(f"zlib level {level}: {seconds * 1000:8.1f} ms  {size:>10,} bytes")
    zlib9 = levels[9]["bytes"]
    libdeflate = {}
    for level in range(6, 13):
        seconds = best_of(args.rounds, partial(deflate.zlib_compress, raw, level))
        size = len(deflate.zlib_compress(raw, level))
        libdeflate[level] = {"seconds": round(seconds, 4), "bytes": size}
        print(
            f"libdeflate level {level:2}: {seconds * 1000:8.1f} ms  {size:>10,} bytes"
            f"  {size / zlib9:.3f} x zlib-9"
        )
    published = len(b64url_decode(sl.encode()))

    key = SigningKey.generate("ES256")
    publish = best_of(
        args.rounds,
        lambda: encode_status_list_token(
            sl, uri="https://x/status/1", iss="https://x", key=key, now=int(time.time())
        ),
    )
    token = encode_status_list_token(
        sl, uri="https://x/status/1", iss="https://x", key=key, now=int(time.time())
    )
    print(
        f"publish (libdeflate level {COMPRESSION_LEVEL}, base64url, sign): "
        f"{publish * 1000:.1f} ms, token {len(token):,} characters"
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(f"{tmp}/bench.db")
        store.create_status_list(
            StatusListRecord("https://x/status/1", "https://x", 2, args.entries, 0)
        )
        for idx in rng.sample(range(args.entries), 1000):
            store.set_status("https://x/status/1", idx, 1)
        read = best_of(args.rounds, lambda: store.status_bytes("https://x/status/1"))
        store.close()
    print(f"read the packed list from SQLite: {read * 1000:.1f} ms")
    print(
        json.dumps(
            {
                "entries": args.entries,
                "revoked_ratio": args.revoked_ratio,
                "zlib_levels": levels,
                "libdeflate_levels": libdeflate,
                "default_level": COMPRESSION_LEVEL,
                "publish_seconds": round(publish, 4),
                "published_bytes": published,
                "size_vs_zlib9": round(published / zlib9, 4),
                "sqlite_read_seconds": round(read, 4),
                "token_chars": len(token),
            }
        )
    )


if __name__ == "__main__":
    main()
