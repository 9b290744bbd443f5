"""The credential type catalogue and the default scene policies.

Both are data, shipped with the package: ``issuer/data/catalogue.json`` lists the
credential types (their ``vct`` ids, names, kinds and claim specifications) and
``issuer/data/scenes.json`` the default scene policies of the signed trust list, in
exactly the trust-list scene shape of DESIGN.md §3.

``issuer/data/subjects.json`` lists the *subject fields*: facts about a citizen that one
department is authoritative for (the police for the name, civil affairs for the marital
status…), each with its claim type. A claim of a credential type that carries one says
so with its ``subject`` member (the ID card's ``name`` is the citizen's name; the
business licence's ``name`` is the company's and has none), which is what a change of
that fact re-issues (:mod:`service.changes`).

The data files are checked when they are loaded (reserved or duplicate claim names,
malformed entries, scenes naming unknown types or claims) and a broken file raises
:class:`CatalogueError` with the path of the offending entry, never a bare
``KeyError`` deep inside the issuer.

:func:`validate_claims` checks the claims a department submits against a type's
specification. Its errors name the offending field, never the value: claim values are
personal data and error messages end up in logs and HTTP problem documents.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import Field, TypeAdapter, ValidationError

from issuer.errors import CatalogueError, ClaimsInvalid, UnknownCredentialType
from keys.errors import FormatError
from keys.jsonstrict import loads
from keys.models import LocalizedName, StrictModel, first_error
from keys.trustlist import PORTRAIT_CLAIM, Scene

__all__ = [
    "RESERVED_CLAIM_NAMES",
    "SUBJECT_FIELD_TYPES",
    "Catalogue",
    "CatalogueError",
    "ClaimSpec",
    "ClaimType",
    "ImageMediaType",
    "CredentialKind",
    "CredentialType",
    "EnumValue",
    "LONG_TERM",
    "LocalisedText",
    "SubjectField",
    "SubjectFieldType",
    "check_id_number",
    "check_value",
    "SceneCategory",
    "default_scenes",
    "load_catalogue",
    "load_scene_categories",
    "load_subject_fields",
    "parse_catalogue",
    "parse_scene_categories",
    "parse_scenes",
    "parse_subject_fields",
    "validate_claims",
]

ClaimType = Literal[
    "string", "date", "integer", "boolean", "image", "id_number", "enum", "date_or_long_term"
]
#: The media types an ``image`` claim may carry (a ``data:`` URL of one of them).
ImageMediaType = Literal["image/jpeg", "image/png"]
CredentialKind = Literal["certificate", "proof"]
#: The claim types a subject field may have (a portrait is not changed this way).
SubjectFieldType = Literal["string", "date", "integer", "boolean", "enum"]
SUBJECT_FIELD_TYPES: Final[frozenset[str]] = frozenset(
    {"string", "date", "integer", "boolean", "enum"}
)
#: The value of a ``date_or_long_term`` claim for a document valid for the long term (长期).
LONG_TERM: Final = "long-term"

#: Names the JWT / SD-JWT VC layer uses itself; a claim may never be called so.
RESERVED_CLAIM_NAMES: Final[frozenset[str]] = frozenset(
    {"iss", "iat", "exp", "nbf", "sub", "vct", "cnf", "status", "_sd", "_sd_alg", "jti", "aud"}
)

_DATA_PACKAGE: Final = "issuer"
_CATALOGUE_FILE: Final = "catalogue.json"
_SCENES_FILE: Final = "scenes.json"
_SUBJECTS_FILE: Final = "subjects.json"
_CATEGORIES_FILE: Final = "scene_categories.json"

_VCT_RE: Final = re.compile(r"urn:ecert:[a-z0-9]+(?:-[a-z0-9]+)*")
_VCT_MAX_LENGTH: Final = 64
_CLAIM_NAME_RE: Final = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_CLAIM_NAME_MAX_LENGTH: Final = 64
_KEBAB_RE: Final = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_SLUG_MAX_LENGTH: Final = 64
_SCENE_ID_RE: Final = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_VALIDITY_DAYS: Final = 100 * 366
_MAX_SCENE_AGE: Final = 3600
# Integers must survive a round trip through JavaScript's numbers (I-JSON, RFC 7493).
_MAX_SAFE_INTEGER: Final = 2**53 - 1
#: A citizen ID number (GB 11643-1999): a 6-digit address code, the birth date
#: ``YYYYMMDD``, a 3-digit sequence number and the ISO 7064 MOD 11-2 check character
#: (a digit or an uppercase ``X``).
_ID_NUMBER_RE: Final = re.compile(r"[0-9]{17}[0-9X]")
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARACTERS: Final = "10X98765432"
#: The earliest birth year an ID number may carry.
_ID_MIN_YEAR: Final = 1900
#: Bounds of an ``enum`` claim's list of values.
_MAX_ENUM_VALUES: Final = 64
_MAX_ENUM_VALUE_LENGTH: Final = 64
#: The largest ``max_bytes`` an ``image`` claim may declare: an online presentation
#: disclosing it (base64 twice: the data URL, then the disclosure) stays well under the
#: verifier's 16 KiB presentation limit.
_MAX_IMAGE_BYTES: Final = 6 * 1024
#: What each image media type's bytes start with (the claim is checked, not trusted).
_IMAGE_MAGIC: Final[Mapping[str, bytes]] = MappingProxyType(
    {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
)
_DATA_URL_RE: Final = re.compile(r"data:(image/[a-z]+);base64,([A-Za-z0-9+/]+={0,2})")

# Characters a claim string may not contain: C0/C1 controls (category Cc), lone
# surrogates (Cs: they cannot be encoded as UTF-8), line and paragraph separators, and
# the bidirectional embedding, override and isolate controls that can make a name or
# an ID number display differently from what was signed. Private-use characters (Co)
# are allowed: legacy population registers keep rare name characters there.
_FORBIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})
_BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


#: The bilingual text of the catalogue is the project's one bilingual name type.
LocalisedText = LocalizedName


@dataclass(frozen=True, slots=True)
class EnumValue:
    """One allowed value of an ``enum`` claim: the ``value`` the credential carries (as
    the document prints it, e.g. ``男``) and its bilingual ``label``."""

    value: str
    label: LocalisedText

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "label": self.label.to_dict()}


@dataclass(frozen=True, slots=True)
class ClaimSpec:
    """One claim of a credential type.

    ``sd`` marks a selectively disclosable claim (every personal field is);
    ``max_length`` counts characters and is set for ``string`` claims only. An
    ``image`` claim (a portrait) is a ``data:<media type>;base64,…`` URL: it names the
    ``media_types`` it accepts and ``max_bytes``, the largest decoded image. An
    ``enum`` claim is one of its ``values``; an ``id_number`` claim a citizen ID number
    with a valid check character; a ``date_or_long_term`` claim a date or
    :data:`LONG_TERM`. ``subject`` names the subject field the claim carries (the
    citizen's own name, birth date…; :class:`SubjectField`), None if it carries none.
    """

    name: str
    label: LocalisedText
    type: ClaimType
    required: bool
    sd: bool
    max_length: int | None = None
    media_types: tuple[ImageMediaType, ...] = ()
    max_bytes: int | None = None
    subject: str | None = None
    values: tuple[EnumValue, ...] = ()

    @property
    def max_chars(self) -> int | None:
        """The longest text the claim may be: ``max_length``, an ID number's 18
        characters, the longest enumerated value, or an image's data URL."""
        if self.type == "id_number":
            return 18
        if self.type == "enum":
            return max((len(v.value) for v in self.values), default=0)
        if self.type == "date_or_long_term":
            return max(len("YYYY-MM-DD"), len(LONG_TERM))
        if self.type != "image" or self.max_bytes is None:
            return self.max_length
        longest_type = max((len(t) for t in self.media_types), default=0)
        return len("data:;base64,") + longest_type + 4 * -(-self.max_bytes // 3)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label.to_dict(),
            "type": self.type,
            "required": self.required,
            "sd": self.sd,
        }
        if self.max_length is not None:
            out["max_length"] = self.max_length
        if self.type == "image":
            out["media_types"] = list(self.media_types)
            out["max_bytes"] = self.max_bytes
        if self.type == "enum":
            out["values"] = [v.to_dict() for v in self.values]
        if self.subject is not None:
            out["subject"] = self.subject
        return out

    @property
    def allowed(self) -> tuple[str, ...]:
        """An ``enum`` claim's allowed values, in catalogue order (empty otherwise)."""
        return tuple(v.value for v in self.values)


@dataclass(frozen=True, slots=True)
class SubjectField:
    """A fact about the citizen that one department is authoritative for.

    ``authority`` is that department's issuer slug (``police``, as ``issuer_hint`` names
    departments); ``type`` and ``max_length`` are those of every claim that carries the
    field (a carrying claim is never shorter), so a value valid for the field fits
    every credential that carries it.
    """

    name: str
    label: LocalisedText
    authority: str
    type: SubjectFieldType
    max_length: int | None = None
    values: tuple[EnumValue, ...] = ()

    @property
    def spec(self) -> ClaimSpec:
        """The field as a claim specification, to check a new value against."""
        return ClaimSpec(
            name=self.name,
            label=self.label,
            type=self.type,
            required=True,
            sd=True,
            max_length=self.max_length,
            values=self.values,
        )

    def to_dict(self) -> dict[str, Any]:
        """The entry as it appears in ``subjects.json``."""
        out: dict[str, Any] = {
            "field": self.name,
            "label": self.label.to_dict(),
            "authority": self.authority,
            "type": self.type,
        }
        if self.max_length is not None:
            out["max_length"] = self.max_length
        if self.type == "enum":
            out["values"] = [v.to_dict() for v in self.values]
        return out


@dataclass(frozen=True, slots=True)
class SceneCategory:
    """One of the programme's categories of scene (accommodation, medical, finance…),
    from ``issuer/data/scene_categories.json``: every scene names one (``category``),
    and the pages group their scene lists by it, in this file's order."""

    id: str
    name: LocalisedText

    def to_dict(self) -> dict[str, Any]:
        """The entry as it appears in ``scene_categories.json``."""
        return {"id": self.id, "name": self.name.to_dict()}


@dataclass(frozen=True, slots=True)
class CredentialType:
    """A credential type of the catalogue, identified by its ``vct``."""

    vct: str
    name: LocalisedText
    kind: CredentialKind
    issuer_hint: str
    validity_days: int
    claims: tuple[ClaimSpec, ...]

    @property
    def claim_names(self) -> tuple[str, ...]:
        """All claim names, in catalogue order."""
        return tuple(c.name for c in self.claims)

    @property
    def sd_claims(self) -> tuple[str, ...]:
        """Names of the selectively disclosable claims, in catalogue order."""
        return tuple(c.name for c in self.claims if c.sd)

    @property
    def plain_claims(self) -> tuple[str, ...]:
        """Names of the claims always disclosed (in the signed payload), in catalogue order."""
        return tuple(c.name for c in self.claims if not c.sd)

    @property
    def required_claims(self) -> tuple[str, ...]:
        """Names of the claims every credential of this type carries."""
        return tuple(c.name for c in self.claims if c.required)

    def claim(self, name: str) -> ClaimSpec:
        """The specification of claim ``name``; :class:`KeyError` if there is none."""
        for spec in self.claims:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def has_claim(self, name: str) -> bool:
        return any(spec.name == name for spec in self.claims)

    @property
    def subject_claims(self) -> dict[str, str]:
        """Subject field → the name of the claim that carries it, in catalogue order."""
        return {spec.subject: spec.name for spec in self.claims if spec.subject is not None}

    def claim_for(self, subject_field: str) -> str | None:
        """The name of the claim that carries ``subject_field``; None if none does
        (a claim with the same name that is not the citizen's, like the business
        licence's ``name``, does not)."""
        for spec in self.claims:
            if spec.subject == subject_field:
                return spec.name
        return None

    def to_dict(self) -> dict[str, Any]:
        """The entry as it appears in ``catalogue.json``."""
        return {
            "vct": self.vct,
            "name": self.name.to_dict(),
            "kind": self.kind,
            "issuer_hint": self.issuer_hint,
            "validity_days": self.validity_days,
            "claims": [c.to_dict() for c in self.claims],
        }


@dataclass(frozen=True)
class Catalogue:
    """The credential types, in catalogue order, with lookup by ``vct``, and the subject
    fields (which department is authoritative for which fact about the citizen)."""

    types: tuple[CredentialType, ...]
    subjects: tuple[SubjectField, ...] = ()
    _by_vct: Mapping[str, CredentialType] = field(init=False, repr=False, compare=False, hash=False)
    _by_field: Mapping[str, SubjectField] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_vct: dict[str, CredentialType] = {}
        for ctype in self.types:
            if ctype.vct in by_vct:
                raise CatalogueError(f"duplicate credential type {ctype.vct!r}")
            by_vct[ctype.vct] = ctype
        by_field: dict[str, SubjectField] = {}
        for subject in self.subjects:
            if subject.name in by_field:
                raise CatalogueError(f"duplicate subject field {subject.name!r}")
            by_field[subject.name] = subject
        for ctype in self.types:
            for spec in ctype.claims:
                if spec.subject is not None and spec.subject not in by_field:
                    raise CatalogueError(
                        f"{ctype.vct} claim {spec.name!r}: unknown subject field {spec.subject!r}"
                    )
        object.__setattr__(self, "_by_vct", MappingProxyType(by_vct))
        object.__setattr__(self, "_by_field", MappingProxyType(by_field))

    def get(self, vct: str) -> CredentialType:
        """The type ``vct``; raises :class:`UnknownCredentialType` if it is not catalogued."""
        try:
            return self._by_vct[vct]
        except (KeyError, TypeError):
            raise UnknownCredentialType(f"unknown credential type {vct!r}") from None

    @property
    def vcts(self) -> tuple[str, ...]:
        return tuple(t.vct for t in self.types)

    def __contains__(self, vct: object) -> bool:
        return isinstance(vct, str) and vct in self._by_vct

    def __iter__(self) -> Iterator[CredentialType]:
        return iter(self.types)

    def __len__(self) -> int:
        return len(self.types)

    def subject_fields(self) -> tuple[SubjectField, ...]:
        """Every subject field, in ``subjects.json`` order."""
        return self.subjects

    def subject_field(self, name: str) -> SubjectField | None:
        """The subject field ``name``; None if there is none."""
        return self._by_field.get(name) if isinstance(name, str) else None

    def authority(self, subject_field: str) -> str:
        """The issuer slug of the department authoritative for ``subject_field``
        (:class:`KeyError` for an unknown field)."""
        found = self.subject_field(subject_field)
        if found is None:
            raise KeyError(subject_field)
        return found.authority

    def carrying(self, subject_field: str) -> tuple[CredentialType, ...]:
        """The credential types that carry ``subject_field``, in catalogue order."""
        return tuple(t for t in self.types if t.claim_for(subject_field) is not None)


# --------------------------------------------------------------------------- loading


@cache
def load_catalogue() -> Catalogue:
    """The packaged catalogue (``issuer/data/catalogue.json`` with the subject fields of
    ``issuer/data/subjects.json``), parsed once and cached."""
    return parse_catalogue(_read_json(_CATALOGUE_FILE), source=_CATALOGUE_FILE)


@cache
def load_subject_fields() -> tuple[SubjectField, ...]:
    """The packaged subject fields (``issuer/data/subjects.json``), parsed once."""
    return parse_subject_fields(_read_json(_SUBJECTS_FILE), source=_SUBJECTS_FILE)


@cache
def load_scene_categories() -> tuple[SceneCategory, ...]:
    """The packaged categories of scene (``issuer/data/scene_categories.json``), parsed
    once, in file order."""
    return parse_scene_categories(_read_json(_CATEGORIES_FILE), source=_CATEGORIES_FILE)


@cache
def _packaged_scenes() -> tuple[Mapping[str, Any], ...]:
    scenes = parse_scenes(_read_json(_SCENES_FILE), load_catalogue(), source=_SCENES_FILE)
    return tuple(MappingProxyType(s) for s in scenes)


def default_scenes() -> list[dict[str, Any]]:
    """The default scene policies (``issuer/data/scenes.json``), as fresh, mutable copies.

    Each is ``{"id", "name": {"zh", "en"}, "accept": [{"vct", "claims"}], "max_age"}``,
    ready to go into the ``scenes`` of a trust list.
    """
    return [copy.deepcopy(dict(s)) for s in _packaged_scenes()]


def _read_json(filename: str) -> Any:
    resource = resources.files(_DATA_PACKAGE).joinpath("data", filename)
    try:
        text = resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{filename}: cannot read packaged data file: {exc}") from exc
    try:
        return loads(text)
    except FormatError as exc:
        raise CatalogueError(f"{filename}: not valid JSON: {exc.message}") from exc


class _EnumValueEntry(StrictModel):
    """An allowed value of an ``enum`` claim or field as the data files write it."""

    value: str
    label: LocalizedName


class _ClaimEntry(StrictModel):
    """A claim specification as ``catalogue.json`` writes it (shape only)."""

    name: str
    label: LocalizedName
    type: ClaimType
    required: bool
    sd: bool
    max_length: Annotated[int, Field(ge=1, le=100_000)] | None = None
    media_types: list[ImageMediaType] | None = None
    max_bytes: Annotated[int, Field(ge=1, le=_MAX_IMAGE_BYTES)] | None = None
    subject: str | None = None
    values: list[_EnumValueEntry] | None = None


class _SubjectEntry(StrictModel):
    """A subject field as ``subjects.json`` writes it (shape only)."""

    field: str
    label: LocalizedName
    authority: str
    type: SubjectFieldType
    max_length: Annotated[int, Field(ge=1, le=100_000)] | None = None
    values: list[_EnumValueEntry] | None = None


class _TypeEntry(StrictModel):
    """A credential type as ``catalogue.json`` writes it (shape only)."""

    vct: str
    name: LocalizedName
    kind: CredentialKind
    issuer_hint: str
    validity_days: Annotated[int, Field(ge=1, le=_MAX_VALIDITY_DAYS)]
    claims: list[_ClaimEntry]


_TYPE_ENTRIES: Final = TypeAdapter(list[_TypeEntry])
_SUBJECT_ENTRIES: Final = TypeAdapter(list[_SubjectEntry])


def parse_catalogue(
    data: object,
    *,
    source: str = "catalogue",
    subjects: tuple[SubjectField, ...] | None = None,
) -> Catalogue:
    """Check and parse catalogue data (a JSON array of type entries).

    The strict models check the shape (types, no unknown or missing members, ranges);
    the rules of the project follow (vct and claim-name grammar, reserved and duplicate
    names, non-blank texts, ``max_length`` exactly on strings). A claim's ``subject``
    must name one of ``subjects`` (default: the packaged subject fields), of the claim's
    own type and no longer than the claim, at most once per type. Raises
    :class:`CatalogueError` naming the entry's path, never a claim value.
    """
    if subjects is None:
        subjects = load_subject_fields()
    by_field = {subject.name: subject for subject in subjects}
    try:
        entries = _TYPE_ENTRIES.validate_python(data)
    except ValidationError as err:
        path, rule = first_error(err)
        raise CatalogueError(f"{source}{_at(path)}: {rule}") from None
    if not entries:
        raise CatalogueError(f"{source}: must not be empty")
    types: list[CredentialType] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        ctype = _parse_type(entry, f"{source}[{i}]", by_field)
        if ctype.vct in seen:
            raise CatalogueError(f"{source}[{i}].vct: duplicate credential type {ctype.vct!r}")
        seen.add(ctype.vct)
        types.append(ctype)
    return Catalogue(tuple(types), tuple(subjects))


def parse_subject_fields(data: object, *, source: str = "subjects") -> tuple[SubjectField, ...]:
    """Check and parse subject fields (a JSON array of ``{"field", "label",
    "authority", "type", "max_length"}``).

    The field name is a snake_case claim name, unique; the authority a department slug
    (kebab-case, as ``issuer_hint``); ``max_length`` exactly on strings. Raises
    :class:`CatalogueError` naming the entry's path.
    """
    try:
        entries = _SUBJECT_ENTRIES.validate_python(data)
    except ValidationError as err:
        path, rule = first_error(err)
        raise CatalogueError(f"{source}{_at(path)}: {rule}") from None
    if not entries:
        raise CatalogueError(f"{source}: must not be empty")
    fields: list[SubjectField] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{source}[{i}]"
        name = _string(entry.field, f"{where}.field")
        if len(name) > _CLAIM_NAME_MAX_LENGTH or not _CLAIM_NAME_RE.fullmatch(name):
            raise CatalogueError(f"{where}.field: {name!r} is not a snake_case field name")
        if name in seen:
            raise CatalogueError(f"{where}.field: duplicate subject field {name!r}")
        seen.add(name)
        where = f"{where} ({name})"
        authority = _string(entry.authority, f"{where}.authority")
        if len(authority) > _SLUG_MAX_LENGTH or not _KEBAB_RE.fullmatch(authority):
            raise CatalogueError(
                f"{where}.authority: {authority!r} is not a department slug (kebab-case)"
            )
        if entry.type == "string" and entry.max_length is None:
            raise CatalogueError(f"{where}.max_length: required for string fields")
        if entry.type != "string" and entry.max_length is not None:
            raise CatalogueError(f"{where}.max_length: only string fields have a max_length")
        fields.append(
            SubjectField(
                name=name,
                label=_localised(entry.label, f"{where}.label"),
                authority=authority,
                type=entry.type,
                max_length=entry.max_length,
                values=_enum_values(entry.type, entry.values, where),
            )
        )
    return tuple(fields)


def _at(path: str) -> str:
    """A pydantic field path appended to a source: ``[0].claims`` or ``.name``."""
    if not path:
        return ""
    return path if path.startswith("[") else f".{path}"


def parse_scenes(
    data: object, catalogue: Catalogue, *, source: str = "scenes"
) -> list[dict[str, Any]]:
    """Check scene policies (a JSON array) against ``catalogue``; return clean copies."""
    entries = _list(data, source, non_empty=True)
    scenes: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        scene = _parse_scene(entry, catalogue, f"{source}[{i}]")
        if scene["id"] in seen:
            raise CatalogueError(f"{source}[{i}].id: duplicate scene {scene['id']!r}")
        seen.add(scene["id"])
        scenes.append(scene)
    return scenes


def _parse_type(
    entry: _TypeEntry, where: str, subjects: Mapping[str, SubjectField]
) -> CredentialType:
    vct = _string(entry.vct, f"{where}.vct")
    if len(vct) > _VCT_MAX_LENGTH or not _VCT_RE.fullmatch(vct):
        raise CatalogueError(f"{where}.vct: {vct!r} is not of the form urn:ecert:<kebab-name>")
    where = f"{where} ({vct})"
    issuer_hint = _string(entry.issuer_hint, f"{where}.issuer_hint")
    if not _KEBAB_RE.fullmatch(issuer_hint):
        raise CatalogueError(f"{where}.issuer_hint: {issuer_hint!r} is not kebab-case")
    if not entry.claims:
        raise CatalogueError(f"{where}.claims: must not be empty")
    claims: list[ClaimSpec] = []
    names: set[str] = set()
    carried: set[str] = set()
    for j, raw in enumerate(entry.claims):
        spec = _parse_claim(raw, f"{where}.claims[{j}]", subjects)
        if spec.name in names:
            raise CatalogueError(f"{where}.claims[{j}].name: duplicate claim {spec.name!r}")
        names.add(spec.name)
        if spec.subject is not None:
            if spec.subject in carried:
                raise CatalogueError(
                    f"{where}.claims[{j}] ({spec.name}).subject: subject field "
                    f"{spec.subject!r} is already carried by another claim of this type"
                )
            carried.add(spec.subject)
        claims.append(spec)
    return CredentialType(
        vct=vct,
        name=_localised(entry.name, f"{where}.name"),
        kind=entry.kind,
        issuer_hint=issuer_hint,
        validity_days=entry.validity_days,
        claims=tuple(claims),
    )


def _parse_claim(entry: _ClaimEntry, where: str, subjects: Mapping[str, SubjectField]) -> ClaimSpec:
    name = _string(entry.name, f"{where}.name")
    if len(name) > _CLAIM_NAME_MAX_LENGTH or not _CLAIM_NAME_RE.fullmatch(name):
        raise CatalogueError(f"{where}.name: {name!r} is not a snake_case claim name")
    if name in RESERVED_CLAIM_NAMES:
        raise CatalogueError(f"{where}.name: {name!r} is reserved by JWT / SD-JWT VC")
    where = f"{where} ({name})"
    if entry.type == "string" and entry.max_length is None:
        raise CatalogueError(f"{where}.max_length: required for string claims")
    if entry.type != "string" and entry.max_length is not None:
        raise CatalogueError(f"{where}.max_length: only string claims have a max_length")
    image = entry.type == "image"
    if image and (not entry.media_types or entry.max_bytes is None):
        raise CatalogueError(f"{where}: an image claim needs 'media_types' and 'max_bytes'")
    if not image and (entry.media_types is not None or entry.max_bytes is not None):
        raise CatalogueError(f"{where}: only image claims have 'media_types' and 'max_bytes'")
    if image and not entry.sd:
        raise CatalogueError(f"{where}.sd: an image claim must be selectively disclosable")
    values = _enum_values(entry.type, entry.values, where)
    if entry.subject is not None:
        _check_subject(entry, values, subjects, f"{where}.subject")
    return ClaimSpec(
        name=name,
        label=_localised(entry.label, f"{where}.label"),
        type=entry.type,
        required=entry.required,
        sd=entry.sd,
        max_length=entry.max_length,
        media_types=tuple(dict.fromkeys(entry.media_types or ())),
        max_bytes=entry.max_bytes,
        subject=entry.subject,
        values=values,
    )


def _enum_values(
    claim_type: str, entries: list[_EnumValueEntry] | None, where: str
) -> tuple[EnumValue, ...]:
    """An ``enum``'s ``values``: 1 to 64, each a non-blank value of at most 64 characters
    without control characters, none twice, labelled in both languages. Nothing else
    has ``values``."""
    if claim_type != "enum":
        if entries is not None:
            raise CatalogueError(f"{where}.values: only enum claims have 'values'")
        return ()
    if not entries or len(entries) > _MAX_ENUM_VALUES:
        raise CatalogueError(f"{where}.values: an enum needs 1 to {_MAX_ENUM_VALUES} values")
    values: list[EnumValue] = []
    seen: set[str] = set()
    for k, entry in enumerate(entries):
        at = f"{where}.values[{k}]"
        value = _string(entry.value, f"{at}.value")
        if len(value) > _MAX_ENUM_VALUE_LENGTH or _has_control_character(value):
            raise CatalogueError(
                f"{at}.value: at most {_MAX_ENUM_VALUE_LENGTH} characters, no control characters"
            )
        if value in seen:
            raise CatalogueError(f"{at}.value: {value!r} is listed twice")
        seen.add(value)
        values.append(EnumValue(value, _localised(entry.label, f"{at}.label")))
    return tuple(values)


def _check_subject(
    entry: _ClaimEntry,
    values: tuple[EnumValue, ...],
    subjects: Mapping[str, SubjectField],
    where: str,
) -> None:
    """A claim's ``subject``: a known field, of the claim's type, never longer than it
    (an enum: exactly the field's values, so that every value of the field fits)."""
    subject = subjects.get(entry.subject or "")
    if subject is None:
        raise CatalogueError(f"{where}: unknown subject field {entry.subject!r}")
    if entry.type != subject.type:
        raise CatalogueError(
            f"{where}: a {entry.type} claim cannot carry {subject.name!r}, a {subject.type} field"
        )
    if [v.value for v in values] != [v.value for v in subject.values]:
        raise CatalogueError(
            f"{where}: the claim's values are not those of the field {subject.name!r}"
        )
    if (
        subject.max_length is not None
        and entry.max_length is not None
        and entry.max_length < subject.max_length
    ):
        raise CatalogueError(
            f"{where}: the claim's max_length {entry.max_length} is shorter than the "
            f"field {subject.name!r} ({subject.max_length})"
        )


class _CategoryEntry(StrictModel):
    """A category of scene as ``scene_categories.json`` writes it (shape only)."""

    id: str
    name: LocalizedName


def parse_scene_categories(
    data: object, *, source: str = "scene_categories"
) -> tuple[SceneCategory, ...]:
    """Check the categories of scene (a JSON array of ``{"id", "name": {"zh", "en"}}``:
    snake_case ids, no id twice, names not blank); :class:`CatalogueError` naming the
    offending entry."""
    entries = _list(data, source, non_empty=True)
    out: list[SceneCategory] = []
    seen: set[str] = set()
    for i, raw in enumerate(entries):
        where = f"{source}[{i}]"
        try:
            entry = _CategoryEntry.model_validate(raw)
        except ValidationError as err:
            path, rule = first_error(err)
            at = f"{where}.{path}" if path else where
            raise CatalogueError(f"{at}: {rule}") from None
        if len(entry.id) > _SLUG_MAX_LENGTH or not _SCENE_ID_RE.fullmatch(entry.id):
            raise CatalogueError(f"{where}.id: {entry.id!r} is not a snake_case category id")
        if entry.id in seen:
            raise CatalogueError(f"{where}.id: duplicate category {entry.id!r}")
        seen.add(entry.id)
        for lang in ("zh", "en"):
            _string(entry.name[lang], f"{where}.name.{lang}")
        out.append(SceneCategory(id=entry.id, name=entry.name))
    return tuple(out)


def _parse_scene(entry: object, catalogue: Catalogue, where: str) -> dict[str, Any]:
    """A scene in the trust list's JSON form: the one :class:`~keys.trustlist.Scene`
    model checks its shape, then the catalogue's rules (a snake_case id, names not
    blank, ``max_age`` at most an hour, known types and claims, no claim twice)."""
    try:
        scene = Scene.model_validate(entry)
    except ValidationError as err:
        path, rule = first_error(err)
        raise CatalogueError(f"{where}.{path}: {rule}" if path else f"{where}: {rule}") from None
    if len(scene.id) > _CLAIM_NAME_MAX_LENGTH or not _SCENE_ID_RE.fullmatch(scene.id):
        raise CatalogueError(f"{where}.id: {scene.id!r} is not a snake_case scene id")
    where = f"{where} ({scene.id})"
    for lang in ("zh", "en"):
        _string(scene.name[lang], f"{where}.name.{lang}")
    if scene.max_age > _MAX_SCENE_AGE:
        raise CatalogueError(f"{where}.max_age: must be an integer from 1 to {_MAX_SCENE_AGE}")
    entries = [(f"accept[{j}]", rule) for j, rule in enumerate(scene.accept.items())]
    entries += [(f"all_of[{j}]", rule) for j, rule in enumerate(scene.all_of)]
    for member, (vct, claims) in entries:
        at = f"{where}.{member}"
        if vct not in catalogue:
            raise CatalogueError(f"{at}.vct: unknown credential type {vct!r}")
        ctype = catalogue.get(vct)
        if not claims:
            raise CatalogueError(f"{at}.claims: must not be empty")
        seen: set[str] = set()
        for k, name in enumerate(claims):
            if not ctype.has_claim(name):
                raise CatalogueError(f"{at}.claims[{k}]: {vct} has no claim {name!r}")
            if name in seen:
                raise CatalogueError(f"{at}.claims[{k}]: claim {name!r} is listed twice")
            seen.add(name)
    # The trust list's model keeps category optional (older trust lists have none); the
    # catalogue requires one of the programme's categories, so every page can group it.
    if scene.category is None:
        raise CatalogueError(f"{where}.category: every scene names its category")
    if scene.category not in {c.id for c in load_scene_categories()}:
        shown = scene.category
        if len(shown) > _SLUG_MAX_LENGTH or not _SCENE_ID_RE.fullmatch(shown):
            shown = "…"  # not an id: not echoed
        raise CatalogueError(f"{where}.category: unknown category of scene {shown!r}")
    if scene.portrait and not any(
        catalogue.get(vct).has_claim(PORTRAIT_CLAIM) for vct, _ in entries_of(scene)
    ):
        raise CatalogueError(f"{where}.portrait: no accepted type has a {PORTRAIT_CLAIM!r}")
    return dict(scene.to_json())


def entries_of(scene: Scene) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every ``(vct, claims)`` a scene names, its ``accept`` (one of) then its ``all_of``."""
    return tuple(scene.accept.items()) + scene.all_of


def _list(value: object, where: str, *, non_empty: bool) -> list[Any]:
    if not isinstance(value, list):
        raise CatalogueError(f"{where}: must be a JSON array")
    if non_empty and not value:
        raise CatalogueError(f"{where}: must not be empty")
    return value


def _string(value: str, where: str) -> str:
    if not value.strip():
        raise CatalogueError(f"{where}: must be a non-empty string")
    return value


def _localised(value: LocalizedName, where: str) -> LocalizedName:
    _string(value.zh, f"{where}.zh")
    _string(value.en, f"{where}.en")
    return value


# ------------------------------------------------------------------------ validation


def validate_claims(ctype: CredentialType, claims: Mapping[str, object]) -> dict[str, object]:
    """Check ``claims`` against ``ctype``; return a clean copy in catalogue order.

    Raises :class:`ClaimsInvalid` (with ``field`` set to the claim's name) for a missing
    required claim, an unknown claim, a value of the wrong JSON type (``bool`` is not an
    ``integer``; ``null`` is not a value: leave an optional claim out instead), a ``date``
    that is not a real calendar date written ``YYYY-MM-DD`` (a ``date_or_long_term`` may
    also be :data:`LONG_TERM`), an ``id_number`` that :func:`check_id_number` refuses, an
    ``enum`` value outside its list, an empty or over-long string, or a string with
    control characters. Messages never contain a value.
    """
    if not isinstance(claims, Mapping):
        raise ClaimsInvalid(f"claims for {ctype.vct} must be a JSON object")
    for key in claims:
        if not isinstance(key, str):
            raise ClaimsInvalid(f"claims for {ctype.vct} have a claim name that is not a string")
        if not ctype.has_claim(key):
            if key in RESERVED_CLAIM_NAMES or (
                len(key) <= _CLAIM_NAME_MAX_LENGTH and _CLAIM_NAME_RE.fullmatch(key)
            ):
                # A well-formed name is safe to echo; anything else might be data
                # pasted in the wrong place, so it is not repeated.
                reason = " (reserved name)" if key in RESERVED_CLAIM_NAMES else ""
                raise ClaimsInvalid(f"unknown claim {key!r} for {ctype.vct}{reason}", field=key)
            raise ClaimsInvalid(f"claims for {ctype.vct} have a malformed claim name")

    clean: dict[str, object] = {}
    for spec in ctype.claims:
        if spec.name not in claims:
            if spec.required:
                raise ClaimsInvalid(
                    f"missing required claim {spec.name!r} for {ctype.vct}", field=spec.name
                )
            continue
        clean[spec.name] = _check_value(spec, claims[spec.name])
    return clean


def check_value(spec: ClaimSpec, value: object) -> object:
    """One claim value checked against ``spec`` by the rules of :func:`validate_claims`
    (:class:`ClaimsInvalid` naming the claim, never the value); the clean value."""
    return _check_value(spec, value)


def _check_value(spec: ClaimSpec, value: object) -> object:
    name = spec.name
    if value is None:
        raise ClaimsInvalid(
            f"claim {name!r} is null; leave an optional claim out instead", field=name
        )
    if spec.type == "boolean":
        if not isinstance(value, bool):
            raise ClaimsInvalid(f"claim {name!r} must be a boolean", field=name)
        return value
    if spec.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ClaimsInvalid(f"claim {name!r} must be an integer", field=name)
        if abs(value) > _MAX_SAFE_INTEGER:
            raise ClaimsInvalid(f"claim {name!r} is out of the safe integer range", field=name)
        return int(value)
    if not isinstance(value, str):
        raise ClaimsInvalid(f"claim {name!r} must be a {_type_word(spec.type)}", field=name)
    if spec.type == "date":
        if not _DATE_RE.fullmatch(value) or not _is_calendar_date(value):
            raise ClaimsInvalid(
                f"claim {name!r} must be a calendar date written YYYY-MM-DD", field=name
            )
        return value
    if spec.type == "date_or_long_term":
        if value != LONG_TERM and (not _DATE_RE.fullmatch(value) or not _is_calendar_date(value)):
            raise ClaimsInvalid(
                f"claim {name!r} must be a calendar date written YYYY-MM-DD or {LONG_TERM!r}",
                field=name,
            )
        return value
    if spec.type == "id_number":
        problem = check_id_number(value)
        if problem is not None:
            raise ClaimsInvalid(f"claim {name!r} {problem}", field=name)
        return value
    if spec.type == "enum":
        if value not in spec.allowed:
            raise ClaimsInvalid(
                f"claim {name!r} must be one of the {len(spec.values)} values of its list",
                field=name,
            )
        return value
    if spec.type == "image":
        return _check_image(spec, value)
    if not value.strip():
        raise ClaimsInvalid(f"claim {name!r} must not be empty", field=name)
    if spec.max_length is not None and len(value) > spec.max_length:
        raise ClaimsInvalid(
            f"claim {name!r} is longer than {spec.max_length} characters", field=name
        )
    if _has_control_character(value):
        raise ClaimsInvalid(f"claim {name!r} contains a control character", field=name)
    return value


def _check_image(spec: ClaimSpec, value: str) -> str:
    """An image claim: a ``data:`` URL of an allowed media type, strict base64, at most
    ``max_bytes`` decoded, whose bytes really are of that type. Bounded before decoding."""
    name = spec.name
    allowed = " or ".join(spec.media_types)
    limit = spec.max_chars
    if limit is not None and len(value) > limit:
        raise ClaimsInvalid(f"claim {name!r} is larger than {spec.max_bytes} bytes", field=name)
    match = _DATA_URL_RE.fullmatch(value)
    if match is None or len(match.group(2)) % 4:
        raise ClaimsInvalid(
            f"claim {name!r} must be a data URL (data:{allowed};base64,…)", field=name
        )
    media_type = match.group(1)
    if media_type not in spec.media_types:
        raise ClaimsInvalid(f"claim {name!r} must be {allowed}", field=name)
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except binascii.Error:
        raise ClaimsInvalid(f"claim {name!r} is not valid base64", field=name) from None
    if spec.max_bytes is not None and len(data) > spec.max_bytes:
        raise ClaimsInvalid(f"claim {name!r} is larger than {spec.max_bytes} bytes", field=name)
    if not data.startswith(_IMAGE_MAGIC[media_type]):
        raise ClaimsInvalid(f"claim {name!r} is not a {media_type} image", field=name)
    return value


def check_id_number(value: str) -> str | None:
    """Why ``value`` is not a citizen ID number (GB 11643-1999), or None if it is one:
    18 characters, 17 digits then the ISO 7064 MOD 11-2 check character (a digit or an
    uppercase ``X``), with a real calendar birth date (year 1900 or later) at
    characters 7 to 14. The reason never repeats the value."""
    if len(value) != 18 or not _ID_NUMBER_RE.fullmatch(value):
        return "must be a citizen ID number: 17 digits and a digit or an uppercase X"
    birth = f"{value[6:10]}-{value[10:12]}-{value[12:14]}"
    if int(value[6:10]) < _ID_MIN_YEAR or not _is_calendar_date(birth):
        return "does not carry a valid birth date"
    total = sum(int(digit) * weight for digit, weight in zip(value[:17], _ID_WEIGHTS, strict=True))
    if value[17] != _ID_CHECK_CHARACTERS[total % 11]:
        return "has a wrong check character (GB 11643, ISO 7064 MOD 11-2)"
    return None


def _type_word(ctype: ClaimType) -> str:
    words: dict[str, str] = {
        "image": "image data URL",
        "date": "date string (YYYY-MM-DD)",
        "date_or_long_term": f"date string (YYYY-MM-DD) or {LONG_TERM!r}",
        "id_number": "citizen ID number string",
        "enum": "string",
    }
    return words.get(ctype, ctype)


def _is_calendar_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _has_control_character(text: str) -> bool:
    return any(
        ch in _BIDI_CONTROLS or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in text
    )
