"""Proactive issuance throughput: bulk issuance into wallets against the library's bare
issuance, on SQLite and on Redis, and what re-issuing 10 million credentials costs.

Run from the repository root (needs ``redis-server`` on PATH)::

    .venv/bin/python bench/batch.py [--rows N] [--rounds R] [--tiny]

Two instances, opened with the real code (``service.instance.open_instance``): one on
a temporary SQLite file, one on a private ``redis-server`` (no persistence) on a free
127.0.0.1 port. Each has the anchor, one issuer (police, resident ID cards) and
citizens with accounts (no password) and wallets, all made before any timing.

Measured, interleaved round by round (SQLite then Redis), best round kept, one thread:

* **bare**: ``CredentialIssuer.issue(iss, vct, subject=…, claims=…, holder_jwk=…)``
  alone, one call a credential, into the store (the status index and the registry
  record; no wallet, one fixed holder key): the library's issuance rate, the baseline.
* **bulk**: ``Issuance.issue_many(department, items)`` in chunks of
  ``service.batches.CHUNK_ROWS``, every credential for another citizen: every check
  (type authorised, citizen known, claims against the catalogue), the citizen's own
  holder key, a status index each, the credential sealed into the wallet, the devices
  looked up (the citizens have none). What a batch job does per row.
* **ratio** = bulk / bare on the same store (target ≥ 0.5).

Then, once each: the **batch job** end to end (``Batches.create`` of a JSON Lines body,
then ``Jobs.run``: the write-ahead notes, ``issue_many``, a notice and a mark per row,
the journal; what ``POST …/batches`` and ``ecert issue-batch --into-wallets`` run),
with its ratio to bare; **bulk into new wallets** (citizens who never opened
their wallet: it is created on the way, a P-256 key drawn and sealed), **revoke**
(``Issuance.revoke`` one by one: what a re-issue adds per credential, the old one
revoked), and, in every round after the bulk measurement, the **SQLite write ceiling**
(the three grouped writes of a chunk alone, ``claim_status_indices`` +
``put_credentials`` + ``put_wallet_items`` on pre-built records: SQLite has one
writer, so N workers never write faster than this).

The figure a city needs: the hours 10 million re-issues (issue into the wallet plus
revoke the old one) take on N workers, ``10e6 / (N × per-core rate)``, with the per-core
rate ``1 / (1 / bulk + 1 / revoke)`` measured here, capped for SQLite by the write
ceiling and for Redis by the **redis-server ceiling** (rows per CPU second of the
server during the bulk rounds, ``INFO cpu``: one server thread; a Redis Cluster
multiplies it by its masters). Both caps are optimistic (revocations write too).

The last line is one JSON object: ``bare_sqlite_per_s``, ``bare_redis_per_s``,
``bulk_sqlite_per_s``, ``bulk_redis_per_s``, ``ratio_sqlite``, ``ratio_redis``,
``job_sqlite_per_s``, ``job_redis_per_s``, ``job_ratio_sqlite``, ``job_ratio_redis``,
``new_wallets_sqlite_per_s``, ``new_wallets_redis_per_s``, ``revoke_sqlite_per_s``,
``revoke_redis_per_s``, ``sqlite_write_ceiling_per_s``, ``redis_server_ceiling_per_s``,
``reissue_10m_hours``
(``{store: {workers: hours}}``), ``tiny``.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from cli.demo import DEMO_CLAIMS
from keys import generate_secret
from service.batches import CHUNK_ROWS
from service.instance import Ecert, open_instance
from service.issuance import BulkItem
from store.interface import CredentialRecord, IssuerRecord, WalletItem

VCT = "urn:ecert:resident-id-card"
REISSUES = 10_000_000
WORKERS = (1, 2, 4, 8, 16)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@dataclass
class Side:
    """One instance (SQLite or Redis) and the citizens it holds for the bench."""

    name: str
    ecert: Ecert
    police: IssuerRecord
    counter: int = 0
    bare: list[float] = field(default_factory=list)
    bulk: list[float] = field(default_factory=list)

    def citizens(self, count: int, *, wallets: bool = True) -> list[str]:
        made = []
        for _ in range(count):
            self.counter += 1
            citizen_id = f"bench-{self.name}-{self.counter:08d}"
            self.ecert.accounts.create_citizen(citizen_id)
            if wallets:
                self.ecert.vault.holder_jwk(citizen_id)
            made.append(citizen_id)
        return made


def open_side(name: str, folder: Path, redis_url: str | None) -> Side:
    ecert = open_instance(
        folder, base_url="https://ecert.example", redis_url=redis_url,
        key_secret=generate_secret(),
    )  # fmt: skip
    ecert.platform.ensure_anchor()
    police = ecert.platform.register_issuer(
        "police", name_zh="市公安局", name_en="City Police", vcts=[VCT]
    )
    return Side(name, ecert, police)


def timed(work: Callable[[], int]) -> float:
    """Operations per second of ``work`` (which returns how many it did); the garbage
    collector collected before and off during the run, as ``timeit`` does."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        done = work()
        return done / (time.perf_counter() - started)
    finally:
        gc.enable()


