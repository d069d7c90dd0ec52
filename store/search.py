"""Search over an SQLStore: filters, relevance or date order, one hit per story, keyset cursors.

Relevance order ranks windows of the newest matches (store/relevance.py says exactly what it means).
One per story in date order: a document is shown when no other matching document of its story is newer
(a correlated NOT EXISTS on the story index, so the scan stops after `limit` hits).
Cursors carry the last hit's sort key and id (keyset pagination), so inserts between pages neither
repeat nor skip hits. BM25 on SQLite weighs words by corpus frequency, so a relevance rank may drift
slightly as documents arrive; ts_rank_cd on PostgreSQL depends only on the document.
Every search first indexes documents whose indexing was deferred (Store.flush), so none is missed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from datetime import datetime

from store.base import InvalidQuery
from store.filters import LIST, PROBE, filters, label_walk, where
from store.query import compile_query
from store.records import Document, Hit, Query, ResultPage
from store.relevance import relevance_page
from store.rows import DOC_COLUMNS, column_list

MAX_LIMIT = 100
ORDERS = ("relevance", "date")


def encode_cursor(order: str, key, doc_id: str) -> str:
    """An opaque cursor for the page after the hit with sort key `key` and id `doc_id`."""
    raw = json.dumps([order, key, doc_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> tuple:
    """(key, doc_id) from a cursor made by encode_cursor for the same order."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_order, key, doc_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidQuery(f"bad cursor {cursor[:40]!r}") from exc
    if got_order != order or not isinstance(doc_id, str):
        raise InvalidQuery("cursor belongs to a different query order")
    if order == "date":
        try:
            key = datetime.fromisoformat(key)
        except (TypeError, ValueError) as exc:
            raise InvalidQuery("bad cursor date") from exc
    elif not (isinstance(key, list) and len(key) == 3 and all(isinstance(k, int) for k in key[:2])
              and isinstance(key[2], (int, float))):
        raise InvalidQuery("bad cursor rank")
    return key, doc_id


def _by_date(store, query: Query, tq, limit: int) -> tuple[str, list]:
    """Matches newest first (dated desc, id); each story's newest match only unless all copies."""
    source, key, conds, params = label_walk(store, query, tq, LIST if tq is None else store.date_plan(tq, limit))
    if query.cursor:
        doc_key, doc_id = decode_cursor(query.cursor, "date")
        conds.append(f"({key}.dated < ? OR ({key}.dated = ? AND {key}.id > ?))")
        doc_key = store.codec.dump_time(doc_key)
        params += [doc_key, doc_key, doc_id]
    if not query.all_copies:
        inner, more = filters(store, query, "e", tq, PROBE)
        conds.append("NOT EXISTS (SELECT 1 FROM documents e WHERE e.story_id = d.story_id AND e.id <> d.id"
                     f" AND (e.dated > d.dated OR (e.dated = d.dated AND e.id < d.id)) AND {where(inner)})")
        params += more
    sql = (f"SELECT {column_list(DOC_COLUMNS, 'd')}, d.dated FROM {source}"
           f" WHERE {where(conds)} ORDER BY {key}.dated DESC, {key}.id LIMIT ?")
    return sql, params + [limit]


def search(store, query: Query) -> ResultPage:
    """One page of hits for `query` and the cursor of the next page."""
    if query.order not in ORDERS:
        raise InvalidQuery(f"order must be one of {ORDERS}")
    tq = compile_query(query.text)
    if tq is not None and tq.matches_nothing:
        return ResultPage(hits=[])
    limit = max(1, min(query.limit, MAX_LIMIT))
    store.flush()
    if tq is not None and query.order == "relevance":
        hits, next_cursor = _relevance_hits(store, query, tq, limit)
    else:
        hits, next_cursor = _date_hits(store, query, tq, limit)
    if not query.all_copies:
        _add_outlets(store, hits)
    return ResultPage(hits=hits, next_cursor=next_cursor)


def _relevance_hits(store, query: Query, tq, limit: int) -> tuple[list[Hit], str | None]:
    """A relevance page: ids ranked over match windows, then their rows."""
    position = None
    if query.cursor:
        (ceiling, top, rank), doc_id = decode_cursor(query.cursor, "relevance")
        position = (ceiling, top, rank, doc_id)
    picked = relevance_page(store, query, tq, limit + 1, position)
    more, picked = len(picked) > limit, picked[:limit]
    docs = {}
    for start in range(0, len(picked), MAX_LIMIT):
        chunk = [doc_id for doc_id, *_ in picked[start:start + MAX_LIMIT]]
        rows = store._rows(f"SELECT {column_list(DOC_COLUMNS, 'd')} FROM documents d"
                           f" WHERE d.id IN ({', '.join('?' * len(chunk))})", chunk)
        docs.update((row["id"], store.codec.document(row)) for row in rows)
    hits = [Hit(document=docs[doc_id], rank=rank) for doc_id, rank, _, _ in picked if doc_id in docs]
    if not more:
        return hits, None
    doc_id, rank, ceiling, top = picked[-1]
    return hits, encode_cursor("relevance", [ceiling, top, rank], doc_id)


def _date_hits(store, query: Query, tq, limit: int) -> tuple[list[Hit], str | None]:
    """A date-ordered page (with or without text)."""
    sql, params = _by_date(store, query, tq, limit + 1)
    rows = store._rows(sql, params)
    more, rows = len(rows) > limit, rows[:limit]
    hits = [Hit(document=store.codec.document(row)) for row in rows]
    if not more:
        return hits, None
    last = rows[-1]
    return hits, encode_cursor("date", store.codec.load_time(last["dated"]).isoformat(), last["id"])


def _add_outlets(store, hits: list[Hit]) -> None:
    """Fill each hit's count of other documents in its story and their sources."""
    story_ids = sorted({hit.document.story_id for hit in hits})
    if not story_ids:
        return
    members: dict[str, list[tuple[str, str]]] = {}
    rows = store._rows(f"SELECT story_id, id, source FROM documents WHERE story_id IN ({', '.join('?' * len(story_ids))})",
                       story_ids)
    for row in rows:
        members.setdefault(row["story_id"], []).append((row["id"], row["source"]))
    for hit in hits:
        others = [source for doc_id, source in members.get(hit.document.story_id, []) if doc_id != hit.document.id]
        hit.copies, hit.outlets = len(others), sorted(set(others))


def iter_documents(store, query: Query) -> Iterator[Document]:
    """Every document matching `query`'s filters and text, copies included, newest first, streamed."""
    tq = compile_query(query.text)
    if tq is not None and tq.matches_nothing:
        return
    store.flush()
    conds, params = filters(store, query, "d", tq)
    sql = f"SELECT {column_list(DOC_COLUMNS, 'd')} FROM documents d WHERE {where(conds)} ORDER BY d.dated DESC, d.id"
    for row in store._iter(sql, params):
        yield store.codec.document(row)
