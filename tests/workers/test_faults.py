"""Misbehaving pages through the real job and a running worker: each ends in its expected state, the worker stays up.

Also 429 pausing the host until Retry-After (capped), transient failures and job timeouts waiting as `retrying`,
and the private-host guard.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import time
from datetime import timedelta

import pytest
import redis
from rq import Queue, Worker
from rq.registry import ScheduledJobRegistry

from ingest.poller import poll_feeds
from store.base import open_store
from store.records import Feed
from tests.conftest import wait_for
from tests.workers.test_jobs import (FINAL, article_page, documents, enqueue, job_settings, running_worker,  # noqa: F401
                                     settle, states_of, warm_horses)
from tests.pages import rss
from workers.politeness import MAX_PAUSE
from workers.runtime import init_runtime
from workers.worker import start_workers, stop_workers

TEXT = "“Quotes” and naïve café — €5, straße"


def slow(handler) -> None:
    """Answers only after 5 s, past the read timeout."""
    time.sleep(5)
    _send(handler, 200, article_page("Too late").encode())


def drip(handler) -> None:
    """Declares 1000 bytes and sends one per second: each read is in time, the whole response is not."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    try:
        for _ in range(30):
            handler.wfile.write(b"<")
            handler.wfile.flush()
            time.sleep(1)
    except OSError:
        pass


def huge(handler) -> None:
    """60 MB of HTML without a Content-Length, so only the streaming cap can stop it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Connection", "close")
    handler.end_headers()
    chunk = b"<p>" + b"x" * 65_533
    try:
        for _ in range(60 * 1024 * 1024 // len(chunk)):
            handler.wfile.write(chunk)
    except OSError:
        pass


def _send(handler, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
          headers: dict[str, str] | None = None) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:
        pass


@pytest.fixture
def fault_settings(job_settings):
    """Read timeout above the drip's 1 s per byte, so only the total timeout catches it."""
    return job_settings.model_copy(update={"fetch_read_timeout": 1.2, "fetch_total_timeout": 1.6,
                                           "fetch_max_bytes": 5_000_000, "host_concurrency": 4})


