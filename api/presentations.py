"""The app's :class:`service.presentations.QrPresentations`: presentation ids and online QR.

The instance container builds it (:attr:`service.instance.Ecert.presentations`, its
sealing key derived from the instance's key secret under
:data:`service.presentations.KEY_LABEL`, and the instance's base URL). Views reach it with
:func:`presentations`.
"""

from __future__ import annotations

from flask import current_app
from flask.sansio.app import App

from service.instance import Ecert
from service.presentations import QrPresentations

__all__ = ["EXTENSION", "init_app", "presentations"]

EXTENSION = "ecert.presentations"


def init_app(app: App) -> QrPresentations:
    """Register the instance's :class:`QrPresentations` (once; later calls return it)."""
    built: QrPresentations | None = app.extensions.get(EXTENSION)
    if built is None:
        ecert: Ecert = app.extensions["ecert"]
        built = ecert.presentations
        app.extensions[EXTENSION] = built
    return built


def presentations() -> QrPresentations:
    """The current app's presentations (inside a request or app context)."""
    built: QrPresentations = current_app.extensions[EXTENSION]
    return built
