"""Errors of the SD-JWT VC format (RFC 9901) and its transports."""

from __future__ import annotations

from keys.errors import FormatError

__all__ = ["FormatError", "DisclosureInvalid"]


class DisclosureInvalid(FormatError):
    """A disclosure is malformed, unreferenced, referenced twice or clashes with a claim."""

    code = "disclosure_invalid"
