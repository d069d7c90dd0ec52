"""workers.jobs through real rq workers: idempotent publishing, `run --once` and retries, a store that is briefly away.

The helpers here (enqueue, settle, running_worker, article_page) are shared by test_faults and test_reconcile.
"""

from __future__ import annotations

import multiprocessing
import random
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from config import Settings, load_settings
from ingest.queue import enqueue_entries
from ingest.records import FeedEntry
from ingest.urls import canonicalize_url, url_id
from store.base import open_store
from store.records import Query, UrlState
from store.sqlite import SQLiteStore
from tests.conftest import wait_for
from workers.runtime import get_runtime, init_runtime
from workers.service import run_once
from workers.worker import preload, work

FINAL = ("stored", "duplicate", "failed")


_WORDS = ("council tram budget river harbour school strike election court hospital bridge museum festival "
          "farmers railway airport storm minister mayor union police market library factory stadium").split()


def article_page(title: str, paragraphs: int = 6, charset: str | None = "utf-8") -> str:
    """A news page whose article trafilatura extracts; its text depends on `title`, so pages are not near-copies."""
    rng = random.Random(title)
    meta = f'<meta charset="{charset}">' if charset else ""
    body = "".join("<p>" + " ".join(f"The {rng.choice(_WORDS)} of {rng.choice(_WORDS)} met the {rng.choice(_WORDS)}"
                                     f" {rng.randrange(1000)} times." for _ in range(5)) + "</p>"
                   for _ in range(paragraphs))
    return (f"<!DOCTYPE html><html lang='en'><head>{meta}<title>{title}</title></head><body>"
            f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article>"
            f"<footer>Contact - Imprint</footer></body></html>")


def enqueue(settings: Settings, store, redis_conn, urls: list[str]) -> list[FeedEntry]:
    """Claim `urls` in the store and enqueue them, as the poller does; return their entries."""
    entries = []
    for url in urls:
        canonical = canonicalize_url(url) or url
        entries.append(FeedEntry(url=url, canonical_url=canonical, url_id=url_id(canonical), feed_url="test:feed"))
    store.claim_urls([UrlState(url_id=e.url_id, url=e.canonical_url, feed_url=e.feed_url, state="queued")
                      for e in entries])
    enqueue_entries(redis_conn, settings, entries)
    return entries


def settle(settings: Settings, redis_conn, timeout: float = 15.0, worker_class=Worker, init: bool = True) -> None:
    """Run burst workers (rq's scheduler included) until nothing is queued or scheduled: retries run too.

    `init=False` keeps the Runtime the test prepared (SimpleWorker runs jobs in this process).
    """
    if init:
        init_runtime(settings)
    queue = Queue(settings.queue_name, connection=redis_conn)
    scheduled = ScheduledJobRegistry(queue=queue)
    deadline = time.monotonic() + timeout
    while True:
        worker_class([queue], connection=redis_conn).work(burst=True, with_scheduler=True)
        if queue.count == 0 and scheduled.count == 0:
            return
        assert time.monotonic() < deadline, "jobs still queued or scheduled"
        time.sleep(0.2)


@contextmanager
def running_worker(settings: Settings):
    """`wiredesk worker` (one process, not burst) in a child process; stopped with SIGTERM afterwards."""
    child = multiprocessing.get_context("fork").Process(target=work, args=(settings, False))
    child.start()
    try:
        yield child
    finally:
        if child.is_alive():
            child.terminate()
        child.join(10)
        if child.is_alive():  # never left running: the test session would wait for it at exit
            child.kill()
            child.join()


def after_first_retry(settings: Settings, redis_conn, action) -> threading.Thread:
    """Run `action` in a thread once a job has failed and waits for its retry (at the latest after 30 s)."""
    scheduled = ScheduledJobRegistry(queue=Queue(settings.queue_name, connection=redis_conn))

    def wait_then_act():
        wait_for(lambda: scheduled.count > 0, timeout=30)
        action()

    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


def states_of(store, entries: list[FeedEntry]) -> dict[str, tuple[str, str | None]]:
    """{last path segment: (state, reason)} for each entry."""
    return {e.url.rsplit("/", 1)[-1]: (s.state, s.reason) for e in entries
            if (s := store.get_url_state(e.url_id)) is not None}


def documents(store) -> list:
    return list(store.iter_documents(Query(all_copies=True)))


@pytest.fixture(scope="session")
def warm_horses() -> None:
    """Import and warm the job chain once in this process, so every forked work horse starts warm (as `preload`)."""
    preload(load_settings(crosslingual=False))


@pytest.fixture
def job_settings(settings, warm_horses) -> Settings:
    """Short retries, no cross-lingual model (not what these tests are about)."""
    return settings.model_copy(update={"retry_intervals": [1, 1], "crosslingual": False})


