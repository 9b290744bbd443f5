"""Request bodies are read with ecert's one strict JSON reader (:mod:`keys.jsonstrict`).

Two pieces, wired by :func:`init_app`:

- :class:`StrictJSONProvider`, the app's JSON provider: ``request.get_json()`` (and so
  flask-openapi3's body validation, which calls ``get_json(silent=True)``) parses
  with the strict reader. A refusal is a ``ValueError``, which is what werkzeug's
  ``get_json`` expects of a parser (before, ~1,000 ``[`` raised ``RecursionError``
  there: a 500 and a traceback in the log).
- a ``before_request`` hook that reads every JSON body of a routed request before
  any view or authentication runs, so that a hostile body (nested deeper than 64
  levels, duplicate member names, ``NaN``, ``1e400``, a lone surrogate, invalid
  UTF-8, or not JSON at all) answers the same ``400 invalid_request`` on every route,
  authenticated or not, whether or not the route reads a body. A body that is a
  bare JSON string is refused too: no endpoint takes one, and flask-openapi3 would
  parse the string's content as JSON a second time, with pydantic's lax parser.

The answer: ``detail`` "The body is not valid JSON." and one ``errors`` entry
``{"in": "body", "pointer": "#", "code": "json_invalid", "detail": <why>}``; the
reason never quotes the body.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider

from api.errors import problem
from keys.errors import FormatError
from keys.jsonstrict import MAX_BYTES, loads

__all__ = ["BodyNotJSON", "StrictJSONProvider", "init_app"]


class BodyNotJSON(ValueError):
    """A JSON text refused by the strict reader (a ``ValueError`` for werkzeug)."""


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's default provider, with :func:`keys.jsonstrict.loads` for parsing."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse strictly; raises :class:`BodyNotJSON` (a ``ValueError``)."""
        try:
            return loads(s, max_bytes=_limit())
        except FormatError as err:
            raise BodyNotJSON(err.message) from None


def init_app(app: Flask) -> None:
    """Install the strict provider and the body check (after the body cap's hook)."""
    app.json = StrictJSONProvider(app)
    app.before_request(_refuse_unreadable_json)


def _limit() -> int:
    # The body cap (api.security) is enforced before any body is read; this bound
    # only keeps the reader's own default from refusing a larger configured cap.
    cap = request.max_content_length if request else None
    return max(MAX_BYTES, cap or 0)


def _refuse_unreadable_json() -> None:
    if request.routing_exception is not None or not request.is_json:
        return  # 404/405 stay what they are; other media types are not parsed as JSON
    data = request.get_data(cache=True)
    if not data:
        return
    value = request.get_json(silent=True)  # cached for the view
    if value is None:
        try:
            loads(data, max_bytes=_limit())
        except FormatError as err:
            _refuse(err.message)
    elif isinstance(value, str):
        _refuse("the body is a JSON string, not an object")


def _refuse(reason: str) -> None:
    error = {"in": "body", "pointer": "#", "code": "json_invalid", "detail": reason}
    abort(problem("invalid_request", "The body is not valid JSON.", 400, errors=[error]))
