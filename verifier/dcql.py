"""DCQL, the Digital Credentials Query Language of OpenID for Verifiable Presentations 1.0 (§6).

A verifier asks with a query: which credentials (``credentials``: each a Credential
Query with an ``id``, a ``format``, ``meta`` — for SD-JWT VCs ``vct_values`` — and the
``claims`` it needs, optionally alternatives in ``claim_sets``), and which combinations
of them (``credential_sets``: each a list of ``options``, ``required`` or not). A wallet
evaluates it against the credentials it holds (:func:`evaluate`): what to present, and
which claims of each, the least the query allows (§6.4.1: the first satisfiable claim
set). A verifier evaluates the same query against what it received, to check that the
presented claims are what it asked for.

Only the ``dc+sd-jwt`` format is served here (a query for another format matches no
credential of ours). ``trusted_authorities`` is read but not evaluated: the verifier's
own trust list decides which issuers it accepts (§6.1.1 says a wallet SHOULD use it for
data minimisation only). Unknown members are ignored, as §6 requires; everything the
query names is bounded (:data:`MAX_CREDENTIAL_QUERIES` and friends).

Pure functions over JSON values; no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from keys.models import refusal
from verifier.errors import DcqlInvalid

__all__ = [
    "FORMAT",
    "Candidate",
    "ClaimQuery",
    "CredentialQuery",
    "DcqlQuery",
    "Match",
    "Selection",
    "evaluate",
    "match_credential",
    "parse_query",
    "select_path",
]

#: The one credential format served: SD-JWT VC (OpenID4VP 1.0 Appendix B.3).
FORMAT = "dc+sd-jwt"
MAX_CREDENTIAL_QUERIES = 16
MAX_CLAIM_QUERIES = 64
MAX_CLAIM_SETS = 16
MAX_PATH = 8
MAX_VALUES = 32
MAX_CREDENTIAL_SETS = 16
MAX_OPTIONS = 16
#: Largest query accepted, in bytes of JSON.
MAX_QUERY_BYTES = 32 * 1024

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: §6: unknown members are ignored; the known ones are checked strictly.
_LENIENT = ConfigDict(strict=True, extra="ignore", frozen=True)

PathElement = str | Annotated[int, Field(ge=0, le=2**31)] | None
ClaimValue = str | int | bool


def _check_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError("must be 1 to 64 letters, digits, '_' or '-'")
    return value


class ClaimQuery(BaseModel):
    """A Claims Query (§6.3): a claims path pointer, optionally the values expected."""

    model_config = _LENIENT

    id: str | None = None
    path: Annotated[list[PathElement], Field(min_length=1, max_length=MAX_PATH)]
    values: Annotated[list[ClaimValue], Field(min_length=1, max_length=MAX_VALUES)] | None = None

    _id = field_validator("id")(lambda v: v if v is None else _check_id(v))


class TrustedAuthority(BaseModel):
    """A Trusted Authorities Query (§6.1.1): read, not evaluated (see the module)."""

    model_config = _LENIENT

    type: str
    values: Annotated[list[str], Field(min_length=1, max_length=MAX_VALUES)]


class CredentialQuery(BaseModel):
    """A Credential Query (§6.1)."""

    model_config = _LENIENT

    id: str
    format: str
    multiple: bool = False
    meta: dict[str, Any]
    trusted_authorities: (
        Annotated[list[TrustedAuthority], Field(min_length=1, max_length=MAX_VALUES)] | None
    ) = None
    require_cryptographic_holder_binding: bool = True
    claims: (
        Annotated[list[ClaimQuery], Field(min_length=1, max_length=MAX_CLAIM_QUERIES)] | None
    ) = None
    claim_sets: (
        Annotated[
            list[Annotated[list[str], Field(min_length=1, max_length=MAX_CLAIM_QUERIES)]],
            Field(min_length=1, max_length=MAX_CLAIM_SETS),
        ]
        | None
    ) = None

    _id = field_validator("id")(lambda v: _check_id(v))

    @property
    def vct_values(self) -> tuple[str, ...] | None:
        """``meta.vct_values`` (Appendix B.3.5) of an SD-JWT VC query, when given."""
        values = self.meta.get("vct_values")
        return None if values is None else tuple(values)

    def check(self) -> None:
        """The rules across members (§6.1, §6.3, §6.4.1, B.3.5). Raises :class:`ValueError`."""
        if self.format == FORMAT and "vct_values" in self.meta:
            values = self.meta["vct_values"]
            if (
                not isinstance(values, list)
                or not values
                or len(values) > MAX_VALUES
                or not all(isinstance(v, str) and v for v in values)
            ):
                raise ValueError("meta.vct_values: must be a non-empty array of strings")
        if self.claim_sets is not None:
            if self.claims is None:
                raise ValueError("claim_sets: must not be present without claims")
            if any(c.id is None for c in self.claims):
                raise ValueError("claims: every claim needs an id when claim_sets is present")
        if self.claims is not None:
            ids = [c.id for c in self.claims if c.id is not None]
            if len(ids) != len(set(ids)):
                raise ValueError("claims: the same id is present more than once")
            for claim_set in self.claim_sets or ():
                if not set(claim_set) <= set(ids):
                    raise ValueError("claim_sets: names a claim id that claims does not have")


class CredentialSetQuery(BaseModel):
    """A Credential Set Query (§6.2)."""

    model_config = _LENIENT

    options: Annotated[
        list[Annotated[list[str], Field(min_length=1, max_length=MAX_CREDENTIAL_QUERIES)]],
        Field(min_length=1, max_length=MAX_OPTIONS),
    ]
    required: bool = True


class DcqlQuery(BaseModel):
    """A DCQL query (§6): its Credential Queries and Credential Set Queries."""

    model_config = _LENIENT

    credentials: Annotated[
        list[CredentialQuery], Field(min_length=1, max_length=MAX_CREDENTIAL_QUERIES)
    ]
    credential_sets: (
        Annotated[list[CredentialSetQuery], Field(min_length=1, max_length=MAX_CREDENTIAL_SETS)]
        | None
    ) = None

    def credential(self, query_id: str) -> CredentialQuery:
        """The Credential Query ``query_id``. Raises :class:`KeyError`."""
        for query in self.credentials:
            if query.id == query_id:
                return query
        raise KeyError(query_id)


def parse_query(value: object) -> DcqlQuery:
    """Read a DCQL query from its JSON value (or JSON text), checking every rule of §6.

    Raises :class:`~verifier.errors.DcqlInvalid` naming the member and the rule, never a
    value of the query.
    """
    if isinstance(value, str | bytes):
        if len(value) > MAX_QUERY_BYTES:
            raise DcqlInvalid(f"dcql_query: larger than {MAX_QUERY_BYTES} bytes")
        try:
            value = json.loads(value)
        except ValueError:
            raise DcqlInvalid("dcql_query: not JSON") from None
    try:
        query = DcqlQuery.model_validate(value)
    except ValidationError as err:
        raise DcqlInvalid(refusal(err, "dcql_query")) from None
    ids = [q.id for q in query.credentials]
    if len(ids) != len(set(ids)):
        raise DcqlInvalid("dcql_query: credentials: the same id is present more than once")
    for i, credential in enumerate(query.credentials):
        try:
            credential.check()
        except ValueError as err:
            raise DcqlInvalid(f"dcql_query: credentials[{i}].{err}") from None
    for i, credential_set in enumerate(query.credential_sets or ()):
        for option in credential_set.options:
            if not set(option) <= set(ids):
                raise DcqlInvalid(
                    f"dcql_query: credential_sets[{i}].options: names a credential id "
                    "that credentials does not have"
                )
    return query


_NOTHING: tuple[Any, ...] = ()


def select_path(claims: Mapping[str, Any], path: Sequence[PathElement]) -> tuple[Any, ...]:
    """Process a claims path pointer (§7.1) against a credential's claims.

    Returns the selected values; none when the pointer selects nothing or meets an
    element of the wrong kind (which §7.1 treats as an error: the claim is absent).
    """
    selected: list[Any] = [claims]
    for component in path:
        following: list[Any] = []
        for element in selected:
            if isinstance(component, str):
                if not isinstance(element, Mapping):
                    return _NOTHING
                if component in element:
                    following.append(element[component])
            elif component is None:
                if not isinstance(element, list):
                    return _NOTHING
                following.extend(element)
            else:
                if not isinstance(element, list):
                    return _NOTHING
                if component < len(element):
                    following.append(element[component])
        if not following:
            return _NOTHING
        selected = following
    return tuple(selected)


def _same(value: object, expected: ClaimValue) -> bool:
    # "the type and value of the claim both match exactly": True is not 1 here.
    return type(value) is type(expected) and value == expected


def _claim_matches(claims: Mapping[str, Any], query: ClaimQuery) -> bool:
    values = select_path(claims, query.path)
    if not values:
        return False
    if query.values is None:
        return True
    return any(_same(v, e) for v in values for e in query.values)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A credential a query is evaluated against: its format, type and claims.

    ``claims`` is the credential's claims object (for a wallet: every claim, the
    selectively disclosable ones included; for a verifier: what was disclosed).
    """

    vct: str
    claims: Mapping[str, Any]
    format: str = FORMAT
    holder_binding: bool = True