def bare_round(side: Side, citizens: list[str]) -> float:
    issuer, iss = side.ecert.issuer, side.police.iss
    holder = dict(side.ecert.vault.holder_jwk(citizens[0]))

    def work() -> int:
        for citizen_id in citizens:
            issuer.issue(iss, VCT, subject=citizen_id, claims=DEMO_CLAIMS, holder_jwk=holder)
        return len(citizens)

    return timed(work)


def bulk_round(side: Side, citizens: list[str]) -> tuple[float, list[CredentialRecord]]:
    items = [BulkItem(VCT, c, DEMO_CLAIMS) for c in citizens]
    issued: list[CredentialRecord] = []

    def work() -> int:
        for start in range(0, len(items), CHUNK_ROWS):
            for one in side.ecert.issuance.issue_many(
                side.police, items[start : start + CHUNK_ROWS]
            ):
                if not isinstance(one, CredentialRecord):
                    raise SystemExit(f"bulk issuance refused a row: {one.code}")
                issued.append(one)
        return len(items)

    return timed(work), issued


def job_rate(side: Side, citizens: list[str]) -> float:
    """Rows a second through the whole batch job: the body read into a job
    (``Batches.create``), then ``Jobs.run`` (notes, issue_many, notices, marks, journal)."""
    notice = {"zh": "您的证照已发放到钱包。", "en": "Your certificate is in your wallet."}
    body = b"\n".join(
        json.dumps(
            {"row_id": f"bench-{c}", "citizen_id": c, "vct": VCT, "claims": DEMO_CLAIMS,
             "notice": notice},
            ensure_ascii=False,
        ).encode("utf-8")
        for c in citizens
    )  # fmt: skip

    def work() -> int:
        job = side.ecert.batches.create(side.police, body)
        ended = side.ecert.jobs.run(job.id)
        if ended is None or ended.done != len(citizens):
            raise SystemExit("the batch job did not issue every row")
        return len(citizens)

    return timed(work)


def revoke_rate(side: Side, records: list[CredentialRecord]) -> float:
    def work() -> int:
        for record in records:
            side.ecert.issuance.revoke(side.police, record.id)
        return len(records)

    return timed(work)


def write_ceiling(side: Side, records: list[CredentialRecord]) -> float:
    """Rows a second through the three grouped writes of a chunk alone (new ids and
    indices on the same list; the wallet items of their citizens)."""
    store = side.ecert.store
    uri = records[0].status_uri
    size = store.get_status_list(uri).size  # type: ignore[union-attr]
    chunks = []
    for start in range(0, len(records), CHUNK_ROWS):
        part = records[start : start + CHUNK_ROWS]
        fresh = [
            dataclasses.replace(r, id=secrets.token_urlsafe(16), status_uri=uri,
                                status_idx=secrets.randbelow(size))
            for r in part
        ]  # fmt: skip
        items = [
            WalletItem(r.subject, r.id, r.vct, r.issuer, r.expires_at, r.issued_at, b"x" * 1100)
            for r in fresh
        ]
        chunks.append((fresh, items))

    def work() -> int:
        for fresh, items in chunks:
            store.claim_status_indices(uri, [r.status_idx for r in fresh])
            store.put_credentials(fresh)
            store.put_wallet_items(items)
        return len(records)

    return timed(work)


