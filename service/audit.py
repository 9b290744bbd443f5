"""The audit chain: every use of a citizen's data, answered or refused, in a log that
cannot be edited without detection.

Each :class:`~service.uses.Use` (a verification, a proof query) becomes one
:class:`~store.kinds.audit.AuditEntry`, appended atomically by the store
(:meth:`~store.kinds.audit.AuditStore.append_audit`) with the next ``seq``:

* ``body``: the canonical JSON of the use (sorted keys, no spaces, ASCII): the
  citizen's pseudonym, the actor, the scene or proof type, the claim *names*, the
  result and codes, and the purpose *sealed* (``A1``, associated data
  ``ecert-audit:<event id>``; the free text a department typed never lies in clear);
* ``prev``: the previous entry's ``hash`` (64 zeros for ``seq`` 1);
* ``hash``: SHA-256 of ``ecert-audit-entry/v1 NUL seq NUL at NUL prev NUL body``
  (decimal numbers, ``prev`` in hex): anyone holding the entries can re-check the links;
* ``tag``: HMAC-SHA-256, under a key derived from the instance secret (label
  ``ecert/audit-tag/v1``), of ``ecert-audit-tag/v1 NUL hash``: someone who can write
  to the store but does not hold the secret cannot rewrite the chain after an edit.

:meth:`AuditLog.verify` walks the chain page by page and names the first bad entry
(missing, link broken, content altered, tag wrong, unreadable). :meth:`AuditLog.export`
streams the entries of a period with their purposes opened and the links re-checked,
and ends with a *head*: a JWS (``typ`` :data:`HEAD_TYP`) by the platform's anchor key
over the last exported ``seq`` and ``hash``. Formats: docs/formats.md, "Audit chain".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from issuer import Platform
from keys.aead import Envelope
from keys.b64 import b64url_decode, b64url_encode
from keys.errors import FormatError, SealBroken
from keys.jws import sign_compact
from service.errors import AuditChainBroken
from service.uses import MAX_PURPOSE, Use
from store.interface import (
    AUDIT_GENESIS,
    MAX_AUDIT_BATCH,
    MAX_AUDIT_PAGE,
    AuditEntry,
    AuditLink,
    CorruptRecord,
    InvalidArgument,
    Store,
)

__all__ = [
    "AUDIT_KEY_LABEL",
    "AUDIT_TAG_KEY_LABEL",
    "HEAD_TYP",
    "AuditLog",
    "AuditReport",
    "GroupAppend",
    "entry_hash",
]

#: Label of the key that seals purposes inside audit bodies.
AUDIT_KEY_LABEL = "ecert/audit/v1"
#: Label of the key of the entries' keyed tags.
AUDIT_TAG_KEY_LABEL = "ecert/audit-tag/v1"
#: ``typ`` of the signed head that ends an export.
HEAD_TYP = "ecert-audit-head+jwt"
_SEAL = b"A1"
_HASH_DOMAIN = b"ecert-audit-entry/v1\x00"
_TAG_DOMAIN = b"ecert-audit-tag/v1\x00"
#: Entries read per page by :meth:`AuditLog.verify` and :meth:`AuditLog.export`.
PAGE = 500
#: Bounds of what a body keeps of a use (longer strings are cut, extra items dropped).
MAX_TEXT = 128
MAX_ITEMS = 64

Reason = Literal["seq_gap", "link_broken", "body_altered", "tag_wrong", "unreadable"]


def entry_hash(seq: int, at: int, prev: str, body: bytes) -> str:
    """The ``hash`` of an entry (hex): SHA-256 over the domain label, ``seq``, ``at``,
    ``prev`` and ``body`` (see the module doc)."""
    digest = hashlib.sha256(_HASH_DOMAIN)
    digest.update(f"{seq}\x00{at}\x00{prev}\x00".encode("ascii"))
    digest.update(body)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What :meth:`AuditLog.verify` found: ``entries`` checked good, and the first bad
    ``seq`` with the reason (``bad_seq`` None when the chain is intact, or when the
    store could not say which entry it could not read)."""

    entries: int
    intact: bool
    bad_seq: int | None = None
    reason: Reason | None = None
    message: str = ""

    def line(self) -> str:
        """One line for the operator."""
        if self.intact:
            return f"{self.entries} entries, chain intact"
        where = "" if self.bad_seq is None else f"entry {self.bad_seq}: "
        return f"audit chain broken at {where}{self.reason}: {self.message}"


