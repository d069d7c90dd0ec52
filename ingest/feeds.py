"""Fetch one feed (conditional GET) and parse its bytes into `FeedEntry` records."""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urljoin, urlsplit

import feedparser
import httpx

from config import Settings
from ingest.dates import EntryDates
from ingest.discover import find_feed_links
from ingest.errors import NotAFeed
from ingest.jsonfeed import looks_like_json, parse_json_feed
from ingest.records import FeedEntry
from ingest.urls import canonicalize_url, url_id
from net import http
from store.records import Feed

LOGGER = logging.getLogger(__name__)

SUMMARY_CHARS = 1000
SY_PERIODS = {"hourly": 3600, "daily": 86_400, "weekly": 7 * 86_400, "monthly": 30 * 86_400, "yearly": 365 * 86_400}
TAG = re.compile(r"<[^>]*>")
# Script and style bodies are code, not text: they go with their tags.
CODE = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
SPACE = re.compile(r"\s+")
MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)")
# The root element of an XML document: after its declaration, comments, processing instructions and doctype.
ROOT_ELEMENT = re.compile(rb"(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<(?:[\w.-]+:)?([\w.-]+)", re.S | re.I)
# XML documents people take for feeds, by their root element: what each is, and what to do with it instead.
NOT_FEEDS = {
    b"urlset": "a sitemap",
    b"sitemapindex": "a sitemap",
    b"opml": "an OPML subscription list: use `wiredesk feeds import`",
}


@dataclass(frozen=True)
class FeedFetch:
    """The answer to one feed request: status 200 with a body, or 304 without one."""

    url: str
    final_url: str
    status: int
    body: bytes | None
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None
    permanent_redirect: bool = False
    cache_seconds: float | None = None


@dataclass
class ParsedFeed:
    """What a feed body says: its title and hints, and the entries worth enqueueing."""

    title: str | None = None
    site_url: str | None = None
    version: str = ""
    ttl_seconds: int | None = None
    update_seconds: int | None = None
    entries: list[FeedEntry] = field(default_factory=list)
    dates: list[datetime] = field(default_factory=list)
    found: int = 0
    bozo: str | None = None
    reason: str | None = None


def fetch_feed(client: httpx.Client, feed: Feed, settings: Settings, conditional: bool = True) -> FeedFetch:
    """GET a feed, with If-None-Match / If-Modified-Since from its last answer when `conditional`.

    Raises `net.http.FetchError` (or a subclass) when the feed cannot be fetched.
    """
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.8"}
    if conditional and feed.etag:
        headers["If-None-Match"] = feed.etag
    if conditional and feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    response = http.get(client, feed.url, settings, headers=headers)
    not_modified = response.status == 304
    return FeedFetch(
        url=feed.url,
        final_url=response.final_url,
        status=response.status,
        body=None if not_modified else response.body,
        headers=response.headers,
        etag=response.headers.get("etag") or (feed.etag if not_modified else None),
        last_modified=response.headers.get("last-modified") or (feed.last_modified if not_modified else None),
        permanent_redirect=response.permanent_redirect,
        cache_seconds=cache_seconds(response.headers),
    )


