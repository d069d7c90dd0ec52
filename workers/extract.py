"""Extract the article from a fetched page with trafilatura, merged with what the feed entry said."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from datetime import datetime, timezone

import trafilatura
from htmldate.extractors import external_date_parser
from trafilatura.external import jt_stoplist_init

from ingest.records import FeedEntry
from workers.errors import NoText
from workers.language import detect_language
from workers.records import Article, FetchedPage

LOGGER = logging.getLogger(__name__)

# A page that declares itself not free to read (schema.org JSON-LD) is stored flagged, not as a full article.
_NOT_FREE = re.compile(r'"isAccessibleForFree"\s*:\s*"?(false|False|FALSE)"?')
_SPACES = re.compile(r"[ \t\u00a0\u2007\u202f\u200b\ufeff]+")
_TAGS = re.compile(r"<[^>]+>")
# The page's declared language, read off its <html> tag as a parser would (`lang` before `xml:lang`): parsing
# the page here to ask the tree would make trafilatura deep-copy that tree (about 0.5 ms a page, 3%).
_HTML_TAG = re.compile(r"<!--.*?-->|(<html\b[^>]*>)", re.I | re.S)  # the first <html> outside comments
_LANG_ATTRS = (re.compile(r"\slang\s*=\s*[\"']?\s*([A-Za-z]+)", re.I),
               re.compile(r"\sxml:lang\s*=\s*[\"']?\s*([A-Za-z]+)", re.I))
# A page `warm_up` extracts (and the encoder embeds) before a worker's first job.
WARM_UP_PAGE = (
    "<html lang='en'><head><title>Warm-up</title><meta name='author' content='A. Writer'></head><body><article>"
    + "".join(f"<p>Paragraph {n}: the first extraction in a process compiles lazy regular expressions, "
              f"loads the language model and imports helpers, which costs about a second.</p>" for n in range(6))
    + "</article></body></html>"
)
# Below this many words the page gave us nothing worth storing as an article.
MIN_WORDS = 20
# A text this much shorter than the feed's own summary is a teaser, not the article.
PARTIAL_RATIO = 1.5


def normalize_text(text: str) -> str:
    """Unicode NFC, runs of spaces folded, blank lines dropped; typography (quotes, dashes) is kept."""
    lines = (_SPACES.sub(" ", line).strip() for line in unicodedata.normalize("NFC", text).splitlines())
    return "\n".join(line for line in lines if line)


def content_hash(text: str) -> str:
    """The exact-duplicate key of a normalised text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _parse_date(value: str | None) -> datetime | None:
    """trafilatura's YYYY-MM-DD (or ISO) date as an aware UTC datetime."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _published(page_date: datetime | None, feed_date: datetime | None) -> datetime | None:
    """The page's date, but the feed's exact time when both name the same day (pages often give only a day)."""
    if page_date is None or (feed_date is not None and feed_date.date() == page_date.date()):
        return feed_date or page_date
    return page_date


def _word_count(text: str) -> int:
    return len(text.split())


def _flags(page: FetchedPage, text: str, entry: FeedEntry) -> list[str]:
    """`paywalled` when the page says so, `partial` when the feed summary is much longer than the text."""
    flags = []
    if _NOT_FREE.search(page.text):
        flags.append("paywalled")
    summary_words = _word_count(_TAGS.sub(" ", entry.summary or ""))
    if summary_words >= 2 * MIN_WORDS and _word_count(text) * PARTIAL_RATIO < summary_words:
        flags.append("partial")
    return flags


def declared_language(html: str) -> str | None:
    """The primary language subtag of the page's <html lang> (or xml:lang), lower-cased; None without one."""
    tag = next((found.group(1) for found in _HTML_TAG.finditer(html) if found.group(1)), None)
    if tag is None:
        return None
    for attr in _LANG_ATTRS:
        found = attr.search(tag)
        if found:
            return found.group(1).lower()
    return None


def extract_article(page: FetchedPage, entry: FeedEntry) -> Article:
    """Turn a page into an Article; raise NoText when the page holds no article text."""
    result = trafilatura.bare_extraction(
        page.text, url=page.final_url, with_metadata=True, include_comments=False, include_tables=False
    )
    if result is None:
        raise NoText(page.final_url, "no article found (or the page could not be parsed as HTML)")
    text = normalize_text(result.text or "")
    if _word_count(text) < MIN_WORDS:
        raise NoText(page.final_url, f"{_word_count(text)} words extracted")
    authors = [a.strip() for a in (result.author or "").split(";") if a.strip()] or list(entry.authors)
    return Article(
        url=entry.canonical_url,
        title=normalize_text(result.title or "") or entry.title,
        text=text,
        authors=authors,
        published=_published(_parse_date(result.date), entry.published),
        site_name=result.sitename or None,
        language=detect_language(text, hint=declared_language(page.text)),
        summary=entry.summary or result.description or None,
        word_count=_word_count(text),
        content_hash=content_hash(text),
        flags=_flags(page, text, entry),
    )


def warm_up() -> None:
    """Pay extraction's first-use costs now, once, not on a worker's first pages (nor a forked horse's every page).

    The first extraction in a process compiles lazy regular expressions, loads the language model and imports
    helpers (about a second). The warm-up page extracts cleanly, so two more costs wait for the first page that
    needs them: jusText's stoplists of every language (~0.15 s) and, where htmldate's own patterns find no date,
    dateparser's set-up (~0.3 s on one of the 180 benchmark pages).
    """
    url = "http://localhost/warm-up"
    page = FetchedPage(url, url, 200, "text/html", {}, b"", WARM_UP_PAGE, "utf-8", datetime.now(timezone.utc))
    extract_article(page, FeedEntry(url=url, canonical_url=url, url_id="warm-up", feed_url=url))
    jt_stoplist_init()
    external_date_parser("3 March 2024", "%Y-%m-%d")
