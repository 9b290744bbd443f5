"""Where the time of ``POST /api/v1/verify`` goes: store round trips and a profile.

Run from the repository root (needs ``redis-server``)::

    .venv/bin/python bench/http_profile.py                   # both stores, 400 requests
    .venv/bin/python bench/http_profile.py --store redis --requests 1000

A bench-only harness: the real app (``api.create_app``) in this process, on a temporary
instance seeded as bench/http_bench.py seeds it (SQLite, or a private redis-server),
driven through Flask's test client (no gunicorn, no socket: what is left is the app's
own cost) with distinct fresh hotel presentations, one thread. It counts, per
verification:

* calls of each :class:`store.Store` method (the app's store object, wrapped), and the
  time spent inside each;
* physical round trips: for Redis, the commands sent on a connection
  (``send_packed_command``: a pipeline is one) and the commands the server ran (``INFO
  commandstats``, which also counts the commands of Lua scripts); for SQLite, the SQL
  statements executed (``set_trace_callback``), each a call into the library that
  takes its locks;

then profiles the same requests with cProfile and prints the costliest functions
(own time) and a breakdown by stage. The same requests on a hello-world Flask route in
this process give the in-process ratio. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import io
import json
import logging
import pstats
import re
import shutil
import sqlite3
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.connection
from flask import Flask, Response, request
from flask.testing import FlaskClient
from http_bench import SCENE, Seeded, redis_server

from api import create_app
from sdjwt.qr_transport import decode_compact
from store.sqlite import SQLiteStore
from verifier import Verifier
from wallet.qr import presentation_qr_text

BASE = "http://127.0.0.1:8000"
HERE = Path(__file__).resolve().parent
WARMUP = 30

#: Stages of a verification: (label, file fragment, function name) of pstats entries
#: whose cumulative time is reported per request (they nest: the shares do not add up).
STAGES: list[tuple[str, str, str]] = [
    ("whole request (Flask wsgi_app)", "flask/app.py", "wsgi_app"),
    ("  venue key + venue (current_venue)", "api/principals.py", "current_venue"),
    ("  body: strict JSON read (jsonbody hook)", "api/jsonbody.py", "_refuse_unreadable_json"),
    ("  online verifier lookup (verifier())", "service/verification.py", "verifier"),
    ("  OnlineVerifier.verify", "service/verification.py", "verify"),
    ("    Verifier.verify (library)", "verifier/core.py", "verify"),
    ("      compact QR decode", "sdjwt/qr_transport.py", "decode_compact"),
    ("    registry lookup (find_credential)", "", "find_credential"),
    ("    activity write (add_activity)", "", "add_activity"),
    ("  request log line (_finish)", "api/logging.py", "_finish"),
    ("  metrics (_observe)", "api/metrics.py", "_observe"),
    ("  security headers (_secure_response)", "api/security.py", "_secure_response"),
]


@dataclass
class StoreMeter:
    """Counts and times the calls of every public method of one store object."""

    calls: Counter[str]
    seconds: dict[str, float]

    @classmethod
    def wrap(cls, store: Any) -> StoreMeter:
        meter = cls(Counter(), defaultdict(float))
        for name in dir(type(store)):
            if name.startswith("_") or not callable(getattr(type(store), name, None)):
                continue
            method = getattr(store, name)
            setattr(store, name, meter._timed(name, method))
        return meter

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.calls[name] += 1
                self.seconds[name] += time.perf_counter() - started

        return timed

    def reset(self) -> None:
        self.calls.clear()
        self.seconds.clear()

    @staticmethod
    def unwrap(store: Any) -> None:
        """Remove the wrappers (the profile must not count them)."""
        for name in [n for n in vars(store) if not n.startswith("_")]:
            if getattr(vars(store)[name], "__wrapped__", None) is not None:
                delattr(store, name)


class WireMeter:
    """Round trips below the store: Redis commands sent, SQLite statements run."""

    def __init__(self) -> None:
        self.sent = 0
        self.statements: Counter[str] = Counter()
        self.active = True
        self._traced: list[sqlite3.Connection] = []

    def stop(self) -> None:
        """Stop counting: the profile must not see the meters."""
        self.active = False
        for conn in self._traced:
            conn.set_trace_callback(None)

    def install(self, stack: ExitStack) -> None:
        for cls in _connection_classes():
            original = cls.__dict__["send_packed_command"]

            def send(self_: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
                self.sent += self.active
                return _original(self_, *args, **kw)

            setattr(cls, "send_packed_command", send)  # noqa: B010 - a bench-only patch
            stack.callback(setattr, cls, "send_packed_command", original)

        # The backend's mixins define _connect; patch it on the composed class and
        # remove the patch afterwards (delattr brings the mixin's method back).
        connect = SQLiteStore._connect

        def traced(self_: SQLiteStore) -> sqlite3.Connection:
            conn: sqlite3.Connection = connect(self_)
            if self.active:
                conn.set_trace_callback(self._statement)
                self._traced.append(conn)
            return conn

        setattr(SQLiteStore, "_connect", traced)  # noqa: B010 - a bench-only patch
        stack.callback(delattr, SQLiteStore, "_connect")

    def _statement(self, sql: str) -> None:
        words = re.sub(r"\d+", "?", " ".join(sql.split()))
        self.statements[words[:48]] += 1

    def reset(self) -> None:
        self.sent = 0
        self.statements.clear()


def _connection_classes() -> list[type]:
    found = []
    for value in vars(redis.connection).values():
        if isinstance(value, type) and "send_packed_command" in value.__dict__:
            found.append(value)
    return found


def commandstats(url: str) -> Counter[str]:
    client = redis.Redis.from_url(url)
    try:
        info: dict[str, Any] = client.info("commandstats")
    finally:
        client.close()
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()})


def library_costs(seeded: Seeded, count: int) -> dict[str, float]:
    """Microseconds per operation, without a profiler: the compact QR decode, and the
    offline library verification of the same presentations, plain and compact."""
    holders = seeded.holders(count)
    plain = [h.wallet.present_for_scene(h.held, seeded.scene) for h in holders]
    compact = [presentation_qr_text(p, compact=True) for p in plain]
    bundle = seeded.instance.publication.bundle()
    anchor = seeded.instance.platform.anchor_jwk()

    def each(items: list[str], step: Callable[[str], object]) -> float:
        gc.collect()
        started = time.perf_counter()
        for item in items:
            step(item)
        return (time.perf_counter() - started) / len(items) * 1e6

    def verified(verifier: Verifier) -> Callable[[str], object]:
        def step(text: str) -> object:
            if not verifier.verify(text, SCENE).valid:
                raise SystemExit("an offline verification failed")
            return None

        return step

    return {
        "decode_compact_us": round(each(compact, decode_compact), 1),
        "library_verify_plain_us": round(each(plain, verified(Verifier(bundle, anchor=anchor))), 1),
        "library_verify_compact_us": round(
            each(compact, verified(Verifier(bundle, anchor=anchor))), 1
        ),
    }


def healthz_us(client: FlaskClient, count: int) -> float:
    """Microseconds per ``GET /healthz``: the app's chassis (hooks, headers, log line)
    around a view that does nothing."""
    started = time.perf_counter()
    for _ in range(count):
        if client.get("/healthz").status_code != 200:
            raise SystemExit("GET /healthz failed")
    return (time.perf_counter() - started) / count * 1e6


def hello_app() -> Flask:
    app = Flask("hello")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/verify")
    def verify() -> Response:
        request.get_data()
        return Response('{"valid":true}', mimetype="application/json")

    return app


def drive(client: FlaskClient, bodies: list[str], venue_key: str) -> float:
    """Post each body once; returns the seconds taken. Aborts on any unexpected answer."""
    headers = {"Authorization": f"Bearer {venue_key}", "Content-Type": "application/json"}
    started = time.perf_counter()
    for body in bodies:
        answer = client.post("/api/v1/verify", data=body, headers=headers)
        if answer.status_code != 200 or b'"valid":true' not in answer.data:
            raise SystemExit(f"unexpected answer {answer.status_code}: {answer.data[:300]!r}")
    return time.perf_counter() - started


def stage_times(stats: pstats.Stats, requests: int) -> list[tuple[str, float]]:
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    out = []
    for label, fragment, function in STAGES:
        total = 0.0
        for (filename, _line, name), entry in raw.items():
            if name == function and fragment in filename and Path(filename).parent != HERE:
                total = max(total, float(entry[3]))  # cumulative time; recursion counted once
        out.append((label, total / requests * 1000))
    return out


def top_functions(stats: pstats.Stats, count: int) -> str:
    buffer = io.StringIO()
    stats.stream = buffer  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(count)
    lines = buffer.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    return "\n".join(lines[start:])


def profile_store(
    name: str, requests: int, top: int, folder: Path, url: str | None
) -> dict[str, Any]:
    seeded = Seeded.create(name, folder / name, BASE, url)
    library = library_costs(seeded, requests)
    with ExitStack() as stack:
        stack.callback(seeded.instance.close)
        wire = WireMeter()
        wire.install(stack)
        log = logging.getLogger("ecert")
        handler = logging.FileHandler(folder / f"{name}-app.log")  # as gunicorn's stderr file
        log.addHandler(handler)
        stack.callback(log.removeHandler, handler)
        config: dict[str, Any] = {"INSTANCE": str(folder / name), "BASE_URL": BASE}
        if url is not None:
            config["REDIS_URL"] = url
        app = create_app(config)
        stack.callback(app.extensions["ecert"].close)
        meter = StoreMeter.wrap(app.extensions["ecert"].instance.store)
        client = app.test_client()

        def fresh(count: int) -> list[str]:
            return seeded.verify_bodies(seeded.holders(count))

        drive(client, fresh(WARMUP), seeded.venue_key)
        bodies = fresh(requests)
        meter.reset()
        wire.reset()
        before = commandstats(url) if url else Counter[str]()
        elapsed = drive(client, bodies, seeded.venue_key)
        server = (commandstats(url) - before) if url else Counter[str]()
        calls, seconds = Counter(meter.calls), dict(meter.seconds)
        sent, statements = wire.sent, Counter(wire.statements)
        wire.stop()
        StoreMeter.unwrap(app.extensions["ecert"].instance.store)

        profiler = cProfile.Profile()
        bodies = fresh(requests)
        profiler.enable()
        drive(client, bodies, seeded.venue_key)
        profiler.disable()
        stats = pstats.Stats(profiler)

        hello = hello_app().test_client()
        hello_bodies = fresh(50) * max(1, requests // 50)
        hello_elapsed = drive(hello, hello_bodies, "x")
        chassis = {
            "ecert_healthz_us": round(healthz_us(client, requests), 1),
            "hello_healthz_us": round(healthz_us(hello, requests), 1),
        }

    per = float(requests)
    print(f"\n== {name}: {requests} verifications in-process, {requests / elapsed:.0f}/s "
          f"(hello-world in-process {len(hello_bodies) / hello_elapsed:.0f}/s)")  # fmt: skip
    print(
        "library, offline, no profiler (µs per presentation): compact decode "
        f"{library['decode_compact_us']:.0f}; Verifier.verify plain "
        f"{library['library_verify_plain_us']:.0f}, "
        f"compact {library['library_verify_compact_us']:.0f}"
    )
    print(
        f"GET /healthz in-process: ecert {chassis['ecert_healthz_us']:.0f} µs, "
        f"hello-world {chassis['hello_healthz_us']:.0f} µs (the chassis's hooks)"
    )
    print(f"{'store method':<28} {'calls/verif':>11} {'ms/verif':>9}")
    for method, count in calls.most_common():
        print(f"{method:<28} {count / per:>11.2f} {seconds[method] / per * 1000:>9.3f}")
    store_calls = sum(calls.values()) / per
    store_ms = sum(seconds.values()) / per * 1000
    print(f"{'total':<28} {store_calls:>11.2f} {store_ms:>9.3f}")
    if url:
        print(f"Redis: {sent / per:.2f} commands sent per verification (a pipeline is "
              f"one); the server ran, per verification:")  # fmt: skip
        for command, count in server.most_common():
            if command != "info":
                print(f"    {command:<24} {count / per:.2f}")
    else:
        print(f"SQLite: {sum(statements.values()) / per:.2f} statements per verification:")
        for statement, count in statements.most_common():
            print(f"    {statement:<40} {count / per:.2f}")
    print("\nstages (cumulative ms per verification under cProfile, nested):")
    stages = stage_times(stats, requests)
    for label, ms in stages:
        print(f"  {label:<44} {ms:>7.3f}")
    print(f"\ntop {top} functions by own time (cProfile, {requests} verifications):")
    print(top_functions(stats, top))
    return {
        "store": name,
        "in_process_per_s": round(requests / elapsed, 1),
        "hello_in_process_per_s": round(len(hello_bodies) / hello_elapsed, 1),
        "store_calls_per_verification": {k: round(v / per, 2) for k, v in calls.items()},
        "store_ms_per_verification": round(store_ms, 3),
        "wire_round_trips_per_verification": round(
            (sent if url else sum(statements.values())) / per, 2
        ),
        "stages_ms": {label.strip(): round(ms, 3) for label, ms in stages},
        **library,
        **chassis,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "redis", "both"), default="both")
    parser.add_argument("--requests", type=int, default=400, help="per measurement (400)")
    parser.add_argument("--top", type=int, default=25, help="functions listed (25)")
    args = parser.parse_args(argv)
    if args.requests < 50:
        parser.error("--requests must be at least 50")
    results = []
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ecert-prof-")))
        if args.store in ("sqlite", "both"):
            results.append(profile_store("sqlite", args.requests, args.top, folder, None))
        if args.store in ("redis", "both"):
            binary = _which_redis()
            url = stack.enter_context(redis_server(binary, folder)).url
            results.append(profile_store("redis", args.requests, args.top, folder, url))
    print(json.dumps({"profiles": results}, ensure_ascii=False))
    return 0


def _which_redis() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    return found


if __name__ == "__main__":
    raise SystemExit(main())
