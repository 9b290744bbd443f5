"""The operator's daily counters: how many credentials were issued, verifications made
and proof queries asked, per day (UTC) and per *name*.

A name is a few ``|``-separated parts that say what was counted, never whom:
``issuance|police|urn:ecert:residence-permit``,
``verification|hotel|grand-hotel|accepted``,
``proof_query|police|kinship-parent-child|refused``. No personal data ever reaches a
counter (the service builds names from slugs, venue ids, scene and type ids and stable
codes only). A day is ``YYYY-MM-DD`` in UTC.
"""

from __future__ import annotations

import re
from typing import Final, Protocol, runtime_checkable

__all__ = [
    "COUNTER_NAME",
    "DAY",
    "MAX_COUNTER_DAYS",
    "MAX_COUNTER_NAME",
    "MAX_COUNTER_STEP",
    "CounterStore",
]

#: A day: ``YYYY-MM-DD`` (UTC; the service checks it is a real date).
DAY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: The longest counter name (characters).
MAX_COUNTER_NAME: Final = 200
#: A counter name: printable ASCII without spaces (parts are slugs, ids and codes).
COUNTER_NAME: Final = re.compile(r"[!-~]{1,200}")
#: The largest step of one bump (a batch's chunk is far smaller).
MAX_COUNTER_STEP: Final = 1_000_000
#: The most days one read may ask for (a quarter and a day).
MAX_COUNTER_DAYS: Final = 92


@runtime_checkable
class CounterStore(Protocol):
    """Counts per day and name; only ever added to."""

    def bump_counter(self, day: str, name: str, n: int = 1) -> None:
        """Add ``n`` (1 to :data:`MAX_COUNTER_STEP`) to the counter ``name`` of ``day``.

        Raises :class:`InvalidArgument` for a malformed day or name or such an ``n``."""

    def read_counters(self, days: list[str]) -> dict[str, dict[str, int]]:
        """``{day: {name: count}}`` for the days asked (at most :data:`MAX_COUNTER_DAYS`);
        a day with nothing counted maps to ``{}``. Raises :class:`InvalidArgument`."""
