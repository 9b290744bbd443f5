"""The one strict JSON reader of ecert: tokens, bundles, request bodies, data files.

What JSON parsers usually let through, refused here with :class:`FormatError`
(code ``malformed``):

- duplicate member names (RFC 7515 §5.2 says a JWS with duplicate Header Parameter
  names MUST be rejected, or parsed keeping only the last one: we reject; I-JSON,
  RFC 7493 §2.3);
- ``NaN``, ``Infinity`` and numbers that overflow to infinity (``1e400``): not JSON
  numbers a program can use (RFC 8259 §6, I-JSON §2.2);
- text that is not Unicode: invalid UTF-8, or a lone surrogate escape such as
  ``"\\ud800"`` (RFC 8259 §8.2, I-JSON §2.1; a valid surrogate *pair* is fine). These
  raise :class:`InvalidUnicode`, so that callers which turn other JSON defects into
  their own code (a disclosure, a KB-JWT) can still report ``malformed``;
- nesting deeper than :data:`MAX_DEPTH` (nothing legitimate needs more, and Python's
  parser would otherwise hit ``RecursionError`` at about a thousand levels);
- input longer than ``max_bytes`` (default :data:`MAX_BYTES`; callers with larger
  legitimate inputs, such as bundles, pass their own limit).

The checks cost next to nothing on the verify path: nesting is looked at only when the
text holds more than :data:`MAX_DEPTH` brackets, surrogates only when it holds a
``\\uD8..``-``\\uDF..`` escape.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, NoReturn

from keys.errors import FormatError
from keys.errors import InvalidUnicode as InvalidUnicode  # re-export

#: Deepest nesting of arrays and objects accepted.
MAX_DEPTH = 64
#: Largest input accepted by default, in bytes (or characters for text input).
MAX_BYTES = 1024 * 1024

# A surrogate escape, \uD800-\uDFFF in either case: only then are strings walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# A JSON string (escapes included), to blank out before counting brackets.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^()]+")
_BRACKETS = str.maketrans({"[": "(", "{": "(", "]": ")", "}": ")"})


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise FormatError("duplicate member name in JSON object")
    return obj


def _no_constant(name: str) -> NoReturn:
    raise FormatError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise FormatError("a JSON number is too large")
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite
)
#: The decoder's scanner: ``decode`` without its two whitespace regexes, for text that is
#: exactly one value (the tokens on the verify path); anything else takes ``decode``.
_SCAN: Callable[[str, int], tuple[Any, int]] = vars(_DECODER)["scan_once"]  # untyped


def loads(data: bytes | str, *, max_bytes: int = MAX_BYTES) -> Any:
    """Parse UTF-8 JSON strictly (see the module's docstring for what is refused).

    Raises :class:`FormatError` (:class:`InvalidUnicode` for text that is not Unicode).
    """
    if len(data) > max_bytes:
        raise FormatError("JSON text is too large")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidUnicode("JSON text is not valid UTF-8") from None
    else:
        text = data
        if not text.isascii():
            try:  # a str may carry raw surrogates (from surrogateescape, say)
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidUnicode("JSON text is not valid Unicode") from None
    # Cheap guards first: one backslash search, and no counting in text too short to
    # nest deeper than the limit (a KB-JWT payload, a disclosure).
    surrogates = "\\" in text and _SURROGATE_ESCAPE.search(text) is not None
    if len(text) > 2 * MAX_DEPTH and text.count("[") + text.count("{") > MAX_DEPTH:
        _check_depth(text)
    try:
        try:
            value, end = _SCAN(text, 0)
        except StopIteration:  # no value at 0: empty, or whitespace first
            end = -1
        if end != len(text):  # whitespace around the value, or an error: the full decoder
            value = _DECODER.decode(text)
    except FormatError:
        raise
    except (ValueError, RecursionError) as err:
        raise FormatError("invalid JSON") from err
    if surrogates:
        _check_strings(value)
    return value


def loads_object(data: bytes | str, *, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Parse strict JSON that must be an object.

    Raises :class:`FormatError`.
    """
    obj = loads(data, max_bytes=max_bytes)
    if not isinstance(obj, dict):
        raise FormatError("JSON value is not an object")
    return obj


def dumps_compact(value: Any) -> str:
    """Serialise compactly, keeping non-ASCII characters as UTF-8 (smaller QR codes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH`, before the parser recurses.

    Brackets inside strings do not count. Every pass removes the innermost pairs, so
    text nested ``d`` deep is empty of pairs after ``d`` passes.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text).translate(_BRACKETS))
    for _ in range(MAX_DEPTH):
        shorter = brackets.replace("()", "")
        if len(shorter) == len(brackets):
            break
        brackets = shorter
    if "()" in brackets or "(" * (MAX_DEPTH + 1) in brackets:
        raise FormatError(f"JSON is nested deeper than {MAX_DEPTH} levels")
    if brackets:
        raise FormatError("invalid JSON: unbalanced brackets")


def _check_strings(value: Any) -> None:
    """Refuse lone surrogates in member names and strings (the parser lets them through)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidUnicode("a JSON string holds a lone surrogate") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)
