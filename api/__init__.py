"""The HTTP service (DESIGN.md §6): a thin Flask shell over the domain packages.

Only the application factory and a health check exist yet; the departments', wallet,
verification and public endpoints come with the service milestone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``ECERT_*`` environment variables, then ``config``."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(MAX_CONTENT_LENGTH=64 * 1024)
    app.config.from_prefixed_env("ECERT")
    if config is not None:
        app.config.from_mapping(config)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
