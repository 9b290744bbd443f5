"""Venues verify a scanned QR online (``POST /api/v1/verify``).

The answer is exactly the result JSON of DESIGN.md §4, whatever the outcome: a
presentation that fails a check is a 200 with ``"valid": false`` and its error
codes, not an HTTP error. HTTP errors are for the request itself: no venue key
(401), a scene the venue is not allowed (403), a scene not in the trust list (404).

Verification uses the live trust list and live status (a revocation counts at
once), shares replay detection with every worker through the store, and logs the
check in the citizen's activity (:class:`api.online.OnlineVerifier`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api import metrics
from api.errors import ApiError
from api.openapi import SECURITY_VENUE, APIBlueprint, Tag, problems
from api.principals import current_venue
from api.services import services
from verifier.errors import ERROR_CODES

__all__ = ["MAX_QR_LENGTH", "bp"]

#: The longest QR text accepted (a version-40 QR code holds at most 7089 characters).
MAX_QR_LENGTH = 16 * 1024

bp = APIBlueprint(
    "verify",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="verify", description="Venues verify presentations online.")],
    abp_security=SECURITY_VENUE,
)


class VerifyBody(BaseModel):
    """A scanned QR text and the scene it is shown for."""

    model_config = ConfigDict(extra="forbid")

    qr: str = Field(min_length=1, max_length=MAX_QR_LENGTH, description="The QR code's text.")
    scene: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="A scene id (`hotel`).")


class ResultError(BaseModel):
    """One failed check."""

    code: str = Field(description="A stable code of DESIGN.md §4 (`revoked`…).")
    message: str


class VerificationAnswer(BaseModel):
    """The verification result of DESIGN.md §4."""

    valid: bool
    vct: str | None
    iss: str | None
    scene: str
    status: Literal["valid", "revoked", "suspended", "unavailable", "stale"] | None
    claims: dict[str, Any] = Field(
        description="Only the claims the scene asks for, and only when valid."
    )
    errors: list[ResultError]
    checked_at: int


@bp.post(
    "/verify",
    summary="Verify a presentation for a scene",
    responses={200: VerificationAnswer, **problems(403, 404)},
)
def verify(body: VerifyBody) -> dict[str, Any]:
    """Verify the QR text for the scene, with live status and replay detection.

    The venue's key must allow the scene (`403 forbidden` otherwise).
    """
    venue = current_venue()
    if body.scene not in venue.scenes:
        raise ApiError("This venue may not verify for this scene.", code="forbidden")
    result = services().online.verify(body.qr, body.scene, venue_id=venue.venue_id)
    code = result.codes[0] if result.codes else "none"
    metrics.count(
        "ecert_verifications_total",
        result="valid" if result.valid else "invalid",
        code=code if code == "none" or code in ERROR_CODES else "other",
    )
    return dict(result.to_dict())
