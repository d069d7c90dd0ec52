"""enqueue_entries: one rq job per URL id, with retry, timeout and a per-host rate limit."""

from __future__ import annotations

from rq import Queue

from ingest.queue import JOB_FUNCTION, enqueue_entries
from ingest.records import FeedEntry
from ingest.urls import canonicalize_url, url_id


def entry(url: str) -> FeedEntry:
    canonical = canonicalize_url(url)
    return FeedEntry(url=url, canonical_url=canonical, url_id=url_id(canonical), feed_url="https://example.org/feed")


def test_enqueued_job_is_keyed_by_url_id_and_carries_the_entry(redis_conn, settings):
    item = entry("https://news.example.org/a?utm_source=x")
    assert enqueue_entries(redis_conn, settings, [item]) == 1
    job = Queue(settings.queue_name, connection=redis_conn).fetch_job(item.url_id)
    assert job.func_name == JOB_FUNCTION
    assert job.args == (item.to_dict(),)
    assert job.timeout == settings.job_timeout
    assert job.retries_left == len(settings.retry_intervals)
    assert job.retry_intervals == settings.retry_intervals
    assert job.rate_limit_key == "host:news.example.org"


def test_jobs_beyond_the_host_concurrency_wait_rate_limited(redis_conn, settings):
    items = [entry(f"https://one.example/{n}") for n in range(settings.host_concurrency + 2)]
    items.append(entry("https://two.example/1"))
    assert enqueue_entries(redis_conn, settings, items) == len(items)
    queue = Queue(settings.queue_name, connection=redis_conn)
    queued = set(queue.job_ids)
    assert len([i for i in items if i.url_id in queued and "one.example" in i.url]) == settings.host_concurrency
    assert items[-1].url_id in queued
    waiting = [queue.fetch_job(i.url_id).get_status() for i in items if i.url_id not in queued]
    assert waiting == ["rate_limited", "rate_limited"]


def test_the_same_url_twice_in_one_batch_is_one_job(redis_conn, settings):
    item = entry("https://news.example.org/a")
    assert enqueue_entries(redis_conn, settings, [item, item]) == 1
    assert Queue(settings.queue_name, connection=redis_conn).count == 1


def test_no_entries_touches_nothing(redis_conn, settings):
    assert enqueue_entries(redis_conn, settings, []) == 0
    assert redis_conn.dbsize() == 0
