"""The proof-query record (issue 11) on every backend: SQLite, Redis and the Cluster.

Each citizen's (pseudonym's) queries, newest first, capped like the activity log, in the
citizen's Redis slot; nothing but names, codes and a sealed blob is kept.
"""

from __future__ import annotations

import dataclasses

import pytest

from store.errors import InvalidArgument
from store.interface import PROOF_QUERY_CAP, ProofQueryRecord, Store
from store.redis import RedisStore


def _query(n: int, citizen: str = "ps_a", *, at: int | None = None) -> ProofQueryRecord:
    return ProofQueryRecord(
        citizen=citizen,
        event_id=f"{n:016x}abcd0123",
        at=1_800_000_000 + n if at is None else at,
        department="civil-affairs",
        proof_type="kinship-parent-child",
        answered_by="health",
        claims=("found", "relationship") if n % 2 else (),
        answered=bool(n % 2),
        codes=() if n % 2 else ("consent_required",),
        blob=bytes([n % 256]) * 3,
    )


def test_a_query_reads_back_whole_and_newest_first(store: Store) -> None:
    records = [_query(n) for n in (3, 1, 2)]
    for record in records:
        store.add_proof_query(record)
    got = store.list_proof_queries("ps_a")
    assert got == sorted(records, key=lambda r: r.at, reverse=True)
    assert got[0].claims == ("found", "relationship") and got[0].answered
    assert got[1].codes == ("consent_required",) and not got[1].answered
    assert store.list_proof_queries("ps_a", 1) == [got[0]]
    assert store.list_proof_queries("ps_a", 0) == []
    assert store.list_proof_queries("ps_other") == []


def test_ties_in_one_second_are_broken_by_event_id(store: Store) -> None:
    for n in (5, 7, 6):
        store.add_proof_query(_query(n, at=1_800_000_000))
    assert [r.event_id[:16] for r in store.list_proof_queries("ps_a")] == [
        f"{n:016x}" for n in (7, 6, 5)
    ]


def test_the_same_event_id_replaces(store: Store) -> None:
    store.add_proof_query(_query(1))
    store.add_proof_query(dataclasses.replace(_query(1), blob=b"new", answered=False))
    (only,) = store.list_proof_queries("ps_a")
    assert only.blob == b"new" and not only.answered


def test_each_citizen_keeps_only_the_newest_cap(store: Store) -> None:
    for n in range(PROOF_QUERY_CAP + 3):
        store.add_proof_query(_query(n))
    store.add_proof_query(_query(1, citizen="ps_b"))
    kept = store.list_proof_queries("ps_a", PROOF_QUERY_CAP + 10)
    assert len(kept) == PROOF_QUERY_CAP
    assert kept[0].event_id == _query(PROOF_QUERY_CAP + 2).event_id
    assert kept[-1].event_id == _query(3).event_id  # the three oldest went
    assert [r.citizen for r in store.list_proof_queries("ps_b")] == ["ps_b"]


@pytest.mark.parametrize("limit", [-1, True, 1.5])
def test_a_bad_limit_is_refused(store: Store, limit: object) -> None:
    with pytest.raises(InvalidArgument):
        store.list_proof_queries("ps_a", limit)  # type: ignore[arg-type]


@pytest.mark.redis
def test_on_redis_a_citizens_queries_live_in_their_slot(redis_store: RedisStore) -> None:
    redis_store.add_proof_query(_query(1, citizen="ps_q"))
    found = [*redis_store.client.keys("*queries*"), *redis_store.client.keys("*query-data*")]
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in found)
    assert keys and all("{sub:ps_q}" in k for k in keys)
