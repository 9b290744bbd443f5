"""The store kind ``links`` (issue 12): a guardian's or a carer's links and held-for
copies, on SQLite, Redis and the Redis Cluster (the ``store`` fixture)."""

from __future__ import annotations

import dataclasses

import pytest

from store.interface import Conflict, InvalidArgument, LinkCopy, LinkRecord, Store
from store.redis import RedisStore


def _link(
    link_id: str = "l1", holder: str = "ps_h", party: str = "ps_p", at: int = 10
) -> LinkRecord:
    return LinkRecord(
        holder=holder,
        link_id=link_id,
        party=party,
        kind="guardianship",
        credential_id=f"cred-{link_id}",
        created_at=at,
        until=1000,
        state="active",
        updated_at=at,
        blob=b"\x00sealed",
    )


def test_a_link_is_put_once_and_read_back(store: Store) -> None:
    store.put_link(_link())
    assert store.get_link("ps_h", "l1") == _link()
    assert store.get_link("ps_h", "l2") is None
    assert store.get_link("ps_other", "l1") is None
    with pytest.raises(Conflict):
        store.put_link(dataclasses.replace(_link(), party="ps_q"))
    assert store.get_link("ps_h", "l1") == _link()


def test_links_list_by_holder_and_by_party_in_order(store: Store) -> None:
    store.put_link(_link("l2", at=20))
    store.put_link(_link("l1", at=20))
    store.put_link(_link("l0", at=30))
    store.put_link(_link("l9", holder="ps_other", at=5))
    store.put_link(_link("l8", party="ps_q", at=1))
    assert [r.link_id for r in store.list_links("ps_h")] == ["l8", "l1", "l2", "l0"]
    assert [r.link_id for r in store.list_party_links("ps_p")] == ["l9", "l1", "l2", "l0"]
    assert [r.link_id for r in store.list_party_links("ps_q")] == ["l8"]
    assert store.list_links("ps_none") == [] and store.list_party_links("ps_none") == []


def test_a_link_state_moves_by_compare_and_set(store: Store) -> None:
    store.put_link(_link())
    assert not store.set_link_state("ps_h", "l1", "revoked", expect="withdrawn", at=50)
    assert store.set_link_state("ps_h", "l1", "revoked", expect="active", at=50)
    # of two racing changes, one wins
    assert not store.set_link_state("ps_h", "l1", "withdrawn", expect="active", at=60)
    got = store.get_link("ps_h", "l1")
    assert got is not None and (got.state, got.updated_at) == ("revoked", 50)
    (by_party,) = store.list_party_links("ps_p")
    assert by_party.state == "revoked"
    assert not store.set_link_state("ps_h", "nope", "revoked", expect="active", at=1)
    with pytest.raises(InvalidArgument):
        store.set_link_state("ps_h", "l1", "gone", expect="revoked", at=1)  # type: ignore[arg-type]


def test_a_link_credential_is_replaced_by_compare_and_set(store: Store) -> None:
    store.put_link(_link())
    store.put_link(_link("l2"))
    # another credential expected, an unknown link, an ended link: nothing written
    assert not store.set_link_credential("ps_h", "l1", "cred-new", b"\x01", expect="other", at=50)
    assert not store.set_link_credential("ps_h", "nope", "cred-new", b"\x01", expect="x", at=50)
    assert store.set_link_state("ps_h", "l2", "revoked", expect="active", at=40)
    assert not store.set_link_credential(
        "ps_h", "l2", "cred-new", b"\x01", expect="cred-l2", at=50
    )
    assert store.get_link("ps_h", "l1") == _link()
    ended = store.get_link("ps_h", "l2")
    assert ended is not None and (ended.credential_id, ended.blob) == ("cred-l2", b"\x00sealed")
    # the link's credential and blob change, nothing else; of two racing, one wins
    assert store.set_link_credential("ps_h", "l1", "cred-new", b"\x01", expect="cred-l1", at=50)
    assert not store.set_link_credential(
        "ps_h", "l1", "cred-other", b"\x02", expect="cred-l1", at=60
    )
    assert store.get_link("ps_h", "l1") == dataclasses.replace(
        _link(), credential_id="cred-new", blob=b"\x01", updated_at=50
    )
    (by_party, _) = store.list_party_links("ps_p")
    assert by_party.credential_id == "cred-new" and by_party.state == "active"
    # a link ended after its credential was replaced ends as usual
    assert store.set_link_state("ps_h", "l1", "withdrawn", expect="active", at=70)
    got = store.get_link("ps_h", "l1")
    assert got is not None and (got.state, got.credential_id) == ("withdrawn", "cred-new")
    for bad_new, bad_expect in (("", "cred-new"), ("x" * 129, "cred-new"), ("same", "same")):
        with pytest.raises(InvalidArgument):
            store.set_link_credential("ps_h", "l1", bad_new, b"", expect=bad_expect, at=1)


def test_a_link_with_a_bad_kind_state_or_id_is_refused(store: Store) -> None:
    for bad in (
        dataclasses.replace(_link(), kind="friend"),  # type: ignore[arg-type]
        dataclasses.replace(_link(), state="gone"),  # type: ignore[arg-type]
        dataclasses.replace(_link(), link_id=""),
        dataclasses.replace(_link(), link_id="a:b"),
        dataclasses.replace(_link(), link_id="x" * 65),
    ):
        with pytest.raises(InvalidArgument):
            store.put_link(bad)
    assert store.list_links("ps_h") == []


def test_held_for_copies_are_kept_per_holder_and_link(store: Store) -> None:
    one = LinkCopy("ps_h", "l1", "c2", "card-1", "urn:ecert:resident-id-card", 11)
    two = LinkCopy("ps_h", "l2", "c1", "card-2", "urn:ecert:household-register", 11)
    three = LinkCopy("ps_h", "l1", "c0", "card-3", "urn:ecert:social-security-card", 12)
    for copy in (three, one, two):
        store.put_link_copy(copy)
    assert store.list_link_copies("ps_h") == [two, one, three]
    assert store.list_link_copies("ps_h", "l1") == [one, three]
    assert store.list_link_copies("ps_other") == []
    store.put_link_copy(dataclasses.replace(one, added_at=13))
    assert [c.copy_id for c in store.list_link_copies("ps_h", "l1")] == ["c0", "c2"]


def test_a_party_index_entry_without_its_record_reads_as_no_link(redis_store: RedisStore) -> None:
    """A crash between the party's index entry and the record (Redis only)."""
    redis_store.put_link(_link())
    index = redis_store._citizen_key("ps_p", "party-links")
    redis_store._r.hset(index, "ghost", "ps_h")
    redis_store._r.hset(index, "l7", "ps_elsewhere")
    assert [r.link_id for r in redis_store.list_party_links("ps_p")] == ["l1"]
