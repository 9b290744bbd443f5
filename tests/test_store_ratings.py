"""Contract tests of ratings and misuse reports (issue 11), on SQLite, Redis and the
Redis Cluster: one rating per citizen and event, the actor's list and star counts, the
operator's list of low ratings and its follow-up mark, one report per event and its
compare-and-set resolution."""

from __future__ import annotations

import dataclasses

import pytest

from store.interface import (
    Conflict,
    InvalidArgument,
    NotFound,
    RatingRecord,
    ReportRecord,
    Store,
)

A = "ps_" + "a" * 43
B = "ps_" + "b" * 43


def _rating(
    event_id: str,
    stars: int,
    *,
    citizen: str = A,
    actor: str = "hotel-1",
    actor_kind: str = "venue",
    at: int = 1000,
) -> RatingRecord:
    return RatingRecord(
        citizen=citizen,
        event_id=event_id,
        actor_kind=actor_kind,
        actor=actor,
        topic="hotel-checkin",
        stars=stars,
        created_at=at,
        updated_at=at,
        followed_up=False,
        blob=b"\x01sealed",
    )


def _report(report_id: str, event_id: str, *, at: int = 1000) -> ReportRecord:
    return ReportRecord(
        report_id=report_id,
        citizen=A,
        event_id=event_id,
        actor_kind="department",
        actor="police",
        topic="no-criminal-record",
        created_at=at,
        state="open",
        resolved_at=0,
        blob=b"\x02sealed",
    )


def test_a_rating_reads_back_for_its_citizen_only(store: Store) -> None:
    rating = _rating("e1", 4)
    store.put_rating(rating)
    assert store.get_ratings(A, ["e1", "e2"]) == [rating]
    assert store.get_ratings(B, ["e1"]) == []
    assert store.get_ratings(A, []) == []


def test_an_edit_replaces_the_rating_and_moves_the_counts(store: Store) -> None:
    store.put_rating(_rating("e1", 5))
    store.put_rating(_rating("e2", 5, citizen=B, at=1001))
    assert store.rating_distribution("venue", "hotel-1") == (0, 0, 0, 0, 2)
    edited = dataclasses.replace(_rating("e1", 1), updated_at=2000, blob=b"\x01other")
    store.put_rating(edited)
    assert store.get_ratings(A, ["e1"]) == [edited]
    assert store.rating_distribution("venue", "hotel-1") == (1, 0, 0, 0, 1)
    assert store.rating_distribution("venue", "nobody") == (0, 0, 0, 0, 0)
    assert [r.event_id for r in store.list_ratings_by_actor("venue", "hotel-1")] == ["e2", "e1"]


def test_ratings_by_actor_are_the_actors_own_newest_first_and_bounded(store: Store) -> None:
    for n in range(5):
        store.put_rating(_rating(f"e{n}", 3, at=1000 + n // 2))
    store.put_rating(_rating("x1", 3, actor="police", actor_kind="department"))
    store.put_rating(_rating("x2", 3, actor="hotel-1", actor_kind="department"))
    got = store.list_ratings_by_actor("venue", "hotel-1", limit=3)
    assert [r.event_id for r in got] == ["e4", "e3", "e2"]
    assert [r.event_id for r in store.list_ratings_by_actor("department", "police")] == ["x1"]
    assert store.list_ratings_by_actor("venue", "hotel-1", limit=0) == []
    assert store.list_rated_actors() == [
        ("department", "hotel-1"),
        ("department", "police"),
        ("venue", "hotel-1"),
    ]


def test_low_ratings_await_follow_up_until_marked(store: Store) -> None:
    store.put_rating(_rating("e1", 1, at=1000))
    store.put_rating(_rating("e2", 2, at=1001, citizen=B, actor="bank"))
    store.put_rating(_rating("e3", 3, at=1002))
    assert [r.event_id for r in store.list_low_ratings()] == ["e2", "e1"]
    assert store.mark_rating_followed_up("e1") is True
    assert store.mark_rating_followed_up("e1") is False  # once
    assert store.mark_rating_followed_up("e3") is False  # not a low rating
    assert store.mark_rating_followed_up("nope") is False
    assert [r.event_id for r in store.list_low_ratings()] == ["e2"]
    # the mark shows in the citizen's and the actor's copies
    assert store.get_ratings(A, ["e1"])[0].followed_up is True
    by_actor = {r.event_id: r for r in store.list_ratings_by_actor("venue", "hotel-1")}
    assert by_actor["e1"].followed_up is True
    assert by_actor["e3"].followed_up is False
    # a low rating edited up leaves the list; edited down again, it is back
    store.put_rating(_rating("e2", 4, at=1001, citizen=B, actor="bank"))
    assert store.list_low_ratings() == []
    store.put_rating(_rating("e2", 2, at=1001, citizen=B, actor="bank"))
    assert [r.event_id for r in store.list_low_ratings(limit=5)] == ["e2"]


def test_a_rating_out_of_range_is_refused(store: Store) -> None:
    for stars in (0, 6, -1):
        with pytest.raises(InvalidArgument):
            store.put_rating(_rating("e1", stars))
    with pytest.raises(InvalidArgument):
        store.put_rating(_rating("e1", 3, actor_kind="citizen"))
    with pytest.raises(InvalidArgument):
        store.list_low_ratings(limit=100_000)
    with pytest.raises(InvalidArgument):
        store.get_ratings(A, [f"e{n}" for n in range(1001)])
    assert store.get_ratings(A, ["e1"]) == []


def test_one_report_per_event_listed_by_state(store: Store) -> None:
    first = _report("r1", "e1", at=1000)
    assert store.put_report(first) is True
    assert store.put_report(_report("r2", "e1", at=1001)) is False  # the event has one
    assert store.put_report(_report("r1", "e9", at=1001)) is False  # the id is taken
    assert store.put_report(_report("r3", "e3", at=1001)) is True
    assert store.get_report("r1") == first
    assert store.get_report("r2") is None
    assert store.get_event_reports(["e1", "e2", "e9"]) == [first]
    assert store.get_event_reports([]) == []
    assert [r.report_id for r in store.list_reports("open")] == ["r3", "r1"]
    assert store.list_reports("resolved") == []
    with pytest.raises(InvalidArgument):
        store.list_reports("closed")
    with pytest.raises(InvalidArgument):
        store.put_report(dataclasses.replace(_report("r4", "e4"), state="resolved"))


def test_resolving_a_report_is_a_compare_and_set(store: Store) -> None:
    store.put_report(_report("r1", "e1"))
    done = store.resolve_report("r1", 5000)
    assert (done.state, done.resolved_at) == ("resolved", 5000)
    assert store.get_report("r1") == done
    with pytest.raises(Conflict):
        store.resolve_report("r1", 6000)
    assert store.get_report("r1") == done
    with pytest.raises(NotFound):
        store.resolve_report("r404", 6000)
    assert store.list_reports("open") == []
    assert [r.report_id for r in store.list_reports("resolved")] == ["r1"]
