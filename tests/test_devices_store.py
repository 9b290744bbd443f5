"""The devices kind (issue 9): the contract every backend keeps, on SQLite, a real Redis
and the Redis Cluster (the ``store`` fixture)."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from store.interface import Conflict, DeviceCopy, DeviceRecord, InvalidArgument, Store

OWNER = "ps_" + "a" * 43
OTHER = "ps_" + "b" * 43
JWK = '{"crv":"P-256","kty":"EC","x":"x","y":"y"}'


def device(n: int, owner: str = OWNER, **changes: object) -> DeviceRecord:
    record = DeviceRecord(owner, f"d{n}", f"kid{n}", JWK, f"phone {n}", 1000 + n, 1000 + n)
    return replace(record, **changes)  # type: ignore[arg-type]


def copy(n: int, dev: str, card: str, owner: str = OWNER) -> DeviceCopy:
    return DeviceCopy(
        owner, dev, f"copy{n}", card, "urn:ecert:resident-id-card", 2000 + n, b"\x00s"
    )


def test_a_device_is_added_read_listed_and_removed(store: Store) -> None:
    assert store.add_device(device(2), 5) == "added"
    assert store.add_device(device(1), 5) == "added"
    assert store.get_device(OWNER, "d1") == device(1)
    assert store.get_device(OTHER, "d1") is None
    assert store.list_devices(OWNER) == [device(1), device(2)]
    assert store.list_devices(OTHER) == []
    assert store.remove_device(OWNER, "d1") is True
    assert store.remove_device(OWNER, "d1") is False
    assert store.remove_device(OTHER, "d2") is False
    assert store.remove_device(OWNER, "nope") is False
    assert store.get_device(OWNER, "d1") == device(1, state="removed")
    assert store.get_device(OWNER, "d2") == device(2)


def test_a_key_is_registered_once_per_citizen_even_after_removal(store: Store) -> None:
    assert store.add_device(device(1), 5) == "added"
    assert store.add_device(device(2, kid="kid1"), 5) == "duplicate"
    store.remove_device(OWNER, "d1")
    assert store.add_device(device(3, kid="kid1"), 5) == "duplicate"
    # another citizen may hold the same key (one phone, two accounts)
    assert store.add_device(device(1, owner=OTHER), 5) == "added"
    with pytest.raises(Conflict):
        store.add_device(device(1, kid="kid9"), 5)


def test_the_limit_counts_active_devices_only(store: Store) -> None:
    for n in range(3):
        assert store.add_device(device(n), 3) == "added"
    assert store.add_device(device(3), 3) == "full"
    assert store.add_device(device(3, owner=OTHER), 3) == "added"
    store.remove_device(OWNER, "d0")
    assert store.add_device(device(3), 3) == "added"
    assert store.add_device(device(4), 3) == "full"


def test_the_limit_holds_under_concurrent_adds(store: Store) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def add(n: int) -> None:
        got = store.add_device(device(n), 2)
        with lock:
            results.append(got)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["added"] * 2 + ["full"] * 6
    assert len(store.list_devices(OWNER)) == 2


def test_bad_arguments_are_refused(store: Store) -> None:
    with pytest.raises(InvalidArgument):
        store.add_device(device(1, label=""), 5)
    with pytest.raises(InvalidArgument):
        store.add_device(device(1, label="x" * 41), 5)
    with pytest.raises(InvalidArgument):
        store.add_device(device(1, state="lost"), 5)
    with pytest.raises(InvalidArgument):
        store.add_device(device(1), 0)
    assert store.list_devices(OWNER) == []


def test_last_seen_only_moves_forward(store: Store) -> None:
    store.add_device(device(1), 5)
    store.device_seen(OWNER, "d1", 5000)
    store.device_seen(OWNER, "d1", 4000)
    store.device_seen(OWNER, "unknown", 6000)
    got = store.get_device(OWNER, "d1")
    assert got is not None and got.last_seen == 5000
    assert store.get_device(OWNER, "unknown") is None


def test_copies_by_device_and_by_card(store: Store) -> None:
    store.add_device(device(1), 5)
    store.add_device(device(2), 5)
    copies = [copy(3, "d1", "cardA"), copy(1, "d2", "cardA"), copy(2, "d1", "cardB")]
    for c in copies:
        store.put_device_copy(c)
    store.put_device_copy(copy(9, "d1", "cardA", owner=OTHER))
    assert store.list_device_copies(OWNER) == [copies[1], copies[2], copies[0]]
    assert store.list_device_copies(OWNER, "d1") == [copies[2], copies[0]]
    assert store.list_device_copies(OWNER, "d3") == []
    assert store.delete_device_copies(OWNER, "cardA") == ["copy1", "copy3"]
    assert store.delete_device_copies(OWNER, "cardA") == []
    assert store.list_device_copies(OWNER) == [copies[2]]
    assert store.list_device_copies(OTHER) == [copy(9, "d1", "cardA", owner=OTHER)]
