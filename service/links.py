"""Guardians and carers (issue 12): a parent holds a minor child's credentials, a carer
an elder's, and presents them with the *link credential* that says why.

* **Guardianship.** When a department issues ``urn:ecert:guardianship`` into a
  guardian's wallet (:meth:`Links.check_issue` before, :meth:`Links.issued` after),
  the link is kept (:class:`store.kinds.links.LinkRecord`, under the guardian's
  pseudonym, found by the ward's) and a *held-for copy* of each of the ward's valid
  credentials is issued: by the credential's own issuer, with its own status index, the
  same claims, ``exp`` no later than the original's nor the link's end, bound to the
  guardian's wallet key (the service's), kept in the guardian's wallet. Unlike every
  other card it is *not* copied to the guardian's devices: a copy of the child's ID card
  bound to a phone's key could be shown alone, as the child's own; the service only ever
  presents it with its link (:meth:`Links.present`). The link credential itself is
  copied to the devices like any card. The guardianship's own
  ``exp`` is the ward's 18th birthday: the link, and every copy, end by themselves at
  majority. The ward's later credentials reach the guardian too.
* **Care authorisation.** An elder authorises a carer from the wallet
  (:meth:`Links.authorise`): the scenes (each one that accepts carers), an end date
  within a year. Civil affairs issues ``urn:ecert:care-authorisation`` into the carer's
  wallet and held-for copies of the elder's credentials *that those scenes accept*
  (least privilege). :meth:`Links.withdraw` ends it at once. A carer id that names no
  citizen (or one without an ID card to name them) is kept and answered alike: the
  wallet never tells whether an ID number is a citizen's.
* **Following.** A copy follows its original (revoked, suspended, valid again:
  :meth:`Links.follow`); the link's revocation, a withdrawal or the end of the link
  (:meth:`Links.refresh`) revokes every copy and takes them out of the holder's wallet.
* **Re-issued in place.** A link credential or a copy re-issued by
  :meth:`service.reissue.Reissue.replace` (its key reported compromised; a party's new
  name, :mod:`service.changes`) keeps its place: the new link credential takes the link
  over (:meth:`Links.relink`, a compare-and-set, with the names sealed anew) before the
  old one is revoked, so the link and its copies live on; a new copy is known as one
  (:meth:`Links.register_copy`) before the wallet shows it, so it never reaches a device.
  Both keep the old one's ``exp``.

The names and scenes of a link, and the two citizen ids, are sealed (AES-GCM under a key
derived from the instance secret, the holder's pseudonym and the link id as associated
data): the store keeps only pseudonyms, ids, kinds, times and states in clear.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from issuer import CredentialIssuer, Platform
from issuer.catalogue import entries_of
from issuer.errors import InvalidTransition, UnknownCredential
from keys.aead import Envelope
from keys.pseudonym import Pseudonyms
from keys.trustlist import Scene
from service.errors import (
    CareAuthorisationFromWallet,
    CarerInvalid,
    CarerLimitReached,
    CarerNotFound,
    CarerPrincipalUnnamed,
    GuardianshipInvalid,
    GuardianshipWardAdult,
)
from service.ids import random_hex
from service.presentations import Mode, QrPresentations, ShownPresentation
from service.wallets import credential_claims
from store.interface import (
    Conflict,
    CredentialRecord,
    CredentialState,
    LinkCopy,
    LinkKind,
    LinkRecord,
    LinkState,
    Store,
)
from verifier.errors import UnknownScene
from verifier.links import CARE_CLAIMS, GUARDIANSHIP_CLAIMS
from wallet import WalletVault
from wallet.errors import ClaimsUnavailable, CredentialNotInWallet, WalletCorrupt, WalletError

if TYPE_CHECKING:  # service.devices imports service.wallets, which needs nothing of this
    from service.devices import Devices

__all__ = [
    "CARE_AUTHORISATION",
    "DEFAULT_MAX_CARERS",
    "GUARDIANSHIP",
    "LINK_NAME_CLAIMS",
    "LINK_VCTS",
    "LINKS_KEY_LABEL",
    "MAX_CARE_DAYS",
    "MAX_CARER_SCENES",
    "RELATIONSHIPS",
    "HeldFor",
    "LinkView",
    "Links",
    "eighteenth_birthday",
]

GUARDIANSHIP: Final = "urn:ecert:guardianship"
CARE_AUTHORISATION: Final = "urn:ecert:care-authorisation"
#: The link credentials: never copied for another (a link is not passed on).
LINK_VCTS: Final = frozenset({GUARDIANSHIP, CARE_AUTHORISATION})
#: Label of the key that seals links (``derive_key(secret, label)``).
LINKS_KEY_LABEL: Final = "ecert/links/v1"
#: Carers a citizen may have authorised at once (active, not yet ended).
DEFAULT_MAX_CARERS: Final = 3
#: The longest a care authorisation lasts (days from today, inclusive of its last day).
MAX_CARE_DAYS: Final = 366
#: The most scenes one care authorisation names.
MAX_CARER_SCENES: Final = 8
#: What a guardianship's ``relationship`` says.
RELATIONSHIPS: Final = ("father", "mother", "legal_guardian")
#: The department that issues care authorisations.
CIVIL_AFFAIRS: Final = "civil-affairs"
#: Where a citizen's name is read for a care authorisation.
ID_CARD: Final = "urn:ecert:resident-id-card"
_MAX_ID = 32
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
_VERSION = b"L1"
#: The claim of a link credential that names its holder (guardian, carer) or its party
#: (ward, principal): what a change of that citizen's name re-issues.
LINK_NAME_CLAIMS: Final[dict[tuple[str, str], str]] = {
    (GUARDIANSHIP, "holder"): "guardian_name",
    (GUARDIANSHIP, "party"): "ward_name",
    (CARE_AUTHORISATION, "holder"): "carer_name",
    (CARE_AUTHORISATION, "party"): "principal_name",
}
_KIND_VCT: Final[dict[str, str]] = {"guardianship": GUARDIANSHIP, "care": CARE_AUTHORISATION}
#: The day of a care authorisation's ``until`` ends at midnight in China (UTC+8), as the
#: issuer ends a document's ``valid_until`` (:mod:`issuer.credentials`).
_CHINA = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True, slots=True)
class LinkView:
    """A link as the wallet shows it (to its holder or its party): no citizen id in
    clear beyond a masked one."""

    link_id: str
    kind: LinkKind
    state: LinkState
    #: the first second at which the link no longer holds; and that day, ``YYYY-MM-DD``
    until: int
    until_date: str
    created_at: int
    holder_name: str
    party_name: str
    relationship: str | None = None
    scenes: tuple[str, ...] = ()
    #: the holder's (carer's) ID number masked, for the elder's list
    holder_masked: str = ""
    copies: int = 0
    active: bool = field(default=False)


@dataclass(frozen=True, slots=True)
class HeldFor:
    """A card of the holder's wallet that is a held-for copy: for whom, and why."""

    link_id: str
    kind: LinkKind
    party_name: str
    #: the party's card it copies
    credential_id: str


