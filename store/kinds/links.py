"""Links between citizens (issue 12): a guardian holds a minor ward's credentials, a
carer holds an elder principal's, by a *link credential* issued into the holder's
wallet (``urn:ecert:guardianship`` by the police, ``urn:ecert:care-authorisation`` by
civil affairs).

A :class:`LinkRecord` is kept under the holder's pseudonym (``holder``) with the other
party's pseudonym (``party``: the ward, the principal), the kind, the link credential's
registry id (``credential_id``; empty while no credential was issued, e.g. a carer id
that names nobody), the first second at which it no longer holds (``until``) and its
state; the names and the scenes are sealed by the service (``blob``). A
:class:`LinkCopy` is one *held-for copy*: a credential of the party issued again by its
own issuer, bound to the holder's key, with its own status index (``copy_id``) and the
party's card it copies (``credential_id``).

A state only moves by :meth:`LinkStore.set_link_state`, a compare-and-set: of a
withdrawal racing a revocation, exactly one wins. An active link's credential is
replaced by :meth:`LinkStore.set_link_credential`, a compare-and-set on the credential
it names (a re-issue racing an end: the end wins or finds the new credential).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

__all__ = [
    "LINK_KINDS",
    "LINK_STATES",
    "LinkCopy",
    "LinkKind",
    "LinkRecord",
    "LinkState",
    "LinkStore",
]

LinkKind = Literal["guardianship", "care"]
LINK_KINDS: tuple[str, ...] = get_args(LinkKind)
LinkState = Literal["active", "revoked", "withdrawn", "expired"]
LINK_STATES: tuple[str, ...] = get_args(LinkState)


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """One link (``holder`` and ``party`` are pseudonyms)."""

    holder: str
    link_id: str
    party: str
    kind: LinkKind
    credential_id: str
    created_at: int
    until: int
    state: LinkState
    updated_at: int
    blob: bytes


@dataclass(frozen=True, slots=True)
class LinkCopy:
    """A held-for copy: ``copy_id`` is its registry id, ``credential_id`` the party's
    card it copies."""

    holder: str
    link_id: str
    copy_id: str
    credential_id: str
    vct: str
    added_at: int


@runtime_checkable
class LinkStore(Protocol):
    """Links by holder (and found by party), and their held-for copies."""

    def put_link(self, record: LinkRecord) -> None:
        """Insert a new link. Raises :class:`Conflict` if the holder has this link id."""

    def get_link(self, holder: str, link_id: str) -> LinkRecord | None: ...
    def list_links(self, holder: str) -> list[LinkRecord]:
        """The holder's links (every state), by ``created_at`` then ``link_id``."""

    def list_party_links(self, party: str) -> list[LinkRecord]:
        """The links naming ``party`` (every holder, every state), by ``created_at``
        then ``link_id``."""

    def set_link_state(
        self, holder: str, link_id: str, state: LinkState, *, expect: LinkState, at: int
    ) -> bool:
        """Move the link to ``state`` (``updated_at = at``) only if it is now ``expect``,
        in one step; False (nothing written) otherwise or for an unknown link."""

    def set_link_credential(
        self, holder: str, link_id: str, credential_id: str, blob: bytes, *, expect: str, at: int
    ) -> bool:
        """Give an active link a new link credential and sealed ``blob`` (its credential
        re-issued: under a new key, or with a party's new name), ``updated_at = at``, only
        if the link is active and names ``expect`` now, in one step; False (nothing
        written) otherwise or for an unknown link."""

    def put_link_copy(self, copy: LinkCopy) -> None:
        """Insert or replace the copy with this holder and ``copy_id``."""

    def list_link_copies(self, holder: str, link_id: str | None = None) -> list[LinkCopy]:
        """The holder's held-for copies (of one link, or all), by ``added_at`` then
        ``copy_id``."""
