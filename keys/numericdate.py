"""NumericDate claims (RFC 7519 §2): ``exp``, ``nbf``, ``iat`` of every token ecert reads.

One function for all of them (credential, KB-JWT, trust list, status list), so that
what counts as a date is decided once: a JSON number of seconds since the epoch,
finite, within ±2^53 (beyond that a number is no longer exact as a double, and no
clock reaches it). A fraction is allowed unless the format asks for an integer.
``null``, strings, booleans, arrays, objects, ``1e400`` and ``18446744073709551616``
are not dates. An absent claim is absent; a *present* ``null`` is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

from keys.errors import FormatError

#: The largest NumericDate magnitude accepted: 2^53 seconds (about 285 million years).
MAX_NUMERIC_DATE = 2**53


@overload
def numeric_date(
    claims: Mapping[str, Any],
    name: str,
    *,
    required: Literal[True] = ...,
    integer: bool = ...,
    where: str = ...,
) -> int | float: ...


@overload
def numeric_date(
    claims: Mapping[str, Any],
    name: str,
    *,
    required: bool,
    integer: bool = ...,
    where: str = ...,
) -> int | float | None: ...


def numeric_date(
    claims: Mapping[str, Any],
    name: str,
    *,
    required: bool = True,
    integer: bool = False,
    where: str = "the token",
) -> int | float | None:
    """The NumericDate claim ``name`` of ``claims``, or None when it is absent and optional.

    ``integer=True`` also refuses a fraction, even ``5.0`` (for formats that say
    "integer", such as the trust list). ``where`` names the token in the message ("the credential").
    Raises :class:`FormatError` (code ``malformed``) when the claim is missing but
    required, or present with anything but a NumericDate, ``null`` included.
    """
    if name not in claims:
        if required:
            raise FormatError(f"{where} has no '{name}'")
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormatError(f"{where}'s '{name}' must be a number of seconds")
    if integer and not isinstance(value, int):
        raise FormatError(f"{where}'s '{name}' must be an integer")
    if not -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE:  # NaN fails this too
        raise FormatError(f"{where}'s '{name}' must be finite and within ±2^53 seconds")
    return value
