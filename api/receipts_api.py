"""Receipts, ratings and misuse reports over HTTP (:mod:`service.receipts`).

The citizen (session token), under ``/api/v1/wallet/receipts``: every use of their data
(a venue's verification, a department's proof query) with its rating, the platform-signed
receipt of one (``receipt+jwt``, as JSON or as a file), a rating of 1 to 5 stars with a
comment (``PUT``, editable for a day), and a misuse report for the operator (``POST``).
Another citizen's event id answers ``404 receipt_not_found`` exactly like an unknown one.

A venue or a department (its API key), under ``/api/v1/ratings``: its own ratings only,
without any citizen data (stars, comment, topic, dates).
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from api.errors import AuthError
from api.openapi import (
    SECURITY_CITIZEN,
    SECURITY_DEPARTMENT,
    SECURITY_VENUE,
    APIBlueprint,
    Tag,
    problems,
)
from api.principals import calling_department, current_citizen, current_venue
from api.services import services
from keys.models import LocalizedName
from service.receipts import MAX_COMMENT, MAX_REPORT, Entry

__all__ = ["bp", "ratings_bp"]

bp = APIBlueprint(
    "receipts",
    __name__,
    url_prefix="/api/v1/wallet/receipts",
    abp_tags=[
        Tag(
            name="receipts",
            description="Every use of the citizen's data: a signed receipt, a rating, a "
            "misuse report.",
        )
    ],
    abp_security=SECURITY_CITIZEN,
)

ratings_bp = APIBlueprint(
    "ratings",
    __name__,
    url_prefix="/api/v1/ratings",
    abp_tags=[Tag(name="ratings", description="A venue's or department's own ratings.")],
    abp_security=[*SECURITY_VENUE, *SECURITY_DEPARTMENT],
)

#: The media type of a downloaded receipt.
MEDIA_RECEIPT = "application/receipt+jwt"


def _whole_number(value: object) -> object:
    """JSON Schema's ``integer``: a number with no fraction (``4`` or ``4.0``), never a
    string or a boolean."""
    if isinstance(value, bool | str):
        raise ValueError("a whole number is required")  # pydantic's contract
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class ReceiptPath(BaseModel):
    """One use of the citizen's data (its event id)."""

    event_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class DownloadQuery(BaseModel):
    """``download=1``: the receipt as a file (``Content-Disposition: attachment``)."""

    model_config = ConfigDict(extra="forbid")

    download: Literal["0", "1"] = "0"


class Actor(BaseModel):
    """Who used the data: a venue or a department."""

    kind: Literal["venue", "department"]
    id: str = Field(description="The venue id or the department's issuer slug.")
    name: LocalizedName


class Outcome(BaseModel):
    """What came of it."""

    outcome: Literal["accepted", "refused"]
    codes: list[str] = Field(description="The stable codes of a refusal.")


class RatingView(BaseModel):
    """The citizen's rating of a use."""

    stars: int = Field(ge=1, le=5)
    comment: str
    created_at: int
    updated_at: int
    editable_until: int = Field(description="Until when it may be changed (epoch seconds).")


class ReportAnswer(BaseModel):
    """The report, as the operator will see it (without its text)."""

    id: str
    event_id: str
    created_at: int
    state: Literal["open", "resolved"]


class ReceiptEntry(BaseModel):
    """One use of the citizen's data."""

    event_id: str
    kind: Literal["verification", "proof_query"]
    at: int = Field(description="When (epoch seconds).")
    actor: Actor
    topic: str = Field(description="The scene id (a verification) or the proof type id.")
    topic_name: LocalizedName | None = Field(
        default=None, description="The scene's name, when the service knows it."
    )
    fields: list[str] = Field(description="The names of the fields used (never values).")
    credentials: list[str] = Field(
        default_factory=list,
        description="A set presentation's members: the credential type (`vct`) of each, "
        "in order. Empty for a single presentation and a proof query.",
    )
    purpose: str
    result: Outcome
    rating: RatingView | None
    report: ReportAnswer | None = Field(description="The citizen's misuse report, if any.")


class ReceiptList(BaseModel):
    """The citizen's uses, newest first."""

    items: list[ReceiptEntry]


class ReceiptAnswer(BaseModel):
    """The receipt: a JWT (``typ: receipt+jwt``) signed by the platform's trust anchor
    (the key at ``/api/v1/verifier/anchor``); docs/formats.md."""

    receipt: str


class RatingBody(BaseModel):
    """1 to 5 stars and an optional comment."""

    model_config = ConfigDict(extra="forbid")

    stars: StrictInt = Field(ge=1, le=5, description="1 to 5.")
    comment: str | None = Field(
        default=None,
        max_length=MAX_COMMENT,
        description=f"At most {MAX_COMMENT} characters, without control characters "
        "(`rating_invalid` otherwise).",
    )


    _whole_stars = field_validator("stars", mode="before")(_whole_number)


class ReportBody(BaseModel):
    """What went wrong."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=MAX_REPORT,
        description=f"1 to {MAX_REPORT} characters, not only spaces, without control "
        "characters (`report_invalid` otherwise).",
    )


class ActorRatingEntry(BaseModel):
    """A rating of the caller, without any citizen data."""

    stars: int
    comment: str
    topic: str
    created_at: int
    updated_at: int


class ActorRatingList(BaseModel):
    """The caller's newest ratings, newest first."""

    items: list[ActorRatingEntry]


