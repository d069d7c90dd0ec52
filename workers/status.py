"""`wiredesk status`: what the queue, the workers and the store hold right now, as one dict."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from redis import Redis
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from config import Settings
from store.base import Store
from workers.reconcile import worker_alive


def collect_status(settings: Settings, store: Store, redis: Redis | None) -> dict:
    """Feeds, queue depth, workers, failed jobs, URL states, documents and duplicates.

    With `redis` None (no Redis answers, e.g. after an embedded run ended) the queue part says so.
    """
    report = {"redis": "unreachable"}
    if redis is not None:
        queue = Queue(settings.queue_name, connection=redis)
        report = {
            "queue_depth": queue.count,
            "oldest_queued_seconds": _oldest_queued_age(queue),
            "jobs_running": StartedJobRegistry(queue=queue).count,
            "jobs_scheduled": ScheduledJobRegistry(queue=queue).count,
            "jobs_failed": FailedJobRegistry(queue=queue).count,
            # A SIGKILLed worker's key outlives it until its heartbeat TTL: it is not listed as a worker.
            "workers": sorted(f"{w.hostname}/{w.pid}" for w in Worker.all(queue=queue) if worker_alive(redis, w.name)),
        }
    stats = store.stats()
    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    failed_last_hour = Counter(f.reason for f in store.list_failures(since=hour_ago, include_retrying=False))
    documents = stats.get("documents", 0)
    return {
        **report,
        "failed_last_hour": dict(failed_last_hour.most_common()),
        "duplicate_rate": round(stats.get("duplicates", 0) / documents, 4) if documents else 0.0,
        **stats,
    }


def _oldest_queued_age(queue: Queue) -> float | None:
    """Seconds the job at the head of the queue has waited, None when the queue is empty."""
    job_ids = queue.get_job_ids(0, 1)
    job = Job.fetch_many(job_ids, connection=queue.connection)[0] if job_ids else None
    if job is None or job.enqueued_at is None:
        return None
    enqueued = job.enqueued_at.replace(tzinfo=job.enqueued_at.tzinfo or timezone.utc)
    return round((datetime.now(timezone.utc) - enqueued).total_seconds(), 1)
