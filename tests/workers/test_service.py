"""workers.service: what `wiredesk run --once` reports at its end."""

from rq import Queue

from store.base import open_store
from tests.workers.test_jobs import article_page, enqueue, job_settings, warm_horses  # noqa: F401
from workers.service import run_once


def test_run_once_reports_the_urls_it_processed_not_the_store_totals(job_settings, redis_conn, http_server):
    store = open_store(job_settings.store_url)
    enqueue(job_settings, store, redis_conn, [http_server.add("/first", article_page("Harbour story, first run"))])
    assert list(run_once(job_settings, store, redis_conn, processes=1))[-1] == "1 stored, 0 duplicate, 0 failed"

    enqueue(job_settings, store, redis_conn, [http_server.url("/second-run-404")])
    assert list(run_once(job_settings, store, redis_conn, processes=1))[-1] == "0 stored, 0 duplicate, 1 failed"
    store.close()


def test_run_once_says_when_urls_it_did_not_finish_wait_without_a_job(job_settings, redis_conn, http_server):
    store = open_store(job_settings.store_url)
    enqueue(job_settings, store, redis_conn, [http_server.add("/kept", article_page("Harbour story, kept"))])
    lost = enqueue(job_settings, store, redis_conn, [http_server.add("/lost", article_page("Harbour story, lost"))])
    Queue(job_settings.queue_name, connection=redis_conn).remove(lost[0].url_id)  # Redis lost its job
    line = list(run_once(job_settings, store, redis_conn, processes=1))[-1]
    assert line.startswith("1 stored, 0 duplicate, 0 failed; 1 not finished and not queued here")
    store.close()