def test_same_job_run_twice_leaves_one_document(job_settings, redis_conn, http_server):
    store = open_store(job_settings.store_url)
    url = http_server.add("/news/tram", article_page("Tram line approved"))
    entries = enqueue(job_settings, store, redis_conn, [url])
    settle(job_settings, redis_conn)
    first = store.get_document(entries[0].url_id)

    # The same job again, as after a crash between publishing and rq marking the job finished.
    enqueue_entries(redis_conn, job_settings, entries)
    settle(job_settings, redis_conn)

    assert http_server.hits["/news/tram"] == 2
    assert [d.id for d in documents(store)] == [entries[0].url_id]
    state = store.get_url_state(entries[0].url_id)
    assert (state.state, state.reason, state.document_id) == ("stored", None, entries[0].url_id)
    again = store.get_document(entries[0].url_id)
    assert (again.relation, again.story_id, again.text) == ("original", first.story_id, first.text)
    assert store.count_url_states() == {"stored": 1}


def test_run_once_leaves_a_retry_due_in_an_hour_scheduled_and_says_so(job_settings, redis_conn, http_server):
    settings = job_settings.model_copy(update={"retry_intervals": [3600]})
    store = open_store(settings.store_url)
    url = http_server.add("/busy", b"overloaded", status=503)
    entries = enqueue(settings, store, redis_conn, [url])

    started = time.monotonic()
    lines = list(run_once(settings, store, redis_conn, processes=1))
    elapsed = time.monotonic() - started

    assert elapsed < 15
    assert "1 waiting for a retry" in lines[-1] and "left scheduled" in lines[-1]
    state = store.get_url_state(entries[0].url_id)
    assert (state.state, state.reason) == ("retrying", "http-503")
    assert timedelta(minutes=59) < state.next_try - datetime.now(timezone.utc) < timedelta(minutes=61)
    assert ScheduledJobRegistry(queue=Queue(settings.queue_name, connection=redis_conn)).count == 1


def test_sqlite_locked_for_seconds_job_retries_and_nothing_is_lost(job_settings, redis_conn, http_server):
    store = open_store(job_settings.store_url)
    entries = enqueue(job_settings, store, redis_conn, [http_server.add("/locked", article_page("Lock held"))])
    # Another connection holds the write lock until the job has failed on it (the worker waits only 0.3 s).
    holder = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = after_first_retry(job_settings, redis_conn, lambda: holder.execute("ROLLBACK"))
    init_runtime(job_settings)
    get_runtime().__dict__["store"] = SQLiteStore(job_settings.store_url, busy_timeout=0.3)

    settle(job_settings, redis_conn, worker_class=SimpleWorker, init=False)
    release.join()

    job = Job.fetch(entries[0].url_id, connection=redis_conn)
    assert job.retries_left < len(job_settings.retry_intervals)  # the lock did make it fail and retry
    assert store.count_url_states() == {"stored": 1}
    assert [d.id for d in documents(store)] == [entries[0].url_id]


class RefusingProxy:
    """A TCP forwarder to PostgreSQL that refuses connections (nothing listens) until `open()`."""

    def __init__(self, target_port: int):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.target_port = target_port
        self.listener = None

    def open(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()


def test_postgres_refusing_connections_job_retries_and_nothing_is_lost(job_settings, redis_conn, http_server, pg_url):
    store = open_store(pg_url)
    entries = enqueue(job_settings, store, redis_conn, [http_server.add("/pg", article_page("Database restarted"))])
    proxy = RefusingProxy(5432)
    settings = job_settings.model_copy(update={"store_url": pg_url.replace(":5432/", f":{proxy.port}/")})
    after_first_retry(settings, redis_conn, proxy.open)
    try:
        settle(settings, redis_conn)
    finally:
        proxy.close()

    job = Job.fetch(entries[0].url_id, connection=redis_conn)
    assert job.retries_left < len(settings.retry_intervals)
    assert store.count_url_states() == {"stored": 1}
    assert [d.id for d in documents(store)] == [entries[0].url_id]


def test_running_worker_processes_what_is_enqueued_while_it_waits(job_settings, redis_conn, http_server):
    store = open_store(job_settings.store_url)
    with running_worker(job_settings) as child:
        entries = enqueue(job_settings, store, redis_conn,
                          [http_server.add(f"/later/{n}", article_page(f"Story {n}")) for n in range(3)])
        assert wait_for(lambda: store.count_url_states().get("stored") == 3, timeout=15)
        assert child.is_alive()
    assert child.exitcode == 0  # SIGTERM: warm shutdown, not restarted
    assert sorted(d.id for d in documents(store)) == sorted(e.url_id for e in entries)


def test_a_private_page_is_fetched_with_its_credentials_and_stored_without_them(job_settings, redis_conn,
                                                                                http_server):
    store = open_store(job_settings.store_url)
    url = http_server.add("/members/tram", article_page("Tram line approved")).replace("http://", "http://ed:s3cret@")
    entries = enqueue(job_settings, store, redis_conn, [url])
    settle(job_settings, redis_conn)
    doc = store.get_document(entries[0].url_id)
    assert doc is not None and "@" not in doc.url + "".join(doc.urls)
    assert doc.urls == [http_server.url("/members/tram")]
    assert http_server.requests[-1][1].get("Authorization", "").startswith("Basic ")
