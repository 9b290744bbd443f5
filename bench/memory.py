"""Redis memory per citizen, per credential and per activity event, measured.

Run from the repository root (needs ``redis-server`` on PATH)::

    .venv/bin/python bench/memory.py [--citizens N] [--credentials M] [--events E]

Starts a private ``redis-server`` (no persistence) on a free loopback port, opens an
instance on it with the real code (``service.instance.open_instance``), registers the demo's
departments, then in three phases reads ``INFO memory`` (``used_memory``) after each:

1. **citizens**: ``N`` accounts (``Accounts.create_citizen``: the citizen record, the
   Argon2id hash, the index of all citizens) and their wallets (``WalletVault``: the
   holder key, wrapped);
2. **credentials**: ``M`` credentials for each citizen issued by ``CredentialIssuer``
   (the registry record and its state, the subject, issuer and status-position indexes,
   a claimed status index) and delivered into the wallet (``WalletVault.add``: the
   SD-JWT, encrypted);
3. **events**: ``E`` verification events per citizen (``Store.add_activity``, as the
   online verifier writes them).

Citizens are stored as the service stores them: under their pseudonyms (46 characters,
:mod:`keys.pseudonym`), which name seven keys of each citizen and each registry record.

The status lists (``1 << 20`` entries of 2 bits, a claims bitmap) are allocated once per
list whatever its fill, so they are reported on their own (``MEMORY USAGE`` of their
keys), and subtracted from the credential phase. ``MEMORY USAGE`` of sampled keys gives
the breakdown by key kind. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import redis
from argon2 import PasswordHasher

from cli.seed import CITIZENS, DEPARTMENTS
from keys import generate_secret
from service.accounts import LOGIN_KEY_LABEL, Accounts
from service.instance import open_instance
from store.interface import ActivityRecord
from store.redis import RedisStore

#: Cheap Argon2id: the encoded hash has the length of the production one (argon2-cffi's
#: defaults) give or take a digit of the parameters, so it measures the same memory.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def used_memory(client: redis.Redis) -> int:
    info: dict[str, Any] = client.info("memory")
    return int(info["used_memory"])


def kind_of(name: str) -> str:
    """``ecert:{sub:X}:wallet`` -> ``{sub}:wallet``: the key kind, without the id."""
    _prefix, tag, rest = name.split(":", 2) if name.count("}") else (name, "", "")
    if tag.startswith("{"):
        tag_kind = "{" + tag[1:].split(":", 1)[0].rstrip("}") + "}"
        rest = name.split("}", 1)[1].lstrip(":")
        return f"{tag_kind}:{rest.split(':', 1)[0]}"
    return name


def breakdown(client: redis.Redis) -> dict[str, dict[str, int]]:
    """Per key kind: how many keys and their total ``MEMORY USAGE`` (all samples)."""
    total: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key in client.scan_iter(count=1000):
        name = key.decode()
        usage = client.memory_usage(key, samples=0) or 0
        entry = total[kind_of(name)]
        entry[0] += 1
        entry[1] += int(usage)
    return {k: {"keys": v[0], "bytes": v[1]} for k, v in sorted(total.items())}


def run(citizens: int, credentials: int, events: int) -> dict[str, Any]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    work = Path(tempfile.mkdtemp(prefix="ecert-memory-"))
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(work), "--logfile", str(work / "redis.log")],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        version = client.info("server")["redis_version"]
        instance = open_instance(
            work / "instance", redis_url=url, key_secret=generate_secret(),
            base_url="https://ecert.example",
        )  # fmt: skip
        store = instance.store
        assert isinstance(store, RedisStore)
        accounts = Accounts(
            store, hasher=CHEAP_HASHER, counter_key=instance.derive_key(LOGIN_KEY_LABEL),
            pseudonyms=instance.pseudonyms,
        )  # fmt: skip
        instance.platform.ensure_anchor()
        for slug, zh, en, vcts in DEPARTMENTS:
            instance.platform.register_issuer(slug, name_zh=zh, name_en=en, vcts=vcts)
        mix = [c for citizen in CITIZENS for c in citizen["credentials"]]
        base = used_memory(client)

        ids = [f"{110101199000000000 + n:018d}" for n in range(citizens)]
        t0 = time.perf_counter()
        for cid in ids:
            accounts.create_citizen(cid, secrets.token_urlsafe(12))
            instance.vault.holder_jwk(cid)  # creates the wallet
        after_citizens = used_memory(client)

        for cid in ids:
            holder = dict(instance.vault.holder_jwk(cid))
            for m in range(credentials):
                slug, vct, claims = mix[m % len(mix)]
                issued = instance.issuer.issue(
                    instance.platform.issuer_url(slug), vct, subject=cid, claims=claims,
                    holder_jwk=holder,
                )  # fmt: skip
                instance.vault.add(cid, issued.id, issued.sd_jwt)
        after_credentials = used_memory(client)

        now = int(time.time())
        for cid in ids:
            for e in range(events):
                store.add_activity(
                    ActivityRecord(
                        event_id=secrets.token_hex(8), citizen_id=instance.pseudonyms.of(cid),
                        at=now + e,
                        venue_id="grand-hotel", scene="hotel", vct=mix[0][1],
                        credential_id=secrets.token_urlsafe(16),
                        claims=("name", "id_number"), valid=True, codes=(),
                    )
                )  # fmt: skip
        after_events = used_memory(client)
        seconds = time.perf_counter() - t0

        kinds = breakdown(client)
        status_lists = sum(
            v["bytes"] for k, v in kinds.items() if k.startswith("{sl}:")
            and k.split(":", 1)[1] in ("bits", "claims", "claimed", "meta", "stamp")
        )  # fmt: skip
        lists = kinds.get("{sl}:meta", {"keys": 0})["keys"]
        credential_bytes = after_credentials - after_citizens - status_lists
        n_creds = citizens * credentials
        result = {
            "redis_version": version,
            "citizens": citizens,
            "credentials_per_citizen": credentials,
            "events_per_citizen": events,
            "seconds": round(seconds, 1),
            "used_memory_base": base,
            "per_citizen_bytes": round((after_citizens - base) / citizens),
            "per_credential_bytes": round(credential_bytes / n_creds) if n_creds else None,
            "per_event_bytes": round((after_events - after_credentials) / (citizens * events))
            if events
            else None,
            "status_lists": lists,
            "status_list_bytes_each": round(status_lists / lists) if lists else None,
            "by_key_kind": kinds,
        }
        instance.close()
        return result
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--citizens", type=int, default=2000)
    parser.add_argument("--credentials", type=int, default=10)
    parser.add_argument("--events", type=int, default=10)
    args = parser.parse_args(argv)
    if args.citizens < 1 or args.credentials < 0 or args.events < 0:
        parser.error("--citizens >= 1, --credentials and --events >= 0")
    result = run(args.citizens, args.credentials, args.events)
    for kind, figures in result["by_key_kind"].items():
        print(f"{kind:28} {figures['keys']:8} keys {figures['bytes']:12} bytes", file=sys.stderr)
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
