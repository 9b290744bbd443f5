"""The online verification's fast path: the deferred status and replay checks settled in
one store operation, and the per-worker caches (trust version, status lists, venue keys),
each with an injected clock (no sleeps, no timings)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keys import KeyState, derive_key, generate_secret
from service import verification
from service.errors import AuthError
from service.verification import OnlineVerifier, StatusLists, VenueKeys
from store.interface import ApiKeyRecord, StatusListRecord, Store, VenueRecord
from store.kinds.settle import SettleOutcome, SettleRequest
from tests.factory import ID_CARD, ID_CLAIMS, Clock, World
from verifier.deferred import Deferral, apply_settled, deferring
from verifier.result import VerificationResult
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


def _show(world: World, vault: WalletVault, online: OnlineVerifier, cid: str) -> str:
    return vault.present("citizen-a", cid, online.verifier().trust_list.scenes["hotel"]).text


def _online(world: World, *, check_every: float = 0.0) -> OnlineVerifier:
    return OnlineVerifier(world.store, world.platform, clock=world.clock, check_every=check_every)


# -- between the signature check and the settle --------------------------------------


@pytest.fixture
def between(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Calls put in the list run (once) after the checks and before the settle."""
    pending: list[object] = []
    real = verification.settle

    def settle_later(store: Store, request: SettleRequest) -> SettleOutcome:
        while pending:
            action = pending.pop(0)
            assert callable(action)
            action()
        return real(store, request)

    monkeypatch.setattr(verification, "settle", settle_later)
    yield pending


@pytest.mark.parametrize(("change", "status"), [("revoke", "revoked"), ("suspend", "suspended")])
def test_a_revocation_between_the_checks_and_the_settle_counts(
    world: World, vault: WalletVault, between: list[object], change: str, status: str
) -> None:
    cid = _issue(world, vault)
    online = _online(world)
    text = _show(world, vault, online, cid)
    between.append(lambda: getattr(world.issuer, change)(world.police.iss, cid))
    result = online.verify(text, "hotel", venue_id="grand-hotel")
    assert (result.codes, result.status, result.claims) == ([status], status, {})
    (event,) = world.store.list_activity("citizen-a")
    assert (event.valid, event.codes, event.claims, event.credential_id) == (
        False,
        (status,),
        (),
        cid,
    )
    if change == "suspend":  # a refused presentation did not use up its nonce
        world.issuer.reinstate(world.police.iss, cid)
        assert online.verify(text, "hotel", venue_id="grand-hotel").valid


def test_a_replay_between_the_checks_and_the_settle_is_refused(
    world: World, vault: WalletVault, between: list[object]
) -> None:
    cid = _issue(world, vault)
    online, other_worker = _online(world), _online(world)
    text = _show(world, vault, online, cid)
    won: list[VerificationResult] = []
    between.append(lambda: won.append(other_worker.verify(text, "hotel", venue_id="city-bank")))
    result = online.verify(text, "hotel", venue_id="grand-hotel")
    assert won[0].valid
    assert (result.codes, result.status, result.claims) == (["replayed"], "valid", {})
    events = world.store.list_activity("citizen-a")
    assert sorted((e.venue_id, e.valid, e.codes) for e in events) == [
        ("city-bank", True, ()),
        ("grand-hotel", False, ("replayed",)),
    ]


@pytest.mark.parametrize("change", ["revoke", "suspend"])
def test_the_settled_result_is_the_live_result(
    world: World, vault: WalletVault, change: str
) -> None:
    cid = _issue(world, vault)
    online = _online(world)
    first, second = _show(world, vault, online, cid), _show(world, vault, online, cid)
    getattr(world.issuer, change)(world.police.iss, cid)
    live = online.verifier().verify(first, "hotel")  # outside deferring(): live sources
    settled = online.verify(second, "hotel", venue_id="grand-hotel")
    assert settled.to_dict() == live.to_dict()
    assert not settled.valid


def test_a_settled_replay_is_the_live_replay(world: World, vault: WalletVault) -> None:
    cid = _issue(world, vault)
    online = _online(world)
    text = _show(world, vault, online, cid)
    assert online.verifier().verify(text, "hotel").valid  # live: uses up the nonce
    settled = online.verify(text, "hotel", venue_id="grand-hotel")
    assert settled.codes == ["replayed"]
    assert settled.to_dict() == online.verifier().verify(text, "hotel").to_dict()


def test_a_status_error_goes_before_the_scene_policy_error() -> None:
    result = VerificationResult(scene="hotel", checked_at=1, status="valid")
    result.errors.append({"code": "expired", "message": "e"})
    result.errors.append({"code": "scene_unmet", "message": "s"})
    deferral = Deferral()
    deferral.status = ("u", 1)
    apply_settled(result, deferral, 1, None)
    assert result.codes == ["expired", "revoked", "scene_unmet"]
    assert result.status == "revoked"


