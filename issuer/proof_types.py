"""The proof-type catalogue (电子证明共享核查): the proofs departments look up themselves.

Data, not code: ``issuer/data/proofs.json`` lists each proof type a department may ask
about a citizen (kinship, no criminal record, residence, tax payment…) with

* ``id`` (``^[a-z0-9-]{1,64}$``) and ``name`` {zh, en};
* ``answered_by``: the issuer slug of the department that answers (and signs) it;
* ``inputs``: what the query gives besides the citizen id (a relative's id, a plate
  number), each typed and bounded (``max_length``, an optional full-match ``pattern``);
* ``match``: which of those inputs must equal which claims of a source credential
  (``relative_id`` = the birth certificate's ``mother_id_number`` *or*
  ``father_id_number``) for that credential to count;
* ``sources``: the catalogue credential types the answer is computed from;
* ``claims``: the answer's claims, each with labels, a type, and either ``from`` (the
  source claim it copies) or ``matched`` (a fixed value per source claim that matched an
  input: ``{"mother_id_number": "mother"}``);
* ``valid_for``: how long an answer stays valid, in seconds (60 to 3600).

Every answer has ``found`` (true or false: "no record" is an answer too) first; when a
record is found, the claims it has follow, in catalogue order.

The file is checked when it is loaded, against the credential catalogue (sources,
claim names and types, inputs named by ``match``), and a broken file raises
:class:`~issuer.errors.CatalogueError` naming the offending entry.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import Field, TypeAdapter, ValidationError

from issuer.catalogue import LONG_TERM, Catalogue, LocalisedText, _read_json, load_catalogue
from issuer.errors import CatalogueError, ProofInputsInvalid, UnknownProofType
from keys.models import LocalizedName, StrictModel, first_error

__all__ = [
    "FOUND_CLAIM",
    "MAX_VALID_FOR",
    "MIN_VALID_FOR",
    "PROOF_TYPE_RE",
    "AnswerClaim",
    "ProofCatalogue",
    "ProofInput",
    "ProofType",
    "load_proof_types",
    "parse_proof_types",
]

_PROOFS_FILE: Final = "proofs.json"
#: A proof type id.
PROOF_TYPE_RE: Final = re.compile(r"[a-z0-9-]{1,64}")
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_NAME_MAX: Final = 64
_SLUG_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
#: The claim every answer carries first: whether a record was found.
FOUND_CLAIM: Final = "found"
FOUND_LABEL: Final = LocalizedName(zh="有记录", en="Record found")
#: Bounds of ``valid_for`` (seconds): an answer is short-lived.
MIN_VALID_FOR: Final = 60
MAX_VALID_FOR: Final = 3600
#: Most inputs a proof type may take, and the longest input (characters).
MAX_INPUTS: Final = 4
MAX_INPUT_LENGTH: Final = 128
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

InputType = Literal["string", "date"]
AnswerType = Literal["string", "date", "integer", "boolean"]
#: The catalogue claim types an answer claim of each type may be copied from: an ID
#: number or an enumerated value is a string; a date that may be "long-term" is a date
#: (a long-term document's answer leaves it out, as it always has).
_ANSWERS_FROM: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "string": frozenset({"string", "id_number", "enum"}),
        "date": frozenset({"date", "date_or_long_term"}),
        "integer": frozenset({"integer"}),
        "boolean": frozenset({"boolean"}),
    }
)


@dataclass(frozen=True, slots=True)
class ProofInput:
    """One input a query must give: ``string`` (at most ``max_length`` characters,
    matching ``pattern`` in full when one is set) or ``date`` (``YYYY-MM-DD``)."""

    name: str
    label: LocalisedText
    type: InputType
    max_length: int
    pattern: str | None = None

    def check(self, value: object) -> str:
        """The value, if it is a valid input; :class:`ProofInputsInvalid` naming the
        input (never the value) if not."""
        if not isinstance(value, str):
            raise ProofInputsInvalid(f"input {self.name!r} must be a string")
        if not value or len(value) > self.max_length:
            raise ProofInputsInvalid(
                f"input {self.name!r} must be 1 to {self.max_length} characters"
            )
        if self.type == "date" and (not _DATE_RE.fullmatch(value) or not _is_date(value)):
            raise ProofInputsInvalid(f"input {self.name!r} must be a date YYYY-MM-DD")
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            raise ProofInputsInvalid(f"input {self.name!r} is not in the expected form")
        return value

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label.to_dict(),
            "type": self.type,
            "max_length": self.max_length,
        }
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out


@dataclass(frozen=True, slots=True)
class AnswerClaim:
    """One claim of an answer: copied ``from`` a source claim, or the ``matched`` value
    of the source claim that matched an input."""

    name: str
    label: LocalisedText
    type: AnswerType
    source: str | None = None
    matched: Mapping[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The public form: name, labels and type (not how it is computed)."""
        return {"name": self.name, "label": self.label.to_dict(), "type": self.type}


