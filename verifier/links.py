"""Guardians' and carers' sets (issue 12; docs/formats.md, "Link credentials"): a set
``[credential, link]`` where the credential is one the scene accepts, held for the
ward or principal, and the link is ``urn:ecert:guardianship`` or
``urn:ecert:care-authorisation`` (the guardian's or carer's, in the same wallet).

:func:`match_link` is a :data:`verifier.sets.SetMatcher`, tried before the scene's
``all_of``. It answers for every set holding a link credential (``None`` otherwise), and
refuses (each refusal naming its member):

* a set that is not exactly ``[credential, link]`` (``scene_unmet``);
* a scene that does not take the link: ``guardian`` for a guardianship, ``carer`` for a
  care authorisation whose disclosed ``scenes`` names this scene (``scene_unmet``);
* a credential of a type the scene does not accept (``scene_unmet``);
* a credential that is not of the person the link names (``link_mismatch``): its ``name``
  must equal the link's ``ward_name``/``principal_name``, and its ``id_number`` the
  link's ``ward_id_number``/``principal_id_number`` where both are disclosed; a
  credential that discloses neither is refused.

Everything else is the set's common checks (:func:`verifier.sets.verify_set`): each
member valid, unexpired, not revoked (the link ends at the ward's majority by its own
``exp``), one holder key, one nonce. The scene receives the claims it asks of the
credential and, from the link, :data:`GUARDIANSHIP_CLAIMS` or :data:`CARE_CLAIMS`: who
presents, for whom (and a carer's scenes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from keys.trustlist import Scene
from verifier.errors import LinkMismatch, SceneUnmet, VerificationError
from verifier.result import RoleName

if TYPE_CHECKING:  # verifier.sets imports this module for its default matchers
    from verifier.sets import MemberCheck, SetMatch

__all__ = [
    "CARE_AUTHORISATION",
    "CARE_CLAIMS",
    "GUARDIANSHIP",
    "GUARDIANSHIP_CLAIMS",
    "match_link",
]

GUARDIANSHIP: Final = "urn:ecert:guardianship"
CARE_AUTHORISATION: Final = "urn:ecert:care-authorisation"
#: What a scene receives from a guardianship: who presents, for whom, and why.
GUARDIANSHIP_CLAIMS: Final = ("guardian_name", "ward_name", "relationship")
#: What a scene receives from a care authorisation (``scenes``: checked to name it).
CARE_CLAIMS: Final = ("principal_name", "carer_name", "scenes")
#: Per link type: its claims, the roles of ``[credential, link]``, the link's claims that
#: name the credential's subject, and the scene flag that admits it.
_LINKS: Final[dict[str, tuple[tuple[str, ...], tuple[RoleName, RoleName], str, str]]] = {
    GUARDIANSHIP: (GUARDIANSHIP_CLAIMS, ("ward", "guardianship"), "ward", "guardian"),
    CARE_AUTHORISATION: (CARE_CLAIMS, ("principal", "care_authorisation"), "principal", "carer"),
}


def match_link(scene: Scene, members: Sequence[MemberCheck]) -> SetMatch | None:
    """The scene's answer for a guardian's or a carer's set; None for a set without a
    link credential (another matcher's)."""
    from verifier.sets import SetMatch, SetProblem

    if not any(m.vct in _LINKS for m in members):
        return None
    problems: list[SetProblem] = []

    def refuse(member: MemberCheck, err: VerificationError) -> None:
        problems.append(SetProblem(member.index, err, member.vct))

    if len(members) != 2 or members[1].vct not in _LINKS or members[0].vct in _LINKS:
        wanted = tuple(() for _ in members)
        for m in members:
            if m.vct in _LINKS:
                refuse(m, SceneUnmet("a link is presented second, after one credential"))
                break
        return SetMatch(tuple("member" for _ in members), wanted, tuple(problems))

    held, link = members
    assert link.vct is not None
    link_claims, roles, party, flag = _LINKS[link.vct]
    accepted = dict(scene.accept)
    held_claims = accepted.get(held.vct or "", ())
    if not getattr(scene, flag):
        who = "guardian" if flag == "guardian" else "carer"
        refuse(link, SceneUnmet(f"this scene does not accept a {who}'s presentation"))
    elif flag == "carer" and link.valid:
        named = link.disclosed.get("scenes")
        if not isinstance(named, str) or scene.id not in named.split(" "):
            refuse(link, SceneUnmet("the care authorisation does not name this scene"))
    if held.vct is not None and held.vct not in accepted:
        refuse(held, SceneUnmet("this credential type is not accepted by the scene"))
    if held.valid and link.valid and held.vct is not None:
        _same_person(held, link, party, refuse)
    return SetMatch(roles, (held_claims, link_claims), tuple(problems))


def _same_person(
    held: MemberCheck,
    link: MemberCheck,
    party: str,
    refuse: Callable[[MemberCheck, VerificationError], None],
) -> None:
    """Refuse (on the credential) unless it names the link's ward or principal."""
    name, number = held.disclosed.get("name"), held.disclosed.get("id_number")
    if name is None and number is None:
        refuse(held, LinkMismatch("the credential names nobody the link could match"))
        return
    link_name = link.disclosed.get(f"{party}_name")
    link_number = link.disclosed.get(f"{party}_id_number")
    if name is not None and link_name is not None and name != link_name:
        refuse(held, LinkMismatch(f"the credential's name is not the link's {party}'s"))
    elif number is not None and link_number is not None and number != link_number:
        refuse(held, LinkMismatch(f"the credential's ID number is not the link's {party}'s"))
    elif name is None and link_number is None:
        refuse(held, LinkMismatch("the credential names nobody the link could match"))
