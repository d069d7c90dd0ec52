"""Extract the article from a fetched page with trafilatura, merged with what the feed entry said."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from datetime import datetime, timezone
from typing import NamedTuple

import trafilatura
from htmldate.extractors import external_date_parser, month_words
from trafilatura.external import jt_stoplist_init
from trafilatura.settings import set_date_params

from ingest.records import FeedEntry
from workers.errors import NoText
from workers.language import detect_language
from workers.normalize import CHARS_PER_WORD, UNSPACED
from workers.records import Article, FetchedPage

LOGGER = logging.getLogger(__name__)

# A page that declares itself not free to read is stored flagged, not as a full article. schema.org says so in
# JSON-LD (`"isAccessibleForFree": false`, or the string "False") or in microdata, on a <meta> (content="false")
# or a <link> (href="https://schema.org/False"), attributes in either order, quoted either way or not at all.
_NOT_FREE = re.compile(
    r'"isAccessibleForFree"\s*:\s*"?false\b'
    r"|<(?:meta|link)\b(?=[^>]*\bitemprop\s*=\s*[\"']?isAccessibleForFree\b)"
    r"[^>]*\b(?:content|href)\s*=\s*[\"']?(?:https?://schema\.org/)?false\b",
    re.I,
)
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
# Where a script written without spaces (workers.normalize.UNSPACED) was counted by characters, a space-separated
# token is a word when it holds a letter or digit: the punctuation left between Chinese phrases is not.
_WORD = re.compile(r"(?<!\S)\S*?[^\W_]\S*")
# htmldate's date with its time and UTC offset. A date the page gives as a day comes out as midnight with no
# offset (htmldate renders a naive datetime), a zone-less time with no offset either: only an offset marks an
# instant the page stated exactly.
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
# trafilatura's own date parameters (the original, not the last-modified date; extensive search), with two
# deliberate changes beside the format. No max_date: trafilatura's is today's date, which htmldate reads as
# today's midnight, so with times every instant since then (a story of this morning, or of last evening in New
# York) would be out of range and give way to a worse candidate or none; htmldate's default is the end of today.
# The URL's date deferred: a URL gives only a day, and htmldate would otherwise take it before the page's header,
# where the time is (breitbart, videos-1, liberation-1 in the corpus).
_DATE_PARAMS = {
    **{name: value for name, value in set_date_params().items() if name != "max_date"},
    "outputformat": _DATE_FORMAT,
    "deferred_url_extractor": True,
}
# How every page is extracted (bench/pipeline.py's raw baseline extracts with the same options).
EXTRACTION_OPTIONS = {"with_metadata": True, "include_comments": False, "include_tables": False,
                      "date_extraction_params": _DATE_PARAMS}


def normalize_text(text: str) -> str:
    """Unicode NFC, runs of spaces folded, blank lines dropped; typography (quotes, dashes) is kept."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", text))  # no line break is in _SPACES: one pass will do
    return "\n".join(line for line in map(str.strip, text.splitlines()) if line)


def content_hash(text: str) -> str:
    """The exact-duplicate key of a normalised text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class _PageDate(NamedTuple):
    """The date a page gives for itself, as an instant in UTC, and whether the page stated it exactly."""

    at: datetime
    exact: bool  # a time with a UTC offset; otherwise a day (as midnight) or a zone-less time, read as UTC


def _page_date(value: str | None) -> _PageDate | None:
    """htmldate's date (_DATE_FORMAT) as a _PageDate; None for none, or for htmldate's guess from a copyright year.

    When nothing else on a page looks like a date, htmldate's extensive search returns 1 January of the year a
    "© 2026" footer names: a bare 1 January at midnight without an offset is taken for that guess, as it is
    the footer's year, not a publication date. (A real 1 January story usually states its time in its header.)
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return _PageDate(parsed.astimezone(timezone.utc), exact=True)
    if (parsed.month, parsed.day, parsed.time()) == (1, 1, datetime.min.time()):
        return None
    return _PageDate(parsed.replace(tzinfo=timezone.utc), exact=False)