@dataclass(frozen=True, slots=True)
class ProofType:
    """A proof type of the catalogue (see the module doc)."""

    id: str
    name: LocalisedText
    answered_by: str
    inputs: tuple[ProofInput, ...]
    match: tuple[tuple[str, tuple[str, ...]], ...]
    sources: tuple[str, ...]
    claims: tuple[AnswerClaim, ...]
    valid_for: int

    @property
    def claim_names(self) -> tuple[str, ...]:
        """The names an answer may carry: ``found`` first, then the claims."""
        return (FOUND_CLAIM, *(c.name for c in self.claims))

    def check_inputs(self, inputs: Mapping[str, object] | None) -> dict[str, str]:
        """The query's inputs, checked: exactly this type's (none missing, none
        unknown). Raises :class:`ProofInputsInvalid` naming the input, never a value."""
        given = {} if inputs is None else inputs
        if not isinstance(given, Mapping):
            raise ProofInputsInvalid("'inputs' must be a JSON object")
        known = {spec.name for spec in self.inputs}
        for name in given:
            if name not in known:
                shown = name if isinstance(name, str) and _NAME_RE.fullmatch(name) else "?"
                raise ProofInputsInvalid(f"unknown input {shown[:_NAME_MAX]!r} for {self.id}")
        clean: dict[str, str] = {}
        for spec in self.inputs:
            if spec.name not in given:
                raise ProofInputsInvalid(f"missing input {spec.name!r} for {self.id}")
            clean[spec.name] = spec.check(given[spec.name])
        return clean

    def answer(
        self, candidates: Sequence[Mapping[str, object]], inputs: Mapping[str, str]
    ) -> dict[str, object]:
        """The answer from ``candidates`` (the claims of the citizen's valid credentials
        of the source types, issued by the answering department, newest first) and the
        checked ``inputs``: the first candidate that matches every input, or
        ``{"found": false}``."""
        for claims in candidates:
            matched = self._matches(claims, inputs)
            if matched is None:
                continue
            out: dict[str, object] = {FOUND_CLAIM: True}
            for spec in self.claims:
                if spec.source is not None:
                    value = claims.get(spec.source)
                    if value is not None and not (spec.type == "date" and value == LONG_TERM):
                        out[spec.name] = value
                elif spec.matched is not None:
                    for source_claim in matched:
                        if source_claim in spec.matched:
                            out[spec.name] = spec.matched[source_claim]
                            break
            return out
        return {FOUND_CLAIM: False}

    def _matches(self, claims: Mapping[str, object], inputs: Mapping[str, str]) -> list[str] | None:
        """The source claims that matched the inputs (in rule order), None if a rule
        has no match."""
        matched: list[str] = []
        for input_name, source_claims in self.match:
            wanted = inputs.get(input_name)
            hit = next((c for c in source_claims if claims.get(c) == wanted), None)
            if wanted is None or hit is None:
                return None
            matched.append(hit)
        return matched

    def to_public(self) -> dict[str, Any]:
        """What ``GET /api/v1/proofs/types`` lists."""
        return {
            "id": self.id,
            "name": self.name.to_dict(),
            "answered_by": self.answered_by,
            "inputs": [spec.to_dict() for spec in self.inputs],
            "claims": [
                {"name": FOUND_CLAIM, "label": FOUND_LABEL.to_dict(), "type": "boolean"},
                *(spec.to_dict() for spec in self.claims),
            ],
            "valid_for": self.valid_for,
        }


