"""RFC 9457 problem details: the one place where errors become HTTP responses.

Every error answer of the service is ``application/problem+json``::

    {"type": "https://ecert.example/problems/not_found", "title": "Not Found",
     "status": 404, "detail": "No credential with this id.", "code": "not_found"}

- ``code`` is the stable machine code (``EcertError.code``); clients switch on it.
- ``type`` is ``PROBLEM_TYPE_BASE + code``: an identifier, never fetched (RFC 9457
  §3.1.1 allows non-resolvable URIs). ``about:blank`` is never used, so that every
  problem names its code twice, once as a URI and once as a plain string.
- ``title`` is the HTTP reason phrase of ``status``.
- ``detail`` is the error's ``message`` for client errors (4xx). For server errors
  (5xx) raised by the domain it is a fixed text per class (``_SERVER_DETAIL``):
  messages of server-side failures may name hosts or files, and the client cannot
  act on them anyway.
  :class:`ApiError` raised by a view is trusted: its message is always shown.
- Validation failures add ``errors``: ``[{"in": "body", "pointer": "#/claims/name",
  "code": "missing", "detail": "Field required"}]``, never the submitted values.
- Members named in the error class's ``public`` (``ClaimsInvalid.field``) are added
  to the problem object; ``retry_after`` (seconds, a timedelta or a datetime, on
  :class:`RateLimited`) becomes a ``Retry-After`` header.

Views do not catch errors. They raise a domain error (any :class:`EcertError`
subclass) or one of the errors below that only the HTTP layer knows of; a code is
a class, never a string passed at the raise site::

    raise NotFound("No credential with this id.")   # keys.errors.NotFound
    raise RateLimited("Too many attempts.", retry_after=30)

or return :func:`problem` when building the response by hand. The status comes from
the class: :func:`status_for` walks the exception's MRO and takes the first class in
:data:`STATUS_BY_CLASS` (``UnknownScene`` → 404 before its family ``VerifierMisuse``
→ 400; any ``StoreError`` → 500; a brand-new code gets its family's status). To give
a new code its own status, add its class to the table: that is the only change
needed. ``tests/test_errors.py`` checks that every code is owned by one class, has a
status of its own family or better, and is listed in docs/api.md.

Exactly three handlers are registered by :func:`init_app`: one for
:class:`keys.errors.EcertError` (Flask routes every subclass to it), one for
werkzeug's ``HTTPException`` (404 unknown route, 405, 413…) and a last-resort one
for ``Exception`` (500 ``internal``; the traceback is logged without the exception's
message, and never sent).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import traceback
from collections.abc import Mapping
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any, TypeVar, get_args, get_type_hints

from flask import Flask, Response, current_app, request
from pydantic import ValidationError
from pydantic_core.core_schema import ErrorType
from werkzeug.exceptions import HTTPException

from api.logging import request_id
from issuer.errors import (
    CatalogueError,
    InvalidTransition,
    IssuerError,
    NoSigningKey,
    ProofInputsInvalid,
    StatusListFull,
    UnknownCredential,
    UnknownProofType,
)
from keys.errors import (
    Conflict,
    EcertError,
    FormatError,
    IssuerNotAuthorised,
    KeyBindingInvalid,
    KeyStoreError,
    NotFound,
    PresentationExpired,
    Replayed,
    SceneUnmet,
    SignatureInvalid,
    TrustListError,
    UnknownIssuer,
)
from service.errors import (
    AccountInvalid,
    AuditChainBroken,
    AuthError,
    BatchTooLarge,
    CarerInvalid,
    CarerLimitReached,
    CarerPrincipalUnnamed,
    ChangeInvalid,
    ConsentInvalid,
    ConsentLimitReached,
    DeviceLimitReached,
    Forbidden,
    GuardianshipInvalid,
    GuardianshipWardAdult,
    IdempotencyKeyReused,
    IdempotencyPending,
    JobCorrupt,
    JobKindUnknown,
    LoginFailed,
    Oid4vciTokenInvalid,
    OnlineQrUnavailable,
    ProofQueryInvalid,
    RateLimited,
    ServiceError,
    SettingsInvalid,
    UnknownCitizen,
)
from store.errors import InvalidArgument, StoreError, StoreUnavailable
from verifier.errors import (
    BundleInvalid,
    UnknownScene,
    VerificationError,
    VerifierMisuse,
)
from wallet.errors import CredentialUnusable, WalletCorrupt, WalletError

__all__ = [
    # raising and answering
    "ApiError",
    "problem",
    "problem_body",
    "status_for",
    # tables
    "PROBLEM_TYPE_BASE",
    "PROBLEM_MIMETYPE",
    "STATUS_BY_CLASS",
    "HTTP_CODES",
    "error_classes",
    "code_owner",
    # the API's errors
    "AccountInvalid",
    "AuthError",
    "LoginFailed",
    "Forbidden",
    "RateLimited",
    "UnknownCitizen",
    "UnsupportedMediaType",
    "IdempotencyKeyReused",
    "IdempotencyPending",
    # wiring
    "init_app",
    "validation_problem",
]

log = logging.getLogger("ecert.api")
_T = TypeVar("_T")

PROBLEM_MIMETYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://ecert.example/problems/"

# Detail shown for server errors raised by the domain (their own message may name
# hosts, paths or key ids; see the module docstring).
_SERVER_DETAIL: dict[type[EcertError], str] = {
    StoreUnavailable: "The store is temporarily unavailable; retry later.",
    StatusListFull: "No status list entry is free right now; retry later.",
    NoSigningKey: "The issuer has no active signing key.",
}
_DEFAULT_SERVER_DETAIL = "The server could not complete the request."

# Status → code for werkzeug's HTTP exceptions.
_CODE_BY_HTTP_STATUS: dict[int, str] = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    411: "length_required",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal",
    501: "not_implemented",
    503: "service_unavailable",
}

_HTTP_DETAIL: dict[int, str] = {
    400: "The request cannot be read.",
    401: "Authentication is required.",
    403: "This is not allowed with these credentials.",
    404: "No such resource.",
    405: "The method is not allowed for this resource.",
    406: "No acceptable representation is available.",
    413: "The body is too large.",
    415: "The media type of the body is not supported.",
    429: "Too many requests; retry later.",
    500: _DEFAULT_SERVER_DETAIL,
    503: "The service is temporarily unavailable; retry later.",
}

# Seconds to announce in Retry-After when a 503 does not say (config RETRY_AFTER).
_DEFAULT_RETRY_AFTER = 5


class ApiError(ServiceError):
    """A request the HTTP layer refuses (``invalid_request``); the root of the errors that
    only the HTTP layer knows of. Its message is always shown to the client."""


class UnsupportedMediaType(ApiError):
    """The body's media type is not one this endpoint reads (HTTP 415)."""

    code = "unsupported_media_type"


