"""Batch publish, deferred indexing and relevance windows: the paths that keep the store fast at a million."""

from __future__ import annotations

import multiprocessing
import time
from datetime import timedelta

import pytest

from store import postgres, relevance, sqlite
from store.base import open_store
from store.filters import LIST, PROBE, WALK
from store.query import compile_query
from store.records import DUPLICATE, NEAR, ORIGINAL, STORED, Query
from tests.store.factory import ids, make_doc, vm_steps


def every_page(store, query: Query) -> list[str]:
    seen, cursor = [], query.cursor
    while True:
        page = store.search(Query(**{**query.__dict__, "cursor": cursor}))
        seen += ids(page)
        if not (cursor := page.next_cursor):
            return seen


def test_publish_many_matches_publishing_one_by_one(store):
    store.publish_many([
        (make_doc("a", "flood warning", urls=["https://a/1"], feeds=["f1"], story_id="s"), "u1"),
        (make_doc("b", "flood warning", relation=NEAR, story_id="s", source="b.com"), "u2"),
        (make_doc("a", "flood warning issued", urls=["https://a/2"], feeds=["f2"], story_id="s"), "u3"),
    ])
    doc = store.get_document("a")
    assert (doc.text, doc.urls, doc.feeds) == ("flood warning issued", ["https://a/1", "https://a/2"], ["f1", "f2"])
    assert [copy.id for copy in store.get_story("s").copies] == ["a", "b"]
    assert [store.get_url_state(u).state for u in ("u1", "u2", "u3")] == [STORED, DUPLICATE, STORED]
    assert store._one("SELECT size FROM stories WHERE id = 's'")["size"] == 2
    assert ids(store.search(Query(text="issued"))) == ["a"]


def test_relevance_ranks_newest_window_first_then_older_windows(store, monkeypatch):
    monkeypatch.setattr(relevance, "WINDOW", 3)
    for i in range(7):  # d6 is stored last; older documents repeat the word more
        store.publish(make_doc(f"d{i}", "storm " * (10 - i) + "warning"), f"u{i}")
    assert every_page(store, Query(text="storm", limit=2)) == ["d4", "d5", "d6", "d1", "d2", "d3", "d0"]


def test_one_per_story_holds_across_windows(store, monkeypatch):
    monkeypatch.setattr(relevance, "WINDOW", 2)
    store.publish(make_doc("old", "storm storm storm", story_id="s"), "u1")
    store.publish(make_doc("x", "storm"), "u2")
    store.publish(make_doc("y", "storm"), "u3")
    store.publish(make_doc("new", "storm", story_id="s", relation=NEAR), "u4")
    seen = every_page(store, Query(text="storm", limit=1))
    assert sorted(seen) == ["new", "x", "y"]  # "old" ranks best but its story shows in the newer window
    assert sorted(every_page(store, Query(text="storm", limit=1, all_copies=True))) == ["new", "old", "x", "y"]


def test_relevance_pages_skip_documents_stored_after_the_first_page(store, monkeypatch):
    monkeypatch.setattr(relevance, "WINDOW", 3)
    # Equal lengths, so the late arrival leaves SQLite's BM25 length normalisation (and the ranks) unchanged.
    for i in range(6):
        store.publish(make_doc(f"d{i}", "tide " * (i + 1) + "calm " * (6 - i)), f"u{i}")
    first = store.search(Query(text="tide", limit=2))
    store.publish(make_doc("late", "tide " * 7), "n1")
    rest = every_page(store, Query(text="tide", limit=2, cursor=first.next_cursor))
    assert sorted(ids(first) + rest) == [f"d{i}" for i in range(6)]


def test_windows_looked_for_in_growing_seq_ranges_are_the_same_windows(store, monkeypatch):
    monkeypatch.setattr(relevance, "WINDOW", 3)
    for i in range(14):  # the phrase in every third document, its words in all
        words = "harbour closed" if i % 3 == 0 else "harbour is closed"
        store.publish(make_doc(f"d{i:02d}", f"{words} " * (1 + i % 4)), f"u{i}")
    query = Query(text='"harbour closed"', limit=2, all_copies=True)
    at_once = every_page(store, query)
    monkeypatch.setattr(store, "window_span", lambda tq: 1)  # ranges of 1, 4, 16 seqs below each bound
    assert every_page(store, query) == at_once
    assert sorted(at_once) == ["d00", "d03", "d06", "d09", "d12"]


