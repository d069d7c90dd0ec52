"""Politeness shared through Redis: minimum delay per host, host pauses, robots.txt, deferring a job."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest
import redis
from rq import Queue, SimpleWorker, get_current_job
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from net.http import HTTPStatusError, make_client
from store.base import open_store
from tests.workers.test_jobs import article_page, enqueue, job_settings, settle, warm_horses  # noqa: F401
from workers.runtime import init_runtime
from workers.politeness import MAX_PAUSE, allowed_by_robots, host_wait, pause_host

HOST = "news.example"


@pytest.fixture
def polite(settings):
    return settings.model_copy(update={"host_min_delay": 0.3})


def test_second_request_to_a_host_waits_out_the_min_delay(redis_conn, polite):
    assert host_wait(redis_conn, polite, HOST) == 0
    wait = host_wait(redis_conn, polite, HOST)
    assert 0.2 < wait <= 0.3
    assert host_wait(redis_conn, polite, "other.example") == 0
    time.sleep(wait + 0.02)
    assert host_wait(redis_conn, polite, HOST) == 0


def test_min_delay_is_shared_between_connections(redis_url, redis_conn, polite):
    other = redis.Redis.from_url(redis_url)
    assert host_wait(redis_conn, polite, HOST) == 0
    assert host_wait(other, polite, HOST) > 0
    other.close()


def test_exactly_one_of_many_simultaneous_callers_gets_the_slot(redis_url, redis_conn, polite):
    barrier = threading.Barrier(12)
    waits = []

    def call():
        conn = redis.Redis.from_url(redis_url)
        barrier.wait()
        waits.append(host_wait(conn, polite, HOST))
        conn.close()

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(waits) == 12 and waits.count(0) == 1


def _grab_slots(redis_url, settings, count, out):
    """In a child process: take `count` slots for HOST, recording when each was granted."""
    conn = redis.Redis.from_url(redis_url)
    granted = 0
    while granted < count:
        wait = host_wait(conn, settings, HOST)
        if wait == 0:
            out.put(time.time())
            granted += 1
        else:
            time.sleep(min(wait, 0.05))


def test_min_delay_holds_across_processes(redis_url, redis_conn, settings):
    polite = settings.model_copy(update={"host_min_delay": 0.15})
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_grab_slots, args=(redis_url, polite, 2, out)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(10)
    grants = sorted(out.get(timeout=1) for _ in range(6))
    gaps = [later - earlier for earlier, later in zip(grants, grants[1:])]
    assert min(gaps) >= 0.14, gaps


def test_zero_delay_never_waits(redis_conn, settings):
    assert [host_wait(redis_conn, settings, HOST) for _ in range(3)] == [0, 0, 0]


def test_paused_host_waits_for_the_pause_then_goes(redis_conn, settings):
    pause_host(redis_conn, settings, HOST, 0.5)
    assert 0.4 < host_wait(redis_conn, settings, HOST) <= 0.5
    assert host_wait(redis_conn, settings, "other.example") == 0
    time.sleep(0.55)
    assert host_wait(redis_conn, settings, HOST) == 0


def test_shorter_pause_does_not_cut_a_longer_one(redis_conn, settings):
    pause_host(redis_conn, settings, HOST, 30)
    assert pause_host(redis_conn, settings, HOST, 1) > 29
    assert host_wait(redis_conn, settings, HOST) > 29


def test_absurd_retry_after_is_capped(redis_conn, settings):
    assert pause_host(redis_conn, settings, HOST, 7 * 86_400) == MAX_PAUSE


ROBOTS = """User-agent: otherbot
Disallow: /