def test_outside_deferring_nothing_is_deferred(world: World, vault: WalletVault) -> None:
    cid = _issue(world, vault)
    online = _online(world)
    text = _show(world, vault, online, cid)
    verifier = online.verifier()
    with deferring():
        pass
    assert verifier.verify(text, "hotel").valid
    assert verifier.verify(text, "hotel").codes == ["replayed"]


# -- the trust version, at most once per check_every ----------------------------------


def test_the_trust_version_is_read_at_most_once_per_check_every(
    world: World, vault: WalletVault
) -> None:
    cid = _issue(world, vault)
    online = _online(world, check_every=1.0)
    text = _show(world, vault, online, cid)
    before = online.verifier()
    kid = world.keyring.signing_key(world.police.iss).kid
    world.keyring.set_state(kid, KeyState.COMPROMISED)
    world.clock.advance(0.5)
    assert online.verifier() is before  # a compromise counts up to a second later
    world.clock.advance(0.5)
    assert online.verify(text, "hotel", venue_id="grand-hotel").codes == ["key_compromised"]


def test_by_default_the_trust_version_is_read_every_time(world: World) -> None:
    online = _online(world)
    before = online.verifier()
    world.platform.register_issuer("health", name_zh="卫健委", name_en="Health", vcts=[])
    assert online.verifier() is not before


# -- status list records ----------------------------------------------------------------


def test_status_list_records_are_kept_bounded_and_unknown_ones_never(store: Store) -> None:
    lists = StatusLists(store, kept=2)
    assert lists.get("https://x/1") is None and len(lists) == 0
    for n in (1, 2, 3):
        store.create_status_list(StatusListRecord(f"https://x/{n}", "https://x", 2, 16, n))
        assert lists.get(f"https://x/{n}") is not None
    assert len(lists) == 2  # the oldest kept went first


# -- venue keys ---------------------------------------------------------------------------


class _Keys:
    """The store's live venue keys, as service.accounts.Accounts.api_key answers."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.asked = 0

    def api_key(self, secret: str) -> ApiKeyRecord:
        self.asked += 1
        record = self.store.get_api_key("h-" + secret)
        if record is None or record.revoked_at is not None:
            raise AuthError("a valid venue API key is required")
        return record


def _venue_key(store: Store, name: str, venue: bool = True) -> str:
    store.put_api_key(ApiKeyRecord(f"k-{name}", f"h-{name}", "venue", name, 1))
    if venue:
        store.put_venue(VenueRecord(name, "酒店", "Hotel", ("hotel",), 1))
    return name


def test_a_venue_key_is_kept_at_most_ttl(store: Store) -> None:
    keys, clock = _Keys(store), Clock(100.0)
    cache = VenueKeys(keys.api_key, store, clock=clock, ttl=2.0)
    secret = _venue_key(store, "grand-hotel")
    assert cache.venue(secret)[1] is not None
    store.revoke_api_key("k-grand-hotel", 101)
    clock.advance(1.9)
    key, venue = cache.venue(secret)  # revoked, still kept: the 2 s of docs/security.md
    assert key.principal == "grand-hotel" and venue is not None and keys.asked == 1
    clock.advance(0.1)
    with pytest.raises(AuthError):
        cache.venue(secret)
    assert len(cache) == 0 or keys.asked == 2


def test_an_unknown_or_venueless_key_is_never_kept(store: Store) -> None:
    keys, clock = _Keys(store), Clock(100.0)
    cache = VenueKeys(keys.api_key, store, clock=clock)
    for _ in range(2):
        with pytest.raises(AuthError):
            cache.venue("nobody")
    orphan = _venue_key(store, "gone-hotel", venue=False)
    assert cache.venue(orphan)[1] is None
    assert cache.venue(orphan)[1] is None
    assert len(cache) == 0 and keys.asked == 4
    store.put_venue(VenueRecord("gone-hotel", "酒店", "Hotel", ("hotel",), 1))
    assert cache.venue(orphan)[1] is not None  # registered since: found at once


def test_venue_keys_are_bounded(store: Store) -> None:
    keys = _Keys(store)
    cache = VenueKeys(keys.api_key, store, clock=Clock(100.0), kept=2)
    secrets = [_venue_key(store, f"hotel-{n}") for n in range(3)]
    for secret in secrets:
        cache.venue(secret)
    assert len(cache) == 2
    cache.venue(secrets[0])  # the oldest went first: asked again
    assert keys.asked == 4


def test_a_revocation_by_this_process_empties_the_cache_at_once(store: Store) -> None:
    keys, clock = _Keys(store), Clock(100.0)
    revoked = [0]
    cache = VenueKeys(keys.api_key, store, clock=clock, revocations=lambda: revoked[0])
    secret = _venue_key(store, "grand-hotel")
    cache.venue(secret)
    store.revoke_api_key("k-grand-hotel", 101)
    revoked[0] += 1  # as service.accounts.Accounts.revoke_api_key does
    with pytest.raises(AuthError):
        cache.venue(secret)  # the clock has not moved