#: The most entries a :class:`GroupAppend` writes at once: on Redis a batch that lost the
#: race to another process is linked again (an HMAC and a SHA-256 per entry), so a
#: smaller batch gets back into the race sooner.
GROUP_LIMIT = 64


class _Pending:
    """One append waiting in a :class:`GroupAppend`."""

    __slots__ = ("done", "lead", "link", "result")

    def __init__(self, link: AuditLink) -> None:
        self.link = link
        self.done = threading.Event()  # written, failed, or handed the lead
        self.lead = False
        #: the entry written, or what failed its batch; None while queued
        self.result: AuditEntry | BaseException | None = None

    def outcome(self) -> AuditEntry:
        if isinstance(self.result, AuditEntry):
            return self.result
        if self.result is None:  # pragma: no cover - outcome is read once done
            raise CorruptRecord("an audit append ended without an entry")
        raise self.result


class GroupAppend:
    """Appends from the threads of one process, written together (a group commit).

    Each chain append is a store write that must see the tail (one ``BEGIN IMMEDIATE`` on
    SQLite; a compare-and-set script on Redis, which threads appending one by one keep
    making each other retry). Here one thread at a time writes: it takes everything
    queued (at most ``limit``) and appends it in one :meth:`append_audit_batch`, while
    the threads that arrive meanwhile queue and wait. Once its own entry is written it
    hands the lead to the first one still waiting. No append is lost or reordered: each
    caller returns when its own entry is written, or raises what failed the write of
    its batch (every entry of that batch fails alike, as it would have alone).
    """

    def __init__(
        self,
        append_batch: Callable[[Sequence[AuditLink]], list[AuditEntry]],
        *,
        limit: int = GROUP_LIMIT,
    ) -> None:
        if not 1 <= limit <= MAX_AUDIT_BATCH:
            raise InvalidArgument(f"a group holds 1 to {MAX_AUDIT_BATCH} entries")
        self._append_batch = append_batch
        self._limit = limit
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = False

    def append(self, link: AuditLink) -> AuditEntry:
        """Append the entry ``link`` builds (as :meth:`append_audit`); returns it."""
        pending = _Pending(link)
        with self._lock:
            self._queue.append(pending)
            lead = not self._leading
            self._leading = True
        if not lead:
            pending.done.wait()
            if not pending.lead:
                return pending.outcome()
        while pending.result is None:  # its own entry is still queued
            with self._lock:
                batch = self._queue[: self._limit]
                del self._queue[: self._limit]
            self._write(batch)
        with self._lock:
            if self._queue:
                self._queue[0].lead = True
                self._queue[0].done.set()
            else:
                self._leading = False
        return pending.outcome()

    def _write(self, batch: list[_Pending]) -> None:
        try:
            entries = self._append_batch([p.link for p in batch])
            if len(entries) != len(batch):
                raise CorruptRecord("the store appended another number of audit entries")
        except BaseException as err:  # every waiter of the batch gets it
            for p in batch:
                p.result = err
        else:
            for p, entry in zip(batch, entries, strict=True):
                p.result = entry
        for p in batch:
            p.done.set()


