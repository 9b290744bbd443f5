"""A change cascade survives ``kill -9``: a real ``ecert serve`` (gunicorn, two workers)
re-issues a citizen's cards one step a second (``ECERT_JOB_PACE=1``); the whole
process group is killed in the middle of the job; started again on the same instance,
it resumes once the dead worker's lease (``ECERT_JOB_LEASE=2``) ran out and finishes
with exactly one valid version of every card. At no point, the kill included, is a
card left with no valid version."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from issuer import load_catalogue
from tests.conftest import free_port
from tests.factory import DERIVED, full_example
from tests.hygiene import SESSION_LOGS, personal, personal_demo
from tests.test_service_process import ECERT, Server

pytestmark = pytest.mark.slow

CATALOGUE = load_catalogue()
ID_CARD = "urn:ecert:resident-id-card"
#: The demo's police and civil-affairs types that carry the citizen's name.
EXTRA = [
    ("police", "urn:ecert:residence-permit"),
    ("police", "urn:ecert:driving-licence"),
    ("police", "urn:ecert:household-register"),
    ("police", "urn:ecert:no-criminal-record-proof"),
    ("civil-affairs", "urn:ecert:marriage-certificate"),
    ("civil-affairs", "urn:ecert:kinship-proof"),
]
NEW_NAME = personal("张叁丰", "test_changes_process new name")
ENV = {"ECERT_JOB_PACE": "1", "ECERT_JOB_LEASE": "2"}


def start(instance: Path, redis_url: str | None = None) -> Server:
    """``ecert serve --demo`` in its own process group (so that it can be killed whole),
    on the instance's SQLite file or on ``redis_url``."""
    port = free_port()
    log = instance.parent / f"serve-{port}.log"
    env = {**os.environ, "ECERT_INSTANCE": str(instance), **ENV}
    env.pop("ECERT_KEY_SECRET", None)
    env.pop("ECERT_REDIS_URL", None)
    if redis_url is not None:
        env["ECERT_REDIS_URL"] = redis_url
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [ECERT, "serve", "--demo", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "2", "--threads", "2"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", instance, proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"ecert serve exited:\n{log.read_text(errors='replace')}")
        try:
            if server.call("GET", "/healthz")[0] == 200:
                personal_demo(json.loads((instance / "demo.json").read_text(encoding="utf-8")))
                return server
        except OSError:
            time.sleep(0.2)
    kill(server)
    raise AssertionError("ecert serve did not answer within 60 s")


def kill(server: Server) -> None:
    """``kill -9`` of the server's whole process group (master and workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=20)
    SESSION_LOGS.add_serve_log(server.log)


def valid_by_type(server: Server, token: str) -> tuple[Counter[str], dict[str, dict[str, Any]]]:
    status, wallet, _ = server.call("GET", "/api/v1/wallet/credentials", token=token)
    assert status == 200, wallet
    items = {item["id"]: item for item in wallet["items"]}
    return Counter(i["vct"] for i in items.values() if i["status"] == "valid"), items


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (the instance's SQLite file), or a Redis database of the session's server of
    its own (emptied afterwards)."""
    if request.param == "sqlite":
        yield None
        return
    url = str(request.getfixturevalue("redis_server")).rsplit("/", 1)[0] + "/10"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def test_a_change_killed_in_the_middle_resumes_and_finishes(
    tmp_path: Path, backend: str | None
) -> None:
    instance = tmp_path / "instance"
    server = start(instance, backend)
    try:
        demo = json.loads((instance / "demo.json").read_text(encoding="utf-8"))
        citizen = demo["citizens"][0]
        keys = {d["issuer"]: d["api_key"] for d in demo["departments"]}
        for slug, vct in EXTRA:
            claims: dict[str, Any] = dict(full_example(CATALOGUE.get(vct)))
            carrying = CATALOGUE.get(vct).claim_for("name")
            assert carrying is not None
            claims[carrying] = "张三"
            status, issued, _ = server.call(
                "POST",
                f"/api/v1/issuers/{slug}/credentials",
                {"vct": vct, "citizen_id": citizen["citizen_id"], "claims": claims},
                token=keys[slug],
            )
            assert status == 201, issued
        status, login, _ = server.call("POST", "/api/v1/auth/login", citizen)
        assert status == 200
        token = login["access_token"]
        before, cards = valid_by_type(server, token)
        # and the police's age and residence attestations (beside the ID card and the
        # household register): the name change leaves them (they carry no name)
        assert set(DERIVED) <= set(before)
        assert sum(before.values()) == len(EXTRA) + 1 + len(DERIVED)
        assert set(before.values()) == {1}

        path = f"/api/v1/subjects/{citizen['citizen_id']}/changes"
        body = {"field": "name", "value": NEW_NAME, "effective": "2026-01-05", "reason": "更名"}
        status, made, _ = server.call("POST", path, body, token=keys["police"])
        assert status == 202, made
        job = f"{path}/{made['id']}"
        total = len(made["credentials"])
        assert total == len(EXTRA) + 1

        # kill -9 once two cards are done (a step a second: the job is in its middle)
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "the job did not start"
            status, seen, _ = server.call("GET", job, token=keys["police"])
            done = sum(c["state"] == "done" for c in seen["credentials"])
            if done >= 2:
                break
            time.sleep(0.1)
        assert done < total, "the job finished before the kill"
    finally:
        kill(server)

    server = start(instance, backend)
    try:
        status, login, _ = server.call("POST", "/api/v1/auth/login", citizen)
        token = login["access_token"]
        deadline = time.monotonic() + 90
        while True:
            assert time.monotonic() < deadline, "the job was not resumed"
            valid, _ = valid_by_type(server, token)
            # never neither: each card has a valid version throughout
            assert set(valid) == set(before), valid
            status, seen, _ = server.call("GET", job, token=keys["police"])
            assert status == 200, seen
            if seen["state"] == "done":
                break
            time.sleep(0.2)
        assert [c["state"] for c in seen["credentials"]] == ["done"] * total
        valid, items = valid_by_type(server, token)
        assert valid == before  # exactly one valid version of each card
        for entry in seen["credentials"]:
            assert entry["old"] in cards and entry["old"] not in items
            assert items[entry["new"]]["status"] == "valid"
            status, opened, _ = server.call(
                "GET", f"/api/v1/wallet/credentials/{entry['new']}", token=token
            )
            claim = CATALOGUE.get(entry["vct"]).claim_for("name")
            assert claim is not None and opened["claims"][claim] == NEW_NAME
        status, notices, _ = server.call("GET", "/api/v1/wallet/notices", token=token)
        assert [n["text"]["en"] for n in notices["items"]] == [
            f"Your name changed; {total} certificates were updated"
        ]
    finally:
        kill(server)
