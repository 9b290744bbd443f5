"""Verification and issuance over HTTP, against hello-world under the same gunicorn.

Run from the repository root (needs ``redis-server``; ``wrk`` is installed with apt-get
when missing)::

    .venv/bin/python bench/http_bench.py                  # 5 s per wrk run, 2 rounds
    .venv/bin/python bench/http_bench.py --seconds 10 --rounds 3
    .venv/bin/python bench/http_bench.py --tiny           # a few seconds: does it still run?

Starts three gunicorn servers on free 127.0.0.1 ports, each with the settings
``ecert serve`` uses (:data:`WORKERS` workers, :data:`THREADS` threads, so gunicorn's
``gthread`` worker; no access log; timeout 30 s):

* **hello-world**: a Flask app answering ``POST /api/v1/verify`` with ``{"valid":true}``
  and the issuance route with a 201, reading the body and nothing else;
* **ecert on SQLite**: ``ecert serve`` on a temporary instance;
* **ecert on Redis**: ``ecert serve`` on a temporary ``redis-server`` (no persistence).

Each ecert instance is seeded by this process with the real code: the police with a
department key, one hotel venue with its venue key, and citizens. Before each ``wrk``
run, distinct credentials (each its own holder key) are issued to distinct citizens and
each is presented once for ``hotel`` as the citizen's phone shows it (the compact
``EC1:`` QR text, a fresh KB-JWT: nonce and ``iat``). ``wrk`` (one thread, a few
connections, :file:`bench/http_bench.lua`) sends each body once and checks every answer
(``200`` and ``"valid":true``; for issuance ``201``); a non-conforming answer makes the
bench fail after it has printed its figures. Department issuance
(``POST /api/v1/issuers/police/credentials``, distinct citizens, no ``Idempotency-Key``)
is measured against the library doing the same in this process, on one core: the
citizen check, the wallet's holder key, ``CredentialIssuer.issue`` and delivery into the
wallet (``WalletVault.add``).

Rounds are interleaved (hello, SQLite, Redis, issuance on each store, the library) and
the best round of each is kept; every round's rate is printed. The last line is one
JSON object. No figure here is a test: tests/test_bench_http.py only runs ``--tiny``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from cli.demo import DEMO_CLAIMS
from keys import Scene
from service.accounts import LOGIN_KEY_LABEL, Accounts
from service.instance import Instance, open_instance
from store.interface import VenueRecord
from verifier import Verifier
from wallet import Wallet
from wallet.presentation import HeldCredential
from wallet.qr import presentation_qr_text

#: ``ecert serve``'s defaults (cli/admin.py): 2 workers of 4 threads, gunicorn's gthread.
WORKERS = 2
THREADS = 4
TIMEOUT = 30
SCENE = "hotel"
VCT = "urn:ecert:resident-id-card"
ISSUER = "police"
VENUE = "bench-hotel"
HERE = Path(__file__).resolve().parent
LUA = HERE / "http_bench.lua"
ECERT = Path(sys.executable).with_name("ecert")
#: Seeding only: the bench's citizens have no password (identity-provider logins).
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
#: The pool of a round holds this many times what the calibrated rate needs.
POOL_MARGIN = 2.0
#: Bodies for the calibration run of each target (also its warm-up).
CALIBRATION_POOL = 300
#: Citizens per second of a round for the library's issuance (it stops early if it runs out).
LIBRARY_POOL_PER_S = 800
#: The tiny mode's fixed pools (a wrk thread that runs out stops: no replays).
TINY_POOL = 60


# -- machine facts ------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts(wrk: str, redis_server: str) -> dict[str, str]:
    wrk_version = subprocess.run(
        [wrk, "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    redis_version = subprocess.run(
        [redis_server, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "gunicorn": metadata.version("gunicorn"),
        "flask": metadata.version("flask"),
        "redis-py": metadata.version("redis"),
        "sqlite": sqlite3.sqlite_version,
        "redis-server": redis_version.split(" v=")[1].split()[0] if " v=" in redis_version else "?",
        "wrk": wrk_version[0] if wrk_version else "?",
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# -- tools --------------------------------------------------------------------------


def ensure_wrk() -> str:
    """The path of ``wrk``, installed with apt-get (Debian's package) when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing it with apt-get (Debian package wrk)", file=sys.stderr)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still missing after apt-get install wrk")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 20 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(roots: Sequence[int]) -> float:
    """User + system CPU time of processes ``roots`` and their children (gunicorn's
    workers), every thread included, from /proc; 0 where /proc cannot be read."""
    pids = set(roots)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) in roots:
                    pids.add(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    ticks = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class RedisProcess:
    url: str
    pid: int


@contextmanager
def redis_server(binary: str, folder: Path) -> Iterator[RedisProcess]:
    """A private redis-server on a free loopback port (no persistence)."""
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(folder), "--logfile", str(folder / "redis.log")],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"redis-server did not start (see {folder / 'redis.log'})")
            time.sleep(0.05)
        yield RedisProcess(f"redis://127.0.0.1:{port}/0", proc.pid)
    finally:
        stop(proc)