#: HTTP status by exception class. :func:`status_for` takes the first class of the
#: exception's MRO found here, so a class's own entry wins over its family's.
STATUS_BY_CLASS: dict[type[EcertError], int] = {
    EcertError: 500,  # a code nobody gave a status: the server's fault
    # requests the server cannot read or accept
    ServiceError: 400,
    FormatError: 400,
    SignatureInvalid: 400,
    SceneUnmet: 400,
    PresentationExpired: 400,
    Replayed: 400,
    KeyBindingInvalid: 400,
    VerificationError: 400,
    VerifierMisuse: 400,
    WalletError: 400,
    IssuerError: 400,
    InvalidArgument: 400,
    # who is asking
    AuthError: 401,
    Oid4vciTokenInvalid: 401,  # RFC 6750 §3.1 invalid_token (service.oid4vci)
    Forbidden: 403,
    IssuerNotAuthorised: 403,
    # what is asked for
    NotFound: 404,
    UnknownIssuer: 404,
    UnknownCredential: 404,
    UnknownCitizen: 404,
    UnknownScene: 404,
    UnknownProofType: 404,
    Conflict: 409,
    InvalidTransition: 409,
    DeviceLimitReached: 409,
    ConsentLimitReached: 409,
    CarerLimitReached: 409,
    # a revoked, suspended or expired credential: no presentation is made
    CredentialUnusable: 409,
    BatchTooLarge: 413,
    UnsupportedMediaType: 415,
    IdempotencyKeyReused: 422,
    ChangeInvalid: 422,
    ConsentInvalid: 422,
    GuardianshipInvalid: 422,
    GuardianshipWardAdult: 422,
    CarerInvalid: 422,
    CarerPrincipalUnnamed: 422,
    ProofInputsInvalid: 422,
    ProofQueryInvalid: 422,
    RateLimited: 429,
    # the server's side
    StoreError: 500,
    KeyStoreError: 500,
    TrustListError: 500,
    NoSigningKey: 500,
    WalletCorrupt: 500,  # a wallet blob that does not open: the server's secret or store
    CatalogueError: 500,  # the shipped catalogue is broken
    BundleInvalid: 500,  # the service builds its bundles: a bad one is its fault
    SettingsInvalid: 500,  # the operator's configuration
    OnlineQrUnavailable: 500,  # BASE_URL too long for a small online QR code
    JobKindUnknown: 500,  # a deployment without the handler of a job kind
    AuditChainBroken: 500,  # the audit chain was tampered with (service.audit)
    JobCorrupt: 500,  # a job's sealed data does not open: the secret or the store
    StatusListFull: 503,
    StoreUnavailable: 503,
}

