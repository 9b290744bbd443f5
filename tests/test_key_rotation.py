"""Keys over time: a rotation with a lead time, the automatic switch, retirement until the
last credential expires, and compromise, as offline verifiers holding bundles exported
before, during and after the rollover see them (issue 10, "Keys over time").

Every clock is injected (``tests.factory.Clock``): no sleeps. The credentials are real
SD-JWT VCs issued by the service's issuer and presented by a real wallet; the verifiers
are :class:`verifier.Verifier` built from the signed bundles alone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from issuer import CredentialIssuer, Keyring, Platform, StatusRegistry
from issuer.errors import KeyLeadTooShort, NoSigningKey
from issuer.keyring import SETTLE_AFTER, VERIFY_GRACE
from keys import KeyState, KeyStateError, KeyWrapper, generate_secret
from keys.b64 import b64url_decode
from keys.trustlist import DEFAULT_TTL
from store.interface import CredentialRecord, Store
from tests.factory import BASE_URL, ID_CARD, ID_CLAIMS, NOW, Clock, World, run_threads
from verifier import Verifier
from wallet import HeldCredential, Wallet

POLICE = f"{BASE_URL}/issuers/police"
#: An ID card whose document ends the day after NOW (2027-01-15): its credential expires
#: at the end of 2027-01-16 in China (UTC+8).
SHORT = dict(ID_CLAIMS, valid_until="2027-01-16")
SHORT_EXP = 1_800_000_000 + 32 * 3600  # 2027-01-17T00:00+08:00


def kid_of(held: HeldCredential) -> str:
    """The ``kid`` in the issuer-signed JWT's header, read from the raw bytes."""
    header = json.loads(b64url_decode(held.sd_jwt.split(".", 1)[0]))
    kid: str = header["kid"]
    return kid


def jwks_kids(bundle: dict[str, Any], world: World) -> set[str]:
    verifier = Verifier(bundle, anchor=world.anchor_jwk, clock=world.clock)
    return set(verifier.trust_list.issuers[POLICE].keys)


def codes(bundle: dict[str, Any], world: World, held: HeldCredential, wallet: Wallet) -> list[str]:
    """What a venue holding ``bundle`` (and nothing else) says of ``held`` now."""
    verifier = Verifier(bundle, anchor=world.anchor_jwk, clock=world.clock)
    presentation = wallet.present_for_scene(held, verifier.trust_list.scenes["hotel"])
    return verifier.verify(presentation, "hotel").codes


def states(store: Store) -> dict[str, str]:
    return {r.kid: r.state for r in store.list_keys(POLICE)}


def test_a_rollover_as_offline_venues_see_it_before_during_and_after(store: Store) -> None:
    world = World(store)
    clock = world.clock
    old = world.keyring.signing_key(POLICE).kid
    held_old, wallet = world.issue_id_card(claims=SHORT)
    assert kid_of(held_old) == old
    before = world.bundle()

    clock.advance(10)
    pending = world.keyring.rotate(POLICE)  # the default lead: the trust list's ttl
    new = pending.kid
    assert pending.state == "pending" and pending.activate_at == NOW + 10 + DEFAULT_TTL
    during = world.bundle()
    assert jwks_kids(before, world) == {old}
    assert jwks_kids(during, world) == {old, new}  # published before it signs

    # Before the switch no credential of the new key exists: the old key still signs.
    clock.now = pending.activate_at - 1
    held_mid, _ = world.issue_id_card(wallet, claims=SHORT)
    assert kid_of(held_mid) == old
    assert states(store) == {old: "active", new: "pending"}

    # The switch needs no one: the first signature after activate_at promotes the key.
    clock.now = pending.activate_at
    version = store.trust_version()
    held_new, _ = world.issue_id_card(wallet)
    assert kid_of(held_new) == new
    assert states(store) == {old: "retired", new: "active"}
    retired = store.get_key(old)
    assert retired is not None and retired.retired_at == pending.activate_at
    assert store.trust_version() != version  # online verifiers rebuild

    # A venue that synced during the lead already knows the new key; one that did not
    # sync for longer than the ttl meets a key it never learned.
    assert codes(during, world, held_new, wallet) == []
    assert codes(during, world, held_old, wallet) == []
    assert codes(before, world, held_new, wallet) == ["unknown_key"]
    after = world.bundle()
    assert jwks_kids(after, world) == {old, new}
    assert codes(after, world, held_old, wallet) == []
    assert codes(after, world, held_new, wallet) == []

    # Once the retired key has settled, the registry says when its last credential ends.
    clock.advance(SETTLE_AFTER)
    world.bundle()
    retired = store.get_key(old)
    assert retired is not None and retired.verify_until == SHORT_EXP + VERIFY_GRACE

    # Up to then (the verifiers' leeway included) the old credentials verify ...
    clock.now = SHORT_EXP + VERIFY_GRACE - 1
    last_day = world.bundle()
    assert jwks_kids(last_day, world) == {old, new}
    assert codes(last_day, world, held_mid, wallet) == []

    # ... then the old key leaves the trust list, and what it signed fails.
    clock.now = SHORT_EXP + VERIFY_GRACE
    gone = world.bundle()
    assert jwks_kids(gone, world) == {new}
    assert codes(gone, world, held_mid, wallet) == ["unknown_key"]
    assert codes(gone, world, held_new, wallet) == []
    assert states(store) == {old: "retired", new: "active"}  # kept, as a record


