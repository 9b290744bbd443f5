"""The citizen's side of every use of their data: receipts, ratings (好差评) and misuse
reports.

The citizen's uses come from *sources*, each a ``(citizen id, limit) -> [Use]`` callable:
the activity log of verifications (:meth:`Receipts.activity_source`, built in) and the
proof queries (plugged in with :meth:`Receipts.add_source`). For each use the citizen may

* download a **receipt**: a JWT (``typ: receipt+jwt``) signed by the platform's trust
  anchor, the key that signs the trust list, saying who used which data, for what, when
  and with what result (docs/formats.md). It holds no citizen id: the citizen keeps it,
  and may hand it on without handing on their id;
* **rate** it, 1 to 5 stars with an optional comment (at most :data:`MAX_COMMENT`
  characters), once per use, editable for :data:`RATING_EDIT_WINDOW` seconds after it
  was first made;
* **report** it as misuse (at most :data:`MAX_REPORT` characters), once per use, for the
  operator's list.

Comments and report texts are sealed (``R1`` and ``M1`` envelopes under a key derived
with :data:`RECEIPTS_KEY_LABEL`, bound to the citizen's pseudonym and the event); the
venue or department sees its own ratings without any citizen data
(:meth:`Receipts.ratings_for`).
"""

from __future__ import annotations

import builtins
import dataclasses
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from issuer.errors import UnknownIssuer
from issuer.keyring import ANCHOR, Keyring
from issuer.platform import Platform
from keys.aead import Envelope
from keys.errors import SealBroken
from keys.jws import sign_compact
from keys.pseudonym import Pseudonyms
from service.errors import (
    JobCorrupt,
    RatingInvalid,
    RatingLocked,
    ReceiptNotFound,
    ReportExists,
    ReportInvalid,
)
from service.uses import Use
from service.wallets import CHANGE_SCENE_PREFIX
from store.interface import ACTIVITY_CAP, RatingRecord, ReportRecord, Store
from store.kinds.activity import new_event_id

__all__ = [
    "MAX_COMMENT",
    "MAX_REPORT",
    "RATING_EDIT_WINDOW",
    "RECEIPTS_KEY_LABEL",
    "TYP_RECEIPT",
    "ActorRating",
    "Entry",
    "Rating",
    "Receipts",
    "Report",
    "UseSource",
]

#: Label of the key that seals comments and report texts (``derive_key(secret, label)``).
RECEIPTS_KEY_LABEL = "ecert/receipts/v1"
#: The receipt JWT's ``typ``.
TYP_RECEIPT = "receipt+jwt"
#: The longest rating comment (characters).
MAX_COMMENT = 500
#: The longest misuse report (characters).
MAX_REPORT = 1000
#: Seconds after a rating was first made during which the citizen may change it.
RATING_EDIT_WINDOW = 24 * 3600
#: The most uses a listing reads from each source.
MAX_USES = ACTIVITY_CAP

_RATING_SEAL = b"R1"
_REPORT_SEAL = b"M1"

#: Where a citizen's uses come from: ``(citizen id, limit) -> the newest uses``.
UseSource = Callable[[str, int], list[Use]]


@dataclass(frozen=True, slots=True)
class Rating:
    """A rating opened for its citizen (``editable_until``: when it locks)."""

    event_id: str
    stars: int
    comment: str
    created_at: int
    updated_at: int
    editable_until: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "stars": self.stars,
            "comment": self.comment,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "editable_until": self.editable_until,
        }


@dataclass(frozen=True, slots=True)
class ActorRating:
    """A rating as its venue or department sees it: no citizen data, no event id."""

    stars: int
    comment: str
    topic: str
    created_at: int
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "stars": self.stars,
            "comment": self.comment,
            "topic": self.topic,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """A misuse report as the citizen made it."""

    id: str
    event_id: str
    created_at: int
    state: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "created_at": self.created_at,
            "state": self.state,
        }


