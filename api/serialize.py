"""Store records as JSON-ready dicts: the shapes the /v1 routes answer with."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from net.http import redact_url
from store.records import TRANSLATION, Copy, Feed, Hit, Story


def jsonable(value):
    """Dataclasses, lists and datetimes as plain JSON values (times in ISO 8601 with their zone)."""
    if dataclasses.is_dataclass(value):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def shown_feed(feed: Feed) -> Feed:
    """A feed as the API and the CLI show it: a password in its URL (sent to the feed, never to readers) as ***."""
    return dataclasses.replace(feed, url=redact_url(feed.url))


def hit_json(hit: Hit) -> dict:
    """A document as a search result: its fields plus the story's other copies and outlets."""
    return {**jsonable(hit.document), "copies": hit.copies, "outlets": hit.outlets, "rank": hit.rank}


def story_summary_json(hit: Hit) -> dict:
    """One story as a search result: its best-matching document in short, and who else published it."""
    doc = hit.document
    return {
        "id": doc.story_id, "title": doc.title, "document_id": doc.id, "url": doc.url, "source": doc.source,
        "published": jsonable(doc.published), "language": doc.language,
        "summary": doc.summary or doc.text[:300], "copies": hit.copies, "outlets": hit.outlets, "rank": hit.rank,
    }


def copy_json(copy: Copy) -> dict:
    """A copy of a story, with `translation` true when it is the story in another language."""
    return {**jsonable(copy), "translation": copy.relation == TRANSLATION}


def story_json(story: Story) -> dict:
    """A story: its canonical document in full and every copy in short."""
    return {"id": story.id, "canonical": jsonable(story.canonical),
            "copies": [copy_json(c) for c in story.copies]}