def test_a_compromised_key_fails_for_venues_with_the_new_trust_list(store: Store) -> None:
    world = World(store)
    clock = world.clock
    old = world.keyring.signing_key(POLICE).kid
    held, wallet = world.issue_id_card()
    old_bundle = world.bundle()

    clock.advance(60)
    replacement = world.keyring.compromise(old)
    assert replacement is not None and replacement.kid != old
    assert states(store) == {old: "compromised", replacement.kid: "active"}
    record = store.get_key(replacement.kid)
    assert record is not None and record.activate_at == NOW + 60  # no lead: at once
    new_bundle = world.bundle()
    verifier = Verifier(new_bundle, anchor=world.anchor_jwk, clock=clock)
    assert old in verifier.trust_list.issuers[POLICE].revoked_kids
    assert old not in verifier.trust_list.issuers[POLICE].keys

    # A venue that has not synced yet still accepts it (offline: it learns at its next
    # sync); one with the new trust list refuses it.
    assert codes(old_bundle, world, held, wallet) == []
    assert codes(new_bundle, world, held, wallet) == ["key_compromised"]
    # The old key never signs again; the new one does, and verifies.
    fresh, _ = world.issue_id_card(wallet)
    assert kid_of(fresh) == replacement.kid
    assert codes(new_bundle, world, fresh, wallet) == []

    # Reported again (a rerun after a crash): nothing more changes.
    assert world.keyring.compromise(old) is None
    assert world.keyring.signing_key(POLICE).kid == replacement.kid


def test_a_compromise_activates_the_published_pending_key_first(store: Store) -> None:
    world = World(store)
    old = world.keyring.signing_key(POLICE).kid
    world.issue_id_card()  # its status list is in the bundle
    pending = world.keyring.rotate(POLICE)
    during = world.bundle()
    world.clock.advance(5)
    replacement = world.keyring.compromise(old)
    assert replacement is not None and replacement.kid == pending.kid
    held, wallet = world.issue_id_card()
    assert kid_of(held) == pending.kid
    # A venue that synced during the lead verifies the replacement's credentials.
    assert codes(during, world, held, wallet) == []


def test_compromising_a_retired_key_leaves_the_active_one(store: Store) -> None:
    world = World(store)
    old = world.keyring.signing_key(POLICE).kid
    pending = world.keyring.rotate(POLICE, lead=0, force=True)
    # A key activates at least one second after the one it replaces (they rank by it).
    assert pending.activate_at == NOW + 1
    assert world.keyring.signing_key(POLICE).kid == old
    world.clock.advance(1)
    assert world.keyring.signing_key(POLICE).kid == pending.kid
    assert world.keyring.compromise(old) is None
    assert states(store) == {old: "compromised", pending.kid: "active"}
    with pytest.raises(NoSigningKey):
        world.keyring.compromise("no-such-kid")


def test_the_lead_is_at_least_the_trust_list_ttl_unless_forced(store: Store) -> None:
    world = World(store)
    with pytest.raises(KeyLeadTooShort) as err:
        world.keyring.rotate(POLICE, lead=DEFAULT_TTL - 1)
    assert err.value.code == "key_lead_too_short"
    assert len(store.list_keys(POLICE)) == 1  # nothing made
    for bad in (-1, 11 * 366 * 86400):
        with pytest.raises(KeyStateError):
            world.keyring.rotate(POLICE, lead=bad, force=True)
    forced = world.keyring.rotate(POLICE, lead=60, force=True)
    assert forced.activate_at == NOW + 60
    longer = world.keyring.rotate(POLICE, lead=7 * 86400)
    assert longer.activate_at == NOW + 7 * 86400
    world.clock.advance(60)
    assert world.keyring.signing_key(POLICE).kid == forced.kid
    assert states(store)[longer.kid] == "pending"


