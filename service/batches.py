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

Limits (documented in docs/api.md): the body at most :data:`MAX_BODY` bytes (64 MiB),
:data:`MAX_ROWS` non-blank lines (200,000), each line :data:`MAX_LINE` bytes (64 KiB:
a row with a portrait, 8 KiB as a data URL, fits); ``row_id`` 1 to
:data:`MAX_ROW_ID` printable characters, unique in the batch; each notice text 1 to
:data:`MAX_NOTICE` printable characters. 100,000 rows of resident ID cards with a
two-sentence notice are about 57 MB in UTF-8 (570 bytes a row): they fit (written
with ASCII escapes (``\\u``) for the Chinese text they would not: 70 MB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from keys import EcertError
from keys.errors import FormatError
from keys.jsonstrict import loads
from service.errors import (
    BatchEmpty,
    BatchLineMalformed,
    BatchLineTooLong,
    BatchRowDuplicate,
    BatchRowInvalid,
    BatchTooLarge,
)

__all__ = [
    "CHUNK_ROWS",
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
#: Longest notice text (each language), in characters.
MAX_NOTICE = 500
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