class AuditLog:
    """Appends uses to the chain, verifies it and exports it (see the module doc)."""

    def __init__(
        self,
        store: Store,
        seal_key: bytes,
        tag_key: bytes,
        platform: Platform,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._seal = Envelope(seal_key, _SEAL)
        self._tag_key = tag_key
        self._platform = platform
        self.clock = clock
        # the store's method looked up at each write, not bound now (a meter that wraps
        # the store's methods later, as bench/http_profile.py does, still sees it)
        self._group = GroupAppend(lambda links: self._store.append_audit_batch(links))

    # -- appending -------------------------------------------------------------------------

    def record(self, use: Use) -> None:
        """:meth:`append`, as a :class:`~service.uses.Uses` listener."""
        self.append(use)

    def append(self, use: Use) -> AuditEntry:
        """Append ``use`` to the chain and return its entry, once it is written. Appends
        made by other threads of this process meanwhile are written together with it, in
        one store write (:class:`GroupAppend`)."""
        body = self._body(use)
        at = int(use.at)

        def link(seq: int, prev: str) -> AuditEntry:
            digest = entry_hash(seq, at, prev, body)
            return AuditEntry(seq, at, body, prev, digest, self._tag(digest))

        return self._group.append(link)

    def _body(self, use: Use) -> bytes:
        purpose = ""
        if use.purpose:
            sealed = self._seal.seal(use.purpose[:MAX_PURPOSE].encode("utf-8"), _aad(use.event_id))
            purpose = b64url_encode(sealed)
        fields: dict[str, Any] = {
            "v": 1,
            "event_id": use.event_id[:MAX_TEXT],
            "kind": use.kind,
            "subject": use.subject[:MAX_TEXT],
            "actor_kind": use.actor_kind,
            "actor": use.actor[:MAX_TEXT],
            "topic": use.topic[:MAX_TEXT],
            "fields": [f[:MAX_TEXT] for f in use.fields[:MAX_ITEMS]],
            "purpose": purpose,
            "answered_by": use.answered_by[:MAX_TEXT],
            "accepted": bool(use.accepted),
            "codes": [c[:MAX_TEXT] for c in use.codes[:MAX_ITEMS]],
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")

    def _tag(self, digest: str) -> str:
        return hmac.new(self._tag_key, _TAG_DOMAIN + digest.encode("ascii"), "sha256").hexdigest()

    # -- checking --------------------------------------------------------------------------

    def _fault(self, entry: AuditEntry, expected: int, prev: str) -> tuple[Reason, str] | None:
        """What is wrong with ``entry`` read where ``expected`` with ``prev`` belongs."""
        if entry.seq != expected:
            return "seq_gap", f"entry {expected} is missing (the next one is {entry.seq})"
        if entry.prev != prev:
            return "link_broken", "its prev is not the previous entry's hash"
        if not hmac.compare_digest(
            entry_hash(entry.seq, entry.at, entry.prev, entry.body), entry.hash
        ):
            return "body_altered", "its body or time does not match its hash"
        if not hmac.compare_digest(self._tag(entry.hash), entry.tag):
            return "tag_wrong", "its keyed tag is wrong (the chain was rewritten)"
        return None

    def _pages(self, first: int, last: int) -> Iterator[AuditEntry | int]:
        """The entries ``first..last`` in pages; an ``int`` in place of an entry is the
        ``seq`` of one the store could not read."""
        start = first
        while start <= last:
            count = min(PAGE, last - start + 1, MAX_AUDIT_PAGE)
            try:
                page: list[AuditEntry | int] = list(self._store.audit_range(start, count))
            except CorruptRecord:
                page = []
                for seq in range(start, start + count):  # find the one that does not read
                    try:
                        page.extend(self._store.audit_range(seq, 1))
                    except CorruptRecord:
                        page.append(seq)
                        break
            if not page:
                return
            yield from page
            tail = page[-1]
            start = (tail if isinstance(tail, int) else tail.seq) + 1

    def verify(self) -> AuditReport:
        """Check the whole chain, :data:`PAGE` entries at a time: the first entry that is
        missing, unreadable, unlinked, altered or mistagged, or that all is intact.

        What it cannot see: entries removed from the *end* (the tail) leave a shorter
        chain that is intact; compare with the last signed head you kept."""
        try:
            tail = self._store.audit_tail()
        except CorruptRecord as err:
            return AuditReport(0, False, None, "unreadable", err.message)
        if tail is None:
            return AuditReport(0, True)
        expected, prev = 1, AUDIT_GENESIS
        for entry in self._pages(1, tail.seq):
            if isinstance(entry, int):
                return AuditReport(expected - 1, False, entry, "unreadable", "it does not read")
            fault = self._fault(entry, expected, prev)
            if fault is not None:
                return AuditReport(expected - 1, False, expected, *fault)
            expected, prev = expected + 1, entry.hash
        if expected <= tail.seq:
            return AuditReport(
                expected - 1, False, expected, "seq_gap", f"entry {expected} is missing"
            )
        return AuditReport(expected - 1, True)

    # -- exporting -------------------------------------------------------------------------

    def export(self, since: int, until: int | None = None) -> Iterator[dict[str, Any]]:
        """The entries from the first at or after ``since`` up to (not including) the
        first at or after ``until`` (to the tail when None), in ``seq`` order, each as
        ``{"seq", "at", "prev", "hash", "body", "use"}`` (``body`` the exact text hashed;
        ``use`` its fields with the purpose opened); then the head
        ``{"head": <JWS>}`` over the last exported ``seq`` and ``hash`` (or, with none,
        the entry before the period). The entries are checked on the way (links, hashes,
        tags): :class:`~service.errors.AuditChainBroken` stops the export at the first
        bad one, before any head is signed."""
        tail = self._store.audit_tail()
        last = 0 if tail is None else tail.seq
        first = self._store.audit_first_since(since)
        if first is None:
            first = last + 1
        if until is not None:
            end = self._store.audit_first_since(until)
            if end is not None:
                last = min(last, end - 1)
        if first > 1:
            before = self._store.audit_range(first - 1, 1)
            if not before:
                raise AuditChainBroken(f"audit entry {first - 1} is missing")
            prev = before[0].hash
        else:
            prev = AUDIT_GENESIS
        expected, count = first, 0
        for entry in self._pages(first, last):
            if isinstance(entry, int):
                raise AuditChainBroken(f"audit entry {entry} does not read")
            fault = self._fault(entry, expected, prev)
            if fault is not None:
                raise AuditChainBroken(f"audit entry {expected}: {fault[0]}")
            yield {
                "seq": entry.seq,
                "at": entry.at,
                "prev": entry.prev,
                "hash": entry.hash,
                "body": entry.body.decode("ascii"),
                "use": self._opened(entry),
            }
            expected, prev, count = expected + 1, entry.hash, count + 1
        if expected <= last:
            raise AuditChainBroken(f"audit entry {expected} is missing")
        yield {"head": self._head(expected - 1, prev, since, until, count)}

    def _opened(self, entry: AuditEntry) -> dict[str, Any]:
        try:
            use: dict[str, Any] = json.loads(entry.body)
            if use.get("purpose"):
                sealed = b64url_decode(use["purpose"])
                use["purpose"] = self._seal.open(sealed, _aad(use["event_id"])).decode("utf-8")
        except (ValueError, TypeError, KeyError, FormatError, SealBroken):
            raise AuditChainBroken(f"audit entry {entry.seq}'s purpose does not open") from None
        return use

    def _head(self, seq: int, digest: str, since: int, until: int | None, count: int) -> str:
        """The signed head (docs/formats.md, "Audit chain")."""
        payload = {
            "iss": self._platform.anchor_id,
            "iat": int(self.clock()),
            "seq": seq,
            "hash": digest,
            "since": since,
            "until": until,
            "count": count,
        }
        return sign_compact(payload, self._platform.ensure_anchor(), typ=HEAD_TYP)


def _aad(event_id: str) -> bytes:
    return b"ecert-audit:" + event_id[:MAX_TEXT].encode("utf-8")
