"""Carers (issue 12): an elder authorises a carer, from the wallet, to present for them
in named scenes until a date, and withdraws it at once.

``/api/v1/wallet/carers`` (the citizen's session) over :class:`service.links.Links`:

* ``POST`` ``{"carer_id", "scenes": [...], "until": "YYYY-MM-DD"}``: civil affairs issues
  a care authorisation into the carer's wallet and the carer gets held-for copies of the
  elder's credentials that those scenes accept. Only scenes with ``carer: true``; until
  the end of ``until`` (China time, UTC+8), within a year; at most 3 carers at once. A
  carer id that names no citizen is answered exactly like a known one (nothing is
  issued): the wallet never tells whether an ID number is a citizen's.
* ``GET``: the authorisations given (active, withdrawn, ended), the carer's ID number
  masked.
* ``DELETE /<id>``: withdraw: the authorisation and every copy revoked at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from api.openapi import SECURITY_CITIZEN, APIBlueprint, Tag, problems
from api.principals import current_citizen
from api.services import services
from service.links import MAX_CARER_SCENES, LinkView

__all__ = ["bp"]

bp = APIBlueprint(
    "carers",
    __name__,
    url_prefix="/api/v1/wallet/carers",
    abp_tags=[
        Tag(
            name="carers",
            description="An elder authorises a carer for named scenes until a date, and "
            "withdraws it at once.",
        )
    ],
    abp_security=SECURITY_CITIZEN,
)

_INVALID = (
    "`carer_invalid`: a scene that does not accept carers, no scene or too many, `until` "
    "past or beyond a year, or yourself; `carer_principal_unnamed`: no resident ID card "
    "in your wallet to name you."
)


class CarerPath(BaseModel):
    """One care authorisation."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The authorisation's id.")


class CarerBody(BaseModel):
    """A care authorisation to give."""

    model_config = ConfigDict(extra="forbid")

    carer_id: str = Field(min_length=1, max_length=32, description="The carer's citizen ID number.")
    scenes: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1,
        max_length=MAX_CARER_SCENES,
        description="The scene ids (each one with `carer: true` in the trust list).",
    )
    until: str = Field(
        min_length=1,
        max_length=32,
        description="The last day it holds, `YYYY-MM-DD` (through the end of that day, "
        "China time, UTC+8); today at the earliest, one year ahead at the latest.",
    )


class CarerEntry(BaseModel):
    """A care authorisation as the elder sees it."""

    id: str
    state: Literal["active", "revoked", "withdrawn", "expired"]
    active: bool
    carer: str = Field(description="The carer's ID number, masked (`1101**********0046`).")
    scenes: list[str]
    until: str = Field(description="The last day it holds (China time), `YYYY-MM-DD`.")
    expires_at: int = Field(description="The first second (epoch) it no longer holds.")
    created_at: int


class CarerList(BaseModel):
    """The care authorisations the citizen gave, oldest first."""

    items: list[CarerEntry]


def _entry(view: LinkView) -> dict[str, Any]:
    # the carer's name is not shown: it would tell the elder whose ID number it is
    return CarerEntry(
        id=view.link_id,
        state=view.state,
        active=view.active,
        carer=view.holder_masked,
        scenes=list(view.scenes),
        until=view.until_date,
        expires_at=view.until,
        created_at=view.created_at,
    ).model_dump()


@bp.get("", summary="The carers the citizen authorised", responses={200: CarerList})
def list_carers() -> dict[str, Any]:
    """Every care authorisation the citizen gave (active, withdrawn, ended), oldest first."""
    return {"items": [_entry(v) for v in services().links.carers(current_citizen())]}


@bp.post(
    "",
    summary="Authorise a carer",
    responses={
        201: CarerEntry,
        **problems(
            409,
            422,
            descriptions={
                409: "`carer_limit_reached`: withdraw a carer first.",
                422: _INVALID,
            },
        ),
    },
)
def post_carer(body: CarerBody) -> Response:
    """The carer may present the citizen's credentials in these scenes until the end of
    `until`: a care authorisation from civil affairs in the carer's wallet, and copies of
    the credentials those scenes accept. An ID number that names no citizen is answered
    the same way (nothing is issued)."""
    view = services().links.authorise(current_citizen(), body.carer_id, body.scenes, body.until)
    response: Response = jsonify(_entry(view))
    response.status_code = 201
    return response


@bp.delete(
    "/<id>",
    summary="Withdraw a carer",
    responses={
        200: CarerEntry,
        **problems(404, descriptions={404: "`not_found`: no active carer of this id."}),
    },
)
def delete_carer(path: CarerPath) -> dict[str, Any]:
    """Withdrawn at once: the care authorisation and every copy the carer held are
    revoked; the carer's next presentation is refused."""
    return _entry(services().links.withdraw(current_citizen(), path.id))