@dataclass(frozen=True, slots=True)
class _Sealed:
    holder_id: str
    party_id: str
    holder_name: str
    party_name: str
    relationship: str | None
    scenes: tuple[str, ...]


class Links:
    """Guardians' and carers' links, and their held-for copies, over the store."""

    def __init__(
        self,
        store: Store,
        issuer: CredentialIssuer,
        vault: WalletVault,
        pseudonyms: Pseudonyms,
        platform: Platform,
        *,
        key: bytes,
        scenes: Callable[[], Mapping[str, Scene]],
        devices: Devices | None = None,
        presentations: QrPresentations | None = None,
        max_carers: int = DEFAULT_MAX_CARERS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``key`` (256 bits, derived under :data:`LINKS_KEY_LABEL`) seals the links;
        ``scenes()`` gives the live trust list's scenes; ``devices`` (the container's)
        copies each held-for copy to the holder's devices and follows it."""
        self._store = store
        self._issuer = issuer
        self._vault = vault
        self._pseudonyms = pseudonyms
        self._platform = platform
        self._aead = Envelope(key, _VERSION)
        self._scenes = scenes
        self.devices = devices
        self._presentations = presentations
        self.max_carers = max_carers
        self.clock = clock

    # -- issuance by a department --------------------------------------------------------

    def check_issue(self, vct: str, citizen_id: str, claims: Mapping[str, Any]) -> int | None:
        """Before a department issues ``vct`` to ``citizen_id``: the ``exp`` a link
        credential must have (a guardianship ends at the ward's 18th birthday), None for
        any other type. Raises :class:`GuardianshipInvalid`,
        :class:`GuardianshipWardAdult` and :class:`CareAuthorisationFromWallet`."""
        if vct == CARE_AUTHORISATION:
            raise CareAuthorisationFromWallet(
                "A care authorisation is given by the elder from the wallet."
            )
        if vct != GUARDIANSHIP:
            return None
        guardian = claims.get("guardian_id_number")
        ward = claims.get("ward_id_number")
        born = claims.get("ward_birth_date")
        if guardian != citizen_id:
            raise GuardianshipInvalid(
                "guardian_id_number must be the ID number of the citizen it is issued to."
            )
        if not isinstance(ward, str) or not _ID_NUMBER.fullmatch(ward) or ward == guardian:
            raise GuardianshipInvalid("ward_id_number must be another citizen's ID number.")
        if not isinstance(born, str) or not _DATE.fullmatch(born):
            raise GuardianshipInvalid("ward_birth_date must be a date (YYYY-MM-DD).")
        if born.replace("-", "") != ward[6:14]:
            raise GuardianshipInvalid("ward_birth_date is not the birth date in ward_id_number.")
        if claims.get("relationship") not in RELATIONSHIPS:
            raise GuardianshipInvalid("relationship must be father, mother or legal_guardian.")
        majority = eighteenth_birthday(born)
        if majority <= self.clock():
            raise GuardianshipWardAdult("The ward is 18 or older: no guardianship of a minor.")
        return majority

    def issued(self, citizen_id: str, record: CredentialRecord, claims: Mapping[str, Any]) -> None:
        """After a department's credential reached ``citizen_id``'s wallet: keep the link
        of a guardianship and copy the ward's credentials to the guardian; give every
        holder of an active link to this citizen a held-for copy of the new credential."""
        if record.vct == GUARDIANSHIP:
            self._guardianship(citizen_id, record, claims)
        elif record.vct not in LINK_VCTS:
            self.deliver(citizen_id, record.id)

    def _guardianship(
        self, guardian_id: str, record: CredentialRecord, claims: Mapping[str, Any]
    ) -> None:
        ward_id = str(claims["ward_id_number"])
        sealed = _Sealed(
            holder_id=guardian_id,
            party_id=ward_id,
            holder_name=str(claims.get("guardian_name", "")),
            party_name=str(claims.get("ward_name", "")),
            relationship=str(claims.get("relationship", "")),
            scenes=(),
        )
        link = self._put(guardian_id, ward_id, "guardianship", record.id, record.expires_at, sealed)
        self._copy_all(link, sealed)

    # -- carers ------------------------------------------------------------------------

    def authorise(
        self, principal_id: str, carer_id: str, scenes: Sequence[str], until: str
    ) -> LinkView:
        """The citizen authorises ``carer_id`` for ``scenes`` until the end of the day
        ``until`` (``YYYY-MM-DD``, China time: the credential's ``valid_until``). Raises
        :class:`CarerInvalid`, :class:`CarerLimitReached` and
        :class:`CarerPrincipalUnnamed`; a carer id that names no citizen is answered alike
        (nothing is issued)."""
        names = self._check_scenes(scenes)
        end = self._check_until(until)
        carer = carer_id.strip().upper() if isinstance(carer_id, str) else ""
        if not 1 <= len(carer) <= _MAX_ID or not carer.isascii() or not carer.isalnum():
            raise CarerInvalid("carer_id must be a citizen's ID number.")
        if carer == principal_id:
            raise CarerInvalid("A citizen cannot authorise themself as a carer.")
        self.refresh(principal_id)
        principal = self._pseudonyms.of(principal_id)
        active = [
            r for r in self._store.list_party_links(principal) if _active(r, "care", self.clock())
        ]
        if len(active) >= self.max_carers:
            raise CarerLimitReached(
                f"You already have {self.max_carers} carers: withdraw one first."
            )
        principal_name = self._name_of(principal_id)
        if principal_name is None:
            raise CarerPrincipalUnnamed(
                "Your wallet holds no resident ID card to name you in an authorisation."
            )
        carer_name = self._name_of(carer) if self._is_citizen(carer) else None
        sealed = _Sealed(carer, principal_id, carer_name or "", principal_name, None, names)
        credential_id = ""
        if carer_name is not None:
            issued = self._issuer.issue(
                self._platform.issuer_url(CIVIL_AFFAIRS),
                CARE_AUTHORISATION,
                subject=carer,
                claims={
                    "principal_name": principal_name,
                    "principal_id_number": principal_id,
                    "carer_name": carer_name,
                    "carer_id_number": carer,
                    "scenes": " ".join(names),
                    "valid_until": until,
                },
                holder_jwk=self._vault.holder_jwk(carer),
                not_after=end,
            )
            try:
                self._vault.add(carer, issued.id, issued.sd_jwt)
                if self.devices is not None:
                    self.devices.deliver(carer, issued.id)
            except Exception:
                with contextlib.suppress(InvalidTransition, UnknownCredential):
                    self._issuer.revoke(issued.record.issuer, issued.id)
                raise
            credential_id = issued.id
        link = self._put(carer, principal_id, "care", credential_id, end, sealed)
        if credential_id:
            self._copy_all(link, sealed)
        return self._view(link, sealed)

    def carers(self, principal_id: str) -> list[LinkView]:
        """The care authorisations the citizen gave (every state), oldest first."""
        self.refresh(principal_id)
        out = []
        for record in self._store.list_party_links(self._pseudonyms.of(principal_id)):
            if record.kind == "care":
                out.append(self._view(record, self._open(record)))
        return out

    def withdraw(self, principal_id: str, link_id: str) -> LinkView:
        """Withdraw an active care authorisation the citizen gave: the authorisation and
        every copy revoked at once. Raises :class:`CarerNotFound`."""
        principal = self._pseudonyms.of(principal_id)
        for record in self._store.list_party_links(principal):
            if record.link_id == link_id and record.kind == "care" and record.state == "active":
                ended = self._end(record, "withdrawn")
                if ended is not None:
                    return self._view(ended, self._open(ended))
        raise CarerNotFound("No active carer with this id.")

    def _check_scenes(self, scenes: Sequence[str]) -> tuple[str, ...]:
        if isinstance(scenes, str) or not 1 <= len(scenes) <= MAX_CARER_SCENES:
            raise CarerInvalid(f"Name 1 to {MAX_CARER_SCENES} scenes.")
        live = self._scenes()
        names: list[str] = []
        for scene_id in scenes:
            scene = live.get(scene_id) if isinstance(scene_id, str) else None
            if scene is None or not scene.carer:
                raise CarerInvalid("A scene named does not accept carers.")
            if scene_id not in names:
                names.append(scene_id)
        return tuple(names)

    def _check_until(self, until: str) -> int:
        if not isinstance(until, str) or not _DATE.fullmatch(until):
            raise CarerInvalid("until must be a date (YYYY-MM-DD).")
        try:
            day = dt.date.fromisoformat(until)
        except ValueError:
            raise CarerInvalid("until must be a calendar date.") from None
        today = dt.datetime.fromtimestamp(self.clock(), _CHINA).date()
        if day < today:
            raise CarerInvalid("until is in the past.")
        if day > today + dt.timedelta(days=MAX_CARE_DAYS - 1):
            raise CarerInvalid("A care authorisation lasts at most a year.")
        return _day_end(day)

    # -- the holder's view ---------------------------------------------------------------

    def held_for(self, holder_id: str) -> dict[str, HeldFor]:
        """The holder's held-for copies of active links: copy id -> for whom."""
        holder = self._pseudonyms.of(holder_id)
        now = self.clock()
        links = {r.link_id: r for r in self._store.list_links(holder) if _active(r, None, now)}
        out: dict[str, HeldFor] = {}
        opened: dict[str, _Sealed] = {}
        for copy in self._store.list_link_copies(holder):
            link = links.get(copy.link_id)
            if link is None:
                continue
            if link.link_id not in opened:
                opened[link.link_id] = self._open(link)
            party = opened[link.link_id].party_name
            out[copy.copy_id] = HeldFor(link.link_id, link.kind, party, copy.credential_id)
        return out

    def links_of(self, holder_id: str) -> list[LinkView]:
        """The links the citizen holds (as guardian or carer), oldest first."""
        self.refresh(holder_id)
        holder = self._pseudonyms.of(holder_id)
        return [self._view(r, self._open(r)) for r in self._store.list_links(holder)]

    def present(self, holder_id: str, copy_id: str, scene_id: str, mode: Mode) -> ShownPresentation:
        """The set ``[held-for copy, link credential]`` for the scene, held by the
        service for ``mode`` (the wallet page's QR). Raises
        :class:`~wallet.errors.CredentialNotInWallet` for a copy of no active link of the
        holder, :class:`~verifier.errors.UnknownScene`, ``scene_unmet``
        (:class:`~wallet.errors.ClaimsUnavailable`) for a scene that does not take the
        link or the copy's type, and a :class:`~wallet.errors.CredentialUnusable` for
        either credential."""
        link_id = self.link_credential(holder_id, copy_id)
        if link_id is None or self._presentations is None:
            raise CredentialNotInWallet("no held-for credential with this id")
        scene = self._scenes().get(scene_id)
        if scene is None:
            raise UnknownScene("No scene with this id.")
        link = self._store.get_credential(link_id)
        if link is None:  # pragma: no cover - the link names a credential it issued
            raise CredentialNotInWallet("no held-for credential with this id")
        if link.vct == GUARDIANSHIP:
            takes, link_claims = scene.guardian, GUARDIANSHIP_CLAIMS
        else:
            takes, link_claims = scene.carer, CARE_CLAIMS
        if not takes:
            raise ClaimsUnavailable(f"the scene {scene_id!r} does not take this link")
        presentation = self._vault.present_with_link(
            holder_id, copy_id, link_id, scene, link_claims
        )
        return self._presentations.show(holder_id, presentation, mode)

    def is_held_copy(self, holder_id: str, credential_id: str) -> bool:
        """Whether this card of the holder's wallet is a held-for copy (of any link, in
        any state): it is only ever presented with its link, never alone, and never
        copied to the holder's devices, re-issued by a change of the holder's own
        fields, nor passed on."""
        holder = self._pseudonyms.of(holder_id)
        return any(c.copy_id == credential_id for c in self._store.list_link_copies(holder))

    def copy_ids(self, holder_id: str) -> frozenset[str]:
        """The ids of every held-for copy the holder has had (of any link, in any state)."""
        holder = self._pseudonyms.of(holder_id)
        return frozenset(c.copy_id for c in self._store.list_link_copies(holder))

    def link_credential(self, holder_id: str, copy_id: str) -> str | None:
        """The registry id of the link credential that a held-for copy is presented
        with, or None if the copy is not one of an active link of the holder."""
        holder = self._pseudonyms.of(holder_id)
        for copy in self._store.list_link_copies(holder):
            if copy.copy_id == copy_id:
                link = self._store.get_link(holder, copy.link_id)
                if link is not None and _active(link, None, self.clock()) and link.credential_id:
                    return link.credential_id
        return None

    # -- following ----------------------------------------------------------------------

    def follow(self, record: CredentialRecord) -> None:
        """A credential's state changed (a department's revocation, suspension or
        reinstatement, a re-issue's revocation of the old card): a link credential
        revoked ends its link; an original gives its held-for copies its state (not those
        of an ended link, which stay revoked), and a revoked one's copies leave the
        holder's wallet."""
        if record.vct in LINK_VCTS:
            if record.state == "revoked":
                for link in self._store.list_links(record.subject):
                    if link.credential_id == record.id and link.state == "active":
                        self._end(link, "revoked")
            return
        for link in self._store.list_party_links(record.subject):
            if link.state != "active":
                continue
            for copy in self._store.list_link_copies(link.holder, link.link_id):
                if copy.credential_id == record.id:
                    self._set(copy.copy_id, record.state)
                    if record.state == "revoked":  # (or replaced): of no use to the holder
                        with contextlib.suppress(CredentialNotInWallet):
                            self._vault.remove(self._open(link).holder_id, copy.copy_id)

    def deliver(self, party_id: str, credential_id: str) -> int:
        """Give every active link to ``party_id`` a held-for copy of one of the party's
        cards (a care link only of a type its scenes accept); how many were issued."""
        count = 0
        now = self.clock()
        for link in self._store.list_party_links(self._pseudonyms.of(party_id)):
            if not _active(link, None, now) or not link.credential_id:
                continue
            has = {c.credential_id for c in self._store.list_link_copies(link.holder, link.link_id)}
            if credential_id in has:
                continue
            sealed = self._open(link)
            if self._copy(link, sealed, credential_id, self._vcts_of(sealed)) is not None:
                count += 1
        return count

    def refresh(self, citizen_id: str) -> int:
        """End the links of this citizen (held or given) whose time is up; how many."""
        owner = self._pseudonyms.of(citizen_id)
        now = self.clock()
        ended = 0
        seen = {*self._store.list_links(owner), *self._store.list_party_links(owner)}
        for link in seen:
            if link.state == "active" and link.until <= now and self._end(link, "expired"):
                ended += 1
        return ended

    # -- re-issued in place (service.reissue) --------------------------------------------

    def role_of(self, record: CredentialRecord) -> Literal["link", "copy"] | None:
        """What a credential of a holder's wallet is to the links: a link credential
        (``link``), a held-for copy (``copy``), or neither (None)."""
        if record.vct in LINK_VCTS:
            return "link"
        if any(c.copy_id == record.id for c in self._store.list_link_copies(record.subject)):
            return "copy"
        return None

    def register_copy(self, old: CredentialRecord, new_id: str) -> None:
        """Before a held-for copy's replacement ``new_id`` reaches the holder's wallet:
        known as a copy of the same card on the same link (so it stays off devices and
        follows the card). Idempotent."""
        for copy in self._store.list_link_copies(old.subject):
            if copy.copy_id == old.id:
                self._store.put_link_copy(
                    LinkCopy(
                        holder=copy.holder,
                        link_id=copy.link_id,
                        copy_id=new_id,
                        credential_id=copy.credential_id,
                        vct=copy.vct,
                        added_at=int(self.clock()),
                    )
                )
                return

    def relink(self, holder_id: str, old: CredentialRecord, new: CredentialRecord) -> bool:
        """Hand the holder's active link of link credential ``old`` over to ``new`` (its
        re-issue, in the holder's wallet), the names sealed anew from ``new``'s claims;
        True once the link names ``new`` (also when it did already), False if no active
        link names either (it ended: ``new`` is of no use)."""
        holder = self._pseudonyms.of(holder_id)
        for link in self._store.list_links(holder):
            if link.credential_id == new.id:
                return link.state == "active"
            if link.credential_id != old.id or link.state != "active":
                continue
            claims = credential_claims(self._vault.credential(holder_id, new.id).sd_jwt)
            sealed = self._open(link)
            kind = _KIND_VCT[link.kind]
            renamed = _Sealed(
                holder_id=sealed.holder_id,
                party_id=sealed.party_id,
                holder_name=str(claims.get(LINK_NAME_CLAIMS[(kind, "holder")], "")),
                party_name=str(claims.get(LINK_NAME_CLAIMS[(kind, "party")], "")),
                relationship=sealed.relationship,
                scenes=sealed.scenes,
            )
            blob = self._aead.seal(_encode(renamed), _aad(holder, link.link_id))
            at = int(self.clock())
            if self._store.set_link_credential(
                holder, link.link_id, new.id, blob, expect=old.id, at=at
            ):
                return True
            again = self._store.get_link(holder, link.link_id)  # lost a race: to whom?
            return again is not None and again.state == "active" and again.credential_id == new.id
        return False

    def naming(self, citizen_id: str) -> list[tuple[LinkRecord, str]]:
        """The active links whose credential names this citizen (as holder or party), each
        with the claim that carries the citizen's name, oldest first."""
        owner = self._pseudonyms.of(citizen_id)
        now = self.clock()
        out: list[tuple[LinkRecord, str]] = []
        for role, records in (
            ("holder", self._store.list_links(owner)),
            ("party", self._store.list_party_links(owner)),
        ):
            for link in records:
                if _active(link, None, now) and link.credential_id:
                    out.append((link, LINK_NAME_CLAIMS[(_KIND_VCT[link.kind], role)]))
        return out

    def holder_of(self, link: LinkRecord) -> str:
        """The citizen id of a link's holder (sealed in the link)."""
        return self._open(link).holder_id

    # -- machinery ----------------------------------------------------------------------

    def _put(
        self,
        holder_id: str,
        party_id: str,
        kind: LinkKind,
        credential_id: str,
        until: int,
        sealed: _Sealed,
    ) -> LinkRecord:
        holder = self._pseudonyms.of(holder_id)
        now = int(self.clock())
        for _ in range(3):
            link_id = f"{now:x}" + random_hex(8)
            record = LinkRecord(
                holder=holder,
                link_id=link_id,
                party=self._pseudonyms.of(party_id),
                kind=kind,
                credential_id=credential_id,
                created_at=now,
                until=until,
                state="active",
                updated_at=now,
                blob=self._aead.seal(_encode(sealed), _aad(holder, link_id)),
            )
            try:
                self._store.put_link(record)
            except Conflict:  # pragma: no cover - 64 random bits
                continue
            return record
        raise Conflict("could not draw a free link id")  # pragma: no cover

    def _vcts_of(self, sealed: _Sealed) -> frozenset[str] | None:
        """The types a care link copies (those its scenes accept); None: every type."""
        if not sealed.scenes:
            return None
        live = self._scenes()
        vcts: set[str] = set()
        for scene_id in sealed.scenes:
            scene = live.get(scene_id)
            if scene is not None:
                vcts.update(vct for vct, _ in entries_of(scene))
        return frozenset(vcts)

    def _copy_all(self, link: LinkRecord, sealed: _Sealed) -> int:
        vcts = self._vcts_of(sealed)
        count = 0
        for item in self._vault.items(sealed.party_id):
            if self._copy(link, sealed, item.credential_id, vcts) is not None:
                count += 1
        return count

    def _copy(
        self,
        link: LinkRecord,
        sealed: _Sealed,
        credential_id: str,
        vcts: frozenset[str] | None,
    ) -> LinkCopy | None:
        """Issue one of the party's cards again for the link's holder; None if it cannot
        be copied (a link credential, a held-for copy itself, a type the link does not
        cover, not in the registry, revoked or expired)."""
        card = self._store.get_credential(credential_id)
        if card is None or card.vct in LINK_VCTS or (vcts is not None and card.vct not in vcts):
            return None
        state = self._vault.live_state(credential_id)
        if state in ("revoked", "unknown") or card.expires_at <= self.clock():
            return None
        if any(c.copy_id == credential_id for c in self._store.list_link_copies(link.party)):
            return None  # the party's own held-for copy: a link is not passed on
        try:
            sd_jwt = self._vault.credential(sealed.party_id, credential_id).sd_jwt
        except (WalletError, WalletCorrupt):
            return None
        issued = self._issuer.issue(
            card.issuer,
            card.vct,
            subject=sealed.holder_id,
            claims=credential_claims(sd_jwt),
            holder_jwk=self._vault.holder_jwk(sealed.holder_id),
            not_after=min(card.expires_at, link.until),
        )
        copy = LinkCopy(
            holder=link.holder,
            link_id=link.link_id,
            copy_id=issued.id,
            credential_id=credential_id,
            vct=card.vct,
            added_at=int(self.clock()),
        )
        try:
            # the copy first, so that it is known as one before the wallet shows it; the
            # service keeps it (no device copy): it is presented only with its link
            self._store.put_link_copy(copy)
            self._vault.add(sealed.holder_id, issued.id, issued.sd_jwt)
        except Exception:
            self._set(issued.id, "revoked")
            raise
        if state == "suspended":
            self._set(issued.id, "suspended")
        return copy

    def _end(self, link: LinkRecord, state: LinkState) -> LinkRecord | None:
        """Move an active link to ``state`` (one winner), revoke its credential and its
        copies, and take the copies out of the holder's wallet."""
        at = int(self.clock())
        if not self._store.set_link_state(link.holder, link.link_id, state, expect="active", at=at):
            return None
        sealed = self._open(link)
        # the credential read before, and the one the link names now (a re-issue may
        # have handed the link over in between: relink)
        current = self._store.get_link(link.holder, link.link_id) or link
        for credential_id in dict.fromkeys((link.credential_id, current.credential_id)):
            if credential_id:
                self._set(credential_id, "revoked")
        for copy in self._store.list_link_copies(link.holder, link.link_id):
            self._set(copy.copy_id, "revoked")
            with contextlib.suppress(CredentialNotInWallet):
                self._vault.remove(sealed.holder_id, copy.copy_id)
            if self.devices is not None:
                self.devices.forget(sealed.holder_id, copy.copy_id)
        return self._store.get_link(link.holder, link.link_id)

    def _set(self, credential_id: str, state: CredentialState) -> None:
        """Give one credential (a copy, a link credential) a state, and the copies of it
        on the holder's devices too."""
        record = self._store.get_credential(credential_id)
        if record is None or record.state == state:
            return
        with contextlib.suppress(InvalidTransition, UnknownCredential):
            if state == "revoked":
                record = self._issuer.revoke(record.issuer, credential_id)
            elif state == "suspended":
                record = self._issuer.suspend(record.issuer, credential_id)
            else:
                record = self._issuer.reinstate(record.issuer, credential_id)
            if self.devices is not None:
                self.devices.follow(record)

    def _name_of(self, citizen_id: str) -> str | None:
        """The name on the citizen's own valid resident ID card (never one held for a
        ward), or None."""
        others = self.copy_ids(citizen_id)
        for item in self._vault.items(citizen_id):
            if item.vct != ID_CARD or item.credential_id in others:
                continue
            if self._vault.live_state(item.credential_id) != "valid":
                continue
            try:
                name = credential_claims(
                    self._vault.credential(citizen_id, item.credential_id).sd_jwt
                ).get("name")
            except (WalletError, WalletCorrupt):
                continue
            if isinstance(name, str) and name:
                return name
        return None

    def _is_citizen(self, citizen_id: str) -> bool:
        return self._store.get_citizen(self._pseudonyms.of(citizen_id)) is not None

    def _open(self, record: LinkRecord) -> _Sealed:
        try:
            data = json.loads(self._aead.open(record.blob, _aad(record.holder, record.link_id)))
            return _Sealed(
                holder_id=data["h"],
                party_id=data["p"],
                holder_name=data["hn"],
                party_name=data["pn"],
                relationship=data["r"],
                scenes=tuple(data["s"]),
            )
        except Exception as err:  # SealBroken, or what is not our JSON
            raise WalletCorrupt("a link does not open with its key") from err

    def _view(self, record: LinkRecord, sealed: _Sealed) -> LinkView:
        day = dt.datetime.fromtimestamp(record.until - 1, _CHINA).date().isoformat()
        copies = len(self._store.list_link_copies(record.holder, record.link_id))
        return LinkView(
            link_id=record.link_id,
            kind=record.kind,
            state=record.state,
            until=record.until,
            until_date=day,
            created_at=record.created_at,
            holder_name=sealed.holder_name,
            party_name=sealed.party_name,
            relationship=sealed.relationship,
            scenes=sealed.scenes,
            holder_masked=_mask(sealed.holder_id),
            copies=copies,
            active=_active(record, None, self.clock()),
        )


