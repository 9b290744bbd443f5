"""The HTTP service (DESIGN.md §6): a thin Flask shell over the domain packages.

:func:`create_app` builds the chassis every endpoint stands on:

- :mod:`api.openapi`: the app object (flask-openapi3), request validation from
  pydantic models, ``GET /openapi.json`` (OpenAPI 3.1 generated from the code);
- :mod:`api.errors`: every error as RFC 9457 ``application/problem+json`` with a
  stable ``code`` (one handler for the domain's ``EcertError``);
- :mod:`api.security`: security headers, CORS, ``ProxyFix``, body cap, bearer parsing;
- :mod:`api.jsonbody`: JSON bodies read with the strict reader, hostile ones a 400;
- :mod:`api.metrics`: ``GET /metrics`` (Prometheus) with a per-app registry;
- :mod:`api.logging`: one log line per request and ``X-Request-Id``.

Adding endpoints: write an ``APIBlueprint`` per audience (the pattern is in
:mod:`api.openapi`), then register it in :func:`_register_blueprints` below. Clients
and services (the store, the issuer…) go into ``app.extensions[...]`` from an
``init_app(app)`` function called in :func:`create_app`, never at import time.
``docs/api.md`` describes the conventions for API users.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from flask import Flask
from pydantic import BaseModel

from api import (
    auth,
    errors,
    issuing,
    jsonbody,
    metrics,
    openapi,
    public,
    security,
    verify_api,
    wallet_api,
)
from api import logging as request_logging
from api.pages import bp as pages_bp
from api.services import init_services

__all__ = ["DEFAULTS", "create_app"]

#: Configuration defaults; each can be set as ``ECERT_<KEY>`` in the environment
#: (JSON values: ``ECERT_TRUST_PROXY=1``, ``ECERT_CORS_ORIGINS='["https://a.example"]'``)
#: or in the mapping given to :func:`create_app`.
DEFAULTS: dict[str, Any] = {
    **security.DEFAULTS,
    # Seconds announced in Retry-After when the store is unavailable (503).
    "RETRY_AFTER": 5,
    "LOG_LEVEL": "INFO",
}


class Health(BaseModel):
    """The answer of ``GET /healthz``."""

    status: Literal["ok"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``ECERT_*`` environment variables, then ``config``.

    Raises ``ValueError`` for unusable configuration values (see :mod:`api.security`).
    """
    app = openapi.build_app(__name__, instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("ECERT")
    if config is not None:
        app.config.from_mapping(config)

    # Order matters: Flask runs after_request hooks in reverse order of registration,
    # so the request log (first) sees the final response, headers included.
    request_logging.init_app(app)
    metrics.init_app(app)
    security.init_app(app)
    jsonbody.init_app(app)  # after the body cap: JSON bodies read strictly, or a 400
    errors.init_app(app)
    openapi.init_app(app)
    # The store, keys and accounts of the instance named by INSTANCE / REDIS_URL /
    # KEY_SECRET / BASE_URL (see api.services); opened now, so that a bad
    # configuration fails at start-up rather than on the first request.
    init_services(app)

    @app.get(
        "/healthz", tags=[openapi.TAG_SYSTEM], summary="Liveness check", responses={200: Health}
    )
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    _register_blueprints(app)
    return app


def _register_blueprints(app: openapi.EcertOpenAPI) -> None:
    """Register the business endpoints (one ``APIBlueprint`` per audience)."""
    for blueprint in (auth.bp, issuing.bp, wallet_api.bp, verify_api.bp, public.bp):
        app.register_api(blueprint)
    app.register_api(pages_bp)  # the web pages /wallet and /scan (api/web/)
