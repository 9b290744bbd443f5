"""Derived attestations: a yes/no about a citizen instead of the details behind it.

An internet café needs to know that a guest is 18 or over, not the birth date, the name
or the ID number; a museum's residents' discount needs "resident of the city", not the
household address. So whenever a **source** credential is in a citizen's wallet, the
police's key issues the matching **attestation** into the same wallet (and, like every
card, a copy to each of the citizen's devices):

* ``urn:ecert:age-attestation`` (:data:`AGE_VCT`): ``age_over_14``, ``age_over_16``,
  ``age_over_18``, ``age_over_60``, ``age_over_65``, booleans computed from the source's
  ``birth_date`` against today (UTC); a citizen is *N or over* from the Nth birthday on
  (born 29 February: from 1 March in a common year). Source: the resident ID card,
  else the household register (a child under 16 often has no ID card).
* ``urn:ecert:residence-attestation`` (:data:`RESIDENCE_VCT`): ``resident_of_city``
  (the household register's household ``address`` begins with the city's name) and
  ``city`` (the setting ``ECERT_CITY``, default the demo's 北京市). Source: the household
  register.

The attestation never states a stale fact: its ``exp`` is the earliest of its type's
normal validity (``validity_days``), its source's ``exp`` and, for the age attestation,
the next threshold birthday (00:00 UTC of the next 14th/16th/18th/60th/65th birthday),
when one of its booleans would flip.

:meth:`Derived.sync` makes a wallet right, idempotently: for each kind, the chosen source
is the first type of the kind's sources present, valid (live status) and unexpired in
the wallet, the newest of that type; the claims it gives are computed; a valid,
unexpired attestation with exactly those claims and an ``exp`` no later than the cap is
kept (the newest, if several), every other valid one of the kind is revoked; with none
kept, a new one is issued *before* the old ones are revoked (never a moment without).
With no valid source, every valid attestation of the kind is revoked. So there is one
valid attestation per kind per citizen after any sync; two syncs racing (two workers)
both pick the newest as the one to keep, so the last one to finish leaves one.

It runs (the hooks, :meth:`Derived.attach`): after every issuance into a wallet (a
department over HTTP, a batch: :class:`~service.issuance.Issuance`'s listeners), after
every re-issue (a change cascade of ``birth_date`` or ``address``, a key compromise:
:class:`~service.reissue.Reissue`'s listeners), after a department revokes, suspends or
reinstates a source (the attestation follows: revoked with it, issued again when it is
reinstated), when the wallet lists its cards and one is due (an expired attestation or
a missing one: the threshold crossed), in the demo's seeding, and for every citizen
with ``ecert derived refresh`` (run it daily). A hook that fails is logged (the error's
code, nothing personal) and left to the next sync: the source's own issuance stands.

An attestation revoked by hand comes back at the next sync while its source is valid:
to withdraw one, revoke or suspend its source. Nothing is issued unless the department
named by the attestation type's ``issuer_hint`` (``police``) is registered and allowed
to issue that type (``vcts``): an instance opts in by granting it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from issuer import UnknownCredentialType, load_catalogue
from keys import EcertError
from service.directory import CitizenDirectory
from service.issuance import Issuance
from service.reissue import Reissue
from service.wallets import credential_claims
from store.interface import CredentialRecord, IssuerRecord, Store, WalletItem
from wallet import WalletVault
from wallet.errors import CredentialNotInWallet

__all__ = [
    "AGE_THRESHOLDS",
    "AGE_VCT",
    "DEFAULT_CITY",
    "HOUSEHOLD_REGISTER",
    "ID_CARD",
    "KINDS",
    "RESIDENCE_VCT",
    "Derived",
    "DerivedKind",
    "Refreshed",
    "Synced",
    "age_claims",
    "birthday",
    "residence_claims",
]

log = logging.getLogger("ecert.derived")

AGE_VCT: Final = "urn:ecert:age-attestation"
RESIDENCE_VCT: Final = "urn:ecert:residence-attestation"
ID_CARD: Final = "urn:ecert:resident-id-card"
HOUSEHOLD_REGISTER: Final = "urn:ecert:household-register"
#: The ages the age attestation answers for, in its claims' order (``age_over_<n>``).
AGE_THRESHOLDS: Final = (14, 16, 18, 60, 65)
#: The city the residence attestation names when the setting ``ECERT_CITY`` is not set.
DEFAULT_CITY: Final = "北京市"
#: How many citizens' locks are kept (striped: two citizens may share one).
_LOCKS: Final = 64


@dataclass(frozen=True, slots=True)
class DerivedKind:
    """An attestation type and the types it is derived from, in order of preference."""

    vct: str
    sources: tuple[str, ...]


KINDS: Final = (
    DerivedKind(AGE_VCT, (ID_CARD, HOUSEHOLD_REGISTER)),
    DerivedKind(RESIDENCE_VCT, (HOUSEHOLD_REGISTER,)),
)
_SOURCE_TYPES: Final = frozenset(s for kind in KINDS for s in kind.sources)


@dataclass(slots=True)
class Synced:
    """What one :meth:`Derived.sync` did: the attestation ids issued, revoked and kept."""

    issued: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Refreshed:
    """What :meth:`Derived.refresh` did over every citizen (counts only: no ids)."""

    citizens: int = 0
    issued: int = 0
    revoked: int = 0
    kept: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "citizens": self.citizens,
            "issued": self.issued,
            "revoked": self.revoked,
            "kept": self.kept,
            "failed": self.failed,
        }


def birthday(birth: dt.date, years: int) -> dt.date:
    """The ``years``-th birthday of someone born on ``birth`` (29 February: 1 March in a
    common year, the day one has completed the years)."""
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:  # 29 February in a common year
        return dt.date(birth.year + years, 3, 1)


def age_claims(birth: dt.date, today: dt.date) -> tuple[dict[str, bool], dt.date]:
    """The age attestation's claims on ``today`` and the next day one of them flips."""
    claims = {f"age_over_{n}": today >= birthday(birth, n) for n in AGE_THRESHOLDS}
    upcoming = [birthday(birth, n) for n in AGE_THRESHOLDS if birthday(birth, n) > today]
    # past 65 nothing flips again: the type's validity (and the source's) bound it
    flips = min(upcoming) if upcoming else dt.date.max
    return claims, flips


