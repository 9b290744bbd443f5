"""Online verification: live status, replay shared by workers, activity, live trust list."""

from __future__ import annotations

import pytest

from keys import KeyState, derive_key, generate_secret
from service.verification import OnlineVerifier
from store.interface import Store
from tests.factory import ID_CARD, ID_CLAIMS, World
from wallet import WalletVault


@pytest.fixture
def world(store: Store) -> World:
    return World(store)


@pytest.fixture
def vault(world: World) -> WalletVault:
    return WalletVault(world.store, derive_key(generate_secret(), "test"), clock=world.clock)


def _issue(world: World, vault: WalletVault, citizen: str = "citizen-a") -> str:
    issued = world.issuer.issue(
        world.police.iss,
        ID_CARD,
        subject=citizen,
        claims=ID_CLAIMS,
        holder_jwk=vault.holder_jwk(citizen),
    )
    vault.add(citizen, issued.id, issued.sd_jwt)
    return issued.id


def _online(world: World) -> OnlineVerifier:
    return OnlineVerifier(world.store, world.platform, clock=world.clock)


def _show(world: World, vault: WalletVault, cid: str, scene: str = "hotel") -> str:
    return vault.present("citizen-a", cid, _online(world).verifier().trust_list.scenes[scene]).text


def test_a_revocation_counts_at_once(world: World, vault: WalletVault) -> None:
    cid = _issue(world, vault)
    online = _online(world)
    assert online.verify(_show(world, vault, cid), "hotel", venue_id="grand-hotel").valid
    # made before the revocation (the vault makes none after it), shown after it
    shown_later = _show(world, vault, cid)
    world.issuer.revoke(world.police.iss, cid)
    result = online.verify(shown_later, "hotel", venue_id="grand-hotel")
    assert result.codes == ["revoked"]


def test_a_replay_is_seen_by_another_worker(world: World, vault: WalletVault) -> None:
    cid = _issue(world, vault)
    text = _show(world, vault, cid)
    first, second = _online(world), _online(world)  # two workers, one store
    assert first.verify(text, "hotel", venue_id="grand-hotel").valid
    assert second.verify(text, "hotel", venue_id="city-bank").codes == ["replayed"]


def test_every_check_lands_in_the_citizens_activity(world: World, vault: WalletVault) -> None:
    cid = _issue(world, vault)
    online = _online(world)
    text = _show(world, vault, cid)
    online.verify(text, "hotel", venue_id="grand-hotel")
    world.clock.advance(1)
    online.verify(text, "hotel", venue_id="grand-hotel")  # replayed
    events = world.store.list_activity("citizen-a")
    assert [(e.valid, e.codes) for e in events] == [(False, ("replayed",)), (True, ())]
    newest, oldest = events
    assert oldest.venue_id == "grand-hotel" and oldest.scene == "hotel"
    assert oldest.credential_id == cid and oldest.claims == ("name", "id_number")
    assert newest.claims == ()  # nothing was shown for the failed check
    assert world.store.list_activity("citizen-b") == []


def test_garbage_is_answered_and_logged_nowhere(world: World) -> None:
    result = _online(world).verify("garbage", "hotel", venue_id="grand-hotel")
    assert result.codes == ["malformed"]
    assert world.store.list_activity("citizen-a") == []


def test_a_key_compromise_counts_at_once(world: World, vault: WalletVault) -> None:
    cid = _issue(world, vault)
    online = _online(world)
    assert online.verify(_show(world, vault, cid), "hotel", venue_id="v").valid
    kid = world.keyring.signing_key(world.police.iss).kid
    world.keyring.set_state(kid, KeyState.COMPROMISED)
    result = online.verify(_show(world, vault, cid), "hotel", venue_id="v")
    assert result.codes == ["key_compromised"]
