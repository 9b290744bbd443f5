"""The log-hygiene check itself (tests/hygiene.py; run in conftest's pytest_sessionfinish).

Each test plants a leak through the real path (a view of the real app, a logger that does
not propagate, a process log), asserts that the check finds it, then forgets the planted
lines so that the session's own check stays about the product.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cli.seed import DemoLogins
from keys.b64 import b64url_encode
from tests.api_helpers import AuthActions, api_app, auth, client, demo
from tests.factory import ID_CARD, ID_CLAIMS, World
from tests.hygiene import (
    PERSONAL,
    SESSION_LOGS,
    LogLine,
    SessionLogs,
    find_leaks,
    personal,
    render,
)

__all__ = ["api_app", "auth", "client", "demo"]

#: Made at import, so before the session's handler looks for loggers that do not propagate.
QUIET = logging.getLogger("tests.log_hygiene.quiet")
QUIET.propagate = False


def _found(lines: list[LogLine], value: str) -> list[str]:
    return [leak.what for leak in find_leaks(lines, PERSONAL.snapshot()) if leak.found == value]


def test_a_view_that_logs_a_citizens_name_is_caught(
    api_app: Flask, client: FlaskClient, demo: DemoLogins, auth: AuthActions
) -> None:
    name = "张三"  # the first demo citizen's name; the demo fixture registered it
    assert name in PERSONAL.snapshot()

    def careless() -> str:
        logging.getLogger("api.careless").info("shown to %s", name)
        return "ok"

    api_app.add_url_rule("/api/v1/careless", view_func=careless)
    mark = SESSION_LOGS.mark()
    try:
        assert client.get("/api/v1/careless", headers=auth.citizen(0)).status_code == 200
        assert len(_found(SESSION_LOGS.since(mark), name)) == 1
    finally:
        assert SESSION_LOGS.drop_since(mark, f"shown to {name}") == 1


def test_a_logger_that_does_not_propagate_is_searched() -> None:
    password = personal("quiet-logger-password-7f3a", "a password of this test")
    assert SESSION_LOGS in QUIET.handlers
    mark = SESSION_LOGS.mark()
    try:
        QUIET.warning("login failed with %s", password)
        assert _found(SESSION_LOGS.since(mark), password) == ["a password of this test"]
    finally:
        assert SESSION_LOGS.drop_since(mark, password) == 1


def test_values_are_registered_where_tests_hand_them_to_the_service(world: World) -> None:
    # Neither a fixture nor a constant: only the issuer's wrapper sees these.
    claims = {**ID_CLAIMS, "name": "赵六临时", "address": "北京市东城区临时路99号"}
    holder = world.wallet().holder_jwk
    iss = world.police.iss
    world.issuer.issue(iss, ID_CARD, subject="citizen-099", claims=claims, holder_jwk=holder)
    values = PERSONAL.snapshot()
    assert values["赵六临时"].endswith("name")
    assert values["北京市东城区临时路99号"].endswith("address")
    assert values["citizen-099"] == "an issued credential's subject"


def _disclosure() -> str:
    return b64url_encode(json.dumps(["c2FsdA", "name", "张三"]).encode())


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("presented eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln~", "a JWT or SD-JWT"),
        (f"disclosed {_disclosure()}", "an SD-JWT disclosure"),
        ("Authorization: Bearer es_" + "A" * 43, "a session token or API key"),
        ("key=ek_" + "b-" * 20, "a session token or API key"),
        ("qr EC1:" + "6BF" * 20, "a compact QR payload"),
        ("lookup of citizen=410304199912310028 failed", "a resident ID number"),
        ("-----BEGIN EC PRIVATE KEY-----", "a private key (PEM)"),
        ("jwk {'kty': 'EC', 'd': 'qDBIu2xGz5f0b2cqSzqK5QXNyP3tWJyMIWuDmt3VSMA'}", "a private JWK"),
    ],
)
def test_secret_shapes_are_caught_whatever_their_value(line: str, what: str) -> None:
    assert [leak.what for leak in find_leaks([LogLine("t", line)], {})] == [what]


@pytest.mark.parametrize(
    "line",
    [
        "request method=GET rule=/api/v1/wallet/credentials/<id> status=200 duration_ms=3.1 "
        "request_id=4f2a9c0e1b7d3a65",
        "digest sha256:" + "1234567890" * 6 + "1234",
        "at 1800000000123 ms, 1800000000123456789 ns",
        "issuer https://ecert.example/issuers/police kid=k-0123456789abcdef",
    ],
)
def test_ordinary_log_lines_are_not_flagged(line: str) -> None:
    assert find_leaks([LogLine("t", line)], {}) == []


def _record(name: str, level: int, msg: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    return record


def test_only_debug_records_of_the_reference_implementation_are_exempt() -> None:
    keeper = SessionLogs()
    keeper.handle(_record("sd_jwt", logging.DEBUG, "disclosure for 张三"))
    keeper.handle(_record("sd_jwt.verifier", logging.DEBUG, "disclosure for 张三"))
    keeper.handle(_record("sd_jwt", logging.INFO, "info 张三"))
    keeper.handle(_record("sd_jwt_evil", logging.DEBUG, "lookalike 张三"))
    keeper.handle(_record("api.wallet", logging.DEBUG, "ours 张三"))
    assert keeper.exempted_debug == 2
    assert [line.source for line in keeper.lines()] == [
        "log sd_jwt INFO",
        "log sd_jwt_evil DEBUG",
        "log api.wallet DEBUG",
    ]


def test_extras_tracebacks_and_broken_calls_are_searched() -> None:
    try:
        raise ValueError("no wallet for 张三")
    except ValueError:
        failing = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    texts = [
        render(_record("x", logging.INFO, "issued", citizen="张三")),
        render(failing),
        render(logging.LogRecord("x", logging.INFO, __file__, 1, "%d of %s", ("张三",), None)),
    ]
    assert all("张三" in text for text in texts), texts


def test_process_logs_are_searched(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    log.write_text("[INFO] Booting worker\nlogin 110101199003070011 ok\n", encoding="utf-8")
    keeper = SessionLogs()
    keeper.add_file(log, "ecert serve")
    keeper.add_file(tmp_path / "missing.log", "never started")
    leaks = find_leaks(keeper.lines(), {})
    assert [(leak.source, leak.what) for leak in leaks] == [("ecert serve", "a resident ID number")]


def test_a_record_logged_while_the_keeper_holds_its_lock_is_kept() -> None:
    """A finaliser run by the garbage collector (an asyncio future whose exception
    nobody read) logs from inside whatever this thread is doing, also while the keeper
    holds its lock: the record is kept, and the suite does not deadlock (it did once)."""
    import threading

    keeper = SessionLogs()
    record = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "Future exception", (), None)

    def nested() -> None:
        with keeper._guard:  # as inside add_text, when the collector runs the finaliser
            keeper.handle(record)

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "the keeper deadlocked on its own lock"
    assert [line.text for line in keeper.lines()] == [render(record)]


def test_gunicorns_time_stamp_is_not_data_but_the_rest_of_the_line_is() -> None:
    # a validity date near today (a care authorisation's end) met gunicorn's own stamp
    values = {"2026-12-04": "a claim of urn:ecert:care-authorisation: valid_until"}
    keeper = SessionLogs()
    keeper.add_text(
        "ecert serve",
        "[2026-12-04 00:00:28 +0000] [11376] [INFO] Starting gunicorn 27.0.1\n"
        "2026-12-04 00:10:29,113 INFO ecert.api request method=GET rule=/health\n"
        "[2026-12-04 00:00:29 +0000] [11377] [INFO] until 2026-12-04\n",
    )
    leaks = find_leaks(keeper.lines(), values)
    assert [leak.excerpt for leak in leaks] == ["[11377] [INFO] until 2026-12-04"]


def test_a_serve_log_is_searched_without_its_demo_banner_only(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    log.write_text(
        "ecert demo at http://127.0.0.1:1  (logins saved in /x/demo.json)\n"
        "    110101199003070011  password OkT1_OYPk5Dq\n"
        "[INFO] Starting gunicorn\n"
        "    indented after the banner 11010119920815004X\n",
        encoding="utf-8",
    )
    keeper = SessionLogs()
    keeper.add_serve_log(log)
    assert keeper.exempted == 1
    leaks = find_leaks(keeper.lines(), {})
    assert [leak.found for leak in leaks] == ["11010119920815004X"]


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("login password=123456 refused", True),
        ("body {'password': '123456'}", True),
        ("request_id=8f6f4eb12345662e", False),  # chance: the digits inside a random id
        ("id 91234567", False),  # inside a longer number
        ("张三丰来过", True),  # a name in Chinese counts wherever it stands
    ],
)
def test_short_ascii_values_count_only_on_their_own(text: str, leaked: bool) -> None:
    values = {"123456": "a citizen's password", "张三": "a name"}
    found = [leak.found for leak in find_leaks([LogLine("log t INFO", text)], values)]
    assert bool(found) is leaked
