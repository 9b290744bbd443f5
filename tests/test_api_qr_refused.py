"""No QR code for a credential that cannot pass (issue 7 §5), on SQLite and Redis.

``POST /api/v1/wallet/credentials/{id}/presentations`` for a revoked, suspended or
expired credential answers ``409`` problem JSON (``credential_revoked``,
``credential_suspended``, ``credential_expired``) in both modes, and makes nothing:
the whole store, read row by row (every SQLite table, every Redis key and value), is
the same before and after the refused request. The QR images of a presentation made
before the change answer the same 409. The status is the store's, never the
citizen's copy: a status list entry set in the store alone is enough.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api.errors import PROBLEM_MIMETYPE
from tests.api_helpers import (
    AuthActions,
    api_app,
    auth,
    card_id,
    client,
    demo,
    services_of,
)
from verifier import LEEWAY

# The fixtures of tests/api_helpers.py, used by name below.
__all__ = ["api_app", "auth", "client", "demo"]

MODES = ["offline", "online"]
#: The department's action → the code the wallet then answers.
ACTIONS = {"revoke": "credential_revoked", "suspend": "credential_suspended"}

# -- helpers ---------------------------------------------------------------------------


def problem(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """Assert a problem answer; its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIMETYPE
    body: dict[str, Any] = response.get_json()
    assert body["code"] == code and body["status"] == status
    assert body["type"].endswith("/" + code) and body["title"] == "Conflict"
    return body



def ask(
    client: FlaskClient, headers: dict[str, str], cid: str, mode: str, scene: str = "hotel"
) -> TestResponse:
    """The raw JSON body a phone sends (not the project's own models)."""
    return client.post(
        f"/api/v1/wallet/credentials/{cid}/presentations",
        headers={**headers, "Content-Type": "application/json"},
        data=b'{"scene":"%s","mode":"%s"}' % (scene.encode(), mode.encode()),
    )


def department(client: FlaskClient, auth: AuthActions, action: str, cid: str) -> None:
    response = client.post(
        f"/api/v1/issuers/police/credentials/{cid}/{action}", headers=auth.department()
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def store_rows(app: Flask) -> list[tuple[Any, ...]]:
    """Everything the store holds, as sorted rows: every row of every SQLite table, or
    every Redis key with its type and value(s). Equal rows = nothing was written."""
    url = app.config.get("REDIS_URL")
    rows: list[tuple[Any, ...]] = []
    if url is None:
        with sqlite3.connect(Path(app.config["INSTANCE"]) / "ecert.db") as conn:
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            assert "once_values" in tables and "credentials" in tables, tables
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    rows.append((table, *map(repr, row)))
        return sorted(rows)
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            if kind == b"string":
                value: Any = client.get(key)
            elif kind == b"hash":
                value = sorted(client.hgetall(key).items())
            elif kind == b"set":
                value = sorted(client.smembers(key))
            elif kind == b"zset":
                value = client.zrange(key, 0, -1, withscores=True)
            elif kind == b"list":
                value = client.lrange(key, 0, -1)
            else:
                value = kind
            rows.append((key, kind, repr(value)))
    finally:
        client.close()
    assert rows, "the Redis dump is empty: it looked in the wrong place"
    return sorted(rows)


def refused(
    app: Flask,
    client: FlaskClient,
    headers: dict[str, str],
    cid: str,
    mode: str,
    code: str,
    scene: str = "hotel",
) -> dict[str, Any]:
    """Ask for a presentation; assert the 409 and that the store did not change."""
    before = store_rows(app)
    body = problem(ask(client, headers, cid, mode, scene), 409, code)
    assert store_rows(app) == before, "a refused presentation wrote to the store"
    assert client.get("/api/v1/wallet/activity", headers=headers).get_json() == {"items": []}
    return body


# -- revoked and suspended -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_revoked_or_suspended_credential_gets_no_qr(
    api_app: Flask, client: FlaskClient, auth: AuthActions, action: str, mode: str
) -> None:
    headers = auth.citizen()
    cid = card_id(client, headers)
    before = store_rows(api_app)
    assert ask(client, headers, cid, mode).status_code == 201
    assert store_rows(api_app) != before, "the dump does not see a presentation being made"
    department(client, auth, action, cid)
    body = refused(api_app, client, headers, cid, mode, ACTIONS[action])
    # a plain one-line message, nothing about the citizen or the credential
    assert body["detail"] and "\n" not in body["detail"] and cid not in body["detail"]
    assert auth.citizen_ids[0] not in body["detail"]
    # the card list says so too
    items = client.get("/api/v1/wallet/credentials", headers=headers).get_json()["items"]
    assert {i["id"]: i["status"] for i in items}[cid] == action.rstrip("e") + "ed"


