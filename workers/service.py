"""`wiredesk run`: the poller and the workers together, once (drain and exit) or until Ctrl-C."""

from __future__ import annotations

import logging
import signal
import time
from datetime import datetime, timezone
from collections.abc import Iterator

from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry

from config import Settings
from ingest.poller import poll_feeds
from store.base import Store
from store.records import FINAL_STATES
from workers.reconcile import reconcile
from workers.worker import revive_workers, start_workers, stop_workers

LOGGER = logging.getLogger(__name__)
# `run --once` waits for deferred jobs and retries due within this many seconds, and leaves later ones scheduled.
SHORT_WAIT = 60


def run_once(settings: Settings, store: Store, redis: Redis, processes: int) -> Iterator[str]:
    """Poll the due feeds, process every queued article, and report; retries due later stay scheduled."""
    before = store.count_url_states()
    requeued = reconcile(settings, store, redis)
    if requeued:
        yield f"{requeued} lost URLs requeued"
    yield poll_feeds(settings, store, redis).line()
    queue = Queue(settings.queue_name, connection=redis)
    while True:
        for child in start_workers(settings, burst=True, processes=processes):
            child.join()
        if queue.count:  # moved in by the scheduler (a deferral or retry falling due) as the last worker quit
            continue
        due = _next_scheduled(settings, redis)
        # Politeness deferrals and short retries are part of draining; a retry due much later is not.
        if due is None or due > time.time() + SHORT_WAIT:
            break
        time.sleep(max(0.0, due - time.time()))
    yield outcome_line(settings, store, redis, before)


def _next_scheduled(settings: Settings, redis: Redis) -> float | None:
    """When the earliest scheduled job (deferral or retry) is due, as a Unix time; None if none."""
    registry = ScheduledJobRegistry(queue=Queue(settings.queue_name, connection=redis))
    first = redis.zrange(registry.key, 0, 0, withscores=True)
    return first[0][1] if first else None


def outcome_line(settings: Settings, store: Store, redis: Redis, before: dict[str, int]) -> str:
    """One line: how many URLs ended stored, duplicate or failed since the store's counts were `before`, and how
    many jobs wait for a retry.

    A URL reaches one of those states once and stays there, so what each count grew by is how many URLs ended
    so during the run (in its workers, or in others on the same queue): the store's totals would credit the run
    with every earlier run's URLs too.
    """
    after = store.count_url_states()
    line = ", ".join(f"{after.get(state, 0) - before.get(state, 0)} {state}" for state in FINAL_STATES)
    queue = Queue(settings.queue_name, connection=redis)
    waiting = ScheduledJobRegistry(queue=queue).count
    if waiting:
        first = datetime.fromtimestamp(_next_scheduled(settings, redis), timezone.utc)
        line += f"; {waiting} waiting for a retry (next at {first:%Y-%m-%d %H:%M:%S} UTC), left scheduled"
    # URLs the store shows unfinished beyond those: their jobs were lost (Redis restarted without its data) or
    # other workers hold them. Said rather than hidden behind a clean line; reconciliation requeues the lost.
    unfinished = sum(number for state, number in after.items() if state not in FINAL_STATES) - waiting
    if unfinished > 0:
        line += (f"; {unfinished} not finished and not queued here (their jobs lost, or held by other workers):"
                 f" requeued once {settings.url_deadline:.0f} s pass without a live job")
    return line


def run_forever(settings: Settings, store: Store, redis: Redis, processes: int) -> None:
    """Workers in child processes (a killed one is replaced) and a poll pass every `poll_tick` seconds, until Ctrl-C
    or SIGTERM (a service manager's stop), either of which stops the workers after their jobs in hand."""
    previous = signal.signal(signal.SIGTERM, _interrupt)  # before the workers start: none may be left behind
    children = start_workers(settings, burst=False, processes=processes)
    try:
        while True:
            try:
                reconcile(settings, store, redis)
                LOGGER.info(poll_feeds(settings, store, redis).line())
            except Exception:  # one failed pass (Redis restarting, store locked) must not stop the service
                LOGGER.exception("poll pass failed; next pass in %ss", settings.poll_tick)
            time.sleep(settings.poll_tick)
            revive_workers(settings, children)
    except KeyboardInterrupt:
        LOGGER.info("stopping: waiting for workers to finish their jobs")
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop_workers(children)


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt
