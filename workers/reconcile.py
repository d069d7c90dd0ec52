"""Re-enqueue URLs the queue lost: queued or started past their deadline with no live rq job behind them.

rq alone can lose a job (a worker killed mid-job, SIGTERM between dequeue and start, a Redis restart
without persistence); the store's URL state, written from the moment a URL is enqueued, is the truth.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from redis import Redis
from rq.job import Job, JobStatus

from config import Settings
from ingest.queue import enqueue_entries
from ingest.records import FeedEntry
from ingest.urls import canonicalize_url
from store.base import Store
from store.records import QUEUED

LOGGER = logging.getLogger(__name__)

_WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.RATE_LIMITED}
# A started job whose worker has not sent a heartbeat for this long is taken for dead.
HEARTBEAT_GRACE = timedelta(seconds=90)


def _is_live(job: Job | None, now: datetime) -> bool:
    """Whether an rq job will still run (waiting, or started by a worker that is still beating)."""
    if job is None:
        return False
    status = job.get_status(refresh=False)
    if status in _WAITING:
        return True
    if status == JobStatus.STARTED and job.last_heartbeat is not None:
        beat = job.last_heartbeat.replace(tzinfo=job.last_heartbeat.tzinfo or timezone.utc)
        return now - beat < HEARTBEAT_GRACE
    return False


def _entry_of(job: Job | None, url_id: str, url: str, feed_url: str | None) -> FeedEntry:
    """The entry to enqueue again: the lost job's own argument when Redis still has it."""
    if job is not None and job.args:
        return FeedEntry.from_dict(job.args[0])
    return FeedEntry(url=url, canonical_url=canonicalize_url(url) or url, url_id=url_id, feed_url=feed_url or "")


def reconcile(settings: Settings, store: Store, redis: Redis, now: datetime | None = None) -> int:
    """Enqueue again every stale URL with no live job; return how many."""
    now = now or datetime.now(timezone.utc)
    stale = store.stale_urls(now - timedelta(seconds=settings.url_deadline))
    if not stale:
        return 0
    jobs = Job.fetch_many([s.url_id for s in stale], connection=redis)
    lost = []
    for state, job in zip(stale, jobs):
        if _is_live(job, now):
            continue
        if job is not None:
            job.delete()
        lost.append(_entry_of(job, state.url_id, state.url, state.feed_url))
    if lost:
        enqueue_entries(redis, settings, lost)
        for entry in lost:
            store.set_url_state(entry.url_id, QUEUED, reason="requeued")
            LOGGER.warning("url=%s state=requeued reason=no live job past the %ss deadline",
                           entry.url, settings.url_deadline)
    return len(lost)