def test_every_fault_ends_in_its_expected_state_and_the_worker_stays_up(fault_settings, redis_conn, http_server):
    cp1252 = article_page(f"Prices {TEXT}", charset=None).replace("</h1>", f"</h1><p>{TEXT}</p>").encode("cp1252")
    gzipped = gzip.compress(article_page("Cut in half").encode())
    routes = {
        "slow": dict(handler=slow),
        "drip": dict(handler=drip),
        "error": dict(body=b"oops", status=500),
        "missing": dict(body=b"no", status=404),
        "gone": dict(body=b"gone", status=410),
        "huge": dict(handler=huge),
        "loop-a": dict(status=302, headers={"Location": "/f/loop-b"}),
        "loop-b": dict(status=302, headers={"Location": "/f/loop-a"}),
        "binary": dict(body=os.urandom(4096), headers={"Content-Type": "application/octet-stream"}),
        "empty": dict(body=b""),
        # Half a gzip stream under a Content-Length that matches it: half an article, which must not be stored.
        "truncated": dict(body=gzipped[: len(gzipped) // 2], headers={"Content-Encoding": "gzip"}),
        "cp1252": dict(body=cp1252, headers={"Content-Type": "text/html"}),
        "fine": dict(body=article_page("All good")),
    }
    urls = [http_server.add(f"/f/{name}", **route) for name, route in routes.items()]
    urls.remove(http_server.url("/f/loop-b"))
    store = open_store(fault_settings.store_url)

    with running_worker(fault_settings) as child:
        entries = enqueue(fault_settings, store, redis_conn, urls)
        settled = wait_for(lambda: all(s.state in FINAL for s in map(store.get_url_state, (e.url_id for e in entries))),
                           timeout=40, step=0.2)
        assert child.is_alive()  # the same worker process went through every fault
    assert settled, states_of(store, entries)

    assert states_of(store, entries) == {
        "slow": ("failed", "timeout"),
        "drip": ("failed", "timeout"),
        "error": ("failed", "http-500"),
        "missing": ("failed", "http-404"),
        "gone": ("failed", "http-410"),
        "huge": ("failed", "too-large"),
        "loop-a": ("failed", "redirect-loop"),
        "binary": ("failed", "not-html"),
        "empty": ("failed", "empty-body"),
        "truncated": ("failed", "truncated-body"),
        "cp1252": ("stored", None),
        "fine": ("stored", None),
    }
    hits = http_server.hits
    # Transient faults were tried 1 + len(retry_intervals) times, permanent ones once.
    assert [hits[f"/f/{name}"] for name in ("slow", "drip", "error", "truncated")] == [3, 3, 3, 3]
    assert [hits[f"/f/{name}"] for name in ("missing", "gone", "huge", "binary", "empty")] == [1] * 5
    stored = {d.url.rsplit("/", 1)[-1]: d for d in documents(store)}
    assert TEXT in stored["cp1252"].text and "Ã" not in stored["cp1252"].text


def test_transient_failure_waits_as_retrying_with_next_try_then_fails(job_settings, redis_conn, http_server):
    store = open_store(job_settings.store_url)
    entries = enqueue(job_settings, store, redis_conn, [http_server.add("/down", b"oops", status=502)])
    init_runtime(job_settings)
    queue = Queue(job_settings.queue_name, connection=redis_conn)
    Worker([queue], connection=redis_conn).work(burst=True)  # one attempt; the retry is left scheduled

    state = store.get_url_state(entries[0].url_id)
    assert (state.state, state.reason, state.attempts) == ("retrying", "http-502", 1)
    assert timedelta(seconds=0.5) < state.next_try - state.updated_at <= timedelta(seconds=1.5)
    assert ScheduledJobRegistry(queue=queue).get_job_ids() == [entries[0].url_id]

    settle(job_settings, redis_conn)
    state = store.get_url_state(entries[0].url_id)
    assert (state.state, state.reason, state.attempts, state.next_try) == ("failed", "http-502", 3, None)
    assert http_server.hits["/down"] == 3


@pytest.mark.parametrize("retry_after", ["999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_retry_after_of_centuries_waits_as_retrying_for_the_host_pause_cap(job_settings, redis_conn, http_server,
                                                                           retry_after):
    store = open_store(job_settings.store_url)
    url = http_server.add("/forever", b"slow down", status=429, headers={"Retry-After": retry_after})
    entries = enqueue(job_settings, store, redis_conn, [url])
    init_runtime(job_settings)
    Worker([Queue(job_settings.queue_name, connection=redis_conn)], connection=redis_conn).work(burst=True)

    state = store.get_url_state(entries[0].url_id)
    assert (state.state, state.reason) == ("retrying", "http-429")
    assert timedelta(seconds=MAX_PAUSE - 5) < state.next_try - state.updated_at <= timedelta(seconds=MAX_PAUSE)


def test_job_over_its_timeout_waits_as_retrying_with_reason_job_timeout(job_settings, redis_conn, http_server):
    # Only rq's job timeout can stop this job: the page comes after 3 s, well within the fetch timeouts.
    settings = job_settings.model_copy(update={"job_timeout": 1, "fetch_read_timeout": 10, "fetch_total_timeout": 10})

    def stalled(handler):
        time.sleep(3)
        _send(handler, 200, article_page("Too late").encode())

    store = open_store(settings.store_url)
    entries = enqueue(settings, store, redis_conn, [http_server.add("/stalled", handler=stalled)])
    init_runtime(settings)
    Worker([Queue(settings.queue_name, connection=redis_conn)], connection=redis_conn).work(burst=True)

    state = store.get_url_state(entries[0].url_id)
    assert (state.state, state.reason, state.attempts) == ("retrying", "job-timeout", 1)


def test_429_pauses_the_host_until_retry_after_then_fails_when_it_persists(job_settings, redis_conn, http_server):
    seen: list[tuple[str, float]] = []

    def limited_once(handler):
        seen.append((handler.path, time.monotonic()))
        if len(seen) == 1:
            _send(handler, 429, b"slow down", "text/plain", {"Retry-After": "3"})
        else:
            _send(handler, 200, article_page(f"Story {handler.path}").encode())

    def always_limited(handler):
        _send(handler, 429, b"slow down", "text/plain", {"Retry-After": "1"})

    urls = [http_server.add("/limited", handler=limited_once), http_server.add("/other", handler=limited_once),
            # Another host name for the same server: its pauses are its own.
            http_server.add("/always", handler=always_limited).replace("127.0.0.1", "localhost")]
    store = open_store(job_settings.store_url)
    entries = enqueue(job_settings, store, redis_conn, urls)
    settle(job_settings, redis_conn, timeout=30)

    assert states_of(store, entries) == {"limited": ("stored", None), "other": ("stored", None),
                                         "always": ("failed", "http-429")}
    first_path, paused_at = seen[0]
    assert first_path == "/limited" and sorted(path for path, _ in seen[1:]) == ["/limited", "/other"]
    # Neither the retry (due after 1 s) nor the other URL of the host went before Retry-After ran out.
    assert all(at - paused_at >= 2.9 for _, at in seen[1:])
    assert http_server.hits["/always"] == 3


def test_a_retry_the_hosts_pause_holds_back_stays_retrying_with_its_reason(job_settings, redis_conn, http_server):
    calls = []

    def unavailable_once(handler):
        calls.append(time.monotonic())
        if len(calls) == 1:
            _send(handler, 503, b"busy", "text/plain", {"Retry-After": "4"})
        else:
            _send(handler, 200, article_page("Harbour reopens").encode())

    store = open_store(job_settings.store_url)
    [entry] = enqueue(job_settings, store, redis_conn, [http_server.add("/busy", handler=unavailable_once)])
    with running_worker(job_settings):
        assert wait_for(lambda: store.get_url_state(entry.url_id).state == "retrying", timeout=10)
        first_due = store.get_url_state(entry.url_id).next_try
        # The retry falls due after 1 s, while the host is paused for 4: it is deferred, and still says why.
        assert wait_for(lambda: store.get_url_state(entry.url_id).next_try > first_due, timeout=4)
        state = store.get_url_state(entry.url_id)
        assert (state.state, state.reason, len(calls)) == ("retrying", "http-503", 1)
        assert wait_for(lambda: store.get_url_state(entry.url_id).state == "stored", timeout=15)
    assert calls[1] - calls[0] >= 3.9


def test_private_address_is_refused_with_the_guard_on(job_settings, redis_conn, http_server):
    settings = job_settings.model_copy(update={"allow_private_hosts": False})
    store = open_store(settings.store_url)
    entries = enqueue(settings, store, redis_conn, [http_server.add("/internal", article_page("Internal"))])
    settle(settings, redis_conn)

    assert states_of(store, entries) == {"internal": ("failed", "private-address")}
    assert http_server.hits.get("/internal", 0) == 0


class OwnRedis:
    """A private redis-server in `directory` (AOF on or no persistence at all) that a test may restart."""

    def __init__(self, directory, persistent: bool):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if persistent else ["--appendonly", "no"]
        self.args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory),
                     "--save", "", *persistence]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL)
        assert wait_for(lambda: _answers(self.url), timeout=10)

    def stop(self) -> None:
        self.process.terminate()  # SHUTDOWN: with AOF on, what was written is on disk
        self.process.wait(10)