User-agent: wiredesk
Disallow: /private/
"""


@pytest.fixture
def robots_settings(settings):
    return settings.model_copy(update={"respect_robots": True})


def test_robots_rules_for_our_agent_are_honoured_and_fetched_once(http_server, redis_conn, robots_settings):
    http_server.add("/robots.txt", ROBOTS, headers={"Content-Type": "text/plain"})
    with make_client(robots_settings) as client:
        assert not allowed_by_robots(client, redis_conn, robots_settings, http_server.url("/private/a"))
        assert allowed_by_robots(client, redis_conn, robots_settings, http_server.url("/news/b"))
        assert not allowed_by_robots(client, redis_conn, robots_settings, http_server.url("/private/c"))
    assert http_server.hits["/robots.txt"] == 1
    key = f"{robots_settings.key_prefix}:robots:{http_server.base}"
    assert 0 < redis_conn.ttl(key) <= 86_400


def test_missing_robots_allows_everything(http_server, redis_conn, robots_settings):
    with make_client(robots_settings) as client:
        assert allowed_by_robots(client, redis_conn, robots_settings, http_server.url("/any"))


def test_robots_server_error_is_raised_and_not_cached(http_server, redis_conn, robots_settings):
    http_server.add("/robots.txt", b"", status=503)
    with make_client(robots_settings) as client:
        with pytest.raises(HTTPStatusError):
            allowed_by_robots(client, redis_conn, robots_settings, http_server.url("/a"))
    assert redis_conn.keys(f"{robots_settings.key_prefix}:robots:*") == []


def test_robots_ignored_when_turned_off(http_server, redis_conn, settings):
    http_server.add("/robots.txt", "User-agent: *\nDisallow: /\n")
    with make_client(settings) as client:
        assert allowed_by_robots(client, redis_conn, settings, http_server.url("/a"))
    assert http_server.hits == {}


def test_page_waits_for_the_host_slot_that_fetching_robots_txt_took(job_settings, redis_conn, http_server):
    settings = job_settings.model_copy(update={"respect_robots": True, "host_min_delay": 1.0})
    store = open_store(settings.store_url)
    http_server.add("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    url = http_server.add("/news/a", article_page("Harbour bridge reopens"))
    [entry] = enqueue(settings, store, redis_conn, [url])
    init_runtime(settings)
    SimpleWorker([Queue(settings.queue_name, connection=redis_conn)], connection=redis_conn).work(burst=True)
    assert http_server.hits == {"/robots.txt": 1}
    assert store.get_url_state(entry.url_id).reason == "deferred: host busy"
    settle(settings, redis_conn, init=False)
    assert http_server.hits == {"/robots.txt": 1, "/news/a": 1}
    assert store.get_url_state(entry.url_id).state == "stored"
    store.close()


def deferring_job(host: str, min_delay: float) -> str:
    """A job as workers.jobs should write it: defer itself (same id) while the host's delay runs."""
    from config import load_settings

    job = get_current_job()
    wait = host_wait(job.connection, load_settings(host_min_delay=min_delay), host)
    job.connection.rpush("runs", f"{wait:.3f}")
    if wait > 0:
        job.repeats_left = 1
        job.repeat_intervals = [max(1, int(wait + 0.999))]
        return "deferred"
    return "fetched"


def test_busy_host_defers_the_job_under_its_own_id_without_sleeping(redis_conn, settings):
    assert host_wait(redis_conn, settings.model_copy(update={"host_min_delay": 1.0}), HOST) == 0
    queue = Queue("polite", connection=redis_conn)
    job = queue.enqueue(deferring_job, HOST, 1.0, job_id="url-1")
    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    # Scheduled, not finished: the job gave its worker back instead of sleeping through the delay.
    assert job.get_status(refresh=True) == JobStatus.SCHEDULED
    assert float(redis_conn.lindex("runs", 0)) > 0
    assert ScheduledJobRegistry(queue=queue).get_job_ids() == ["url-1"]
    time.sleep(1.1)
    SimpleWorker([queue], connection=redis_conn).work(burst=True, with_scheduler=True)
    done = Job.fetch("url-1", connection=redis_conn)
    assert (done.get_status(), done.return_value()) == (JobStatus.FINISHED, "fetched")
    assert redis_conn.llen("runs") == 2
