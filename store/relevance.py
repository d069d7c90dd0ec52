"""Relevance order over windows of the newest matches, so ranking costs the same for rare and common words.

What relevance means (news search): of the documents matching the query (text and filters), the WINDOW
most recently stored are ranked by BM25 (SQLite) or ts_rank_cd (PostgreSQL), best first; then the WINDOW
matches stored before those, ranked the same way, and so on until every match has been listed once.
A query with at most WINDOW matches is ranked exactly as a full ranking would; a word found in a third
of a million-document store ranks its newest WINDOW matches instead of sorting all of them.
Where the filters leave fewer than SELECTIVE documents, their matches are listed in one statement (each
probed against the text index, or the word's match list read once, whichever the backend finds cheaper)
and the same windows are cut from that list: a common word within a small source does not walk every
match of the word. A backend may look for a window's matches in seq ranges below its bound, growing
fourfold until they hold the window (Store.window_span: PostgreSQL does for phrases), or only in the seq
ranges that hold the query's date range (Store.seq_ranges: SQLite does); the window is the same.

One per story: each story shows its best-ranked match of the newest window it has a match in.
Cursors carry (ceiling, window top, rank, id): documents stored after the first page (seq >= ceiling)
never enter later pages, and a window is fixed by its top, so pages neither repeat nor skip. A page goes on
after the cursor's document where the window ranks it now, not after the rank it had: SQLite's BM25 weighs
words by their frequency in the whole store, so every rank moves as documents arrive, even ones that do not
match (30 matches paged 5 at a time with 45 documents added between pages: 10 of them were listed once the
ranks had moved under a fixed cursor rank). The order moves far less than the ranks, but it does move where
the store's average length does (BM25 weighs a document's length against it): a match whose place crossed the
cursor's document between two pages is listed twice or not at all. PostgreSQL's ts_rank_cd does not move.
"""

from __future__ import annotations

import logging

from store.filters import PROBE, filters, label_walk, where
from store.records import Query

LOGGER = logging.getLogger(__name__)

WINDOW = 1000
SELECTIVE = 5000  # filters leaving fewer documents than this are probed instead of walked
NO_BOUND = 2**62  # above any seq
BATCH = 500  # story ids per IN list


def ceiling(store) -> int:
    """Above every document stored so far (seq): the bound of a first page."""
    return store._one("SELECT coalesce(max(seq), 0) + 1 AS top FROM documents")["top"]


def relevance_page(store, query: Query, tq, limit: int, position: tuple | None) -> list[tuple]:
    """Up to `limit` hits after `position` (ceiling, top, rank, id), as (id, rank, ceiling, top), best first."""
    window = _windows(store, query, tq)
    ceiling, top, after = (position[0], position[1], position[2:]) if position else (None, None, None)
    picked: list[tuple] = []
    while len(picked) < limit:
        rows = window(NO_BOUND if top is None else top)
        if not rows:
            break
        if top is None:
            top = ceiling = rows[0]["seq"] + 1
        ranked = list(rows)  # rows stay in seq order for the next bound
        if not query.all_copies:
            ranked = _best_per_story(ranked)
            if top < ceiling:
                ranked = _skip_shown_stories(store, query, tq, ranked, top, ceiling)
        ranked.sort(key=lambda row: (-row["rank"], row["id"]))
        if after is not None:
            rank, doc_id = after
            last = next((row for row in rows if row["id"] == doc_id), None)
            if last is not None:
                rank = last["rank"]
                if not query.all_copies:  # shown already, though another copy may rank first now
                    ranked = [row for row in ranked if row["story_id"] != last["story_id"]]
            ranked = [row for row in ranked if row["rank"] < rank or (row["rank"] == rank and row["id"] > doc_id)]
            after = None
        picked += [(row["id"], row["rank"], ceiling, top) for row in ranked[: limit - len(picked)]]
        if len(rows) < WINDOW:
            break
        top = rows[-1]["seq"]
    return picked


def _windows(store, query: Query, tq):
    """A function of a seq bound returning the WINDOW newest matches below it, newest first."""
    conds, cond_params = filters(store, query, "d", None)
    passing, few_conds, few_params = SELECTIVE, conds, cond_params
    if conds:
        source, walker, counted, count_params = label_walk(store, query, rows=False)
        passing = store._one(f"SELECT count(*) AS n FROM (SELECT 1 FROM {source} WHERE {where(counted)} LIMIT ?) f",
                             count_params + [SELECTIVE])["n"]
        if walker != "d":  # through a feed or flag label: the few documents are read from its list too
            few_conds, few_params = [f"d.seq IN (SELECT l.seq FROM {source} WHERE {where(counted)})"], count_params
    window_sql, few_sql, text_params = store.match_window(tq, where(conds), where(few_conds), passing)
    if passing < SELECTIVE:
        matches = sorted((row for row in store._rows(few_sql, text_params + few_params) if row["rank"] is not None),
                         key=lambda row: -row["seq"])
        return lambda bound: [row for row in matches if row["seq"] < bound][:WINDOW]
    ranges, span = store.seq_ranges(query), store.window_span(tq)

    def ranges_below(bound: int):
        """The seq ranges [low, high) below `bound` a window looks in, newest first."""
        if ranges is not None:  # documents outside these ranges fail the date filter anyway
            yield from ((low, min(high, bound)) for low, high in ranges if low < bound)
            return
        bound = min(bound, ceiling(store))
        reach = span
        while bound > 0:
            low = max(0, bound - reach)
            yield low, bound
            bound, reach = low, reach * 4

    def window(bound: int) -> list:
        if ranges is None and span is None:
            return store._rows(window_sql, text_params + [0, bound] + cond_params + [WINDOW])
        rows = []
        for low, high in ranges_below(bound):
            rows += store.window_rows(window_sql, text_params + [low, high] + cond_params + [WINDOW - len(rows)])
            if len(rows) >= WINDOW:
                break
        return rows

    return window


def _best_per_story(rows: list) -> list:
    """Each story's best-ranked row (ties to the smaller id)."""
    best: dict[str, object] = {}
    for row in rows:
        kept = best.get(row["story_id"])
        if kept is None or (-row["rank"], row["id"]) < (-kept["rank"], kept["id"]):
            best[row["story_id"]] = row
    return list(best.values())


def _skip_shown_stories(store, query: Query, tq, rows: list, top: int, ceiling: int) -> list:
    """`rows` without stories that have a match in a newer window (seq from `top` up to `ceiling`)."""
    conds, params = filters(store, query, "e", tq, PROBE)
    story_ids = sorted({row["story_id"] for row in rows})
    shown: set[str] = set()
    for start in range(0, len(story_ids), BATCH):
        chunk = story_ids[start:start + BATCH]
        found = store._rows(f"SELECT DISTINCT e.story_id FROM documents e WHERE e.story_id IN ({', '.join('?' * len(chunk))})"
                            f" AND e.seq >= ? AND e.seq < ? AND {where(conds)}", chunk + [top, ceiling] + params)
        shown.update(row["story_id"] for row in found)
    return [row for row in rows if row["story_id"] not in shown]
