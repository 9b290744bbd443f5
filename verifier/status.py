"""Where the verifier reads a credential's status: the bundle's lists, or a live source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from verifier.bundle import LoadedStatusList
from verifier.errors import (
    Replayed,
    Revoked,
    StatusStale,
    StatusUnavailable,
    Suspended,
    VerificationError,
)
from verifier.result import StatusName

_STATUS_NAMES: dict[int, StatusName] = {0: "valid", 1: "revoked", 2: "suspended"}


def status_outcome(value: int) -> tuple[StatusName, VerificationError | None]:
    """What a status value means (Token Status List: 0 valid, 1 revoked, 2 suspended):
    its name and the error to report, None for a valid credential. The one mapping used
    by the verifier and by a service that settles the status later
    (:mod:`verifier.deferred`)."""
    name = _STATUS_NAMES.get(value)
    if name is None:
        return "unavailable", StatusUnavailable("the status value is not one we understand")
    if name == "revoked":
        return name, Revoked("the credential has been revoked by its issuer")
    if name == "suspended":
        return name, Suspended("the credential is suspended by its issuer")
    return name, None


def replayed() -> Replayed:
    """The error of a presentation whose nonce was already used."""
    return Replayed("this presentation was already used")


class StatusSource(Protocol):
    """Looks up a status value; raises ``StatusUnavailable`` or ``StatusStale``, never guesses."""

    def lookup(self, iss: str, uri: str, idx: int, now: float) -> int:
        """The status value of entry ``idx`` of the list at ``uri``, issued by ``iss``."""
        ...


class BundleStatusSource:
    """Status from the signed status lists of a verifier bundle (offline)."""

    def __init__(
        self,
        lists: Mapping[tuple[str, str], LoadedStatusList],
        dropped: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        self._lists = lists
        #: why a list was left out of the bundle (see :attr:`Bundle.dropped`)
        self._dropped = dropped or {}

    def lookup(self, iss: str, uri: str, idx: int, now: float) -> int:
        """See :meth:`StatusSource.lookup`."""
        loaded = self._lists.get((iss, uri))
        if loaded is None:
            why = self._dropped.get((iss, uri)) or self._dropped.get(("", uri))
            if why is not None:
                raise StatusUnavailable(f"the bundle's status list at this uri was left out: {why}")
            raise StatusUnavailable(
                "the bundle has no status list of the credential's issuer at this uri"
            )
        if now > loaded.exp:
            raise StatusStale("the status list has expired: download a fresh bundle")
        try:
            return loaded.statuses.get(idx)
        except IndexError:
            raise StatusUnavailable("the status index is outside the status list") from None

    @property
    def updated_at(self) -> int | None:
        """``iat`` of the oldest list, or None without lists."""
        return min((sl.iat for sl in self._lists.values()), default=None)
