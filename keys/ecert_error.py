"""The root of ecert's exception hierarchy, alone in its module.

It lives in :mod:`keys` because ``keys`` is the one package every other imports (the
domain packages, ``store``, ``api`` and ``cli``), so no package needs ``api`` or
``cli`` to name it; :mod:`keys.errors` re-exports it as ``keys.errors.EcertError``.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["EcertError"]


class EcertError(Exception):
    """Root of every ecert error.

    ``code`` is a short, stable machine code set on the class only: one class owns a
    code (``tests/test_errors.py``), its subclasses refine it without changing it.
    ``message`` is for people and names no secret and no personal data. ``public``
    names the attributes that an answer may show (the HTTP handler adds them to the
    problem object); they hold names and numbers, never submitted values. Domain
    errors carry no HTTP status: ``api.errors`` derives it from the class.
    """

    code: ClassVar[str] = "error"
    public: ClassVar[tuple[str, ...]] = ()

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