@dataclass
class Server:
    """One gunicorn server as a subprocess."""

    name: str
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def wait_ready(self, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"{self.name} exited at start-up:\n{tail}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise SystemExit(f"{self.name} did not answer /healthz within {seconds:.0f} s")


def start_server(name: str, argv: list[str], env: dict[str, str], log: Path, port: int) -> Server:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    return Server(name, f"http://127.0.0.1:{port}", proc, log)


# -- hello-world ---------------------------------------------------------------------


def serve_hello(port: int, workers: int, threads: int) -> None:
    """Run the hello-world app under gunicorn with ``ecert serve``'s options (no return)."""
    from flask import Flask, Response, request
    from gunicorn.app.base import BaseApplication

    app = Flask("hello")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/verify")
    def verify() -> Response:
        request.get_data()
        return Response('{"valid":true}', mimetype="application/json")

    @app.post("/api/v1/issuers/<issuer>/credentials")
    def issue(issuer: str) -> Response:
        request.get_data()
        return Response('{"id":"hello"}', status=201, mimetype="application/json")

    # The same options as cli/admin.py's cmd_serve.
    options = {
        "bind": f"127.0.0.1:{port}",
        "workers": workers,
        "threads": threads,
        "accesslog": None,
        "timeout": TIMEOUT,
    }

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    Server().run()


# -- an ecert instance, seeded and fed by this process --------------------------------


@dataclass
class Holder:
    """A citizen's credential held by a library wallet (its own holder key)."""

    wallet: Wallet
    held: HeldCredential


@dataclass
class Seeded:
    """The bench's handle on one ecert instance (the same store the server uses)."""

    name: str
    instance: Instance
    accounts: Accounts
    iss: str
    scene: Scene
    venue_key: str
    department_key: str
    counter: int = 0

    @classmethod
    def create(cls, name: str, folder: Path, base_url: str, redis_url: str | None) -> Seeded:
        instance = open_instance(folder, base_url=base_url, redis_url=redis_url)
        accounts = Accounts(
            instance.store,
            hasher=CHEAP_HASHER,
            counter_key=instance.derive_key(LOGIN_KEY_LABEL),
            pseudonyms=instance.pseudonyms,  # as the service's own Accounts
        )
        platform_ = instance.platform
        platform_.ensure_anchor()
        record = platform_.register_issuer(
            ISSUER, name_zh="市公安局", name_en="City Police", vcts=[VCT]
        )
        instance.store.put_venue(
            VenueRecord(VENUE, "测试酒店", "Bench Hotel", (SCENE,), int(time.time()))
        )
        venue_key = accounts.issue_api_key("venue", VENUE)[1]
        department_key = accounts.issue_api_key("department", record.iss)[1]
        bundle = platform_.bundle(instance.status)
        scene = Verifier(bundle, anchor=platform_.anchor_jwk()).trust_list.scenes[SCENE]
        return cls(name, instance, accounts, record.iss, scene, venue_key, department_key)

    def citizens(self, count: int) -> list[str]:
        """``count`` new citizens (accounts without a password)."""
        made = []
        for _ in range(count):
            self.counter += 1
            citizen_id = f"bench-{self.name}-{self.counter:07d}"
            self.accounts.create_citizen(citizen_id)
            made.append(citizen_id)
        return made

    def holders(self, count: int) -> list[Holder]:
        """``count`` citizens, each holding one new credential under its own holder key."""
        made = []
        for citizen_id in self.citizens(count):
            wallet = Wallet()
            issued = self.instance.issuer.issue(
                self.iss, VCT, subject=citizen_id, claims=DEMO_CLAIMS,
                holder_jwk=wallet.holder_jwk,
            )  # fmt: skip
            made.append(Holder(wallet, wallet.add(issued.sd_jwt)))
        return made

    def verify_bodies(self, holders: Sequence[Holder]) -> list[str]:
        """One fresh hotel presentation of each credential, as the body a scanner posts."""
        bodies = []
        for holder in holders:
            presentation = holder.wallet.present_for_scene(holder.held, self.scene)
            qr = presentation_qr_text(presentation, compact=True)
            bodies.append(json.dumps({"qr": qr, "scene": SCENE}, separators=(",", ":")))
        return bodies

    def issue_bodies(self, citizens: Sequence[str]) -> list[str]:
        return [
            json.dumps(
                {"vct": VCT, "citizen_id": c, "claims": DEMO_CLAIMS},
                separators=(",", ":"),
                ensure_ascii=False,
            )
            for c in citizens
        ]

    def library_issue(self, citizen_id: str) -> None:
        """What the issuance view does, without HTTP: check, issue, deliver."""
        self.accounts.require_citizen(citizen_id)
        vault = self.instance.vault
        issued = self.instance.issuer.issue(
            self.iss, VCT, subject=citizen_id, claims=DEMO_CLAIMS,
            holder_jwk=vault.holder_jwk(citizen_id),
        )  # fmt: skip
        vault.add(citizen_id, issued.id, issued.sd_jwt)


# -- wrk -----------------------------------------------------------------------------


@dataclass
class Run:
    """One wrk run."""

    ok: int
    bad_status: int
    bad_body: int
    socket_errors: int
    exhausted: bool
    seconds: float
    p50_ms: float
    p99_ms: float
    #: CPU time of the server's processes (and of redis-server, for Redis) in the run.
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def failures(self) -> int:
        return self.bad_status + self.bad_body + self.socket_errors

    @property
    def cpu_ms(self) -> float:
        """Server CPU milliseconds per good answer."""
        return self.cpu_seconds / self.ok * 1000 if self.ok else 0.0


@dataclass
class Load:
    """How wrk drives a server (the same for every target)."""

    wrk: str
    threads: int
    connections: int
    folder: Path

    def run(
        self,
        url: str,
        bodies: Sequence[str],
        authorization: str,
        *,
        seconds: int,
        status: int,
        marker: str,
        cpu_of: Sequence[int],
        cycle: bool = False,
    ) -> Run:
        body_file = self.folder / "bodies.txt"
        auth_file = self.folder / "authorization.txt"
        body_file.write_text("\n".join(bodies) + "\n", encoding="utf-8")
        fd = os.open(auth_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(authorization)
        argv = [
            self.wrk, f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s",
            "--timeout", "10s", "-s", str(LUA), url,
            "--", str(body_file), str(auth_file), str(status), marker,
            *(["cycle"] if cycle else []),
        ]  # fmt: skip
        cpu_before = cpu_seconds(cpu_of)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        cpu = cpu_seconds(cpu_of) - cpu_before
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")]
        if done.returncode != 0 or not lines:
            raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        out = json.loads(lines[-1].removeprefix("WRKJSON "))
        return Run(
            ok=int(out["ok"]),
            bad_status=int(out["bad_status"]),
            bad_body=int(out["bad_body"]),
            socket_errors=int(out["socket_errors"]),
            exhausted=int(out["exhausted_threads"]) > 0,
            seconds=int(out["duration_us"]) / 1e6,
            p50_ms=int(out["p50_us"]) / 1000,
            p99_ms=int(out["p99_us"]) / 1000,
            cpu_seconds=cpu,
        )


# -- the measurements ------------------------------------------------------------------


@dataclass
class Series:
    """Every round of one measurement."""

    label: str
    runs: list[Run] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)

    def add_run(self, run: Run) -> None:
        self.runs.append(run)
        if not run.exhausted:
            self.rates.append(run.rate)

    @property
    def best(self) -> float:
        if self.rates:
            return max(self.rates)
        # every round ran out of bodies: a lower bound only (flagged in the output)
        return max((r.rate for r in self.runs), default=0.0)

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.runs)

    @property
    def exhausted(self) -> int:
        return sum(r.exhausted for r in self.runs)

    @property
    def cpu_ms(self) -> float:
        """The median over rounds of the server CPU ms per answer."""
        return statistics.median(r.cpu_ms for r in self.runs) if self.runs else 0.0


