"""OpenID4VP for a scene that needs several certificates together (``all_of``): the
request's DCQL query asks for every member (no credential sets: all required), the wallet's
``vp_token`` answers each query, and the service verifies the answers together as one set
presentation (one holder, the request's nonce and client id), naming a failing member."""

from __future__ import annotations

import urllib.parse
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.api_helpers import AuthActions, api_app, auth, client, demo, services_of
from tests.test_devices_api import copies, new_key, registered
from tests.test_oid4vp import REQUESTS, Asked, Phone, _segment, answer
from tests.test_sets_api import BIRTH, HOUSEHOLD, SCHOOL, School, school
from verifier.dcql import parse_query

__all__ = ["api_app", "auth", "client", "demo", "school"]


def ask_school(client: FlaskClient, venue: dict[str, str]) -> Asked:
    made = client.post(
        REQUESTS, json={"scene": SCHOOL, "response_mode": "direct_post.jwt"}, headers=venue
    )
    assert made.status_code == 201, made.get_json()
    fetched = client.get(urllib.parse.urlsplit(made.get_json()["request_uri"]).path)
    token = fetched.get_data(as_text=True)
    return Asked(made.get_json()["id"], _segment(token, 0), _segment(token, 1), token)


def phones(client: FlaskClient, citizen: dict[str, str]) -> dict[str, Phone]:
    key = new_key()
    device = registered(client, citizen, key)
    return {item["vct"]: Phone(key, item["sd_jwt"]) for item in copies(client, citizen, device)}


def result_of(client: FlaskClient, venue: dict[str, str], asked: Asked) -> dict[str, Any]:
    got = client.get(f"{REQUESTS}/{asked.id}", headers=venue)
    assert got.status_code == 200, got.get_json()
    body: dict[str, Any] = got.get_json()
    return body


def test_a_set_scene_is_asked_as_one_option_and_answered_together(
    api_app: Flask, client: FlaskClient, school: School
) -> None:
    asked = ask_school(client, school.venue)
    query = parse_query(asked.payload["dcql_query"])
    # without credential_sets every Credential Query is required (OpenID4VP 1.0 §6.4.2)
    assert query.credential_sets is None
    assert sorted(q.id for q in query.credentials) == [
        "birth-medical-certificate",
        "household-register",
    ]
    held = phones(client, school.citizen)
    shown = {
        "household-register": [held[HOUSEHOLD].present(asked, ["name", "id_number", "address"])],
        "birth-medical-certificate": [
            held[BIRTH].present(asked, ["name", "birth_date", "mother_name"])
        ],
    }
    got = answer(client, asked, shown)
    assert got.status_code == 200, got.get_json()
    body = result_of(client, school.venue, asked)
    result = body["result"]
    assert body["state"] == "answered" and result["valid"], result
    assert sorted(m["vct"] for m in result["members"]) == [BIRTH, HOUSEHOLD]
    assert set(result["claims"][HOUSEHOLD]) == {"name", "id_number", "address"}
    assert set(result["claims"][BIRTH]) == {"name", "birth_date", "mother_name"}


def test_a_set_answer_with_a_member_revoked_is_refused_naming_it(
    api_app: Flask, client: FlaskClient, school: School
) -> None:
    held = phones(client, school.citizen)
    svc = services_of(api_app)
    svc.issuance.revoke(svc.platform.issuer("health"), school.birth)
    asked = ask_school(client, school.venue)
    shown = {
        "household-register": [held[HOUSEHOLD].present(asked, ["name", "id_number", "address"])],
        "birth-medical-certificate": [
            held[BIRTH].present(asked, ["name", "birth_date", "mother_name"])
        ],
    }
    answer(client, asked, shown)
    result = result_of(client, school.venue, asked)["result"]
    assert not result["valid"] and result["claims"] == {}
    assert [(e["code"], e["vct"]) for e in result["errors"]] == [("revoked", BIRTH)]


def test_one_member_alone_does_not_satisfy_the_query(
    client: FlaskClient, school: School, auth: AuthActions
) -> None:
    held = phones(client, school.citizen)
    asked = ask_school(client, school.venue)
    alone = {
        "household-register": [held[HOUSEHOLD].present(asked, ["name", "id_number", "address"])]
    }
    got = answer(client, asked, alone)
    assert got.status_code == 400
    assert got.get_json()["code"] == "vp_presentation_refused"