#: Codes that only werkzeug's HTTP exceptions (and :func:`problem`) answer, by status.
HTTP_CODES: dict[str, int] = {
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "gone": 410,
    "length_required": 411,
    "precondition_failed": 412,
    "too_large": 413,
    "internal": 500,
    "not_implemented": 501,
    "service_unavailable": 503,
}


def status_for(exc: EcertError | type[EcertError]) -> int:
    """The HTTP status of an error (or error class): its nearest class in the table."""
    cls = exc if isinstance(exc, type) else type(exc)
    return _nearest(cls, STATUS_BY_CLASS) or 500


def _nearest(cls: type[EcertError], table: Mapping[type[EcertError], _T]) -> _T | None:
    """The entry of ``table`` for the first class of ``cls``'s MRO that has one."""
    for klass in cls.__mro__:
        if issubclass(klass, EcertError) and klass in table:
            return table[klass]
    return None


def error_classes() -> list[type[EcertError]]:
    """Every :class:`EcertError` subclass imported so far, the root first."""
    found: list[type[EcertError]] = [EcertError]
    for cls in found:
        found.extend(sub for sub in cls.__subclasses__() if sub not in found)
    return found


def code_owner(code: str) -> type[EcertError] | None:
    """The class that owns ``code`` (defines it itself), if one is imported."""
    for cls in error_classes():
        if cls.__dict__.get("code") == code:
            return cls
    return None


