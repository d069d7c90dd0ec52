"""Search over an SQLStore: filters, relevance or date order, one hit per story, keyset cursors.

Relevance order ranks windows of the newest matches (store/relevance.py says exactly what it means).
One per story in date order: a document is shown when no other matching document of its story is newer
(a correlated NOT EXISTS on the story index, so the scan stops after `limit` hits).
Cursors carry the last hit's sort key and id (keyset pagination) and the ceiling of the first page: documents
stored after it never enter later pages, so a story whose newest copy arrives meanwhile keeps its place instead
of jumping above the cursor, and pages neither repeat nor skip. A cursor also carries a fingerprint of the
query it continues (text, filters but the time range, which `24h` moves, order, copies) and is refused with
another query.
Every search first indexes documents whose indexing was deferred (Store.flush), so none is missed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime

from store.base import InvalidQuery
from store.filters import LIST, PROBE, filters, label_walk, where
from store.query import compile_query
from store.records import Document, Hit, Query, ResultPage
from store.relevance import NO_BOUND, ceiling, relevance_page
from store.rows import DOC_COLUMNS, column_list

MAX_LIMIT = 100
ORDERS = ("relevance", "date")
MAX_ID = 128  # characters of a document id in a cursor


def fingerprint(query: Query) -> str:
    """What a cursor must continue: the query's text, filters (but the time range), order and copies."""
    parts = [query.text, query.language, query.date_field, query.source, query.feed, query.wire, query.story_id,
             sorted(query.flags), query.all_copies, query.order]
    return hashlib.blake2b(json.dumps(parts).encode(), digest_size=6).hexdigest()


def encode_cursor(query: Query, order: str, key, doc_id: str) -> str:
    """An opaque cursor for the page of `query` after the hit with sort key `key` and id `doc_id`."""
    raw = json.dumps([order, key, doc_id, fingerprint(query)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _is_int(value, low: int = 0, high: int = NO_BOUND) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def decode_cursor(query: Query, order: str) -> tuple:
    """(key, doc_id) from `query.cursor`, made by encode_cursor for the same query and order.

    Raises:
        InvalidQuery: a cursor that is not one of ours, or belongs to another query.
    """
    cursor = query.cursor
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_order, key, doc_id, got_query = json.loads(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidQuery(f"bad cursor {cursor[:40]!r}", "cursor") from exc
    if got_order != order or got_query != fingerprint(query):
        raise InvalidQuery("cursor belongs to another query: pass next_cursor with the query it came from", "cursor")
    if not isinstance(doc_id, str) or len(doc_id) > MAX_ID or "\x00" in doc_id:
        raise InvalidQuery("bad cursor id", "cursor")
    if order == "date":
        if not (isinstance(key, list) and len(key) == 2 and isinstance(key[0], str) and _is_int(key[1])):
            raise InvalidQuery("bad cursor date", "cursor")
        try:
            key = [datetime.fromisoformat(key[0]).astimezone(UTC), key[1]]
        except (ValueError, OverflowError) as exc:
            raise InvalidQuery("bad cursor date", "cursor") from exc
    elif not (isinstance(key, list) and len(key) == 3 and _is_int(key[0]) and _is_int(key[1])
              and isinstance(key[2], (int, float)) and not isinstance(key[2], bool) and math.isfinite(key[2])):
        raise InvalidQuery("bad cursor rank", "cursor")
    return key, doc_id


def _by_date(store, query: Query, tq, limit: int, top: int, after: tuple | None) -> tuple[str, list]:
    """Matches stored below `top`, newest first (dated desc, id) after the (dated, id) `after`; each story's newest
    match only unless all copies."""
    source, key, conds, params = label_walk(store, query, tq, LIST if tq is None else store.date_plan(tq, limit))
    conds.append(f"{key}.seq < ?")
    params.append(top)
    if after is not None:
        doc_key, doc_id = after
        conds.append(f"({key}.dated < ? OR ({key}.dated = ? AND {key}.id > ?))")
        doc_key = store.codec.dump_time(doc_key)
        params += [doc_key, doc_key, doc_id]
    if not query.all_copies:
        inner, more = filters(store, query, "e", tq, PROBE)
        conds.append("NOT EXISTS (SELECT 1 FROM documents e WHERE e.story_id = d.story_id AND e.id <> d.id"
                     f" AND e.seq < ? AND (e.dated > d.dated OR (e.dated = d.dated AND e.id < d.id)) AND {where(inner)})")
        params += [top, *more]
    sql = (f"SELECT {column_list(DOC_COLUMNS, 'd')}, d.dated FROM {source}"
           f" WHERE {where(conds)} ORDER BY {key}.dated DESC, {key}.id LIMIT ?")
    return sql, params + [limit]


def search(store, query: Query) -> ResultPage:
    """One page of hits for `query` and the cursor of the next page."""
    if query.order not in ORDERS:
        raise InvalidQuery(f"order must be one of {ORDERS}", "order")
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
        (ceiling, top, rank), doc_id = decode_cursor(query, "relevance")
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
    return hits, encode_cursor(query, "relevance", [ceiling, top, rank], doc_id)


def _date_hits(store, query: Query, tq, limit: int) -> tuple[list[Hit], str | None]:
    """A date-ordered page (with or without text)."""
    if query.cursor:
        (dated, top), doc_id = decode_cursor(query, "date")
        after = (dated, doc_id)
    else:
        top, after = ceiling(store), None
    sql, params = _by_date(store, query, tq, limit + 1, top, after)
    rows = store._rows(sql, params)
    more, rows = len(rows) > limit, rows[:limit]
    hits = [Hit(document=store.codec.document(row)) for row in rows]
    if not more:
        return hits, None
    last = rows[-1]
    return hits, encode_cursor(query, "date", [store.codec.load_time(last["dated"]).isoformat(), top], last["id"])


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
