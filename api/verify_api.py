"""Venues verify a scanned QR online (``POST /api/v1/verify``).

The answer is exactly the result JSON of DESIGN.md §4, whatever the outcome: a
presentation that fails a check is a 200 with ``"valid": false`` and its error
codes, not an HTTP error. HTTP errors are for the request itself: no venue key
(401), a scene the venue is not allowed (403), a scene not in the trust list (404),
a body that is neither JSON nor ``multipart/form-data`` (415).

The QR arrives as text (JSON ``{"qr", "scene"}``: a scanner gun, a phone's own
decoder) or as an image (``multipart/form-data`` with ``image`` and ``scene``: a
camera frame, a photo, a screenshot), decoded here with zxing-cpp. An image in which
no QR code can be read is a result with ``malformed``, like unreadable text. The
text is either a presentation (compact ``EC2:…`` (or ``EC1:…``) or plain SD-JWT) or an online QR
URL ``<base>/p/<token>`` of this service, which is redeemed once and its
presentation verified.

The use case is :class:`service.verification.Verification`: the live trust data and
live status (a revocation counts at once), replay detection shared with every worker
through the store, and the check logged in the citizen's activity. The view parses
the request (and decodes an image), calls it, and serialises the result.

The body cap is ``MAX_CONTENT_LENGTH`` (64 KiB) for JSON, and
:data:`MAX_UPLOAD_LENGTH` (10 MiB and a little) for ``multipart/form-data`` on this
route only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NoReturn, TypeVar

from flask import Response, abort, request
from flask.blueprints import BlueprintSetupState
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema
from werkzeug.datastructures import FileStorage

from api import metrics
from api import presentations as qr_presentations  # registers the app's presentations
from api.errors import Forbidden, UnsupportedMediaType, problem, validation_problem
from api.openapi import SECURITY_VENUE, APIBlueprint, Tag, problems
from api.principals import current_venue
from api.services import Services, services
from service.verification import TRUST_CHECK_EVERY
from verifier import VerificationResult
from verifier.errors import ERROR_CODES, Malformed
from verifier.qrimage import MAX_IMAGE_BYTES, decode_qr

__all__ = ["MAX_QR_LENGTH", "MAX_UPLOAD_LENGTH", "bp"]

#: The longest QR text accepted (a version-40 QR code holds at most 7089 characters).
MAX_QR_LENGTH = 16 * 1024
#: The body cap of an image upload: the decoder's image limit plus the form's envelope.
MAX_UPLOAD_LENGTH = MAX_IMAGE_BYTES + 64 * 1024
#: What a PNG and a JPEG file start with; nothing else reaches the image decoder.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")
_MULTIPART = "multipart/form-data"
_ENDPOINT = "verify.verify"
_SCENE = r"^[a-z][a-z0-9_]{0,63}$"

bp = APIBlueprint(
    "verify",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="verify", description="Venues verify presentations online.")],
    abp_security=SECURITY_VENUE,
)


def _init_presentations(state: BlueprintSetupState) -> None:
    qr_presentations.init_app(state.app)
    # A worker reads the trust version at most once a second (docs/security.md).
    built: Services = state.app.extensions["ecert"]
    built.online.check_every = TRUST_CHECK_EVERY


def _upload_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Runs before every before_request hook, so before the chassis's body cap
    # (api.security): an image upload to this route may be larger than a JSON body.
    if endpoint != _ENDPOINT or request.mimetype != _MULTIPART:
        return
    limit = request.max_content_length
    if limit is not None and limit < MAX_UPLOAD_LENGTH:
        request.max_content_length = MAX_UPLOAD_LENGTH


bp.record_once(_init_presentations)
bp.url_value_preprocessor(_upload_limit)


class VerifyBody(BaseModel):
    """A scanned QR text and the scene it is shown for."""

    model_config = ConfigDict(extra="forbid")

    qr: str = Field(
        min_length=1,
        max_length=MAX_QR_LENGTH,
        description="The QR code's text: a presentation (compact `EC2:…` or `EC1:…` or plain "
        "SD-JWT), a set presentation (a JSON array of 2 to 4 presentations, for a scene "
        "with `all_of`) or an online QR URL `<base>/p/<token>`.",
    )
    scene: str = Field(pattern=_SCENE, description="A scene id (`hotel`).")


class VerifyForm(BaseModel):
    """An image of the QR code and the scene it is shown for."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    # A part with a filename (werkzeug's FileStorage); a plain text field is refused.
    image: Annotated[FileStorage, WithJsonSchema({"type": "string", "format": "binary"})] = Field(
        description="A PNG or JPEG image holding one QR code (a camera frame, a photo, "
        "a screenshot), at most 10 MiB and 40 megapixels."
    )
    scene: str = Field(pattern=_SCENE, description="A scene id (`hotel`).")


class ResultError(BaseModel):
    """One failed check."""

    code: str = Field(description="A stable code of DESIGN.md §4 (`revoked`…).")
    message: str
    member: int | None = Field(
        default=None,
        description="A set presentation's error only: the place (0-based) of the member "
        "it is about; absent for a required type that is missing, and for a single "
        "presentation.",
    )
    vct: str | None = Field(
        default=None,
        description="A set presentation's error only: the credential type it is about, "
        "when known (a missing type's too).",
    )