@dataclass(frozen=True, slots=True)
class Match:
    """A candidate matching a Credential Query, with the claims to present."""

    index: int
    #: the claims paths selected (§6.4.1): those of the first satisfiable claim set,
    #: all the query's claims when it has no claim sets, none when it asks for none
    paths: tuple[tuple[PathElement, ...], ...]


def match_credential(query: CredentialQuery, candidate: Candidate, index: int = 0) -> Match | None:
    """Whether ``candidate`` satisfies ``query`` (§6.1, §6.4), and with which claims."""
    if candidate.format != query.format or query.format != FORMAT:
        return None
    vcts = query.vct_values
    if vcts is not None and candidate.vct not in vcts:
        return None
    if query.require_cryptographic_holder_binding and not candidate.holder_binding:
        return None
    if query.claims is None:
        return Match(index, ())
    matching = [_claim_matches(candidate.claims, c) for c in query.claims]
    if query.claim_sets is None:
        if not all(matching):
            return None
        return Match(index, tuple(tuple(c.path) for c in query.claims))
    by_id = {c.id: (c, ok) for c, ok in zip(query.claims, matching, strict=True)}
    for claim_set in query.claim_sets:
        if all(by_id[i][1] for i in claim_set):
            return Match(index, tuple(tuple(by_id[i][0].path) for i in claim_set))
    return None


