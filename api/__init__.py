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
    admin_api,
    auth,
    batches_api,
    carers_api,
    changes_api,
    consents_api,
    devices_api,
    errors,
    issuing,
    jsonbody,
    metrics,
    notices_api,
    oid4vci_api,
    oid4vp_api,
    openapi,
    proofs_api,
    public,
    receipts_api,
    security,
    verify_api,
    wallet_api,
)
from api import logging as request_logging
from api.pages import bp as pages_bp
from api.services import init_services
from service.settings import KEYS as SETTING_KEYS
from service.settings import Settings

__all__ = ["DEFAULTS", "create_app"]

#: The HTTP layer's defaults (documentation: :class:`service.settings.Settings` holds them).
DEFAULTS: dict[str, Any] = {
    **security.DEFAULTS,
    # Seconds announced in Retry-After when the store is unavailable (503).
    "RETRY_AFTER": 5,
    "LOG_LEVEL": "INFO",
}


class Health(BaseModel):
    """The answer of ``GET /healthz``."""

    status: Literal["ok"]


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the app from :class:`~service.settings.Settings`.

    ``config`` is the settings themselves, or a mapping of overrides (``INSTANCE``,
    ``TRUST_PROXY``…) applied over the ``ECERT_*`` environment variables, which are
    read here, once (``Settings.from_env``); keys that are no setting (``TESTING``)
    go to ``app.config`` as they are. Raises :class:`~service.errors.SettingsInvalid`
    (a ``ValueError``) for unusable values.
    """
    extra: dict[str, Any] = {}
    if isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env(overrides=config)
        extra = {k: v for k, v in (config or {}).items() if k not in SETTING_KEYS}
    app = openapi.build_app(__name__, instance_relative_config=True)
    app.config.from_mapping(settings.http_config())
    app.config.from_mapping(extra)

    # Order matters: Flask runs after_request hooks in reverse order of registration,
    # so the request log (first) sees the final response, headers included.
    request_logging.init_app(app)
    metrics.init_app(app)
    security.init_app(app)
    jsonbody.init_app(app)  # after the body cap: JSON bodies read strictly, or a 400
    errors.init_app(app)
    openapi.init_app(app)
    # The instance the settings name (see api.services); opened now, so that a bad
    # configuration fails at start-up rather than on the first request.
    init_services(app, settings)

    @app.get(
        "/healthz", tags=[openapi.TAG_SYSTEM], summary="Liveness check", responses={200: Health}
    )
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    _register_blueprints(app)
    return app


def _register_blueprints(app: openapi.EcertOpenAPI) -> None:
    """Register the business endpoints (one ``APIBlueprint`` per audience)."""
    blueprints = (
        auth.bp,
        issuing.bp,
        changes_api.bp,
        wallet_api.bp,
        devices_api.bp,
        notices_api.bp,
        receipts_api.bp,
        receipts_api.ratings_bp,
        batches_api.bp,
        consents_api.requests_bp,
        consents_api.bp,
        carers_api.bp,
        verify_api.bp,
        oid4vp_api.bp,
        public.bp,
        proofs_api.bp,
        admin_api.bp,
        *oid4vci_api.BLUEPRINTS,
    )
    for blueprint in blueprints:
        app.register_api(blueprint)
    app.register_api(pages_bp)  # the web pages /wallet and /scan (api/web/)
