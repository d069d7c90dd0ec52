"""reconcile: URLs the queue lost are enqueued again; live jobs are left alone; SIGKILLed workers lose nothing."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rq import Queue

from ingest.urls import url_id
from store.base import open_store
from store.records import UrlState
from tests.conftest import wait_for
from tests.workers.test_jobs import (FINAL, article_page, documents, enqueue, job_settings, running_worker,  # noqa: F401
                                     settle, states_of, warm_horses)
from workers.reconcile import MAX_REQUEUES, reconcile
from workers.worker import run_workers


def later(settings) -> datetime:
    """A moment past every URL's deadline."""
    return datetime.now(timezone.utc) + timedelta(seconds=settings.url_deadline + 1)


def test_url_whose_job_redis_forgot_is_requeued_and_stored(job_settings, redis_conn, http_server):
    store = open_store(job_settings.store_url)
    entries = enqueue(job_settings, store, redis_conn, [http_server.add("/a", article_page("Forgotten"))])
    redis_conn.flushdb()  # a Redis restart without persistence

    assert reconcile(job_settings, store, redis_conn, now=later(job_settings)) == 1
    assert store.get_url_state(entries[0].url_id).reason == "requeued"
    settle(job_settings, redis_conn)
    assert states_of(store, entries) == {"a": ("stored", None)}


def test_waiting_jobs_are_left_alone(job_settings, redis_conn, http_server):
    store = open_store(job_settings.store_url)
    settings = job_settings.model_copy(update={"host_concurrency": 1})
    # One job in the queue, one held back by the host's rate limit.
    enqueue(settings, store, redis_conn, [http_server.add(f"/w{n}", article_page(f"W{n}")) for n in range(2)])

    assert reconcile(settings, store, redis_conn, now=later(settings)) == 0
    assert Queue(settings.queue_name, connection=redis_conn).count == 1


def test_url_lost_again_and_again_ends_failed_as_lost(job_settings, redis_conn, http_server):
    store = open_store(job_settings.store_url)
    entries = enqueue(job_settings, store, redis_conn, [http_server.add("/cursed", article_page("Cursed"))])
    for _ in range(MAX_REQUEUES):
        redis_conn.delete(f"rq:job:{entries[0].url_id}")
        assert reconcile(job_settings, store, redis_conn, now=later(job_settings)) == 1
    redis_conn.delete(f"rq:job:{entries[0].url_id}")
    assert reconcile(job_settings, store, redis_conn, now=later(job_settings)) == 0
    assert states_of(store, entries) == {"cursed": ("failed", "lost")}


def test_worker_reconciles_in_its_maintenance(job_settings, redis_conn, http_server):
    settings = job_settings.model_copy(update={"url_deadline": 2})
    store = open_store(settings.store_url)
    url = http_server.add("/never-queued", article_page("Claimed, never queued"))
    # In the store as queued, but its job never reached Redis (the poller died between the two).
    store.claim_urls([UrlState(url_id=url_id(url), url=url, feed_url="test:feed", state="queued")])
    with running_worker(settings) as child:
        assert wait_for(lambda: store.get_url_state(url_id(url)).state == "stored", timeout=15)
        assert child.is_alive()


