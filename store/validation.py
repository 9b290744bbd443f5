"""Every argument check of the stores, written once and called by both backends.

Each raises :class:`store.errors.InvalidArgument` (a value no backend accepts) or
:class:`store.errors.OutOfRange` (a status-list position or value outside the list).
Messages carry the offending shape or number, never a personal value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from store.errors import InvalidArgument, OutOfRange
from store.kinds.accounts import API_KEY_KINDS
from store.kinds.ephemeral import MAX_LIMIT_COUNT, MAX_LIMITS, MAX_WINDOW, MAX_WINDOW_NAME, Limit
from store.kinds.status import ALLOWED_BITS, StatusListRecord

if TYPE_CHECKING:
    from store.kinds.audit import AuditEntry, AuditLink

__all__ = [
    "check_activity_limit",
    "check_audit_entry",
    "check_audit_range",
    "link_audit_batch",
    "check_consent",
    "check_consent_states",
    "check_api_key_kind",
    "check_counter",
    "check_counter_days",
    "check_index",
    "check_limits",
    "check_key_times",
    "check_list_shape",
    "check_state",
    "check_time",
    "check_value",
    "check_window",
    "check_window_name",
]


def check_state(state: str, allowed: tuple[str, ...]) -> None:
    """Raise :class:`InvalidArgument` for a state outside ``allowed``."""
    if state not in allowed:
        raise InvalidArgument(f"unknown state {state!r}")


def check_list_shape(record: StatusListRecord) -> None:
    """Raise :class:`InvalidArgument` for bits not in 1, 2, 4, 8 or a size below 1."""
    if record.bits not in ALLOWED_BITS:
        raise InvalidArgument(f"bits must be 1, 2, 4 or 8, not {record.bits}")
    if record.size < 1:
        raise InvalidArgument(f"size must be positive, not {record.size}")


def check_index(idx: int, size: int) -> None:
    """Raise :class:`OutOfRange` for an index outside a list of ``size`` entries."""
    if not 0 <= idx < size:
        raise OutOfRange(f"index {idx} outside the list (size {size})")


def check_value(value: int, bits: int) -> None:
    """Raise :class:`OutOfRange` for a status that does not fit ``bits`` bits."""
    if not 0 <= value < (1 << bits):
        raise OutOfRange(f"status {value} does not fit in {bits} bits")


def check_api_key_kind(kind: str) -> None:
    """Raise :class:`InvalidArgument` for an API key kind other than department / venue /
    operator."""
    if kind not in API_KEY_KINDS:
        raise InvalidArgument(f"unknown API key kind {kind!r}")


def check_activity_limit(limit: int) -> None:
    """Raise :class:`InvalidArgument` unless ``limit`` is a non-negative integer."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidArgument(f"limit must be a non-negative integer, not {limit!r}")


def check_window(window: int) -> None:
    """Raise :class:`InvalidArgument` unless a fixed window is a positive integer."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InvalidArgument(f"window must be a positive number of seconds, not {window!r}")


def check_time(at: float) -> None:
    """Raise :class:`InvalidArgument` for a time that is not a finite number."""
    if not math.isfinite(at):
        raise InvalidArgument(f"a time must be a finite number, not {at!r}")


def check_key_times(*times: int | None) -> None:
    """Raise :class:`InvalidArgument` unless each of a key's rotation times given (None:
    not given) is an integer number of seconds in 0..2**53 - 1 (0: not set)."""
    for at in times:
        if at is None:
            continue
        if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at < 2**53:
            raise InvalidArgument("a key's rotation time must be an integer in 0..2**53 - 1")


def check_limits(limits: Sequence[Limit]) -> tuple[Limit, ...]:
    """The limits as a tuple; raises :class:`InvalidArgument` unless there are 1 to
    :data:`MAX_LIMITS` of them, each with an integer ``count`` in 1..10,000 and
    ``window`` in 1 s..31 days."""
    got = tuple(limits)
    if not 1 <= len(got) <= MAX_LIMITS:
        raise InvalidArgument(f"1 to {MAX_LIMITS} limits are needed, not {len(got)}")
    for limit in got:
        if not isinstance(limit, Limit):
            raise InvalidArgument(f"not a Limit: {limit!r}")
        for value, top, what in (
            (limit.count, MAX_LIMIT_COUNT, "count"),
            (limit.window, MAX_WINDOW, "window"),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise InvalidArgument(f"a limit's {what} is an integer in 1..{top}, not {value!r}")
    return got


def check_window_name(name: str, what: str) -> None:
    """Raise :class:`InvalidArgument` for an empty or over-long counter name or entry."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_WINDOW_NAME:
        raise InvalidArgument(f"a window {what} has 1 to {MAX_WINDOW_NAME} characters")


