"""Documents and stories over an SQLStore: publish (one transaction), read back, count."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from store.records import DUPLICATE, ORIGINAL, STORED, Document, Story
from store.rows import COPY_COLUMNS, DOC_COLUMNS, column_list, merge_lists

LOGGER = logging.getLogger(__name__)

BATCH = 500  # ids per IN list, under SQLite's bound-variable limit

_DOC_INSERT_COLUMNS = DOC_COLUMNS + ("dated", "stored_at")
_DOC_UPSERT = (
    f"INSERT INTO documents ({column_list(_DOC_INSERT_COLUMNS)}) VALUES ({', '.join('?' * len(_DOC_INSERT_COLUMNS))})"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _DOC_INSERT_COLUMNS if name not in ("id", "stored_at"))
)
# The canonical document is the original; until one arrives, the first copy stands in.
_STORY_UPSERT = (
    "INSERT INTO stories (id, canonical_id, first_seen, size) VALUES (?, ?, ?, 1)"
    " ON CONFLICT (id) DO UPDATE SET"
    " canonical_id = CASE WHEN ? = 'original' THEN excluded.canonical_id ELSE stories.canonical_id END,"
    " size = (SELECT count(*) FROM documents WHERE story_id = excluded.id)"
)
_URL_UPSERT = (
    "INSERT INTO urls (url_id, url, feed_url, state, reason, detail, document_id, attempts, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)"
    " ON CONFLICT (url_id) DO UPDATE SET state = excluded.state, reason = excluded.reason,"
    " detail = excluded.detail, document_id = excluded.document_id, updated_at = excluded.updated_at,"
    " next_try = NULL"
)


# Served by migration 0012's partial index, whose WHERE this must repeat word for word (SQLite's rule for using one).
COUNT_COPIES = "SELECT count(*) FROM documents WHERE relation <> 'original'"


def publish(store, doc: Document, url_id: str) -> None:
    """Upsert `doc` (merging its URL and feed lists), its story row and `url_id`'s state, in one transaction."""
    publish_many(store, [(doc, url_id)])


def publish_many(store, items: list[tuple[Document, str]]) -> None:
    """Publish each (document, url_id) as `publish` would, in order, all in one transaction."""
    codec, now = store.codec, store.now()
    stamp = codec.dump_time(now)
    docs = [(doc if doc.story_id else replace(doc, story_id=doc.id), url_id) for doc, url_id in items]
    with store._tx() as conn:
        store._before_publish(conn)
        lists = _stored_lists(store, conn, sorted({doc.id for doc, _ in docs}))
        doc_rows, story_rows, url_rows = [], [], []
        for doc, url_id in docs:
            if doc.id in lists:
                old_urls, old_feeds = lists[doc.id]
                doc = replace(doc, urls=merge_lists(old_urls, doc.urls), feeds=merge_lists(old_feeds, doc.feeds))
            lists[doc.id] = (doc.urls, doc.feeds)  # a later item with the same id merges with this one
            doc_rows.append(codec.params(doc, DOC_COLUMNS) + [codec.dump_time(doc.published or doc.fetched), stamp])
            story_rows.append([doc.story_id, doc.id, stamp, doc.relation])
            original = doc.relation == ORIGINAL
            url_rows.append([url_id, doc.url, doc.feeds[0] if doc.feeds else None, STORED if original else DUPLICATE,
                             None if original else doc.relation, None if original else f"of {doc.duplicate_of}",
                             doc.id, stamp, stamp])
        # Documents first, then stories: each story's size counts the whole batch, as publishing one by one would.
        for sql, rows in ((_DOC_UPSERT, doc_rows), (_STORY_UPSERT, story_rows), (_URL_UPSERT, url_rows)):
            conn.cursor().executemany(store._sql(sql), rows)
        store._index_due(conn)
    LOGGER.debug("published %d documents", len(docs))


def _stored_lists(store, conn, doc_ids: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    """The stored URL and feed lists of those of `doc_ids` already in the store, rows locked for the update."""
    found = {}
    for start in range(0, len(doc_ids), BATCH):
        chunk = doc_ids[start:start + BATCH]
        rows = store._exec(conn, f"SELECT id, urls, feeds FROM documents WHERE id IN ({', '.join('?' * len(chunk))})"
                           + store.lock_row, chunk).fetchall()
        for row in rows:
            found[row["id"]] = (store.codec.load_list(row["urls"]), store.codec.load_list(row["feeds"]))
    return found


def get_document(store, doc_id: str) -> Document | None:
    """One document by id."""
    row = store._one(f"SELECT {column_list(DOC_COLUMNS)} FROM documents WHERE id = ?", [doc_id])
    return None if row is None else store.codec.document(row)


def get_story(store, story_id: str) -> Story | None:
    """A story, its canonical document and every copy, canonical first then by date."""
    story = store._one("SELECT canonical_id FROM stories WHERE id = ?", [story_id])
    if story is None:
        return None
    canonical = get_document(store, story["canonical_id"])
    rows = store._rows(f"SELECT {column_list(COPY_COLUMNS)} FROM documents WHERE story_id = ?"
                       " ORDER BY id = ? DESC, dated, id", [story_id, story["canonical_id"]])
    return Story(id=story_id, canonical=canonical, copies=[store.codec.copy(row) for row in rows])


def stats(store) -> dict:
    """Counts of documents, stories, duplicates, recent documents, feeds and URLs by state."""
    now, dump = store.now(), store.codec.dump_time
    row = store._one(
        "SELECT (SELECT count(*) FROM documents) AS documents, (SELECT count(*) FROM stories) AS stories,"
        f" ({COUNT_COPIES}) AS duplicates,"
        " (SELECT count(*) FROM documents WHERE stored_at >= ?) AS last_hour,"
        " (SELECT count(*) FROM documents WHERE stored_at >= ?) AS last_day",
        [dump(now - timedelta(hours=1)), dump(now - timedelta(days=1))])
    feeds = {r["state"]: r["n"] for r in store._rows("SELECT state, count(*) AS n FROM feeds GROUP BY state")}
    return {
        "documents": row["documents"], "stories": row["stories"], "duplicates": row["duplicates"],
        "stored_last_hour": row["last_hour"], "stored_last_day": row["last_day"],
        "feeds": feeds, "urls": store.count_url_states(),
    }