def _answers(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def own_redis(request, tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed")
    server = OwnRedis(tmp_path, persistent=request.param)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.mark.parametrize("own_redis", [True, False], ids=["aof", "no-persistence"], indirect=True)
def test_redis_restarted_mid_run_every_url_still_ends_in_one_state(job_settings, own_redis, http_server):
    settings = job_settings.model_copy(update={"redis_url": own_redis.url, "url_deadline": 2, "host_concurrency": 4})
    conn = redis.Redis.from_url(own_redis.url)
    store = open_store(settings.store_url)

    def page(handler):
        time.sleep(0.2)
        _send(handler, 200, article_page(f"Story {handler.path}").encode())

    urls = [http_server.add(f"/r/{n}", handler=page) for n in range(16)]
    feed_items = [{"title": f"F{n}", "link": http_server.add(f"/r/feed-{n}", handler=page)} for n in range(4)]
    store.add_feeds([Feed(url=http_server.add("/r/feed.xml", rss("After restart", feed_items)))])
    children = start_workers(settings, burst=False, processes=2)
    try:
        enqueue(settings, store, conn, urls)
        assert wait_for(lambda: store.count_url_states().get("stored", 0) >= 3, timeout=15)
        own_redis.stop()
        time.sleep(1.5)  # Redis is away while jobs run
        own_redis.start()
        summary = poll_feeds(settings, store, conn)  # the poller's client reconnects on its own
        assert summary.enqueued == 4
        finished = wait_for(lambda: sum(store.count_url_states().get(s, 0) for s in FINAL) == 20, timeout=40)
        assert finished, store.count_url_states()
        assert all(child.is_alive() for child in children)
    finally:
        stop_workers(children)

    states = store.count_url_states()
    assert set(states) == {"stored"} and states["stored"] == 20
    assert len(documents(store)) == 20
