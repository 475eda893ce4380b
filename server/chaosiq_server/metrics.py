"""Prometheus metrics (``GET /metrics``, text format, prometheus-client).

Requests are counted and timed by route *template* (``/api/v1/organizations/
{org}/…/events``, never the raw path: one label value per route, so the number
of series stays bounded), method and status. The other metrics: events
stored, ingest requests refused, database connections in use, and (read from
the database at scrape time) executions running.

One process (the default): the metrics live in this process's memory. With
``serve --workers N`` every worker keeps its own; prometheus-client's
multiprocess mode adds them up when ``PROMETHEUS_MULTIPROC_DIR`` names a
directory (``serve`` makes a fresh temporary one when ``--workers`` > 1 and it
is not set). It must be set before this module is imported: ``serve`` does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .config import MULTIPROC_ENV

disable_created_metrics()  # no ``*_created`` series: half the text, nothing a dashboard uses
UNMATCHED = "<unmatched>"  # the route label of a request no route matched (404s)
# Routes that ingest events: their 4xx/5xx answers also count as ingest errors.
INGEST_SUFFIXES = ("/events", "/events/batch")

REQUESTS = Counter("chaosiq_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "chaosiq_http_request_duration_seconds",
    "Time from the request to the end of the answer",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_INGESTED = Counter("chaosiq_events_ingested_total", "CloudEvents of executions newly stored")
INGEST_ERRORS = Counter(
    "chaosiq_ingest_errors_total", "Event POSTs (single or batch) answered with an error", ["route", "status"]
)
POOL_IN_USE = Gauge(
    "chaosiq_db_pool_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)

# (method, route, status) -> the label children: a dict lookup per request
# instead of prometheus-client's label resolution (bounded like the labels).
_children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}


def route_of(scope: dict[str, Any]) -> str:
    """The template of the route that answered (set by the router, or the front door)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    children = _children.get(key)
    if children is None:
        ingest_error = (
            INGEST_ERRORS.labels(route, str(status))
            if status >= 400 and method == "POST" and route.endswith(INGEST_SUFFIXES)
            else None
        )
        children = _children[key] = (
            REQUESTS.labels(method, route, str(status)),
            LATENCY.labels(method, route),
            ingest_error,
        )
    children[0].inc()
    children[1].observe(seconds)
    if children[2] is not None:
        children[2].inc()


class RunningExecutions(Collector):
    """``chaosiq_executions_running``: executions whose journal says running,
    counted in the database at scrape time (the same number for every worker)."""

    def __init__(self, count: Any) -> None:
        self.count = count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "chaosiq_executions_running", "Executions not finished (status running)", value=self.count()
        )


def exposition(app_registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text of ``GET /metrics``: this process's (or all workers') metrics and the app's."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(app_registry), CONTENT_TYPE_LATEST
