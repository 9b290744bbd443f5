"""The Flask glue of the service layer: one :class:`service.instance.Ecert` per app.

:func:`init_services` opens the instance the app's :class:`~service.settings.Settings`
name (``create_app`` reads them once) and keeps it in ``app.extensions["ecert"]``;
views reach it through :func:`services` and call one use case on it.
"""

from __future__ import annotations

from flask import Flask, current_app

from service.instance import Ecert
from service.settings import Settings

__all__ = ["SETTINGS", "Services", "init_services", "services"]

#: Where the app keeps its :class:`Settings` (``app.extensions[SETTINGS]``).
SETTINGS = "ecert.settings"

#: What ``app.extensions["ecert"]`` holds (the name tests and type hints use).
Services = Ecert


def init_services(app: Flask, settings: Settings) -> Ecert:
    """Open the instance ``settings`` name and keep it (and them) in ``app.extensions``."""
    built = Ecert.open(settings)
    app.extensions[SETTINGS] = settings
    app.extensions["ecert"] = built
    return built


def services() -> Ecert:
    """The current app's instance (inside a request or app context)."""
    built: Ecert = current_app.extensions["ecert"]
    return built
