"""Fixtures and helpers for the HTTP API tests: an app per test on each store.

``api_app`` builds the service with :func:`api.create_app` on a fresh instance, once
on SQLite (under ``tmp_path``) and once on the session's real Redis (emptied
afterwards), like the ``store`` fixture. ``demo`` seeds it with
:func:`cli.seed.seed_demo` (departments, venues, citizens with one ID card each)
and ``auth`` (an :class:`AuthActions`, as in Flask's tutorial tests) logs citizens
in and hands out the demo's keys as headers.

Import the fixtures into a test module and name them in its ``__all__`` (so that
the linter sees them used)::

    from tests.api_helpers import AuthActions, api_app, auth, client, demo

    __all__ = ["api_app", "auth", "client", "demo"]
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.services import Services
from cli.seed import DemoLogins, seed_demo
from keys import generate_secret
from tests.hygiene import personal, personal_claims, personal_demo

BASE_URL = "https://ecert.test"
#: Cheap Argon2id parameters (the production default costs 64 MiB per hash).
FAST_HASHER: dict[str, int] = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
ID_CARD = "urn:ecert:resident-id-card"
MARRIAGE = "urn:ecert:marriage-certificate"

#: Valid claims of a resident ID card for a fictional citizen (test area code 110101).
ID_CLAIMS: dict[str, Any] = personal_claims({
    "name": "王五",
    "sex": "男",
    "ethnicity": "汉",
    "birth_date": "1988-02-29",
    "address": "北京市东城区测试大街3号",
    "id_number": "110101198802290032",
    "issuing_authority": "北京市公安局东城分局",
    "valid_from": "2019-01-01",
    "valid_until": "2039-01-01",
}, "api_helpers.ID_CLAIMS")


def services_of(app: Flask) -> Services:
    """The app's :class:`api.services.Services`."""
    built: Services = app.extensions["ecert"]
    return built


def path_of(url: str) -> str:
    """The path of an absolute URL of the service (for the test client)."""
    return urlsplit(url).path


def _segment(token: str, index: int) -> dict[str, Any]:
    segment = token.split(".")[index]
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return value


def jwt_header(token: str) -> dict[str, Any]:
    """The header of a compact JWS, unverified."""
    return _segment(token, 0)


def jwt_payload(token: str) -> dict[str, Any]:
    """The payload of a compact JWS, unverified."""
    return _segment(token, 1)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
def api_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The service on a fresh instance, once per store backend."""
    redis_url: str | None = None
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_server")
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE": str(tmp_path / "instance"),
            "KEY_SECRET": personal(generate_secret(), "api_app's key secret"),
            "BASE_URL": BASE_URL,
            "REDIS_URL": redis_url,
            "PASSWORD_HASHER_PARAMS": FAST_HASHER,
        }
    )
    try:
        yield app
    finally:
        close_apps([app], redis_url)


def close_apps(apps: list[Flask], redis_url: str | None) -> None:
    """Close the apps' services and empty the Redis database they shared (if any)."""
    for app in apps:
        services_of(app).close()
    if redis_url is not None:
        client = redis.Redis.from_url(redis_url)
        try:
            client.flushdb()
        finally:
            client.close()


@pytest.fixture
def client(api_app: Flask) -> FlaskClient:
    """A test client of the app."""
    return api_app.test_client()


@pytest.fixture
def demo(api_app: Flask) -> DemoLogins:
    """The demo seeded into the app's instance; its logins."""
    svc = services_of(api_app)
    logins = seed_demo(svc.instance, svc.accounts)
    personal_demo(logins)
    return logins


@pytest.fixture
def auth(client: FlaskClient, demo: DemoLogins) -> AuthActions:
    """Logins and keys of the demo, as request headers."""
    return AuthActions(client, demo)


class AuthActions:
    """Log the demo's citizens in and present the demo's keys."""

    def __init__(self, client: FlaskClient, demo: DemoLogins) -> None:
        self._client = client
        self.demo = demo

    @property
    def citizen_ids(self) -> list[str]:
        """The demo citizens' ids, in order."""
        return [c["citizen_id"] for c in self.demo["citizens"]]

    def login(self, which: int = 0) -> str:
        """Log the ``which``-th demo citizen in; the access token."""
        citizen = self.demo["citizens"][which]
        response = self._client.post(
            "/api/v1/auth/login",
            json={"citizen_id": citizen["citizen_id"], "password": citizen["password"]},
        )
        assert response.status_code == 200, response.get_json()
        token: str = response.get_json()["access_token"]
        return personal(token, "a demo citizen's access token")

    def citizen(self, which: int = 0) -> dict[str, str]:
        """Headers of a fresh session of the ``which``-th demo citizen."""
        return bearer(self.login(which))

    def department_key(self, slug: str = "police") -> str:
        """The demo API key of the department ``slug``."""
        key: str = next(d["api_key"] for d in self.demo["departments"] if d["issuer"] == slug)
        return key

    def department(self, slug: str = "police") -> dict[str, str]:
        """Headers with the department's key."""
        return bearer(self.department_key(slug))

    def venue_key(self, venue: str = "grand-hotel") -> str:
        """The demo API key of the venue."""
        key: str = next(v["api_key"] for v in self.demo["venues"] if v["id"] == venue)
        return key

    def venue(self, venue: str = "grand-hotel") -> dict[str, str]:
        """Headers with the venue's key."""
        return bearer(self.venue_key(venue))

    def operator(self) -> dict[str, str]:
        """Headers with the demo operator's key (``/api/v1/admin/…``)."""
        return bearer(self.demo["operators"][0]["api_key"])


def card_id(client: FlaskClient, headers: dict[str, str]) -> str:
    """The id of the citizen's resident ID card (issued by the police)."""
    items: list[dict[str, str]] = client.get(
        "/api/v1/wallet/credentials", headers=headers
    ).get_json()["items"]
    return next(item["id"] for item in items if item["vct"] == ID_CARD)


def bearer(token: str) -> dict[str, str]:
    """An ``Authorization: Bearer`` header."""
    return {"Authorization": f"Bearer {token}"}