def test_postgres_lists_a_filters_few_matches_alike_from_gin_or_row_by_row(pg_url, monkeypatch):
    store = open_store(pg_url)
    monkeypatch.setattr(relevance, "WINDOW", 2)
    for i in range(12):
        text = "storm " * (i % 3 + 1) + "calm " * (3 - i % 3) if i % 4 else "calm sea"
        store.publish(make_doc(f"d{i:02d}", text, source="a.com" if i % 2 else "b.com"), f"u{i}")
    with store._guard():
        store._conn().execute("ANALYZE documents")
    assert 1 <= store.estimate_matches(compile_query("storm")) <= 12
    forms, window = [], store.match_window
    monkeypatch.setattr(store, "match_window", lambda *args: forms.append(window(*args)[1]) or window(*args))
    query = Query(text="storm", source="a.com", limit=1)
    pages = {}
    for estimate in (1, 10**6):  # GIN, or each document the filter leaves tested row by row
        monkeypatch.setattr(store, "estimate_matches", lambda tq, estimate=estimate: estimate)
        forms.clear()
        pages[estimate] = every_page(store, query)
        assert forms and all(("ts_match_vq" in sql) == (estimate > 1) for sql in forms)
    assert pages[1] == pages[10**6]
    assert sorted(pages[1]) == ["d01", "d03", "d05", "d07", "d09", "d11"]
    store.close()


def test_postgres_reads_a_mid_frequency_word_in_seq_ranges_and_lists_the_same_pages(pg_url, monkeypatch):
    store = open_store(pg_url)
    monkeypatch.setattr(relevance, "WINDOW", 3)
    for i in range(40):  # the word in every fourth document
        text = "gale " * (1 + i % 3) + "warning" if i % 4 == 0 else "calm sea"
        store.publish(make_doc(f"d{i:02d}", text), f"u{i}")
    tq = compile_query("gale")
    monkeypatch.setattr(postgres, "SPAN_MIN_MATCHES", 0.08)
    spans = {}
    for estimate in (0, 0.05, 2, 3):  # 40 documents: a span from 0.08 to 2 (5 %) estimated matches
        monkeypatch.setattr(store, "estimate_matches", lambda tq, estimate=estimate: estimate)
        spans[estimate] = store.window_span(tq)
    assert spans == {0: None, 0.05: None, 2: 90, 3: None}  # 1.5 windows of 3 at 2 in 40 documents: 90 seqs
    query = Query(text="gale", limit=2, all_copies=True)
    monkeypatch.setattr(store, "estimate_matches", lambda tq: 0)
    whole = every_page(store, query)
    # 15 seqs, then 60: windows of 3 gathered over two ranges
    monkeypatch.setattr(postgres, "SPAN_SLACK", 0.25)
    monkeypatch.setattr(store, "estimate_matches", lambda tq: 2)
    assert store.window_span(tq) == 15
    assert every_page(store, query) == whole
    assert sorted(whole) == [f"d{i:02d}" for i in range(0, 40, 4)]
    store.close()


def test_postgres_keeps_every_adjacent_word_pair_and_finds_phrases_by_them(pg_url):
    store = open_store(pg_url)
    store.publish(make_doc("a", "while another, while", title="Grain"), "u1")
    store.publish(make_doc("b", "another side while"), "u2")
    pairs = store._one("SELECT pairs = wd_phrase_keys('grain while another while') AS same FROM documents"
                       " WHERE id = 'a'")
    assert pairs["same"]  # the title's last word and the text's first are adjacent in the tsvector too
    store.publish(make_doc("a", "another side", title="Grain"), "u1")  # republished: pairs follow the text
    assert store._one("SELECT pairs = wd_phrase_keys('grain another side') AS same FROM documents WHERE id = 'a'")["same"]
    # Both words in 2,000 more documents, never adjacent: the planner reads the phrase's few by the pairs' index.
    store.publish_many([(make_doc(f"n{i}", f"side {i} while {i} another"), f"v{i}") for i in range(2000)])
    with store._guard():
        store._conn().execute("ANALYZE documents")
    tq = compile_query('"side while"')
    assert 1 <= store.estimate_matches(tq) < 50
    window, _, params = store.match_window(tq, "1 = 1", "1 = 1", relevance.SELECTIVE)
    plan = store._rows("EXPLAIN " + window, params + [0, relevance.NO_BOUND, 10])
    plan = "\n".join(row["QUERY PLAN"] for row in plan)
    assert "documents_pairs" in plan and "documents_tsv" not in plan
    assert ids(store.search(Query(text='"side while"'))) == ["b"]
    store.close()