@pytest.mark.parametrize("mode", MODES)
def test_a_lifted_suspension_gives_qr_codes_again(
    client: FlaskClient, auth: AuthActions, mode: str
) -> None:
    headers = auth.citizen()
    cid = card_id(client, headers)
    department(client, auth, "suspend", cid)
    problem(ask(client, headers, cid, mode), 409, "credential_suspended")
    department(client, auth, "reinstate", cid)
    assert ask(client, headers, cid, mode).status_code == 201


@pytest.mark.parametrize("value, code", [(1, "credential_revoked"), (2, "credential_suspended")])
def test_the_status_list_entry_alone_is_enough(
    api_app: Flask, client: FlaskClient, auth: AuthActions, value: int, code: str
) -> None:
    """A change whose registry write was lost (the status list is written first): the
    registry still says valid, venues would refuse, so the wallet refuses too."""
    headers = auth.citizen()
    cid = card_id(client, headers)
    store = services_of(api_app).instance.store
    record = store.get_credential(cid)
    assert record is not None and record.state == "valid"
    store.set_status(record.status_uri, record.status_idx, value)
    for mode in MODES:
        refused(api_app, client, headers, cid, mode, code)
    # the card list says the same as the refusal
    items = client.get("/api/v1/wallet/credentials", headers=headers).get_json()["items"]
    assert {i["id"]: i["status"] for i in items}[cid] == code.removeprefix("credential_")


