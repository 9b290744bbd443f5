"""One log line per request, and the ``ecert`` logger.

Each answered request logs, on ``ecert.api`` at INFO (ERROR for 5xx), in logfmt::

    request method=GET rule=/api/v1/wallet/credentials/<id> status=200 duration_ms=3.1
    request_id=4f2a9c0e1b7d3a65

(one line; wrapped here)

- ``rule`` is the URL rule, not the path (paths hold ids); ``<unmatched>`` if none.
- Never logged: query strings, bodies, headers (``Authorization`` above all), tokens,
  exception messages. Code that logs more must keep to this (issue 3: a test scans
  the logs of the whole suite for personal data and JWTs).
- ``request_id`` is also sent back as ``X-Request-Id``. It is new for every
  request, unless ``TRUST_PROXY`` is set and the proxy sent a well-formed
  ``X-Request-Id`` (letters, digits, ``._-``, at most 64), which is then kept so
  that the proxy's and the service's logs line up.

:func:`configure_logging` sets the level of the ``ecert`` logger (config
``LOG_LEVEL``, default INFO). It adds a stderr handler to ``ecert`` only when no
handler at all would receive its records (no handler on ``ecert`` or on the root);
it never touches the root logger, and nothing happens at import time. Under
gunicorn or a host application that configures logging, records propagate to it.

.. warning:: The WSGI server's own access log is outside this module: werkzeug's
   development server and gunicorn's default access format log the full request
   line, *with* the query string. Serve with an access-log format without ``%(r)s``
   / ``%(U)s%(q)s``, or with the access log off (this line replaces it).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request

from service.ids import random_hex

__all__ = [
    "LOGGER_NAME",
    "configure_logging",
    "init_app",
    "request_id",
]

LOGGER_NAME = "ecert"
log = logging.getLogger("ecert.api")

_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_HANDLER_MARK = "_ecert_default_handler"


def configure_logging(level: int | str = logging.INFO) -> logging.Logger:
    """Set the level of the ``ecert`` logger; give it a stderr handler if nothing would print.

    Raises ``ValueError`` for an unknown level name.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    if not logger.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        setattr(handler, _HANDLER_MARK, True)
        logger.addHandler(handler)
    return logger


def init_app(app: Flask) -> None:
    """Configure the ``ecert`` logger and log every request of ``app``.

    Register it before the other request hooks: Flask runs ``after_request``
    functions in reverse order, so this line is written last, with the final status.
    Raises ``ValueError`` for an unknown ``LOG_LEVEL``.
    """
    configure_logging(app.config.get("LOG_LEVEL", "INFO"))
    app.before_request(_begin)
    app.after_request(_finish)


def request_id() -> str | None:
    """The id of the current request (as in ``X-Request-Id``), or None outside one."""
    if not has_request_context():
        return None
    value: Any = g.get("_ecert_request_id")
    return value if isinstance(value, str) else None


def _begin() -> None:
    g._ecert_request_start = time.perf_counter()
    g._ecert_request_id = _incoming_id() or random_hex(8)


def _incoming_id() -> str | None:
    try:
        trusted = int(current_app.config.get("TRUST_PROXY", 0)) > 0
    except (TypeError, ValueError):
        trusted = False
    if not trusted:
        return None
    value = request.headers.get("X-Request-Id", "")
    return value if _INCOMING_ID.fullmatch(value) else None


def _finish(response: Response) -> Response:
    start = g.get("_ecert_request_start")
    duration_ms = (time.perf_counter() - start) * 1000 if start is not None else 0.0
    rid = request_id() or random_hex(8)
    response.headers["X-Request-Id"] = rid
    method = request.method if request.method in _METHODS else "other"
    rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    status = response.status_code
    log.log(
        logging.ERROR if status >= 500 else logging.INFO,
        "request method=%s rule=%s status=%d duration_ms=%.1f request_id=%s",
        method,
        rule,
        status,
        duration_ms,
        rid,
    )
    return response
