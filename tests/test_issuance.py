"""service.issuance: issue into a wallet, withdraw what cannot be delivered, idempotency
on an injected clock (on every store backend)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from keys import derive_key, generate_secret
from service.accounts import Accounts
from service.errors import IdempotencyKeyReused, IdempotencyPending, UnknownCitizen
from service.issuance import IDEMPOTENCY_TTL, PENDING_TTL, Issuance, Kept, fingerprint
from store.errors import StoreUnavailable
from store.interface import IDEMPOTENCY, Store
from tests.factory import ID_CARD, ID_CLAIMS, Clock, World
from tests.hygiene import personal
from wallet import WalletVault

CITIZEN = personal("citizen-issuance-1", "test_issuance citizen id")
FAST: dict[str, Any] = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


class UndeliverableVault(WalletVault):
    """A vault whose store write fails after issuance (a store outage mid-request)."""

    def add(self, citizen_id: str, credential_id: str, sd_jwt: str) -> Any:
        raise StoreUnavailable("the store went away")


def _issuance(store: Store, *, vault_class: type[WalletVault] = WalletVault) -> Issuance:
    from argon2 import PasswordHasher

    world = World(store)
    vault = vault_class(store, derive_key(generate_secret(), "test"), clock=world.clock)
    accounts = Accounts(store, clock=world.clock, hasher=PasswordHasher(**FAST))
    accounts.create_citizen(CITIZEN)
    built = Issuance(store, world.issuer, vault, accounts, clock=Clock())
    built.world = world  # type: ignore[attr-defined]
    built.vault = vault  # type: ignore[attr-defined]
    return built


def test_issue_delivers_into_the_wallet(store: Store) -> None:
    issuance = _issuance(store)
    world: World = issuance.world  # type: ignore[attr-defined]
    record = issuance.issue(world.police, ID_CARD, CITIZEN, dict(ID_CLAIMS))
    vault: WalletVault = issuance.vault  # type: ignore[attr-defined]
    assert [item.credential_id for item in vault.items(CITIZEN)] == [record.id]
    with pytest.raises(UnknownCitizen):
        issuance.issue(world.police, ID_CARD, "nobody-here", dict(ID_CLAIMS))


def test_a_credential_that_cannot_be_delivered_is_revoked(store: Store) -> None:
    issuance = _issuance(store, vault_class=UndeliverableVault)
    world: World = issuance.world  # type: ignore[attr-defined]
    with pytest.raises(StoreUnavailable):
        issuance.issue(world.police, ID_CARD, CITIZEN, dict(ID_CLAIMS))
    # the registry holds it (it was signed), revoked: nobody holds a valid one
    issued = store.list_credentials(subject=CITIZEN)
    assert len(issued) == 1 and issued[0].state == "revoked"


def test_a_retry_gets_the_first_answer_until_it_expires(store: Store) -> None:
    issuance = _issuance(store)
    runs: list[int] = []

    def run() -> Kept:
        runs.append(1)
        return Kept(201, {"id": f"c{len(runs)}"})

    print_ = fingerprint({"vct": ID_CARD, "n": 1})
    assert issuance.idempotent("police", "key-1", print_, run) == Kept(201, {"id": "c1"})
    assert issuance.idempotent("police", "key-1", print_, run) == Kept(201, {"id": "c1"})
    assert len(runs) == 1
    # another department's same key is another key
    assert issuance.idempotent("health", "key-1", print_, run) == Kept(201, {"id": "c2"})
    with pytest.raises(IdempotencyKeyReused):
        issuance.idempotent("police", "key-1", fingerprint({"vct": ID_CARD, "n": 2}), run)
    clock: Clock = issuance.clock  # type: ignore[assignment]
    clock.advance(IDEMPOTENCY_TTL - 1)
    assert issuance.idempotent("police", "key-1", print_, run) == Kept(201, {"id": "c1"})
    clock.advance(2)
    assert issuance.idempotent("police", "key-1", print_, run) == Kept(201, {"id": "c3"})


def test_a_failed_request_is_not_kept(store: Store) -> None:
    issuance = _issuance(store)

    def fail() -> Kept:
        raise StoreUnavailable("down")

    with pytest.raises(StoreUnavailable):
        issuance.idempotent("police", "key-2", "f", fail)
    assert issuance.idempotent("police", "key-2", "f", lambda: Kept(201, {})) == Kept(201, {})


def test_a_retry_during_the_first_request_is_a_conflict(store: Store) -> None:
    issuance = _issuance(store)

    def run() -> Kept:
        with pytest.raises(IdempotencyPending) as caught:
            issuance.idempotent("police", "key-3", "f", run)
        assert caught.value.code == "conflict"
        return Kept(201, {"id": "first"})

    assert issuance.idempotent("police", "key-3", "f", run) == Kept(201, {"id": "first"})


def test_a_key_claimed_by_a_crashed_worker_frees_itself(store: Store) -> None:
    issuance = _issuance(store)
    clock: Clock = issuance.clock  # type: ignore[assignment]
    # what a worker that died mid-request leaves: the pending claim, written raw
    entry = "police:" + hashlib.sha256(b"key-4").hexdigest()
    claim = json.dumps({"state": "pending", "fingerprint": "f"}).encode("utf-8")
    assert store.once(IDEMPOTENCY).put(entry, claim, clock.now + PENDING_TTL, clock.now)
    with pytest.raises(IdempotencyPending):
        issuance.idempotent("police", "key-4", "f", lambda: Kept(201, {}))
    clock.advance(PENDING_TTL)
    assert issuance.idempotent("police", "key-4", "f", lambda: Kept(201, {"id": "x"})) == Kept(
        201, {"id": "x"}
    )
