"""The settle of an online verification (store/kinds/settle.py): one store operation for
status value, nonce, registry lookup and activity, on SQLite, Redis and a Redis Cluster,
against the same step made of the per-kind calls (``settle_by_parts``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from store.interface import (
    ACTIVITY_CAP,
    ActivityRecord,
    CredentialRecord,
    StatusListRecord,
    Store,
)
from store.kinds.settle import SettleOutcome, SettleRequest, SettleStore, settle_by_parts

URI = "https://ecert.example/status/police/1"
ISS = "https://ecert.example/issuers/police"
SUBJECT = "ps_citizen-a"
NOW = 1_800_000_000.0

Settle = Callable[[Store, SettleRequest], SettleOutcome]


def _fast(store: Store, request: SettleRequest) -> SettleOutcome:
    assert isinstance(store, SettleStore)
    return store.settle(request)


@pytest.fixture(
    params=[pytest.param(_fast, id="one-op"), pytest.param(settle_by_parts, id="parts")]
)
def settle(request: pytest.FixtureRequest) -> Settle:
    way: Settle = request.param
    return way


@pytest.fixture
def world(store: Store) -> Store:
    store.create_status_list(StatusListRecord(URI, ISS, 2, 64, 1000))
    store.put_credential(
        CredentialRecord(
            id="cred-1",
            vct="urn:ecert:id-card",
            issuer=ISS,
            subject=SUBJECT,
            kid="k1",
            status_uri=URI,
            status_idx=7,
            issued_at=1000,
            expires_at=int(NOW) + 86400,
        )
    )
    return store


def _draft(event_id: str = "ev1", at: int = int(NOW)) -> ActivityRecord:
    return ActivityRecord(
        event_id=event_id,
        citizen_id="",
        at=at,
        venue_id="grand-hotel",
        scene="hotel",
        vct="urn:ecert:id-card",
        credential_id=None,
        claims=("name", "id_number"),
        valid=True,
        codes=(),
    )


def _request(**kw: object) -> SettleRequest:
    request = SettleRequest(
        status=(URI, 7),
        registry=(URI, 7),
        issuer=ISS,
        nonce="kb-nonce:n1",
        nonce_expires_at=NOW + 120,
        now=NOW,
        activity=_draft(),
    )
    return dataclasses.replace(request, **kw)  # type: ignore[arg-type]  # kw: any field


def test_a_good_presentation_is_settled_and_logged(world: Store, settle: Settle) -> None:
    outcome = settle(world, _request())
    assert (outcome.status, outcome.fresh, outcome.logged) == (0, True, True)
    assert outcome.credential is not None and outcome.credential.id == "cred-1"
    (event,) = world.list_activity(SUBJECT)
    assert event == dataclasses.replace(_draft(), citizen_id=SUBJECT, credential_id="cred-1")
    # the nonce is used up
    assert world.remember_nonce("kb-nonce:n1", NOW + 120, NOW + 1) is False


def test_a_replay_is_refused_and_not_logged_as_drafted(world: Store, settle: Settle) -> None:
    assert world.remember_nonce("kb-nonce:n1", NOW + 120, NOW - 5)
    outcome = settle(world, _request())
    assert (outcome.status, outcome.fresh, outcome.logged) == (0, False, False)
    assert outcome.credential is not None  # the caller logs the replay itself
    assert world.list_activity(SUBJECT) == []


@pytest.mark.parametrize("value", [1, 2, 3])
def test_a_revoked_credential_does_not_use_up_its_nonce(
    world: Store, settle: Settle, value: int
) -> None:
    world.set_status(URI, 7, value)
    outcome = settle(world, _request())
    assert (outcome.status, outcome.fresh, outcome.logged) == (value, None, False)
    assert outcome.credential is not None
    assert world.list_activity(SUBJECT) == []
    assert world.remember_nonce("kb-nonce:n1", NOW + 120, NOW + 1) is True


def test_an_expired_nonce_left_behind_does_not_count(world: Store, settle: Settle) -> None:
    # the SQLite settle purges expired nonces at most once a second: the row may remain
    assert world.remember_nonce("kb-nonce:n1", NOW - 10, NOW - 20)
    assert settle(world, _request()).fresh is True
    assert settle(world, _request(now=NOW + 1, activity=_draft("ev2"))).fresh is False


def test_only_what_was_asked_is_done(world: Store, settle: Settle) -> None:
    outcome = settle(world, _request(status=None, nonce=None))
    assert (outcome.status, outcome.fresh, outcome.logged) == (None, None, True)
    outcome = settle(world, _request(registry=None, activity=_draft("ev2")))
    assert (outcome.status, outcome.fresh, outcome.credential, outcome.logged) == (
        0,
        True,
        None,
        False,
    )
    assert [e.event_id for e in world.list_activity(SUBJECT)] == ["ev1"]


def test_no_activity_without_the_credential_of_the_issuer(world: Store, settle: Settle) -> None:
    other = settle(world, _request(issuer="https://ecert.example/issuers/civil-affairs"))
    assert (other.credential, other.logged) == (None, False)
    empty = settle(world, _request(registry=(URI, 8), status=(URI, 8), nonce="kb-nonce:n2"))
    assert (empty.status, empty.fresh, empty.credential, empty.logged) == (0, True, None, False)
    assert world.list_activity(SUBJECT) == []


def test_the_activity_cap_holds(world: Store, settle: Settle) -> None:
    for n in range(ACTIVITY_CAP):
        world.add_activity(
            dataclasses.replace(
                _draft(f"old{n:04d}", at=n), citizen_id=SUBJECT, credential_id="cred-1"
            )
        )
    assert settle(world, _request()).logged
    events = world.list_activity(SUBJECT, limit=ACTIVITY_CAP + 10)
    assert len(events) == ACTIVITY_CAP
    assert events[0].event_id == "ev1" and events[-1].event_id == "old0001"
