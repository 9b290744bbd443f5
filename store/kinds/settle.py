"""The settle of an online verification: everything after the signatures in one step.

Once a presentation's signatures are good, an online verification still needs the
credential's live status value, the replay check (its key-binding nonce), the
credential's registry entry (whose citizen to log the check for) and the activity
event. :meth:`SettleStore.settle` does all of them in one store operation (one
``BEGIN IMMEDIATE`` transaction on SQLite, one Lua script on a single Redis server, a
few per-slot round trips on a Redis Cluster). :func:`settle_by_parts` is the same step
made of the per-kind calls: the reference every fast path must agree with, and what a
store without its own :meth:`~SettleStore.settle` gets.

The rules, in order (the verifier's: status before replay, replay last):

1. ``status``: the value at ``(uri, idx)`` is read (the list must exist and hold
   ``idx``: the caller checked its record);
2. ``nonce``: remembered until ``nonce_expires_at`` only when the status was not read
   or read 0 (a revoked or suspended credential does not use up its nonce); ``fresh``
   False is a replay;
3. ``registry``: the credential at ``(uri, idx)``, kept only when its issuer is
   ``issuer``;
4. ``activity``: written for that credential's citizen (``citizen_id`` and
   ``credential_id`` are filled from the registry entry) only when the outcome is the
   one the draft was made for: status not read or 0, nonce not tried or fresh. Any
   other outcome changes the event (its codes): the caller writes it itself
   (``logged`` False).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from store.kinds.activity import ActivityRecord, ActivityStore
from store.kinds.ephemeral import ShortLivedStore
from store.kinds.registry import CredentialRecord, RegistryStore
from store.kinds.status import StatusListStore

__all__ = [
    "SettleOutcome",
    "SettleParts",
    "SettleRequest",
    "SettleStore",
    "fill_activity",
    "nonce_allowed",
    "settle_by_parts",
]


@dataclass(frozen=True, slots=True)
class SettleRequest:
    """What is left of one verification once its signatures are good."""

    #: the ``(uri, idx)`` whose status value to read, or None (not needed)
    status: tuple[str, int] | None
    #: the ``(uri, idx)`` of the credential to look up in the registry, or None
    registry: tuple[str, int] | None
    #: the issuer the registry entry must have (the presentation's ``iss``)
    issuer: str | None
    #: the store key of the key-binding nonce to remember, or None (not needed)
    nonce: str | None
    nonce_expires_at: float
    now: float
    #: the event to log when the outcome is as expected (citizen and credential ids
    #: are filled from the registry entry), or None
    activity: ActivityRecord | None


@dataclass(frozen=True, slots=True)
class SettleOutcome:
    """What the settle found and did."""

    #: the status value read, or None when not asked
    status: int | None
    #: True: the nonce was recorded; False: a replay; None: not tried
    fresh: bool | None
    #: the registry entry at ``registry`` whose issuer is ``issuer``, or None
    credential: CredentialRecord | None
    #: whether the draft activity was written
    logged: bool

    @property
    def as_drafted(self) -> bool:
        """Whether the outcome is the one the activity draft was made for."""
        return self.status in (None, 0) and self.fresh is not False


def nonce_allowed(status: int | None) -> bool:
    """Whether the nonce is remembered after this status read (rule 2)."""
    return status is None or status == 0


def fill_activity(draft: ActivityRecord, credential: CredentialRecord) -> ActivityRecord:
    """The draft event for the credential's citizen."""
    return dataclasses.replace(draft, citizen_id=credential.subject, credential_id=credential.id)


@runtime_checkable
class SettleStore(Protocol):
    """A store that settles a verification in one operation."""

    def settle(self, request: SettleRequest) -> SettleOutcome:
        """See the module docstring. Raises :class:`~store.errors.StoreUnavailable`."""
        ...


class SettleParts(StatusListStore, ShortLivedStore, RegistryStore, ActivityStore, Protocol):
    """The per-kind calls :func:`settle_by_parts` is made of."""


def settle_by_parts(store: SettleParts, request: SettleRequest) -> SettleOutcome:
    """The settle made of the per-kind calls (up to four store operations)."""
    status = None if request.status is None else store.get_status(*request.status)
    fresh: bool | None = None
    if request.nonce is not None and nonce_allowed(status):
        fresh = store.remember_nonce(request.nonce, request.nonce_expires_at, request.now)
    credential = None
    if request.registry is not None:
        credential = store.find_credential(*request.registry)
        if credential is not None and credential.issuer != request.issuer:
            credential = None
    outcome = SettleOutcome(status, fresh, credential, logged=False)
    if credential is not None and request.activity is not None and outcome.as_drafted:
        store.add_activity(fill_activity(request.activity, credential))
        return dataclasses.replace(outcome, logged=True)
    return outcome
