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


_WARM_UP_PAGE = (
    "<html lang='en'><head><title>Warm-up</title><meta name='author' content='A. Writer'></head><body><article>"
    + "".join(f"<p>Paragraph {n}: the first extraction in a process compiles lazy regular expressions, "
              f"loads the language model and imports helpers, which costs about a second.</p>" for n in range(6))
    + "</article></body></html>"
)


def preload(settings: Settings) -> None:
    """Import, load and warm up once in the parent, so every forked work horse starts warm.

    Without it each horse pays about a second of imports and first-call set-up before its first page.
    """
    from datetime import datetime, timezone

    from ingest.records import FeedEntry
    from workers import jobs  # noqa: F401  (imports the whole job chain: trafilatura, lxml, httpx, the store)
    from workers.extract import extract_article
    from workers.records import FetchedPage

    url = "http://localhost/warm-up"
    page = FetchedPage(url, url, 200, "text/html", {}, b"", _WARM_UP_PAGE, "utf-8", datetime.now(timezone.utc))
    extract_article(page, FeedEntry(url=url, canonical_url=url, url_id="warm-up", feed_url=url))

    if settings.crosslingual:
        from workers.crosslingual import load_encoder

        load_encoder()


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
