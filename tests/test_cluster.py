"""Redis Cluster for real: the settings, and one HTTP walk-through on a three-master cluster.

The store contract suite runs on the cluster through the ``store`` fixture (its
``cluster`` parameter, tests/conftest.py); here the service itself is configured the way
an operator does it (``ECERT_REDIS_URL`` naming one node, ``ECERT_REDIS_CLUSTER=1``) and
walked through over HTTP: login, issue, present, verify online, revoke, bundle.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from redis.cluster import RedisCluster

from api import create_app
from cli.seed import seed_demo
from keys import generate_secret
from service.errors import SettingsInvalid
from service.instance import open_instance
from store import StoreError, StoreUnavailable, open_store
from store.redis import RedisStore
from tests.api_helpers import BASE_URL, ID_CARD, ID_CLAIMS, AuthActions, services_of
from tests.conftest import flush_cluster, free_port
from verifier import Verifier

pytestmark = [pytest.mark.redis, pytest.mark.cluster]

ONLINE_PREFIX = f"{BASE_URL}/p/"


@pytest.fixture
def cluster_app(
    redis_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """The service configured from the environment, as ``ecert serve`` would be."""
    monkeypatch.setenv("ECERT_REDIS_URL", redis_cluster)
    monkeypatch.setenv("ECERT_REDIS_CLUSTER", "1")
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE": str(tmp_path / "instance"),
            "KEY_SECRET": generate_secret(),
            "BASE_URL": BASE_URL,
        }
    )
    try:
        yield app
    finally:
        services_of(app).close()
        flush_cluster(redis_cluster)


def masters_holding_keys(url: str) -> int:
    """How many masters of the cluster hold at least one key (asked node by node)."""
    cluster = RedisCluster.from_url(url)
    try:
        masters = [(node.host, node.port) for node in cluster.get_primaries()]  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
    finally:
        cluster.close()
    holding = 0
    for host, port in masters:
        client = redis.Redis(host=host, port=port)
        try:
            holding += int(client.dbsize()) > 0
        finally:
            client.close()
    return holding


def test_http_walk_through_on_the_cluster(cluster_app: Flask, redis_cluster: str) -> None:
    svc = services_of(cluster_app)
    assert isinstance(svc.instance.store, RedisStore)
    assert isinstance(svc.instance.store.client, RedisCluster)
    client: FlaskClient = cluster_app.test_client()
    auth = AuthActions(client, seed_demo(svc.instance, svc.accounts))

    # A department issues an ID card into the second citizen's wallet.
    issued = client.post(
        "/api/v1/issuers/police/credentials",
        headers=auth.department(),
        json={"vct": ID_CARD, "citizen_id": auth.citizen_ids[1], "claims": ID_CLAIMS},
    )
    assert issued.status_code == 201, issued.get_json()
    cid = issued.get_json()["id"]

    # The citizen logs in and shows it as an online QR (a short URL).
    headers = auth.citizen(1)
    listed = client.get("/api/v1/wallet/credentials", headers=headers).get_json()["items"]
    assert cid in [item["id"] for item in listed]

    def show(mode: str) -> str:
        response = client.post(
            f"/api/v1/wallet/credentials/{cid}/presentations",
            headers=headers,
            json={"scene": "hotel", "mode": mode},
        )
        assert response.status_code == 201, response.get_json()
        qr: str = response.get_json()["qr"]
        return qr

    def verify(qr: str) -> dict[str, Any]:
        response = client.post(
            "/api/v1/verify", headers=auth.venue(), json={"qr": qr, "scene": "hotel"}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        result: dict[str, Any] = response.get_json()
        return result

    online = show("online")
    assert online.startswith(ONLINE_PREFIX)
    result = verify(online)
    assert result["valid"] is True and result["status"] == "valid"
    assert result["claims"] == {"name": ID_CLAIMS["name"], "id_number": ID_CLAIMS["id_number"]}
    again = verify(online)
    assert again["valid"] is False and [e["code"] for e in again["errors"]] == ["replayed"]
    activity = client.get("/api/v1/wallet/activity", headers=headers).get_json()["items"]
    assert [(item["valid"], item["claims"]) for item in activity] == [
        (True, ["name", "id_number"])
    ]

    # Revoked: the next online QR and an offline one made before both say so.
    later, offline = show("online"), show("offline")
    revoked = client.post(
        f"/api/v1/issuers/police/credentials/{cid}/revoke", headers=auth.department()
    )
    assert revoked.status_code == 200, revoked.get_json()
    result = verify(later)
    assert result["valid"] is False and [e["code"] for e in result["errors"]] == ["revoked"]

    # The signed bundle carries the revocation to an offline verifier.
    anchor = client.get("/api/v1/verifier/anchor").get_json()
    bundle = client.get("/api/v1/verifier/bundle").get_json()
    assert Verifier(bundle, anchor=anchor).verify(offline, "hotel").codes == ["revoked"]

    # The data is spread over the cluster, not parked on one node.
    assert masters_holding_keys(redis_cluster) == 3


def test_the_cluster_setting_opens_the_cluster_client(
    redis_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECERT_REDIS_URL", redis_cluster)
    for value in ("1", "true", "YES", "on"):
        monkeypatch.setenv("ECERT_REDIS_CLUSTER", value)
        instance = open_instance(tmp_path / value, key_secret=generate_secret())
        try:
            assert isinstance(instance.store, RedisStore)
            assert isinstance(instance.store.client, RedisCluster)
        finally:
            instance.close()
        flush_cluster(redis_cluster)


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_a_cluster_opened_without_the_setting_fails_loudly(
    redis_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """The single-node client meets a MOVED answer at once (some key of the instance
    lives on another master): a StoreError at start-up, never a half-working store."""
    monkeypatch.setenv("ECERT_REDIS_URL", redis_cluster)
    monkeypatch.setenv("ECERT_REDIS_CLUSTER", value)
    with pytest.raises(StoreError) as caught:
        open_instance(tmp_path, key_secret=generate_secret())
    assert isinstance(caught.value.__cause__, redis.exceptions.MovedError)


@pytest.mark.parametrize("value", ["2", "yes please", "cluster"])
def test_a_mistyped_cluster_setting_is_refused(
    redis_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ECERT_REDIS_URL", redis_cluster)
    monkeypatch.setenv("ECERT_REDIS_CLUSTER", value)
    with pytest.raises(SettingsInvalid) as caught:
        open_instance(tmp_path, key_secret=generate_secret())
    assert caught.value.code == "settings_invalid"
    assert "ECERT_REDIS_CLUSTER" in str(caught.value)


def test_the_cluster_setting_needs_a_redis_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECERT_REDIS_CLUSTER", "1")
    with pytest.raises(SettingsInvalid) as caught:
        open_instance(tmp_path, key_secret=generate_secret())
    assert caught.value.code == "settings_invalid"
    with pytest.raises(StoreError):
        open_store(f"sqlite:///{tmp_path / 'ecert.db'}", cluster=True)
    with pytest.raises(StoreError):
        open_store(f"unix://{tmp_path / 'redis.sock'}", cluster=True)


def test_an_unreachable_cluster_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        RedisStore.from_url(
            f"redis://127.0.0.1:{free_port()}/0",
            cluster=True,
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
        )


def test_a_single_node_is_not_a_cluster(redis_server: str) -> None:
    """Pointing the cluster client at a plain server fails at start-up, not later, and
    as a configuration mistake (StoreError), not as an outage to retry."""
    with pytest.raises(StoreError) as caught:
        RedisStore.from_url(redis_server, cluster=True)
    assert not isinstance(caught.value, StoreUnavailable)
    assert "Cluster mode is not enabled" in str(caught.value)