@dataclass(frozen=True)
class ProofCatalogue:
    """The proof types, in file order, with lookup by id."""

    types: tuple[ProofType, ...]
    _by_id: Mapping[str, ProofType] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_id = {t.id: t for t in self.types}
        if len(by_id) != len(self.types):
            raise CatalogueError("duplicate proof type id")
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))

    def get(self, proof_type: str) -> ProofType:
        """The type; :class:`UnknownProofType` if there is none of this id."""
        found = self._by_id.get(proof_type) if isinstance(proof_type, str) else None
        if found is None:
            raise UnknownProofType("unknown proof type")
        return found

    def __contains__(self, proof_type: object) -> bool:
        return isinstance(proof_type, str) and proof_type in self._by_id

    def __iter__(self) -> Iterator[ProofType]:
        return iter(self.types)

    def __len__(self) -> int:
        return len(self.types)

    def answered_by(self, slug: str) -> tuple[str, ...]:
        """The ids of the proof types department ``slug`` answers, in catalogue order."""
        return tuple(t.id for t in self.types if t.answered_by == slug)


# --------------------------------------------------------------------------- loading


class _InputEntry(StrictModel):
    name: str
    label: LocalizedName
    type: InputType
    max_length: Annotated[int, Field(ge=1, le=MAX_INPUT_LENGTH)]
    pattern: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class _MatchEntry(StrictModel):
    input: str
    claims: Annotated[list[str], Field(min_length=1, max_length=4)]


class _ClaimEntry(StrictModel):
    name: str
    label: LocalizedName
    type: AnswerType
    # "from" is a Python keyword: read under an alias
    source: str | None = Field(default=None, alias="from")
    matched: Annotated[dict[str, str], Field(min_length=1, max_length=4)] | None = None


class _ProofEntry(StrictModel):
    id: str
    name: LocalizedName
    answered_by: str
    inputs: Annotated[list[_InputEntry], Field(max_length=MAX_INPUTS)]
    match: Annotated[list[_MatchEntry], Field(max_length=MAX_INPUTS)]
    sources: Annotated[list[str], Field(min_length=1, max_length=8)]
    claims: Annotated[list[_ClaimEntry], Field(min_length=1, max_length=16)]
    valid_for: Annotated[int, Field(ge=MIN_VALID_FOR, le=MAX_VALID_FOR)]


_ENTRIES: Final = TypeAdapter(list[_ProofEntry])


@cache
def load_proof_types() -> ProofCatalogue:
    """The packaged proof types (``issuer/data/proofs.json``), checked against the
    packaged credential catalogue; parsed once and cached."""
    return parse_proof_types(_read_json(_PROOFS_FILE), load_catalogue(), source=_PROOFS_FILE)


def parse_proof_types(
    data: object, catalogue: Catalogue, *, source: str = "proofs"
) -> ProofCatalogue:
    """Check and parse proof-type data (a JSON array) against ``catalogue``. Raises
    :class:`CatalogueError` naming the entry's path, never a value."""
    try:
        entries = _ENTRIES.validate_python(data, by_alias=True)
    except ValidationError as err:
        path, rule = first_error(err)
        where = source if not path else f"{source}{path if path.startswith('[') else '.' + path}"
        raise CatalogueError(f"{where}: {rule}") from None
    if not entries:
        raise CatalogueError(f"{source}: must not be empty")
    types: list[ProofType] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        proof = _parse_entry(entry, catalogue, f"{source}[{i}]")
        if proof.id in seen:
            raise CatalogueError(f"{source}[{i}].id: duplicate proof type {proof.id!r}")
        seen.add(proof.id)
        types.append(proof)
    return ProofCatalogue(tuple(types))


