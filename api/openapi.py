"""OpenAPI 3.1 from the code, and request validation, with flask-openapi3.

The application object is a :class:`flask_openapi3.OpenAPI` (a ``Flask`` subclass),
built by :func:`build_app`. Endpoints are written on an ``APIBlueprint`` whose
route decorators take the OpenAPI metadata, and whose view parameters, annotated
with pydantic models, are parsed and validated before the view runs:
``path``, ``query``, ``header``, ``cookie``, ``form`` and ``body`` (the names are
the library's). A request that fails validation never reaches the view: it gets a
400 ``invalid_request`` problem listing the failing fields, never their values
(:func:`api.errors.validation_problem`).

Adding an endpoint (one blueprint per audience, STYLE.md §2)::

    from typing import Any

    from pydantic import BaseModel, ConfigDict, Field

    from api.openapi import SECURITY_DEPARTMENT, APIBlueprint, Tag, problems

    bp = APIBlueprint("issuing", __name__, url_prefix="/api/v1",
                      abp_tags=[Tag(name="issuing")], abp_security=SECURITY_DEPARTMENT)

    class IssuerPath(BaseModel):
        issuer: str = Field(pattern=r"^[a-z0-9-]{1,64}$")

    class IssueBody(BaseModel):
        model_config = ConfigDict(extra="forbid")
        vct: str
        citizen_id: str
        claims: dict[str, Any]

    class Issued(BaseModel):
        id: str
        vct: str

    @bp.post("/issuers/<issuer>/credentials",
             responses={201: Issued, **problems(403, 404, 409)})
    def issue(path: IssuerPath, body: IssueBody):
        # The view's docstring, if any, becomes the operation's summary/description.
        record = services().issue(path.issuer, body.vct, body.citizen_id, body.claims)
        return Issued(id=record.id, vct=record.vct).model_dump(), 201

then, in :func:`api.create_app`, ``app.register_api(bp)``. Notes:

- Give the ``url_prefix`` to the ``APIBlueprint`` itself, not to ``register_api``.
- Declare the errors the endpoint documents with ``problems(...)``; every operation
  also gets, automatically: ``default`` (any other problem), 400 when it has
  parameters or a body, 413 when it has a body, and 401 with ``WWW-Authenticate``
  when it declares ``security``.
- ``security`` (or ``abp_security``) only *documents* the scheme; the view (or a
  ``before_request`` of the blueprint) still checks the bearer value, see
  :func:`api.security.bearer_token`.
- Path variables reach the view only through a ``path`` model (a view
  ``def f(item_id: str)`` gets nothing: flask-openapi3 consumes them).
- Models must be importable module-level classes (annotations are resolved with
  ``typing.get_type_hints``).
- Non-JSON answers (PNG, JWT, HTML) document their media type with a dict response,
  e.g. ``{200: {"content": {"application/statuslist+jwt": {"schema": {"type":
  "string"}}}}}``.

``GET /openapi.json`` serves the document; it is generated once, on first request,
from everything registered by then (register all blueprints inside ``create_app``).
There is no documentation UI (no Swagger page: nothing to set a CSP for).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any

from flask import Flask, Response, current_app, jsonify
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.info import Info
from flask_openapi3.models.tag import Tag
from flask_openapi3.openapi import OpenAPI
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from api.errors import PROBLEM_MIMETYPE, validation_problem

__all__ = [
    # re-exported from flask-openapi3, for the blueprints
    "APIBlueprint",
    "Tag",
    # schemas
    "Problem",
    "FieldError",
    # security declarations
    "SECURITY_SCHEMES",
    "SECURITY_DEPARTMENT",
    "SECURITY_VENUE",
    "SECURITY_CITIZEN",
    "SECURITY_OPERATOR",
    # responses and tags
    "problems",
    "TAG_SYSTEM",
    "PROBLEM_REF",
    # wiring
    "EcertOpenAPI",
    "build_app",
    "init_app",
]


def _no_default(schema: dict[str, Any]) -> None:
    # An optional member is documented as "may be absent", not as "null by default".
    schema.pop("default", None)


class FieldError(BaseModel):
    """One failing field of a request (never its value)."""

    model_config = ConfigDict(populate_by_name=True)

    in_: str | SkipJsonSchema[None] = Field(
        default=None,
        alias="in",
        description="The part of the request: body, query, path, header, cookie or form.",
        json_schema_extra=_no_default,
    )
    pointer: str = Field(
        description="JSON Pointer (RFC 6901) to the field, as a URI fragment: `#/claims/name`."
    )
    code: str = Field(description="The kind of failure (pydantic's error type), e.g. `missing`.")
    detail: str = Field(description="A human explanation, without the submitted value.")


class Problem(BaseModel):
    """RFC 9457 problem details, with ecert's stable ``code``."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="`https://ecert.example/problems/<code>`, an identifier (not fetched).",
        json_schema_extra={"format": "uri"},
    )
    title: str = Field(description="The HTTP reason phrase of `status`.")
    status: int = Field(description="The HTTP status code, repeated.")
    detail: str = Field(description="A human explanation of this occurrence.")
    code: str = Field(description="The stable machine code; clients switch on it.")
    errors: list[FieldError] | SkipJsonSchema[None] = Field(
        default=None,
        description="For `invalid_request`: the failing fields.",
        json_schema_extra=_no_default,
    )


