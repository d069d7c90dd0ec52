"""Records that cross the worker's stages: `FetchedPage` (fetch -> extract) and `Article` (extract -> dedup/publish)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FetchedPage:
    """A page as the network gave it: final URL after redirects, status, headers and the decoded text."""

    url: str
    final_url: str
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes
    text: str
    encoding: str
    fetched_at: datetime
    redirects: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Article:
    """What extraction got out of a page, already merged with the feed entry's metadata where the page lacked it."""

    url: str
    title: str | None
    text: str
    authors: list[str]
    published: datetime | None
    site_name: str | None
    language: str | None
    summary: str | None
    word_count: int
    content_hash: str
    flags: list[str] = field(default_factory=list)
