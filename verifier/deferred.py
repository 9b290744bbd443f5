"""Verification with the live status value and the replay check left to the caller.

An online service can read a credential's status value, record its nonce, find it in
its registry and log the check in one store operation once the signatures are good
(:mod:`store.kinds.settle`). For that, :class:`DeferringStatus` and
:class:`DeferringReplay` stand in for the live status source and nonce cache of a
:class:`~verifier.Verifier`: inside :func:`deferring` they record what the verifier
asked (the status position, the nonce and its expiry) and answer "0" and "new"; then
:func:`apply_settled` puts what the store found into the result exactly as the
verifier would have (the same codes, messages, order and ``status``; claims cleared
on any error). Outside :func:`deferring` (another caller of the same verifier) they
ask the live source and cache at once, so nothing is ever skipped.

The order of the verifier is kept: the status lookup comes before the scene policy
(whose only error is ``scene_unmet``) and the replay check is last, reached only by a
presentation without errors; a status other than 0 means the nonce is not used up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from verifier.errors import VerificationError
from verifier.replay import NonceCache
from verifier.result import ErrorDict, VerificationResult
from verifier.status import StatusSource, replayed, status_outcome

__all__ = ["Deferral", "DeferringReplay", "DeferringStatus", "apply_settled", "deferring"]

_local = threading.local()


class Deferral:
    """What a verification left to settle: the status position and the nonce."""

    __slots__ = ("expires_at", "nonce", "now", "status")

    def __init__(self) -> None:
        #: ``(uri, idx)`` whose value stands in as 0, or None
        self.status: tuple[str, int] | None = None
        #: the key-binding nonce taken as new, or None (the check was not reached)
        self.nonce: str | None = None
        self.expires_at = 0.0
        self.now = 0.0


def _current() -> Deferral | None:
    deferral: Deferral | None = getattr(_local, "deferral", None)
    return deferral


@contextmanager
def deferring() -> Iterator[Deferral]:
    """Defer the status value and replay check of verifications run in this block,
    in this thread."""
    outer = _current()
    deferral = Deferral()
    _local.deferral = deferral
    try:
        yield deferral
    finally:
        _local.deferral = outer


class DeferringStatus:
    """A :class:`~verifier.status.StatusSource` that, inside :func:`deferring`, checks
    only the list's record (``check``: raises ``StatusUnavailable``) and leaves the
    value to the settle."""

    def __init__(self, live: StatusSource, check: Callable[[str, str, int], None]) -> None:
        self._live = live
        self._check = check

    def lookup(self, iss: str, uri: str, idx: int, now: float) -> int:
        """See :class:`verifier.StatusSource`."""
        deferral = _current()
        if deferral is None:
            return self._live.lookup(iss, uri, idx, now)
        self._check(iss, uri, idx)
        deferral.status = (uri, idx)
        return 0


class DeferringReplay:
    """A :class:`~verifier.replay.NonceCache` that, inside :func:`deferring`, records
    the nonce for the settle instead of checking it."""

    def __init__(self, live: NonceCache) -> None:
        self._live = live

    def check_and_add(self, nonce: str, expires_at: float, now: float) -> bool:
        """See :class:`verifier.NonceCache`."""
        deferral = _current()
        if deferral is None:
            return self._live.check_and_add(nonce, expires_at, now)
        deferral.nonce, deferral.expires_at, deferral.now = nonce, expires_at, now
        return True


def _err(err: VerificationError) -> ErrorDict:
    return {"code": err.code, "message": err.message}


def apply_settled(
    result: VerificationResult, deferral: Deferral, status: int | None, fresh: bool | None
) -> None:
    """Put the settled ``status`` value (None: not read) and nonce check (``fresh``;
    None: not tried) into ``result``, as :class:`~verifier.Verifier` reports them."""
    errors = result.errors
    if deferral.status is not None and status is not None:
        name, error = status_outcome(status)
        if error is not None:
            result.status = name
            # The status check comes before the scene policy, whose only error is
            # scene_unmet.
            last = errors[-1]["code"] if errors else None
            errors.insert(len(errors) - 1 if last == "scene_unmet" else len(errors), _err(error))
    if fresh is False:
        errors.append(_err(replayed()))
    if errors:
        result.claims = {}
