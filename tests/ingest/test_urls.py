"""ingest.urls: the canonical form that gives an article its identity."""

from __future__ import annotations

from ingest.urls import canonicalize_url, url_id, without_credentials


def test_canonical_url_drops_tracking_fragment_and_credentials():
    assert canonicalize_url("HTTP://Ed:s3cret@News.Example.org:80/a/./b?utm_source=x&id=2#top") == \
        "http://news.example.org/a/b?id=2"


def test_credentials_do_not_change_an_articles_identity():
    with_them, without = canonicalize_url("https://ed:s3cret@example.org/a"), canonicalize_url("https://example.org/a")
    assert url_id(with_them) == url_id(without)


def test_without_credentials_keeps_the_rest_of_the_url():
    assert without_credentials("https://ed:s3cret@example.org:8443/a?b=1#c") == "https://example.org:8443/a?b=1#c"
    assert without_credentials("https://example.org/a@b") == "https://example.org/a@b"
