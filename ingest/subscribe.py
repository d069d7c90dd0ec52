"""`wiredesk feeds add`: subscribe to a feed URL, or to the first working feed a site's page links to."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

from config import Settings
from ingest.errors import NotAFeed
from ingest.feeds import ParsedFeed, parse_feed
from net import http
from store.records import Feed

LOGGER = logging.getLogger(__name__)

MAX_CANDIDATES = 5


@dataclass
class AddResult:
    """What `feeds add` did with one URL: status 'added', 'exists' or 'error'."""

    requested: str
    status: str
    feed_url: str | None = None
    title: str | None = None
    message: str | None = None
    alternatives: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the CLI."""
        requested = http.redact_url(self.requested)
        if self.status == "error":
            return f"error   {requested}: {self.message}"
        via = f" (found on {requested})" if self.feed_url != self.requested else ""
        title = f" - {self.title}" if self.title else ""
        return f"{self.status:<7} {http.redact_url(self.feed_url or '')}{via}{title}"


def add_feeds(settings: Settings, store, client: httpx.Client, urls: list[str]) -> list[AddResult]:
    """Add each URL as a feed, or the first working feed its HTML page links to; one result per URL.

    Example: `add_feeds(settings, store, make_client(settings), ["https://example.org/"])`.
    """
    return [_add_one(settings, store, client, url.strip()) for url in urls if url.strip()]


def _add_one(settings: Settings, store, client: httpx.Client, url: str) -> AddResult:
    """Check that `url`, or a feed its page links to, parses as a feed; then add it to the store."""
    if store.get_feed(url) is not None:
        return AddResult(url, "exists", feed_url=url)
    try:
        feed_url, parsed = _try_feed(settings, client, url)
    except NotAFeed as exc:
        return _add_discovered(settings, store, client, url, exc)
    except http.FetchError as exc:
        return AddResult(url, "error", message=str(exc))
    return _store_feed(store, url, feed_url, parsed, [])


def _add_discovered(settings: Settings, store, client: httpx.Client, url: str, page: NotAFeed) -> AddResult:
    """Add the first feed the HTML page at `url` links to that really is a feed.

    Its application/json links come last: most are a WordPress REST API record, and the body tells.
    """
    candidates = [link for link in page.candidates + page.json_links if link != url][:MAX_CANDIDATES]
    for position, candidate in enumerate(candidates):
        try:
            feed_url, parsed = _try_feed(settings, client, candidate)
        except (NotAFeed, http.FetchError) as exc:
            LOGGER.info("discovered feed %s does not work: %s", candidate, exc)
            continue
        return _store_feed(store, url, feed_url, parsed, candidates[position + 1:])
    return AddResult(url, "error", message=str(page))


def _try_feed(settings: Settings, client: httpx.Client, url: str) -> tuple[str, ParsedFeed]:
    """Fetch and parse `url`; return the URL to subscribe to (the target of a permanent redirect)."""
    response = http.get(client, url, settings)
    parsed = parse_feed(response.body, response.final_url, settings, response.headers)
    return (response.final_url if response.permanent_redirect else url), parsed


def _store_feed(store, requested: str, feed_url: str, parsed: ParsedFeed, alternatives: list[str]) -> AddResult:
    """Insert the feed unless it is already known."""
    feed = Feed(url=feed_url, title=parsed.title, site_url=parsed.site_url, added_at=datetime.now(timezone.utc))
    if not store.add_feeds([feed]):
        return AddResult(requested, "exists", feed_url=feed_url, title=parsed.title)
    return AddResult(requested, "added", feed_url=feed_url, title=parsed.title, alternatives=alternatives)
