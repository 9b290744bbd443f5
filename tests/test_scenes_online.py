"""What ``"online": true`` on a scene means (docs/scenes.md).

A scene that needs a live status check (SIM cards, notary, marriage, money, property…)
is verified only against live status: the service's own verification path
(``POST /api/v1/verify``, with a plain presentation or an online ``/p/`` code) is live;
an offline verifier -- a bundle in a program, ``ecert verify`` -- refuses it with
``online_check_required`` before reading it. A scene without the flag is verified both
ways, as before.
"""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient

from tests.api_helpers import BASE_URL, AuthActions, api_app, auth, card_id, client, demo
from tests.test_cli import Cli, Setup, cli, present, ready
from verifier import Verifier

# The fixtures used by name below.
__all__ = ["api_app", "auth", "cli", "client", "demo", "ready"]

ONLINE_SCENE = "sim_card"  # at the demo's telecom hall
VENUE = "telecom-hall"


def _show(client: FlaskClient, headers: dict[str, str], mode: str, scene: str) -> str:
    response = client.post(
        f"/api/v1/wallet/credentials/{card_id(client, headers)}/presentations",
        headers=headers,
        json={"scene": scene, "mode": mode},
    )
    assert response.status_code == 201, response.get_json()
    qr: str = response.get_json()["qr"]
    return qr


def _verify(client: FlaskClient, auth: AuthActions, qr: str, scene: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/verify", headers=auth.venue(VENUE), json={"qr": qr, "scene": scene}
    )
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def _bundle_verifier(client: FlaskClient) -> Verifier:
    anchor = client.get("/api/v1/verifier/anchor").get_json()
    return Verifier(client.get("/api/v1/verifier/bundle").get_json(), anchor=anchor)


def test_an_online_scene_is_verified_live_by_the_service(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    plain = _show(client, headers, "offline", ONLINE_SCENE)
    result = _verify(client, auth, plain, ONLINE_SCENE)
    assert result["valid"] is True, result["errors"]
    assert set(result["claims"]) == {"name", "id_number"}

    online = _show(client, headers, "online", ONLINE_SCENE)
    assert online.startswith(BASE_URL + "/p/")
    result = _verify(client, auth, online, ONLINE_SCENE)
    assert result["valid"] is True, result["errors"]


def test_an_online_scene_is_refused_by_a_bundle_unread(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    text = _show(client, headers, "offline", ONLINE_SCENE)
    offline = _bundle_verifier(client)
    assert offline.trust_list.scenes[ONLINE_SCENE].online is True
    result = offline.verify(text, ONLINE_SCENE).to_dict()
    assert result["valid"] is False
    assert [e["code"] for e in result["errors"]] == ["online_check_required"]
    assert result["claims"] == {} and result["vct"] is None and result["iss"] is None
    # raw garbage gets the same answer: the presentation is not read at all
    garbage = offline.verify("not a presentation", ONLINE_SCENE)
    assert garbage.codes == ["online_check_required"]
    # a scene without the flag is verified offline as before
    hotel = _show(client, headers, "offline", "hotel")
    assert offline.verify(hotel, "hotel").valid


def test_the_scene_api_says_which_scenes_need_an_online_check(client: FlaskClient) -> None:
    scenes = {s["id"]: s for s in client.get("/api/v1/scenes").get_json()}
    assert scenes[ONLINE_SCENE]["online"] is True
    assert scenes["hotel"]["online"] is False
    assert scenes[ONLINE_SCENE]["category"] == {
        "id": "telecom",
        "name": {"zh": "通信", "en": "Telecommunications"},
    }
    assert all(s["category"] is not None for s in scenes.values())


def test_ecert_verify_refuses_an_online_scene(cli: Cli, ready: Setup) -> None:
    text = present(cli, ready, scene=ONLINE_SCENE)
    run = cli("verify", text, *ready.verify_args(), "--scene", ONLINE_SCENE)
    assert run.code == 1
    result = run.json()
    assert [e["code"] for e in result["errors"]] == ["online_check_required"]
    assert result["claims"] == {}
    assert json.dumps(result, ensure_ascii=False).count("11010119851130002X") == 0
    # the same citizen's hotel presentation still verifies offline
    assert cli("verify", present(cli, ready), *ready.verify_args()).code == 0
