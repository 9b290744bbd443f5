"""Shared pytest fixtures.

Storage: ``redis_server`` (one real ``redis-server`` per session), ``redis_cluster``
(a real three-master Redis Cluster per session), ``redis_store``, ``cluster_store``,
``sqlite_store`` and ``store``, which runs a test once per backend (SQLite, Redis,
Redis Cluster).
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
from redis.cluster import RedisCluster

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


#: Masters of the test cluster: the fewest ``redis-cli --cluster create`` accepts.
CLUSTER_MASTERS = 3
CLUSTER_START_TIMEOUT = 30.0


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cluster_ok(ports: list[int]) -> bool:
    """Every node says ``cluster_state:ok`` and knows all the masters."""
    for port in ports:
        client = redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            info = client.cluster("info")
        except redis.RedisError:
            return False
        finally:
            client.close()
        if info.get("cluster_state") != "ok" or int(info.get("cluster_known_nodes", 0)) < len(
            ports
        ):
            return False
    return True


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Redis Cluster of three masters (no replicas) on free ports of 127.0.0.1.

    Yields the URL of one node (``redis://127.0.0.1:P1/0``): the cluster client finds
    the others from it. Stopped at the end of the session.
    """
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        pytest.fail(
            "redis-server and redis-cli must be on PATH for the Redis Cluster tests; the "
            "test command installs them with: apt-get install -y redis-server redis-tools"
        )
    workdir = tmp_path_factory.mktemp("redis-cluster")
    ports: list[int] = []
    while len(ports) < CLUSTER_MASTERS:
        # A node also listens on port + 10000 (the cluster bus): keep both free.
        port = free_port()
        if port + 10000 < 65536 and port not in ports:
            ports.append(port)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            node = workdir / str(port)
            node.mkdir()
            command = [
                server,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", str(node),
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(node / "nodes.conf"),
                "--cluster-node-timeout", "5000",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--logfile", str(node / "redis.log"),
            ]  # fmt: skip
            proc = subprocess.Popen(command, cwd=node, stdin=subprocess.DEVNULL)
            procs.append(proc)
            _wait_for_redis(proc, f"redis://127.0.0.1:{port}/0", node / "redis.log")
        create = [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports)]
        created = subprocess.run(
            [*create, "--cluster-replicas", "0", "--cluster-yes"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=CLUSTER_START_TIMEOUT,
            check=False,
        )
        if created.returncode != 0:
            pytest.fail(f"redis-cli --cluster create failed:\n{created.stdout.decode()}")
        deadline = time.monotonic() + CLUSTER_START_TIMEOUT
        while not _cluster_ok(ports):
            if time.monotonic() > deadline:
                pytest.fail(f"the Redis Cluster on {ports} did not reach cluster_state:ok")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        _stop(procs)


def flush_cluster(url: str) -> None:
    """Empty every master of the cluster at ``url``.

    One plain client per master: redis-py 8.1's ``RedisCluster.flushall(target_nodes=…)``
    leaves a socket open after ``close()``.
    """
    cluster = RedisCluster.from_url(url)
    try:
        masters = [(node.host, node.port) for node in cluster.get_primaries()]
    finally:
        cluster.close()
    for host, port in masters:
        client = redis.Redis(host=host, port=port)
        try:
            client.flushall()
        finally:
            client.close()


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
def cluster_store(redis_cluster: str) -> Iterator[RedisStore]:
    """A :class:`RedisStore` on the session's Redis Cluster (the cluster client), every
    master emptied afterwards."""
    store = RedisStore.from_url(redis_cluster, cluster=True)
    try:
        yield store
    finally:
        store.close()
        flush_cluster(redis_cluster)


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
        pytest.param("cluster", id="cluster", marks=[pytest.mark.redis, pytest.mark.cluster]),
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
    for name in ("ECERT_KEY_SECRET", "ECERT_REDIS_URL", "ECERT_REDIS_CLUSTER", "ECERT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
