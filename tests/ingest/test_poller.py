"""poll_feeds on a real SQLite store, real Redis and a loopback server: enqueue once, back off, follow moves."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from rq import Queue

from ingest.poller import _lease_key, poll_feeds
from ingest.urls import url_id
from store.base import StoreError, StoreUnavailable, open_store
from store.records import Feed
from tests.conftest import Route
from tests.ingest.conftest import conditional_route


def rss_body(links: list[str]) -> bytes:
    date = format_datetime(datetime.now(timezone.utc) - timedelta(hours=1), usegmt=True)
    items = "".join(f"<item><title>{link}</title><link>{link}</link><pubDate>{date}</pubDate></item>" for link in links)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()


def queued_ids(redis_conn, settings) -> list[str]:
    return Queue(settings.queue_name, connection=redis_conn).job_ids


def test_new_entries_are_enqueued_and_feed_state_recorded(settings, store, redis_conn, http_server):
    url = http_server.add("/f", handler=conditional_route(rss_body(["https://a.example/1", "https://a.example/2"])))
    store.add_feeds([Feed(url=url)])
    summary = poll_feeds(settings, store, redis_conn)
    assert (summary.polled, summary.changed, summary.entries, summary.enqueued) == (1, 1, 2, 2)
    assert len(queued_ids(redis_conn, settings)) == 2
    feed = store.get_feed(url)
    assert feed.state == "ok" and feed.last_status == 200 and feed.etag and feed.body_hash
    assert feed.entries_seen == 2 and feed.polls == 1 and feed.title == "F"
    assert feed.next_poll >= feed.last_polled + timedelta(seconds=settings.poll_min_interval)
    assert "polled 1 feeds" in summary.line()


def test_second_poll_of_unchanged_feed_enqueues_nothing(settings, store, redis_conn, http_server):
    url = http_server.add("/f", rss_body(["https://a.example/1"]), headers={"Content-Type": "application/rss+xml"})
    store.add_feeds([Feed(url=url)])
    poll_feeds(settings, store, redis_conn)
    redis_conn.delete(Queue(settings.queue_name, connection=redis_conn).key)
    again = poll_feeds(settings, store, redis_conn, all_feeds=True)
    assert (again.not_modified, again.enqueued) == (1, 0)
    assert queued_ids(redis_conn, settings) == []


def test_server_honouring_etag_answers_304_and_nothing_is_parsed(settings, store, redis_conn, http_server):
    url = http_server.add("/f", handler=conditional_route(rss_body(["https://a.example/1"])))
    store.add_feeds([Feed(url=url)])
    poll_feeds(settings, store, redis_conn)
    again = poll_feeds(settings, store, redis_conn, all_feeds=True)
    assert again.not_modified == 1 and store.get_feed(url).last_status == 304
    assert http_server.requests[-1][1]["If-None-Match"] == store.get_feed(url).etag


def test_changed_feed_enqueues_only_its_new_entries(settings, store, redis_conn, http_server):
    url = http_server.add("/f", rss_body(["https://a.example/1"]), headers={"Content-Type": "application/rss+xml"})
    store.add_feeds([Feed(url=url)])
    poll_feeds(settings, store, redis_conn)
    http_server.add("/f", rss_body(["https://a.example/1", "https://a.example/2"]))
    again = poll_feeds(settings, store, redis_conn, all_feeds=True)
    assert (again.changed, again.entries, again.enqueued) == (1, 2, 1)


def test_two_pollers_at_once_enqueue_each_entry_exactly_once(settings, store, redis_conn, http_server):
    from store.base import open_store

    links = [f"https://shared.example/{n}" for n in range(5)]
    urls = [http_server.add(f"/f{n}", rss_body(links[n:] + [f"https://own.example/{n}"]),
                            headers={"Content-Type": "application/rss+xml"}) for n in range(8)]
    store.add_feeds([Feed(url=url) for url in urls])
    barrier = threading.Barrier(2)
    summaries = []

    def run():
        own = open_store(settings.store_url)
        barrier.wait()
        summaries.append(poll_feeds(settings, own, redis_conn))
        own.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    expected = set(links) | {f"https://own.example/{n}" for n in range(8)}
    assert sum(s.enqueued for s in summaries) == len(expected)
    assert sum(s.polled for s in summaries) == 8
    assert len(queued_ids(redis_conn, settings)) + _rate_limited(redis_conn) == len(expected)
    assert sum(http_server.hits[f"/f{n}"] for n in range(8)) == 8


def _rate_limited(redis_conn) -> int:
    return sum(redis_conn.zcard(key) for key in redis_conn.keys("rq:rl:*:rate_limited"))


def test_gone_feed_is_stopped(settings, store, redis_conn, http_server):
    url = http_server.add("/f", b"", status=410)
    store.add_feeds([Feed(url=url)])
    summary = poll_feeds(settings, store, redis_conn)
    feed = store.get_feed(url)
    assert summary.failed == 1 and feed.state == "gone" and "410" in feed.last_error
    assert store.due_feeds(datetime.now(timezone.utc) + timedelta(days=30)) == []


def test_permanent_redirect_renames_the_feed(settings, store, redis_conn, http_server):
    new = http_server.add("/new", rss_body(["https://a.example/1"]), headers={"Content-Type": "application/rss+xml"})
    old = http_server.add("/old", b"", status=301, headers={"Location": new})
    store.add_feeds([Feed(url=old)])
    poll_feeds(settings, store, redis_conn)
    assert store.get_feed(old) is None
    assert store.get_feed(new).last_status == 200


def test_failures_back_off_longer_each_time_and_record_the_error(settings, store, redis_conn, http_server):
    url = http_server.add("/f", b"boom", status=500)
    store.add_feeds([Feed(url=url)])
    delays = []
    now = datetime.now(timezone.utc)
    for _ in range(4):
        poll_feeds(settings, store, redis_conn, now=now)
        feed = store.get_feed(url)
        delays.append((feed.next_poll - now).total_seconds())
        now = feed.next_poll
    assert feed.state == "backoff" and feed.failures == 4 and "500" in feed.last_error
    assert delays == sorted(delays) and delays[-1] > 2 * delays[0]
    assert delays[-1] <= settings.poll_max_interval


def test_retry_after_on_429_is_respected(settings, store, redis_conn, http_server):
    url = http_server.add("/f", b"", status=429, headers={"Retry-After": "7200"})
    store.add_feeds([Feed(url=url)])
    now = datetime.now(timezone.utc)
    poll_feeds(settings, store, redis_conn, now=now)
    assert store.get_feed(url).next_poll >= now + timedelta(seconds=7200)


def test_html_page_marks_not_a_feed_with_suggestions(settings, store, redis_conn, http_server):
    page = b'<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml"></head></html>'
    url = http_server.add("/site", page)
    store.add_feeds([Feed(url=url)])
    poll_feeds(settings, store, redis_conn)
    feed = store.get_feed(url)
    assert feed.state == "not-a-feed" and http_server.url("/atom.xml") in feed.last_error


def test_feed_leased_by_another_poller_is_skipped(settings, store, redis_conn, http_server):
    url = http_server.add("/f", rss_body(["https://a.example/1"]))
    store.add_feeds([Feed(url=url)])
    redis_conn.set(_lease_key(settings, url), "someone-else", px=60_000)
    summary = poll_feeds(settings, store, redis_conn)
    assert (summary.skipped, summary.polled) == (1, 0) and http_server.hits.get("/f") is None


def test_lease_is_kept_until_the_feed_state_is_saved(settings, store, redis_conn, http_server, monkeypatch):
    url = http_server.add("/f", rss_body(["https://a.example/1"]))
    store.add_feeds([Feed(url=url)])

    def down(saves):
        raise StoreUnavailable("store restarting")

    monkeypatch.setattr(store, "save_feeds", down)
    with pytest.raises(StoreUnavailable):
        poll_feeds(settings, store, redis_conn)
    # The state was not saved, so another poller must not take the feed until the lease expires.
    assert redis_conn.get(_lease_key(settings, url)) is not None
    monkeypatch.undo()
    redis_conn.delete(_lease_key(settings, url))
    poll_feeds(settings, store, redis_conn)
    assert redis_conn.get(_lease_key(settings, url)) is None and store.get_feed(url).polls == 1


def test_concurrency_stays_within_the_overall_and_per_host_limits(settings, store, redis_conn, http_server,
                                                                  monkeypatch):
    import ingest.poller as poller

    body = rss_body(["https://a.example/1"])
    now_running, most = {}, {}
    lock = threading.Lock()

    def slow(handler):
        host = handler.headers["Host"].split(":")[0]
        with lock:
            now_running[host] = now_running.get(host, 0) + 1
            now_running["all"] = now_running.get("all", 0) + 1
            for key in (host, "all"):
                most[key] = max(most.get(key, 0), now_running[key])
        time.sleep(0.15)
        with lock:
            now_running[host] -= 1
            now_running["all"] -= 1
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    urls = []
    for n in range(12):
        http_server.routes[f"/f{n}"] = Route(handler=slow)
        urls += [http_server.url(f"/f{n}"), http_server.url(f"/f{n}").replace("127.0.0.1", "localhost")]
    store.add_feeds([Feed(url=url) for url in urls])
    exchanges = []
    exchange = poller._exchange_leases
    monkeypatch.setattr(poller, "_exchange_leases",
                        lambda redis, settings, releases, acquire: exchanges.append(len(acquire)) or exchange(
                            redis, settings, releases, acquire))
    limited = settings.model_copy(update={"poll_concurrency": 5, "poll_per_host": 3})
    summary = poll_feeds(limited, store, redis_conn)
    assert summary.polled == 24 and sorted(http_server.hits) == sorted(f"/f{n}" for n in range(12))
    assert set(http_server.hits.values()) == {2}
    assert most["all"] == 5 and most["127.0.0.1"] <= 3 and most["localhost"] <= 3
    # Leases are taken a batch at a time, ahead of the free slots, not in a round trip per feed.
    batches = [n for n in exchanges if n]
    assert sum(batches) == 24 and len(batches) <= 8


def test_old_entries_whose_dates_feedparser_cannot_parse_are_not_enqueued(settings, store, redis_conn, http_server,
                                                                          corpus):
    # Korea Times writes "Thu,28 Jul 2022 4:35:5 GMT+9", UOL "Seg, 24 Set 2018 19:42:40 -0300".
    urls = []
    for path in ("feeds/mediacloud-rss-fetcher/real-korean-times.rss", "feeds/rss-parser/input/uolNoticias.rss"):
        urls.append(http_server.add("/" + path, (corpus / path).read_bytes(),
                                    headers={"Content-Type": "application/rss+xml"}))
    store.add_feeds([Feed(url=url) for url in urls])
    summary = poll_feeds(settings, store, redis_conn)
    assert (summary.changed, summary.enqueued) == (2, 0) and queued_ids(redis_conn, settings) == []
    assert [store.get_feed(url).last_error for url in urls] == ["195 entries, all older than 30 days",
                                                                 "15 entries, all older than 30 days"]


def test_subscribed_sitemap_is_marked_not_a_feed(settings, store, redis_conn, http_server, corpus):
    url = http_server.add("/sitemap.xml", (corpus / "feeds" / "trafilatura" / "sitemap.xml").read_bytes(),
                          headers={"Content-Type": "application/xml"})
    store.add_feeds([Feed(url=url)])
    poll_feeds(settings, store, redis_conn)
    feed = store.get_feed(url)
    assert (feed.state, feed.last_error) == ("not-a-feed", f"not a feed: {url} is a sitemap")


def test_entries_over_the_per_poll_cap_are_enqueued_by_the_next_polls(settings, store, redis_conn, http_server):
    links = [f"https://h{n}.example/1" for n in range(5)]  # one host each: none waits for its host's limit
    url = http_server.add("/f", handler=conditional_route(rss_body(links)))  # answers 304 to its ETag
    store.add_feeds([Feed(url=url)])
    capped = settings.model_copy(update={"max_entries_per_poll": 2})
    first = poll_feeds(capped, store, redis_conn)
    assert (first.entries, first.enqueued, first.postponed) == (5, 2, 3)
    assert "3 new left for the next poll" in first.line()
    assert store.get_feed(url).last_error == "3 new entries left for the next poll (max_entries_per_poll 2)"
    # Entries already enqueued do not count against the cap: each poll takes the next ones.
    later = [poll_feeds(capped, store, redis_conn, all_feeds=True) for _ in range(3)]
    assert [(s.enqueued, s.postponed) for s in later] == [(2, 1), (1, 0), (0, 0)]
    assert sorted(queued_ids(redis_conn, settings)) == sorted(url_id(link) for link in links)
    assert store.get_feed(url).last_error is None and later[-1].not_modified == 1


def test_state_the_store_refuses_fails_its_feed_only_and_every_lease_is_given_back(settings, store, redis_conn,
                                                                                   http_server, monkeypatch, caplog):
    bad = http_server.add("/bad", rss_body(["https://a.example/1"]).replace(b"<title>F</title>", b"<title>X</title>"))
    good = http_server.add("/good", rss_body(["https://b.example/1"]))
    store.add_feeds([Feed(url=bad), Feed(url=good)])
    save_feeds = store.save_feeds

    def refuse_title_x(saves):
        if any(feed.title == "X" for feed, _ in saves):
            raise StoreError("DataError: a value the database refuses")
        save_feeds(saves)

    monkeypatch.setattr(store, "save_feeds", refuse_title_x)
    summary = poll_feeds(settings, store, redis_conn)
    assert summary.enqueued == 2
    assert (store.get_feed(good).state, store.get_feed(good).polls, store.get_feed(good).title) == ("ok", 1, "F")
    failed = store.get_feed(bad)
    assert (failed.state, failed.failures) == ("backoff", 1) and "could not be saved" in failed.last_error
    assert any(bad in record.getMessage() for record in caplog.records if record.levelname == "ERROR")
    assert [redis_conn.get(_lease_key(settings, url)) for url in (bad, good)] == [None, None]


def test_entries_the_store_refuses_fail_that_feed_only(settings, store, redis_conn, http_server, monkeypatch):
    bad = http_server.add("/bad", rss_body(["https://refused.example/1"]))
    good = http_server.add("/good", rss_body(["https://b.example/1"]))
    store.add_feeds([Feed(url=bad), Feed(url=good)])
    claim_urls = store.claim_urls

    def refuse_host(states):
        if any("refused.example" in state.url for state in states):
            raise StoreError("DataError: a value the database refuses")
        return claim_urls(states)

    monkeypatch.setattr(store, "claim_urls", refuse_host)
    summary = poll_feeds(settings, store, redis_conn)
    assert (summary.changed, summary.failed, summary.enqueued) == (1, 1, 1)
    assert queued_ids(redis_conn, settings) == [url_id("https://b.example/1")]
    assert store.get_feed(good).state == "ok" and "refuses" in store.get_feed(bad).last_error


def test_json_feed_with_nul_characters_is_polled_on_postgresql_without_them(settings, redis_conn, http_server, pg_url):
    nul_feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Feed\u0000Title",
                "items": [{"id": "1", "url": "https://a.example/1", "title": "Item\u0000title",
                           "summary": "sum\u0000mary", "authors": [{"name": "A\u0000B"}]}]}
    nul = http_server.add("/nul.json", json.dumps(nul_feed), headers={"Content-Type": "application/feed+json"})
    good = http_server.add("/good", rss_body(["https://b.example/1"]))
    store = open_store(pg_url)
    try:
        store.add_feeds([Feed(url=nul), Feed(url=good)])
        summary = poll_feeds(settings, store, redis_conn)
        assert (summary.changed, summary.enqueued) == (2, 2)
        assert [store.get_feed(url).title for url in (nul, good)] == ["FeedTitle", "F"]
    finally:
        store.close()
