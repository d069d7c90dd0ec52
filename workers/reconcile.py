"""Re-enqueue URLs the queue lost: queued, started or retrying past their deadline with no live rq job behind them.

rq alone can lose a job: a worker SIGKILLed mid-job leaves it "started" until rq's maintenance notices (rq#2015),
SIGTERM between dequeue and start orphans it (rq#2236), a Redis restart without persistence forgets the whole
queue. The store's URL state, written from the moment a URL is enqueued, is the truth; this module compares it
with one atomic snapshot of Redis and enqueues again what nothing will run.

Workers run it from rq's maintenance every `reconcile_interval(settings)` seconds; `wiredesk poll` and
`wiredesk run` run it before each pass. A Redis lock lets one caller at a time do it.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta, timezone

from redis import Redis
from redis.exceptions import LockError
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.rate_limit import RateLimitRegistry
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from config import Settings
from ingest.queue import enqueue_entries, rate_limit_for
from ingest.records import FeedEntry
from ingest.urls import canonicalize_url
from store.base import Store
from store.records import FAILED, FINAL_STATES, QUEUED, UrlState

LOGGER = logging.getLogger(__name__)

MAX_REQUEUES = 3  # a URL lost this many times (a page that kills its work horse) fails instead of looping
REQUEUE_MEMORY = 7 * 86_400  # seconds the requeue count of a URL is kept
SCAN_LIMIT = 100_000  # stale URLs looked at per pass; live ones stay stale, so a small limit could hide lost ones
BATCH = 1_000
LOCK_SECONDS = 600


def reconcile_interval(settings: Settings) -> int:
    """Seconds between two reconcile passes of a worker: a quarter of the URL deadline, from 1 s to 5 min."""
    return max(1, min(settings.url_deadline // 4, 300))


def reconcile(settings: Settings, store: Store, redis: Redis, now: datetime | None = None) -> int:
    """Enqueue again every URL stale past `settings.url_deadline` with no live job; return how many.

    A URL lost more than MAX_REQUEUES times ends failed with reason `lost`. Returns 0 at once when another
    process holds the reconcile lock.
    """
    lock = redis.lock(f"{settings.key_prefix}:reconcile", timeout=LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        return 0
    try:
        now = now or datetime.now(timezone.utc)
        _free_finished_slots(settings, store, redis)
        stale = store.stale_urls(now - timedelta(seconds=settings.url_deadline), limit=SCAN_LIMIT)
        return sum(_reconcile_batch(settings, store, redis, stale[start:start + BATCH])
                   for start in range(0, len(stale), BATCH))
    finally:
        try:
            lock.release()
        except LockError:  # the pass outlived the lock's timeout; another process may hold it now
            LOGGER.warning("reconcile pass outlived its %ss lock", LOCK_SECONDS)


def _reconcile_batch(settings: Settings, store: Store, redis: Redis, stale: list[UrlState]) -> int:
    """Requeue (or fail, when lost too often) the URLs of `stale` that no live job will process."""
    lost = [state for state, live in zip(stale, live_jobs(settings, redis, stale)) if not live]
    if not lost:
        return 0
    jobs = Job.fetch_many([state.url_id for state in lost], connection=redis)
    counts = _count_requeue(settings, redis, [state.url_id for state in lost])
    entries = []
    for state, job, count in zip(lost, jobs, counts):
        if job is not None:
            _discard(redis, job)
        if count > MAX_REQUEUES:
            store.set_url_state(state.url_id, FAILED, reason="lost",
                                detail=f"no live job behind it {count} times past the deadline")
            LOGGER.warning("url=%s state=failed reason=lost requeues=%d", state.url, count - 1)
            continue
        # The state first: if enqueueing fails now, the URL is still stale and the next pass tries again.
        store.set_url_state(state.url_id, QUEUED, reason="requeued")
        entries.append(_entry_of(job, state))
        LOGGER.warning("url=%s state=requeued reason=no live job (was %s, rq %s) past the %ss deadline",
                       state.url, state.state, job.get_status(refresh=False) if job else "missing",
                       settings.url_deadline)
    enqueue_entries(redis, settings, entries)
    return len(entries)


def _free_finished_slots(settings: Settings, store: Store, redis: Redis) -> None:
    """Discard jobs rq still thinks started by a dead worker although the store has their final state.

    Redis lost while such a job finished leaves it "started" and holding its host's rate-limit slot until rq's
    own cleanup, after its heartbeat TTL; a host whose slots all leak that way would wait that long.
    """
    registry = StartedJobRegistry(queue=Queue(settings.queue_name, connection=redis))
    job_ids = sorted({job_id for job_id, _ in registry.get_job_and_execution_ids(cleanup=False)})
    for job in Job.fetch_many(job_ids, connection=redis):
        if job is None or job.get_status(refresh=False) != JobStatus.STARTED:
            continue
        state = store.get_url_state(job.id)
        if state is not None and state.state in FINAL_STATES and not (job.worker_name and
                                                                      worker_alive(redis, job.worker_name)):
            LOGGER.info("url=%s job left started by a dead worker after its %s state: discarded", state.url,
                        state.state)
            _discard(redis, job)


def live_jobs(settings: Settings, redis: Redis, states: list[UrlState]) -> list[bool]:
    """For each URL, whether an rq job will still run it, judged on one atomic snapshot of Redis.

    Waiting jobs count only where rq will find them (in the queue, its intermediate list, the scheduled
    registry or the host's rate-limit waiting set); a started one only while its worker lives.
    """
    queue = Queue(settings.queue_name, connection=redis)
    scheduled_key = ScheduledJobRegistry(queue=queue).key
    with redis.pipeline(transaction=True) as pipe:
        pipe.lrange(queue.key, 0, -1)
        pipe.lrange(queue.intermediate_queue_key, 0, -1)
        for state in states:
            limited_key = RateLimitRegistry(rate_limit_for(settings, state.url).key, redis).rate_limited_key
            pipe.hmget(Job.key_for(state.url_id), "status", "worker_name")
            pipe.zscore(scheduled_key, state.url_id)
            pipe.zscore(limited_key, state.url_id)
        replies = pipe.execute()
    in_queue = {job_id.decode() for job_id in replies[0] + replies[1]}
    verdicts = []
    for n, state in enumerate(states):
        (status, worker), scheduled, limited = replies[2 + 3 * n: 5 + 3 * n]
        status = status.decode() if status else None
        if status == JobStatus.QUEUED:
            verdicts.append(state.url_id in in_queue)
        elif status in (JobStatus.SCHEDULED, JobStatus.RATE_LIMITED):
            verdicts.append(scheduled is not None or limited is not None)
        elif status == JobStatus.STARTED:
            verdicts.append(bool(worker) and worker_alive(redis, worker.decode()))
        else:  # missing (Redis lost it), finished or failed without the store hearing of it
            verdicts.append(False)
    return verdicts


def worker_alive(redis: Redis, name: str) -> bool:
    """Whether rq worker `name` lives: its key exists (its heartbeat keeps it) without a death date, and its pid runs.

    The pid test catches a SIGKILLed worker at once instead of after its heartbeat TTL (about 90 s).
    """
    hostname, pid, death = redis.hmget(Worker.redis_worker_namespace_prefix + name, "hostname", "pid", "death")
    if hostname is None or death is not None:
        return False
    if pid is None or hostname.decode() != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process under that pid: not ours to judge, trust the heartbeat
        return True
    return True


def _discard(redis: Redis, job: Job) -> None:
    """Delete a dead job with its executions, so its per-host rate-limit slot is freed now, not at rq's maintenance."""
    with redis.pipeline() as pipe:
        try:
            job.execution_registry.delete(job=job, pipeline=pipe)
        except ValueError:  # an execution expired while being read: drop the registry whole
            pipe.delete(job.execution_registry.key)
        pipe.execute()
    job.delete()


def _count_requeue(settings: Settings, redis: Redis, url_ids: list[str]) -> list[int]:
    """Count one more requeue for each URL; return the new counts."""
    with redis.pipeline(transaction=False) as pipe:
        for url_id in url_ids:
            key = f"{settings.key_prefix}:requeued:{url_id}"
            pipe.incr(key)
            pipe.expire(key, REQUEUE_MEMORY)
        return pipe.execute()[::2]


def _entry_of(job: Job | None, state: UrlState) -> FeedEntry:
    """The entry to enqueue again: the lost job's own argument when Redis still has it."""
    if job is not None and job.args:
        return FeedEntry.from_dict(job.args[0])
    return FeedEntry(url=state.url, canonical_url=canonicalize_url(state.url) or state.url, url_id=state.url_id,
                     feed_url=state.feed_url or "")