def check_window_call(counter: str, now: float, limits: Sequence[Limit]) -> tuple[Limit, ...]:
    """The checks every sliding-window call makes: the limits (returned as a tuple), the
    counter name and ``now``."""
    checked = check_limits(limits)
    check_window_name(counter, "counter")
    check_time(now)
    return checked


#: Longest device label (characters) and highest device limit the stores accept.
MAX_DEVICE_LABEL = 40
MAX_DEVICE_LIMIT = 100


def check_device(record: object, limit: int) -> None:
    """Raise :class:`InvalidArgument` for a device record with an unknown state, an
    empty or over-long label, or a ``limit`` outside 1..:data:`MAX_DEVICE_LIMIT`."""
    from store.kinds.devices import DEVICE_STATES, DeviceRecord

    if not isinstance(record, DeviceRecord):
        raise InvalidArgument("not a DeviceRecord")
    check_state(record.state, DEVICE_STATES)
    if not 1 <= len(record.label) <= MAX_DEVICE_LABEL:
        raise InvalidArgument(f"a device label has 1 to {MAX_DEVICE_LABEL} characters")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_DEVICE_LIMIT:
        raise InvalidArgument(f"a device limit is an integer in 1..{MAX_DEVICE_LIMIT}")


def check_job(record: object) -> None:
    """Raise :class:`InvalidArgument` for a job record with an unknown state or
    negative counters."""
    from store.kinds.jobs import JOB_STATES, JobRecord

    if not isinstance(record, JobRecord):
        raise InvalidArgument("not a JobRecord")
    check_state(record.state, JOB_STATES)
    for value in (record.total, record.done, record.skipped, record.failed):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgument("a job's counters are non-negative integers")


def check_job_steps(job_id: str, steps: Sequence[object]) -> None:
    """Raise :class:`InvalidArgument` for more than :data:`MAX_STEPS_PER_CALL` steps, a
    step of another job, a negative number or an unknown state."""
    from store.kinds.jobs import MAX_STEPS_PER_CALL, STEP_STATES, JobStep

    if len(steps) > MAX_STEPS_PER_CALL:
        raise InvalidArgument(f"at most {MAX_STEPS_PER_CALL} steps per call")
    for step in steps:
        if not isinstance(step, JobStep) or step.job_id != job_id:
            raise InvalidArgument("a step of another job")
        if isinstance(step.n, bool) or step.n < 0:
            raise InvalidArgument("a step number is a non-negative integer")
        check_state(step.state, STEP_STATES)


def check_outcomes(outcomes: Sequence[object]) -> None:
    """Raise :class:`InvalidArgument` for more than :data:`MAX_STEPS_PER_CALL` outcomes
    or an unknown state."""
    from store.kinds.jobs import MAX_STEPS_PER_CALL, STEP_STATES, StepOutcome

    if len(outcomes) > MAX_STEPS_PER_CALL:
        raise InvalidArgument(f"at most {MAX_STEPS_PER_CALL} outcomes per call")
    for outcome in outcomes:
        if not isinstance(outcome, StepOutcome):
            raise InvalidArgument("not a StepOutcome")
        check_state(outcome.state, STEP_STATES)


def check_audit_range(from_seq: int, count: int) -> None:
    """Raise :class:`InvalidArgument` unless ``from_seq`` is a positive integer and
    ``count`` an integer in 0..:data:`~store.kinds.audit.MAX_AUDIT_PAGE`."""
    from store.kinds.audit import MAX_AUDIT_PAGE

    checks = ((from_seq, 1, 2**62, "seq"), (count, 0, MAX_AUDIT_PAGE, "count"))
    for value, low, high, what in checks:
        if type(value) is not int or not low <= value <= high:
            raise InvalidArgument(f"an audit {what} must be an integer in {low}..{high}")


def check_audit_entry(entry: object, seq: int, prev: str) -> None:
    """Raise :class:`InvalidArgument` unless ``entry`` is the :class:`AuditEntry` for
    this ``seq`` and ``prev``, with a hex hash and tag and an integer time."""
    from store.kinds.audit import AuditEntry

    if not isinstance(entry, AuditEntry) or entry.seq != seq or entry.prev != prev:
        raise InvalidArgument("the audit entry does not carry the seq and prev it was given")
    for value in (entry.hash, entry.tag):
        if len(value) != 64 or value.strip("0123456789abcdef"):
            raise InvalidArgument("an audit hash or tag is 64 lowercase hex digits")
    if type(entry.at) is not int or not 0 <= entry.at < 2**53:
        raise InvalidArgument("an audit time is an integer in 0..2**53 - 1")
    if type(entry.body) is not bytes:
        raise InvalidArgument("an audit body is bytes")