def eighteenth_birthday(born: str) -> int:
    """The first second (China time, UTC+8) of the 18th birthday of someone born on ``born``
    (``YYYY-MM-DD``; born on 29 February: 1 March in a common year)."""
    day = dt.date.fromisoformat(born)
    try:
        birthday = day.replace(year=day.year + 18)
    except ValueError:  # 29 February, 18 years later a common year
        birthday = dt.date(day.year + 18, 3, 1)
    return int(dt.datetime(birthday.year, birthday.month, birthday.day, tzinfo=_CHINA).timestamp())


def _day_end(day: dt.date) -> int:
    """The first second after ``day`` in China (UTC+8)."""
    nxt = day + dt.timedelta(days=1)
    return int(dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=_CHINA).timestamp())


def _active(record: LinkRecord, kind: Literal["guardianship", "care"] | None, now: float) -> bool:
    return record.state == "active" and record.until > now and (kind is None or record.kind == kind)


def _mask(citizen_id: str) -> str:
    if len(citizen_id) <= 8:
        return "*" * len(citizen_id)
    return citizen_id[:4] + "*" * (len(citizen_id) - 8) + citizen_id[-4:]


def _encode(sealed: _Sealed) -> bytes:
    return json.dumps(
        {
            "h": sealed.holder_id,
            "p": sealed.party_id,
            "hn": sealed.holder_name,
            "pn": sealed.party_name,
            "r": sealed.relationship,
            "s": list(sealed.scenes),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def _aad(holder: str, link_id: str) -> bytes:
    return b"ecert-link:" + holder.encode("utf-8") + b"\x00" + link_id.encode("utf-8")
