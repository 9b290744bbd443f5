"""The operator's figures: daily counters of issuances, verifications and proof queries,
and the statistics the dashboard (``/admin``) and ``GET /api/v1/admin/stats`` show.

**Counting.** :class:`Counters` adds to the store's daily counters
(:class:`store.kinds.counters.CounterStore`): :meth:`Counters.on_use` is subscribed to
the container's :class:`~service.uses.Uses` and counts each verification and proof
query once it is over; :class:`~service.issuance.Issuance` calls :meth:`Counters.issued`
for each credential issued (a batch's chunk by its number). A day is the **UTC** date
of the use's ``at`` (of the issuance's clock): the dashboard's days are UTC days, in
every time zone. Counter names are built from slugs, venue ids, scene and type ids and
stable codes only, each part checked (anything else is counted as ``other``): no
personal data reaches a counter.

A counter that cannot be written (the store down) is logged as a warning and lost: the
verification, query or issuance it counts has already happened and is not undone for a
statistic (the audit chain, not the counters, is the record of every use).

**Reading.** :meth:`Stats.stats` reads the counters of a range of days (at most
:data:`MAX_DAYS`) and returns, for each series, a count for **every** day of the range
(0 where nothing was counted), so that a chart and a table read the same numbers.

**Ratings and follow-up** (from :mod:`service.receipts`' store kind, not per day): the
distribution of stars per venue and per department since the start, and what awaits the
operator: the newest :data:`FOLLOW_UP_LIMIT` low ratings (at most
:data:`~store.kinds.ratings.LOW_STARS` stars) not yet followed up and open misuse reports,
each with what was rated or reported (the venue or department, the scene or proof type,
when) and the citizen's comment or text opened for the operator, never the citizen. The
operator marks one done with :meth:`Stats.follow_up_rating` or :meth:`Stats.resolve_report`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from typing import Any, Final

from keys.errors import Conflict, NotFound
from service.errors import StatsRangeInvalid
from service.receipts import Receipts
from service.uses import Use
from store import errors as store_errors
from store.interface import (
    MAX_COUNTER_DAYS,
    RatingRecord,
    ReportRecord,
    Store,
    StoreError,
)

__all__ = ["DEFAULT_DAYS", "FOLLOW_UP_LIMIT", "MAX_DAYS", "Counters", "Stats", "utc_day"]

log = logging.getLogger("ecert.stats")

#: The most days one statistics request may cover.
MAX_DAYS: Final = MAX_COUNTER_DAYS
#: The days shown when none are asked: the last 14, today (UTC) included.
DEFAULT_DAYS: Final = 14
#: A part of a counter name: a slug, id, type URN or code.
_PART: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,63}")
_OTHER: Final = "other"
#: The most low ratings, and the most open reports, one answer lists (newest first).
FOLLOW_UP_LIMIT: Final = 100
#: The most rated venues and departments whose distribution one answer gives.
MAX_RATED: Final = 1000


def utc_day(at: float) -> str:
    """The UTC date of the epoch time ``at``, ``YYYY-MM-DD``."""
    return dt.datetime.fromtimestamp(at, dt.UTC).date().isoformat()


def _part(value: str) -> str:
    return value if _PART.fullmatch(value) else _OTHER


def _name(*parts: str) -> str:
    return "|".join(_part(p) for p in parts)


class Counters:
    """Adds to the daily counters (see the module doc)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def on_use(self, use: Use) -> None:
        """The :class:`~service.uses.Uses` listener: count one verification or proof query."""
        day = utc_day(use.at)
        result = "accepted" if use.accepted else "refused"
        if use.kind == "verification":
            names = [_name("verification", use.topic, use.actor, result)]
            if not use.accepted:
                names += [_name("verification_code", code) for code in sorted(set(use.codes))]
        else:
            result = "answered" if use.accepted else "refused"
            names = [_name("proof_query", use.actor, use.topic, result)]
        for name in names:
            self._bump(day, name, 1)

    def issued(self, department: str, vct: str, n: int = 1, *, at: float) -> None:
        """Count ``n`` credentials of ``vct`` issued by the department (its slug) at ``at``."""
        if n > 0:
            self._bump(utc_day(at), _name("issuance", department, vct), n)

    def _bump(self, day: str, name: str, n: int) -> None:
        try:
            self._store.bump_counter(day, name, n)
        except StoreError as err:
            log.warning("a daily counter was not written (%s)", err.code)


