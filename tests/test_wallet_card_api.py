"""What the wallet page shows of a card (issue 9): the document's own validity, not the
credential's technical expiry, and every field of the card with its label."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.api_helpers import ID_CARD, ID_CLAIMS, AuthActions, api_app, auth, client, demo

# The fixtures of tests/api_helpers.py, used by name below.
__all__ = ["api_app", "auth", "client", "demo"]


def _issue(client: FlaskClient, auth: AuthActions, claims: dict[str, Any]) -> str:
    response = client.post(
        "/api/v1/issuers/police/credentials",
        headers=auth.department("police"),
        json={"vct": ID_CARD, "citizen_id": auth.citizen_ids[0], "claims": claims},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["id"])


def _items(client: FlaskClient, auth: AuthActions) -> dict[str, dict[str, Any]]:
    response = client.get("/api/v1/wallet/credentials", headers=auth.citizen())
    assert response.status_code == 200
    return {item["id"]: item for item in response.get_json()["items"]}


def test_the_card_list_gives_the_documents_own_valid_until(
    client: FlaskClient, auth: AuthActions
) -> None:
    dated = _issue(client, auth, ID_CLAIMS)
    long_term = _issue(client, auth, {k: v for k, v in ID_CLAIMS.items() if k != "valid_until"})
    items = _items(client, auth)
    assert items[dated]["valid_until"] == ID_CLAIMS["valid_until"] == "2039-01-01"
    assert items[dated]["long_term"] is False
    # The technical expiry is the catalogue's ten years from now, not the document's date.
    assert isinstance(items[dated]["expires_at"], int)
    assert items[long_term]["valid_until"] is None
    assert items[long_term]["long_term"] is True
    opened = client.get(f"/api/v1/wallet/credentials/{dated}", headers=auth.citizen())
    body = opened.get_json()
    assert body["valid_until"] == "2039-01-01" and body["long_term"] is False


def test_an_opened_card_lists_every_field_with_its_label_in_catalogue_order(
    client: FlaskClient, auth: AuthActions
) -> None:
    cid = _issue(client, auth, ID_CLAIMS)
    body = client.get(f"/api/v1/wallet/credentials/{cid}", headers=auth.citizen()).get_json()
    names = [field["name"] for field in body["fields"]]
    assert names[:3] == ["name", "sex", "ethnicity"]
    assert set(ID_CLAIMS) <= set(names)
    labels = {field["name"]: field["label"] for field in body["fields"]}
    assert labels["id_number"] == {"zh": "公民身份号码", "en": "Citizen ID number"}