def _published(page_date: _PageDate | None, feed_time: datetime | None) -> datetime | None:
    """When the item was published, as an aware UTC datetime (None when neither source says).

    The rule, in order:

    1. The page states a time with a UTC offset: that instant. It is the publisher's own statement of first
       publication (htmldate takes the published date over the modified one), and it wins over the feed because
       feeds re-date old items when they are updated.
    2. Else the feed entry's time: the publisher's statement too, and exact. A page date without an offset (a day,
       or a time in an unknown zone) cannot place the item better: on a nearby day it is the same statement
       (local days straddle UTC days), and far from the feed it is more often a stray date htmldate picked up
       (a date banner, a date quoted in the text) than a correction, so a fresh story stays fresh for `--since`.
    3. Else the page's date: a day as midnight UTC, a zone-less time as if in UTC (wrong by at most the
       publisher's offset). A copyright-year guess is no date (_page_date): the store dates the item by its fetch.
    """
    if page_date is not None and page_date.exact:
        return page_date.at
    if feed_time is not None:
        return feed_time.astimezone(timezone.utc)
    return page_date.at if page_date is not None else None


def _word_count(text: str) -> int:
    """Words in `text`: tokens with a letter or digit, plus, in scripts written without spaces, characters over
    the script's mean word length.

    Splitting those scripts on spaces would make 700 characters of Chinese 15 "words" and refuse the article. The
    character count is an approximation, not a segmentation (that takes a dictionary per language): within 7% of
    the segmenters' counts on the corpus's Chinese, Japanese and Thai articles, close enough for MIN_WORDS, the
    `partial` ratio and the stored count.
    """
    if text.isascii() or not UNSPACED.search(text):  # most texts: a plain split, 10 times faster than below
        return len(text.split())
    words = 0.0
    for script, chars_per_word in CHARS_PER_WORD:
        text, chars = script.subn(" ", text)
        words += chars / chars_per_word
    return round(words) + len(_WORD.findall(text))


def _declares_not_free(html: str) -> bool:
    """Whether the page says, in schema.org terms, that it is not free to read.

    The property's name, case-sensitive in schema.org, is looked for first: most pages lack it, and the plain
    search costs a twentieth of the pattern's (which tries every <meta> and <link>).
    """
    return "isAccessibleForFree" in html and _NOT_FREE.search(html) is not None


def _flags(page: FetchedPage, words: int, entry: FeedEntry) -> list[str]:
    """`paywalled` when the page says so, `partial` when the feed summary is much longer than the text's `words`."""
    flags = []
    if _declares_not_free(page.text):
        flags.append("paywalled")
    summary_words = _word_count(_TAGS.sub(" ", entry.summary or ""))
    if summary_words >= 2 * MIN_WORDS and words * PARTIAL_RATIO < summary_words:
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
    result = trafilatura.bare_extraction(page.text, url=page.final_url, **EXTRACTION_OPTIONS)
    if result is None:
        raise NoText(page.final_url, "no article found (or the page could not be parsed as HTML)")
    text = normalize_text(result.text or "")
    words = _word_count(text)
    if words < MIN_WORDS:
        raise NoText(page.final_url, f"{words} words extracted")
    authors = [a.strip() for a in (result.author or "").split(";") if a.strip()] or list(entry.authors)
    return Article(
        url=entry.canonical_url,
        title=normalize_text(result.title or "") or entry.title,
        text=text,
        authors=authors,
        published=_published(_page_date(result.date), entry.published),
        site_name=result.sitename or None,
        language=detect_language(text, hint=declared_language(page.text)),
        summary=entry.summary or result.description or None,
        word_count=words,
        content_hash=content_hash(text),
        flags=_flags(page, words, entry),
    )


def warm_up() -> None:
    """Pay extraction's first-use costs now, once, not on a worker's first pages (nor a forked horse's every page).

    The first extraction in a process compiles lazy regular expressions, loads the language model and imports
    helpers (about a second). The warm-up page extracts cleanly, so more costs wait for the first page that
    needs them: jusText's stoplists of every language (~0.15 s), and where htmldate's own patterns find no date,
    dateparser's set-up (~0.3 s on one of the 180 benchmark pages) and htmldate's month names of every
    dateparser language (0.7 s on that machine's slower sibling).
    """
    url = "http://localhost/warm-up"
    page = FetchedPage(url, url, 200, "text/html", {}, b"", WARM_UP_PAGE, "utf-8", datetime.now(timezone.utc))
    extract_article(page, FeedEntry(url=url, canonical_url=url, url_id="warm-up", feed_url=url))
    jt_stoplist_init()
    external_date_parser("3 March 2024", "%Y-%m-%d")
    month_words()
