"""Migrations: versioned SQL files applied once, in order, keeping the data of an older database."""

from __future__ import annotations

from store.base import open_store
from store.postgres import PostgresStore
from store.records import Feed, Query, UrlState
from store.sql import load_migrations
from store.sqlite import SQLiteStore


def open_unmigrated(url: str):
    """A store on `url` that has not applied any migration yet."""
    cls = SQLiteStore if url.startswith("sqlite:") else PostgresStore
    return cls(url, auto_migrate=False)


def test_both_backends_ship_the_same_migration_versions():
    sqlite = [(version, name) for version, name, _ in load_migrations("sqlite")]
    postgres = [(version, name) for version, name, _ in load_migrations("postgres")]
    assert sqlite == postgres
    assert [version for version, _ in sqlite] == list(range(1, len(sqlite) + 1))


def test_upgrading_a_version_1_database_keeps_its_data(store_url):
    old = open_unmigrated(store_url)
    assert old.migrate(target=1) == 1
    # Written as version 1 code wrote it: today's publish expects today's schema.
    with old._tx() as conn:
        old._exec(conn, "INSERT INTO documents (id, url, source, fetched, story_id, relation, dated, stored_at, text)"
                  " VALUES ('kept', 'https://x/kept', 'x', ?, 'kept', 'original', ?, ?, 'archived article about tides')",
                  ["2024-03-01T12:00:00.000000Z"] * 3)
    old.claim_urls([UrlState(url_id="u2", url="https://x/2", feed_url="https://x/feed", state="queued")])
    old.add_feeds([Feed(url="https://x/feed")])
    old.close()

    store = open_store(store_url)  # migrates on open
    latest = load_migrations(store.dialect)[-1][0]
    assert latest >= 2
    assert store.migrate() == latest
    assert store.get_document("kept").text == "archived article about tides"
    assert [hit.document.id for hit in store.search(Query(text="tides")).hits] == ["kept"]
    assert store.get_url_state("u2").feed_url == "https://x/feed"
    assert store.get_feed("https://x/feed") is not None
    store.close()


def test_upgrading_a_version_9_database_finds_its_documents_by_phrase(store_url):
    old = open_unmigrated(store_url)
    assert old.migrate(target=9) == 9
    with old._tx() as conn:
        old._exec(conn, "INSERT INTO documents (id, url, source, fetched, story_id, relation, dated, stored_at, title,"
                  " text) VALUES ('kept', 'https://x/kept', 'x', ?, 'kept', 'original', ?, ?, 'Tides',"
                  " 'the spring tide turned while another storm came')", ["2024-03-01T12:00:00.000000Z"] * 3)
    old.close()
    store = open_store(store_url)
    for phrase in ('"while another storm"', '"spring tide"'):
        assert [hit.document.id for hit in store.search(Query(text=phrase)).hits] == ["kept"]
    assert store.search(Query(text='"another while"')).hits == []
    store.close()


def test_upgrading_a_version_12_database_filters_its_documents_by_feed_and_flag(store_url):
    old = open_unmigrated(store_url)
    assert old.migrate(target=12) == 12
    feeds, flags = '["https://x/feed", "https://y/feed"]', '["paywalled"]'
    with old._tx() as conn:
        old._exec(conn, "INSERT INTO documents (id, url, source, fetched, story_id, relation, dated, stored_at, text,"
                  " feeds, flags) VALUES ('kept', 'https://x/kept', 'x', ?, 'kept', 'original', ?, ?, 'tides', ?, ?)",
                  ["2024-03-01T12:00:00.000000Z"] * 3 + [feeds, flags])
    old.close()
    store = open_store(store_url)
    for query in (Query(feed="https://y/feed"), Query(flags=["paywalled"]), Query(feed="https://x/feed", text="tides")):
        assert [hit.document.id for hit in store.search(query).hits] == ["kept"]
    assert store.search(Query(feed="https://z/feed")).hits == []
    store.close()


def test_migrating_twice_applies_each_file_once(store_url):
    store = open_store(store_url)
    version = store.migrate()
    assert store.migrate() == version
    rows = store._rows("SELECT version FROM schema_version ORDER BY version")
    assert [row["version"] for row in rows] == list(range(1, version + 1))
    store.close()
