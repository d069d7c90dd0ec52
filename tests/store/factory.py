"""Documents for store tests, built with only the fields a test cares about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.records import ORIGINAL, Document

BASE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def make_doc(doc_id: str, text: str = "some text", *, title: str | None = None, source: str = "example.com",
             story_id: str | None = None, relation: str = ORIGINAL, hours: float = 0, **fields) -> Document:
    """A document published `hours` after BASE, its own story unless `story_id` says otherwise."""
    published = BASE + timedelta(hours=hours)
    fields.setdefault("published", published)
    return Document(id=doc_id, url=f"https://{source}/{doc_id}", title=title, text=text, source=source,
                    fetched=published + timedelta(minutes=5), story_id=story_id or doc_id, relation=relation,
                    duplicate_of=None if relation == ORIGINAL else story_id, **fields)


def ids(page) -> list[str]:
    """The document ids of a result page, in order."""
    return [hit.document.id for hit in page.hits]


def vm_steps(store, call) -> int:
    """How many tens of SQLite virtual-machine instructions `call` runs (the work its statements do)."""
    conn, steps = store._conn(), []
    conn.set_progress_handler(lambda: steps.append(1), 10)
    try:
        call()
    finally:
        conn.set_progress_handler(None, 10)
    return len(steps)
