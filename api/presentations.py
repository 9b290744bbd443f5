"""The service's :class:`wallet.online.QrPresentations`: presentation ids and online QR.

Built once per app when the wallet or verify blueprint is registered (the instance is
open by then), with its sealing key derived from the instance's key secret
(``KEY_SECRET``, ``ECERT_KEY_SECRET`` or ``<instance>/secret.key``, as
:func:`service.instance.open_instance` finds it) under the label
:data:`wallet.online.KEY_LABEL`, and the instance's base URL. Views reach it with
:func:`presentations`.
"""

from __future__ import annotations

from flask import current_app
from flask.sansio.app import App

from api.services import Services
from wallet.online import KEY_LABEL, QrPresentations

__all__ = ["EXTENSION", "init_app", "presentations"]

EXTENSION = "ecert.presentations"


def init_app(app: App) -> QrPresentations:
    """Build the app's :class:`QrPresentations` (once; later calls return it)."""
    built: QrPresentations | None = app.extensions.get(EXTENSION)
    if built is None:
        svc: Services = app.extensions["ecert"]
        instance = svc.instance
        built = QrPresentations(
            instance.store, instance.derive_key(KEY_LABEL), instance.platform.base_url
        )
        app.extensions[EXTENSION] = built
    return built


def presentations() -> QrPresentations:
    """The current app's presentations (inside a request or app context)."""
    built: QrPresentations = current_app.extensions[EXTENSION]
    return built
