"""service.issuance: issue into a wallet, withdraw what cannot be delivered, idempotency
on an injected clock (on every store backend)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from keys import derive_key, generate_secret
from service.accounts import Accounts
from service.errors import IdempotencyKeyReused, IdempotencyPending, UnknownCitizen
from service.issuance import (
    IDEMPOTENCY_KEY_LABEL,
    IDEMPOTENCY_TTL,
    LEGACY_SINCE,
    LEGACY_WINDOW,
    PENDING_TTL,
    Issuance,
    Kept,
    fingerprint,
)
from store.errors import StoreUnavailable
from store.interface import IDEMPOTENCY, Store
from store.redis import RedisStore
from store.sqlite import SQLiteStore
from tests.factory import ID_CARD, ID_CLAIMS, Clock, World
from tests.hygiene import personal
from wallet import WalletVault

CITIZEN = personal("citizen-issuance-1", "test_issuance citizen id")
SECRET = personal(generate_secret(), "test_issuance instance secret")
#: README's example: a key built from the citizen id, so a guess can be hashed.
GUESSABLE_KEY = personal(f"permit-{CITIZEN}", "test_issuance idempotency key")
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
    built = Issuance(
        store,
        world.issuer,
        vault,
        accounts,
        idempotency_key=derive_key(SECRET, IDEMPOTENCY_KEY_LABEL),
        clock=Clock(),
    )
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
    entry = "police:m1:" + _mac(b"police", b"key-4")
    claim = json.dumps({"state": "pending", "fingerprint": "f"}).encode("utf-8")
    assert store.once(IDEMPOTENCY).put(entry, claim, clock.now + PENDING_TTL, clock.now)
    with pytest.raises(IdempotencyPending):
        issuance.idempotent("police", "key-4", "f", lambda: Kept(201, {}))
    clock.advance(PENDING_TTL)
    assert issuance.idempotent("police", "key-4", "f", lambda: Kept(201, {"id": "x"})) == Kept(
        201, {"id": "x"}
    )


# -- keyed entry names, and the upgrade from plain SHA-256 names -----------------------------


def _mac(scope: bytes, key: bytes) -> str:
    """The entry's HMAC, computed here from the documented construction."""
    mac_key = derive_key(SECRET, "ecert/idempotency-keys/v1")
    message = str(len(scope)).encode() + b":" + scope + b":" + key
    return hmac.new(mac_key, message, hashlib.sha256).hexdigest()


def _raw_store(store: Store) -> bytes:
    """The store's bytes as someone holding a dump sees them."""
    if isinstance(store, SQLiteStore):
        base = Path(store.path)
        parts = [base, Path(f"{base}-wal")]
        return b"".join(p.read_bytes() for p in parts if p.exists())
    assert isinstance(store, RedisStore)
    client: Any = store.client
    return b"\n".join(name for name in client.scan_iter(count=1000))


def test_an_idempotency_key_cannot_be_checked_against_a_dump(store: Store) -> None:
    """Whoever holds a dump and guesses ``permit-<citizen id>`` finds no hash of it:
    the entry is named by a MAC under a key only the instance secret gives."""
    issuance = _issuance(store)
    answer = issuance.idempotent("police", GUESSABLE_KEY, "f", lambda: Kept(201, {"id": "c"}))
    assert answer == Kept(201, {"id": "c"})
    data = _raw_store(store)
    guessed = hashlib.sha256(GUESSABLE_KEY.encode()).hexdigest()
    assert guessed.encode() not in data
    assert _mac(b"police", GUESSABLE_KEY.encode()).encode() in data  # the search is not vacuous
    # and the scope is part of the MAC: another department's name for the same key differs
    assert _mac(b"health", GUESSABLE_KEY.encode()) != _mac(b"police", GUESSABLE_KEY.encode())


