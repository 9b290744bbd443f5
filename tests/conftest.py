"""Shared pytest fixtures.

Storage: ``redis_server`` (one real ``redis-server`` per session), ``redis_cluster``
(a real three-master Redis Cluster per session), ``redis_store``, ``cluster_store``,
``sqlite_store`` and ``store``, which runs a test once per backend (SQLite, Redis,
Redis Cluster).
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from store.redis import RedisStore
from store.sqlite import SQLiteStore
from tests.factory import World
from tests.hygiene import (
    PATTERNS,
    PERSONAL,
    SESSION_LOGS,
    Leak,
    find_leaks,
    personal,
    register_at_the_source,
)

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
        masters = [(node.host, node.port) for node in cluster.get_primaries()]  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
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
# Every log record of the session is kept (tests/hygiene.py: SESSION_LOGS, installed at
# session start on the root logger and on loggers that do not propagate, and again before
# each test for loggers made since), and at the end of the session, whatever ran and in
# whatever order, every kept line is searched for every personal value the fixtures
# registered (PERSONAL) and for secret shapes. A leak fails the session with a report.
# The check first proves it can fail: it plants a registered value through the product's
# own logger and must find it.


def pytest_sessionstart(session: pytest.Session) -> None:
    SESSION_LOGS.attach()


@pytest.fixture(scope="session", autouse=True)
def _personal_values_at_their_source() -> Iterator[None]:
    """Register the personal values tests hand to the service, whoever made them."""
    with pytest.MonkeyPatch.context() as mp:
        register_at_the_source(mp)
        yield


def pytest_runtest_setup(item: pytest.Item) -> None:
    SESSION_LOGS.attach()


MAX_REPORTED = 40
CANARY = personal("日志卫生自检-王五", "the log-hygiene self-check's planted name")


def _self_check() -> str | None:
    """Log a registered value as a product view would; the check must find it."""
    mark = SESSION_LOGS.mark()
    logging.getLogger("ecert.api").warning("log-hygiene self-check %s", CANARY)
    try:
        found = find_leaks(SESSION_LOGS.since(mark), PERSONAL.snapshot())
    finally:
        SESSION_LOGS.drop_since(mark, CANARY)
    if any(leak.found == CANARY for leak in found):
        return None
    return (
        "the self-check's planted name, logged on 'ecert.api', was not found: records of "
        "the product's loggers do not reach the log-hygiene handler, so the check below "
        "proves nothing"
    )


def _hygiene_report() -> list[str]:
    problems = []
    failed_self_check = _self_check()
    if failed_self_check:
        problems.append(failed_self_check)
    lines = SESSION_LOGS.lines()
    leaks = find_leaks(lines, PERSONAL.snapshot())
    # One entry per value found, with how often and one line it was found in.
    first: dict[tuple[str, str], Leak] = {}
    count: Counter[tuple[str, str]] = Counter()
    for leak in leaks:
        first.setdefault((leak.what, leak.found), leak)
        count[leak.what, leak.found] += 1
    for key, leak in list(first.items())[:MAX_REPORTED]:
        problems.append(f"{count[key]}× {leak.describe()}")
    if len(first) > MAX_REPORTED:
        problems.append(f"… and {len(first) - MAX_REPORTED} more values")
    if problems:
        problems.insert(
            0,
            f"searched {len(lines)} log lines for {len(PERSONAL)} personal values and "
            f"{len(PATTERNS)} secret shapes (exempt: {SESSION_LOGS.exempted_debug} DEBUG "
            f"records of sd_jwt, the reference implementation; {SESSION_LOGS.exempted} "
            "lines of the `ecert serve --demo` banner):",
        )
    return problems


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session, as a failed test would, if any log line leaked personal data."""
    if session.config.option.collectonly or session.testscollected == 0:
        return
    problems = _hygiene_report()
    if not problems:
        return
    report = pytest.TestReport(
        nodeid="tests/conftest.py::log-hygiene",
        location=("tests/conftest.py", 0, "log hygiene of the whole session"),
        keywords={},
        outcome="failed",
        longrepr="personal data, tokens or keys in the logs of this session\n"
        + "\n".join(problems),
        when="call",
    )
    session.config.hook.pytest_runtest_logreport(report=report)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
    # Apps built by tests log at DEBUG, so that the log-hygiene check sees DEBUG records too.
    monkeypatch.setenv("ECERT_LOG_LEVEL", "DEBUG")
    for name in ("ECERT_KEY_SECRET", "ECERT_REDIS_URL", "ECERT_REDIS_CLUSTER", "ECERT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


# -- the browser tests' Chromium (tests/browser_helpers.py) ---------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    """Playwright, for one test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    """Debian's Chromium, one per test module."""
    from tests.browser_helpers import launch_chromium

    chromium = launch_chromium(playwright)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def shots(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """The test's screenshots (a :class:`tests.browser_helpers.Screenshots`)."""
    from tests.browser_helpers import screenshots_for

    return screenshots_for(tmp_path, request.node.name)
