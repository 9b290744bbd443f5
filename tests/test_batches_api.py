"""Proactive issuance over HTTP (``/api/v1/issuers/{issuer}/batches``) on SQLite and
Redis: a batch with bad lines, the credentials and their notices in the wallets, a
batch posted again (nothing issued twice), the department and media-type checks, and a
crash mid-batch (the job resumes where the journal says it stopped).

Bodies are built as raw bytes, never with service.batches' own helpers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from api.services import job_runner
from service.batches import MAX_BODY
from tests.api_helpers import (
    ID_CARD,
    ID_CLAIMS,
    AuthActions,
    api_app,
    auth,
    client,
    demo,
    services_of,
)
from tests.conftest import free_port
from tests.hygiene import SESSION_LOGS, personal_demo

__all__ = ["api_app", "auth", "client", "demo"]

NDJSON_TYPE = "application/x-ndjson"
NDJSON = {"Content-Type": NDJSON_TYPE}
NOTICE = {"zh": "您的居民身份证已发放到钱包。", "en": "Your resident ID card is in your wallet."}
BATCHES = "/api/v1/issuers/police/batches"


@pytest.fixture(autouse=True)
def _stop_the_job_runner(request: pytest.FixtureRequest) -> Iterator[None]:
    """Stop the app's job runner after each test: on Redis, a closed store still answers
    (the client reconnects), so a runner left behind keeps polling the server's database
    after its app is gone, and claims the next test's jobs (whose spec it cannot open)."""
    # Set up after the app (so torn down before it) when the test uses one.
    app = request.getfixturevalue("api_app") if "api_app" in request.fixturenames else None
    yield
    if app is not None:
        job_runner(app).stop()


def row(n: int, citizen_id: str, **changes: Any) -> bytes:
    value: dict[str, Any] = {
        "row_id": f"2026-07-{n:05d}",
        "citizen_id": citizen_id,
        "vct": ID_CARD,
        "claims": ID_CLAIMS,
        "notice": NOTICE,
    }
    value.update(changes)
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def post(client: FlaskClient, auth: AuthActions, body: bytes, **headers: str) -> Any:
    return client.post(BATCHES, data=body, headers={**auth.department(), **NDJSON, **headers})


