"""The operator's daily counters (issue 11): the store kind's contract on SQLite, Redis
and the Redis Cluster, and the counting of uses and issuances by the service."""

from __future__ import annotations

import threading

import pytest

from store.errors import InvalidArgument
from store.interface import Store


def test_bump_adds_and_read_gives_each_day_asked(store: Store) -> None:
    store.bump_counter("2026-12-01", "issuance|police|urn:ecert:residence-permit")
    store.bump_counter("2026-12-01", "issuance|police|urn:ecert:residence-permit", 41)
    store.bump_counter("2026-12-02", "verification|hotel|grand-hotel|accepted")
    got = store.read_counters(["2026-12-01", "2026-12-02", "2026-12-03"])
    assert got == {
        "2026-12-01": {"issuance|police|urn:ecert:residence-permit": 42},
        "2026-12-02": {"verification|hotel|grand-hotel|accepted": 1},
        "2026-12-03": {},
    }
    assert store.read_counters([]) == {}
    assert store.read_counters(["2026-12-02"]) == {
        "2026-12-02": {"verification|hotel|grand-hotel|accepted": 1}
    }


def test_bumps_from_many_threads_are_all_counted(store: Store) -> None:
    def bump() -> None:
        for _ in range(25):
            store.bump_counter("2026-12-01", "proof_query|police|birth|answered")

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.read_counters(["2026-12-01"])["2026-12-01"] == {
        "proof_query|police|birth|answered": 100
    }


@pytest.mark.parametrize(
    ("day", "name", "n"),
    [
        ("2026-1-01", "x", 1),
        ("2026-12-01\n", "x", 1),
        ("", "x", 1),
        ("2026-12-01", "", 1),
        ("2026-12-01", "a b", 1),
        ("2026-12-01", "名字", 1),
        ("2026-12-01", "x" * 201, 1),
        ("2026-12-01", "x", 0),
        ("2026-12-01", "x", -3),
        ("2026-12-01", "x", 1_000_001),
        ("2026-12-01", "x", True),
    ],
)
def test_bump_refuses_malformed_days_names_and_steps(
    store: Store, day: str, name: str, n: int
) -> None:
    with pytest.raises(InvalidArgument):
        store.bump_counter(day, name, n)
    assert store.read_counters(["2026-12-01"]) == {"2026-12-01": {}}


def test_read_refuses_too_many_days_or_a_malformed_one(store: Store) -> None:
    with pytest.raises(InvalidArgument):
        store.read_counters([f"2026-01-{d:02d}" for d in range(1, 32)] * 3)
    with pytest.raises(InvalidArgument):
        store.read_counters(["2026-12-01", "12/01/2026"])
