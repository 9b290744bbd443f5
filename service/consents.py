"""Consent (issue 11): a department looks a proof about a citizen up only with the
citizen's consent for that department, proof type and purpose, until a given day.

* A department asks (:meth:`Consents.request`): the citizen gets a *pending* request
  and a notice, and approves or declines it in the wallet.
* A citizen grants one directly (:meth:`Consents.grant`): *granted* at once.
* The citizen withdraws any consent not yet withdrawn (:meth:`Consents.withdraw`); it
  takes effect at once: the next :meth:`Consents.match` no longer finds it.
* A proof query asks :meth:`Consents.match` whether a granted, unexpired consent exists
  for exactly that department, proof type and purpose.

``until`` is a date ``YYYY-MM-DD``: the consent holds **through the end of that day,
UTC** (it is kept as the first second of the next day, :attr:`Consent.until`, and holds
while ``now < until``). It may be today, and at most one year ahead (the same day of
the month next year; 29 February gives 28 February).

The purpose is compared exactly, after Unicode NFC and trimming whitespace at both
ends; it holds 1 to :data:`service.uses.MAX_PURPOSE` characters and no control or format
characters (no bidi overrides that would show the citizen another text). It is sealed in
the store (``C1``, associated data ``ecert-consent:<pseudonym>:<consent id>``), like the
citizen, who is kept under the pseudonym.

A request for a citizen id nobody holds is answered exactly like one for a known citizen
(a consent id, ``pending``): the department learns nothing about who has an account.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from issuer import Platform
from keys.aead import Envelope
from keys.errors import SealBroken, UnknownIssuer
from keys.models import LocalizedName
from keys.pseudonym import Pseudonyms
from service.errors import (
    ConsentInvalid,
    ConsentLimitReached,
    ConsentNotFound,
    ConsentStateConflict,
    JobCorrupt,
)
from service.ids import random_hex
from service.notices import Notices
from service.uses import MAX_PURPOSE
from store.interface import CONSENT_CAP, ConsentRecord, ConsentState, Store
from store.kinds.consents import ConsentOrigin

__all__ = [
    "CONSENTS_KEY_LABEL",
    "MAX_PENDING_PER_DEPARTMENT",
    "Consent",
    "Consents",
    "normalize_purpose",
    "proof_type_shape",
]

#: Label of the key that seals consents' purposes (``derive_key(secret, label)``).
CONSENTS_KEY_LABEL = "ecert/consents/v1"
_SEAL = b"C1"
_PROOF_TYPE = re.compile(r"[a-z0-9-]{1,64}")
_CITIZEN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # service.accounts.CITIZEN_ID
_CONSENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DEPARTMENT = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
#: Withdrawals retried when the state moves under them (an approval at the same time).
_WITHDRAW_TRIES = 4
#: Pending (unexpired) requests one department may have with one citizen at a time, so
#: that no department floods a citizen's list or pushes other departments' requests out
#: (checked before the insert, not atomically with it: a soft bound).
MAX_PENDING_PER_DEPARTMENT = 20


def proof_type_shape(proof_type: str) -> bool:
    """The stand-in check of a proof type id until the catalogue is wired in: the id's
    shape only (``^[a-z0-9-]{1,64}$``)."""
    return _PROOF_TYPE.fullmatch(proof_type) is not None


def normalize_purpose(purpose: str) -> str:
    """The purpose as compared and kept: Unicode NFC, whitespace trimmed at both ends."""
    return unicodedata.normalize("NFC", purpose).strip()


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent opened for its citizen (or for the department that asked for it).

    ``until`` is the first second (epoch, UTC) at which it no longer holds: the day after
    :attr:`until_date`, at midnight UTC."""

    id: str
    department: str
    proof_type: str
    purpose: str
    state: ConsentState
    origin: ConsentOrigin
    created_at: int
    updated_at: int
    until: int

    @property
    def until_date(self) -> str:
        """The last day (UTC) it holds, ``YYYY-MM-DD``."""
        return dt.datetime.fromtimestamp(self.until - 1, dt.UTC).date().isoformat()

    def expired(self, now: float) -> bool:
        """Whether ``until`` has passed at ``now``."""
        return now >= self.until

    def holds(self, now: float) -> bool:
        """Granted and not expired at ``now``."""
        return self.state == "granted" and not self.expired(now)

    def to_dict(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "department": self.department,
            "proof_type": self.proof_type,
            "purpose": self.purpose,
            "state": self.state,
            "origin": self.origin,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "until": self.until_date,
            "expires_at": self.until,
            "expired": self.expired(now),
        }


