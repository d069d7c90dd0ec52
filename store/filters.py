"""WHERE conditions for a query's filters, shared by search, relevance windows and export."""

from __future__ import annotations

from urllib.parse import urlsplit

from store.base import InvalidQuery
from store.records import FLAGS, WIRES, Query

DATE_FIELDS = ("published", "fetched")
LABEL_LIST_MAX = 5000  # documents of a feed or flag up to which a filter reads them as a list (_label_test)

# How a text condition meets the rows (SQLStore.text_filter): drive the plan from the list of matches, walk
# another index testing each row against that list, or walk probing the text index row by row.
LIST, WALK, PROBE = "list", "walk", "probe"


def clean(value: str) -> str:
    """A filter string without NUL characters (PostgreSQL rejects them in text)."""
    return value.replace("\x00", "")


def _language(value: str) -> str:
    """`fr-FR`, `FR`, `fr_CA` -> `fr`: documents keep the primary language subtag, lower-cased."""
    return value.strip().lower().replace("_", "-").split("-")[0]


def _source(value: str) -> str:
    """`https://www.Reuters.com/world`, `reuters.com:443` -> `reuters.com`: documents keep the publisher's host,
    lower-cased, without `www.`."""
    host = urlsplit(value.strip() if "//" in value else f"//{value.strip()}").hostname or value.strip().lower()
    return host.removeprefix("www.")


def _wire(value: str) -> str:
    """An agency as documents spell it (`ap` -> `AP`, `reuters` -> `Reuters`); an unknown one as given."""
    return next((name for name in WIRES if name.lower() == value.strip().lower()), value.strip())


# How a filter value given by a user becomes the value documents keep.
_NORMAL = {"language": _language, "source": _source, "wire": _wire, "story_id": str.strip}


def where(conds: list[str]) -> str:
    """Conditions ANDed; always true when there are none."""
    return " AND ".join(conds) if conds else "1 = 1"


def labels(query: Query) -> list[str]:
    """The labels (migration 0013) a document needs to pass `query`'s feed and flag filters."""
    feeds = [f"feed:{clean(query.feed)}"] if query.feed else []
    return feeds + [f"flag:{clean(flag)}" for flag in query.flags]


def label_walk(store, query: Query, tq=None, plan: str = LIST, rows: bool = True) -> tuple[str, str, list[str], list]:
    """(FROM clause, alias of the seq and the (dated, id) order, WHERE conditions, params) for the documents passing
    `query`'s filters: reached through the first of its feed and flag labels, newest first (document_labels_order),
    when it has one, else all documents ("d"). A walk of all documents would test every one for a label few of
    them carry. Without `rows`, a label that is the only filter is not joined to the documents it lists."""
    walked = next(iter(labels(query)), None)
    conds, params = filters(store, query, "d", tq, plan, walked)
    if walked is None:
        return "documents d", "d", conds, params
    source = "document_labels l"
    if rows or conds:
        source += f" {store.label_join} documents d ON d.seq = l.seq"
    return source, "l", ["l.label = ?", *conds], [walked, *params]


def _label_test(store, alias: str, label: str, plan: str) -> str:
    """The condition "the document has `label`": a list of the label's documents, which a plan may start from
    (the filtered set of a relevance search, its count), while it is short; else a key probe for each row the
    plan meets (by its dated and id). Built whole, a long list costs more than the probes (at 1M documents, the
    50,000 flagged paywalled: 125 ms a statement)."""
    if plan != PROBE:
        found = store._one("SELECT count(*) AS n FROM (SELECT 1 FROM document_labels WHERE label = ? LIMIT ?) f",
                           [label, LABEL_LIST_MAX])["n"]
        if found < LABEL_LIST_MAX:
            return f"{alias}.seq IN (SELECT lb.seq FROM document_labels lb WHERE lb.label = ?)"
    return (f"EXISTS (SELECT 1 FROM document_labels lb WHERE lb.label = ? AND lb.dated = {alias}.dated"
            f" AND lb.id = {alias}.id)")


def filters(store, query: Query, alias: str, tq, plan: str = LIST,
            walked_label: str | None = None) -> tuple[list[str], list]:
    """WHERE conditions and params for `query`'s filters on documents aliased `alias` (text too when `tq`,
    tested as `plan` says; not `walked_label`, whose documents the caller walks)."""
    if query.date_field not in DATE_FIELDS:
        raise InvalidQuery(f"date_field must be one of {DATE_FIELDS}", "date_field")
    unknown = sorted(set(query.flags) - set(FLAGS))
    if unknown:
        raise InvalidQuery(f"unknown flag {unknown[0]!r}: flags are {', '.join(FLAGS)}", "flag")
    conds, params = [], []
    for name, normal in _NORMAL.items():
        value = getattr(query, name)
        if value is not None:
            conds.append(f"{alias}.{name} = ?")
            params.append(normal(clean(value)))
    # A published range is a range of dated: published where the page or feed gave a time, else fetched, the
    # time date order lists a document by (an undated document would otherwise be listed but never found in
    # a range); the dated index also skips to the range instead of scanning from the newest.
    column = "dated" if query.date_field == "published" else query.date_field
    if query.since is not None:
        conds.append(f"{alias}.{column} >= ?")
        params.append(store.codec.dump_time(query.since))
    if query.until is not None:
        conds.append(f"{alias}.{column} < ?")
        params.append(store.codec.dump_time(query.until))
    for label in labels(query):
        if label != walked_label:
            conds.append(_label_test(store, alias, label, plan))
            params.append(label)
    if tq is not None:
        cond, more = store.text_filter(alias, tq, plan)
        conds.append(cond)
        params += more
    return conds, params