def library_rate(seeded: Seeded, citizens: Sequence[str], seconds: float) -> float:
    """Issuances per second by the library in this process (one thread)."""
    started = time.perf_counter()
    done = 0
    for citizen_id in citizens:
        seeded.library_issue(citizen_id)
        done += 1
        if time.perf_counter() - started >= seconds:
            break
    return done / (time.perf_counter() - started)


def pool_size(rate: float, seconds: float) -> int:
    return max(CALIBRATION_POOL, math.ceil(rate * seconds * POOL_MARGIN))


def calibrate(one_second: Callable[[int], Run], seconds: int) -> int:
    """The pool a run of ``seconds`` needs, from 1 s runs (also the target's warm-up).

    A calibration run that sends every body gives only a lower bound: it runs again with
    twice the bodies, up to three times.
    """
    count = CALIBRATION_POOL
    for _ in range(3):
        run = one_second(count)
        if not run.exhausted:
            break
        count *= 2
    return pool_size(run.rate, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="each wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the best is kept")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--workers", type=int, default=WORKERS, help=argparse.SUPPRESS)
    parser.add_argument("--server-threads", type=int, default=THREADS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--tiny", action="store_true", help="1 s runs, 1 round, small pools: checks it runs"
    )
    parser.add_argument("--serve-hello", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_hello is not None:
        serve_hello(args.serve_hello, args.workers, args.server_threads)
        return 0
    if args.tiny:
        args.seconds, args.rounds = 1, 1
    if args.seconds < 1 or args.rounds < 1 or args.connections < 1 or args.threads < 1:
        parser.error("--seconds, --rounds, --connections and --threads must be at least 1")

    wrk = ensure_wrk()
    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    print("machine (shared: other jobs may run at the same time)")
    for name, value in machine_facts(wrk, redis_binary).items():
        print(f"  {name:<14} {value}")
    print(
        f"gunicorn as ecert serve: {args.workers} workers x {args.server_threads} threads "
        f"(gthread), timeout {TIMEOUT} s, no access log; wrk -t{args.threads} "
        f"-c{args.connections} -d{args.seconds}s"
    )
    sys.stdout.flush()

    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ecert-http-")))
        redis = stack.enter_context(redis_server(redis_binary, folder))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ECERT_")}
        gunicorn_args = ["--workers", str(args.workers), "--threads", str(args.server_threads)]

        hello_port = free_port()
        hello = start_server(
            "hello-world",
            [sys.executable, str(Path(__file__).resolve()), "--serve-hello", str(hello_port),
             *gunicorn_args],
            env, folder / "hello.log", hello_port,
        )  # fmt: skip
        stack.callback(stop, hello.proc)

        seeded: dict[str, Seeded] = {}
        servers: dict[str, Server] = {"hello": hello}
        for name, url in (("sqlite", None), ("redis", redis.url)):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            instance_dir = folder / name
            seeded[name] = s = Seeded.create(name, instance_dir, base, url)
            stack.callback(s.instance.close)
            server_env = {**env, "ECERT_INSTANCE": str(instance_dir), "ECERT_BASE_URL": base}
            if url is not None:
                server_env["ECERT_REDIS_URL"] = url
            servers[name] = start_server(
                f"ecert ({name})",
                [str(ECERT), "serve", "--host", "127.0.0.1", "--port", str(port),
                 *gunicorn_args],
                server_env, folder / f"{name}.log", port,
            )  # fmt: skip
            stack.callback(stop, servers[name].proc)
        for server in servers.values():
            server.wait_ready()

        load = Load(wrk, args.threads, args.connections, folder)
        verify_url = "/api/v1/verify"
        issue_url = f"/api/v1/issuers/{ISSUER}/credentials"
        stores = ("sqlite", "redis")

        def cpu_of(name: str) -> list[int]:
            pids = [servers[name].proc.pid]
            return [*pids, redis.pid] if name == "redis" else pids

        def verify_run(name: str, count: int, *, seconds: int) -> Run:
            s = seeded[name]
            bodies = s.verify_bodies(s.holders(count))
            return load.run(
                servers[name].base + verify_url, bodies, f"Bearer {s.venue_key}",
                seconds=seconds, status=200, marker='"valid":true', cpu_of=cpu_of(name),
            )  # fmt: skip

        def issue_run(name: str, count: int, *, seconds: int) -> Run:
            s = seeded[name]
            bodies = s.issue_bodies(s.citizens(count))
            return load.run(
                servers[name].base + issue_url, bodies, f"Bearer {s.department_key}",
                seconds=seconds, status=201, marker='"id"', cpu_of=cpu_of(name),
            )  # fmt: skip

        # Hello-world gets real verification bodies (never sent to ecert) and repeats them.
        hello_bodies = seeded["sqlite"].verify_bodies(seeded["sqlite"].holders(50))

        def hello_run(seconds: int) -> Run:
            # hello-world checks nothing, so the same bodies go round again
            return load.run(
                hello.base + verify_url, hello_bodies, "Bearer hello",
                seconds=seconds, status=200, marker='"valid":true', cycle=True,
                cpu_of=[hello.proc.pid],
            )  # fmt: skip

        # Calibration (also the warm-up: every worker builds its verifier, opens its store).
        setup_started = time.perf_counter()
        verify_pool: dict[str, int] = {}
        issue_pool: dict[str, int] = {}
        for name in stores:
            if args.tiny:
                verify_pool[name] = issue_pool[name] = TINY_POOL
                continue
            verify_pool[name] = calibrate(partial(verify_run, name, seconds=1), args.seconds)
            issue_pool[name] = calibrate(partial(issue_run, name, seconds=1), args.seconds)
        if not args.tiny:
            hello_run(1)
        print(
            f"setup and calibration {time.perf_counter() - setup_started:.1f} s; pools per "
            f"round: verify {verify_pool}, issue {issue_pool}"
        )
        sys.stdout.flush()

        series = {
            "hello": Series("hello-world (POST /api/v1/verify)"),
            "verify_sqlite": Series("ecert verify, SQLite"),
            "verify_redis": Series("ecert verify, Redis"),
            "issue_sqlite": Series("ecert issue over HTTP, SQLite"),
            "issue_redis": Series("ecert issue over HTTP, Redis"),
        }
        library: dict[str, list[float]] = {name: [] for name in stores}
        library_seconds = 0.5 if args.tiny else float(args.seconds)
        for number in range(1, args.rounds + 1):
            print(f"round {number}: load average {os.getloadavg()[0]:.2f}")
            sys.stdout.flush()
            series["hello"].add_run(hello_run(args.seconds))
            for name in stores:
                run = verify_run(name, verify_pool[name], seconds=args.seconds)
                series[f"verify_{name}"].add_run(run)
                if run.exhausted and not args.tiny:  # the next round gets twice the bodies
                    verify_pool[name] *= 2
            for name in stores:
                run = issue_run(name, issue_pool[name], seconds=args.seconds)
                series[f"issue_{name}"].add_run(run)
                if run.exhausted and not args.tiny:
                    issue_pool[name] *= 2
                s = seeded[name]
                wanted = TINY_POOL if args.tiny else LIBRARY_POOL_PER_S * args.seconds
                library[name].append(library_rate(s, s.citizens(wanted), library_seconds))

    print()
    print(
        f"{'measurement':<34} {'best /s':>9}  {'p50 ms':>7} {'p99 ms':>7} {'cpu ms':>7}  "
        f"{'failed':>6}  each round /s"
    )
    for item in series.values():
        last = item.runs[-1]
        each = " ".join(f"{r.rate:.0f}{'*' if r.exhausted else ''}" for r in item.runs)
        print(
            f"{item.label:<34} {item.best:>9.1f}  {last.p50_ms:>7.1f} {last.p99_ms:>7.1f} "
            f"{item.cpu_ms:>7.2f}  {item.failures:>6}  {each}"
        )
    for name in stores:
        each = " ".join(f"{r:.0f}" for r in library[name])
        label = f"library issue, {name} (1 thread)"
        print(f"{label:<34} {max(library[name]):>9.1f}  {'':>7} {'':>7} {'':>7}  {0:>6}  {each}")
    exhausted = sum(item.exhausted for item in series.values() if item is not series["hello"])
    if exhausted:
        print(
            f"note: {exhausted} run(s) marked * sent every body before the end (the rate is "
            "a lower bound; those runs are left out of 'best' where others exist)"
        )

    hello_best = series["hello"].best
    figures: dict[str, Any] = {
        "hello_per_s": round(hello_best, 1),
        "verify_sqlite_per_s": round(series["verify_sqlite"].best, 1),
        "verify_redis_per_s": round(series["verify_redis"].best, 1),
        "issue_http_sqlite_per_s": round(series["issue_sqlite"].best, 1),
        "issue_http_redis_per_s": round(series["issue_redis"].best, 1),
        "issue_library_sqlite_per_s": round(max(library["sqlite"]), 1),
        "issue_library_redis_per_s": round(max(library["redis"]), 1),
    }
    figures |= {
        "verify_sqlite_ratio": _ratio(series["verify_sqlite"].best, hello_best),
        "verify_redis_ratio": _ratio(series["verify_redis"].best, hello_best),
        "issue_http_ratio": _ratio(series["issue_sqlite"].best, max(library["sqlite"])),
        "issue_http_redis_ratio": _ratio(series["issue_redis"].best, max(library["redis"])),
        "cpu_ms_per_request": {k: round(item.cpu_ms, 3) for k, item in series.items()},
        "verify_sqlite_cpu_ratio": _ratio(series["hello"].cpu_ms, series["verify_sqlite"].cpu_ms),
        "verify_redis_cpu_ratio": _ratio(series["hello"].cpu_ms, series["verify_redis"].cpu_ms),
        "failed_requests": sum(item.failures for item in series.values()),
        "exhausted_runs": exhausted,
        "tiny": bool(args.tiny),
    }
    print()
    print(
        f"verify / hello-world: SQLite {figures['verify_sqlite_ratio']:.3f}, "
        f"Redis {figures['verify_redis_ratio']:.3f}; issuance HTTP / library: SQLite "
        f"{figures['issue_http_ratio']:.3f}, Redis {figures['issue_http_redis_ratio']:.3f}"
    )
    if figures["failed_requests"]:
        print(f"FAILED: {figures['failed_requests']} answers were not the expected ones")
    print(json.dumps(figures))
    return 1 if figures["failed_requests"] else 0


def _ratio(value: float, reference: float) -> float:
    return round(value / reference, 4) if reference > 0 else 0.0


if __name__ == "__main__":
    raise SystemExit(main())
