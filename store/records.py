"""Records the store keeps and returns: documents, stories, feeds, URL states, queries and result pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The states a URL passes through once it entered the queue; the last three are final.
QUEUED, STARTED, RETRYING = "queued", "started", "retrying"
STORED, DUPLICATE, FAILED = "stored", "duplicate", "failed"
URL_STATES = (QUEUED, STARTED, RETRYING, STORED, DUPLICATE, FAILED)
FINAL_STATES = (STORED, DUPLICATE, FAILED)

# How a document relates to its story's canonical document.
ORIGINAL, EXACT, NEAR, TRANSLATION = "original", "exact", "near", "translation"

# What a document's flags and wire agency can be (workers/extract.py and workers/normalize.py set them).
FLAGS = ("paywalled", "partial")
WIRES = ("AP", "Reuters", "AFP", "dpa", "PA", "ANSA", "EFE", "Bloomberg", "UPI", "Xinhua", "Kyodo", "Yonhap", "CP",
         "AAP")


@dataclass
class Document:
    """One stored article; copies of a story are documents too, pointing at the canonical one."""

    id: str
    url: str
    title: str | None
    text: str
    source: str
    fetched: datetime
    urls: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    site_name: str | None = None
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    language: str | None = None
    summary: str | None = None
    word_count: int = 0
    content_hash: str = ""
    wire: str | None = None
    story_id: str = ""
    duplicate_of: str | None = None
    similarity: float | None = None
    relation: str = ORIGINAL
    flags: list[str] = field(default_factory=list)


@dataclass
class Copy:
    """A short view of one document of a story: who published it, when, and how it relates."""

    id: str
    url: str
    source: str
    title: str | None
    published: datetime | None
    language: str | None
    relation: str
    similarity: float | None


@dataclass
class Story:
    """A story: its canonical document and every copy (the canonical one included, first)."""

    id: str
    canonical: Document
    copies: list[Copy]


@dataclass
class Hit:
    """One search result: a document, and for one-per-story results the story's other outlets."""

    document: Document
    copies: int = 0
    outlets: list[str] = field(default_factory=list)
    rank: float | None = None


@dataclass
class Query:
    """What a search asks for; every field is optional. `text` uses the query syntax of store/query.py."""

    text: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    date_field: str = "published"
    source: str | None = None
    feed: str | None = None
    wire: str | None = None
    story_id: str | None = None
    flags: list[str] = field(default_factory=list)
    all_copies: bool = False
    order: str = "relevance"
    limit: int = 20
    cursor: str | None = None


@dataclass
class ResultPage:
    """A page of hits and the opaque cursor for the next page (None at the end)."""

    hits: list[Hit]
    next_cursor: str | None = None


@dataclass
class UrlState:
    """Where one URL that entered the queue stands: the accounting row behind `wiredesk failures` and status."""

    url_id: str
    url: str
    feed_url: str | None
    state: str
    reason: str | None = None
    detail: str | None = None
    document_id: str | None = None
    attempts: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    next_try: datetime | None = None


@dataclass
class Feed:
    """A feed and its durable polling state."""

    url: str
    title: str | None = None
    category: str | None = None
    site_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_polled: datetime | None = None
    last_status: int | None = None
    next_poll: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    entries_seen: int = 0
    rate_per_day: float | None = None
    polls: int = 0
    state: str = "ok"
    added_at: datetime | None = None
