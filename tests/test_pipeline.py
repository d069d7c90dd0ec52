"""End to end on real components: a feed on a loopback server -> poll -> real Redis queue -> worker -> SQLite -> query."""

from __future__ import annotations

import pytest
from rq import Queue, SimpleWorker

import telemetry
from ingest.poller import poll_feeds
from store.base import open_store
from store.records import Feed, Query
from tests.pages import aeb_pages, english_seed_page, rss, seed_page
from workers.runtime import init_runtime


def drain(settings, redis_conn):
    """Run a burst worker in this process until the queue is empty (rq's own test pattern)."""
    init_runtime(settings)
    queue = Queue(settings.queue_name, connection=redis_conn)
    SimpleWorker([queue], connection=redis_conn).work(burst=True)


@pytest.fixture
def site(http_server, corpus, seed_dir):
    """A news site on loopback: the French seed article, three real English articles, a copy, a 404 and an image."""
    title, french = seed_page(seed_dir)
    http_server.add("/monde/kharkiv", french)
    # The same article republished under another host name (another outlet) with tracking parameters.
    copy_url = http_server.url("/monde/kharkiv-copie").replace("127.0.0.1", "localhost") + "?utm_source=rss"
    http_server.add("/monde/kharkiv-copie", french)
    items = [{"title": title, "link": http_server.url("/monde/kharkiv?utm_medium=feed#top")},
             {"title": title, "link": copy_url}]
    for key, html, _ in aeb_pages(corpus, 3):
        # Served without a charset: the worker must find it in the page itself.
        items.append({"title": key, "link": http_server.add(f"/en/{key}", html, headers={"Content-Type": "text/html"})})
    items.append({"title": "gone", "link": http_server.url("/missing")})
    items.append({"title": "photo", "link": http_server.add("/photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
                                                          headers={"Content-Type": "image/png"})})
    feed_url = http_server.add("/rss.xml", rss("Le Quotidien", items),
                               headers={"Content-Type": "application/rss+xml; charset=utf-8"})
    return feed_url, len(items)


@pytest.fixture
def processed(settings, redis_conn, site):
    """The site's feed polled once and every queued URL processed: (store, poll summary, item count)."""
    feed_url, item_count = site
    store = open_store(settings.store_url)
    store.add_feeds([Feed(url=feed_url)])
    summary = poll_feeds(settings, store, redis_conn)
    drain(settings, redis_conn)
    return store, summary, item_count


def test_feed_to_store_every_url_ends_in_one_state(processed, settings, redis_conn):
    store, summary, item_count = processed
    assert summary.enqueued == item_count

    states = store.count_url_states()
    assert states.get("stored") == 4
    assert states.get("duplicate") == 1
    assert states.get("failed") == 2
    assert sum(states.values()) == item_count
    reasons = {row.url.rsplit("/", 1)[-1]: row.reason for row in store.list_failures()}
    assert reasons == {"missing": "http-404", "photo.png": "not-html"}
    outcomes = {}
    for family in telemetry.collect(redis_conn, settings):
        if family.name == "wiredesk_url_outcomes":
            outcomes = {s.labels["state"]: s.value for s in family.samples if s.name.endswith("_total")}
    assert outcomes == {"stored": 4, "duplicate": 1, "failed": 2}


def test_french_article_is_found_with_its_language_and_typography(processed):
    store = processed[0]
    hits = store.search(Query(text="Kharkiv", language="fr")).hits
    assert len(hits) == 1
    doc = hits[0].document
    assert doc.language == "fr"
    assert "“Ils sont entrés dans nos maisons" in doc.text
    assert "Mentions légales" not in doc.text and "Newsletter" not in doc.text
    assert doc.site_name == "Le Quotidien"
    assert hits[0].copies == 1 and {doc.source, *hits[0].outlets} == {"127.0.0.1", "localhost"}
    story = store.get_story(doc.story_id)
    assert [(c.source, c.relation) for c in story.copies] == [("127.0.0.1", "original"), ("localhost", "exact")]


def test_second_poll_of_unchanged_feed_enqueues_nothing(settings, redis_conn, processed):
    store = processed[0]
    again = poll_feeds(settings, store, redis_conn, all_feeds=True)
    assert again.enqueued == 0
    assert Queue(settings.queue_name, connection=redis_conn).count == 0


def test_english_wire_report_and_its_french_rendering_become_one_story(settings, redis_conn, http_server, seed_dir):
    settings = settings.model_copy(update={"crosslingual": True})
    english_title, english = english_seed_page()
    french_title, french = seed_page(seed_dir)
    items = [{"title": english_title, "link": http_server.add("/world/kharkiv", english)},
             {"title": french_title, "link": http_server.add("/monde/kharkiv", french).replace("127.0.0.1", "localhost")}]
    feed_url = http_server.add("/rss.xml", rss("Wire", items), headers={"Content-Type": "application/rss+xml"})
    store = open_store(settings.store_url)
    store.add_feeds([Feed(url=feed_url)])
    poll_feeds(settings, store, redis_conn)
    drain(settings, redis_conn)

    hits = store.search(Query(text="Kharkiv")).hits
    assert len(hits) == 1
    story = store.get_story(hits[0].document.story_id)
    assert [(c.language, c.relation) for c in story.copies] == [("en", "original"), ("fr", "translation")]
    assert story.copies[1].similarity >= 0.6