class ResultMember(BaseModel):
    """One member of a set presentation."""

    vct: str | None = Field(description="Its credential type (null if it was unreadable).")
    iss: str | None
    status: Literal["valid", "revoked", "suspended", "unavailable", "stale"] | None
    role: Literal["member", "ward", "guardianship", "principal", "care_authorisation"] = Field(
        description="What it is there for: `member` of the scene's `all_of` set, or a "
        "guardian's or carer's link and the credential it presents."
    )


class VerificationAnswer(BaseModel):
    """The verification result of DESIGN.md §4."""

    valid: bool
    vct: str | None
    iss: str | None
    scene: str
    status: Literal["valid", "revoked", "suspended", "unavailable", "stale"] | None
    claims: dict[str, Any] = Field(
        description="Only the claims the scene asks for, and only when valid; for a "
        "scene with `portrait: true`, also `portrait` (a `data:image/…;base64,` URL) "
        "when the presentation disclosed it (online QR codes only). For a set "
        "presentation: each member's `vct` mapped to its claims."
    )
    errors: list[ResultError]
    checked_at: int
    made_for: str | None = Field(
        default=None,
        description="Only in a refused result whose code was made for another scene "
        "(`key_binding_invalid`): the id of the scene it was made for, so staff can "
        "ask for a code for theirs. Absent otherwise.",
    )
    members: list[ResultMember] | None = Field(
        default=None,
        description="Only for a set presentation (a JSON array of presentations, "
        "docs/formats.md): its members in order. Then `vct` and `iss` are null and "
        "`status` is the worst of the members'.",
    )


#: Both request bodies, documented by hand: flask-openapi3 documents one per operation.
_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {"schema": VerifyBody.model_json_schema()},
        _MULTIPART: {
            "schema": VerifyForm.model_json_schema(),
            "encoding": {"image": {"contentType": "image/png, image/jpeg"}},
        },
    },
}


@bp.post(
    "/verify",
    summary="Verify a presentation for a scene",
    responses={200: VerificationAnswer, **problems(403, 404, 415)},
    openapi_extensions={"requestBody": _REQUEST_BODY},
)
def verify() -> dict[str, Any]:
    """Verify a scanned QR for the scene, with live status and replay detection.

    The body is JSON `{"qr", "scene"}` with the QR text, or `multipart/form-data`
    with `image` (PNG or JPEG, at most 10 MiB) and `scene`; an image without a
    readable QR code answers a result with `malformed`. An online QR URL
    (`<base>/p/<token>`) is redeemed once: again, it answers `replayed`; after its
    presentation expired, `presentation_expired`; a token the service does not know,
    `malformed`. The venue's key must allow the scene (`403 forbidden` otherwise).
    """
    venue = current_venue()
    image: FileStorage | None = None
    if request.mimetype == _MULTIPART:
        form = _validated(VerifyForm, _form_fields(), "form")
        scene, image, text = form.scene, form.image, ""
    elif request.is_json:
        body = _validated(VerifyBody, request.get_json(silent=True), "body")
        scene, text = body.scene, body.qr
    else:
        raise UnsupportedMediaType(
            "Send JSON (application/json) or an image (multipart/form-data).",
        )
    if scene not in venue.scenes:
        raise Forbidden("This venue may not verify for this scene.")
    verification = services().verification
    verification.require_scene(scene)
    if image is not None:
        try:
            text = _decode_image(image)
        except Malformed as err:
            # Not a verification (a camera frame without a code, most often): not counted.
            return dict(verification.refused(scene, err.code, err.message).to_dict())
    return _answer(verification.verify(text, scene, venue_id=venue.venue_id))


# -- helpers ---------------------------------------------------------------------------

_Model = TypeVar("_Model", bound=BaseModel)


def _validated(model: type[_Model], data: Any, part: Literal["body", "form"]) -> _Model:
    """``data`` as ``model``, or a 400 ``invalid_request`` naming the failing fields."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        _invalid(exc, part, data)


def _invalid(exc: ValidationError, part: str, data: Any) -> NoReturn:
    # validation_problem finds the request part from the view's annotations; this
    # view validates by hand (two media types), so say which part it was.
    answer: Response = validation_problem(exc)
    body = answer.get_json()
    errors = [{**error, "in": part} for error in body.get("errors", [])]
    detail = body["detail"]
    if part == "body" and data is None and request.get_data(cache=True):
        detail = "The body is not valid JSON."
    abort(problem("invalid_request", detail, 400, errors=errors))


def _form_fields() -> dict[str, Any]:
    return {**request.form.to_dict(), **request.files.to_dict()}


def _decode_image(image: FileStorage) -> str:
    """The text of the QR code in an uploaded PNG or JPEG. Raises ``Malformed``."""
    data = image.stream.read(MAX_IMAGE_BYTES + 1)
    if not data.startswith(_IMAGE_MAGIC):
        raise Malformed("the file is not a PNG or JPEG image")
    return decode_qr(data)


def _answer(result: VerificationResult) -> dict[str, Any]:
    code = result.codes[0] if result.codes else "none"
    metrics.count(
        "ecert_verifications_total",
        result="valid" if result.valid else "invalid",
        code=code if code == "none" or code in ERROR_CODES else "other",
    )
    return dict(result.to_dict())