def problem_body(code: str, detail: str, status: int, **extra: Any) -> dict[str, Any]:
    """The problem object as a dict (RFC 9457 members first, then ``code``, then extras)."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": _title(status),
        "status": status,
        "detail": detail,
        "code": code,
    }
    for key, value in extra.items():
        body.setdefault(key, value)
    return body


def problem(
    code: str,
    detail: str,
    status: int | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """An ``application/problem+json`` response, for views that answer an error directly.

    ``status`` defaults to the status of the class that owns ``code`` (400 if none).
    A 401 gets ``WWW-Authenticate: Bearer`` unless ``headers`` sets its own. Needs an
    application context.
    """
    if status is None:
        owner = code_owner(code)
        status = HTTP_CODES.get(code, 400) if owner is None else status_for(owner)
    body = problem_body(code, detail, status, **extra)
    response = current_app.response_class(
        current_app.json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE
    )
    if headers:
        response.headers.update(headers)
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="ecert"')
    return response


def validation_problem(exc: ValidationError) -> Response:
    """Turn a pydantic validation failure of a request into a 400 ``invalid_request``.

    Used as flask-openapi3's ``validation_error_callback``. Lists where each failure
    is (``in`` and a JSON Pointer) and pydantic's kind of failure, never the input.
    """
    where = _request_part(exc)
    errors = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        entry = {
            "pointer": _pointer(err["loc"]),
            "code": err["type"],
            "detail": _safe_message(err["type"], err["msg"]),
        }
        if where is not None:
            entry["in"] = where
        errors.append(entry)
    detail = "The request does not match its schema."
    if where == "body" and not request.is_json:
        detail = "The body must be JSON (Content-Type: application/json)."
    elif where == "body" and request.get_data(cache=True) and request.get_json(silent=True) is None:
        detail = "The body is not valid JSON."
    return problem("invalid_request", detail, 400, errors=errors)


def init_app(app: Flask) -> None:
    """Register the three error handlers on ``app``."""
    app.register_error_handler(EcertError, _handle_ecert_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)


# -- handlers --------------------------------------------------------------------------


def _handle_ecert_error(exc: EcertError) -> Response:
    status = status_for(exc)
    code = exc.code
    if isinstance(exc, ApiError) or status < 500:
        detail = exc.message
    else:
        detail = _nearest(type(exc), _SERVER_DETAIL) or _DEFAULT_SERVER_DETAIL
        log.warning(
            "error code=%s class=%s status=%d request_id=%s",
            code,
            type(exc).__name__,
            status,
            request_id(),
        )
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None and status == 503:
        retry_after = current_app.config.get("RETRY_AFTER", _DEFAULT_RETRY_AFTER)
    if retry_after is not None and status in (429, 503):
        headers["Retry-After"] = _retry_after_value(retry_after)
    extra = {name: getattr(exc, name, None) for name in exc.public}
    extra = {name: value for name, value in extra.items() if value is not None}
    return problem(code, detail, status, headers=headers, **extra)


def _handle_http_exception(exc: HTTPException) -> Response:
    # abort(response) carries a finished response (flask-openapi3 uses it): keep it.
    if exc.response is not None:
        return exc.response  # type: ignore[return-value]
    status = exc.code or 500
    code = _CODE_BY_HTTP_STATUS.get(status, f"http_{status}")
    headers: dict[str, str] = {}
    valid_methods = getattr(exc, "valid_methods", None)
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None and status == 503:
        retry_after = current_app.config.get("RETRY_AFTER", _DEFAULT_RETRY_AFTER)
    if retry_after is not None and status in (429, 503):
        headers["Retry-After"] = _retry_after_value(retry_after)
    detail = exc.description or ""
    if not detail or detail == type(exc).description:
        # werkzeug's stock texts address a human at a browser; keep ours short.
        detail = _HTTP_DETAIL.get(status, _title(status) + ".")
    return problem(code, detail, status, headers=headers)


def _handle_unexpected(exc: Exception) -> Response:
    # A bug. Log where it happened, not what it said: the message of an arbitrary
    # exception may hold personal data or secrets (issue 3, "no personal data in logs").
    rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    log.error(
        "unhandled exception class=%s rule=%s request_id=%s\n%s",
        _exception_chain(exc),
        rule,
        request_id(),
        "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__))).rstrip(),
    )
    return problem("internal", _DEFAULT_SERVER_DETAIL, 500)


# -- helpers ---------------------------------------------------------------------------


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _retry_after_value(value: Any) -> str:
    """Seconds (rounded up, at least 1) or an HTTP-date (RFC 9110 §10.2.3)."""
    if isinstance(value, dt.datetime):
        return format_datetime(value.astimezone(dt.UTC), usegmt=True)
    if isinstance(value, dt.timedelta):
        value = value.total_seconds()
    try:
        seconds = math.ceil(float(value))
    except (TypeError, ValueError, OverflowError):
        seconds = _DEFAULT_RETRY_AFTER
    return str(max(seconds, 1))


def _exception_chain(exc: BaseException) -> str:
    names = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names.append(type(current).__qualname__)
        current = current.__cause__ or current.__context__
    return " <- ".join(names)


def _pointer(loc: tuple[int | str, ...]) -> str:
    """A JSON Pointer (RFC 6901) as a URI fragment, as in RFC 9457 §3's example."""
    parts = (str(p).replace("~", "~0").replace("/", "~1") for p in loc)
    return "#" + "".join("/" + p for p in parts)


# pydantic's own messages never contain the input, except these (they quote a custom
# message or the discriminator found in the input). Custom error types (not in
# pydantic's list) are replaced too, since their templates are not ours to check.
_KNOWN_ERROR_TYPES: frozenset[str] = frozenset(get_args(ErrorType))
_MESSAGE_MAY_ECHO_INPUT: frozenset[str] = frozenset(
    {"value_error", "assertion_error", "union_tag_invalid"}
)


def _safe_message(kind: str, message: str) -> str:
    if kind in _KNOWN_ERROR_TYPES and kind not in _MESSAGE_MAY_ECHO_INPUT:
        return message
    return "Invalid value."


_PARTS = ("header", "cookie", "path", "query", "form", "body")


def _request_part(exc: ValidationError) -> str | None:
    """Which part of the request failed: the view's parameter whose model is ``exc.title``."""
    view = current_app.view_functions.get(request.endpoint or "")
    func = getattr(view, "__wrapped__", view)
    try:
        hints = get_type_hints(func) if func is not None else {}
    except Exception:  # unresolvable annotations: the part stays unknown
        return None
    for part in _PARTS:
        model = hints.get(part)
        if model is not None and getattr(model, "__name__", None) == exc.title:
            return part
    return None
