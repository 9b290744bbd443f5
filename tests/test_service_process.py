"""The real thing: `ecert serve --demo` under gunicorn, driven over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.hygiene import SESSION_LOGS, personal_demo

pytestmark = pytest.mark.slow

ECERT = str(Path(sys.executable).with_name("ecert"))


@dataclass
class Server:
    base: str
    instance: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                status, headers = response.status, dict(response.headers)
        except urllib.error.HTTPError as err:
            raw, status, headers = err.read(), err.code, dict(err.headers)
        ctype = headers.get("Content-Type", "")
        return status, json.loads(raw) if "json" in ctype and raw else raw, headers


def _start(instance: Path, env_extra: dict[str, str]) -> Server:
    port = free_port()
    log = instance.parent / f"serve-{port}.log"
    env = {**os.environ, "ECERT_INSTANCE": str(instance), **env_extra}
    env.pop("ECERT_KEY_SECRET", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [ECERT, "serve", "--demo", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "2", "--threads", "2"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    server = Server(f"http://127.0.0.1:{port}", instance, proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"ecert serve exited:\n{log.read_text(errors='replace')}")
        try:
            if server.call("GET", "/healthz")[0] == 200:
                personal_demo(json.loads((instance / "demo.json").read_text(encoding="utf-8")))
                return server
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("ecert serve did not answer within 60 s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = _start(tmp_path / "instance", {})
    try:
        yield running
    finally:
        running.proc.send_signal(signal.SIGTERM)
        try:
            running.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            running.proc.kill()
            running.proc.wait()
        SESSION_LOGS.add_serve_log(running.log)


def test_gunicorn_serves_the_demo_with_two_workers(server: Server) -> None:
    demo = json.loads((server.instance / "demo.json").read_text(encoding="utf-8"))
    assert oct((server.instance / "demo.json").stat().st_mode & 0o777) == "0o600"
    assert demo["base_url"] == server.base
    assert {d["issuer"] for d in demo["departments"]} >= {"police", "civil-affairs", "health"}
    assert {"grand-hotel", "city-bank"} <= {v["id"] for v in demo["venues"]}
    assert len(demo["citizens"]) == 2

    status, anchor, _ = server.call("GET", "/api/v1/verifier/anchor")
    assert status == 200 and anchor["kty"] == "EC"
    status, document, _ = server.call("GET", "/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")

    citizen = demo["citizens"][0]
    status, login, _ = server.call("POST", "/api/v1/auth/login", citizen)
    assert status == 200, login
    status, wallet, headers = server.call(
        "GET", "/api/v1/wallet/credentials", token=login["access_token"]
    )
    assert status == 200 and len(wallet["items"]) >= 1
    assert headers.get("Cache-Control") == "no-store"

    # the ID card (the age attestation beside it is for other scenes)
    card = next(i["id"] for i in wallet["items"] if i["vct"] == "urn:ecert:resident-id-card")
    # Several requests so that both workers are likely to answer; all share one store.
    hotel = demo["venues"][0]
    for _ in range(3):
        status, shown, _ = server.call(
            "POST",
            f"/api/v1/wallet/credentials/{card}/presentations",
            {"scene": "hotel", "mode": "offline"},
            token=login["access_token"],
        )
        assert status == 201, shown
        status, result, _ = server.call(
            "POST", "/api/v1/verify", {"qr": shown["qr"], "scene": "hotel"}, token=hotel["api_key"]
        )
        assert status == 200 and result["valid"], result
        status, again, _ = server.call(
            "POST", "/api/v1/verify", {"qr": shown["qr"], "scene": "hotel"}, token=hotel["api_key"]
        )
        assert [e["code"] for e in again["errors"]] == ["replayed"]


def test_the_demo_seed_is_idempotent_across_restarts(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    first = _start(instance, {})
    try:
        demo1 = json.loads((instance / "demo.json").read_text(encoding="utf-8"))
    finally:
        first.proc.send_signal(signal.SIGTERM)
        first.proc.wait(timeout=20)
    second = _start(instance, {})
    try:
        demo2 = json.loads((instance / "demo.json").read_text(encoding="utf-8"))
        status, login, _ = second.call("POST", "/api/v1/auth/login", demo2["citizens"][0])
        assert status == 200
        status, wallet, _ = second.call(
            "GET", "/api/v1/wallet/credentials", token=login["access_token"]
        )
        # not issued twice: the ID card and the age attestation beside it, once each
        vcts = sorted(i["vct"] for i in wallet["items"])
        assert vcts == ["urn:ecert:age-attestation", "urn:ecert:resident-id-card"]
    finally:
        second.proc.send_signal(signal.SIGTERM)
        second.proc.wait(timeout=20)
    assert demo1["citizens"] == demo2["citizens"]
    assert [d["api_key"] for d in demo1["departments"]] == [
        d["api_key"] for d in demo2["departments"]
    ]


def test_the_server_log_holds_no_tokens_or_personal_data(server: Server) -> None:
    # The demo banner prints the logins on purpose (for the person starting it); what
    # the server writes while serving must hold none of them.
    banner_end = server.log.stat().st_size
    demo = json.loads((server.instance / "demo.json").read_text(encoding="utf-8"))
    citizen = demo["citizens"][0]
    status, login, _ = server.call("POST", "/api/v1/auth/login", citizen)
    assert status == 200
    server.call("GET", "/api/v1/wallet/credentials?x=secret-query", token=login["access_token"])
    server.call("POST", "/api/v1/auth/login", {"citizen_id": "x", "password": "wrong pass"})
    time.sleep(0.5)
    text = server.log.read_bytes()[banner_end:].decode("utf-8", errors="replace")
    assert "/api/v1/auth/login" in text  # the requests were logged at all
    assert login["access_token"] not in text
    assert citizen["password"] not in text
    assert "secret-query" not in text
    assert re.search(r"eyJ[A-Za-z0-9_-]{8,}\.", text) is None
    for key in demo["departments"] + demo["venues"]:
        assert key["api_key"] not in text
