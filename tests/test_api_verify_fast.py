"""The verification route's per-worker caches seen over HTTP: a revoked venue key keeps
working at most two seconds (injected clock), an unknown one never; the trust version is
read at most once a second by the service."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from api.principals import VENUE_KEYS
from cli.seed import DemoLogins
from service.verification import TRUST_CHECK_EVERY, VenueKeys
from tests.api_helpers import api_app, bearer, client, demo, services_of
from tests.factory import Clock

__all__ = ["api_app", "client", "demo"]  # fixtures

BODY = {"qr": "not a presentation", "scene": "hotel"}


def test_a_revoked_venue_key_works_at_most_two_seconds(
    api_app: Flask, client: FlaskClient, demo: DemoLogins
) -> None:
    svc = services_of(api_app)
    record, secret = svc.accounts.issue_api_key("venue", "grand-hotel")
    clock = Clock(0.0)
    keys = VenueKeys(lambda s: svc.accounts.api_key(s, "venue"), svc.store, clock=clock)
    api_app.extensions[VENUE_KEYS] = (svc, keys)
    answer = client.post("/api/v1/verify", headers=bearer(secret), json=BODY)
    assert answer.status_code == 200 and answer.get_json()["errors"][0]["code"] == "malformed"
    # revoked by another process (the operator's CLI): only the store knows
    svc.store.revoke_api_key(record.key_id, 1)
    clock.advance(1.99)
    assert client.post("/api/v1/verify", headers=bearer(secret), json=BODY).status_code == 200
    clock.advance(0.01)
    assert client.post("/api/v1/verify", headers=bearer(secret), json=BODY).status_code == 401
    assert client.post("/api/v1/verify", headers=bearer(secret), json=BODY).status_code == 401


def test_a_venue_key_revoked_by_this_process_stops_at_once(
    api_app: Flask, client: FlaskClient, demo: DemoLogins
) -> None:
    svc = services_of(api_app)
    record, secret = svc.accounts.issue_api_key("venue", "grand-hotel")
    keys = VenueKeys(lambda s: svc.accounts.api_key(s, "venue"), svc.store, clock=Clock(0.0))
    api_app.extensions[VENUE_KEYS] = (svc, keys)
    assert client.post("/api/v1/verify", headers=bearer(secret), json=BODY).status_code == 200
    svc.accounts.revoke_api_key(record.key_id)
    assert client.post("/api/v1/verify", headers=bearer(secret), json=BODY).status_code == 401


def test_an_unknown_venue_key_is_refused_every_time(
    api_app: Flask, client: FlaskClient, demo: DemoLogins
) -> None:
    unknown = bearer("ek_" + "B" * 43)
    for _ in range(3):
        assert client.post("/api/v1/verify", headers=unknown, json=BODY).status_code == 401


def test_the_service_reads_the_trust_version_at_most_once_a_second(api_app: Flask) -> None:
    assert services_of(api_app).online.check_every == TRUST_CHECK_EVERY == 1.0
