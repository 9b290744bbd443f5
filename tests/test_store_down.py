"""A store that is down: 503 with Retry-After and a problem JSON, never a stack trace,
never a half-written credential; and the service recovers when the store is back."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from api import create_app
from keys import generate_secret
from tests.conftest import _wait_for_redis, free_port
from tests.factory import DERIVED, ID_CARD, ID_CLAIMS

pytestmark = pytest.mark.slow


class RedisProcess:
    """A redis-server with append-only persistence that can be stopped and started again."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed (the test command installs it)"
        log = self.workdir / "redis.log"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always",
             "--logfile", str(log)],
            cwd=self.workdir, stdin=subprocess.DEVNULL,
        )
        _wait_for_redis(self.proc, self.url, log)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_store_down_answers_503_and_writes_nothing_half(
    tmp_path: Path, redis_process: RedisProcess
) -> None:
    from api.services import services
    from cli.seed import seed_demo

    app = create_app({
        "TESTING": True, "INSTANCE": str(tmp_path / "instance"),
        "REDIS_URL": redis_process.url, "KEY_SECRET": generate_secret(),
        "BASE_URL": "https://ecert.example",
    })
    with app.app_context():
        built = services()
        logins = seed_demo(built.instance, built.accounts)
    police = next(d for d in logins["departments"] if d["issuer"] == "police")
    citizen = logins["citizens"][0]["citizen_id"]
    client = app.test_client()
    body = {"vct": ID_CARD, "citizen_id": citizen, "claims": ID_CLAIMS}
    auth = {"Authorization": f"Bearer {police['api_key']}"}
    before = client.get("/api/v1/verifier/bundle")
    assert before.status_code == 200

    redis_process.stop()
    for response in (
        client.post("/api/v1/issuers/police/credentials", json=body, headers=auth),
        client.get("/api/v1/verifier/bundle"),
        client.post("/api/v1/auth/login", json={"citizen_id": citizen, "password": "x" * 10}),
    ):
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        assert response.headers.get("Retry-After")
        problem = response.get_json()
        assert problem["code"] == "store_unavailable"
        assert "Traceback" not in response.get_data(as_text=True)

    redis_process.start()
    with app.app_context():
        instance = services().instance
        # (the age attestation the police issued beside the ID card left out)
        registry = [r for r in instance.issuer.credentials_of(citizen) if r.vct not in DERIVED]
        wallet = [i for i in instance.vault.items(citizen) if i.vct not in DERIVED]
    # What was issued before the outage is intact, and nothing half-issued appeared.
    assert len(registry) == 1 and len(wallet) == 1
    assert registry[0].id == wallet[0].credential_id
    after = client.post("/api/v1/issuers/police/credentials", json=body, headers=auth)
    assert after.status_code == 201, after.get_json()