def link_audit_batch(links: Sequence[AuditLink], seq: int, prev: str) -> list[AuditEntry]:
    """The entries of an append of ``links`` after the tail (``seq`` the first one's,
    ``prev`` the tail's hash), each linked to the one before and checked
    (:func:`check_audit_entry`). Raises :class:`InvalidArgument` for more than
    :data:`~store.kinds.audit.MAX_AUDIT_BATCH` links or a refused entry."""
    from store.kinds.audit import MAX_AUDIT_BATCH

    if len(links) > MAX_AUDIT_BATCH:
        raise InvalidArgument(f"at most {MAX_AUDIT_BATCH} audit entries are appended at once")
    entries = []
    for link in links:
        entry = link(seq, prev)
        check_audit_entry(entry, seq, prev)
        entries.append(entry)
        seq, prev = seq + 1, entry.hash
    return entries


def check_consent(record: object) -> None:
    """Raise :class:`InvalidArgument` for a consent record with an unknown state or
    origin, or an id that is empty, over 64 characters or holds a separator."""
    from store.kinds.consents import CONSENT_ORIGINS, CONSENT_STATES, ConsentRecord

    if not isinstance(record, ConsentRecord):
        raise InvalidArgument("not a ConsentRecord")
    check_state(record.state, CONSENT_STATES)
    check_state(record.origin, CONSENT_ORIGINS)
    if not 1 <= len(record.consent_id) <= 64 or not record.consent_id.isascii():
        raise InvalidArgument("a consent id has 1 to 64 ASCII characters")
    if any(c in record.consent_id for c in "{}: "):
        raise InvalidArgument("a consent id holds no braces, colons or spaces")


def check_consent_states(state: str, expect: str) -> None:
    """Raise :class:`InvalidArgument` for a consent state outside the known ones."""
    from store.kinds.consents import CONSENT_STATES

    check_state(state, CONSENT_STATES)
    check_state(expect, CONSENT_STATES)
def check_counter(day: str, name: str, n: int) -> None:
    """Raise :class:`InvalidArgument` for a malformed counter day or name, or a step
    outside 1 to :data:`~store.kinds.counters.MAX_COUNTER_STEP`."""
    from store.kinds.counters import COUNTER_NAME, MAX_COUNTER_STEP

    check_counter_days([day])
    if not isinstance(name, str) or COUNTER_NAME.fullmatch(name) is None:
        raise InvalidArgument("a counter name is 1 to 200 printable ASCII characters")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_COUNTER_STEP:
        raise InvalidArgument(f"a counter step is 1 to {MAX_COUNTER_STEP}")


def check_counter_days(days: Sequence[str]) -> None:
    """Raise :class:`InvalidArgument` for more than
    :data:`~store.kinds.counters.MAX_COUNTER_DAYS` days or one not ``YYYY-MM-DD``."""
    from store.kinds.counters import DAY, MAX_COUNTER_DAYS

    if len(days) > MAX_COUNTER_DAYS:
        raise InvalidArgument(f"at most {MAX_COUNTER_DAYS} days at once, not {len(days)}")
    for day in days:
        if not isinstance(day, str) or DAY.fullmatch(day) is None:
            raise InvalidArgument("a counter day is YYYY-MM-DD")


def check_link(record: object) -> None:
    """Raise :class:`InvalidArgument` for a link record with an unknown kind or state, or
    an id that is empty, over 64 characters or holds a separator."""
    from store.kinds.links import LINK_KINDS, LINK_STATES, LinkRecord

    if not isinstance(record, LinkRecord):
        raise InvalidArgument("not a LinkRecord")
    check_state(record.kind, LINK_KINDS)
    check_state(record.state, LINK_STATES)
    if not 1 <= len(record.link_id) <= 64 or not record.link_id.isascii():
        raise InvalidArgument("a link id has 1 to 64 ASCII characters")
    if any(c in record.link_id for c in "{}: "):
        raise InvalidArgument("a link id holds no braces, colons or spaces")


def check_link_credential(credential_id: str, expect: str) -> None:
    """Raise :class:`InvalidArgument` for a link's new credential id (1 to 128 ASCII
    characters, not the one it replaces) or an expected one that is empty."""
    for value in (credential_id, expect):
        if not isinstance(value, str) or not 1 <= len(value) <= 128 or not value.isascii():
            raise InvalidArgument("a credential id has 1 to 128 ASCII characters")
    if credential_id == expect:
        raise InvalidArgument("a link's new credential is another credential")


def check_link_states(state: str, expect: str) -> None:
    """Raise :class:`InvalidArgument` for a link state (new or expected) that is unknown."""
    from store.kinds.links import LINK_STATES

    check_state(state, LINK_STATES)
    check_state(expect, LINK_STATES)