@dataclass(frozen=True, slots=True)
class Selection:
    """What a wallet returns for a query: Credential Query id → the matches to present."""

    satisfied: bool
    #: every Credential Query's matching candidates (all of them, in order)
    matches: Mapping[str, tuple[Match, ...]]
    #: the Credential Query ids to answer: all, or per credential set its first
    #: satisfiable option (required sets) and any satisfiable optional set's
    chosen: tuple[str, ...]


def evaluate(query: DcqlQuery, candidates: Sequence[Candidate]) -> Selection:
    """Evaluate ``query`` against ``candidates`` (§6.4.2).

    Without ``credential_sets`` every Credential Query must match a candidate; with
    them, every required set must have an option whose queries all match. When the
    query cannot be satisfied nothing is chosen (a wallet returns nothing).
    """
    matches: dict[str, tuple[Match, ...]] = {}
    for credential in query.credentials:
        found = (match_credential(credential, c, i) for i, c in enumerate(candidates))
        matches[credential.id] = tuple(m for m in found if m is not None)
    if query.credential_sets is None:
        chosen = tuple(q.id for q in query.credentials)
        satisfied = all(matches[i] for i in chosen)
        return Selection(satisfied, matches, chosen if satisfied else ())
    picked: list[str] = []
    for credential_set in query.credential_sets:
        option = next((o for o in credential_set.options if all(matches[i] for i in o)), None)
        if option is None:
            if credential_set.required:
                return Selection(False, matches, ())
            continue
        picked.extend(i for i in option if i not in picked)
    return Selection(True, matches, tuple(picked))
