"""JSON Feed (https://jsonfeed.org, versions 1 and 1.1), which feedparser does not read."""

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
    items = [_raw_item(item) for item in data.get("items") or [] if isinstance(item, dict)]
    return {"title": _text(data.get("title")), "link": _text(data.get("home_page_url")), "items": items}


def _raw_item(item: dict) -> dict:
    """One JSON Feed item in the shape `ingest.feeds` turns into a FeedEntry."""
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    return {
        "link": _text(item.get("url")) or _text(item.get("external_url")),
        "title": _text(item.get("title")),
        "summary": _text(item.get("summary")) or _text(item.get("content_text")),
        "published": _date(item.get("date_published")) or _date(item.get("date_modified")),
        "authors": [a["name"] for a in authors if isinstance(a, dict) and _text(a.get("name"))],
        "guid": _text(item.get("id")),
    }


def _text(value) -> str | None:
    """A non-empty stripped string, or None (JSON Feed values may be numbers or missing)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value).strip() or None


def _date(value) -> datetime | None:
    """An RFC 3339 date as an aware UTC datetime, or None when absent or malformed."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
