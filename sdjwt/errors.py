"""Errors raised while parsing the wire formats (re-exported from :mod:`keys.errors`)."""

from __future__ import annotations

from keys.errors import FormatError

__all__ = ["FormatError"]
