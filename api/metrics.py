"""/metrics in the Prometheus text format: store counts (cached briefly), the API's own requests, and the
pipeline series pollers and workers keep in Redis (see telemetry.py) with the queue's depth.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from redis.exceptions import RedisError
from rq import Queue

import telemetry

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


class PipelineCollector:
    """The series pollers and workers keep in Redis, and the queue's depth; nothing when Redis is down."""

    def __init__(self, settings):
        self.settings = settings
        self._redis = None

    def collect(self):
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            families = list(telemetry.collect(self._redis, self.settings))
            depth = Queue(self.settings.queue_name, connection=self._redis).count
        except RedisError as exc:
            LOGGER.warning("pipeline metrics unavailable: %s", exc)
            return
        yield from families
        yield GaugeMetricFamily("wiredesk_queue_depth", "Jobs waiting in the queue.", value=depth)


class AppMetrics:
    """One app's registry: store gauges, pipeline series from Redis, HTTP request counts and latencies by route."""

    def __init__(self, holder, settings):
        self.registry = CollectorRegistry()
        self.store = StoreCollector(holder)
        self.registry.register(self.store)
        self.registry.register(PipelineCollector(settings))
        self.requests = Counter("wiredesk_http_requests", "HTTP requests answered.", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram("wiredesk_http_request_seconds", "Time to answer an HTTP request.", ["route"],
                                 registry=self.registry)


def install(app: FastAPI, settings) -> None:
    """Give `app` a metrics registry over its store holder and time every request by its route template."""
    app.state.metrics = AppMetrics(app.state.store, settings)

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