def _children(pid: int) -> list[int]:
    """Pids whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _horse_of(worker_pid: int) -> int:
    """The work horse of an rq worker: the child that leads its own process group (rq's scheduler does not)."""
    horses = [pid for pid in _children(worker_pid) if os.getpgid(pid) == pid]
    assert len(horses) == 1, horses
    return horses[0]


@pytest.fixture
def stalled_page(http_server):
    """/victim hangs on its first request (the job is mid-fetch) and answers at once afterwards."""
    release = threading.Event()

    def victim(handler):
        if http_server.hits["/victim"] == 1:
            release.wait(20)
        body = article_page("Victim").encode()
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass

    url = http_server.add("/victim", handler=victim)
    yield url
    release.set()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the work horse through /proc")
@pytest.mark.parametrize("isolation", [False, True], ids=["in-process", "work-horse"])
def test_worker_sigkilled_mid_job_its_url_is_requeued_and_stored_once(job_settings, redis_conn, http_server,
                                                                       stalled_page, isolation):
    # One request per host at a time: the dead job's slot must be freed, or /next and the requeued job wait forever.
    settings = job_settings.model_copy(update={"url_deadline": 1, "host_concurrency": 1,
                                               "worker_isolation": isolation})
    store = open_store(settings.store_url)
    next_url = http_server.add("/next", article_page("Next in line"))
    with running_worker(settings) as child:
        entries = enqueue(settings, store, redis_conn, [stalled_page, next_url])
        assert wait_for(lambda: http_server.hits.get("/victim") == 1, timeout=10)
        assert not isolation or _horse_of(child.pid)
        # The whole worker at once: its process, its work horse if any, and its scheduler process.
        for pid in [child.pid, *_children(child.pid)]:
            os.kill(pid, signal.SIGKILL)
        child.join(5)
    assert states_of(store, entries)["victim"] == ("started", None)

    time.sleep(settings.url_deadline + 0.1)
    assert reconcile(settings, store, redis_conn) == 1  # /next still waits behind the limit: alive, left alone
    settle(settings, redis_conn)

    assert states_of(store, entries) == {"victim": ("stored", None), "next": ("stored", None)}
    assert sorted(d.id for d in documents(store)) == sorted(e.url_id for e in entries)
    assert http_server.hits["/victim"] == 2


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the scheduler through /proc")
def test_scheduler_process_ends_with_its_sigkilled_worker(job_settings, redis_conn):
    with running_worker(job_settings) as child:
        assert wait_for(lambda: _children(child.pid), timeout=10)
        [scheduler] = _children(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        child.join(5)
    assert wait_for(lambda: not _alive(scheduler), timeout=10)


def _serve(settings, store_url: str, redis_url: str) -> None:
    """`wiredesk run` (without --once): workers in child processes and the poller in this one."""
    import redis

    from workers.service import run_forever

    run_forever(settings, open_store(store_url), redis.Redis.from_url(redis_url), 2)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the worker processes through /proc")
@pytest.mark.parametrize("command, stop", [("worker", signal.SIGKILL), ("run", signal.SIGKILL), ("run", signal.SIGTERM)])
def test_worker_processes_end_with_their_parent_however_it_is_stopped(job_settings, command, stop):
    ctx = multiprocessing.get_context("fork")
    target, args = ((run_workers, (job_settings, False, 2)) if command == "worker"
                    else (_serve, (job_settings, job_settings.store_url, job_settings.redis_url)))
    parent = ctx.Process(target=target, args=args)
    parent.start()
    assert wait_for(lambda: len(_children(parent.pid)) == 2, timeout=20)
    workers = _children(parent.pid)
    os.kill(parent.pid, stop)  # a service manager's stop, or the OOM killer
    parent.join(20)
    # Left running under init, they went on taking jobs; on SQLite their commits were then lost (tests/store/test_fork.py).
    assert wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=20)
    assert stop == signal.SIGKILL or parent.exitcode == 0


def _alive(pid: int) -> bool:
    """Whether `pid` runs (an exited child of a dead parent is reaped by init at once)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the work horse through /proc")
def test_work_horse_sigkilled_mid_job_is_retried_by_its_worker_and_stored_once(job_settings, redis_conn,
                                                                                http_server, stalled_page):
    job_settings = job_settings.model_copy(update={"worker_isolation": True})
    store = open_store(job_settings.store_url)
    with running_worker(job_settings) as child:
        entries = enqueue(job_settings, store, redis_conn, [stalled_page])
        assert wait_for(lambda: http_server.hits.get("/victim") == 1, timeout=10)
        os.kill(_horse_of(child.pid), signal.SIGKILL)
        assert wait_for(lambda: store.get_url_state(entries[0].url_id).state in FINAL, timeout=15)
        assert child.is_alive()

    assert states_of(store, entries) == {"victim": ("stored", None)}
    assert [d.id for d in documents(store)] == [entries[0].url_id]
    assert http_server.hits["/victim"] == 2


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the scheduler through /proc")
def test_status_lists_a_worker_while_it_lives_and_not_once_it_is_sigkilled(job_settings, redis_conn):
    from workers.status import collect_status

    store = open_store(job_settings.store_url)

    def listed() -> list[str]:
        return collect_status(job_settings, store, redis_conn)["workers"]

    with running_worker(job_settings) as child:
        assert wait_for(lambda: any(name.endswith(f"/{child.pid}") for name in listed()), timeout=10)
        for pid in [child.pid, *_children(child.pid)]:
            os.kill(pid, signal.SIGKILL)
        child.join(5)
        assert not any(name.endswith(f"/{child.pid}") for name in listed())  # its key lives on for its TTL
