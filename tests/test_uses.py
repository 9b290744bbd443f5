"""Every verification over HTTP, answered or refused, is published once as a use
(service/uses.py) to the listeners the audit chain and the counters subscribe: with the
citizen's pseudonym, never their id, and claim names only."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from service.uses import Use
from tests.api_helpers import AuthActions, api_app, auth, card_id, client, demo, services_of
from tests.test_api_endpoints import present, verify

__all__ = ["api_app", "auth", "client", "demo"]


def test_each_verification_is_published_once_with_the_citizens_pseudonym(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ecert = services_of(api_app)
    seen: list[Use] = []
    ecert.uses.subscribe(seen.append)
    citizen = auth.citizen()
    qr = present(client, citizen, card_id(client, citizen))
    assert verify(client, auth, qr).get_json()["valid"] is True
    assert verify(client, auth, qr).get_json()["valid"] is False  # replayed
    assert verify(client, auth, "not a presentation").get_json()["valid"] is False
    assert [u.accepted for u in seen] == [True, False, False]
    first, replayed, forged = seen
    pseudonym = ecert.pseudonyms.of(auth.citizen_ids[0])
    assert first.subject == replayed.subject == pseudonym and forged.subject == ""
    assert {u.kind for u in seen} == {"verification"}
    assert {(u.actor_kind, u.actor, u.topic) for u in seen} == {("venue", "grand-hotel", "hotel")}
    assert "name" in first.fields and first.codes == ()
    assert "replayed" in replayed.codes and forged.codes
    assert len({u.event_id for u in seen}) == 3
    # the accepted check's event is the citizen's activity entry
    activity = ecert.store.list_activity(pseudonym, 10)
    assert first.event_id in {a.event_id for a in activity}
