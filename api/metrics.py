"""Prometheus metrics at ``GET /metrics``, one ``CollectorRegistry`` per app.

Built-in series:

``ecert_http_requests_total{method, endpoint, status}``
    Every answered request. ``endpoint`` is the URL *rule*
    (``/api/v1/wallet/credentials/<id>``), never the path with its ids;
    ``<unmatched>`` when no rule matched. ``method`` is one of the standard methods
    or ``other`` (clients choose methods; a label must not grow without bound).
``ecert_http_request_duration_seconds{method, endpoint}``
    Latency histogram of the same requests.
``ecert_verifications_total{result, code}``
    Verifications by the service: ``result`` ``valid``/``invalid``, ``code`` the
    first error code of DESIGN.md §4 (``none`` when valid).
``ecert_credentials_issued_total{issuer}``
    Credentials issued, by issuer slug.

Endpoint code counts domain events through the hook, inside a request or app context::

    from api import metrics
    metrics.count("ecert_verifications_total", result="invalid", code="revoked")
    metrics.count("ecert_credentials_issued_total", issuer="police")

A new counter is declared once in :data:`COUNTERS` (name, help, label names). Label
values must come from small closed sets: never ids, names or tokens.

``/metrics`` itself is unauthenticated, like ``/healthz``: restrict it at the proxy
(it shows traffic volumes, no personal data).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from api.openapi import TAG_SYSTEM

__all__ = [
    "COUNTERS",
    "Metrics",
    "count",
    "init_app",
]

EXTENSION = "ecert.metrics"

#: Domain counters: exposed name → (help, label names). Declare new ones here.
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ecert_verifications_total": (
        "Presentations verified by the service, by result and first error code.",
        ("result", "code"),
    ),
    "ecert_credentials_issued_total": (
        "Credentials issued, by issuer.",
        ("issuer",),
    ),
}

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNMATCHED = "<unmatched>"
# Latency buckets in seconds: the API answers in milliseconds; verification with a
# cold status list or a slow store reaches into seconds.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Metrics:
    """The registry and collectors of one app (``app.extensions["ecert.metrics"]``)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    counters: dict[str, Counter] = field(default_factory=dict)
    requests: Counter = field(init=False)
    latency: Histogram = field(init=False)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "ecert_http_requests",
            "HTTP requests answered, by method, URL rule and status.",
            ("method", "endpoint", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "ecert_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and URL rule.",
            ("method", "endpoint"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        for name, (doc, labels) in COUNTERS.items():
            # prometheus_client appends "_total" to a counter's name itself.
            self.counters[name] = Counter(
                name.removesuffix("_total"), doc, labels, registry=self.registry
            )

    def count(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` to the counter ``name`` (as exposed, e.g. ``ecert_verifications_total``).

        Raises ``KeyError`` for an undeclared counter and ``ValueError`` for wrong labels.
        """
        try:
            counter = self.counters[name]
        except KeyError:
            raise KeyError(f"undeclared counter {name!r}; add it to api.metrics.COUNTERS") from None
        counter.labels(**labels).inc(amount)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


def count(name: str, amount: float = 1, **labels: str) -> None:
    """Count a domain event on the current app's counter ``name``.

    Raises ``KeyError`` for an undeclared counter, ``ValueError`` for wrong labels,
    ``RuntimeError`` outside an app context.
    """
    metrics: Metrics = current_app.extensions[EXTENSION]
    metrics.count(name, amount, **labels)


def init_app(app: Flask) -> None:
    """Create the app's registry and collectors, time every request, serve ``/metrics``."""
    metrics = Metrics()
    app.extensions[EXTENSION] = metrics
    app.before_request(_start_timer)
    app.after_request(_observe)

    @app.get(
        "/metrics",
        tags=[TAG_SYSTEM],
        summary="Prometheus metrics",
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def metrics_view() -> Response:
        registry: Metrics = current_app.extensions[EXTENSION]
        response = current_app.response_class(
            registry.exposition(), content_type=CONTENT_TYPE_LATEST
        )
        response.headers["Cache-Control"] = "no-store"
        return response


def _start_timer() -> None:
    g._ecert_metrics_start = time.perf_counter()


def _observe(response: Response) -> Response:
    start = g.pop("_ecert_metrics_start", None)
    metrics: Metrics = current_app.extensions[EXTENSION]
    method = request.method if request.method in _METHODS else "other"
    endpoint = request.url_rule.rule if request.url_rule is not None else _UNMATCHED
    metrics.requests.labels(
        method=method, endpoint=endpoint, status=str(response.status_code)
    ).inc()
    if start is not None:
        metrics.latency.labels(method=method, endpoint=endpoint).observe(
            time.perf_counter() - start
        )
    return response
