"""The Flask glue of the service layer: one :class:`service.instance.Ecert` per app.

:func:`init_services` opens the instance the app's :class:`~service.settings.Settings`
name (``create_app`` reads them once) and keeps it in ``app.extensions["ecert"]``;
views reach it through :func:`services` and call one use case on it.
"""

from __future__ import annotations

from flask import Flask, current_app

from service.instance import Ecert
from service.jobs import JobRunner
from service.settings import Settings

__all__ = ["JOBS", "SETTINGS", "Services", "init_services", "job_runner", "services"]

#: Where the app keeps its :class:`JobRunner` (``app.extensions[JOBS]``).
JOBS = "ecert.jobs"

#: Where the app keeps its :class:`Settings` (``app.extensions[SETTINGS]``).
SETTINGS = "ecert.settings"

#: What ``app.extensions["ecert"]`` holds (the name tests and type hints use).
Services = Ecert


def init_services(app: Flask, settings: Settings) -> Ecert:
    """Open the instance ``settings`` name and keep it (and them) in ``app.extensions``."""
    built = Ecert.open(settings)
    app.extensions[SETTINGS] = settings
    app.extensions["ecert"] = built
    # Jobs created by this app's requests run in a background thread, started by the
    # first one; ``ecert serve`` starts it with each worker, to resume a crashed one's.
    app.extensions[JOBS] = JobRunner(built.jobs)
    return built


def job_runner(app: Flask) -> JobRunner:
    """The app's job runner (``start()`` it to resume jobs left by a crash)."""
    runner: JobRunner = app.extensions[JOBS]
    return runner


def services() -> Ecert:
    """The current app's instance (inside a request or app context)."""
    built: Ecert = current_app.extensions["ecert"]
    return built
