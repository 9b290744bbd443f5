"""Login limits over HTTP (issue 7 §4): ``POST /api/v1/auth/login`` on SQLite and
Redis, with the app's clock injected (``Accounts.clock``) and bodies built by hand.

Only failed logins count, in sliding windows, per account (10 in 15 minutes, 100 in
a day) and per client address (300 in 15 minutes); a 429 carries an exact
``Retry-After``; the counters live in the store, so every worker sees them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api import create_app
from api.errors import PROBLEM_MIMETYPE
from keys import generate_secret
from tests.api_helpers import BASE_URL, FAST_HASHER, close_apps, services_of
from tests.factory import Clock
from tests.hygiene import personal

PASSWORD = personal("correct horse battery", "test_api_logins PASSWORD")
CITIZEN = personal("110101199003070011", "test_api_logins CITIZEN")
WINDOW = 900
NAT = "198.51.100.7"

AppFactory = Callable[..., Flask]


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
def make_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppFactory]:
    """Build apps over one instance (one store, one secret): each is a worker."""
    redis_url = request.getfixturevalue("redis_server") if request.param == "redis" else None
    secret = generate_secret()
    apps: list[Flask] = []

    def build(**config: Any) -> Flask:
        app = create_app(
            {
                "TESTING": True,
                "INSTANCE": str(tmp_path / "instance"),
                "KEY_SECRET": secret,
                "BASE_URL": BASE_URL,
                "REDIS_URL": redis_url,
                "PASSWORD_HASHER_PARAMS": FAST_HASHER,
                **config,
            }
        )
        apps.append(app)
        return app

    try:
        yield build
    finally:
        close_apps(apps, redis_url)


@pytest.fixture
def clock() -> Clock:
    """Near the real time (Redis expires by its own clock), 100 s past a 15-min boundary."""
    return Clock(float((int(time.time()) // WINDOW + 1) * WINDOW + 100))


@pytest.fixture
def app(make_app: AppFactory, clock: Clock) -> Flask:
    built = make_app()
    services_of(built).accounts.clock = clock
    services_of(built).accounts.create_citizen(CITIZEN, PASSWORD)
    return built


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def login(
    client: FlaskClient, citizen: str = CITIZEN, password: str = PASSWORD, addr: str = NAT
) -> TestResponse:
    """POST a login built by hand from ``addr``."""
    body = json.dumps({"citizen_id": citizen, "password": password}).encode()
    return client.post(
        "/api/v1/auth/login",
        data=body,
        content_type="application/json",
        environ_base={"REMOTE_ADDR": addr},
    )


def ok(response: TestResponse) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["access_token"].startswith("es_")


def failed(response: TestResponse) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["code"] == "login_failed"


def limited(response: TestResponse) -> int:
    """Assert a 429 problem; its Retry-After (seconds)."""
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIMETYPE
    assert response.get_json()["code"] == "rate_limited"
    assert "access_token" not in response.get_data(as_text=True)
    return int(response.headers["Retry-After"])


def test_twenty_successful_logins_in_a_row(client: FlaskClient, clock: Clock) -> None:
    for _ in range(20):
        ok(login(client))
        clock.advance(2)


def test_failures_lock_the_account_with_retry_after(client: FlaskClient, clock: Clock) -> None:
    for n in range(10):
        failed(login(client, password=f"guess {n}", addr=f"10.0.0.{n}"))
        clock.advance(5)
    # The right password from a fresh address: refused, until the first failure
    # (50 s ago) has left the 15-minute window.
    assert limited(login(client, addr="10.9.9.9")) == WINDOW - 50
    assert limited(login(client, password="guess 11")) == WINDOW - 50
    clock.advance(WINDOW - 50)
    ok(login(client))


def test_unknown_ids_lock_the_same_way(client: FlaskClient) -> None:
    for _ in range(10):
        failed(login(client, citizen="110101190001010006"))
    assert limited(login(client, citizen="110101190001010006")) == WINDOW
    ok(login(client))  # another account is not affected


def test_no_double_allowance_around_a_boundary(client: FlaskClient, clock: Clock) -> None:
    boundary = (int(clock.now) // WINDOW + 1) * WINDOW
    clock.now = boundary - 3
    for n in range(10):
        failed(login(client, password=f"guess {n}"))
    clock.now = boundary + 3  # a fixed window would start again here
    assert limited(login(client, password="guess 10")) == WINDOW - 6


def test_a_success_clears_the_account_failures(client: FlaskClient) -> None:
    for n in range(9):
        failed(login(client, password=f"guess {n}"))
    ok(login(client))
    for n in range(10):
        failed(login(client, password=f"guess {n}"))
    limited(login(client))


def test_a_thousand_citizens_behind_one_address(app: Flask, clock: Clock) -> None:
    accounts = services_of(app).accounts
    citizens = [f"3101011990010{n:05d}" for n in range(1000)]
    for citizen in citizens:
        accounts.create_citizen(citizen, PASSWORD)
    client = app.test_client()
    for n, citizen in enumerate(citizens):
        if n % 10 == 0:  # and one in ten mistypes first
            failed(login(client, citizen, password="typo"))
        ok(login(client, citizen))
        clock.advance(0.2)


def test_spraying_from_one_address_is_slowed(client: FlaskClient, clock: Clock) -> None:
    for n in range(300):
        failed(login(client, f"1101011990010{n:05d}", password="123456", addr="203.0.113.9"))
    clock.advance(30)
    assert limited(login(client, "110101199001099996", addr="203.0.113.9")) == WINDOW - 30
    ok(login(client, addr="203.0.113.10"))  # the next address is not slowed


def test_workers_share_the_lockout(make_app: AppFactory, clock: Clock) -> None:
    """Two apps over one store (two workers) see the same failures and the same clear."""
    first, second = make_app(), make_app()
    for app in (first, second):
        services_of(app).accounts.clock = clock
    services_of(first).accounts.create_citizen(CITIZEN, PASSWORD)
    one, two = first.test_client(), second.test_client()
    for n in range(10):
        failed(login(one if n % 2 else two, password=f"guess {n}"))
    assert limited(login(one)) == limited(login(two)) == WINDOW
    clock.advance(WINDOW)
    ok(login(two))  # clears the account for every worker
    for n in range(9):
        failed(login(one, password=f"guess {n}"))
    failed(login(two, password="guess 9"))
    limited(login(one))


def test_the_limits_are_settings(make_app: AppFactory, clock: Clock) -> None:
    app = make_app(LOGIN_ACCOUNT_LIMITS=[[3, 60]], LOGIN_ADDRESS_LIMITS=[[5, 120]])
    services_of(app).accounts.clock = clock
    services_of(app).accounts.create_citizen(CITIZEN, PASSWORD)
    client = app.test_client()
    for n in range(3):
        failed(login(client, password=f"guess {n}"))
    assert limited(login(client)) == 60
    failed(login(client, citizen="other1"))
    failed(login(client, citizen="other2"))
    assert limited(login(client, citizen="other3")) == 120
    with pytest.raises(ValueError, match="login limits"):
        make_app(LOGIN_ADDRESS_LIMITS=[[0, 60]])
