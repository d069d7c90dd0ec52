"""Subscription lists: read OPML (and the RDF/FOAF lists listparser knows) into Feeds, write OPML with categories."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

import listparser

from ingest.errors import OPMLError
from store.records import Feed

LOGGER = logging.getLogger(__name__)

# Two publishing slips common in real subscription lists are repaired before the file must be
# well-formed XML: a bare `&`, and quotes or markup inside an `<outline>`'s attribute values (HTML
# podcast descriptions). Everything else (truncation, stray end tags, undefined entities such as
# &nbsp;, content after the root) is an error, so a damaged file imports nothing rather than a part.
BARE_AMPERSAND = re.compile(rb"&(?![A-Za-z_][\w.-]*;|#[0-9]+;|#x[0-9A-Fa-f]+;)")
# An `<outline>` start tag alone at the start of a line and ending one. Broken values may hold markup and
# newlines, so the tag runs to the last quote before a line end; but it never runs over another outline tag,
# so a folder and its first feed written on one line stay two tags (neither of them matched).
OUTLINE_TAG = re.compile(rb'^([ \t]*)<outline\b((?:(?!</?outline\b).)*?")\s*(/?)>[ \t]*\r?$', re.M | re.S)
ATTRIBUTE_START = re.compile(
    rb'\s(text|title|description|xmlUrl|htmlUrl|type|language|version|url|category|created)\s*=\s*"', re.I)


def read_opml(path: str | Path) -> list[Feed]:
    """The feeds a subscription list names, with their category path ("News/World"); all or nothing.

    Raises OPMLError naming the file and the problem when it cannot be read or is not well-formed XML.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OPMLError(str(path), f"cannot read the file ({exc.strerror or exc})") from exc
    data = BARE_AMPERSAND.sub(b"&amp;", OUTLINE_TAG.sub(_repair_outline, data))
    try:
        ET.fromstring(data)
    except ET.ParseError as exc:
        raise OPMLError(str(path), f"not well-formed XML ({exc})") from exc
    result = listparser.parse(data)
    if result.bozo:  # e.g. an unparseable dateCreated in <head>: nothing the feeds depend on
        LOGGER.info("%s: %s", path, result.bozo_exception)
    feeds: dict[str, Feed] = {}
    for item in result.feeds:
        url = (item.get("url") or "").strip()
        if not url.startswith(("http://", "https://")) or url in feeds:
            continue
        categories = item.get("categories") or []
        category = "/".join(categories[0]) if categories and categories[0] else None
        feeds[url] = Feed(url=url, title=item.get("title") or None, category=category)
    LOGGER.info("%s: %d feeds", path, len(feeds))
    return list(feeds.values())


def _repair_outline(match: re.Match) -> bytes:
    """An `<outline>` start tag rebuilt with escaped values when its attribute quoting is broken.

    Each value runs from a known attribute name to the last quote before the next one; `description`
    (HTML prose wiredesk does not keep) is dropped. Entity references are kept, so undefined ones still fail.
    """
    indent, attributes, closing = match.groups()
    try:
        ET.fromstring(b"<outline" + BARE_AMPERSAND.sub(b"&amp;", attributes) + b"/>")
        return match.group(0)
    except ET.ParseError:
        pass
    starts = list(ATTRIBUTE_START.finditer(attributes))
    rebuilt = []
    for start, following in zip(starts, starts[1:] + [None]):
        chunk = attributes[start.end():following.start() if following else len(attributes)]
        if start.group(1).lower() == b"description":
            continue
        value = BARE_AMPERSAND.sub(b"&amp;", chunk[:chunk.rfind(b'"')] if b'"' in chunk else chunk)
        value = value.replace(b'"', b"&quot;").replace(b"<", b"&lt;").replace(b">", b"&gt;")
        rebuilt.append(start.group(1) + b'="' + value + b'"')
    if not rebuilt:
        return match.group(0)
    return indent + b"<outline " + b" ".join(rebuilt) + (b" />" if closing else b">")


def write_opml(feeds: list[Feed], title: str = "wiredesk subscriptions") -> str:
    """An OPML 2.0 document of `feeds`, nested in outlines by category path."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(timezone.utc), usegmt=True)
    body = ET.SubElement(root, "body")
    folders: dict[tuple[str, ...], ET.Element] = {(): body}
    for feed in sorted(feeds, key=lambda f: (f.category or "", f.title or "", f.url)):
        parent = _folder(folders, tuple(part for part in (feed.category or "").split("/") if part))
        label = feed.title or feed.url
        attributes = {"type": "rss", "text": label, "title": label, "xmlUrl": feed.url}
        if feed.site_url:
            attributes["htmlUrl"] = feed.site_url
        ET.SubElement(parent, "outline", attributes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _folder(folders: dict[tuple[str, ...], ET.Element], path: tuple[str, ...]) -> ET.Element:
    """The outline element for a category path, created (with its parents) on first use."""
    if path not in folders:
        parent = _folder(folders, path[:-1])
        folders[path] = ET.SubElement(parent, "outline", text=path[-1], title=path[-1])
    return folders[path]