def test_revoked_comes_before_the_scene_checks(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    """What the citizen can do nothing about is said first: not "pick another scene"."""
    headers = auth.citizen()
    cid = card_id(client, headers)
    department(client, auth, "revoke", cid)
    for scene in ("school", "moon_base"):  # does not accept an ID card; does not exist
        refused(api_app, client, headers, cid, "offline", "credential_revoked", scene)


def test_another_citizens_revoked_credential_is_still_not_found(
    client: FlaskClient, auth: AuthActions
) -> None:
    """No status oracle: someone else's credential id answers 404 whatever its state."""
    owner = auth.citizen(0)
    cid = card_id(client, owner)
    department(client, auth, "revoke", cid)
    response = ask(client, auth.citizen(1), cid, "offline")
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"


# -- expired ---------------------------------------------------------------------------


def _set_service_clock(app: Flask, now: float) -> None:
    services_of(app).instance.vault.clock = lambda: now


@pytest.mark.parametrize("mode", MODES)
def test_an_expired_credential_gets_no_qr_after_the_leeway(
    api_app: Flask, client: FlaskClient, auth: AuthActions, mode: str
) -> None:
    headers = auth.citizen()
    cid = card_id(client, headers)
    items = client.get("/api/v1/wallet/credentials", headers=headers).get_json()["items"]
    exp = {i["id"]: i["expires_at"] for i in items}[cid]
    # within the verifier's leeway a verifier would still accept it: so does the wallet
    _set_service_clock(api_app, exp + LEEWAY)
    # the QR book keeps the presentation on the same clock (an entry whose life, measured
    # on another clock, is past its once-space's bound would be refused by the store)
    services_of(api_app).instance.presentations.clock = lambda: exp + LEEWAY
    assert ask(client, headers, cid, mode).status_code == 201
    _set_service_clock(api_app, exp + LEEWAY + 1)
    refused(api_app, client, headers, cid, mode, "credential_expired")
    _set_service_clock(api_app, exp + 10 * 365 * 86400)
    refused(api_app, client, headers, cid, mode, "credential_expired")


def test_revoked_is_said_before_expired(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    """Revocation is for good: it is the reason to give, even past ``exp``."""
    headers = auth.citizen()
    cid = card_id(client, headers)
    department(client, auth, "revoke", cid)
    _set_service_clock(api_app, 2**40)
    refused(api_app, client, headers, cid, "online", "credential_revoked")


# -- the QR images of earlier presentations ----------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_an_earlier_qr_image_is_refused_once_the_credential_cannot_pass(
    client: FlaskClient, auth: AuthActions, action: str, mode: str
) -> None:
    headers = auth.citizen()
    cid = card_id(client, headers)
    shown = ask(client, headers, cid, mode).get_json()
    urls = [f"/api/v1/wallet/presentations/{shown['id']}/qr.{kind}" for kind in ("png", "svg")]
    assert all(client.get(url, headers=headers).status_code == 200 for url in urls)
    department(client, auth, action, cid)
    for url in urls:
        response = client.get(url, headers=headers)
        problem(response, 409, ACTIONS[action])
        assert response.headers["Cache-Control"] == "no-store"
        assert b"<svg" not in response.get_data() and b"PNG" not in response.get_data()
    # another citizen still learns nothing about it
    for url in urls:
        assert client.get(url, headers=auth.citizen(1)).status_code == 404
    if action == "suspend":
        department(client, auth, "reinstate", cid)
        assert all(client.get(url, headers=headers).status_code == 200 for url in urls)


def test_an_earlier_qr_image_is_refused_once_the_credential_expired(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    cid = card_id(client, headers)
    shown = ask(client, headers, cid, "offline").get_json()
    items = client.get("/api/v1/wallet/credentials", headers=headers).get_json()["items"]
    _set_service_clock(api_app, {i["id"]: i["expires_at"] for i in items}[cid] + LEEWAY + 1)
    url = f"/api/v1/wallet/presentations/{shown['id']}/qr.png"
    problem(client.get(url, headers=headers), 409, "credential_expired")


def test_an_online_qr_made_before_a_revocation_verifies_as_revoked(
    client: FlaskClient, auth: AuthActions
) -> None:
    """The QR the phone may still show from before: the venue's answer is "revoked"."""
    headers = auth.citizen()
    cid = card_id(client, headers)
    qr = ask(client, headers, cid, "online").get_json()["qr"]
    department(client, auth, "revoke", cid)
    result = client.post(
        "/api/v1/verify", headers=auth.venue(), json={"qr": qr, "scene": "hotel"}
    ).get_json()
    assert result["valid"] is False and [e["code"] for e in result["errors"]] == ["revoked"]


# -- the contract ----------------------------------------------------------------------


def test_the_openapi_document_lists_the_409s(client: FlaskClient) -> None:
    from openapi_spec_validator import validate

    document = client.get("/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    operations = [
        paths["/api/v1/wallet/credentials/{id}/presentations"]["post"],
        paths["/api/v1/wallet/presentations/{id}/qr.png"]["get"],
        paths["/api/v1/wallet/presentations/{id}/qr.svg"]["get"],
    ]
    for op in operations:
        conflict = op["responses"]["409"]
        assert set(conflict["content"]) == {PROBLEM_MIMETYPE}
        for code in ("credential_revoked", "credential_suspended", "credential_expired"):
            assert code in conflict["description"], op["summary"]


def test_the_wallet_page_explains_every_refusal_in_both_languages() -> None:
    """One explanation (reason and next step) per code, in Chinese and English."""
    from api.pages import LANGUAGES, strings
    from wallet.errors import CredentialUnusable

    codes = {cls.code for cls in CredentialUnusable.__subclasses__()}
    assert codes == {"credential_revoked", "credential_suspended", "credential_expired"}
    for lang in LANGUAGES:
        refused = strings()[lang]["refused"]
        assert set(refused) == codes, lang
        for reason, action in refused.values():
            assert reason and action and "\n" not in reason + action
