"""Run rq workers on wiredesk's queue, in this process or in N child processes."""

from __future__ import annotations

import logging
import multiprocessing
import signal

from redis import Redis
from rq import Queue, Worker

from config import Settings
from workers.runtime import init_runtime

LOGGER = logging.getLogger(__name__)


def preload(settings: Settings) -> None:
    """Import and load heavy things once in the parent, so forked work horses inherit them."""
    import trafilatura  # noqa: F401  (lxml, htmldate, courlan: seconds of import per horse otherwise)

    if settings.crosslingual:
        from workers.crosslingual import load_model

        load_model()


def _work(settings: Settings, burst: bool) -> None:
    """One rq worker with its scheduler (retries and deferred jobs need it)."""
    init_runtime(settings)
    connection = Redis.from_url(settings.redis_url)
    worker = Worker([Queue(settings.queue_name, connection=connection)], connection=connection)
    worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)


def start_workers(settings: Settings, burst: bool, processes: int) -> list[multiprocessing.Process]:
    """Fork `processes` worker processes (after preloading, so they share the loaded libraries)."""
    preload(settings)
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_work, args=(settings, burst)) for _ in range(processes)]
    for child in children:
        child.start()
    return children


def stop_workers(children: list[multiprocessing.Process]) -> None:
    """Ask each worker for a warm shutdown (rq takes SIGTERM so: finish the job, then exit) and wait."""
    for child in children:
        if child.is_alive():
            child.terminate()
    for child in children:
        child.join()


def run_workers(settings: Settings, burst: bool = False, processes: int = 1) -> None:
    """Run `processes` workers until stopped (or, with `burst`, until the queue is empty)."""
    if processes == 1:
        preload(settings)
        _work(settings, burst)
        return
    children = start_workers(settings, burst, processes)
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop_workers(children))
    try:
        for child in children:
            child.join()
    finally:
        signal.signal(signal.SIGTERM, previous)
