"""Set presentations: several credentials in one check (docs/formats.md, "Set presentations").

A set presentation is a JSON array of 2 to :data:`~keys.trustlist.MAX_SET` SD-JWT+KB
presentation strings written without spaces (``json.dumps(members, separators=(",",
":"))``). The verifier reads a text starting with ``[`` as a set and checks:

1. the array itself, strictly (:func:`parse_set`, ``set_malformed``): strict JSON, the
   exact compact form, 2 to 4 distinct non-empty strings, each within the single
   presentation's size limit;
2. every member with every check of a single presentation but the scene's policy and
   replay (:meth:`verifier.core.Verifier.check_member`: signature, trust, status,
   expiry, the KB-JWT with the scene's ``aud`` and the expected ``nonce``);
3. across the members: one holder key (``cnf.jwk`` RFC 7638 thumbprints equal,
   ``set_holder_mismatch``), one nonce (``key_binding_invalid``);
4. what the set is for: a :data:`SetMatcher` gives each member its role and the claims
   the scene receives from it, or refuses it. :func:`match_all_of` (the scene's
   ``all_of``: every required type once, nothing else; ``set_member_missing``,
   ``scene_unmet``) is the last of :data:`DEFAULT_MATCHERS`; a matcher placed before
   it (guardians and carers) answers for the sets it recognises and ``None`` for others;
5. the claims each member's role asks for; then replay, once, for the set's nonce.

Every error names its member: ``"member 2 (urn:ecert:…): …"`` (1-based in the message,
for people) with ``"member": 1`` (0-based) and ``"vct"``. A refused set returns no
claims of any member.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keys.errors import FormatError
from keys.jsonstrict import loads
from keys.trustlist import MAX_SET, PORTRAIT_CLAIM, Scene
from verifier.errors import (
    KeyBindingInvalid,
    SceneUnmet,
    SetHolderMismatch,
    SetMalformed,
    SetMemberMissing,
    VerificationError,
)
from verifier.links import match_link
from verifier.result import ErrorDict, MemberDict, RoleName, StatusName, VerificationResult
from verifier.status import replayed

if TYPE_CHECKING:
    from verifier.core import Verifier, _Binding

#: How bad each status is, for a set's ``status`` (the worst of its members').
_BADNESS: dict[StatusName, int] = {
    "valid": 0,
    "stale": 1,
    "unavailable": 2,
    "suspended": 3,
    "revoked": 4,
}


def worst_status(statuses: Sequence[StatusName | None]) -> StatusName | None:
    """The worst of the members' statuses (``revoked`` > ``suspended`` > ``unavailable``
    > ``stale`` > ``valid``); None when no member got as far as its status."""
    reached: list[StatusName] = [s for s in statuses if s is not None]
    if not reached:
        return None
    worst = max(reached, key=_BADNESS.__getitem__)
    return worst


def set_limit(max_length: int) -> int:
    """The largest set text for members of at most ``max_length`` characters each:
    :data:`MAX_SET` quoted members, their commas and the brackets."""
    return MAX_SET * (max_length + 3) + 1


@dataclass(slots=True)
class MemberCheck:
    """What checking one member of a set found (:meth:`Verifier.check_member`).

    ``errors`` are the member's own, unprefixed. ``disclosed`` holds every claim the
    member discloses (and its always-visible ones): a matcher reads it to pick the
    scene's claims or to compare two members (a ward's ``id_number`` with the
    guardianship's ``ward_id_number``); it is never returned as is. ``holder`` is the
    RFC 7638 thumbprint of the member's ``cnf.jwk``; ``nonce``/``kb_iat`` its KB-JWT's.
    Fields are None where the check stopped before them.
    """

    index: int
    vct: str | None = None
    iss: str | None = None
    status: StatusName | None = None
    status_ref: tuple[str, int] | None = None
    made_for: str | None = None
    errors: list[ErrorDict] = field(default_factory=list)
    disclosed: dict[str, Any] = field(default_factory=dict)
    nonce: str | None = None
    kb_iat: float | None = None
    holder: str | None = None

    @property
    def valid(self) -> bool:
        """True when every check of the member passed."""
        return not self.errors


@dataclass(frozen=True, slots=True)
class SetProblem:
    """A refusal of a matcher: the member it is about (``None`` for a missing one), the
    error, and the type it names."""

    member: int | None
    error: VerificationError
    vct: str | None = None


@dataclass(frozen=True, slots=True)
class SetMatch:
    """A matcher's answer for a set it recognises: per member (in order) its role and the
    claims the scene receives from it, and any refusals."""

    roles: tuple[RoleName, ...]
    wanted: tuple[tuple[str, ...], ...]
    problems: tuple[SetProblem, ...] = ()


#: ``matcher(scene, members)``: a :class:`SetMatch` for a set it answers for, else None.
SetMatcher = Callable[[Scene, Sequence[MemberCheck]], SetMatch | None]


def match_all_of(scene: Scene, members: Sequence[MemberCheck]) -> SetMatch | None:
    """The scene's ``all_of``: every required type exactly once and nothing else. None
    when the scene has no ``all_of``."""
    if not scene.all_of:
        return None
    required = dict(scene.all_of)
    problems: list[SetProblem] = []
    wanted: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for member in members:
        vct = member.vct
        if vct is None:  # stopped before its type was known: its own errors say why
            wanted.append(())
            continue
        if vct in seen:
            err = SceneUnmet("the set holds this credential type twice")
            problems.append(SetProblem(member.index, err, vct))
        elif vct not in required:
            err = SceneUnmet("this credential type is not part of the scene's set")
            problems.append(SetProblem(member.index, err, vct))
        seen.add(vct)
        wanted.append(required.get(vct, ()))
    if all(m.vct is not None for m in members):  # an unreadable member may be the one
        for vct in required:
            if vct not in seen:
                err = SetMemberMissing("the scene's set needs this credential: it is missing")
                problems.append(SetProblem(None, err, vct))
    return SetMatch(tuple("member" for _ in members), tuple(wanted), tuple(problems))


#: The matchers a :class:`~verifier.core.Verifier` tries in order: the first that
#: answers decides. Guardians and carers (:func:`verifier.links.match_link`, a set with
#: a link credential) come before :func:`match_all_of`.
DEFAULT_MATCHERS: tuple[SetMatcher, ...] = (match_link, match_all_of)


def parse_set(raw: bytes, max_member: int) -> list[bytes]:
    """The members of a set text, as ASCII bytes. Raises :class:`SetMalformed`."""
    try:
        value = loads(raw, max_bytes=set_limit(max_member))
    except FormatError as err:  # InvalidUnicode too: one code for the set
        raise SetMalformed("a set presentation is not strict JSON") from err
    if not isinstance(value, list):
        raise SetMalformed("a set presentation is a JSON array")
    if not 2 <= len(value) <= MAX_SET:
        raise SetMalformed(f"a set holds 2 to {MAX_SET} presentations, not {len(value)}")
    for i, member in enumerate(value):
        if not isinstance(member, str) or not member:
            raise SetMalformed(f"member {i + 1} of the set is not a presentation string")
        if len(member) > max_member:
            raise SetMalformed(f"member {i + 1} of the set is too large")
        if not member.isascii():  # "\u0080" is compact JSON too, but no presentation
            raise SetMalformed(f"member {i + 1} of the set is not ASCII text")
    if len(set(value)) != len(value):
        raise SetMalformed("the set holds the same presentation twice")
    if json.dumps(value, separators=(",", ":")).encode("ascii") != raw:
        raise SetMalformed("a set is written as a JSON array without spaces or escapes")
    return [member.encode("ascii") for member in value]


def member_error(member: int | None, vct: str | None, err: ErrorDict) -> ErrorDict:
    """``err`` naming its member: ``"member 2 (vct): …"``, ``member`` and ``vct``."""
    if member is None:
        name = f"missing ({vct})"
    else:
        name = f"member {member + 1}" + (f" ({vct})" if vct else "")
    out: ErrorDict = {"code": err["code"], "message": f"{name}: {err['message']}"}
    if member is not None:
        out["member"] = member
    if vct is not None:
        out["vct"] = vct
    return out


def _problem(member: int | None, vct: str | None, err: VerificationError) -> ErrorDict:
    return member_error(member, vct, {"code": err.code, "message": err.message})


def verify_set(
    verifier: Verifier,
    raw: bytes,
    binding: _Binding,
    now: float,
    result: VerificationResult,
    matchers: Sequence[SetMatcher] | None = None,
) -> None:
    """Check the set text ``raw`` into ``result`` (the steps of this module's docstring).

    Raises :class:`SetMalformed` for a malformed array (reported by ``verify``)."""
    scene = binding.policy
    texts = parse_set(raw, verifier._max_length)
    members = [verifier._check_member(i, text, binding, now) for i, text in enumerate(texts)]
    if matchers is None:
        matchers = verifier.set_matchers
    errors = result.errors
    for m in members:
        errors.extend(member_error(m.index, m.vct, e) for e in m.errors)

    # one holder, one nonce: compared with the first member that got that far
    holders = [m for m in members if m.holder is not None]
    for m in holders[1:]:
        if m.holder != holders[0].holder:
            err = SetHolderMismatch(
                f"bound to another holder key than member {holders[0].index + 1}"
            )
            errors.append(_problem(m.index, m.vct, err))
    nonces = [m for m in members if m.nonce is not None]
    for m in nonces[1:]:
        if m.nonce != nonces[0].nonce:
            err_kb = KeyBindingInvalid(
                f"the KB-JWT 'nonce' differs from member {nonces[0].index + 1}'s"
            )
            errors.append(_problem(m.index, m.vct, err_kb))

    # what the set is for, and the claims each member gives the scene
    match = None
    for matcher in matchers:
        match = matcher(scene, members)
        if match is not None:
            break
    roles: list[RoleName] = ["member"] * len(members)
    claims: dict[str, Any] = {}
    if match is None:
        errors.append(
            {"code": SceneUnmet.code, "message": "this scene does not take a set of credentials"}
        )
    else:
        roles = list(match.roles)
        errors.extend(_problem(p.member, p.vct, p.error) for p in match.problems)
        for m, wanted in zip(members, match.wanted, strict=True):
            if m.vct is None or not m.valid:
                continue
            missing = [c for c in wanted if c not in m.disclosed]
            if missing:
                err_c = SceneUnmet(f"claims required by the scene are missing: {missing}")
                errors.append(_problem(m.index, m.vct, err_c))
                continue
            mine = {c: m.disclosed[c] for c in wanted}
            if scene.portrait and PORTRAIT_CLAIM in m.disclosed:
                mine[PORTRAIT_CLAIM] = m.disclosed[PORTRAIT_CLAIM]
            claims[m.vct] = mine

    result.vct = result.iss = None
    result.members = [
        MemberDict(vct=m.vct, iss=m.iss, status=m.status, role=role)
        for m, role in zip(members, roles, strict=True)
    ]
    result.member_refs = [m.status_ref for m in members]
    result.status = worst_status([m.status for m in members])
    result.made_for = next((m.made_for for m in members if m.made_for is not None), None)

    # replay, last and once: the set's one nonce, kept while its freshest member is fresh
    if not errors:
        nonce = members[0].nonce or ""  # every member passed its KB-JWT: never ""
        last = max(m.kb_iat or 0.0 for m in members)
        if not verifier._replay.check_and_add(nonce, last + binding.max_age + 1, now):
            err_r = replayed()
            errors.append({"code": err_r.code, "message": err_r.message})
    result.claims = claims if not errors else {}
