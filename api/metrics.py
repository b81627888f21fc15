"""Prometheus metrics of one server process, kept and written by ``prometheus_client``.

In-process counters: HTTP requests by method, route template and status; a latency
histogram by method and route; events appended. Gauges read at scrape time: log size
and the size of the last signed checkpoint (left out when the database cannot be
read), the background history check's entries checked and status. Each app has its
own registry (not the library's global one), so that several apps in one process (the
tests) count apart.

Why the library: the text exposition format has escaping and number rules that a
hand-written writer gets subtly wrong; ``prometheus_client`` is the reference
implementation. Its cost per request is measured in docs/PERFORMANCE.md (a few
microseconds, against hundreds for an append). Litestar's own Prometheus middleware
was not used: it names its metrics itself (``litestar_*``), and our names are
documented and scraped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ledger.history_check import HistoryCheck

__all__ = ["CONTENT_TYPE", "Metrics", "metrics_middleware"]

CONTENT_TYPE = "text/plain; version=0.0.4"  # Litestar appends "; charset=utf-8"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Methods counted by name; any other (a client may send any token) counts as OTHER,
#: so that nobody can grow the label sets without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# The ``*_created`` series (a timestamp per label set) are of no use here and would
# double the output: the server process is the library's only user.
disable_created_metrics()  # type: ignore[no-untyped-call]


class _ScrapeGauges(Collector):
    """The log's sizes, set just before each scrape by :meth:`Metrics.render`."""

    def __init__(self) -> None:
        self.log_size: int | None = None
        self.checkpoint_size: int | None = None
        self.replicas: list[dict[str, Any]] = []
        self.history: HistoryCheck | None = None

    def collect(self) -> Iterator[Metric]:
        if self.history is not None:
            yield from _history_gauges(self.history)
        if self.replicas:
            yield from _replica_gauges(self.replicas)
        if self.log_size is not None:
            yield GaugeMetricFamily("ledger_log_size", "Entries in the global log.",
                                    value=self.log_size)
        if self.checkpoint_size is not None:
            yield GaugeMetricFamily("ledger_checkpoint_size",
                                    "Tree size of the last signed checkpoint.",
                                    value=self.checkpoint_size)


HISTORY_STATUSES = ("pending", "running", "passed", "failed", "stopped")


def _history_gauges(check: HistoryCheck) -> Iterator[Metric]:
    """The background history check: entries checked so far, and its status (one
    series per status, 1 for the current one)."""
    yield GaugeMetricFamily("ledger_history_check_entries",
                            "Entries the background history check has verified.",
                            value=check.checked)
    status = GaugeMetricFamily("ledger_history_check_status",
                               "1 for the background history check's current status.",
                               labels=["status"])
    for name in HISTORY_STATUSES:
        status.add_metric([name], 1.0 if check.status == name else 0.0)
    yield status


def _replica_gauges(replicas: list[dict[str, Any]]) -> Iterator[Metric]:
    """Per streaming replica (label ``replica``: host:port/database): in rotation or not,
    the log size replayed, and the lag in positions and seconds (left out while the
    replica does not answer)."""
    families = {
        "in_rotation": GaugeMetricFamily("ledger_replica_in_rotation",
                                         "1 when the replica serves reads.",
                                         labels=["replica"]),
        "replayed_size": GaugeMetricFamily("ledger_replica_replayed_size",
                                           "Log entries the replica has replayed.",
                                           labels=["replica"]),
        "lag_positions": GaugeMetricFamily("ledger_replica_lag_positions",
                                           "Log entries the replica is behind the primary.",
                                           labels=["replica"]),
        "lag_seconds": GaugeMetricFamily("ledger_replica_lag_seconds",
                                         "Seconds the replica's replay is behind.",
                                         labels=["replica"]),
    }
    for r in replicas:
        for key, family in families.items():
            value = r[key]
            if value is not None:
                family.add_metric([r["name"]], float(value))
    yield from families.values()


class Metrics:
    """The metrics of one app. Used from the event loop only."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter("ledger_http_requests",
                                 "HTTP requests by method, route and status.",
                                 ["method", "route", "status"], registry=self.registry)
        self._latency = Histogram("ledger_http_request_duration_seconds",
                                  "HTTP request latency.", ["method", "route"],
                                  buckets=BUCKETS, registry=self.registry)
        self._appended = Counter("ledger_events_appended",
                                 "Events appended to the log by this process.",
                                 registry=self.registry)
        self._sizes = _ScrapeGauges()
        self.registry.register(self._sizes)
        # The labelled children, looked up once per label set (the hot path's cost).
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._known_size: int | None = None

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        if method not in METHODS:
            method = "OTHER"
        children = self._children.get((method, route, status))
        if children is None:
            children = (self._requests.labels(method, route, str(status)),
                        self._latency.labels(method, route))
            self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def start_size(self, size: int) -> None:
        """The log size when this process started (baseline for ``appended``)."""
        self._known_size = size

    def on_commit(self, size: int) -> None:
        """Store callback after each commit: ``size`` is the log size after it."""
        if self._known_size is not None and size > self._known_size:
            self._appended.inc(size - self._known_size)
        self._known_size = size

    def render(self, *, log_size: int | None, checkpoint_size: int | None,
               replicas: list[dict[str, Any]] | None = None,
               history: HistoryCheck | None = None) -> str:
        """The exposition text, with the sizes read for this scrape."""
        self._sizes.log_size, self._sizes.checkpoint_size = log_size, checkpoint_size
        self._sizes.replicas = replicas or []
        self._sizes.history = history
        return generate_latest(self.registry).decode()


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Route middleware timing each HTTP request and counting it by final status.

    Litestar puts an exception handler between the handler and route middleware, so
    the status seen here is the one sent, error responses included.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            metrics: Metrics | None = getattr(scope["litestar_app"].state, "metrics", None)
            if metrics is not None:
                route = scope.get("path_template") or "unmatched"
                method = str(scope.get("method", ""))
                metrics.observe_request(method, route, status,
                                        time.perf_counter() - start)

    return middleware
