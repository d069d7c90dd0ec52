"""add_feeds: a feed URL as given, or the first working feed a site's page links to."""

from __future__ import annotations

import json

import pytest

from ingest.subscribe import add_feeds
from net.http import make_client

# What a WordPress page announces as application/json: its REST API record, not a feed.
WP_REST_POST = json.dumps({"id": 245688, "date": "2022-07-27T10:00:00", "link": "https://s.example/a/",
                           "title": {"rendered": "A"}, "content": {"rendered": "<p>A</p>"}}).encode()
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


@pytest.mark.parametrize(("path", "what"), [
    ("feeds/trafilatura/sitemap.xml", "a sitemap"),
    ("feeds/trafilatura/sitemap2.xml", "a sitemap"),  # a sitemap index
    ("opml/listparser-tests/feeds.opml", "an OPML subscription list: use `wiredesk feeds import`"),
])
def test_sitemap_or_opml_list_is_refused_saying_what_it_is(settings, store, http_server, corpus, path, what):
    url = http_server.add("/" + path, (corpus / path).read_bytes(), headers={"Content-Type": "application/xml"})
    with make_client(settings) as client:
        [result] = add_feeds(settings, store, client, [url])
    assert (result.status, result.message) == ("error", f"not a feed: {url} is {what}")
    assert store.list_feeds() == []


def test_wordpress_rest_api_link_is_passed_over_for_a_json_feed_announced_as_json(settings, store, http_server,
                                                                                 corpus):
    feed = http_server.add("/feed.json", (corpus / "feeds" / "trafilatura" / "feed.json").read_bytes(),
                           headers={"Content-Type": "application/json"})
    http_server.add("/wp-json/wp/v2/posts/1", WP_REST_POST, headers={"Content-Type": "application/json"})
    home = http_server.add("/", b'<html><head>'
                                b'<link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts/1">'
                                b'<link rel="alternate" type="application/json" href="/feed.json">'
                                b"</head><body>home</body></html>")
    with make_client(settings) as client:
        [result] = add_feeds(settings, store, client, [home])
    assert (result.status, result.feed_url, result.title) == ("added", feed, "Technology")
    assert [f.url for f in store.list_feeds()] == [feed]


def test_wordpress_page_whose_feed_is_down_adds_nothing_from_its_rest_api_link(settings, store, http_server, corpus):
    page = (corpus / "feeds" / "mediacloud-peoplesdailyng-feed-url-returns-html.html").read_bytes()
    page = page.replace(b"https://www.peoplesdailyng.com", http_server.base.encode())
    url = http_server.add("/feedback-from-previous-columns/", page)
    http_server.add("/wp-json/wp/v2/posts/245688", WP_REST_POST, headers={"Content-Type": "application/json"})
    with make_client(settings) as client:
        [result] = add_feeds(settings, store, client, [url])  # its /feed/ answers 404
    assert result.status == "error"
    assert result.message == f"not a feed: {url} is an HTML page; feeds it links to: {http_server.url('/feed/')}"
    assert store.list_feeds() == []
