"""Where the verifier reads a credential's status: the bundle's lists, or a live source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from verifier.bundle import LoadedStatusList
from verifier.errors import StatusStale, StatusUnavailable


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