def test_sqlite_defers_indexing_but_search_sees_every_published_document(sqlite_url):
    store = open_store(sqlite_url)
    store.publish(make_doc("a", "harbour strike"), "u1")
    assert store._one("SELECT count(*) AS n FROM fts_pending")["n"] == 1
    assert ids(store.search(Query(text="harbour"))) == ["a"]
    assert store._one("SELECT count(*) AS n FROM fts_pending")["n"] == 0
    store.publish(make_doc("a", "dock strike"), "u1")  # changed text: old words leave the index
    store.flush()
    assert ids(store.search(Query(text="harbour"))) == [] and ids(store.search(Query(text="dock"))) == ["a"]
    store.close()


def test_sqlite_writer_indexes_a_full_queue_itself(sqlite_url, monkeypatch):
    monkeypatch.setattr(sqlite, "FLUSH_DOCS", 3)
    store = open_store(sqlite_url)
    store.publish_many([(make_doc(f"d{i}", "quay"), f"u{i}") for i in range(2)])
    assert store._one("SELECT count(*) AS n FROM fts_pending")["n"] == 2
    store.publish(make_doc("d2", "quay"), "u2")
    assert store._one("SELECT count(*) AS n FROM fts_pending")["n"] == 0
    assert store._one("SELECT count(*) AS n FROM documents_fts WHERE documents_fts MATCH 'quay'")["n"] == 3
    store.close()


def test_sqlite_writer_indexes_a_queue_once_its_oldest_document_waited_long_enough(sqlite_url, monkeypatch):
    monkeypatch.setattr(sqlite, "FLUSH_SECONDS", 0.3)
    store = open_store(sqlite_url)
    store.publish(make_doc("d0", "quay"), "u0")
    assert store._one("SELECT count(*) AS n FROM fts_pending")["n"] == 1
    time.sleep(0.4)
    store.publish(make_doc("d1", "quay"), "u1")  # the queue is young but its oldest document is not
    assert store._one("SELECT count(*) AS n FROM fts_pending")["n"] == 0
    store.close()


def _publish_in_child(url: str) -> None:
    store = open_store(url)
    store.publish(make_doc("child", "lighthouse keeper"), "u1")
    store.close()


