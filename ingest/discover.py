"""Feed discovery: the feeds an HTML page announces in `<link rel="alternate">`, else links that look like feeds."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from courlan import clean_url, is_valid_url
from trafilatura.feeds import LINK_VALIDATION_RE
from trafilatura.utils import load_html, safe_relative_url

# Link types that announce a feed: RSS, Atom and RDF (with the variants sites write), JSON Feed 1.1, and the
# generic XML types some sites give their RSS link.
FEED_TYPES = frozenset({
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json",
    "application/rss", "application/atom", "application/rdf", "application/x-atom+xml", "application/x.atom+xml",
    "text/rss+xml", "text/atom+xml", "text/rdf+xml", "text/rss", "text/atom", "text/rdf",
    "application/xml", "text/xml",
})
# JSON Feed 1.0 was announced as application/json, and so is the REST API record WordPress announces on every
# page (`/wp-json/wp/v2/posts/N`): such a link is a feed only if its body is a JSON Feed, which is for whoever
# fetches it to find out (`feeds add` does).
JSON_TYPE = "application/json"
# Comment feeds carry readers' comments, not stories; WordPress says so in their URL or their title.
COMMENTS = re.compile(r"\bcomments\b", re.IGNORECASE)


@dataclass(frozen=True)
class FeedLinks:
    """What a page links to: `feeds` it announces, and `json` links that are feeds only if their body is a JSON Feed."""

    feeds: list[str] = field(default_factory=list)
    json: list[str] = field(default_factory=list)


def find_feed_links(page_html: str, page_url: str) -> FeedLinks:
    """The feeds an HTML page announces (comment feeds left out), absolute.

    A page that announces none may still link to its feed: then its links whose URL looks like one (`/rss`,
    `feed.xml`, ...), as trafilatura's finder guesses them.
    """
    tree = load_html(page_html)
    if tree is None:
        return FeedLinks()
    feeds, json_links = [], []
    for link in tree.xpath("//link[@href]"):
        kind = link.get("type", "").split(";")[0].strip().lower()
        if not _is_alternate(link) or COMMENTS.search(link.get("href") + " " + link.get("title", "")):
            continue
        if kind in FEED_TYPES:
            feeds.append(link.get("href"))
        elif kind == JSON_TYPE:
            json_links.append(link.get("href"))
    if feeds or json_links:
        return FeedLinks(_absolute(feeds, page_url), _absolute(json_links, page_url))
    guessed = [a.get("href") for a in tree.xpath("//a[@href]") if LINK_VALIDATION_RE.search(a.get("href"))]
    return FeedLinks(_absolute([href for href in guessed if not COMMENTS.search(href)], page_url))


def _is_alternate(link) -> bool:
    """Whether a `<link>` is `rel="alternate"` (among other rel values, in any case)."""
    return "alternate" in link.get("rel", "").lower().split()


def _absolute(hrefs: list[str], page_url: str) -> list[str]:
    """The URLs `hrefs` name from `page_url`, cleaned as trafilatura's finder cleans them; no repeat, not the page."""
    urls = []
    for href in hrefs:
        url = clean_url(safe_relative_url(page_url, href))
        if url and url != page_url and is_valid_url(url) and url not in urls:
            urls.append(url)
    return urls
