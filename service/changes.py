"""One change, every certificate (一处变更、处处变更): checking and planning a change of a
fact about a citizen.

The catalogue says which department is authoritative for which *subject field*
(``issuer/data/subjects.json``: the police for the name, civil affairs for the marital
status…) and which claim of each credential type carries it (a claim's ``subject``).
When that department records a change, :func:`parse_change` checks the request and
:func:`plan_change` lists the citizen's credentials to re-issue, each by its own
issuer, with its new claims. Both are pure: nothing is written, nothing is issued (the
change job does that, one credential per step).

Refusals, in this order, each with its own code: a body that is not a JSON object or
has other members, or a ``field`` that is not a string (``change_invalid``); a field
the catalogue does not know (``field_unknown``, 422); a department that is not the
field's authority (``field_not_owned``, 403: it learns nothing about the value's
rules); a ``value`` that is not valid for the field's claim type by the rules of
:func:`issuer.catalogue.validate_claims`, an ``effective`` date that is not a calendar
date ``YYYY-MM-DD`` or is after today (China Standard Time), a ``reason`` that is
empty, longer than :data:`MAX_REASON` characters or holds control characters
(``change_invalid``, 422, with ``field`` naming the member). Messages never contain
the value: it is personal data.

What a change touches: every credential in the citizen's wallet that is valid now (its
live status ``valid`` and not expired), whose type carries the field and which carries
a value for it (an optional claim left out is not added: the issuer chose to leave it
out). Credentials of types that do not carry the field are untouched; one that already
holds the new value is skipped (``same_value``), as is one whose other claims no longer
pass the catalogue (``claims_invalid``: re-issuing it would fail, and a change must not
stop at it).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from issuer.catalogue import (
    Catalogue,
    ClaimSpec,
    LocalisedText,
    check_value,
    load_catalogue,
    validate_claims,
)
from issuer.errors import ClaimsInvalid, UnknownCredentialType
from service.errors import ChangeInvalid, FieldNotOwned, FieldUnknown
from service.wallets import Card, OpenedCard

__all__ = [
    "CHANGE_MEMBERS",
    "MAX_REASON",
    "ChangeRequest",
    "Plan",
    "PlannedCredential",
    "SkippedCredential",
    "WalletReader",
    "parse_change",
    "plan_change",
    "today_in_china",
]

#: The members of a change request, all required.
CHANGE_MEMBERS: Final = ("field", "value", "effective", "reason")
#: The longest ``reason`` (characters).
MAX_REASON: Final = 200
#: The longest ``field`` name worth looking up (the catalogue's claim-name limit).
_MAX_FIELD_NAME: Final = 64
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CHINA: Final = dt.timezone(dt.timedelta(hours=8))
_REASON_SPEC: Final = ClaimSpec(
    name="reason",
    label=LocalisedText(zh="变更原因", en="Reason"),
    type="string",
    required=True,
    sd=False,
    max_length=MAX_REASON,
)

SkipReason = Literal["same_value", "claims_invalid"]


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """A checked change: the subject ``field``, its new ``value`` (clean, of the field's
    claim type), the ``effective`` date (``YYYY-MM-DD``), the ``reason``, and the
    ``authority`` (the department's issuer slug) that made it."""

    field: str
    value: object
    effective: str
    reason: str
    authority: str


@dataclass(frozen=True, slots=True)
class PlannedCredential:
    """A credential to re-issue: its id, type and issuer (``iss``), the claim that
    carries the field, and every claim of the new credential (catalogue order)."""

    credential_id: str
    vct: str
    issuer: str
    claim: str
    claims: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SkippedCredential:
    """A credential that carries the field but is not re-issued, and why."""

    credential_id: str
    vct: str
    issuer: str
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class Plan:
    """What a change does to one citizen's wallet, in wallet order (oldest first)."""

    change: ChangeRequest
    credentials: tuple[PlannedCredential, ...]
    skipped: tuple[SkippedCredential, ...]


class WalletReader(Protocol):
    """What planning reads of a wallet (:class:`service.wallets.Wallets` is one)."""

    def credentials(self, citizen_id: str) -> list[Card]: ...
    def credential(self, citizen_id: str, credential_id: str) -> OpenedCard: ...


def today_in_china(now: float | None = None) -> dt.date:
    """Today's date in China Standard Time (``now``: epoch seconds; None: the clock)."""
    instant = dt.datetime.now(_CHINA) if now is None else dt.datetime.fromtimestamp(now, _CHINA)
    return instant.date()


def parse_change(
    body: object,
    authority: str,
    *,
    today: dt.date,
    catalogue: Catalogue | None = None,
) -> ChangeRequest:
    """Check a change request made by the department ``authority`` (issuer slug).

    Raises (in the module doc's order) :class:`ChangeInvalid`, :class:`FieldUnknown`
    and :class:`FieldNotOwned`; returns the clean request.
    """
    catalogue = catalogue or load_catalogue()
    if not isinstance(body, Mapping):
        raise ChangeInvalid("A change is a JSON object.")
    name = body.get("field")
    if not isinstance(name, str):
        raise ChangeInvalid("'field' must be the name of a subject field.", field="field")
    subject = catalogue.subject_field(name)
    if subject is None:
        if len(name) <= _MAX_FIELD_NAME and name.isascii() and name.isidentifier():
            raise FieldUnknown(f"There is no subject field {name!r}.")
        raise FieldUnknown("There is no subject field of this name.")
    if subject.authority != authority:
        raise FieldNotOwned(
            f"Only the department authoritative for {subject.name!r} may change it."
        )
    for member in body:
        if member not in CHANGE_MEMBERS:
            raise ChangeInvalid(
                "A change has exactly the members field, value, effective and reason."
            )
    for member in CHANGE_MEMBERS:
        if member not in body:
            raise ChangeInvalid(f"The change has no {member!r}.", field=member)
    try:
        value = check_value(subject.spec, body["value"])
    except ClaimsInvalid as err:
        # the catalogue's message names the field, never the value
        raise ChangeInvalid(f"The new value is not valid: {err.message}.", field="value") from None
    effective = _effective(body["effective"], today)
    try:
        reason = check_value(_REASON_SPEC, body["reason"])
    except ClaimsInvalid:
        raise ChangeInvalid(
            f"'reason' is a text of 1 to {MAX_REASON} characters without control characters.",
            field="reason",
        ) from None
    assert isinstance(reason, str)
    return ChangeRequest(subject.name, value, effective, reason, authority)


def _effective(value: object, today: dt.date) -> str:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise ChangeInvalid("'effective' must be a date written YYYY-MM-DD.", field="effective")
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        raise ChangeInvalid(
            "'effective' must be a calendar date written YYYY-MM-DD.", field="effective"
        ) from None
    if date > today:
        raise ChangeInvalid(
            "'effective' is after today: record a change once it has taken effect.",
            field="effective",
        )
    return value


def plan_change(
    wallets: WalletReader,
    citizen_id: str,
    change: ChangeRequest,
    *,
    now: float,
    catalogue: Catalogue | None = None,
) -> Plan:
    """Which of the citizen's credentials ``change`` re-issues, and with which claims
    (module doc: valid now, of a type that carries the field, holding a value for it).

    Reads the wallet only (``now``, epoch seconds, decides what has expired). Raises
    what :meth:`Wallets.credentials` / :meth:`Wallets.credential` raise (a wallet that
    does not open is not silently skipped).
    """
    catalogue = catalogue or load_catalogue()
    planned: list[PlannedCredential] = []
    skipped: list[SkippedCredential] = []
    for card in wallets.credentials(citizen_id):
        item = card.item
        if card.status != "valid" or item.expires_at <= now:
            continue
        try:
            ctype = catalogue.get(item.vct)
        except UnknownCredentialType:
            continue
        claim = ctype.claim_for(change.field)
        if claim is None:
            continue
        claims = wallets.credential(citizen_id, item.credential_id).claims
        if claim not in claims:
            continue
        if claims[claim] == change.value:
            skipped.append(
                SkippedCredential(item.credential_id, item.vct, item.issuer, "same_value")
            )
            continue
        try:
            new_claims = validate_claims(ctype, {**claims, claim: change.value})
        except ClaimsInvalid:
            skipped.append(
                SkippedCredential(item.credential_id, item.vct, item.issuer, "claims_invalid")
            )
            continue
        planned.append(
            PlannedCredential(item.credential_id, item.vct, item.issuer, claim, new_claims)
        )
    return Plan(change, tuple(planned), tuple(skipped))
