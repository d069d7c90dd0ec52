"""JSON Feed (https://jsonfeed.org, versions 1 and 1.1), which feedparser does not read.

Every value is checked for its JSON type before use: one item with a malformed field (`"authors": 1`, a date
past year 9999 once in UTC) loses that field only, not the feed.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

LOGGER = logging.getLogger(__name__)


def looks_like_json(body: bytes) -> bool:
    """Whether a body starts like a JSON object (after an optional BOM and whitespace)."""
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def parse_json_feed(body: bytes) -> dict | None:
    """The feed as `{title, link, items: [raw items]}`, or None when the body is not a JSON Feed."""
    try:
        data = json.loads(body.decode("utf-8-sig", "replace"))
    except ValueError:
        return None
    if not isinstance(data, dict) or not (
        str(data.get("version", "")).startswith("https://jsonfeed.org/") or isinstance(data.get("items"), list)
    ):
        return None
    # A feed that names itself a JSON Feed but whose items are not a list has no items.
    items = data.get("items") if isinstance(data.get("items"), list) else []
    return {"title": _text(data.get("title")), "link": _text(data.get("home_page_url")),
            "items": [_raw_item(item) for item in items if isinstance(item, dict)]}


def _raw_item(item: dict) -> dict:
    """One JSON Feed item in the shape `ingest.feeds` turns into a FeedEntry; a malformed field reads as absent."""
    return {
        "link": _text(item.get("url")) or _text(item.get("external_url")),
        "title": _text(item.get("title")),
        "summary": _text(item.get("summary")) or _text(item.get("content_text")),
        "published": _date(item.get("date_published")) or _date(item.get("date_modified")),
        "authors": _authors(item),
        "guid": _id(item.get("id")),
    }


def _authors(item: dict) -> list[str]:
    """The names of an item's authors: version 1.1's `authors` list, else version 1's single `author` object."""
    authors = item.get("authors")
    if not isinstance(authors, list) or not authors:
        authors = [item.get("author")]
    names = (_text(author.get("name")) for author in authors if isinstance(author, dict))
    return [name for name in names if name]


def _text(value) -> str | None:
    """A non-empty stripped string, or None: the spec's text fields are strings, and a number, list or object
    in their place is no title, summary or URL (a number taken for a URL would resolve as a relative link)."""
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _id(value) -> str | None:
    """An item's id as a string: the spec asks readers to coerce an id given as a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _date(value) -> datetime | None:
    """An RFC 3339 date as an aware UTC datetime, or None when absent or malformed.

    A date at either end of the calendar with an offset (`0001-01-01T00:00:00+01:00`) has no UTC datetime:
    the conversion overflows.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
