"""JSON parsing that refuses what JSON parsers usually let through.

PyJWT does not reject duplicate member names (RFC 7515 §5.2 says a JWS with
duplicate Header Parameter names MUST be rejected, or parsed with only the last
one kept: we reject), nor ``NaN`` and ``Infinity``, which are not JSON.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from keys.errors import FormatError


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise FormatError("duplicate member name in JSON object")
    return obj


def _no_constant(name: str) -> NoReturn:
    raise FormatError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def loads(data: bytes | str) -> Any:
    """Parse UTF-8 JSON strictly: no duplicate member names, no NaN/Infinity.

    Raises :class:`FormatError`.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return _DECODER.decode(text)
    except FormatError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise FormatError("invalid JSON") from err


def loads_object(data: bytes | str) -> dict[str, Any]:
    """Parse strict JSON that must be an object.

    Raises :class:`FormatError`.
    """
    obj = loads(data)
    if not isinstance(obj, dict):
        raise FormatError("JSON value is not an object")
    return obj


def dumps_compact(value: Any) -> str:
    """Serialise compactly, keeping non-ASCII characters as UTF-8 (smaller QR codes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
