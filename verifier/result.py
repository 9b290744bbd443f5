"""The verification result: the same JSON from the library, the CLI and HTTP (DESIGN.md §4).

A set presentation's result has the same shape plus ``members`` (docs/formats.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

StatusName = Literal["valid", "revoked", "suspended", "unavailable", "stale"]
#: What a member of a set presentation is there for (docs/formats.md, "Set presentations").
RoleName = Literal["member", "ward", "guardianship", "principal", "care_authorisation"]


class ErrorDict(TypedDict):
    """One error of a result. A set's errors name the member they are about: ``member``
    (its 0-based place in the set) when it was presented, ``vct`` when it is known (a
    required type that is missing has a ``vct`` and no ``member``)."""

    code: str
    message: str
    member: NotRequired[int]
    vct: NotRequired[str]


class MemberDict(TypedDict):
    """One member of a set presentation's result: what it is, its status and its role."""

    vct: str | None
    iss: str | None
    status: StatusName | None
    role: RoleName


class ResultDict(TypedDict):
    """The JSON object every verifier face reports."""

    valid: bool
    vct: str | None
    iss: str | None
    scene: str
    status: StatusName | None
    claims: dict[str, Any]
    errors: list[ErrorDict]
    checked_at: int
    made_for: NotRequired[str]
    members: NotRequired[list[MemberDict]]


@dataclass(slots=True)
class VerificationResult:
    """Outcome of one verification.

    ``claims`` holds only what the scene asked for, and only when ``valid``: staff
    never see data from a presentation that failed. ``status`` is None when the
    check did not get as far as the status list.
    """

    scene: str
    checked_at: int
    vct: str | None = None
    iss: str | None = None
    status: StatusName | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    errors: list[ErrorDict] = field(default_factory=list)
    #: ``(uri, idx)`` of the credential's status entry once its signature verified: lets
    #: an online service find the credential in its registry. Not part of the JSON.
    status_ref: tuple[str, int] | None = None
    #: The scene a presentation refused for another scene was made for (its KB-JWT's
    #: ``aud``, when that is a scene of the trust list): staff can name it. In the JSON
    #: only when set.
    made_for: str | None = None
    #: For a set presentation, its members in the order presented (in the JSON); then
    #: ``vct``/``iss`` are None, ``claims`` maps each member's ``vct`` to its claims and
    #: ``status`` is the worst of the members'. None for a single presentation.
    members: list[MemberDict] | None = None
    #: For a set, each member's ``status_ref`` (None where not reached). Not in the JSON.
    member_refs: list[tuple[str, int] | None] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True only when no check failed."""
        return not self.errors

    @property
    def codes(self) -> list[str]:
        """The error codes, in the order the checks reported them."""
        return [e["code"] for e in self.errors]

    def to_dict(self) -> ResultDict:
        """The JSON object of DESIGN.md §4 (``made_for`` only when set)."""
        out: ResultDict = {
            "valid": self.valid,
            "vct": self.vct,
            "iss": self.iss,
            "scene": self.scene,
            "status": self.status,
            "claims": dict(self.claims) if self.valid else {},
            "errors": list(self.errors),
            "checked_at": self.checked_at,
        }
        if self.made_for is not None and not self.valid:
            out["made_for"] = self.made_for
        if self.members is not None:
            out["members"] = [m.copy() for m in self.members]
        return out
