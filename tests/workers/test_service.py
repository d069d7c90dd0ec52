"""workers.service: what `wiredesk run --once` reports at its end."""

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
