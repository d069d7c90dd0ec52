"""`wiredesk run`: the poller and the workers together, once (drain and exit) or until Ctrl-C."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry

from config import Settings
from ingest.poller import poll_feeds
from store.base import Store
from workers.reconcile import reconcile
from workers.worker import start_workers, stop_workers

LOGGER = logging.getLogger(__name__)


def run_once(settings: Settings, store: Store, redis: Redis, processes: int) -> Iterator[str]:
    """Poll the due feeds, process every queued article, and report; retries due later stay scheduled."""
    requeued = reconcile(settings, store, redis)
    if requeued:
        yield f"{requeued} lost URLs requeued"
    yield poll_feeds(settings, store, redis).line()
    for child in start_workers(settings, burst=True, processes=processes):
        child.join()
    yield outcome_line(settings, store, redis)


def outcome_line(settings: Settings, store: Store, redis: Redis) -> str:
    """One line: how many URLs are stored, duplicate, failed, and how many wait for a retry."""
    counts = store.count_url_states()
    line = ", ".join(f"{counts.get(state, 0)} {state}" for state in ("stored", "duplicate", "failed"))
    queue = Queue(settings.queue_name, connection=redis)
    scheduled = ScheduledJobRegistry(queue=queue)
    waiting = scheduled.get_job_ids()
    if waiting:
        first = min(scheduled.get_scheduled_time(job_id) for job_id in waiting)
        line += f"; {len(waiting)} waiting for a retry (next at {first:%Y-%m-%d %H:%M:%S} UTC), left scheduled"
    return line


def run_forever(settings: Settings, store: Store, redis: Redis, processes: int) -> None:
    """Workers in child processes and a poll pass every `poll_tick` seconds, until Ctrl-C or SIGTERM."""
    children = start_workers(settings, burst=False, processes=processes)
    try:
        while True:
            try:
                reconcile(settings, store, redis)
                LOGGER.info(poll_feeds(settings, store, redis).line())
            except Exception:  # one failed pass (Redis restarting, store locked) must not stop the service
                LOGGER.exception("poll pass failed; next pass in %ss", settings.poll_tick)
            time.sleep(settings.poll_tick)
    except KeyboardInterrupt:
        LOGGER.info("stopping: waiting for workers to finish their jobs")
    finally:
        stop_workers(children)
