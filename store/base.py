"""The store interface both backends implement, and `open_store` which picks one from a URL.

Both backends keep the same tables (documents, stories, feeds, urls) and give the same answers;
tests run the same suite over both. All times are timezone-aware UTC.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime

from store.records import Document, Feed, Query, ResultPage, Story, UrlState


class StoreError(Exception):
    """Base class of store errors."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or is locked; the caller may retry."""


class InvalidQuery(StoreError):
    """A query the store cannot answer as asked (text it cannot search, a bad cursor, an unknown order or date
    field); `param` names the query parameter at fault (q, cursor, order, date_field) where one is."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class Store(ABC):
    """A document store. Implementations: store.sqlite.SQLiteStore, store.postgres.PostgresStore."""

    # Lifecycle
    @abstractmethod
    def migrate(self) -> int:
        """Apply pending migrations; return the schema version now in force."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abstractmethod
    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    # Feeds
    @abstractmethod
    def add_feeds(self, feeds: list[Feed]) -> int:
        """Insert feeds not yet known (by URL); return how many were new."""

    @abstractmethod
    def remove_feed(self, url: str) -> bool:
        """Delete a feed; return whether it existed."""

    @abstractmethod
    def get_feed(self, url: str) -> Feed | None:
        """One feed by URL."""

    @abstractmethod
    def list_feeds(self) -> list[Feed]:
        """Every feed, ordered by URL."""

    @abstractmethod
    def due_feeds(self, now: datetime, limit: int | None = None) -> list[Feed]:
        """Feeds whose next poll time is unset or not after `now`, and not gone; oldest due first."""

    @abstractmethod
    def get_feeds(self, urls: list[str]) -> dict[str, Feed]:
        """The feeds of `urls` that exist, by URL (one query where one would take a query each)."""

    @abstractmethod
    def save_feed(self, feed: Feed, old_url: str | None = None) -> None:
        """Write a feed's whole state; `old_url` renames it (301/308)."""

    @abstractmethod
    def save_feeds(self, feeds: list[tuple[Feed, str | None]]) -> None:
        """`save_feed` for many (feed, old_url) pairs in one transaction."""

    # URL states: every URL that entered the queue, from enqueue to its final state
    @abstractmethod
    def claim_urls(self, states: list[UrlState]) -> list[str]:
        """Insert rows for URLs never seen before; return the url_ids that were new (only those get enqueued)."""

    @abstractmethod
    def set_url_state(self, url_id: str, state: str, *, reason: str | None = None, detail: str | None = None,
                      document_id: str | None = None, attempts: int | None = None,
                      next_try: datetime | None = None) -> None:
        """Move a URL to `state`, recording why and when."""

    @abstractmethod
    def get_url_state(self, url_id: str) -> UrlState | None:
        """One URL's state."""

    @abstractmethod
    def count_url_states(self) -> dict[str, int]:
        """How many URLs are in each state."""

    @abstractmethod
    def stale_urls(self, updated_before: datetime, limit: int = 1000) -> list[UrlState]:
        """URLs still queued, started or retrying whose last change is older than `updated_before`."""

    @abstractmethod
    def list_failures(self, since: datetime | None = None, reason: str | None = None,
                      include_retrying: bool = True, limit: int = 1000) -> list[UrlState]:
        """Failed URLs (and those waiting for a retry), newest first, with their last reason."""

    # Documents and stories
    @abstractmethod
    def publish(self, doc: Document, url_id: str) -> None:
        """Upsert `doc` by id and mark `url_id` stored/duplicate in the same transaction (idempotent)."""

    def publish_many(self, items: list[tuple[Document, str]]) -> None:
        """Publish each (document, url_id) as `publish` would, in order; SQL backends use one transaction."""
        for doc, url_id in items:
            self.publish(doc, url_id)

    def flush(self) -> None:
        """Make every published document searchable now (search does this itself; a no-op where indexing is immediate)."""

    def checkpoint(self) -> None:
        """Write what the store deferred into its files now (SQLite: its WAL; PostgreSQL: its text indexes' pending
        lists)."""

    @abstractmethod
    def get_document(self, doc_id: str) -> Document | None:
        """One document by id."""

    @abstractmethod
    def search(self, query: Query) -> ResultPage:
        """Documents matching `query`, one per story unless `query.all_copies`, paginated by cursor."""

    @abstractmethod
    def iter_documents(self, query: Query) -> Iterator[Document]:
        """Every document matching `query`'s filters, copies included, streamed with constant memory."""

    @abstractmethod
    def get_story(self, story_id: str) -> Story | None:
        """A story with its canonical document and every copy."""

    @abstractmethod
    def stats(self) -> dict:
        """Counts for `wiredesk status`: documents, stories, duplicates, feeds by state, URLs by state."""


def open_store(url: str) -> Store:
    """Open the store a URL names: `sqlite:///path/to.db` or `postgresql://...`."""
    if url.startswith("sqlite:"):
        from store.sqlite import SQLiteStore

        return SQLiteStore(url)
    if url.startswith(("postgresql:", "postgres:")):
        from store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(f"unsupported store URL {url!r}: use sqlite:///path.db or postgresql://...")
