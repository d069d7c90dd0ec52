"""`wiredesk status`: what the queue, the workers and the store hold right now, as one dict."""

from __future__ import annotations

from redis import Redis
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from config import Settings
from store.base import Store


def collect_status(settings: Settings, store: Store, redis: Redis | None) -> dict:
    """Feeds, queue depth, workers, failed jobs, URL states, documents and duplicates.

    With `redis` None (no Redis answers, e.g. after an embedded run ended) the queue part says so.
    """
    report = {"redis": "unreachable"}
    if redis is not None:
        queue = Queue(settings.queue_name, connection=redis)
        report = {
            "queue_depth": queue.count,
            "jobs_running": StartedJobRegistry(queue=queue).count,
            "jobs_scheduled": ScheduledJobRegistry(queue=queue).count,
            "jobs_failed": FailedJobRegistry(queue=queue).count,
            "workers": sorted(f"{w.hostname}/{w.pid}" for w in Worker.all(queue=queue)),
        }
    return {**report, "urls": store.count_url_states(), **store.stats()}
