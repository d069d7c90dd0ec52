"""URL states and feeds, and the store shared by several processes: the same on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store.base import StoreUnavailable, open_store
from store.records import FAILED, QUEUED, RETRYING, STARTED, STORED, Feed, Query, UrlState
from store.sqlite import SQLiteStore
from tests.store.factory import make_doc, vm_steps

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def url_state(url_id: str, **fields) -> UrlState:
    return UrlState(url_id=url_id, url=f"https://example.com/{url_id}", feed_url="https://example.com/feed",
                    state=fields.pop("state", QUEUED), **fields)


def test_claim_urls_returns_only_ids_never_seen(store):
    assert store.claim_urls([url_state("a"), url_state("b")]) == ["a", "b"]
    assert store.claim_urls([url_state("b"), url_state("c"), url_state("c")]) == ["c"]
    assert store.claim_urls([]) == []
    assert store.get_url_state("a").url == "https://example.com/a"


def test_claim_urls_takes_hundreds_of_rows_in_one_call(store):
    first = [url_state(f"u{i}") for i in range(1200)]
    assert len(store.claim_urls(first)) == 1200
    again = store.claim_urls(first[600:] + [url_state(f"v{i}") for i in range(10)])
    assert again == [f"v{i}" for i in range(10)]
    assert store.count_url_states() == {QUEUED: 1210}


def test_url_state_moves_and_failures_list_newest_first(store):
    store.claim_urls([url_state(u) for u in ("a", "b", "c", "d")])
    store.set_url_state("a", STARTED)
    store.set_url_state("a", RETRYING, reason="http_503", detail="Service Unavailable", attempts=1,
                        next_try=NOW + timedelta(seconds=30))
    store.set_url_state("b", FAILED, reason="http_404", attempts=1)
    store.set_url_state("c", FAILED, reason="not_html")
    store.set_url_state("d", STORED, document_id="doc-d")
    a = store.get_url_state("a")
    assert (a.state, a.reason, a.attempts, a.next_try) == (RETRYING, "http_503", 1, NOW + timedelta(seconds=30))
    assert a.updated_at >= a.created_at
    assert [s.url_id for s in store.list_failures()] == ["c", "b", "a"]
    assert [s.url_id for s in store.list_failures(include_retrying=False)] == ["c", "b"]
    assert [s.url_id for s in store.list_failures(reason="http_")] == ["b", "a"]
    assert store.list_failures(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    store.set_url_state("a", STORED, document_id="doc-a")  # a retry that succeeded clears the reason
    assert (store.get_url_state("a").state, store.get_url_state("a").reason) == (STORED, None)
    assert store.count_url_states() == {STORED: 2, FAILED: 2}


def test_stale_urls_are_unfinished_ones_not_touched_since(store):
    old = datetime.now(UTC) - timedelta(hours=2)
    store.claim_urls([url_state("old", updated_at=old, created_at=old), url_state("fresh"),
                      url_state("done", state=STORED, updated_at=old, created_at=old)])
    stale = store.stale_urls(datetime.now(UTC) - timedelta(hours=1))
    assert [s.url_id for s in stale] == ["old"]


def test_newest_failures_cost_the_same_with_many_older_failures_or_newer_urls(tmp_path):
    store = SQLiteStore(f"sqlite:///{tmp_path}/store.db")

    def add(prefix: str, count: int, state: str, start: datetime) -> None:
        store.claim_urls([url_state(f"{prefix}{n}", state=state, created_at=start, updated_at=start + timedelta(
            seconds=n)) for n in range(count)])
        store._conn().execute("ANALYZE")  # planner statistics, as ANALYZE or PRAGMA optimize gather them

    def newest() -> int:
        listed = []
        steps = vm_steps(store, lambda: listed.extend(store.list_failures(limit=10)))
        assert [s.url_id for s in listed] == [f"{kind}{n}" for n in range(99, 94, -1) for kind in "rf"]
        return steps

    add("f", 100, FAILED, NOW)
    add("r", 100, RETRYING, NOW + timedelta(seconds=0.5))
    few = newest()
    add("old", 3000, FAILED, NOW - timedelta(days=1))
    assert newest() < 2 * few
    add("new", 5000, STORED, NOW + timedelta(days=1))
    assert newest() < 2 * few
    store.close()


def test_due_feeds_are_unscheduled_first_then_oldest_and_never_gone(store):
    assert store.add_feeds([Feed(url="https://a/feed"), Feed(url="https://b/feed", next_poll=NOW - timedelta(hours=1)),
                            Feed(url="https://c/feed", next_poll=NOW - timedelta(hours=2)),
                            Feed(url="https://d/feed", next_poll=NOW + timedelta(hours=1)),
                            Feed(url="https://e/feed", state="gone")]) == 5
    assert store.add_feeds([Feed(url="https://a/feed"), Feed(url="https://f/feed")]) == 1
    due = [feed.url for feed in store.due_feeds(NOW)]
    assert due == ["https://a/feed", "https://f/feed", "https://c/feed", "https://b/feed"]
    assert len(store.due_feeds(NOW, limit=2)) == 2


def test_save_feed_writes_state_and_renames_on_redirect(store):
    store.add_feeds([Feed(url="https://old/feed", title="Old", category="news")])
    feed = store.get_feed("https://old/feed")
    added = feed.added_at
    feed.etag, feed.last_status, feed.polls, feed.rate_per_day = '"v1"', 200, 3, 12.5
    feed.next_poll = NOW
    store.save_feed(feed)
    assert store.get_feed("https://old/feed").etag == '"v1"'
    feed.url = "https://new/feed"
    store.save_feed(feed, old_url="https://old/feed")
    assert store.get_feed("https://old/feed") is None
    moved = store.get_feed("https://new/feed")
    assert (moved.title, moved.polls, moved.rate_per_day, moved.next_poll, moved.added_at) == (
        "Old", 3, 12.5, NOW, added)
    assert [f.url for f in store.list_feeds()] == ["https://new/feed"]
    assert store.remove_feed("https://new/feed") and not store.remove_feed("https://new/feed")
    assert store.stats()["feeds"] == {}



def test_nul_characters_in_feed_and_url_text_are_dropped_alike_on_both_backends(store):
    # PostgreSQL refuses NUL in text (DataError); SQLite would keep it, so both drop it.
    store.add_feeds([Feed(url="https://h/feed", title="Feed\x00 title", site_url="https://h/\x00")])
    feed = store.get_feed("https://h/feed")
    feed.last_error = "bozo\x00: bad"
    store.save_feeds([(feed, None)])
    store.claim_urls([UrlState(url_id="a", url="https://example.com/a\x00b", feed_url=None, state=QUEUED)])
    store.set_url_state("a", FAILED, reason="http-\x00404", detail="Not\x00 found")
    saved, claimed = store.get_feed("https://h/feed"), store.get_url_state("a")
    assert (saved.title, saved.site_url, saved.last_error) == ("Feed title", "https://h/", "bozo: bad")
    assert (claimed.url, claimed.reason, claimed.detail) == ("https://example.com/ab", "http-404", "Not found")


def test_save_feeds_writes_a_batch_in_one_call_and_get_feeds_finds_only_existing(store):
    urls = [f"https://h{n}/feed" for n in range(700)]  # more than one multi-row statement's worth
    store.add_feeds([Feed(url=url) for url in urls])
    feeds = store.get_feeds(urls + ["https://missing/feed"])
    assert sorted(feeds) == sorted(urls)
    saves = []
    for n, url in enumerate(urls):
        feed = feeds[url]
        feed.polls, feed.next_poll = n, NOW + timedelta(minutes=n)
        saves.append((feed, None))
    moved = feeds[urls[0]]
    moved.url = "https://h0-new/feed"
    saves[0] = (moved, urls[0])
    store.save_feeds(saves)
    after = store.get_feeds(urls + ["https://h0-new/feed"])
    assert urls[0] not in after and after["https://h0-new/feed"].polls == 0
    assert [after[url].polls for url in urls[1:]] == list(range(1, 700))
    assert after[urls[699]].next_poll == NOW + timedelta(minutes=699)

def _publish_many(store, prefix: str, count: int) -> None:
    """Child process body: publish `count` documents through the store inherited from the parent."""
    for i in range(count):
        store.publish(make_doc(f"{prefix}{i}", "shared file", hours=i), f"{prefix}{i}")


def test_forked_processes_write_through_their_own_connections(store):
    store.publish(make_doc("parent-before"), "p0")  # the parent's connection exists before the fork
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_publish_many, args=(store, prefix, 40)) for prefix in ("x", "y")]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0]
    store.publish(make_doc("parent-after"), "p1")  # and still works after
    assert store.stats()["documents"] == 82
    assert len(list(store.iter_documents(Query(text="shared")))) == 80


def test_locked_sqlite_database_raises_store_unavailable(sqlite_url):
    store = SQLiteStore(sqlite_url, busy_timeout=0.1)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable):
            store.publish(make_doc("a"), "u")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.publish(make_doc("a"), "u")  # recovers once the lock is gone
    assert store.get_document("a") is not None


def test_sqlite_checkpoint_moves_the_wal_into_the_database_file(sqlite_url):
    store = SQLiteStore(sqlite_url)
    try:
        store.publish_many([(make_doc(f"d{n}", f"text number {n}"), f"u{n}") for n in range(50)])
        wal = Path(store.path + "-wal")
        assert wal.stat().st_size > 0  # far below the autocheckpoint threshold: still in the WAL
        store.checkpoint()
        assert wal.stat().st_size == 0
        reader = sqlite3.connect(f"file:{store.path}?immutable=1", uri=True)  # reads the file alone, not the WAL
        assert reader.execute("SELECT count(*) FROM documents").fetchone()[0] == 50
        reader.close()
    finally:
        store.close()


def test_postgres_publish_merges_index_entries_with_more_work_mem_than_other_statements(pg_url):
    store = open_store(pg_url)
    conn = store._conn()
    try:
        conn.execute("CREATE TABLE seen (work_mem text)")
        conn.execute("CREATE FUNCTION note_work_mem() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                     " INSERT INTO seen VALUES (current_setting('work_mem')); RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER note BEFORE INSERT ON documents FOR EACH ROW EXECUTE FUNCTION note_work_mem()")
        before = conn.execute("SHOW work_mem").fetchone()["work_mem"]
        store.publish_many([(make_doc("a"), "ua"), (make_doc("b"), "ub")])
        assert [row["work_mem"] for row in conn.execute("SELECT work_mem FROM seen")] == ["64MB", "64MB"]
        assert conn.execute("SHOW work_mem").fetchone()["work_mem"] == before  # SET LOCAL: for the publish only
    finally:
        store.close()


def test_postgres_checkpoint_merges_the_text_indexes_pending_lists(pg_url):
    store = open_store(pg_url)
    try:
        store.publish_many([(make_doc(f"d{n}", f"text number {n} about Kharkiv"), f"u{n}") for n in range(20)])
        store.checkpoint()
        conn = store._conn()
        for index in ("documents_tsv", "documents_pairs"):  # nothing left to merge
            assert conn.execute("SELECT gin_clean_pending_list(%s::regclass) AS n", [index]).fetchone()["n"] == 0
        assert len(store.search(Query(text='"about kharkiv"', all_copies=True, limit=50)).hits) == 20
    finally:
        store.close()


def test_unreachable_postgres_raises_store_unavailable():
    with pytest.raises(StoreUnavailable):
        open_store("postgresql://postgres@127.0.0.1:1/test?connect_timeout=1")
