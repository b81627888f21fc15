"""Prometheus metrics in the text exposition format (0.0.4), without a dependency.

In-process counters: HTTP requests by method, route template and status; a latency
histogram by method and route; events appended. Gauges read at scrape time: log size
and the size of the last signed checkpoint.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_TYPE", "Metrics", "metrics_middleware"]

CONTENT_TYPE = "text/plain; version=0.0.4"  # Litestar appends "; charset=utf-8"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Histogram:
    __slots__ = ("count", "counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        i = bisect.bisect_left(BUCKETS, value)
        if i < len(BUCKETS):
            self.counts[i] += 1
        self.count += 1
        self.total += value


class Metrics:
    """Counters of one server process. Not thread-safe; used from the event loop only."""

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: defaultdict[tuple[str, str], _Histogram] = defaultdict(_Histogram)
        self.appended = 0
        self._known_size: int | None = None

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, str(status))] += 1
        self.latency[(method, route)].observe(seconds)

    def start_size(self, size: int) -> None:
        """The log size when this process started (baseline for ``appended``)."""
        self._known_size = size

    def on_commit(self, size: int) -> None:
        """Store callback after each commit: ``size`` is the log size after it."""
        if self._known_size is not None and size > self._known_size:
            self.appended += size - self._known_size
        self._known_size = size

    def render(self, *, log_size: int | None, checkpoint_size: int | None) -> str:
        out: list[str] = []
        out += ["# HELP ledger_http_requests_total HTTP requests by method, route and status.",
                "# TYPE ledger_http_requests_total counter"]
        for (method, route, status), n in sorted(self.requests.items()):
            labels = _labels([("method", method), ("route", route), ("status", status)])
            out.append(f"ledger_http_requests_total{labels} {n}")
        out += ["# HELP ledger_http_request_duration_seconds HTTP request latency.",
                "# TYPE ledger_http_request_duration_seconds histogram"]
        for (method, route), h in sorted(self.latency.items()):
            base = [("method", method), ("route", route)]
            cumulative = 0
            for bound, n in zip(BUCKETS, h.counts, strict=True):
                cumulative += n
                labels = _labels([*base, ("le", _number(bound))])
                out.append(f"ledger_http_request_duration_seconds_bucket{labels} {cumulative}")
            labels = _labels([*base, ("le", "+Inf")])
            out.append(f"ledger_http_request_duration_seconds_bucket{labels} {h.count}")
            out.append(f"ledger_http_request_duration_seconds_sum{_labels(base)} {h.total!r}")
            out.append(f"ledger_http_request_duration_seconds_count{_labels(base)} {h.count}")
        out += ["# HELP ledger_events_appended_total Events appended to the log by this process.",
                "# TYPE ledger_events_appended_total counter",
                f"ledger_events_appended_total {self.appended}"]
        if log_size is not None:
            out += ["# HELP ledger_log_size Entries in the global log.",
                    "# TYPE ledger_log_size gauge", f"ledger_log_size {log_size}"]
        if checkpoint_size is not None:
            out += ["# HELP ledger_checkpoint_size Tree size of the last signed checkpoint.",
                    "# TYPE ledger_checkpoint_size gauge",
                    f"ledger_checkpoint_size {checkpoint_size}"]
        return "\n".join(out) + "\n"


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
