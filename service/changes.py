"""One change, every certificate (一处变更、处处变更): checking and planning a change of a
fact about a citizen.

The catalogue says which department is authoritative for which *subject field*
(``issuer/data/subjects.json``: the police for the name, civil affairs for the marital
status…) and which claim of each credential type carries it (a claim's ``subject``).
When that department records a change, :func:`parse_change` checks the request and
:func:`plan_change` lists the citizen's credentials to re-issue, each by its own
issuer, with its new claims. Both are pure: nothing is written, nothing is issued.
:class:`Changes` (the container's ``ecert.changes``) makes the plan a job of kind
``change`` and is its handler: one credential per step, re-issued with
:meth:`service.reissue.Reissue.replace`, resumable after a crash at any point; when
the job is done the citizen gets a notice and one activity entry per card.

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

A change of the name (the subject field :data:`LINK_NAME_FIELD`) also re-issues the link
credentials that name the citizen (:mod:`service.links`): a guardian's guardianship
(``ward_name``) or a carer's care authorisation (``principal_name``) in *their* wallet,
and the citizen's own as guardian or carer (``guardian_name``, ``carer_name``), each in
place on its link, by its own issuer; the holder of another's link is told. Otherwise a
guardian's set would be refused (``link_mismatch``) once the child's cards carry the new
name.

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
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from issuer.catalogue import (
    Catalogue,
    ClaimSpec,
    LocalisedText,
    check_value,
    load_catalogue,
    validate_claims,
)
from issuer.errors import ClaimsInvalid, UnknownCredentialType
from keys.b64 import b64url_encode
from keys.models import LocalizedName
from keys.pseudonym import Pseudonyms
from service.accounts import Accounts
from service.errors import ChangeBusy, ChangeInvalid, FieldNotOwned, FieldUnknown, JobNotFound
from service.jobs import Jobs, Journal, OpenStep, StepResult
from service.notices import Notices
from service.reissue import Reissue
from service.wallets import CHANGE_SCENE_PREFIX, Card, OpenedCard, Wallets
from store.interface import ActivityRecord, IssuerRecord, JobRecord, Store
from store.kinds.activity import new_event_id
from wallet import WalletVault
from wallet.errors import CredentialNotInWallet

if TYPE_CHECKING:  # service.links needs nothing of this module
    from service.links import Links

__all__ = [
    "CHANGE_KIND",
    "CHANGE_MEMBERS",
    "CHANGE_SCENE_PREFIX",
    "LINK_NAME_FIELD",
    "SUCCESSOR",
    "ChangeStatus",
    "Changes",
    "MAX_REASON",
    "ChangeRequest",
    "Plan",
    "PlannedCredential",
    "SkippedCredential",
    "WalletReader",
    "parse_change",
    "plan_change",
    "notice_text",
    "today_in_china",
]

#: The job kind of a change cascade.
CHANGE_KIND: Final = "change"
#: Mark scope: a credential id -> the id of the credential that replaces it (written
#: before the work, insert-if-absent: one replacement per credential, and the way to it).
SUCCESSOR: Final = "successor"
#: An activity entry of a change has the scene ``change:<field>`` (not a scene id: those
#: are snake_case) and the re-issuing issuer's URL as its venue (:mod:`service.wallets`).
#: How many replacements of one credential a step follows at most.
_MAX_HOPS: Final = 64
#: How many times a plan is made again when a card vanishes while it is being made.
_PLAN_ATTEMPTS: Final = 5

#: The subject field that link credentials carry (as a guardian's, ward's, carer's or
#: principal's name): its change re-issues them too.
LINK_NAME_FIELD: Final = "name"

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
    skip: Callable[[str], bool] | None = None,
) -> Plan:
    """Which of the citizen's credentials ``change`` re-issues, and with which claims
    (module doc: valid now, of a type that carries the field, holding a value for it).

    Reads the wallet only (``now``, epoch seconds, decides what has expired). A card
    that vanishes while the plan is made (another change replaced it) makes the plan
    start again; :class:`ChangeBusy` if the wallet keeps changing. Raises what
    :meth:`Wallets.credentials` / :meth:`Wallets.credential` raise otherwise (a wallet
    that does not open is not silently skipped). ``skip(credential_id)``: a card left
    out (a held-for copy of another citizen's card).
    """
    catalogue = catalogue or load_catalogue()
    for _ in range(_PLAN_ATTEMPTS):
        try:
            return _plan(wallets, citizen_id, change, now, catalogue, skip)
        except CredentialNotInWallet:
            # a card was replaced (another change's job) between listing and opening it:
            # list again, so that its replacement is planned instead
            continue
    raise ChangeBusy("The wallet is changing right now; post this change again.")


def _plan(
    wallets: WalletReader,
    citizen_id: str,
    change: ChangeRequest,
    now: float,
    catalogue: Catalogue,
    skip: Callable[[str], bool] | None = None,
) -> Plan:
    planned: list[PlannedCredential] = []
    skipped: list[SkippedCredential] = []
    for card in wallets.credentials(citizen_id):
        item = card.item
        if card.status != "valid" or item.expires_at <= now:
            continue
        if skip is not None and skip(item.credential_id):
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


# -- the change job ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeStatus:
    """A change job as its department sees it: ``credentials`` lists one entry per
    credential that carries the field, ``{"old", "new", "vct", "issuer", "state",
    "reason"}`` (``new`` once replaced; ``reason`` why it was skipped or failed)."""

    id: str
    field: str
    state: str
    credentials: list[dict[str, Any]]


def notice_text(subject: LocalizedName, updated: int) -> LocalizedName:
    """What the citizen reads: "Your name changed; 4 certificates were updated"."""
    en_field = subject.en[:1].lower() + subject.en[1:]
    were = "certificate was" if updated == 1 else "certificates were"
    return LocalizedName(
        zh=f"您的{subject.zh}已变更，已更新 {updated} 张证照",
        en=f"Your {en_field} changed; {updated} {were} updated",
    )


def link_notice_text(catalogue: Catalogue, vct: str, claim: str) -> LocalizedName:
    """What a guardian or a carer reads when the ward's or principal's name changed:
    "Your guardianship of a minor was updated: the ward's name changed"."""
    ctype = catalogue.get(vct)
    spec = next((c for c in ctype.claims if c.name == claim), None)
    label = spec.label if spec is not None else LocalisedText(zh=claim, en=claim)
    name = ctype.name
    en_label = label.en[:1].lower() + label.en[1:]
    return LocalizedName(
        zh=f"您持有的{name.zh}已更新：{label.zh}已变更",
        en=f"Your {name.en[:1].lower() + name.en[1:]} was updated: the {en_label} changed",
    )


class Changes:
    """Change cascades: a department's change of a subject field becomes a job
    (``change``) with one step per credential carrying the field; each step re-issues
    its credential by its own issuer (:meth:`Reissue.replace`). The handler of that
    kind, registered with :class:`~service.jobs.Jobs`.

    A step is idempotent and resumable: its new credential id is chosen when the job
    is made, and the credential it replaces is claimed in the store before the work
    (the :data:`SUCCESSOR` mark, insert-if-absent). A credential another change
    replaced since the plan is followed to its replacement, so two changes of one card
    (a name, then a marital status) both land; one being replaced right now is waited
    for (``wait`` seconds, then ``change_busy``).
    """

    kind = CHANGE_KIND
    chunk = 1

    def __init__(
        self,
        store: Store,
        *,
        wallets: Wallets,
        vault: WalletVault,
        accounts: Accounts,
        jobs: Jobs,
        reissue: Reissue,
        notices: Notices,
        pseudonyms: Pseudonyms,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        wait: float = 10.0,
    ) -> None:
        self._store = store
        self._wallets = wallets
        self._vault = vault
        self._accounts = accounts
        self._jobs = jobs
        self._reissue = reissue
        self._notices = notices
        self._pseudonyms = pseudonyms
        self.clock = clock
        self._sleep = sleep
        self._wait = wait
        #: ``held_copies(citizen_id, credential_id)``: a card held for another (a ward, a
        #: principal: :mod:`service.links`) carries their fields, not this citizen's, and
        #: is left out of the plan; set by the container
        self.held_copies: Callable[[str, str], bool] | None = None
        #: the links whose credentials name a citizen (re-issued by a change of the name);
        #: set by the container
        self.links: Links | None = None

    # -- the department's side ---------------------------------------------------------

    def request(self, department: IssuerRecord, citizen_id: str, body: object) -> ChangeStatus:
        """Check the change (:func:`parse_change`), then the citizen
        (:class:`~service.errors.UnknownCitizen`), plan it over the citizen's wallet and
        make the job; its status (``pending``). Nothing is re-issued here."""
        now = self.clock()
        change = parse_change(body, department.slug, today=today_in_china(now))
        self._accounts.require_citizen(citizen_id)
        held = self.held_copies
        skip = None if held is None else (lambda credential_id: held(citizen_id, credential_id))
        plan = plan_change(self._wallets, citizen_id, change, now=now, skip=skip)
        steps: list[dict[str, Any]] = [
            {
                "old": p.credential_id,
                "vct": p.vct,
                "issuer": self._slug(p.issuer),
                "claim": p.claim,
                "new_id": _new_id(),
            }
            for p in plan.credentials
        ]
        steps += [
            {
                "old": s.credential_id,
                "vct": s.vct,
                "issuer": self._slug(s.issuer),
                "skip": s.reason,
            }
            for s in plan.skipped
        ]
        steps += self._link_steps(citizen_id, change)
        spec = {
            "citizen_id": citizen_id,
            "field": change.field,
            "value": change.value,
            "effective": change.effective,
            "reason": change.reason,
            "authority": change.authority,
        }
        job = self._jobs.create(
            CHANGE_KIND,
            department.slug,
            spec,
            steps,
            subject=self._pseudonyms.of(citizen_id),
        )
        return self._status(job, change.field)

    def _link_steps(self, citizen_id: str, change: ChangeRequest) -> list[dict[str, Any]]:
        """One step per active link whose credential names the citizen, for a change of
        the name: the link (its holder's pseudonym and id), whose wallet it is in
        (``role``: ``holder`` the citizen's own, ``party`` another's) and the claim."""
        if change.field != LINK_NAME_FIELD or self.links is None:
            return []
        owner = self._pseudonyms.of(citizen_id)
        steps: list[dict[str, Any]] = []
        for link, claim in self.links.naming(citizen_id):
            record = self._store.get_credential(link.credential_id)
            if record is None:  # pragma: no cover - a link names a credential it issued
                continue
            steps.append(
                {
                    "old": record.id,
                    "vct": record.vct,
                    "issuer": self._slug(record.issuer),
                    "claim": claim,
                    "new_id": _new_id(),
                    "link": link.link_id,
                    "holder": link.holder,
                    "role": "holder" if link.holder == owner else "party",
                }
            )
        return steps

    def status(self, department: IssuerRecord, citizen_id: str, job_id: str) -> ChangeStatus:
        """The department's change job ``job_id`` of this citizen; :class:`JobNotFound`
        alike for an unknown id, another kind of job, another department's or another
        citizen's (nothing leaks)."""
        job = self._jobs.get(job_id)
        if (
            job is None
            or job.kind != CHANGE_KIND
            or job.owner != department.slug
            or job.subject != self._pseudonyms.of(citizen_id)
        ):
            raise JobNotFound("No change with this id for this citizen.")
        return self._status(job, str(self._jobs.spec(job)["field"]))

    def _status(self, job: JobRecord, field: str) -> ChangeStatus:
        credentials = [
            {
                "old": step.data["old"],
                "new": step.data.get("new"),
                "vct": step.data["vct"],
                "issuer": step.data["issuer"],
                "state": step.state,
                "reason": step.data.get("reason") or step.data.get("code"),
            }
            for step in self._jobs.all_steps(job)
        ]
        return ChangeStatus(job.id, field, job.state, credentials)

    def _slug(self, iss: str) -> str:
        record = self._store.get_issuer(iss)
        return record.slug if record is not None else iss.rstrip("/").rsplit("/", 1)[-1]

    # -- the job handler -----------------------------------------------------------------

    def run_steps(
        self, job: JobRecord, spec: dict[str, Any], steps: list[OpenStep], journal: Journal
    ) -> list[StepResult]:
        return [self._run_step(spec, step, journal) for step in steps]

    def _run_step(self, spec: dict[str, Any], step: OpenStep, journal: Journal) -> StepResult:
        data = step.data
        if "skip" in data:
            return StepResult("skipped", {"reason": data["skip"]})
        citizen_id = str(spec["citizen_id"])
        if "link" in data:  # a link credential naming the citizen, in its holder's wallet
            holder_id = self._link_holder(str(data["holder"]), str(data["link"]))
            if holder_id is None:
                return StepResult("skipped", {"reason": "link_ended"})
            citizen_id = holder_id
        new_id = str(data["new_id"])
        target = data.get("target")
        if target is None:
            target = self._claim(str(data["old"]), new_id)
            # the event id too: a step run again writes the same activity entry
            [step] = journal.note([(step, {"target": target, "event_id": new_event_id()})])
        claims = {str(data["claim"]): spec["value"]}
        if "link" in data and self._store.get_credential(new_id) is None:
            try:
                held = self._reissue.claims(citizen_id, str(target))
            except CredentialNotInWallet:
                held = {}
            if held.get(str(data["claim"])) == spec["value"]:
                return StepResult("skipped", {"reason": "same_value"})
        for _ in range(3):
            done = self._reissue.replace(citizen_id, str(target), new_id=new_id, claims=claims)
            if done.outcome != "orphaned":
                break
            # issued but never delivered, and revoked: another id, chained after it so
            # that a change following this credential finds the way
            orphan, new_id = new_id, _new_id()
            self._store.put_mark(SUCCESSOR, orphan, new_id)
            [step] = journal.note([(step, {"new_id": new_id})])
        if done.outcome != "replaced" or done.new is None:
            return StepResult("skipped", {"reason": done.reason or done.outcome})
        new = done.new
        self._store.add_activity(
            ActivityRecord(
                event_id=str(step.data["event_id"]),
                citizen_id=new.subject,
                at=int(self.clock()),
                venue_id=new.issuer,
                scene=CHANGE_SCENE_PREFIX + str(spec["field"]),
                vct=new.vct,
                credential_id=new.id,
                claims=(str(data["claim"]),),
                valid=True,
                codes=(),
            )
        )
        return StepResult("done", {"new": new.id})

    def _link_holder(self, holder: str, link_id: str) -> str | None:
        """The citizen id of an active link's holder, or None (the link ended)."""
        link = self._store.get_link(holder, link_id)
        if self.links is None or link is None or link.state != "active":
            return None
        return self.links.holder_of(link)

    def _claim(self, old: str, new_id: str) -> str:
        """The credential this step replaces with ``new_id``: ``old``, or the newest
        replacement of it (another change got there first), claimed for ``new_id``."""
        current = old
        for _ in range(_MAX_HOPS):
            taken = self._store.get_mark(SUCCESSOR, current)
            if taken is None:
                if self._store.put_mark(SUCCESSOR, current, new_id):
                    return current
                taken = self._store.get_mark(SUCCESSOR, current)
            if taken is None or taken == new_id:
                return current
            self._await_replacement(current, taken)
            current = taken
        raise ChangeBusy("This credential was replaced too many times to follow.")

    def _await_replacement(self, old: str, new: str) -> None:
        """Wait until another step has replaced ``old`` by ``new`` (``old`` no longer
        valid, ``new`` issued). Raises :class:`ChangeBusy` after ``wait`` seconds."""
        deadline = time.monotonic() + self._wait
        while True:
            if (
                self._vault.live_state(old) != "valid"
                and self._store.get_credential(new) is not None
            ):
                return
            if time.monotonic() >= deadline:
                raise ChangeBusy(
                    "Another change of this credential is in progress; post this one again."
                )
            self._sleep(0.2)

    def finished(self, job: JobRecord, spec: dict[str, Any]) -> None:
        """Tell the citizen how many certificates were updated (once: the notice's id is
        the job's)."""
        done = [
            step
            for step in self._jobs.all_steps(job)
            if step.state == "done" and step.data.get("new")
        ]
        catalogue = load_catalogue()
        # the holders of another's link: told that a card of theirs names someone anew
        for step in done:
            if step.data.get("role") != "party":
                continue
            link = self._store.get_link(str(step.data["holder"]), str(step.data["link"]))
            if link is None or self.links is None:
                continue
            digest = hashlib.sha256(f"{job.id}\0{step.data['link']}".encode()).digest()
            self._notices.add(
                self.links.holder_of(link),
                CHANGE_KIND,
                link_notice_text(catalogue, str(step.data["vct"]), str(step.data["claim"])),
                [str(step.data["new"])],
                notice_id="lk" + b64url_encode(digest[:12]),
            )
        new_ids = [str(step.data["new"]) for step in done if step.data.get("role") != "party"]
        if not new_ids:
            return
        subject = catalogue.subject_field(str(spec["field"]))
        label = (
            subject.label
            if subject is not None
            else LocalizedName(zh=str(spec["field"]), en=str(spec["field"]))
        )
        self._notices.add(
            str(spec["citizen_id"]),
            CHANGE_KIND,
            notice_text(LocalizedName(zh=label.zh, en=label.en), len(new_ids)),
            new_ids,
            notice_id=job.id,
        )


def _new_id() -> str:
    """A new credential id, chosen before it is issued (as the issuer would choose)."""
    return secrets.token_urlsafe(16)