def _parse_entry(entry: _ProofEntry, catalogue: Catalogue, where: str) -> ProofType:
    if not PROOF_TYPE_RE.fullmatch(entry.id):
        raise CatalogueError(f"{where}.id: {entry.id[:_NAME_MAX]!r} is not a proof type id")
    where = f"{where} ({entry.id})"
    for lang in ("zh", "en"):
        if not entry.name[lang].strip():
            raise CatalogueError(f"{where}.name.{lang}: must be a non-empty string")
    if not _SLUG_RE.fullmatch(entry.answered_by):
        raise CatalogueError(f"{where}.answered_by: not an issuer slug")
    source_types = []
    for j, vct in enumerate(entry.sources):
        if vct not in catalogue:
            raise CatalogueError(f"{where}.sources[{j}]: unknown credential type {vct!r}")
        source_types.append(catalogue.get(vct))
    if len(set(entry.sources)) != len(entry.sources):
        raise CatalogueError(f"{where}.sources: a credential type is listed twice")

    def source_claim(name: str, at: str, claim_type: str | None) -> None:
        for ctype in source_types:
            if not ctype.has_claim(name):
                raise CatalogueError(f"{at}: {ctype.vct} has no claim {name!r}")
            if claim_type is not None and ctype.claim(name).type not in _ANSWERS_FROM[claim_type]:
                raise CatalogueError(f"{at}: {ctype.vct} claim {name!r} is not a {claim_type}")

    inputs: list[ProofInput] = []
    for j, raw in enumerate(entry.inputs):
        at = f"{where}.inputs[{j}]"
        _name(raw.name, f"{at}.name")
        if raw.pattern is not None:
            try:
                re.compile(raw.pattern)
            except re.error:
                raise CatalogueError(f"{at}.pattern: not a regular expression") from None
        inputs.append(ProofInput(raw.name, raw.label, raw.type, raw.max_length, raw.pattern))
    input_names = [spec.name for spec in inputs]
    if len(set(input_names)) != len(input_names):
        raise CatalogueError(f"{where}.inputs: an input is listed twice")
    match: list[tuple[str, tuple[str, ...]]] = []
    for j, rule in enumerate(entry.match):
        at = f"{where}.match[{j}]"
        if rule.input not in input_names:
            raise CatalogueError(f"{at}.input: no input {rule.input!r}")
        for k, claim in enumerate(rule.claims):
            source_claim(claim, f"{at}.claims[{k}]", None)
        match.append((rule.input, tuple(rule.claims)))
    if {name for name, _ in match} != set(input_names):
        raise CatalogueError(f"{where}.match: every input must be matched, once")
    if len(match) != len(input_names):
        raise CatalogueError(f"{where}.match: an input is matched twice")
    matchable = {c for _, claims in match for c in claims}
    claims: list[AnswerClaim] = []
    for j, raw_claim in enumerate(entry.claims):
        at = f"{where}.claims[{j}]"
        _name(raw_claim.name, f"{at}.name")
        if raw_claim.name == FOUND_CLAIM:
            raise CatalogueError(f"{at}.name: {FOUND_CLAIM!r} is every answer's own claim")
        if (raw_claim.source is None) == (raw_claim.matched is None):
            raise CatalogueError(f"{at}: exactly one of 'from' and 'matched'")
        if raw_claim.source is not None:
            source_claim(raw_claim.source, f"{at}.from", raw_claim.type)
        else:
            assert raw_claim.matched is not None
            if raw_claim.type != "string":
                raise CatalogueError(f"{at}.type: a 'matched' claim is a string")
            unknown = set(raw_claim.matched) - matchable
            if unknown:
                raise CatalogueError(f"{at}.matched: {sorted(unknown)[0]!r} matches no input")
        claims.append(
            AnswerClaim(
                raw_claim.name,
                raw_claim.label,
                raw_claim.type,
                raw_claim.source,
                MappingProxyType(dict(raw_claim.matched)) if raw_claim.matched else None,
            )
        )
    names = [c.name for c in claims]
    if len(set(names)) != len(names):
        raise CatalogueError(f"{where}.claims: a claim is listed twice")
    return ProofType(
        id=entry.id,
        name=entry.name,
        answered_by=entry.answered_by,
        inputs=tuple(inputs),
        match=tuple(match),
        sources=tuple(entry.sources),
        claims=tuple(claims),
        valid_for=entry.valid_for,
    )


def _name(name: str, where: str) -> None:
    if len(name) > _NAME_MAX or not _NAME_RE.fullmatch(name):
        raise CatalogueError(f"{where}: not a snake_case name")


def _is_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True
