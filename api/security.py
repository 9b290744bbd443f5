"""Security defaults of every response: headers, CORS, proxies, body cap, bearer parsing.

Configuration (``ECERT_*`` environment variables or ``create_app(config)``):

``MAX_CONTENT_LENGTH`` (65536)
    Bodies above it answer 413 ``too_large`` before any view runs (when the length
    is declared) or as soon as reading passes it (chunked bodies; werkzeug).
``TRUST_PROXY`` (0)
    How many reverse proxies stand in front. When above 0, werkzeug's ``ProxyFix``
    trusts that many ``X-Forwarded-For`` and ``X-Forwarded-Proto`` values (client
    address; https, hence HSTS). ``X-Forwarded-Host``/``-Port``/``-Prefix`` are never
    trusted: the proxy passes ``Host`` through, and absolute URLs use ``BASE_URL``.
``CORS_ORIGINS`` (empty)
    Origins allowed to call the API from a browser: a list, or one string separated
    by commas or spaces; ``*`` allows any. Empty: no CORS header at all.
``CORS_PATHS`` (``/api/v1/``, ``/.well-known/``, ``/issuers/``, ``/trust-list``, ``/openapi.json``)
    Path prefixes CORS applies to (the API and the public documents). Add the
    prefix of any new public endpoint here.
``HSTS_MAX_AGE`` (31536000)
    ``Strict-Transport-Security: max-age=…`` on responses to secure requests; 0: none.

Headers set on every response, each only if the view did not set it already (so an
HTML page sets its own ``Content-Security-Policy`` simply by setting the header):
``X-Content-Type-Options: nosniff``, ``Content-Security-Policy:`` :data:`DEFAULT_CSP`,
``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``; HSTS on secure
requests; ``Cache-Control: no-store`` under ``/api/v1/`` (personal data). A public,
cacheable endpoint sets its own ``Cache-Control: max-age=…`` and keeps it.

CORS responses carry ``Vary: Origin`` and, for an allowed ``Origin``,
``Access-Control-Allow-Origin`` (never ``-Allow-Credentials``: bearer tokens travel
in ``Authorization``, not cookies); preflights (``OPTIONS`` with
``Access-Control-Request-Method``) also get the allowed methods and headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from api.errors import AuthError

__all__ = [
    "DEFAULT_CSP",
    "DEFAULTS",
    "SecuritySettings",
    "bearer_token",
    "init_app",
]

EXTENSION = "ecert.security"

#: For API and JSON answers: nothing may load, nothing may frame.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"

#: Configuration defaults, merged by :func:`api.create_app`.
DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "TRUST_PROXY": 0,
    "CORS_ORIGINS": (),
    "CORS_PATHS": ("/api/v1/", "/.well-known/", "/issuers/", "/trust-list", "/openapi.json"),
    "HSTS_MAX_AGE": 365 * 24 * 3600,
}

_CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, If-None-Match"
_CORS_EXPOSE_HEADERS = "Retry-After, X-Request-Id, ETag, Location, WWW-Authenticate"
_CORS_MAX_AGE = "600"
_API_PREFIX = "/api/v1/"

# RFC 6750 §2.1 b64token.
_BEARER = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_MAX_TOKEN = 4096


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    """The parsed security configuration of one app (``app.extensions["ecert.security"]``)."""

    cors_origins: frozenset[str]
    cors_paths: tuple[str, ...]
    hsts_max_age: int
    trust_proxy: int

    @classmethod
    def from_config(cls, config: Any) -> SecuritySettings:
        """Read and check the keys above. Raises ``ValueError`` for unusable values."""
        trust_proxy = _non_negative_int(config.get("TRUST_PROXY", 0), "TRUST_PROXY")
        hsts = _non_negative_int(config.get("HSTS_MAX_AGE", 0), "HSTS_MAX_AGE")
        origins = frozenset(_normalise_origin(o) for o in _words(config.get("CORS_ORIGINS")))
        paths = tuple(_words(config.get("CORS_PATHS")))
        return cls(
            cors_origins=origins, cors_paths=paths, hsts_max_age=hsts, trust_proxy=trust_proxy
        )


def init_app(app: Flask) -> None:
    """Parse the settings, trust the proxies if told, register the request hooks.

    Raises ``ValueError`` for an unusable ``TRUST_PROXY``, ``HSTS_MAX_AGE`` or CORS value.
    """
    settings = SecuritySettings.from_config(app.config)
    app.extensions[EXTENSION] = settings
    if settings.trust_proxy:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trust_proxy, x_proto=settings.trust_proxy
        )
    app.before_request(_cap_body)
    app.after_request(_secure_response)


def bearer_token() -> str:
    """The token of the request's ``Authorization: Bearer <token>`` header.

    Raises :class:`api.errors.AuthError` (``unauthorized``, 401 with
    ``WWW-Authenticate: Bearer``) when it is missing or malformed.

    .. warning:: Never log or echo the token; compare its hash in constant time.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("A bearer token is required.")
    if len(token) > _MAX_TOKEN or not _BEARER.fullmatch(token):
        raise AuthError("The bearer token is malformed.")
    return token