def cache_seconds(headers: dict[str, str], now: datetime | None = None) -> float | None:
    """How long the response says it stays fresh (Cache-Control max-age, else Expires), or None."""
    match = MAX_AGE.search(headers.get("cache-control", "").lower())
    if match:
        return float(match.group(1))
    expires = headers.get("expires")
    if not expires:
        return None
    try:
        when = parsedate_to_datetime(expires)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def body_hash(body: bytes) -> str:
    """The hash of a feed body, to skip parsing a body identical to the last one."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def parse_feed(body: bytes, feed_url: str, settings: Settings, headers: dict[str, str] | None = None,
               now: datetime | None = None) -> ParsedFeed:
    """Parse feed bytes (RSS, Atom or JSON Feed) into entries worth enqueueing, newest first.

    `headers` are the response headers (lower-case keys); their Content-Type charset is honoured.
    Entries older than `settings.entry_max_age_days` are skipped. All the others are kept: which of them are
    new only the store knows, so `settings.max_entries_per_poll` is applied by the poller to the new ones.
    Raises `NotAFeed` for an HTML page, a sitemap, an OPML subscription list or JSON that is not a JSON Feed.
    """
    headers = {key.lower(): value for key, value in (headers or {}).items()}
    # Relative links resolve against the feed's own URL unless the server names another base.
    headers["content-location"] = urljoin(feed_url, headers.get("content-location") or feed_url)
    if looks_like_json(body):
        parsed, items = _parse_json(body, feed_url)
    else:
        parsed, items = _parse_xml(body, feed_url, headers)
    base = headers["content-location"]
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=settings.entry_max_age_days)
    parsed.found = len(items)
    parsed.dates = [item["published"] for item in items if item["published"]]
    entries: dict[str, FeedEntry] = {}
    too_old = 0
    for item in sorted(items, key=_newest_first, reverse=True):
        if item["published"] and item["published"] < cutoff:
            too_old += 1
            continue
        entry = _make_entry(item, base, feed_url)
        if entry is not None and entry.url_id not in entries:
            entries[entry.url_id] = entry
    parsed.entries = list(entries.values())
    if not parsed.entries:
        parsed.reason = _why_empty(parsed, items, too_old, settings)
    return parsed


def _parse_json(body: bytes, feed_url: str) -> tuple[ParsedFeed, list[dict]]:
    """A JSON Feed. Other JSON is no feed: a WordPress page announces its REST API record as application/json."""
    document = parse_json_feed(body)
    if document is None:
        raise NotAFeed(feed_url, "JSON, not a JSON Feed")
    return ParsedFeed(title=document["title"], site_url=document["link"], version="json"), document["items"]


def _parse_xml(body: bytes, feed_url: str, headers: dict[str, str]) -> tuple[ParsedFeed, list[dict]]:
    """feedparser over the bytes (never a URL or path: a bytes argument could name a local file).

    Its HTML sanitizer and relative-URI rewriting of embedded markup are off: they cost a third of the
    parse, and we keep no markup (`_clean` strips it from titles and summaries; links resolve regardless).
    """
    result = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False,
                              resolve_relative_uris=False)
    if not result.get("version") and not result.entries:
        _refuse_known_non_feed(body, feed_url, headers)
    meta = result.feed
    parsed = ParsedFeed(
        title=_clean(meta.get("title")),
        site_url=meta.get("link"),
        version=result.get("version") or "",
        ttl_seconds=_minutes(meta.get("ttl")),
        update_seconds=_sy_seconds(meta.get("sy_updateperiod"), meta.get("sy_updatefrequency")),
        bozo=f"{type(result.bozo_exception).__name__}: {result.bozo_exception}" if result.get("bozo") else None,
    )
    dates = EntryDates(meta.get("language"))
    return parsed, [_raw_item(entry, dates) for entry in result.entries]


def _raw_item(entry, dates: EntryDates) -> dict:
    """A feedparser entry in the plain shape shared with JSON Feed items."""
    authors = [a.get("name") for a in entry.get("authors") or [] if a.get("name")]
    return {
        "link": _publisher_link(entry),
        "title": _clean(entry.get("title")),
        "summary": _clean(entry.get("summary")),
        "published": _entry_date(entry, dates),
        "authors": authors or ([entry["author"]] if entry.get("author") else []),
        "guid": entry.get("id"),
    }


def _entry_date(entry, dates: EntryDates) -> datetime | None:
    """The entry's publication (else update) date as feedparser parsed it, else as `dates` reads its text.

    The fallback runs only for a date feedparser gave up on: a lost date would make an old entry look new.
    """
    # dict.get: FeedParserDict.get maps a missing published_parsed to updated_parsed with a warning
    parsed = _struct_date(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"))
    if parsed is not None:
        return parsed
    return dates.read(dict.get(entry, "published") or dict.get(entry, "updated"))


def _publisher_link(entry) -> str | None:
    """The entry's article link; a FeedBurner origLink wins over the feed-proxy link that wraps it."""
    if entry.get("feedburner_origlink"):
        return entry["feedburner_origlink"]
    if entry.get("link"):
        return entry["link"]
    for link in entry.get("links") or []:
        if link.get("href") and link.get("rel", "alternate") == "alternate":
            return link["href"]
    guid = entry.get("id") or ""
    return guid if entry.get("guidislink") or guid.startswith(("http://", "https://")) else None