#: Bearer schemes of DESIGN.md §6, for ``components.securitySchemes``.
SECURITY_SCHEMES: dict[str, Any] = {
    "departmentKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A department API key issued by the operator (`ecert admin`), "
        "scoped to one issuer and the `vct`s it may issue.",
    },
    "venueKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A venue API key issued by the operator, scoped to the venue's scenes.",
    },
    "operatorKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An operator API key (`ecert admin operator-key add NAME`): the "
        "dashboard's figures. A department or venue key answers `403 forbidden`.",
    },
    "citizenToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The `access_token` returned by `POST /api/v1/auth/login`.",
    },
}

#: Values for ``security=`` / ``abp_security=``.
SECURITY_DEPARTMENT: list[dict[str, list[str]]] = [{"departmentKey": []}]
SECURITY_VENUE: list[dict[str, list[str]]] = [{"venueKey": []}]
SECURITY_CITIZEN: list[dict[str, list[str]]] = [{"citizenToken": []}]
SECURITY_OPERATOR: list[dict[str, list[str]]] = [{"operatorKey": []}]

PROBLEM_REF = "#/components/schemas/Problem"

#: The tag of the operator's endpoints (health, metrics, this document).
TAG_SYSTEM = Tag(name="system", description="Health check, metrics and the API document.")

_DESCRIPTIONS = {
    400: "The request is malformed or does not match its schema (`invalid_request`).",
    401: "Missing or invalid bearer credentials (`unauthorized`).",
    403: "The credentials do not allow this (`forbidden`, `issuer_not_authorised`).",
    404: "Not found, or not yours (`not_found`).",
    409: "Conflicts with the current state (`conflict`).",
    413: "The body is larger than the limit (`too_large`).",
    429: "Too many requests; see `Retry-After` (`rate_limited`).",
    503: "Temporarily unavailable; see `Retry-After` (`store_unavailable`).",
}
_RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _problem_response(status: int | str, description: str | None = None) -> dict[str, Any]:
    if description is None:
        description = (
            _DESCRIPTIONS.get(int(status), "An error (see `code`).")
            if status != "default"
            else "Any other error, as problem details (see `code`)."
        )
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_MIMETYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status in (429, 503):
        response["headers"] = dict(_RETRY_AFTER_HEADER)
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"description": "`Bearer`.", "schema": {"type": "string"}}
        }
    return response


def problems(
    *statuses: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting problem+json answers for these statuses.

    (Keyed ``int | str`` like flask-openapi3's ``responses``, so that
    ``{201: Model, **problems(404)}`` type-checks.) ``descriptions`` replaces the
    generic description of a status with the route's own (say which codes it
    answers: ``problems(404, 409, descriptions={409: "... `credential_revoked` ..."})``).
    Raises ``ValueError`` for a status outside 400-599, or described but not listed.
    """
    described = dict(descriptions or {})
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        if not 400 <= status <= 599:
            raise ValueError(f"{status} is not an error status")
        out[status] = _problem_response(status, described.pop(status, None))
    if described:
        raise ValueError(f"descriptions for statuses not listed: {sorted(described)}")
    return out


class EcertOpenAPI(OpenAPI):
    """flask-openapi3's app, with ecert's problem responses added to the generated document."""

    def generate_spec_json(self) -> None:
        """Generate the document, then make every error response a ``Problem``."""
        super().generate_spec_json()  # type: ignore[no-untyped-call]
        spec = self.spec_json
        components = spec.setdefault("components", {})
        if components.get("securitySchemes") is None:
            components.pop("securitySchemes", None)
        validation_status = str(self.validation_error_status)
        for path_item in spec.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                _complete_responses(operation, validation_status)


def _complete_responses(operation: dict[str, Any], validation_status: str) -> None:
    responses: dict[str, Any] = operation["responses"]
    # The library adds its own validation response (a JSON array) to every
    # operation; ours is a Problem, and only where there is something to validate.
    auto = responses.get(validation_status)
    content = {} if auto is None else auto.get("content", {})
    # (a route's own 400 documents problems beside its JSON: kept)
    if "application/json" in content and "application/problem+json" not in content:
        del responses[validation_status]
    has_input = bool(operation.get("parameters")) or "requestBody" in operation
    if has_input:
        responses.setdefault("400", _problem_response(400))
    if "requestBody" in operation:
        responses.setdefault("413", _problem_response(413))
    if operation.get("security"):
        responses.setdefault("401", _problem_response(401))
    responses.setdefault("default", _problem_response("default"))


def build_app(import_name: str, **flask_kwargs: Any) -> EcertOpenAPI:
    """The application object: validation errors as problems, bearer schemes declared."""
    try:
        version = metadata.version("ecert")
    except metadata.PackageNotFoundError:
        version = "0"
    return EcertOpenAPI(
        import_name,
        info=Info(
            title="ecert",
            version=version,
            description="Electronic certificate wallet and verification service. "
            "Errors are RFC 9457 `application/problem+json` with a stable `code`.",
        ),
        security_schemes=SECURITY_SCHEMES,
        validation_error_status=400,
        validation_error_model=Problem,
        validation_error_callback=validation_problem,
        doc_ui=False,
        **flask_kwargs,
    )


def init_app(app: Flask) -> None:
    """Serve the generated document at ``GET /openapi.json``.

    Raises ``TypeError`` if ``app`` was not made by :func:`build_app`.
    """
    if not isinstance(app, EcertOpenAPI):
        raise TypeError("the app must come from api.openapi.build_app")

    @app.get(
        "/openapi.json",
        tags=[TAG_SYSTEM],
        summary="This OpenAPI 3.1 document",
        responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
    )
    def openapi_document() -> Response:
        document = current_app.api_doc  # type: ignore[attr-defined]
        return jsonify(document)