def test_workers_racing_the_switch_promote_once(store: Store) -> None:
    clock = Clock()
    wrapper = KeyWrapper(generate_secret())
    first = Keyring(store, wrapper, clock=clock)
    old = first.create(POLICE).kid
    pending = first.rotate(POLICE)
    clock.now = pending.activate_at
    # Eight workers, each with its own keyring, ask for the signing key at once.
    kids = run_threads(8, lambda _: Keyring(store, wrapper, clock=clock).signing_key(POLICE).kid)
    assert kids == [pending.kid] * 8
    assert states(store) == {old: "retired", pending.kid: "active"}
    retired = store.get_key(old)
    assert retired is not None and retired.retired_at == pending.activate_at


def test_a_crash_between_promotion_and_retirement_is_finished_by_the_next_call(
    store: Store,
) -> None:
    clock = Clock()
    keyring = Keyring(store, KeyWrapper(generate_secret()), clock=clock)
    old = keyring.create(POLICE).kid
    pending = keyring.rotate(POLICE)
    clock.now = pending.activate_at + 5
    # A worker promoted the key and died before retiring the old one: two are active.
    assert store.update_key(pending.kid, expect="pending", state="active")
    assert keyring.signing_key(POLICE).kid == pending.kid  # the one activated last
    assert states(store) == {old: "retired", pending.kid: "active"}


def test_a_late_credential_of_the_retired_key_keeps_it_published(store: Store) -> None:
    """An issuance that read the old key just before the switch puts its registry record
    after it: the last expiry is asked of the registry only once the key has settled."""
    world = World(store)
    clock = world.clock
    old = world.keyring.signing_key(POLICE).kid
    world.issue_id_card(claims=SHORT)
    new = world.keyring.rotate(POLICE, lead=0, force=True).kid
    clock.advance(1)
    assert world.keyring.signing_key(POLICE).kid == new
    assert jwks_kids(world.bundle(), world) == {old, new}  # a bundle right after the switch
    clock.advance(30)
    late = NOW + 400 * 86400  # a year and more: the lists' lifetimes do not matter here
    store.put_credential(
        CredentialRecord("late", ID_CARD, POLICE, "ps_x", old, f"{POLICE}/status/1", 7, NOW, late)
    )
    # Revoked credentials do not keep a key alive.
    store.put_credential(
        CredentialRecord(
            "dead", ID_CARD, POLICE, "ps_y", old, f"{POLICE}/status/1", 8, NOW, late + 99,
            "revoked",
        )
    )  # fmt: skip
    assert old in jwks_kids(world.bundle(), world)
    clock.advance(SETTLE_AFTER)
    assert old in jwks_kids(world.bundle(), world)
    record = store.get_key(old)
    assert record is not None and record.verify_until == late + VERIFY_GRACE
    clock.now = late + VERIFY_GRACE
    assert jwks_kids(world.bundle(), world) == {new}


def test_explicit_activation_and_retirement_still_work(store: Store) -> None:
    clock = Clock()
    keyring = Keyring(store, KeyWrapper(generate_secret()), clock=clock)
    status = StatusRegistry(store, list_size=64, clock=clock)
    platform = Platform(store, keyring, base_url=BASE_URL, clock=clock)
    platform.ensure_anchor()
    platform.register_issuer("police", name_zh="市公安局", name_en="City Police", vcts=[ID_CARD])
    issuer = CredentialIssuer(store, keyring, status, clock=clock)
    old = keyring.signing_key(POLICE).kid
    pending = keyring.rotate(POLICE, lead=86400)
    clock.advance(100)
    keyring.set_state(pending.kid, KeyState.ACTIVE)  # early, by hand
    assert states(store) == {old: "retired", pending.kid: "active"}
    issued = issuer.issue(
        POLICE, ID_CARD, subject="c", claims=ID_CLAIMS, holder_jwk=Wallet().holder_jwk
    )
    assert issued.record.kid == pending.kid
    # The scheduled time passing later changes nothing more.
    clock.now = pending.activate_at + 1
    assert keyring.signing_key(POLICE).kid == pending.kid
    assert states(store) == {old: "retired", pending.kid: "active"}