def server_cpu(client: redis.Redis) -> float:
    """redis-server's CPU seconds so far (user and system, every thread)."""
    info: dict[str, Any] = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="credentials a measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best is kept")
    parser.add_argument("--tiny", action="store_true", help="a smoke run (the test's)")
    args = parser.parse_args(argv)
    rows, rounds = (CHUNK_ROWS + 10, 1) if args.tiny else (args.rows, args.rounds)

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    work = Path(tempfile.mkdtemp(prefix="ecert-batch-"))
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(work), "--logfile", str(work / "redis.log")],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    sides: list[Side] = []
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        sides = [
            open_side("sqlite", work / "sqlite", None),
            open_side("redis", work / "redis", url),
        ]
        print(f"python {platform.python_version()}, {cpu_model()}, {os.cpu_count()} cores "
              f"(one used), {platform.platform()}")  # fmt: skip
        print(f"{rows} credentials a measurement, {rounds} rounds, chunks of {CHUNK_ROWS}")
        pools = {s.name: (s.citizens(rows * rounds), s.citizens(rows * rounds)) for s in sides}
        for side in sides:  # warm-up (connections, caches, the first status list): not timed
            warm = side.citizens(CHUNK_ROWS)
            bare_round(side, warm)
            bulk_round(side, warm)
        redis_info = redis.Redis.from_url(url)
        redis_cpu: list[float] = []
        ceiling: list[float] = []
        issued: dict[str, list[CredentialRecord]] = {}
        for r in range(rounds):
            for side in sides:
                bare_pool, bulk_pool = pools[side.name]
                part = slice(r * rows, (r + 1) * rows)
                side.bare.append(bare_round(side, bare_pool[part]))
                before = server_cpu(redis_info)
                rate, records = bulk_round(side, bulk_pool[part])
                if side.name == "redis":
                    redis_cpu.append(server_cpu(redis_info) - before)
                else:
                    ceiling.append(write_ceiling(side, records))
                side.bulk.append(rate)
                issued.setdefault(side.name, []).extend(records)
        figures: dict[str, Any] = {}
        for side in sides:
            n = side.name
            figures[f"bare_{n}_per_s"] = round(max(side.bare), 1)
            figures[f"bulk_{n}_per_s"] = round(max(side.bulk), 1)
            figures[f"ratio_{n}"] = round(max(side.bulk) / max(side.bare), 3)
        for side in sides:
            figures[f"job_{side.name}_per_s"] = round(job_rate(side, side.citizens(rows)), 1)
            figures[f"job_ratio_{side.name}"] = round(
                figures[f"job_{side.name}_per_s"] / max(side.bare), 3
            )
        for side in sides:
            fresh = side.citizens(rows, wallets=False)
            figures[f"new_wallets_{side.name}_per_s"] = round(bulk_round(side, fresh)[0], 1)
            figures[f"revoke_{side.name}_per_s"] = round(
                revoke_rate(side, issued[side.name][:rows]), 1
            )
        figures["sqlite_write_ceiling_per_s"] = round(max(ceiling), 1)
        # redis-server's own CPU seconds for the bulk rounds: one server thread's ceiling.
        figures["redis_server_ceiling_per_s"] = round(rows / max(min(redis_cpu), 1e-6), 1)
        redis_info.close()
        plan: dict[str, dict[str, float]] = {}
        for side in sides:
            n = side.name
            per_core = 1 / (1 / figures[f"bulk_{n}_per_s"] + 1 / figures[f"revoke_{n}_per_s"])
            plan[n] = {}
            for workers in WORKERS:
                rate = per_core * workers
                rate = min(
                    rate,
                    figures[
                        f"{n}_write_ceiling_per_s"
                        if n == "sqlite"
                        else "redis_server_ceiling_per_s"
                    ],
                )
                plan[n][str(workers)] = round(REISSUES / rate / 3600, 2)
        figures["reissue_10m_hours"] = plan
        figures["tiny"] = bool(args.tiny)

        print()
        print(f"{'measurement':44} {'best /s':>9}  each round /s")
        for side in sides:
            n = side.name
            each = ", ".join(f"{x:.0f}" for x in side.bare)
            print(f"{'bare CredentialIssuer.issue, ' + n:44} {max(side.bare):9.0f}  {each}")
            each = ", ".join(f"{x:.0f}" for x in side.bulk)
            print(
                f"{'bulk Issuance.issue_many into wallets, ' + n:44} {max(side.bulk):9.0f}  {each}"
            )
            print(f"{'bulk / bare, ' + n:44} {figures[f'ratio_{n}']:9.3f}")
            print(f"{'batch job end to end, ' + n:44} {figures[f'job_{n}_per_s']:9.0f}")
            print(f"{'batch job / bare, ' + n:44} {figures[f'job_ratio_{n}']:9.3f}")
            print(f"{'bulk into new wallets, ' + n:44} {figures[f'new_wallets_{n}_per_s']:9.0f}")
            print(f"{'revoke one by one, ' + n:44} {figures[f'revoke_{n}_per_s']:9.0f}")
        print(f"{'SQLite grouped writes alone (ceiling)':44} "
              f"{figures['sqlite_write_ceiling_per_s']:9.0f}")  # fmt: skip
        print(f"{'redis-server CPU per bulk row (ceiling)':44} "
              f"{figures['redis_server_ceiling_per_s']:9.0f}")  # fmt: skip
        print()
        print("hours to re-issue 10 million credentials (issue + revoke), by workers:")
        print(f"{'store':8}" + "".join(f"{w:>9}" for w in WORKERS))
        for n, by in plan.items():
            print(f"{n:8}" + "".join(f"{by[str(w)]:9.2f}" for w in WORKERS))
        print(json.dumps(figures))
    finally:
        for side in sides:
            side.ecert.close()
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