def _check_text(text: object, limit: int, *, required: bool) -> str | None:
    """The text trimmed, or None when it is not a string of at most ``limit``
    characters without control characters (line breaks and tabs allowed)."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if len(text) > limit or (required and not text):
        return None
    for ch in text:
        if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            return None
    return text


@dataclass(frozen=True, slots=True)
class Entry:
    """One use as the citizen's activity page lists it: the use, who (names), the scene's
    names (a verification whose scene the service knows), the rating and the report."""

    use: Use
    actor_name: dict[str, str]
    topic_name: dict[str, str] | None
    rating: Rating | None
    report: Report | None


class Receipts:
    """Receipts, ratings and misuse reports for the uses of citizens' data."""

    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        platform: Platform,
        pseudonyms: Pseudonyms,
        key: bytes,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._platform = platform
        self._pseudonyms = pseudonyms
        self._comments = Envelope(key, _RATING_SEAL)
        self._reports = Envelope(key, _REPORT_SEAL)
        self.clock = clock
        self._lock = threading.Lock()
        self._sources: tuple[UseSource, ...] = (self.activity_source,)
        #: A proof type's names ``{"zh", "en"}`` (None: unknown); the container plugs in the
        #: proof-type catalogue's, as it plugs in the proof queries' source.
        self.proof_type_name: Callable[[str], dict[str, str] | None] = lambda _: None

    # -- sources ---------------------------------------------------------------------------

    def add_source(self, source: UseSource) -> None:
        """Add where more of the citizens' uses come from (e.g. ``ecert.proofs.uses_of``)."""
        with self._lock:
            self._sources = (*self._sources, source)

    def activity_source(self, citizen_id: str, limit: int) -> list[Use]:
        """The verifications of the citizen's credentials (their activity log) as uses;
        the log's entries for a card re-issued after a change (``change:<field>``) are no
        use of the citizen's data, and are left out. A set presentation's members (events
        ``<event id>-<member>``) are one use: every member's claim names and types."""
        owner = self._pseudonyms.of(citizen_id)
        uses: dict[str, Use] = {}
        for record in self._store.list_activity(owner, min(limit, ACTIVITY_CAP)):
            if record.scene.startswith(CHANGE_SCENE_PREFIX):
                continue
            event_id, member = _set_member(record.event_id)
            use = Use(
                event_id=event_id,
                kind="verification",
                at=record.at,
                subject=owner,
                actor_kind="venue",
                actor=record.venue_id,
                topic=record.scene,
                fields=tuple(record.claims),
                accepted=record.valid,
                codes=tuple(record.codes),
                credentials=() if member is None else (record.vct or "",),
            )
            seen = uses.get(event_id)
            if seen is not None:  # another member of the same set (listed newest first)
                use = dataclasses.replace(
                    seen,
                    fields=tuple(dict.fromkeys((*use.fields, *seen.fields))),
                    credentials=(*use.credentials, *seen.credentials),
                )
            uses[event_id] = use
        return list(uses.values())

    def list(self, citizen_id: str, limit: int = 100) -> list[Use]:
        """The citizen's newest ``limit`` uses from every source, newest first (``at``,
        then event id, descending); an event listed by two sources counts once."""
        limit = max(0, min(limit, MAX_USES))
        seen: dict[str, Use] = {}
        for source in self._sources:
            for use in source(citizen_id, limit):
                seen.setdefault(use.event_id, use)
        uses = sorted(seen.values(), key=lambda u: (u.at, u.event_id), reverse=True)
        return uses[:limit]

    def use(self, citizen_id: str, event_id: str) -> Use:
        """The citizen's use with this id; :class:`ReceiptNotFound` if none (another
        citizen's answers the same)."""
        if not isinstance(event_id, str) or not 1 <= len(event_id) <= 64:
            raise ReceiptNotFound("No such use of your data.")
        for use in self.list(citizen_id, MAX_USES):
            if use.event_id == event_id:
                return use
        raise ReceiptNotFound("No such use of your data.")

    def entries(self, citizen_id: str, limit: int = 100) -> builtins.list[Entry]:
        """The citizen's uses, newest first, each with names, rating and report."""
        uses = self.list(citizen_id, limit)
        ids = [u.event_id for u in uses]
        ratings = self.ratings_of(citizen_id, ids)
        reports = self.reports_of(citizen_id, ids)
        scenes = {s["id"]: s["name"] for s in self._platform.scenes()}
        names: dict[tuple[str, str], dict[str, str]] = {}
        out = []
        for use in uses:
            who = (use.actor_kind, use.actor)
            if who not in names:
                names[who] = self.actor_name(use)
            scene = scenes.get(use.topic) if use.kind == "verification" else None
            topic = None if scene is None else {"zh": scene["zh"], "en": scene["en"]}
            if use.kind == "proof_query":
                topic = self.proof_type_name(use.topic)
            out.append(
                Entry(
                    use, names[who], topic, ratings.get(use.event_id), reports.get(use.event_id)
                )
            )
        return out

    # -- receipts --------------------------------------------------------------------------

    def actor_name(self, use: Use) -> dict[str, str]:
        """The venue's or department's names ``{"zh", "en"}`` (empty if it is gone)."""
        if use.actor_kind == "venue":
            venue = self._store.get_venue(use.actor)
            if venue is not None:
                return {"zh": venue.name_zh, "en": venue.name_en}
        else:
            try:
                issuer = self._platform.issuer(use.actor)
            except UnknownIssuer:
                pass
            else:
                return {"zh": issuer.name_zh, "en": issuer.name_en}
        return {"zh": "", "en": ""}

    def receipt(self, citizen_id: str, event_id: str) -> str:
        """The receipt of the citizen's use ``event_id``: a ``receipt+jwt`` signed by the
        platform's trust anchor. Raises :class:`ReceiptNotFound`; :class:`NoSigningKey`
        when the platform has no anchor yet."""
        use = self.use(citizen_id, event_id)
        payload: dict[str, Any] = {
            "iss": self._platform.anchor_id,
            "jti": use.event_id,
            "kind": use.kind,
            "actor": {"kind": use.actor_kind, "id": use.actor, "name": self.actor_name(use)},
            "topic": use.topic,
            "fields": list(use.fields),
            "purpose": use.purpose,
            "result": {
                "outcome": "accepted" if use.accepted else "refused",
                "codes": list(use.codes),
            },
            "at": use.at,
            "iat": int(self.clock()),
        }
        if use.answered_by:
            payload["answered_by"] = use.answered_by
        if use.credentials:
            payload["credentials"] = list(use.credentials)
        return sign_compact(payload, self._keyring.signing_key(ANCHOR), typ=TYP_RECEIPT)

    # -- ratings ---------------------------------------------------------------------------

    def rate(self, citizen_id: str, event_id: str, stars: object, comment: object = "") -> Rating:
        """Rate the citizen's use ``event_id`` (or change the rating within a day).

        Raises :class:`ReceiptNotFound` (checked first: nothing about another citizen's
        use is told), :class:`RatingInvalid` (stars not 1..5, a comment too long or with
        control characters) and :class:`RatingLocked`.
        """
        use = self.use(citizen_id, event_id)
        if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
            raise RatingInvalid("Stars are a whole number from 1 to 5.")
        text = _check_text("" if comment is None else comment, MAX_COMMENT, required=False)
        if text is None:
            raise RatingInvalid(
                f"A comment is text of at most {MAX_COMMENT} characters, without control "
                "characters."
            )
        owner = self._pseudonyms.of(citizen_id)
        now = int(self.clock())
        before = self._store.get_ratings(owner, [use.event_id])
        created_at, followed_up = now, False
        if before:
            created_at, followed_up = before[0].created_at, before[0].followed_up
            if now >= created_at + RATING_EDIT_WINDOW:
                raise RatingLocked("A rating can be changed only within a day of making it.")
        blob = self._comments.seal(text.encode("utf-8"), _rating_aad(owner, use.event_id))
        self._store.put_rating(
            RatingRecord(
                citizen=owner,
                event_id=use.event_id,
                actor_kind=use.actor_kind,
                actor=use.actor,
                topic=use.topic,
                stars=stars,
                created_at=created_at,
                updated_at=now,
                followed_up=followed_up,
                blob=blob,
            )
        )
        return Rating(use.event_id, stars, text, created_at, now, created_at + RATING_EDIT_WINDOW)

    def ratings_of(self, citizen_id: str, event_ids: builtins.list[str]) -> dict[str, Rating]:
        """The citizen's ratings of these uses, by event id."""
        owner = self._pseudonyms.of(citizen_id)
        found = self._store.get_ratings(owner, event_ids[:MAX_USES])
        return {
            r.event_id: Rating(
                r.event_id,
                r.stars,
                self.comment_of(r),
                r.created_at,
                r.updated_at,
                r.created_at + RATING_EDIT_WINDOW,
            )
            for r in found
        }

    def comment_of(self, record: RatingRecord) -> str:
        """A rating's comment, opened (for the citizen, the actor and the operator)."""
        try:
            raw = self._comments.open(record.blob, _rating_aad(record.citizen, record.event_id))
        except SealBroken:
            raise JobCorrupt("a rating's comment does not open (wrong secret or damage)") from None
        return raw.decode("utf-8")

    def ratings_for(
        self, actor_kind: str, actor: str, limit: int = 100
    ) -> builtins.list[ActorRating]:
        """The venue's or department's own newest ratings: stars, comment, topic, dates."""
        records = self._store.list_ratings_by_actor(actor_kind, actor, max(0, min(limit, 1000)))
        return [
            ActorRating(r.stars, self.comment_of(r), r.topic, r.created_at, r.updated_at)
            for r in records
        ]

    # -- misuse reports --------------------------------------------------------------------

    def report(self, citizen_id: str, event_id: str, text: object) -> Report:
        """Report the citizen's use ``event_id`` as misuse, for the operator's list.

        Raises :class:`ReportInvalid`, :class:`ReceiptNotFound` and :class:`ReportExists`
        (one report per use).
        """
        use = self.use(citizen_id, event_id)
        body = _check_text(text, MAX_REPORT, required=True)
        if body is None:
            raise ReportInvalid(
                f"A report is text of 1 to {MAX_REPORT} characters, without control characters."
            )
        owner = self._pseudonyms.of(citizen_id)
        report_id = new_event_id()
        now = int(self.clock())
        record = ReportRecord(
            report_id=report_id,
            citizen=owner,
            event_id=use.event_id,
            actor_kind=use.actor_kind,
            actor=use.actor,
            topic=use.topic,
            created_at=now,
            state="open",
            resolved_at=0,
            blob=self._reports.seal(body.encode("utf-8"), _report_aad(owner, report_id)),
        )
        if not self._store.put_report(record):
            raise ReportExists("You have already reported this use.")
        return Report(report_id, use.event_id, now, "open")

    def reports_of(
        self, citizen_id: str, event_ids: builtins.list[str]
    ) -> dict[str, Report]:
        """The citizen's misuse reports of these uses, by event id."""
        owner = self._pseudonyms.of(citizen_id)
        return {
            r.event_id: Report(r.report_id, r.event_id, r.created_at, r.state)
            for r in self._store.get_event_reports(event_ids[:MAX_USES])
            if r.citizen == owner
        }

    def report_text(self, record: ReportRecord) -> str:
        """A report's text, opened (for the operator)."""
        try:
            raw = self._reports.open(record.blob, _report_aad(record.citizen, record.report_id))
        except SealBroken:
            raise JobCorrupt("a misuse report does not open (wrong secret or damage)") from None
        return raw.decode("utf-8")


def _rating_aad(owner: str, event_id: str) -> bytes:
    return f"ecert-rating:{owner}:{event_id}".encode()


def _report_aad(owner: str, report_id: str) -> bytes:
    return f"ecert-report:{owner}:{report_id}".encode()


def _set_member(event_id: str) -> tuple[str, int | None]:
    """``(the set's event id, member index)`` of a set member's activity event
    (``<event id>-<member>``, :meth:`service.verification.OnlineVerifier`); a single
    check's event: ``(event_id, None)``."""
    base, dash, member = event_id.rpartition("-")
    if dash and base and member.isdigit() and len(member) == 1:
        return base, int(member)
    return event_id, None
