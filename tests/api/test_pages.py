"""The reading page, server-rendered: stories with their outlets, a story's copies and differences, feeds."""

from __future__ import annotations

from datetime import UTC, datetime

from store.base import open_store
from store.records import Document, Feed


def test_search_shows_stories_with_outlets_and_translation_marked(client, room):
    page = client.get("/", params={"q": "copper miners"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<meta name="viewport"' in html
    assert f'href="/story/{room.story}"' in html
    assert "Also published by 3 outlets" in html
    assert 'class="badge translation">translation · es' in html
    assert "elpais.com" in html and "apnews.com" in html


def test_search_filters_by_language_and_pages_with_more_link(client, room):
    spanish = client.get("/", params={"lang": "es"}).text
    assert "Mineros de cobre" in spanish and "Also published" in spanish
    first = client.get("/").text
    assert first.count('<li class="story">') == 11 and "More stories" not in first


def test_search_with_a_bad_date_says_which_field(client):
    page = client.get("/", params={"since": "last tuesday"})
    assert page.status_code == 422 and 'role="alert">since: not a date' in page.text


def test_story_page_shows_every_copy_and_how_it_differs(client, room):
    html = client.get(f"/story/{room.story}").text
    assert "3 other copies" in html
    assert "similarity 0.86" in html and "similarity 0.71" in html
    assert "Opening identical to the original." in html  # the exact copy
    assert "<del>Striking</del> <ins>Copper miners on strike in</ins> Arizona" in html  # the rewritten lede
    assert 'lang="es">Mineros de cobre de Arizona' in html  # the translation, shown not diffed


def test_story_page_of_unknown_story_is_404(client):
    page = client.get("/story/nothing-here")
    assert page.status_code == 404 and "No such story" in page.text


def test_feeds_page_lists_each_feed_with_its_health(filled, client):
    store = open_store(filled[0])
    store.add_feeds([Feed(url="https://gone.example/rss")])
    store.save_feed(Feed(url="https://gone.example/rss", state="gone", last_status=410, failures=1,
                         last_error="HTTP 410 Gone", last_polled=datetime(2024, 3, 2, tzinfo=UTC)))
    store.close()
    html = client.get("/feeds").text
    assert 'class="badge state-gone">gone' in html and "HTTP 410 Gone" in html and "HTTP 410 · 1 failure " in html


def test_stored_markup_and_javascript_links_are_escaped(filled_sqlite, corpus):
    from tests.api.conftest import make_client

    store = open_store(filled_sqlite[0])
    store.publish(Document(id="evil", url="javascript:alert(1)", title="<script>alert('x')</script>",
                           text="copper <img src=x onerror=alert(1)>", source="evil.example",
                           fetched=datetime(2024, 3, 3, tzinfo=UTC)), "evil")
    store.close()
    with make_client(filled_sqlite[0]) as client:
        for html in (client.get("/", params={"q": "copper", "order": "date"}).text, client.get("/story/evil").text):
            assert "<script>alert" not in html and "<img src=x" not in html and "javascript:" not in html
            assert "&lt;script&gt;" in html
