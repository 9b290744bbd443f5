"""A citizen's notices (``/api/v1/wallet/notices``): what happened on their behalf.

A change of a subject field ("Your name changed; 4 certificates were updated"), a
certificate issued before anyone asked, a re-issue after a key compromise: each
leaves a notice (:class:`service.notices.Notices`) that the wallet page shows until
the citizen dismisses it. Every route takes the citizen's session token and reaches
only that citizen's notices: another citizen's notice id answers ``404 not_found``
like an unknown one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.openapi import SECURITY_CITIZEN, APIBlueprint, Tag, problems
from api.principals import current_citizen
from api.services import services
from keys.errors import NotFound
from keys.models import LocalizedName

__all__ = ["bp"]

bp = APIBlueprint(
    "notices",
    __name__,
    url_prefix="/api/v1/wallet/notices",
    abp_tags=[Tag(name="notices", description="What the service did on the citizen's behalf.")],
    abp_security=SECURITY_CITIZEN,
)


class NoticePath(BaseModel):
    """One notice of the citizen."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class NoticeEntry(BaseModel):
    """One notice, in both languages."""

    id: str
    created_at: int = Field(description="When (epoch seconds).")
    kind: str = Field(description="What made it: `change`, `batch`, `reissue`.")
    text: LocalizedName
    credentials: list[str] = Field(description="The wallet ids of the cards it concerns.")


class NoticeList(BaseModel):
    """The citizen's notices, newest first."""

    items: list[NoticeEntry]


@bp.get("", summary="The citizen's notices", responses={200: NoticeList})
def list_notices() -> dict[str, Any]:
    """The notices not yet dismissed, newest first."""
    notices = services().notices.list_notices(current_citizen())
    return NoticeList(
        items=[NoticeEntry.model_validate(n.to_dict()) for n in notices]
    ).model_dump()


@bp.delete(
    "/<id>",
    summary="Dismiss a notice",
    responses={204: None, **problems(404)},
)
def dismiss_notice(path: NoticePath) -> tuple[str, int]:
    """Dismiss the notice (`404 not_found` if the citizen has none of this id)."""
    if not services().notices.dismiss(current_citizen(), path.id):
        raise NotFound("No notice with this id.")
    return "", 204