class Consents:
    """Requests, grants, approvals, declines, withdrawals and the match a proof query asks.

    ``known_proof_type`` says whether a proof type id is in the catalogue (the shape check
    :func:`proof_type_shape` until the catalogue is wired in); ``notices`` tells the
    citizen of a new request."""

    def __init__(
        self,
        store: Store,
        key: bytes,
        pseudonyms: Pseudonyms,
        platform: Platform,
        *,
        known_proof_type: Callable[[str], bool] = proof_type_shape,
        notices: Notices | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._seal = Envelope(key, _SEAL)
        self._pseudonyms = pseudonyms
        self._platform = platform
        self.known_proof_type = known_proof_type
        self._notices = notices
        self.clock = clock

    # -- making one ----------------------------------------------------------------------

    def request(
        self, department: str, citizen_id: str, proof_type: str, purpose: str, until: str
    ) -> Consent:
        """A department asks ``citizen_id`` for consent: a pending request, and a notice
        to the citizen. A citizen id nobody holds is answered the same (see the module).

        Raises :class:`ConsentInvalid` (``field``: ``citizen_id``, ``department``,
        ``proof_type``, ``purpose``, ``until``) and :class:`ConsentLimitReached` (the
        citizen's cap, or :data:`MAX_PENDING_PER_DEPARTMENT` unexpired pending requests of
        this department already; the same for a citizen id nobody holds)."""
        if not isinstance(citizen_id, str) or not _CITIZEN_ID.fullmatch(citizen_id):
            raise ConsentInvalid("citizen_id is not a citizen id", field="citizen_id")
        now = self.clock()
        waiting = sum(
            1
            for r in self._store.list_consents(self._pseudonyms.of(citizen_id), CONSENT_CAP)
            if r.state == "pending" and r.department == department and now < r.until
        )
        if waiting >= MAX_PENDING_PER_DEPARTMENT:
            raise ConsentLimitReached(
                f"at most {MAX_PENDING_PER_DEPARTMENT} pending requests per citizen"
            )
        consent = self._new(citizen_id, department, proof_type, purpose, until, "request")
        if self._notices is not None:
            names = self._platform.issuer(department)
            self._notices.add(
                citizen_id,
                "consent",
                LocalizedName(
                    zh=f"{names.name_zh}请求查询您的证明（{proof_type}），请在“授权”中同意或拒绝。",
                    en=(
                        f"{names.name_en} asks to look up a proof about you ({proof_type});"
                        " approve or decline it under Consents."
                    ),
                ),
            )
        return consent

    def grant(
        self, citizen_id: str, department: str, proof_type: str, purpose: str, until: str
    ) -> Consent:
        """The citizen grants ``department`` a consent directly: granted at once.

        Raises :class:`ConsentInvalid` and :class:`ConsentLimitReached`."""
        return self._new(citizen_id, department, proof_type, purpose, until, "grant")

    def _new(
        self,
        citizen_id: str,
        department: str,
        proof_type: str,
        purpose: str,
        until: str,
        origin: ConsentOrigin,
    ) -> Consent:
        now = self.clock()
        self._check_department(department)
        if not isinstance(proof_type, str) or not self.known_proof_type(proof_type):
            raise ConsentInvalid("no proof type with this id", field="proof_type")
        text = _purpose(purpose)
        ends = _until(until, now)
        owner = self._pseudonyms.of(citizen_id)
        cid = random_hex(16)
        at = int(now)
        state: ConsentState = "pending" if origin == "request" else "granted"
        blob = self._seal.seal(
            json.dumps({"purpose": text}, ensure_ascii=False).encode("utf-8"), _aad(owner, cid)
        )
        record = ConsentRecord(
            cid, owner, department, proof_type, state, origin, at, at, ends, blob
        )
        if not self._store.put_consent(record):
            raise ConsentLimitReached(
                f"at most {CONSENT_CAP} consents that still hold: withdraw one first"
            )
        return Consent(cid, department, proof_type, text, state, origin, at, at, ends)

    def _check_department(self, department: object) -> None:
        if not isinstance(department, str) or not _DEPARTMENT.fullmatch(department):
            raise ConsentInvalid("department is not a department's id", field="department")
        try:
            self._platform.issuer(department)
        except UnknownIssuer:
            raise ConsentInvalid("no department with this id", field="department") from None

    # -- the citizen's answers -----------------------------------------------------------

    def approve(self, citizen_id: str, consent_id: str) -> Consent:
        """Approve a pending request. Raises :class:`ConsentNotFound` and
        :class:`ConsentStateConflict` (not pending, or its ``until`` has passed)."""
        record = self._own(citizen_id, consent_id)
        if record.state == "pending" and self.clock() >= record.until:
            raise ConsentStateConflict("this request has expired")
        return self._move(record, "pending", "granted", "only a pending request is approved")

    def decline(self, citizen_id: str, consent_id: str) -> Consent:
        """Decline a pending request. Raises :class:`ConsentNotFound` and
        :class:`ConsentStateConflict`."""
        record = self._own(citizen_id, consent_id)
        return self._move(record, "pending", "declined", "only a pending request is declined")

    def withdraw(self, citizen_id: str, consent_id: str) -> Consent:
        """Withdraw any consent not yet withdrawn, at once (a pending request too).
        Raises :class:`ConsentNotFound` and :class:`ConsentStateConflict` (already
        withdrawn)."""
        record = self._own(citizen_id, consent_id)
        for _ in range(_WITHDRAW_TRIES):
            if record.state == "withdrawn":
                break
            at = int(self.clock())
            if self._store.set_consent_state(
                record.consent_id, "withdrawn", expect=record.state, at=at
            ):
                return self._open(
                    ConsentRecord(
                        record.consent_id,
                        record.citizen,
                        record.department,
                        record.proof_type,
                        "withdrawn",
                        record.origin,
                        record.created_at,
                        at,
                        record.until,
                        record.blob,
                    )
                )
            record = self._own(citizen_id, consent_id)  # moved meanwhile: try from there
        raise ConsentStateConflict("this consent is already withdrawn")

    def _move(
        self, record: ConsentRecord, expect: ConsentState, state: ConsentState, why: str
    ) -> Consent:
        if record.state != expect:
            raise ConsentStateConflict(f"{why}; this one is {record.state}")
        at = int(self.clock())
        if not self._store.set_consent_state(record.consent_id, state, expect=expect, at=at):
            raise ConsentStateConflict(f"{why}; this one changed meanwhile")
        opened = self._open(record)
        return Consent(
            opened.id,
            opened.department,
            opened.proof_type,
            opened.purpose,
            state,
            opened.origin,
            opened.created_at,
            at,
            opened.until,
        )

    def _own(self, citizen_id: str, consent_id: str) -> ConsentRecord:
        if not isinstance(consent_id, str) or not _CONSENT_ID.fullmatch(consent_id):
            raise ConsentNotFound("No consent with this id.")
        record = self._store.get_consent(consent_id)
        if record is None or record.citizen != self._pseudonyms.of(citizen_id):
            raise ConsentNotFound("No consent with this id.")
        return record

    # -- reading -------------------------------------------------------------------------

    def list(self, citizen_id: str, limit: int = CONSENT_CAP) -> builtins.list[Consent]:
        """The citizen's consents, newest first (at most :data:`CONSENT_CAP`)."""
        owner = self._pseudonyms.of(citizen_id)
        return [self._open(r) for r in self._store.list_consents(owner, min(limit, CONSENT_CAP))]

    def get_for_department(self, department: str, consent_id: str) -> Consent:
        """A department's own request (its state). Another department's, a citizen's own
        grant and an unknown id all raise :class:`ConsentNotFound`."""
        if not isinstance(consent_id, str) or not _CONSENT_ID.fullmatch(consent_id):
            raise ConsentNotFound("No consent request with this id.")
        record = self._store.get_consent(consent_id)
        if record is None or record.department != department or record.origin != "request":
            raise ConsentNotFound("No consent request with this id.")
        return self._open(record)

    def match(
        self,
        department: str,
        citizen_id: str,
        proof_type: str,
        purpose: str,
        now: float | None = None,
    ) -> Consent | None:
        """The newest consent of ``citizen_id`` granted to exactly ``department`` for
        ``proof_type`` and ``purpose`` (NFC, trimmed) whose ``until`` has not passed at
        ``now`` (default: the clock); None if there is none. Never raises for a value of
        the wrong shape: that matches nothing."""
        if not all(isinstance(v, str) for v in (department, citizen_id, proof_type, purpose)):
            return None
        wanted = normalize_purpose(purpose)
        if not 1 <= len(wanted) <= MAX_PURPOSE:
            return None
        at = self.clock() if now is None else now
        owner = self._pseudonyms.of(citizen_id)
        for record in self._store.list_consents(owner, CONSENT_CAP):
            if (
                record.state == "granted"
                and record.department == department
                and record.proof_type == proof_type
                and at < record.until
            ):
                consent = self._open(record)
                if consent.purpose == wanted:
                    return consent
        return None

    def _open(self, record: ConsentRecord) -> Consent:
        try:
            body = json.loads(self._seal.open(record.blob, _aad(record.citizen, record.consent_id)))
        except SealBroken:
            raise JobCorrupt("a consent does not open (wrong secret or damage)") from None
        return Consent(
            record.consent_id,
            record.department,
            record.proof_type,
            body["purpose"],
            record.state,
            record.origin,
            record.created_at,
            record.updated_at,
            record.until,
        )


def _aad(owner: str, consent_id: str) -> bytes:
    return f"ecert-consent:{owner}:{consent_id}".encode()


def _purpose(purpose: object) -> str:
    if not isinstance(purpose, str):
        raise ConsentInvalid("purpose is text", field="purpose")
    text = normalize_purpose(purpose)
    if not 1 <= len(text) <= MAX_PURPOSE:
        raise ConsentInvalid(f"purpose has 1 to {MAX_PURPOSE} characters", field="purpose")
    if any(unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" for c in text):
        raise ConsentInvalid("purpose holds a control or format character", field="purpose")
    return text


def _until(until: object, now: float) -> int:
    """The first second after the day ``until`` (UTC); checked against today (UTC)."""
    if not isinstance(until, str) or not _DATE.fullmatch(until):
        raise ConsentInvalid("until is a date YYYY-MM-DD", field="until")
    try:
        day = dt.date.fromisoformat(until)
    except ValueError:
        raise ConsentInvalid("until is a date YYYY-MM-DD", field="until") from None
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    if day < today:
        raise ConsentInvalid("until is in the past", field="until")
    try:
        latest = today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        latest = today.replace(year=today.year + 1, day=28)
    if day > latest:
        raise ConsentInvalid("until is at most one year ahead", field="until")
    ends = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
    return int(ends.timestamp())