def wait_done(client: FlaskClient, auth: AuthActions, job_id: str) -> dict[str, Any]:
    """Poll the batch until it ended (the app's job runner runs it in a thread)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = client.get(f"{BATCHES}/{job_id}", headers=auth.department())
        assert got.status_code == 200, got.get_json()
        status: dict[str, Any] = got.get_json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError("the batch did not end within 60 s")


def wallet_ids(client: FlaskClient, auth: AuthActions, which: int) -> set[str]:
    items = client.get("/api/v1/wallet/credentials", headers=auth.citizen(which)).get_json()
    return {item["id"] for item in items["items"] if item["status"] == "valid"}


def test_a_batch_issues_into_wallets_with_notices_and_reports_bad_lines(
    client: FlaskClient, auth: AuthActions, api_app: Flask
) -> None:
    first, second = auth.citizen_ids
    before = [wallet_ids(client, auth, 0), wallet_ids(client, auth, 1)]
    lines = [
        row(1, first),
        b"",  # blank: skipped, but counted for the line numbers
        row(2, second),
        b'{"row_id": "x", "row_id": "y"}',
        row(4, "nobody-of-the-demo"),
        row(5, second, claims={**ID_CLAIMS, "birth_date": "1988-02-30"}),
        row(6, second, vct="urn:ecert:marriage-certificate"),
        row(7, first, row_id="2026-07-00001"),  # the row_id of line 1
        row(8, first),
    ]
    created = post(client, auth, b"\n".join(lines) + b"\n")
    assert created.status_code == 202, created.get_json()
    job_id = created.get_json()["id"]
    assert created.headers["Location"].endswith(f"{BATCHES}/{job_id}")
    status = wait_done(client, auth, job_id)
    assert {k: status[k] for k in ("state", "total", "issued", "skipped", "failed")} == {
        "state": "done",
        "total": 8,
        "issued": 3,
        "skipped": 0,
        "failed": 5,
    }
    assert [(e["line"], e["code"]) for e in status["errors"]] == [
        (4, "batch_line_malformed"),
        (5, "unknown_citizen"),
        (6, "claims_invalid"),
        (7, "issuer_not_authorised"),
        (8, "batch_row_duplicate"),
    ]
    for error in status["errors"]:
        assert "1988-02-30" not in error["message"] and "nobody" not in error["message"]

    new = [wallet_ids(client, auth, 0) - before[0], wallet_ids(client, auth, 1) - before[1]]
    assert (len(new[0]), len(new[1])) == (2, 1)
    svc = services_of(api_app)
    for which, citizen_id in enumerate((first, second)):
        notices = svc.notices.list_notices(citizen_id)
        told = {c for n in notices if n.kind == "batch" for c in n.credentials}
        assert told == new[which]
        assert {n.text.en for n in notices if n.kind == "batch"} == {NOTICE["en"]}
        for credential_id in new[which]:
            card = svc.wallets.credential(citizen_id, credential_id)
            assert card.claims == ID_CLAIMS and card.status == "valid"


def test_a_batch_posted_again_skips_every_row_issued(
    client: FlaskClient, auth: AuthActions, api_app: Flask
) -> None:
    first, second = auth.citizen_ids
    body = b"\n".join([row(1, first), row(2, second), row(3, first)])
    done = wait_done(client, auth, post(client, auth, body).get_json()["id"])
    assert (done["issued"], done["skipped"]) == (3, 0)
    held = [wallet_ids(client, auth, 0), wallet_ids(client, auth, 1)]
    registry = services_of(api_app).issuer.credentials_of(first)
    # The same rows and one new one: only the new one is issued.
    again = wait_done(
        client, auth, post(client, auth, body + b"\n" + row(4, second)).get_json()["id"]
    )
    assert (again["issued"], again["skipped"], again["failed"]) == (1, 3, 0)
    assert wallet_ids(client, auth, 0) == held[0]
    assert len(wallet_ids(client, auth, 1) - held[1]) == 1
    # Skipped before anything was issued: the registry has nothing new for them either.
    assert services_of(api_app).issuer.credentials_of(first) == registry


def test_who_may_post_and_read_a_batch(client: FlaskClient, auth: AuthActions) -> None:
    body = row(1, auth.citizen_ids[0])
    # Another department's key for the police's route; a venue key; none.
    for headers in (auth.department("civil-affairs"), auth.venue(), {}):
        got = client.post(BATCHES, data=body, headers={**headers, **NDJSON})
        assert got.status_code in (401, 403), got.get_json()
    # JSON (or anything but JSON Lines) is refused with its code.
    for ctype in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        got = client.post(BATCHES, data=body, headers={**auth.department(), "Content-Type": ctype})
        assert got.status_code == 415, (ctype, got.get_json())
        assert got.get_json()["code"] == "unsupported_media_type"
    empty = post(client, auth, b"\n\n")
    assert empty.status_code == 400 and empty.get_json()["code"] == "batch_empty"

    job_id = post(client, auth, body).get_json()["id"]
    wait_done(client, auth, job_id)
    # Another department sees no such batch, as for an unknown id.
    other = client.get(
        f"/api/v1/issuers/civil-affairs/batches/{job_id}", headers=auth.department("civil-affairs")
    )
    assert other.status_code == 404 and other.get_json()["code"] == "job_not_found"
    unknown = client.get(f"{BATCHES}/{'0' * 24}", headers=auth.department())
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "job_not_found"
    cross = client.get(f"{BATCHES}/{job_id}", headers=auth.department("civil-affairs"))
    assert cross.status_code == 403


def test_a_body_over_the_limit_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    got = post(client, auth, b" " * (MAX_BODY + 1))
    assert got.status_code == 413 and got.get_json()["code"] == "too_large"
    # A JSON body keeps the chassis's small cap: only JSON Lines may be large.
    got = client.post(
        BATCHES,
        data=b"[" + b" " * (70 * 1024) + b"]",
        headers={**auth.department(), "Content-Type": "application/json"},
    )
    assert got.status_code == 413


# -- kill -9 mid-batch: the real service, restarted, finishes the job ------------------------

ECERT = str(Path(sys.executable).with_name("ecert"))


class Serve:
    """``ecert serve --demo`` (gunicorn, 2 workers) in its own process group, so that
    ``kill -9`` takes the master and its workers down at once, as a crash does."""

    def __init__(self, instance: Path, env: dict[str, str]) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.log = instance.parent / f"serve-{port}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [ECERT, "serve", "--demo", "--host", "127.0.0.1", "--port", str(port),
                 "--workers", "2", "--threads", "2"],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ecert serve exited:\n{self.log.read_text()}")
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        self.kill()
        raise AssertionError("ecert serve did not answer within 60 s")

    def call(
        self, method: str, path: str, body: bytes | None = None, *, token: str = "",
        ctype: str = "application/json",
    ) -> tuple[int, Any]:  # fmt: skip
        request = urllib.request.Request(self.base + path, data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", ctype)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        return status, json.loads(raw) if raw else None

    def kill(self) -> None:
        """``kill -9`` the whole service (master and workers)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)
        SESSION_LOGS.add_serve_log(self.log)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        SESSION_LOGS.add_serve_log(self.log)


