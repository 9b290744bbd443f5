"""Proactive issuance (无感智办): a department's batch of credentials for citizens who
did not ask, issued into their wallets.

A batch is JSON Lines (``application/x-ndjson``), one row a line::

    {"row_id": "2026-07-0001", "citizen_id": "…", "vct": "urn:ecert:…",
     "claims": {…}, "notice": {"zh": "…", "en": "…"}}

:func:`parse_batch` reads a body into :class:`BatchRow` s and a :class:`RowError` per
bad line (``{"line", "code", "message"}``: a stable code, a message that names the
member, never its value); a bad line never stops the others. Lines are numbered from 1
as in the file, blank lines included (they are skipped). Every row is checked strictly:
the line is strict JSON (:mod:`keys.jsonstrict`: a duplicate member is refused), an
object with exactly the five members above, each of its type and within its bounds.
The claims themselves are checked at issuance, against the catalogue
(``claims_invalid``), as are the type (``not_authorised``, ``unknown_vct``) and the
citizen (``unknown_citizen``).

:class:`Batches` runs a batch as a job of kind :data:`BATCH_KIND` (:mod:`service.jobs`):
one step a line (a bad line's step fails at once with its report), run
:data:`CHUNK_ROWS` at a time through :meth:`~service.issuance.Issuance.issue_many`
(grouped writes). Each issued credential gets its notice (:mod:`service.notices`, one
per credential, id ``b<job>-<step>``), then a permanent mark (:data:`MARK_SCOPE`, keyed
by an HMAC of the issuer and the ``row_id`` under a key derived from the instance
secret: never the row id in clear) saying that the row was issued as that credential;
a row already marked, by this batch or an earlier one, is *skipped*: posting a batch
again issues only what was not issued. Crash safety is the journal's write-ahead note:
the new credential's id is noted in the step before it is issued, so that the next
attempt finds out how far the last one got (not issued yet: issue it under that id;
issued and in the wallet: finish its devices, notice and mark; issued but not in the
wallet: nobody holds it, so it is revoked and the row issued under a new id).

Limits (documented in docs/api.md): the body at most :data:`MAX_BODY` bytes (64 MiB),
:data:`MAX_ROWS` non-blank lines (200,000), each line :data:`MAX_LINE` bytes (64 KiB:
a row with a portrait, 8 KiB as a data URL, fits); ``row_id`` 1 to
:data:`MAX_ROW_ID` printable characters, unique in the batch; each notice text 1 to
:data:`MAX_NOTICE` printable characters. 100,000 rows of resident ID cards with a
two-sentence notice are about 57 MB in UTF-8 (570 bytes a row): they fit (written
with ASCII escapes (``\\u``) for the Chinese text they would not: 70 MB).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from keys import EcertError
from keys.errors import FormatError, UnknownIssuer
from keys.jsonstrict import loads
from keys.models import LocalizedName
from service.devices import Devices
from service.errors import (
    BatchEmpty,
    BatchLineMalformed,
    BatchLineTooLong,
    BatchRowDuplicate,
    BatchRowInvalid,
    BatchTooLarge,
    JobNotFound,
)
from service.issuance import BulkItem, Issuance
from service.jobs import Jobs, Journal, OpenStep, StepResult
from service.notices import MAX_NOTICE_TEXT, Notices
from service.wallets import Wallets
from store.interface import CredentialRecord, IssuerRecord, JobRecord, Store

__all__ = [
    "BATCH_KIND",
    "CHUNK_ROWS",
    "MARK_SCOPE",
    "MAX_ERRORS_SHOWN",
    "Batches",
    "MAX_BODY",
    "MAX_LINE",
    "MAX_NOTICE",
    "MAX_ROWS",
    "MAX_ROW_ID",
    "MAX_VCT",
    "ROW_MEMBERS",
    "BatchRow",
    "ParsedBatch",
    "RowError",
    "parse_batch",
]

#: Rows issued together (one store call per kind of write): :meth:`Issuance.issue_many`'s
#: chunk in a batch job and in ``bench/batch.py``.
CHUNK_ROWS = 200
#: Largest batch body, in bytes.
MAX_BODY = 64 * 1024 * 1024
#: Most rows (non-blank lines) in one batch.
MAX_ROWS = 200_000
#: Longest line, in bytes (its end of line excluded).
MAX_LINE = 64 * 1024
#: Longest ``row_id``, in characters.
MAX_ROW_ID = 128
#: Longest ``vct``, in characters.
MAX_VCT = 200
#: Longest notice text (each language), in characters (what a notice keeps).
MAX_NOTICE = MAX_NOTICE_TEXT
#: The members of a row, all required, no other.
ROW_MEMBERS = ("row_id", "citizen_id", "vct", "claims", "notice")
_NOTICE_LANGUAGES = ("zh", "en")
#: A citizen id as accounts take it (service.accounts.CITIZEN_ID).
_CITIZEN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: A member name safe to repeat in a message (anything else may be misplaced data).
_SAFE_NAME = re.compile(r"[a-z_]{1,32}")
_BLANK = b" \t\r"


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One good row of a batch, with its line number in the body."""

    line: int
    row_id: str
    citizen_id: str
    vct: str
    claims: dict[str, Any]
    notice: dict[str, str]


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one line of a batch was not issued: its line number, a stable code and a
    message that names what is wrong, never a submitted value."""

    line: int
    code: str
    message: str

    @classmethod
    def of(cls, line: int, err: EcertError) -> RowError:
        """The report of ``err`` (its class's code and its message) for ``line``."""
        return cls(line, err.code, err.message)

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """A batch body read: its good rows and its bad lines, both in line order."""

    rows: list[BatchRow]
    errors: list[RowError]

    @property
    def total(self) -> int:
        """The rows of the batch, good and bad (blank lines are not rows)."""
        return len(self.rows) + len(self.errors)


def parse_batch(body: bytes) -> ParsedBatch:
    """Read a JSON Lines batch (see the module doc).

    Raises :class:`BatchTooLarge` (the body, or its number of rows, over the limits)
    and :class:`BatchEmpty` (no row at all); every other problem is a
    :class:`RowError` of its line.
    """
    if len(body) > MAX_BODY:
        raise BatchTooLarge(f"A batch has at most {MAX_BODY} bytes.")
    rows: list[BatchRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    count = 0
    for number, raw in enumerate(body.split(b"\n"), start=1):
        line = raw.strip(_BLANK)
        if not line:
            continue
        count += 1
        if count > MAX_ROWS:
            raise BatchTooLarge(f"A batch has at most {MAX_ROWS} rows.")
        try:
            row = _row(number, line)
            first = seen.setdefault(row.row_id, number)
            if first != number:
                raise BatchRowDuplicate(f"row_id repeats the row_id of line {first}.")
        except EcertError as err:
            errors.append(RowError.of(number, err))
            continue
        rows.append(row)
    if count == 0:
        raise BatchEmpty("The batch has no rows: one JSON object a line.")
    return ParsedBatch(rows, errors)


def _row(number: int, line: bytes) -> BatchRow:
    if len(line) > MAX_LINE:
        raise BatchLineTooLong(f"A line has at most {MAX_LINE} bytes.")
    try:
        value = loads(line, max_bytes=MAX_LINE)
    except FormatError as err:
        raise BatchLineMalformed(f"The line is not strict JSON: {err.message}.") from None
    if not isinstance(value, dict):
        raise BatchLineMalformed("The line is not a JSON object.")
    for name in value:
        if name not in ROW_MEMBERS:
            what = repr(name) if _SAFE_NAME.fullmatch(name) else "with a malformed name"
            raise BatchRowInvalid(f"The row has an unknown member {what}.")
    for name in ROW_MEMBERS:
        if name not in value:
            raise BatchRowInvalid(f"The row has no {name!r}.")
    row_id = _text(value["row_id"], "row_id", MAX_ROW_ID)
    citizen_id = value["citizen_id"]
    if not isinstance(citizen_id, str) or not _CITIZEN_ID.fullmatch(citizen_id):
        raise BatchRowInvalid(
            "'citizen_id' is not a citizen id (1-64 letters, digits, '_', '.' or '-')."
        )
    vct = _text(value["vct"], "vct", MAX_VCT)
    claims = value["claims"]
    if not isinstance(claims, dict):
        raise BatchRowInvalid("'claims' is not a JSON object.")
    notice = value["notice"]
    if not isinstance(notice, dict) or sorted(notice) != sorted(_NOTICE_LANGUAGES):
        raise BatchRowInvalid("'notice' is not an object with exactly 'zh' and 'en'.")
    texts = {lang: _text(notice[lang], f"notice.{lang}", MAX_NOTICE) for lang in _NOTICE_LANGUAGES}
    return BatchRow(number, row_id, citizen_id, vct, claims, texts)


def _text(value: object, name: str, longest: int) -> str:
    """A member that must be 1 to ``longest`` printable characters."""
    if not isinstance(value, str):
        raise BatchRowInvalid(f"{name!r} is not a string.")
    if not 1 <= len(value) <= longest:
        raise BatchRowInvalid(f"{name!r} has 1 to {longest} characters.")
    if not value.isprintable() or value != value.strip():
        raise BatchRowInvalid(f"{name!r} holds a control character or starts or ends with a space.")
    return value


# -- the batch job ----------------------------------------------------------------------

#: The job kind of a batch.
BATCH_KIND = "batch"
#: The scope of the permanent marks "row R of issuer I was issued as credential C".
MARK_SCOPE = "batch-row"
#: Label of the key that names the marks (``derive_key(secret, label)``).
MARK_KEY_LABEL = "ecert/batch-rows/v1"
#: Reports of failed lines a status answer lists at most (the counters count them all).
MAX_ERRORS_SHOWN = 1000
#: The notice kind of a credential issued by a batch.
NOTICE_KIND = "batch"


class Batches:
    """Departments' batches into wallets: create, follow, and the job handler that runs
    them (registered with the container's :class:`~service.jobs.Jobs`)."""

    kind = BATCH_KIND
    chunk = CHUNK_ROWS

    def __init__(
        self,
        store: Store,
        jobs: Jobs,
        issuance: Issuance,
        wallets: Wallets,
        notices: Notices,
        devices: Devices,
        *,
        mark_key: bytes,
    ) -> None:
        """``mark_key`` (256 bits, derived under :data:`MARK_KEY_LABEL`) names the marks."""
        if len(mark_key) != 32:
            raise ValueError("the mark key must be 256 bits")
        self._store = store
        self._jobs = jobs
        self._issuance = issuance
        self._wallets = wallets
        self._notices = notices
        self._devices = devices
        self._mark_key = mark_key

    # -- the department's side ------------------------------------------------------

    def create(self, department: IssuerRecord, body: bytes) -> JobRecord:
        """Read a batch body and make it a job (runners pick it up at once).

        Raises :class:`BatchTooLarge` and :class:`BatchEmpty`; bad lines are steps that
        fail with their report.
        """
        parsed = parse_batch(body)
        steps: list[tuple[int, dict[str, Any]]] = [
            (
                row.line,
                {
                    "line": row.line,
                    "row_id": row.row_id,
                    "citizen_id": row.citizen_id,
                    "vct": row.vct,
                    "claims": row.claims,
                    "notice": row.notice,
                },
            )
            for row in parsed.rows
        ]
        steps += [(e.line, {**e.to_dict(), "refused": True}) for e in parsed.errors]
        steps.sort(key=lambda step: step[0])
        spec = {"issuer": department.iss, "rows": parsed.total}
        return self._jobs.create(BATCH_KIND, department.iss, spec, [data for _, data in steps])

    def status(self, department: IssuerRecord, job_id: str) -> dict[str, Any]:
        """A batch's progress and its failed lines (the first :data:`MAX_ERRORS_SHOWN`).

        Raises :class:`~service.errors.JobNotFound` for an unknown id, another
        department's job, or a job of another kind.
        """
        job = self.job(department, job_id)
        errors: list[dict[str, Any]] = []
        for step in self._jobs.steps_in(job, "failed", limit=MAX_ERRORS_SHOWN):
            data = step.data
            errors.append(
                {
                    "line": data.get("line", 0),
                    "code": data.get("code", "internal"),
                    "message": data.get("message", ""),
                }
            )
        return answer(job, errors)

    def job(self, department: IssuerRecord, job_id: str) -> JobRecord:
        """The department's batch job. Raises :class:`~service.errors.JobNotFound`."""
        job = self._jobs.get(job_id)
        if job is None or job.kind != BATCH_KIND or job.owner != department.iss:
            raise JobNotFound("No batch with this id.")
        return job

    def mark_key(self, iss: str, row_id: str) -> str:
        """The name of the mark of ``row_id`` of the issuer ``iss``: keyed, so that a
        store dump does not show row ids (which departments may build from citizen ids)."""
        message = b"%d:%b:%b" % (len(iss.encode()), iss.encode(), row_id.encode("utf-8"))
        return hmac.new(self._mark_key, message, hashlib.sha256).hexdigest()

    # -- the job handler --------------------------------------------------------------

    def run_steps(
        self, job: JobRecord, spec: dict[str, Any], steps: list[OpenStep], journal: Journal
    ) -> list[StepResult]:
        """Issue a chunk of rows (see the module doc); one result per step.

        Store calls are grouped for the chunk: the marks read at once, the write-ahead
        ids noted at once, the credentials issued by :meth:`Issuance.issue_many`, the
        notices and the marks written at once. Only a step resumed after a crash is
        looked at on its own.
        """
        department = self._store.get_issuer(str(spec["issuer"]))
        if department is None:
            raise UnknownIssuer("the batch's issuer is no longer registered")
        iss = department.iss
        results: dict[int, StepResult] = {}
        live = [s for s in steps if not s.data.get("refused")]
        for step in steps:
            if step.data.get("refused"):
                results[step.n] = StepResult("failed", {})  # the report is already there
        keys = {s.n: self.mark_key(iss, str(s.data["row_id"])) for s in live}
        marks = self._store.get_marks(MARK_SCOPE, [keys[s.n] for s in live])
        fresh: list[OpenStep] = []  # to note a new id for, then issue
        told: list[tuple[OpenStep, str]] = []  # issued and marked: (re)tell only
        ended: list[tuple[OpenStep, str]] = []  # issued and in the wallet: tell and mark
        for step, mark in zip(live, marks, strict=True):
            noted = step.data.get("new_id")
            if mark is not None:
                if mark == noted:  # this job issued it; the notice may be missing
                    told.append((step, mark))
                else:
                    results[step.n] = StepResult("skipped", {"reason": "already_issued"})
            elif noted is None:
                fresh.append(step)
            else:
                resumed = self._resume(department, step, str(noted))
                if isinstance(resumed, str):
                    ended.append((step, resumed))
                else:
                    fresh.append(resumed)
        pending: list[OpenStep] = []
        if fresh:
            # Write ahead: the ids are in the journal before anything is issued.
            pending = journal.note([(s, {"new_id": secrets.token_urlsafe(16)}) for s in fresh])
        if pending:
            items = [
                BulkItem(
                    str(s.data["vct"]),
                    str(s.data["citizen_id"]),
                    dict(s.data["claims"]),
                    credential_id=str(s.data["new_id"]),
                )
                for s in pending
            ]
            outcomes = self._issuance.issue_many(department, items)
            for step, outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, CredentialRecord):
                    ended.append((step, outcome.id))
                else:
                    results[step.n] = StepResult(
                        "failed", {"code": outcome.code, "message": outcome.message}
                    )
        results.update(self._conclude(department, job, told, ended, keys))
        return [results[s.n] for s in steps]

    def finished(self, job: JobRecord, spec: dict[str, Any]) -> None:
        """Nothing to add: every credential got its notice with its step."""

    def _resume(self, department: IssuerRecord, step: OpenStep, noted: str) -> str | OpenStep:
        """A step an earlier attempt noted an id for: that id if the credential was
        issued and is in the wallet (its missing device copies made now), or the step
        to issue under a new id (an orphan is revoked first). Never the noted id again:
        a stalled earlier attempt may still be issuing under it, and then the mark
        decides which of the two stays."""
        record = self._store.get_credential(noted)
        if record is None:
            return step
        if self._store.get_wallet_item(record.subject, noted) is not None:
            self._devices.deliver(str(step.data["citizen_id"]), noted)  # idempotent
            return noted
        # Issued, but nobody holds it (the crash came between registry and wallet).
        with suppress(EcertError):
            self._issuance.revoke(department, noted)
        return OpenStep(step.n, step.state, {k: v for k, v in step.data.items() if k != "new_id"})

    def _conclude(
        self,
        department: IssuerRecord,
        job: JobRecord,
        told: list[tuple[OpenStep, str]],
        ended: list[tuple[OpenStep, str]],
        keys: dict[int, str],
    ) -> dict[int, StepResult]:
        """Tell the citizens (one store call), then mark the rows issued (one more). A
        row another batch marked first (posted twice at once) loses: its credential is
        revoked and removed again, and the step skipped."""
        results: dict[int, StepResult] = {}
        everyone = [*told, *ended]
        if not everyone:
            return results
        self._notices.add_many(
            [
                (
                    str(step.data["citizen_id"]),
                    NOTICE_KIND,
                    LocalizedName(
                        zh=str(step.data["notice"]["zh"]), en=str(step.data["notice"]["en"])
                    ),
                    [credential_id],
                    _notice_id(job, step),
                )
                for step, credential_id in everyone
            ]
        )
        for step, credential_id in told:
            results[step.n] = StepResult("done", {"credential": credential_id})
        written = self._store.put_marks(MARK_SCOPE, [(keys[s.n], c) for s, c in ended])
        for (step, credential_id), new in zip(ended, written, strict=True):
            if new or self._store.get_mark(MARK_SCOPE, keys[step.n]) == credential_id:
                results[step.n] = StepResult("done", {"credential": credential_id})
                continue
            citizen_id = str(step.data["citizen_id"])
            with suppress(EcertError):
                self._issuance.revoke(department, credential_id)
            with suppress(EcertError):
                self._wallets.remove(citizen_id, credential_id)
            with suppress(EcertError):
                self._notices.dismiss(citizen_id, _notice_id(job, step))
            results[step.n] = StepResult("skipped", {"reason": "already_issued"})
        return results


def answer(job: JobRecord, errors: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch's status as the API and the CLI show it."""
    return {
        "id": job.id,
        "state": job.state,
        "total": job.total,
        "issued": job.done,
        "skipped": job.skipped,
        "failed": job.failed,
        "errors": errors,
    }


def _notice_id(job: JobRecord, step: OpenStep) -> str:
    return f"b{job.id}-{step.n}"
