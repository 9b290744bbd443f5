"""The activity list is newest first even for checks within one second (issue 9).

``at`` is whole seconds; every backend breaks ties by event id, descending, so the
event ids must sort in the order the checks happened (:func:`store.kinds.activity.new_event_id`).
These run on SQLite, Redis and the Redis Cluster (the ``store`` fixture).
"""

from __future__ import annotations

import pytest

from keys import derive_key, generate_secret
from service.verification import OnlineVerifier
from store.interface import Store
from store.kinds.activity import new_event_id
from tests.factory import ID_CARD, ID_CLAIMS, World
from wallet import WalletVault


@pytest.fixture
def world(store: Store) -> World:
    return World(store)


@pytest.fixture
def vault(world: World) -> WalletVault:
    return WalletVault(world.store, derive_key(generate_secret(), "test"), clock=world.clock)


def test_event_ids_sort_in_the_order_they_are_made() -> None:
    ids = [new_event_id() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)


def test_checks_within_one_second_are_listed_newest_first(
    world: World, vault: WalletVault
) -> None:
    issued = world.issuer.issue(
        world.police.iss,
        ID_CARD,
        subject="citizen-a",
        claims=ID_CLAIMS,
        holder_jwk=vault.holder_jwk("citizen-a"),
    )
    vault.add("citizen-a", issued.id, issued.sd_jwt)
    online = OnlineVerifier(world.store, world.platform, clock=world.clock)
    hotel = online.verifier().trust_list.scenes["hotel"]
    # The clock does not move: every check has the same `at`. Venues tell them apart.
    venues = [f"venue-{n:02d}" for n in range(12)]
    for venue in venues:
        text = vault.present("citizen-a", issued.id, hotel).text
        assert online.verify(text, "hotel", venue_id=venue).valid
    events = world.store.list_activity("citizen-a")
    assert len({e.at for e in events}) == 1
    assert [e.venue_id for e in events] == venues[::-1]