def _valid_cards(server: Serve, citizen: dict[str, str]) -> set[str]:
    body = json.dumps(citizen).encode()
    status, login = server.call("POST", "/api/v1/auth/login", body)
    assert status == 200, login
    status, wallet = server.call("GET", "/api/v1/wallet/credentials", token=login["access_token"])
    assert status == 200, wallet
    return {item["id"] for item in wallet["items"] if item["status"] == "valid"}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_kill_9_mid_batch_and_the_restarted_service_finishes_it(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    env = {**os.environ, "ECERT_INSTANCE": str(tmp_path / "instance")}
    env.pop("ECERT_KEY_SECRET", None)
    # A second between chunks of 200 rows, and a short lease: the kill lands mid-batch
    # and the restarted workers take the job over soon after.
    env.update({"ECERT_JOB_PACE": "1", "ECERT_JOB_LEASE": "3"})
    redis_url = request.getfixturevalue("redis_server") if backend == "redis" else None
    if redis_url is not None:
        # A database of its own: job runners of other tests' apps may still poll db 0.
        redis_url = redis_url.rsplit("/", 1)[0] + "/9"
        env["ECERT_REDIS_URL"] = redis_url
    server = Serve(tmp_path / "instance", env)
    try:
        demo = json.loads((tmp_path / "instance" / "demo.json").read_text(encoding="utf-8"))
        personal_demo(demo)
        police = next(d["api_key"] for d in demo["departments"] if d["issuer"] == "police")
        citizens = demo["citizens"]
        before = [_valid_cards(server, c) for c in citizens]
        rows = 600
        body = b"\n".join(row(n, citizens[n % 2]["citizen_id"]) for n in range(rows))
        status, created = server.call("POST", BATCHES, body, token=police, ctype=NDJSON_TYPE)
        assert status == 202, created
        status_path = f"{BATCHES}/{created['id']}"
        deadline = time.monotonic() + 120  # generous: the machine may be shared
        while True:  # the first chunk is recorded: kill -9 while the rest is under way
            status, progress = server.call("GET", status_path, token=police)
            assert status == 200 and time.monotonic() < deadline, progress
            if progress["issued"] >= 200:
                break
            time.sleep(0.1)
        server.kill()
        assert progress["state"] == "running" and progress["issued"] < rows, progress

        server = Serve(tmp_path / "instance", env)
        deadline = time.monotonic() + 180
        while True:
            status, progress = server.call("GET", status_path, token=police)
            assert status == 200 and time.monotonic() < deadline, progress
            if progress["state"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert {k: progress[k] for k in ("state", "issued", "skipped", "failed")} == {
            "state": "done", "issued": rows, "skipped": 0, "failed": 0,
        }  # fmt: skip
        # Every row is in its citizen's wallet exactly once, and valid.
        after = [_valid_cards(server, c) for c in citizens]
        assert [len(a - b) for a, b in zip(after, before, strict=True)] == [rows // 2] * 2
        assert all(b <= a for a, b in zip(after, before, strict=True))

        # The same batch again: nothing more is issued.
        status, again = server.call("POST", BATCHES, body, token=police, ctype=NDJSON_TYPE)
        assert status == 202, again
        deadline = time.monotonic() + 60
        while True:
            status, repeat = server.call("GET", f"{BATCHES}/{again['id']}", token=police)
            assert status == 200 and time.monotonic() < deadline, repeat
            if repeat["state"] == "done":
                break
            time.sleep(0.2)
        assert (repeat["issued"], repeat["skipped"]) == (0, rows)
        assert [_valid_cards(server, c) for c in citizens] == after
    finally:
        server.stop()
        if redis_url is not None:
            client = redis.Redis.from_url(redis_url)
            client.flushdb()
            client.close()