def unwrap_redirect(url: str) -> str:
    """The publisher URL a Google News / Google redirect link carries in its query (`url=` or `q=`), else `url`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not (host == "google.com" or host.endswith(".google.com")) or not parts.query:
        return url
    query = parse_qs(parts.query)
    for key in ("url", "q"):
        target = (query.get(key) or [""])[0]
        if target.startswith(("http://", "https://")):
            return target
    return url


def _make_entry(item: dict, base: str, feed_url: str) -> FeedEntry | None:
    """A FeedEntry from a raw item, or None when it has no usable web link."""
    if not item["link"]:
        return None
    url = unwrap_redirect(urljoin(base, item["link"].strip()))
    canonical = canonicalize_url(url)
    if canonical is None:
        return None
    summary = item["summary"]
    return FeedEntry(
        url=url,
        canonical_url=canonical,
        url_id=url_id(canonical),
        feed_url=feed_url,
        title=item["title"],
        summary=summary[:SUMMARY_CHARS] if summary else None,
        published=item["published"],
        authors=item["authors"],
        guid=item["guid"],
    )


def _why_empty(parsed: ParsedFeed, items: list[dict], too_old: int, settings: Settings) -> str:
    """The recorded reason a feed yielded no entry to enqueue."""
    if not items:
        return f"no entries ({parsed.bozo})" if parsed.bozo else "no entries"
    if too_old == len(items):
        return f"{len(items)} entries, all older than {settings.entry_max_age_days} days"
    if not any(item["link"] for item in items):
        return f"{len(items)} entries, none with a link"
    return f"{len(items)} entries, none with an http(s) link"


def _refuse_known_non_feed(body: bytes, feed_url: str, headers: dict[str, str]) -> None:
    """Raise `NotAFeed` for a body that parsed as no feed and is a page or document people take for one.

    Anything else stays a feed without entries (a broken feed may come right on a later poll).
    """
    root = ROOT_ELEMENT.match(body.lstrip(b"\xef\xbb\xbf"))
    what = NOT_FEEDS.get(root.group(1).lower()) if root else None
    if what:
        raise NotAFeed(feed_url, what)
    if _is_html(body, headers):
        links = find_feed_links(body.decode("utf-8", "replace"), feed_url)
        raise NotAFeed.html_page(feed_url, links.feeds, links.json)


def _is_html(body: bytes, headers: dict[str, str]) -> bool:
    """Whether a body that parsed as no feed is an HTML page."""
    head = body[:2048].lower()
    return "html" in headers.get("content-type", "").lower() or b"<html" in head or b"<!doctype html" in head


def _newest_first(item: dict) -> datetime:
    """Sort key: publication date, undated entries last (the sort is stable, so feed order survives)."""
    return item["published"] or datetime.min.replace(tzinfo=timezone.utc)


def _struct_date(value) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime, or None."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


def _clean(value: str | None) -> str | None:
    """Text without markup or runs of whitespace, or None when empty."""
    if not value:
        return None
    if "<" in value or "&" in value:
        value = html.unescape(TAG.sub(" ", CODE.sub(" ", value)))
    text = SPACE.sub(" ", value).strip()
    return text or None


def _minutes(value) -> int | None:
    """An RSS `<ttl>` (minutes) in seconds."""
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None


def _sy_seconds(period, frequency) -> int | None:
    """The interval `sy:updatePeriod` / `sy:updateFrequency` announce, in seconds."""
    if not period:
        return None
    seconds = SY_PERIODS.get(str(period).strip().lower())
    try:
        times = max(1, int(str(frequency or "1").strip()))
    except ValueError:
        times = 1
    return seconds // times if seconds else None
