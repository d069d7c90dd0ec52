"""WHERE conditions for a query's filters, shared by search, relevance windows and export."""

from __future__ import annotations

from store.base import InvalidQuery
from store.records import Query

DATE_FIELDS = ("published", "fetched")


def clean(value: str) -> str:
    """A filter string without NUL characters (PostgreSQL rejects them in text)."""
    return value.replace("\x00", "")


def where(conds: list[str]) -> str:
    """Conditions ANDed; always true when there are none."""
    return " AND ".join(conds) if conds else "1 = 1"


# How a text condition meets the rows (SQLStore.text_filter): drive the plan from the list of matches, walk
# another index testing each row against that list, or walk probing the text index row by row.
LIST, WALK, PROBE = "list", "walk", "probe"


def filters(store, query: Query, alias: str, tq, plan: str = LIST) -> tuple[list[str], list]:
    """WHERE conditions and params for `query`'s filters on documents aliased `alias` (text too when `tq`,
    tested as `plan` says)."""
    if query.date_field not in DATE_FIELDS:
        raise InvalidQuery(f"date_field must be one of {DATE_FIELDS}")
    conds, params = [], []
    for name in ("language", "source", "wire", "story_id"):
        value = getattr(query, name)
        if value is not None:
            conds.append(f"{alias}.{name} = ?")
            params.append(clean(value))
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
            cond, more = store.json_contains(f"{alias}.{column}", [clean(v) for v in values])
            conds.append(cond)
            params += more
    if tq is not None:
        cond, more = store.text_filter(alias, tq, plan)
        conds.append(cond)
        params += more
    return conds, params