_NOT_FOUND = "`receipt_not_found`: no use of the citizen's data with this id."


@bp.get("", summary="Every use of the citizen's data", responses={200: ReceiptList})
def list_receipts() -> dict[str, Any]:
    """The uses of the citizen's data (venues' verifications, departments' proof
    queries), newest first, each with the citizen's rating if any."""
    entries = services().receipts.entries(current_citizen())
    items = [_entry(entry) for entry in entries]
    return ReceiptList(items=items).model_dump()


@bp.get(
    "/<event_id>",
    summary="The signed receipt of one use",
    responses={
        200: {
            "description": "The receipt: JSON by default, the JWT itself with `download=1`.",
            "content": {
                "application/json": {"schema": ReceiptAnswer.model_json_schema()},
                MEDIA_RECEIPT: {"schema": {"type": "string"}},
            },
        },
        **problems(404, descriptions={404: _NOT_FOUND}),
    },
)
def get_receipt(path: ReceiptPath, query: DownloadQuery) -> Response:
    """The receipt as JSON `{"receipt": "<JWT>"}`, or with `?download=1` as the file
    `receipt-<id>.jwt` (`application/receipt+jwt`)."""
    token = services().receipts.receipt(current_citizen(), path.event_id)
    if query.download == "1":
        response = Response(token, mimetype=MEDIA_RECEIPT)
        response.headers["Content-Disposition"] = (
            f'attachment; filename="receipt-{path.event_id}.jwt"'
        )
        return response
    return jsonify(ReceiptAnswer(receipt=token).model_dump())


@bp.put(
    "/<event_id>/rating",
    summary="Rate one use (or change the rating within a day)",
    responses={
        200: RatingView,
        **problems(
            400,
            404,
            409,
            descriptions={
                400: "`invalid_request`: stars not an integer from 1 to 5, a comment "
                "over 500 characters; `rating_invalid`: a comment with control characters.",
                404: _NOT_FOUND,
                409: "`rating_locked`: the rating was first made more than a day ago.",
            },
        ),
    },
)
def put_rating(path: ReceiptPath, body: RatingBody) -> dict[str, Any]:
    """One rating per use: the first `PUT` makes it, later ones change it for a day."""
    rating = services().receipts.rate(
        current_citizen(), path.event_id, body.stars, body.comment or ""
    )
    return RatingView.model_validate(rating.to_dict()).model_dump()


@bp.post(
    "/<event_id>/reports",
    summary="Report one use as misuse",
    responses={
        201: ReportAnswer,
        **problems(
            400,
            404,
            409,
            descriptions={
                400: "`invalid_request`: no text, or over 1000 characters; "
                "`report_invalid`: only spaces, or control characters.",
                404: _NOT_FOUND,
                409: "`report_exists`: this use was already reported.",
            },
        ),
    },
)
def post_report(path: ReceiptPath, body: ReportBody) -> tuple[dict[str, Any], int]:
    """The report reaches the operator's list of reports awaiting follow-up."""
    report = services().receipts.report(current_citizen(), path.event_id, body.text)
    return ReportAnswer.model_validate(report.to_dict()).model_dump(), 201


@ratings_bp.get(
    "",
    summary="The caller's own ratings",
    responses={200: ActorRatingList, **problems(401, 403)},
)
def list_ratings() -> dict[str, Any]:
    """The newest ratings of the calling venue or department (its API key): stars,
    comment, topic and dates, never who gave them."""
    kind, actor = _calling_actor()
    rated = services().receipts.ratings_for(kind, actor)
    return ActorRatingList(
        items=[ActorRatingEntry.model_validate(r.to_dict()) for r in rated]
    ).model_dump()


def _calling_actor() -> tuple[Literal["venue", "department"], str]:
    """The venue or department whose key calls (401 for any other token, 403 for a key
    whose venue or department is no longer registered)."""
    try:
        return "department", calling_department().slug
    except AuthError:  # not a department key: a venue's, or nobody's
        pass
    try:
        return "venue", current_venue().venue_id
    except AuthError:
        raise AuthError("a valid venue or department API key is required") from None


def _entry(entry: Entry) -> ReceiptEntry:
    use, rating, report = entry.use, entry.rating, entry.report
    topic = entry.topic_name
    return ReceiptEntry(
        event_id=use.event_id,
        kind=use.kind,
        at=use.at,
        actor=Actor(kind=use.actor_kind, id=use.actor, name=LocalizedName(**entry.actor_name)),
        topic=use.topic,
        topic_name=None if topic is None else LocalizedName(zh=topic["zh"], en=topic["en"]),
        fields=list(use.fields),
        credentials=list(use.credentials),
        purpose=use.purpose,
        result=Outcome(outcome="accepted" if use.accepted else "refused", codes=list(use.codes)),
        rating=None if rating is None else RatingView.model_validate(rating.to_dict()),
        report=None if report is None else ReportAnswer.model_validate(report.to_dict()),
    )