def _old_entry(store: Store, clock: Clock, key: str, kept: dict[str, Any], ttl: float) -> None:
    """An entry exactly as the code before keyed names wrote it (plain SHA-256 name)."""
    name = "police:" + hashlib.sha256(key.encode("utf-8")).hexdigest()  # stored as idem:<name>
    kept_bytes = json.dumps(kept).encode("utf-8")
    assert store.once(IDEMPOTENCY).put(name, kept_bytes, clock.now + ttl, clock.now)


def test_an_answer_kept_by_the_old_code_is_found_during_the_upgrade(store: Store) -> None:
    issuance = _issuance(store)
    clock: Clock = issuance.clock  # type: ignore[assignment]
    runs: list[str] = []

    def run() -> Kept:
        runs.append("ran")
        return Kept(201, {"id": "issued-again"})

    first = {"state": "done", "fingerprint": "f", "status": 201, "body": {"id": "first"}}
    _old_entry(store, clock, GUESSABLE_KEY, first, IDEMPOTENCY_TTL)
    # the retry in flight during the upgrade gets the first answer: not issued twice
    assert issuance.idempotent("police", GUESSABLE_KEY, "f", run) == Kept(201, {"id": "first"})
    assert issuance.idempotent("police", GUESSABLE_KEY, "f", run) == Kept(201, {"id": "first"})
    with pytest.raises(IdempotencyKeyReused):
        issuance.idempotent("police", GUESSABLE_KEY, "other", run)
    # a request the old code was still running: pending, and the new claim is given back
    _old_entry(store, clock, "key-5", {"state": "pending", "fingerprint": "f"}, PENDING_TTL)
    with pytest.raises(IdempotencyPending):
        issuance.idempotent("police", "key-5", "f", run)
    clock.advance(PENDING_TTL)
    assert issuance.idempotent("police", "key-5", "f", run) == Kept(201, {"id": "issued-again"})
    assert runs == ["ran"]
    # the old answer lives its lifetime, then the key is new
    clock.advance(IDEMPOTENCY_TTL - PENDING_TTL - 1)
    assert issuance.idempotent("police", GUESSABLE_KEY, "f", run) == Kept(201, {"id": "first"})
    clock.advance(2)
    assert issuance.idempotent("police", GUESSABLE_KEY, "f", run) == Kept(
        201, {"id": "issued-again"}
    )


def test_old_names_are_no_longer_read_once_every_old_entry_has_expired(store: Store) -> None:
    issuance = _issuance(store)
    clock: Clock = issuance.clock  # type: ignore[assignment]
    assert issuance.idempotent("police", "key-6", "f", lambda: Kept(201, {})) == Kept(201, {})
    since = store.get_config(LEGACY_SINCE)
    assert since == str(int(clock.now)).encode()
    # Another worker (or a restart) keeps the first start: the window is not renewed.
    later_clock = Clock(clock.now + LEGACY_WINDOW)
    later = Issuance(
        store,
        issuance.world.issuer,  # type: ignore[attr-defined]
        issuance.vault,  # type: ignore[attr-defined]
        issuance._accounts,
        idempotency_key=derive_key(SECRET, IDEMPOTENCY_KEY_LABEL),
        clock=later_clock,
    )
    # An old-name entry seen after the window (written against the rules: old code
    # still running a day after the upgrade) is not looked up any more.
    stale = {"state": "done", "fingerprint": "f", "status": 201, "body": {"id": "stale"}}
    _old_entry(store, later_clock, "key-7", stale, IDEMPOTENCY_TTL)
    assert later.idempotent("police", "key-7", "f", lambda: Kept(201, {"id": "new"})) == Kept(
        201, {"id": "new"}
    )
    assert store.get_config(LEGACY_SINCE) == since
    # ... while one second earlier it still was (an old entry made done a minute after
    # the upgrade began, by a request the old code claimed just before: the window's end)
    _old_entry(store, clock, "key-8", stale, LEGACY_WINDOW)
    clock.advance(LEGACY_WINDOW - 1)
    assert issuance.idempotent("police", "key-8", "f", lambda: Kept(201, {"id": "new"})) == Kept(
        201, {"id": "stale"}
    )
