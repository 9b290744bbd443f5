"""Shared pytest fixtures.

Storage: ``redis_server`` (one real ``redis-server`` per session), ``redis_store``,
``sqlite_store`` and ``store``, which runs a test once per backend.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from store.redis import RedisStore
from store.sqlite import SQLiteStore
from tests.factory import World

# -- storage ---------------------------------------------------------------------------

REDIS_START_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_redis(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Wait until the server answers PING; fail with its log if it dies or stays silent."""
    deadline = time.monotonic() + REDIS_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"redis-server exited with {proc.returncode}:\n{log.read_text()}")
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        if time.monotonic() > deadline:
            pytest.fail(
                f"redis-server did not answer PING within {REDIS_START_TIMEOUT}s:\n"
                f"{log.read_text()}"
            )
        time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private ``redis-server`` on a free port of 127.0.0.1; yields its URL (db 0)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not on PATH. The Redis store tests need the real server; "
            "the test command installs it with: apt-get update && apt-get install -y redis-server"
        )
    workdir = tmp_path_factory.mktemp("redis")
    log = workdir / "redis.log"
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    command = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--logfile", str(log),
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL)
    try:
        _wait_for_redis(proc, url, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def redis_store(redis_server: str) -> Iterator[RedisStore]:
    """A :class:`RedisStore` on the session's server, emptied (FLUSHDB) afterwards."""
    store = RedisStore.from_url(redis_server)
    try:
        yield store
    finally:
        store.client.flushdb()
        store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """A :class:`SQLiteStore` on a fresh file under ``tmp_path``."""
    store = SQLiteStore(str(tmp_path / "ecert.db"))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
def store(request: pytest.FixtureRequest) -> SQLiteStore | RedisStore:
    """Each storage backend in turn: the contract tests run once per backend."""
    backend: SQLiteStore | RedisStore = request.getfixturevalue(f"{request.param}_store")
    return backend


@pytest.fixture
def world(sqlite_store: SQLiteStore) -> World:
    """A test world (anchor, police, civil affairs) on SQLite with a settable clock."""
    return World(sqlite_store)


# -- log hygiene -------------------------------------------------------------------------
#
# Every log record of the whole session is kept (root logger, DEBUG) so that
# tests/test_zz_log_hygiene.py, which runs last, can search them for personal data,
# tokens and keys. Formatting happens here, as a handler would do it. Left out: the
# SD-JWT reference implementation (``sd_jwt``), a test-only peer of the interop tests
# that logs disclosures at DEBUG; it is not part of the product.

import logging  # noqa: E402


class _KeepAll(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "sd_jwt" or record.name.startswith("sd_jwt."):
            return
        try:
            self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")
            if record.exc_info:
                self.lines.append(logging.Formatter().formatException(record.exc_info))
        except Exception:  # a broken log call must not break the suite
            self.lines.append(f"{record.name} unformattable record")


SESSION_LOGS = _KeepAll()


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(SESSION_LOGS)
    if root.level > logging.DEBUG or root.level == logging.NOTSET:
        root.setLevel(logging.DEBUG)


# -- isolation from the developer's own instance ------------------------------------------


@pytest.fixture(autouse=True)
def _private_instance(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own ECERT_INSTANCE, never ./instance, and cheap Argon2.

    ``create_app()`` opens the instance its environment names; without this a test
    would read and write the developer's ./instance. Argon2id at the production cost
    (64 MiB) on every app built would only make the suite slow: tests that check the
    production parameters build their own hasher.
    """
    monkeypatch.setenv("ECERT_INSTANCE", str(tmp_path_factory.mktemp("instance")))
    monkeypatch.setenv(
        "ECERT_PASSWORD_HASHER_PARAMS", '{"time_cost": 1, "memory_cost": 1024, "parallelism": 1}'
    )
    for name in ("ECERT_KEY_SECRET", "ECERT_REDIS_URL", "ECERT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
