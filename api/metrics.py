"""/metrics in the Prometheus text format: store counts (cached briefly) and the API's own requests.

Queue depth and the worker-side series (fetches, extraction time, dedup decisions) live in Redis and the
workers; the API reads only the store, so they are not exported here.
"""

from __future__ import annotations

import logging
import threading
import time

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

LOGGER = logging.getLogger(__name__)

STATS_TTL = 15.0  # seconds a stats() answer is reused: counting a million rows on every scrape is wasteful

router = APIRouter()


class StoreCollector:
    """Gauges from store.stats(), read at most once per STATS_TTL seconds."""

    def __init__(self, holder):
        self.holder = holder
        self._stats: dict | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def stats(self) -> dict:
        """The store's counts, from cache while fresh."""
        with self._lock:
            if self._stats is None or time.monotonic() - self._at > STATS_TTL:
                self._stats, self._at = self.holder.get().stats(), time.monotonic()
            return self._stats

    def collect(self):
        stats = self.stats()
        for name, help_text in (("documents", "Documents stored, copies included."),
                                ("stories", "Stories stored."),
                                ("duplicates", "Documents stored as a copy of another (exact, near, translation)."),
                                ("stored_last_hour", "Documents stored in the last hour."),
                                ("stored_last_day", "Documents stored in the last 24 hours.")):
            yield GaugeMetricFamily(f"wiredesk_{name}", help_text, value=stats.get(name, 0))
        for name, help_text in (("feeds", "Feeds by health state."), ("urls", "URLs by processing state.")):
            family = GaugeMetricFamily(f"wiredesk_{name}", help_text, labels=["state"])
            for state, count in sorted(stats.get(name, {}).items()):
                family.add_metric([state], count)
            yield family


class AppMetrics:
    """One app's registry: store gauges and HTTP request counts and latencies by route."""

    def __init__(self, holder):
        self.registry = CollectorRegistry()
        self.store = StoreCollector(holder)
        self.registry.register(self.store)
        self.requests = Counter("wiredesk_http_requests", "HTTP requests answered.", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram("wiredesk_http_request_seconds", "Time to answer an HTTP request.", ["route"],
                                 registry=self.registry)


def install(app: FastAPI) -> None:
    """Give `app` a metrics registry over its store holder and time every request by its route template."""
    app.state.metrics = AppMetrics(app.state.store)

    @app.middleware("http")
    async def time_requests(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")  # the template, so ids do not explode the label set
        app.state.metrics.requests.labels(path, str(response.status_code)).inc()
        app.state.metrics.latency.labels(path).observe(time.perf_counter() - started)
        return response


@router.get("/metrics", tags=["health"], response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus metrics: store counts (refreshed at most every 15 s) and the API's requests."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