def test_document_published_by_another_process_is_found_at_once(store_url):
    reader = open_store(store_url)
    reader.search(Query(text="lighthouse"))
    child = multiprocessing.get_context("fork").Process(target=_publish_in_child, args=(store_url,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert ids(reader.search(Query(text="lighthouse"))) == ["child"]
    reader.close()


# selective 0: walk the text index; 100: take the few filtered documents
@pytest.mark.parametrize("selective", [0, 100])
def test_filtered_relevance_is_the_same_walked_or_probed(store, monkeypatch, selective):
    monkeypatch.setattr(relevance, "WINDOW", 2)
    monkeypatch.setattr(relevance, "SELECTIVE", selective)
    for i in range(8):
        store.publish(make_doc(f"d{i}", "storm " * (i % 3 + 1) + "calm " * (3 - i % 3),
                               source="a.com" if i % 2 else "b.com"), f"u{i}")
    assert every_page(store, Query(text="storm", source="a.com", limit=1)) == ["d5", "d7", "d1", "d3"]
    assert every_page(store, Query(text="storm", source="c.com")) == []


def _date_order_store(url: str):
    """Eight documents, one a day; even ones and d7 say storm; d6 and d7 are copies in d0's story."""
    store = open_store(url)
    for i in range(8):
        doc = make_doc(f"d{i}", "storm surge" if i % 2 == 0 or i == 7 else "calm sea", hours=24 * i,
                       story_id="s" if i in (0, 6, 7) else None, relation=NEAR if i in (6, 7) else ORIGINAL)
        store.publish(doc, f"u{i}")
    store.flush()
    return store


@pytest.mark.parametrize("plan", [LIST, WALK, PROBE])
def test_date_order_is_the_same_whatever_the_text_plan(sqlite_url, monkeypatch, plan):
    store = _date_order_store(sqlite_url)
    monkeypatch.setattr(store, "date_plan", lambda tq, limit: plan)
    assert every_page(store, Query(text="storm", order="date", limit=2)) == ["d7", "d4", "d2"]
    assert every_page(store, Query(text="storm", order="date", limit=2, all_copies=True)) == ["d7", "d6", "d4", "d2",
                                                                                            "d0"]
    store.close()


@pytest.mark.parametrize(("walk_probes", "row_steps", "plan"), [(200, 8, PROBE), (1, 100, WALK), (1, 8, LIST)])
def test_date_plan_follows_the_share_of_matching_documents(sqlite_url, monkeypatch, walk_probes, row_steps, plan):
    monkeypatch.setattr(sqlite, "WALK_PROBES", walk_probes)
    monkeypatch.setattr(sqlite, "ROW_STEPS", row_steps)
    store = _date_order_store(sqlite_url)
    assert store.date_plan(compile_query("storm"), 100) == plan  # 5 of 8 documents match
    store.close()


def _stream_store(url: str):
    """3,100 documents stored roughly in date order, an hour apart; every 50th arrives 20 days late, the last
    one (in a date zone of its own) months late, dated inside the range the tests ask for; stories of three."""
    store = open_store(url)
    docs = []
    for i in range(3100):
        hours = i - 24 * 20 if i % 50 == 7 else i
        if i == 3099:
            hours = 500.5
        docs.append((make_doc(f"d{i:04d}", "storm " * (1 + i % 5) + "calm " * (i % 3), hours=hours,
                              story_id=f"s{i // 3}"), f"u{i}"))
    store.publish_many(docs)
    return store


@pytest.mark.parametrize("all_copies", [False, True])
def test_sqlite_date_ranged_relevance_walks_date_zones_with_the_same_results(sqlite_url, monkeypatch, all_copies):
    monkeypatch.setattr(relevance, "WINDOW", 40)
    monkeypatch.setattr(relevance, "SELECTIVE", 0)  # windows walked, not the few filtered documents listed
    store = _stream_store(sqlite_url)
    base = make_doc("x").published
    query = Query(text="storm", since=base + timedelta(hours=200), until=base + timedelta(hours=700),
                  all_copies=all_copies, limit=30)
    ranges = store.seq_ranges(query)
    covered = sum(high - low for low, high in ranges)
    assert len(ranges) == 2 and ranges[0] == (3072, 3101)  # the last document's zone, apart from the others
    assert covered < 2100  # zones 0 and 1 (late arrivals bring zone 1 in), not zone 2
    zoned = every_page(store, query)
    monkeypatch.setattr(sqlite, "MAX_SEQ_RANGES", 1)  # too many ranges: one around them all
    assert store.seq_ranges(query) == [(ranges[-1][0], 3101)] and every_page(store, query) == zoned
    monkeypatch.setattr(store, "seq_ranges", lambda query: None)
    assert every_page(store, query) == zoned
    inside = {f"d{i:04d}" for i in range(3099) if 200 <= (i - 480 if i % 50 == 7 else i) < 700} | {"d3099"}
    assert "d1157" in inside and len(inside) == 501  # 20 days late (dated hour 677), and the months-late one
    stories = {f"s{int(doc_id[1:]) // 3}" for doc_id in inside}
    assert len(zoned) == len(set(zoned)) == (501 if all_copies else len(stories))
    assert set(zoned) <= inside
    store.close()


def test_sqlite_date_zones_cover_a_document_whose_date_changes(sqlite_url):
    store = _stream_store(sqlite_url)
    base = make_doc("x").published
    query = Query(text="storm", since=base - timedelta(days=400), until=base - timedelta(days=399))
    assert store.seq_ranges(query) == [] and ids(store.search(query)) == []
    store.publish(make_doc("d0100", "storm", hours=-24 * 399.5), "u100")  # republished with an older date
    assert ids(store.search(query)) == ["d0100"]
    store.close()


def test_a_feeds_newest_page_costs_the_same_however_many_newer_documents_other_feeds_hold(tmp_path):
    store = sqlite.SQLiteStore(f"sqlite:///{tmp_path}/store.db")
    store.publish_many([(make_doc(f"mine{i}", "tide", feeds=["mine"], flags=["partial"], hours=i), f"m{i}")
                        for i in range(5)])
    store.flush()  # not to count indexing the text (a search indexes what is queued first)

    def newest(query: Query) -> int:
        found = []
        steps = vm_steps(store, lambda: found.extend(ids(store.search(query))))
        assert found == ["mine4", "mine3", "mine2"]
        return steps

    queries = [Query(feed="mine", order="date", limit=3), Query(flags=["partial"], order="date", limit=3)]
    few = [newest(query) for query in queries]
    store.publish_many([(make_doc(f"other{i}", "tide", feeds=["other"], hours=10 + i), f"o{i}") for i in range(3000)])
    store.flush()
    for query, steps in zip(queries, few):
        assert newest(query) < 2 * steps
    store.close()
