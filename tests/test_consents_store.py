"""The consent store's contract, on SQLite, Redis and the Redis Cluster (the ``store``
fixture): insert once, read by id, list a citizen's newest first, the cap that drops only
what no longer counts, and the compare-and-set of a state (two taps, or a withdrawal
racing an approval: one wins)."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from store.errors import InvalidArgument
from store.interface import CONSENT_CAP, Conflict, ConsentRecord, Store


def _consent(
    n: int,
    citizen: str = "ps_a",
    *,
    state: str = "pending",
    until: int = 10_000,
    created_at: int | None = None,
) -> ConsentRecord:
    return ConsentRecord(
        consent_id=f"c-{citizen}-{n:04d}",
        citizen=citizen,
        department="police",
        proof_type="no-criminal-record",
        state=state,  # type: ignore[arg-type]
        origin="request",
        created_at=100 + n if created_at is None else created_at,
        updated_at=100 + n if created_at is None else created_at,
        until=until,
        blob=b"\x00sealed" + bytes([n % 256]),
    )


def test_a_consent_is_put_once_and_read_back_by_id(store: Store) -> None:
    one = _consent(1)
    assert store.put_consent(one)
    assert store.get_consent(one.consent_id) == one
    assert store.get_consent("c-unknown") is None
    with pytest.raises(Conflict):
        store.put_consent(replace(one, citizen="ps_b"))  # an id is taken across citizens
    with pytest.raises(Conflict):
        store.put_consent(replace(one, state="granted"))
    assert store.get_consent(one.consent_id) == one
    assert store.list_consents("ps_b") == []


def test_a_citizens_consents_list_newest_first_and_bounded(store: Store) -> None:
    for n in range(5):
        store.put_consent(_consent(n))
    store.put_consent(_consent(9, "ps_b"))
    got = store.list_consents("ps_a", 3)
    assert [c.consent_id for c in got] == ["c-ps_a-0004", "c-ps_a-0003", "c-ps_a-0002"]
    assert len(store.list_consents("ps_a")) == 5
    assert store.list_consents("ps_a", 0) == []
    assert [c.citizen for c in store.list_consents("ps_b")] == ["ps_b"]
    with pytest.raises(InvalidArgument):
        store.list_consents("ps_a", -1)


def test_a_state_moves_only_from_the_state_expected(store: Store) -> None:
    one = _consent(1)
    store.put_consent(one)
    assert not store.set_consent_state(one.consent_id, "granted", expect="declined", at=500)
    assert store.get_consent(one.consent_id) == one
    assert store.set_consent_state(one.consent_id, "granted", expect="pending", at=500)
    assert store.get_consent(one.consent_id) == replace(one, state="granted", updated_at=500)
    assert not store.set_consent_state(one.consent_id, "declined", expect="pending", at=600)
    assert store.set_consent_state(one.consent_id, "withdrawn", expect="granted", at=700)
    (listed,) = store.list_consents("ps_a")
    assert (listed.state, listed.updated_at) == ("withdrawn", 700)
    assert not store.set_consent_state("c-unknown", "granted", expect="pending", at=1)
    with pytest.raises(InvalidArgument):
        store.set_consent_state(one.consent_id, "revoked", expect="granted", at=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        store.put_consent(replace(_consent(2), state="maybe"))  # type: ignore[arg-type]


def test_of_two_racing_changes_exactly_one_wins(store: Store) -> None:
    """An approval and a withdrawal (or two approvals) from pending at once, many times:
    exactly one compare-and-set succeeds each time."""
    for n in range(20):
        one = _consent(n)
        store.put_consent(one)
        barrier = threading.Barrier(2)
        won: list[str] = []

        def change(state: str) -> None:
            barrier.wait()
            if store.set_consent_state(one.consent_id, state, expect="pending", at=999):  # type: ignore[arg-type]
                won.append(state)

        threads = [threading.Thread(target=change, args=(s,)) for s in ("granted", "declined")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1
        got = store.get_consent(one.consent_id)
        assert got is not None and got.state == won[0]


def test_the_cap_drops_the_oldest_that_no_longer_count_and_keeps_live_grants(
    store: Store,
) -> None:
    # The oldest two are live grants; then an expired grant, then pending requests.
    store.put_consent(_consent(0, state="granted", until=10_000))
    store.put_consent(_consent(1, state="granted", until=10_000))
    store.put_consent(_consent(2, state="granted", until=50))
    for n in range(3, CONSENT_CAP):
        store.put_consent(_consent(n))
    assert len(store.list_consents("ps_a", CONSENT_CAP)) == CONSENT_CAP
    assert store.put_consent(_consent(CONSENT_CAP))
    ids = {c.consent_id for c in store.list_consents("ps_a", CONSENT_CAP)}
    assert len(ids) == CONSENT_CAP
    assert {"c-ps_a-0000", "c-ps_a-0001"} <= ids  # live grants stay
    assert "c-ps_a-0002" not in ids  # the expired grant went first (the oldest spare)
    assert store.get_consent("c-ps_a-0002") is None  # and its lookup by id with it
    assert store.put_consent(_consent(CONSENT_CAP + 1))
    ids = {c.consent_id for c in store.list_consents("ps_a", CONSENT_CAP)}
    assert "c-ps_a-0003" not in ids and "c-ps_a-0000" in ids


def test_a_citizen_full_of_live_grants_gets_no_more(store: Store) -> None:
    for n in range(CONSENT_CAP):
        store.put_consent(_consent(n, state="granted", until=10_000))
    extra = _consent(CONSENT_CAP)
    assert not store.put_consent(extra)
    assert store.get_consent(extra.consent_id) is None
    assert len(store.list_consents("ps_a", CONSENT_CAP)) == CONSENT_CAP
    # Withdrawing one frees a place.
    assert store.set_consent_state("c-ps_a-0007", "withdrawn", expect="granted", at=5)
    assert store.put_consent(extra)
    assert store.get_consent("c-ps_a-0007") is None
