"""Load on loopback: ``POST /api/v1/verify`` at about 200 a second for a minute.

The real service (``ecert serve --demo``: gunicorn, 2 workers x 4 threads, SQLite) on
127.0.0.1 gets 80% fresh valid presentations, 10% invalid tokens (half junk, half a
tampered issuer signature) and 10% credentials signed by a key that is not in the
trust list (unknown ``kid``), shuffled. Every answer must be a 200 with exactly the
expected ``valid`` and error codes (no 5xx, no stray ``replayed``), and the server's
memory (RSS of the gunicorn master and workers, from /proc) must not grow by more
than ``RSS_GROWTH_BOUND`` after warm-up. The achieved rate and the latencies are
printed, never asserted: the machine is shared.

The client is a small thread pool with one keep-alive connection per thread, on a
fixed schedule (request i is due at ``i / RATE`` s, sent late if the server lags, and
the run stops at a hard bound). Locust would bring gevent and a second process to
manage for one endpoint, and wrk is not installed and needs Lua for varied bodies; a
plain client is simpler, easy to bound, and light enough on 2 cores.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from cli.demo import DEMO_CLAIMS
from service.instance import open_instance
from tests.browser_helpers import running_service
from wallet import Wallet, present

pytestmark = pytest.mark.slow

RATE = 200  # requests a second
DURATION = 60  # seconds of schedule
#: The run stops sending this long after the schedule's end, whatever is left; every
#: presentation is made just before the run and stays fresh (hotel max_age 120 s) until then.
GRACE = 30
THREADS = 8
WARM_UP = 10  # seconds before the RSS baseline is taken
#: RSS growth allowed from warm-up to the end, all gunicorn processes together. A leak
#: of 5 KiB a request would add ~55 MiB over the run's ~11,000 requests after warm-up.
RSS_GROWTH_BOUND = 48 * 1024 * 1024
SCENE = "hotel"
ID_CARD = "urn:ecert:resident-id-card"
CLAIMS: dict[str, Any] = dict(DEMO_CLAIMS)  # the demo's fictional citizen


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json64(value: Any) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _es256(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _thumbprint(key: ec.EllipticCurvePrivateKey) -> str:
    numbers = key.public_key().public_numbers()
    jwk = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }
    return _b64(sha256(json.dumps(jwk, separators=(",", ":")).encode()).digest())


def _kb_jwt(holder: ec.EllipticCurvePrivateKey, presented: str) -> str:
    """A fresh KB-JWT over ``presented``, from raw JSON (not the wallet's code)."""
    header = _json64({"alg": "ES256", "typ": "kb+jwt"})
    payload = _json64(
        {
            "iat": int(time.time()),
            "aud": SCENE,
            "nonce": _b64(secrets.token_bytes(16)),
            "sd_hash": _b64(sha256(presented.encode("ascii")).digest()),
        }
    )
    return f"{header}.{payload}.{_es256(holder, f'{header}.{payload}'.encode())}"


@dataclass(frozen=True)
class Request:
    body: bytes
    valid: bool
    codes: tuple[str, ...]


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _requests(instance: Path, count: int) -> list[Request]:
    """``count`` requests: 80% fresh valid, 10% invalid tokens, 10% unknown kids, shuffled."""
    inst = open_instance(instance, create=False)
    try:
        police = next(r for r in inst.store.list_issuers() if r.slug == "police")
        wallet = Wallet()
        issued = inst.issuer.issue(
            police.iss, ID_CARD, subject=CLAIMS["id_number"], claims=CLAIMS,
            holder_jwk=wallet.holder_jwk,
        )  # fmt: skip
    finally:
        inst.close()
    held = wallet.add(issued.sd_jwt)
    holder = wallet.holder_key.key
    assert isinstance(holder, ec.EllipticCurvePrivateKey)
    stranger = ec.generate_private_key(ec.SECP256R1())
    stranger_kid = _thumbprint(stranger)
    tenth = count // 10
    made: list[Request] = []
    for n in range(count - 2 * tenth):
        text = present(held, ["name", "id_number"], holder_key=wallet.holder_key, aud=SCENE)
        made.append(Request(_body(text), True, ()))
    jwt, *disclosures, _ = text.split("~")
    header64, payload64, signature64 = jwt.split(".")
    for n in range(tenth):  # invalid tokens: junk, or the issuer's signature tampered with
        if n % 2:
            jwts = [f"{_b64(secrets.token_bytes(30))}.{_b64(secrets.token_bytes(90))}.AAAA"] * 2
            junk = "~".join(jwts)  # the grammar of an SD-JWT+KB, with random bytes for JSON
            made.append(Request(_body(junk), False, ("malformed",)))
        else:
            forged = ("A" if signature64[0] != "A" else "B") + signature64[1:]
            presented = "~".join([f"{header64}.{payload64}.{forged}", *disclosures, ""])
            tampered = _body(presented + _kb_jwt(holder, presented))
            made.append(Request(tampered, False, ("invalid_signature",)))
    header = json.loads(base64.urlsafe_b64decode(header64 + "=" * (-len(header64) % 4)))
    foreign = _json64({**header, "kid": stranger_kid})
    for _ in range(tenth):  # signed by a key the trust list does not have
        signed = f"{foreign}.{payload64}"
        presented = "~".join([f"{signed}.{_es256(stranger, signed.encode())}", *disclosures, ""])
        made.append(Request(_body(presented + _kb_jwt(holder, presented)), False, ("unknown_key",)))
    random.Random(7).shuffle(made)
    return made


def _body(text: str) -> bytes:
    return json.dumps({"qr": text, "scene": SCENE}).encode("ascii")


def _rss(master: int) -> int:
    """Resident memory of the gunicorn master and its workers, in bytes (from /proc)."""
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def _client(
    port: int, venue_key: str, work: list[Request], next_index: Any, t0: float, out: Outcome
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {venue_key}", "Content-Type": "application/json"}
    stop = t0 + DURATION + GRACE
    try:
        while (i := next_index()) < len(work):
            due = t0 + i / RATE
            now = time.monotonic()
            if now >= stop:
                return
            if due > now:
                time.sleep(due - now)
            request = work[i]
            started = time.monotonic()
            try:
                conn.request("POST", "/api/v1/verify", body=request.body, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as err:
                conn.close()  # reconnects on the next request
                with out.lock:
                    out.wrong.append(f"#{i}: {type(err).__name__}: {err}")
                continue
            elapsed = time.monotonic() - started
            problem = _check(request, response.status, raw)
            with out.lock:
                out.latencies.append(elapsed)
                out.statuses[response.status] += 1
                if problem:
                    out.wrong.append(f"#{i}: {problem}")
    finally:
        conn.close()


def _check(request: Request, status: int, raw: bytes) -> str | None:
    if status != 200:
        return f"HTTP {status}: {raw[:200]!r}"
    try:
        result = json.loads(raw)
    except ValueError:
        return f"not JSON: {raw[:200]!r}"
    codes = tuple(e["code"] for e in result.get("errors", []))
    if result.get("valid") is not request.valid or codes != request.codes:
        return f"expected valid={request.valid} {request.codes}, got {result.get('valid')} {codes}"
    return None


def test_verify_at_200_a_second_for_a_minute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_service(tmp_path) as service:
        port = int(service.base.rsplit(":", 1)[1])
        work = _requests(service.instance, RATE * DURATION)
        counter = iter(range(len(work) + THREADS))
        counter_lock = threading.Lock()

        def next_index() -> int:
            with counter_lock:
                return next(counter)

        out = Outcome()
        rss: list[tuple[float, int]] = []
        done = threading.Event()
        master = service.proc.pid
        rss_before = _rss(master)
        t0 = time.monotonic()

        def sample() -> None:
            while not done.wait(1.0):
                rss.append((time.monotonic() - t0, _rss(master)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        clients = [
            threading.Thread(
                target=_client,
                args=(port, service.venue_key("grand-hotel"), work, next_index, t0, out),
            )
            for _ in range(THREADS)
        ]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=DURATION + GRACE + 60)
        elapsed = time.monotonic() - t0
        done.set()
        sampler.join()
        rss_end = _rss(master)
        assert not any(t.is_alive() for t in clients), "the client did not stop within its bound"
        assert service.proc.poll() is None, "the service died under load"

    answered = len(out.latencies)
    warm = [size for at, size in rss if at >= WARM_UP]
    rss_warm = warm[0] if warm else rss_before
    latencies = sorted(out.latencies)
    mib = 1024 * 1024
    with capsys.disabled():
        print(
            f"\nload: {answered}/{len(work)} answered in {elapsed:.1f} s = "
            f"{answered / elapsed:.0f} verifications/s (target {RATE}); "
            f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms; "
            f"statuses {dict(out.statuses)}; server RSS {rss_before / mib:.0f} MiB before, "
            f"{rss_warm / mib:.0f} MiB after warm-up, {rss_end / mib:.0f} MiB at the end"
        )
    assert not out.wrong, f"{len(out.wrong)} wrong answers, first: {out.wrong[:5]}"
    assert answered > 0
    assert rss_end - rss_warm <= RSS_GROWTH_BOUND, (
        f"server RSS grew {(rss_end - rss_warm) / mib:.0f} MiB after warm-up"
    )
