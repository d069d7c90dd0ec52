"""Search over an SQLStore: filters, relevance or date order, one hit per story, keyset cursors.

One per story: in date order a document is shown when no other matching document of its story is newer
(a correlated NOT EXISTS on the story index, so the scan stops after `limit` hits); in relevance order
every match is ranked anyway, so a window function keeps each story's best-ranked match.
Cursors carry the last hit's sort key and id (keyset pagination), so inserts between pages neither
repeat nor skip date-ordered hits. Relevance cursors are exact on PostgreSQL (ts_rank_cd depends only on
the document); on SQLite BM25 weighs words by corpus frequency, so ranks drift slightly as documents arrive.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from datetime import datetime

from store.base import InvalidQuery
from store.query import compile_query
from store.records import Document, Hit, Query, ResultPage
from store.rows import DOC_COLUMNS, column_list

MAX_LIMIT = 100
DATE_FIELDS = ("published", "fetched")
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
    elif not isinstance(key, (int, float)):
        raise InvalidQuery("bad cursor rank")
    return key, doc_id


def _clean(value: str) -> str:
    """A filter string without NUL characters (PostgreSQL rejects them in text)."""
    return value.replace("\x00", "")


def filters(store, query: Query, alias: str, tq) -> tuple[list[str], list]:
    """WHERE conditions and params for `query`'s filters on documents aliased `alias` (text too when `tq`)."""
    if query.date_field not in DATE_FIELDS:
        raise InvalidQuery(f"date_field must be one of {DATE_FIELDS}")
    conds, params = [], []
    for name in ("language", "source", "wire", "story_id"):
        value = getattr(query, name)
        if value is not None:
            conds.append(f"{alias}.{name} = ?")
            params.append(_clean(value))
    # dated equals published where published is set, so a published range is also a dated range: the
    # redundant condition lets the dated index skip to the range instead of scanning from the newest.
    columns = (query.date_field, "dated") if query.date_field == "published" else (query.date_field,)
    for column in columns:
        if query.since is not None:
            conds.append(f"{alias}.{column} >= ?")
            params.append(store.codec.dump_time(query.since))
        if query.until is not None:
            conds.append(f"{alias}.{column} < ?")
            params.append(store.codec.dump_time(query.until))
    for column, values in (("feeds", [query.feed] if query.feed else []), ("flags", query.flags)):
        if values:
            cond, more = store.json_contains(f"{alias}.{column}", [_clean(v) for v in values])
            conds.append(cond)
            params += more
    if tq is not None:
        cond, more = store.text_filter(alias, tq)
        conds.append(cond)
        params += more
    return conds, params


def _where(conds: list[str]) -> str:
    return " AND ".join(conds) if conds else "1 = 1"


def _by_relevance(store, query: Query, tq, limit: int) -> tuple[str, list]:
    """Matches ranked best first (rank desc, id); each story's best match only unless all copies."""
    source, rank, match, params = store.ranked_source(tq)
    conds, more = filters(store, query, "d", None)
    # Rank ids only; the page's few rows are joined back for their columns (texts stay out of the sort).
    sql = f"WITH m AS (SELECT d.id, d.story_id, {rank} AS rank FROM {source} WHERE {_where([match] + conds)})"
    params = params + more
    table, outer = "m", []
    if not query.all_copies:
        sql += (", r AS (SELECT id, rank, ROW_NUMBER() OVER (PARTITION BY story_id ORDER BY rank DESC, id) AS rn"
                " FROM m)")
        table, outer = "r", ["rn = 1"]
    if query.cursor:
        key, doc_id = decode_cursor(query.cursor, "relevance")
        outer.append("(rank < ? OR (rank = ? AND id > ?))")
        params += [key, key, doc_id]
    sql += (f", page AS (SELECT id, rank FROM {table} WHERE {_where(outer)} ORDER BY rank DESC, id LIMIT ?)"
            f" SELECT {column_list(DOC_COLUMNS, 'd')}, d.dated, page.rank FROM page JOIN documents d ON d.id = page.id"
            " ORDER BY page.rank DESC, d.id")
    return sql, params + [limit]


def _by_date(store, query: Query, tq, limit: int) -> tuple[str, list]:
    """Matches newest first (dated desc, id); each story's newest match only unless all copies."""
    conds, params = filters(store, query, "d", tq)
    if query.cursor:
        key, doc_id = decode_cursor(query.cursor, "date")
        conds.append("(d.dated < ? OR (d.dated = ? AND d.id > ?))")
        key = store.codec.dump_time(key)
        params += [key, key, doc_id]
    if not query.all_copies:
        inner, more = filters(store, query, "e", tq)
        conds.append("NOT EXISTS (SELECT 1 FROM documents e WHERE e.story_id = d.story_id AND e.id <> d.id"
                     f" AND (e.dated > d.dated OR (e.dated = d.dated AND e.id < d.id)) AND {_where(inner)})")
        params += more
    sql = (f"SELECT {column_list(DOC_COLUMNS, 'd')}, d.dated, NULL AS rank FROM documents d"
           f" WHERE {_where(conds)} ORDER BY d.dated DESC, d.id LIMIT ?")
    return sql, params + [limit]


def search(store, query: Query) -> ResultPage:
    """One page of hits for `query` and the cursor of the next page."""
    if query.order not in ORDERS:
        raise InvalidQuery(f"order must be one of {ORDERS}")
    tq = compile_query(query.text)
    if tq is not None and tq.matches_nothing:
        return ResultPage(hits=[])
    limit = max(1, min(query.limit, MAX_LIMIT))
    order = "relevance" if tq is not None and query.order == "relevance" else "date"
    build = _by_relevance if order == "relevance" else _by_date
    sql, params = build(store, query, tq, limit + 1)
    rows = store._rows(sql, params)
    more, rows = len(rows) > limit, rows[:limit]
    hits = [Hit(document=store.codec.document(row), rank=row["rank"]) for row in rows]
    if not query.all_copies:
        _add_outlets(store, hits)
    next_cursor = None
    if more:
        last = rows[-1]
        key = last["rank"] if order == "relevance" else store.codec.load_time(last["dated"]).isoformat()
        next_cursor = encode_cursor(order, key, last["id"])
    return ResultPage(hits=hits, next_cursor=next_cursor)


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
    conds, params = filters(store, query, "d", tq)
    sql = f"SELECT {column_list(DOC_COLUMNS, 'd')} FROM documents d WHERE {_where(conds)} ORDER BY d.dated DESC, d.id"
    for row in store._iter(sql, params):
        yield store.codec.document(row)
