"""What wiredesk's worker changes in rq's: the bookkeeping round trips each job costs, what it logs (a line per URL,
none of rq's own at INFO, no traceback for a failure that will be retried)."""

import logging

import pytest
import redis
from rq import Queue

from store.base import open_store
from tests.conftest import wait_for
from tests.workers.test_jobs import article_page, enqueue, job_settings, running_worker, warm_horses  # noqa: F401
from workers.runtime import init_runtime
from workers.worker import work, worker_class

JOBS = 20


class CountingConnection(redis.Connection):
    """A Redis connection that counts what it sends: one command, or one whole pipeline, per round trip."""

    round_trips = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.round_trips += 1
        super().send_packed_command(command, check_health)


def _queued_worker(job_settings, redis_url, urls, connection_class=redis.Connection):
    """The store with `urls` enqueued, and a wiredesk worker on their queue over a connection of that class."""
    store = open_store(job_settings.store_url)
    enqueue(job_settings, store, redis.Redis.from_url(redis_url), urls)
    init_runtime(job_settings)
    conn = redis.Redis.from_url(redis_url, connection_class=connection_class)
    return store, worker_class(job_settings)([Queue(job_settings.queue_name, connection=conn)], connection=conn)


def test_rq_bookkeeping_costs_at_most_thirteen_round_trips_a_job(job_settings, redis_url, http_server):
    urls = [http_server.add(f"/rt/{n}", article_page(f"Harbour story number {n}")) for n in range(JOBS)]
    store, worker = _queued_worker(job_settings, redis_url, urls, CountingConnection)
    CountingConnection.round_trips = 0
    worker.work(burst=True)
    assert store.count_url_states() == {"stored": JOBS}
    # 11.8 measured, start-up and teardown spread over the jobs included; rq 3.0's own classes: 14.9 (is_suspended
    # before every job, a heartbeat that shortens the worker's TTL and one that lengthens it again, a job heartbeat
    # at its end). Skipped heartbeats and suspension checks come back once a second on a slow machine.
    assert CountingConnection.round_trips / JOBS <= 13
    store.close()


def test_redis_forgets_a_finished_job_within_minutes(job_settings, redis_url, http_server):
    url = http_server.add("/ttl/1", article_page("Harbour story that ends well"))
    store, worker = _queued_worker(job_settings, redis_url, [url])
    worker.work(burst=True)
    assert store.count_url_states() == {"stored": 1}
    conn = redis.Redis.from_url(redis_url)
    jobs = list(conn.scan_iter("rq:job:*"))
    assert len(jobs) == 1
    kept = [key for key in conn.scan_iter("*") if jobs[0].rsplit(b":", 1)[-1] in key]  # job, result, execution
    assert kept and all(0 < conn.ttl(key) <= 15 * 60 for key in kept), {key: conn.ttl(key) for key in kept}
    store.close()


def test_a_job_logs_how_its_url_ended_and_not_how_long_rq_keeps_its_result(job_settings, redis_url, http_server,
                                                                             caplog):
    url = http_server.add("/log/1", article_page("Harbour story for the log"))
    store, worker = _queued_worker(job_settings, redis_url, [url])
    with caplog.at_level("INFO"):
        worker.work(burst=True, logging_level="INFO")
    messages = [record.getMessage() for record in caplog.records]
    assert any("/log/1" in message and "state=stored" in message for message in messages), messages
    assert any("Job OK" in message for message in messages), messages
    assert not any("result is kept" in message for message in messages), messages
    store.close()


def _tracebacks(records) -> list:
    """The records that carry a traceback, as an exception's own or written into the message (rq's way)."""
    return [record for record in records if record.exc_info or "Traceback" in record.getMessage()]


def test_at_info_a_worker_logs_one_line_per_url_and_none_of_rqs_own(job_settings, redis_url, http_server, caplog):
    urls = [http_server.add("/quiet/1", article_page("Harbour story told quietly")), http_server.url("/quiet/gone")]
    store = open_store(job_settings.store_url)
    enqueue(job_settings, store, redis.Redis.from_url(redis_url), urls)
    with caplog.at_level("INFO"):
        work(job_settings, burst=True)
    assert [record.name for record in caplog.records if record.name.startswith("rq")] == []
    lines = {url: [record.getMessage() for record in caplog.records if f"url={url} " in record.getMessage()]
             for url in urls}
    assert [len(about_url) for about_url in lines.values()] == [1, 1], lines
    assert "state=stored" in lines[urls[0]][0] and "state=failed reason=http-404" in lines[urls[1]][0], lines
    store.close()


def test_a_failure_that_will_be_retried_is_one_info_line_without_a_traceback(job_settings, redis_url, http_server,
                                                                             caplog):
    store = open_store(job_settings.store_url)
    enqueue(job_settings, store, redis.Redis.from_url(redis_url), [http_server.add("/busy", b"busy", status=503)])
    with caplog.at_level("INFO"):
        work(job_settings, burst=True)
    about_it = [record for record in caplog.records if "/busy" in record.getMessage()]
    assert [(record.levelname, "state=retrying reason=http-503" in record.getMessage()) for record in about_it] == [
        ("INFO", True)]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not _tracebacks(caplog.records)
    store.close()


def test_an_unexpected_error_logs_its_traceback_once(job_settings, redis_url, http_server, caplog, monkeypatch):
    def broken(page, entry):
        raise RuntimeError("extractor bug")

    monkeypatch.setattr("workers.jobs.extract_article", broken)  # the in-process worker runs the job here
    store = open_store(job_settings.store_url)
    enqueue(job_settings, store, redis.Redis.from_url(redis_url),
            [http_server.add("/bug", article_page("Harbour story meets a bug"))])
    with caplog.at_level("INFO"):
        work(job_settings, burst=True)
    traced = _tracebacks(caplog.records)
    assert [(record.name, record.exc_info[0]) for record in traced] == [("workers.jobs", RuntimeError)]
    store.close()


def test_a_long_running_worker_says_that_it_started(job_settings, tmp_path, caplog):
    log = tmp_path / "worker.log"
    handler = logging.FileHandler(log)
    logging.getLogger().addHandler(handler)  # the forked worker process logs through it
    caplog.set_level("INFO")
    try:
        with running_worker(job_settings):
            assert wait_for(lambda: "started on queue wiredesk" in log.read_text(), timeout=10), log.read_text()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def test_a_stop_requested_during_a_reconcile_pass_stops_the_worker(job_settings, redis_url, monkeypatch):
    # rq raises StopRequested from its SIGTERM handler in an idle worker; a pass (at start-up, then every few
    # minutes) caught every exception, so a worker told to stop then went on, an orphan once its parent was gone.
    from rq.exceptions import StopRequested

    import workers.worker

    def stop(*_args):
        raise StopRequested

    monkeypatch.setattr(workers.worker, "reconcile", stop)
    init_runtime(job_settings)
    conn = redis.Redis.from_url(redis_url)
    worker = worker_class(job_settings)([Queue(job_settings.queue_name, connection=conn)], connection=conn)
    with pytest.raises(StopRequested):
        worker.run_maintenance_tasks()

