"""add_feeds: a feed URL as given, or the first working feed a site's page links to."""

from __future__ import annotations

from ingest.subscribe import add_feeds
from net.http import make_client

RSS = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Site news</title><link>https://s.example/</link>'
       b"<item><title>a</title><link>https://s.example/a</link></item></channel></rss>")


def test_feed_url_is_added_with_its_title(settings, store, http_server):
    url = http_server.add("/rss.xml", RSS, headers={"Content-Type": "application/rss+xml"})
    with make_client(settings) as client:
        [result] = add_feeds(settings, store, client, [url])
    assert (result.status, result.feed_url, result.title) == ("added", url, "Site news")
    assert store.get_feed(url).site_url == "https://s.example/"


def test_home_page_adds_the_feed_it_announces(settings, store, http_server):
    feed = http_server.add("/rss.xml", RSS, headers={"Content-Type": "application/rss+xml"})
    home = http_server.add("/", b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
                                b"</head><body>home</body></html>")
    with make_client(settings) as client:
        [result] = add_feeds(settings, store, client, [home])
    assert result.status == "added" and result.feed_url == feed
    assert [f.url for f in store.list_feeds()] == [feed]


def test_known_feed_is_reported_as_existing(settings, store, http_server):
    url = http_server.add("/rss.xml", RSS, headers={"Content-Type": "application/rss+xml"})
    with make_client(settings) as client:
        add_feeds(settings, store, client, [url])
        [again] = add_feeds(settings, store, client, [url])
    assert again.status == "exists"


def test_page_without_feeds_and_dead_url_are_errors_that_add_nothing(settings, store, http_server):
    page = http_server.add("/plain", b"<html><body>no feeds here</body></html>")
    with make_client(settings) as client:
        results = add_feeds(settings, store, client, [page, http_server.url("/missing")])
    assert [r.status for r in results] == ["error", "error"]
    assert "HTML page" in results[0].message and "404" in results[1].message
    assert store.list_feeds() == []