class Stats:
    """The operator's statistics over a range of UTC days, the ratings and the follow-up."""

    def __init__(
        self,
        store: Store,
        receipts: Receipts | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``receipts`` (the container's) opens the comments and report texts; without it
        ``ratings`` and ``follow_up`` stay empty."""
        self._store = store
        self._receipts = receipts
        self.clock = clock

    def days(self, from_day: str | None, to_day: str | None) -> list[str]:
        """The days from ``from_day`` to ``to_day`` (inclusive, ``YYYY-MM-DD``); ``to_day``
        absent: today (UTC); ``from_day`` absent: :data:`DEFAULT_DAYS` days to ``to_day``.

        Raises :class:`~service.errors.StatsRangeInvalid`.
        """
        last = _date(to_day) if to_day is not None else dt.date.fromisoformat(utc_day(self.clock()))
        if from_day is not None:
            first = _date(from_day)
        elif last.toordinal() > DEFAULT_DAYS:
            first = last - dt.timedelta(DEFAULT_DAYS - 1)
        else:  # the first days of year 1 (no date before them)
            raise StatsRangeInvalid("Give 'from' for a range this early.")
        span = (last - first).days + 1
        if span < 1:
            raise StatsRangeInvalid("'from' is later than 'to'.")
        if span > MAX_DAYS:
            raise StatsRangeInvalid(f"At most {MAX_DAYS} days at once.")
        return [(first + dt.timedelta(n)).isoformat() for n in range(span)]

    def stats(self, from_day: str | None = None, to_day: str | None = None) -> dict[str, Any]:
        """The figures of the days asked (see :meth:`days`), every series with a count for
        every day::

            {"from", "to", "days": [...],
             "issuance": {"by_department": {slug: {day: n}}, "by_type": {vct: {day: n}}},
             "verification": {"by_scene", "by_venue", "refused" (by scene),
                              "refusal_codes" (by code)},
             "proof_queries": {"by_department" (asking), "by_proof_type",
                               "refused" (by asking department)},
             "ratings": {"by_venue": {id: [n1, …, n5]}, "by_department": {slug: […]},
                         "names": {"venue:<id>" | "department:<slug>": {"zh", "en"}}},
             "follow_up": {"low_ratings": [...], "reports": [...]}}

        Raises :class:`~service.errors.StatsRangeInvalid` and the store's errors.
        """
        days = self.days(from_day, to_day)
        series: dict[str, dict[str, dict[str, int]]] = {
            key: {}
            for key in (
                "issuance.by_department",
                "issuance.by_type",
                "verification.by_scene",
                "verification.by_venue",
                "verification.refused",
                "verification.refusal_codes",
                "proof_queries.by_department",
                "proof_queries.by_proof_type",
                "proof_queries.refused",
            )
        }

        def add(key: str, label: str, day: str, n: int) -> None:
            row = series[key].setdefault(label, dict.fromkeys(days, 0))
            row[day] += n

        for day, counts in self._store.read_counters(days).items():
            for name, n in counts.items():
                parts = name.split("|")
                match parts:
                    case ["issuance", department, vct]:
                        add("issuance.by_department", department, day, n)
                        add("issuance.by_type", vct, day, n)
                    case ["verification", scene, venue, result]:
                        add("verification.by_scene", scene, day, n)
                        add("verification.by_venue", venue, day, n)
                        if result == "refused":
                            add("verification.refused", scene, day, n)
                    case ["verification_code", code]:
                        add("verification.refusal_codes", code, day, n)
                    case ["proof_query", asking, proof_type, result]:
                        add("proof_queries.by_department", asking, day, n)
                        add("proof_queries.by_proof_type", proof_type, day, n)
                        if result == "refused":
                            add("proof_queries.refused", asking, day, n)
                    case _:  # a name of a later version: not shown
                        continue
        out: dict[str, Any] = {"from": days[0], "to": days[-1], "days": days}
        for key, rows in series.items():
            section, group = key.split(".")
            out.setdefault(section, {})[group] = dict(sorted(rows.items()))
        out["ratings"] = self.ratings()
        out["follow_up"] = self.follow_up()
        return out

    # -- ratings and follow-up -----------------------------------------------------------

    def ratings(self) -> dict[str, Any]:
        """The stars of every rated venue and department: ``[n1, n2, n3, n4, n5]``, how
        many ratings gave 1 to 5 stars (and the actors' names)."""
        out: dict[str, Any] = {"by_venue": {}, "by_department": {}, "names": {}}
        if self._receipts is None:
            return out
        for kind, actor in self._store.list_rated_actors(MAX_RATED):
            group = "by_venue" if kind == "venue" else "by_department"
            out[group][actor] = list(self._store.rating_distribution(kind, actor))
            out["names"][f"{kind}:{actor}"] = self._name(kind, actor)
        return out

    def follow_up(self) -> dict[str, Any]:
        """The low ratings not yet followed up and the open misuse reports, newest first,
        each with its comment or text opened (no citizen: what, where, when)."""
        if self._receipts is None:
            return {"low_ratings": [], "reports": []}
        return {
            "low_ratings": [
                self._low_rating(r) for r in self._store.list_low_ratings(FOLLOW_UP_LIMIT)
            ],
            "reports": [self._report(r) for r in self._store.list_reports("open", FOLLOW_UP_LIMIT)],
        }

    def follow_up_rating(self, event_id: str) -> None:
        """Mark the low rating of ``event_id`` followed up. Raises
        :class:`~keys.errors.NotFound` when no low rating of it awaits follow-up."""
        if not self._store.mark_rating_followed_up(event_id):
            raise NotFound("No low rating of this event awaits follow-up.")

    def resolve_report(self, report_id: str) -> dict[str, Any]:
        """Mark the open misuse report resolved; the report as it now is. Raises
        :class:`~keys.errors.NotFound` (unknown) and :class:`~keys.errors.Conflict`
        (already resolved)."""
        try:
            record = self._store.resolve_report(report_id, int(self.clock()))
        except store_errors.NotFound:
            raise NotFound("No misuse report with this id.") from None
        except store_errors.Conflict:
            raise Conflict("This misuse report is already resolved.") from None
        return self._report(record)

    def _name(self, kind: str, actor: str) -> dict[str, str]:
        assert self._receipts is not None
        use = Use(
            "", "verification", 0, "", "venue" if kind == "venue" else "department", actor, ""
        )
        return self._receipts.actor_name(use)

    def _low_rating(self, record: RatingRecord) -> dict[str, Any]:
        assert self._receipts is not None
        return {
            "event_id": record.event_id,
            "actor_kind": record.actor_kind,
            "actor": record.actor,
            "actor_name": self._name(record.actor_kind, record.actor),
            "topic": record.topic,
            "stars": record.stars,
            "comment": self._receipts.comment_of(record),
            "created_at": record.created_at,
            "updated_at": record.updated_at,
        }

    def _report(self, record: ReportRecord) -> dict[str, Any]:
        assert self._receipts is not None
        return {
            "id": record.report_id,
            "event_id": record.event_id,
            "actor_kind": record.actor_kind,
            "actor": record.actor,
            "actor_name": self._name(record.actor_kind, record.actor),
            "topic": record.topic,
            "created_at": record.created_at,
            "state": record.state,
            "resolved_at": record.resolved_at,
            "text": self._receipts.report_text(record),
        }


def _date(value: str) -> dt.date:
    if not isinstance(value, str) or re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) is None:
        raise StatsRangeInvalid("A day is YYYY-MM-DD.")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise StatsRangeInvalid("A day is YYYY-MM-DD.") from None