def residence_claims(address: str, city: str) -> dict[str, Any]:
    """The residence attestation's claims: whether the household address is in ``city``."""
    return {"resident_of_city": address.startswith(city), "city": city}


def _midnight_utc(day: dt.date) -> int:
    if day >= dt.date(9999, 1, 1):
        return 2**53 - 1
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


@dataclass(frozen=True, slots=True)
class _Held:
    """A card of the wallet as a sync sees it."""

    item: WalletItem
    record: CredentialRecord


class Derived:
    """Issues and keeps in sync the citizens' derived attestations (module doc)."""

    def __init__(
        self,
        store: Store,
        issuance: Issuance,
        vault: WalletVault,
        directory: CitizenDirectory,
        *,
        city: str = DEFAULT_CITY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._issuance = issuance
        self._vault = vault
        self._directory = directory
        self.city = city
        self.clock = clock
        self._catalogue = load_catalogue()
        self._locks = [threading.Lock() for _ in range(_LOCKS)]
        #: ``held_copies(citizen_id)``: the ids of the cards the citizen holds for another
        #: (a ward's, a principal's: :mod:`service.links`). They are the other's: never a
        #: source of this citizen's attestations, never one of them. Set by the container.
        self.held_copies: Callable[[str], frozenset[str]] | None = None

    # -- the hooks ---------------------------------------------------------------------

    def attach(self, issuance: Issuance, reissue: Reissue) -> None:
        """Listen to issuances, status changes and re-issues (``reissue``: the
        container's :class:`~service.reissue.Reissue`)."""
        issuance.listen(issued=self.on_issued, status=self.on_status)
        reissue.listen(self.on_replaced)

    def on_issued(self, issued: Iterable[tuple[str, CredentialRecord]]) -> None:
        """Credentials were issued into wallets: sync the wallets that got a source."""
        citizens: dict[str, set[str]] = {}
        for citizen_id, record in issued:
            if record.vct in _SOURCE_TYPES:
                citizens.setdefault(citizen_id, set()).add(record.id)
        if not citizens or not self._authorised():
            return
        for citizen_id, new in citizens.items():
            self._quietly(citizen_id, frozenset(new))

    def on_replaced(self, citizen_id: str, new: CredentialRecord) -> None:
        """A credential was re-issued (a change cascade, a key compromise): sync if it
        is a source, or an attestation (a re-issue must not stretch its expiry)."""
        if new.vct in _SOURCE_TYPES or new.vct in (AGE_VCT, RESIDENCE_VCT):
            self._quietly(citizen_id, frozenset({new.id}))

    def on_status(self, record: CredentialRecord) -> None:
        """A department revoked, suspended or reinstated a credential: the attestations
        derived from a source follow it."""
        if record.vct not in _SOURCE_TYPES or not self._authorised():
            return
        try:
            citizen_id = self._directory.lookup(record.subject)
        except EcertError as err:
            log.warning("derived attestations not followed: directory entry (%s)", err.code)
            return
        if citizen_id is None:
            log.warning("derived attestations not followed: the citizen is not in the directory")
            return
        self._quietly(citizen_id)

    def due(self, citizen_id: str) -> bool:
        """Whether the wallet needs a sync, from its metadata and live statuses only
        (nothing decrypted): a valid source without a valid unexpired attestation of its
        kind, or a valid attestation without a valid source."""
        now = self.clock()
        others = self._others(citizen_id)
        valid = {
            item.vct
            for item in self._vault.items(citizen_id)
            if item.expires_at > now
            and item.credential_id not in others
            and self._vault.live_state(item.credential_id) == "valid"
        }
        return any(
            bool(valid & set(kind.sources)) != (kind.vct in valid)
            for kind in KINDS
            if self._police(kind.vct) is not None
        )

    def refresh_due(self, citizen_id: str) -> None:
        """Sync the wallet if it is due (the wallet's list calls this first); a failure
        is logged, the list is shown anyway."""
        try:
            if self.due(citizen_id):
                self.sync(citizen_id)
        except EcertError as err:
            log.warning("derived attestations not refreshed (%s)", err.code)

    def _quietly(self, citizen_id: str, prefer: frozenset[str] = frozenset()) -> None:
        try:
            self.sync(citizen_id, prefer=prefer)
        except EcertError as err:
            log.warning("derived attestations not synced (%s); the next refresh will", err.code)

    # -- the work ----------------------------------------------------------------------

    def refresh(self) -> Refreshed:
        """Sync every citizen's wallet (``ecert derived refresh``, daily): expired
        attestations issued again, missing ones issued, orphans revoked."""
        out = Refreshed()
        if not self._authorised():
            return out
        for record in self._store.list_citizens():
            try:
                citizen_id = self._directory.lookup(record.citizen_id)
                if citizen_id is None:
                    continue
                out.citizens += 1
                done = self.sync(citizen_id)
            except EcertError as err:
                log.warning("derived attestations of a citizen not refreshed (%s)", err.code)
                out.failed += 1
                continue
            out.issued += len(done.issued)
            out.revoked += len(done.revoked)
            out.kept += len(done.kept)
        return out

    def sync(
        self, citizen_id: str, *, prefer: frozenset[str] = frozenset(), counted: bool = True
    ) -> Synced:
        """Make the citizen's attestations right (module doc); what was done.
        ``prefer``: the ids of sources just issued, chosen over others of their type
        (issued within the same second, the registry cannot tell which is newer);
        ``counted`` False: the issuances are not counted (the demo's seeding)."""
        out = Synced()
        lock = self._locks[hash(citizen_id) % _LOCKS]
        with lock:
            for kind in KINDS:
                police = self._police(kind.vct)
                if police is not None:
                    self._sync_kind(citizen_id, kind, police, out, prefer, counted)
        return out

    def _sync_kind(
        self,
        citizen_id: str,
        kind: DerivedKind,
        police: IssuerRecord,
        out: Synced,
        prefer: frozenset[str],
        counted: bool = True,
    ) -> None:
        now = self.clock()
        held = self._held(citizen_id, now)
        current = [h for h in held if h.item.vct == kind.vct]
        source = self._source(held, kind, prefer)
        wanted = None if source is None else self._derive(citizen_id, kind, source, now)
        if wanted is None:
            for one in current:
                self._revoke(police, one, out)
            return
        claims, cap = wanted

        def right(one: _Held) -> bool:
            return one.record.expires_at <= cap and self._claims(citizen_id, one) == claims

        keep = next((one for one in sorted(current, key=_age, reverse=True) if right(one)), None)
        if keep is None:
            ctype = self._catalogue.get(kind.vct)
            if min(cap, int(now) + ctype.validity_days * 86400) <= int(now):
                return
            record = self._issuance.issue(
                police, kind.vct, citizen_id, claims, not_after=cap, counted=counted
            )
            out.issued.append(record.id)
            # the new one is in the wallet: every other goes. A racing sync (another
            # worker) made one too: both keep the newest right one, so one is left.
            current = [h for h in self._held(citizen_id, self.clock()) if h.item.vct == kind.vct]
            keep = max(
                current,
                key=lambda h: (h.record.id == record.id or right(h), *_age(h)),
                default=None,
            )
        else:
            out.kept.append(keep.record.id)
        for one in current:
            if keep is None or one.record.id != keep.record.id:
                self._revoke(police, one, out)

    def _held(self, citizen_id: str, now: float) -> list[_Held]:
        """The wallet's own cards (none held for another) that are valid (live status)
        and unexpired now."""
        out = []
        others = self._others(citizen_id)
        for item in self._vault.items(citizen_id):
            if item.expires_at <= now or item.credential_id in others:
                continue
            record = self._store.get_credential(item.credential_id)
            if record is None or self._vault.live_state(item.credential_id) != "valid":
                continue
            out.append(_Held(item, record))
        return out

    def _others(self, citizen_id: str) -> frozenset[str]:
        """The ids of the cards the citizen holds for another."""
        return frozenset() if self.held_copies is None else self.held_copies(citizen_id)

    def _source(
        self, held: list[_Held], kind: DerivedKind, prefer: frozenset[str]
    ) -> _Held | None:
        for vct in kind.sources:
            of_type = [h for h in held if h.item.vct == vct]
            if of_type:
                return max(of_type, key=lambda h: (h.record.id in prefer, *_age(h)))
        return None

    def _derive(
        self, citizen_id: str, kind: DerivedKind, source: _Held, now: float
    ) -> tuple[dict[str, Any], int] | None:
        """The claims the source gives and the latest ``exp`` they stay true until;
        None if the source does not carry what is needed (then nothing is attested)."""
        claims = self._claims(citizen_id, source)
        if claims is None:
            return None
        cap = source.record.expires_at
        if kind.vct == AGE_VCT:
            try:
                birth = dt.date.fromisoformat(str(claims.get("birth_date")))
            except ValueError:
                return None
            today = dt.datetime.fromtimestamp(now, dt.UTC).date()
            ages, flips = age_claims(birth, today)
            return dict(ages), min(cap, _midnight_utc(flips))
        address = claims.get("address")
        if not isinstance(address, str):
            return None
        return residence_claims(address, self.city), cap

    def _claims(self, citizen_id: str, one: _Held) -> dict[str, Any] | None:
        try:
            held = self._vault.credential(citizen_id, one.item.credential_id)
        except CredentialNotInWallet:
            return None
        return credential_claims(held.sd_jwt)

    def _revoke(self, police: IssuerRecord, one: _Held, out: Synced) -> None:
        if one.record.issuer != police.iss:
            department = self._store.get_issuer(one.record.issuer)
            if department is None:
                return
            police = department
        self._issuance.revoke(police, one.record.id)
        out.revoked.append(one.record.id)

    def _police(self, vct: str) -> IssuerRecord | None:
        """The department that issues ``vct`` (its ``issuer_hint``), if it may."""
        try:
            slug = self._catalogue.get(vct).issuer_hint
        except UnknownCredentialType:
            return None
        for record in self._store.list_issuers():
            if record.slug == slug and vct in record.vcts:
                return record
        return None

    def _authorised(self) -> bool:
        return any(self._police(kind.vct) is not None for kind in KINDS)


def _age(one: _Held) -> tuple[int, str]:
    """Sort key: the newest is the greatest (issued last; ties: the greatest id), the
    same order in every worker."""
    return (one.record.issued_at, one.record.id)