# -- hooks -----------------------------------------------------------------------------


def _cap_body() -> None:
    limit = request.max_content_length
    if limit is None:
        return
    length = request.content_length
    if length is not None:
        if length > limit:
            raise RequestEntityTooLarge(f"The body is larger than {limit} bytes.")
        return
    if "wsgi.input_terminated" in request.environ:
        # A chunked body (no Content-Length). werkzeug stops reading at the limit and
        # hands the view a truncated body (then a confusing 400); read it here, and if
        # the limit was reached, look for one byte more.
        data = request.get_data(cache=True)
        if len(data) >= limit and request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge(f"The body is larger than {limit} bytes.")


#: The headers every response gets unless the view set them: (lower-case name, name, value).
_SECURITY_HEADERS = tuple(
    (name.lower(), name, value)
    for name, value in (
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", DEFAULT_CSP),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
    )
)


def _secure_response(response: Response) -> Response:
    # The names present are read once and the missing defaults added in one extend:
    # four setdefault calls scan the header list four times (~25 µs a request).
    settings: SecuritySettings = current_app.extensions[EXTENSION]
    headers = response.headers
    present = {name.lower() for name in headers.keys()}  # noqa: SIM118 (Headers: names)
    missing = [(name, value) for lower, name, value in _SECURITY_HEADERS if lower not in present]
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy walk
    if settings.hsts_max_age and req.is_secure and "strict-transport-security" not in present:
        missing.append(("Strict-Transport-Security", f"max-age={settings.hsts_max_age}"))
    path: str = req.path
    if path.startswith(_API_PREFIX) and "cache-control" not in present:
        missing.append(("Cache-Control", "no-store"))
    if missing:
        headers.extend(missing)
    if settings.cors_origins and path.startswith(settings.cors_paths):
        _cors(response, settings)
    return response


def _cors(response: Response, settings: SecuritySettings) -> None:
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if "*" in settings.cors_origins:
        allowed = "*"
    elif _normalise_origin(origin) in settings.cors_origins:
        allowed = origin
    else:
        return
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = allowed
    headers["Access-Control-Expose-Headers"] = _CORS_EXPOSE_HEADERS
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        headers["Access-Control-Allow-Methods"] = headers.get("Allow") or "GET, HEAD, OPTIONS"
        headers["Access-Control-Allow-Headers"] = _CORS_ALLOW_HEADERS
        headers["Access-Control-Max-Age"] = _CORS_MAX_AGE


# -- configuration parsing -------------------------------------------------------------


def _words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [w for w in re.split(r"[\s,]+", value) if w]
    if isinstance(value, Iterable):
        return [str(w).strip() for w in value if str(w).strip()]
    raise ValueError(f"expected a list of strings, not {type(value).__name__}")


def _normalise_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _non_negative_int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from err
    if number < 0:
        raise ValueError(f"{name} must be 0 or more, not {number}")
    return number
