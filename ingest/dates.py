"""Entry dates feedparser could not read: a malformed RFC 822 date, or one written in another language.

An entry whose date is lost counts as new, so without this a feed writing "Thu,28 Jul 2022 4:35:5 GMT+9" or
"Seg, 24 Set 2018 19:42:40 -0300" has years-old entries enqueued on every change. Only the dates feedparser
gave up on come here, so a well-formed feed costs nothing more.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import cache, lru_cache

from dateparser.data.languages_info import language_order
from dateparser.date import DateDataParser

# A zone written as an offset after "GMT"/"UTC" or with a colon ("GMT+9", "UTC+05:30", "+09:00"), which
# RFC 822 parsers do not read; it becomes "+0900". The offset must follow a space or GMT/UTC, so the day of an
# ISO date ("2022-07-28") is never taken for one.
LOOSE_OFFSET = re.compile(r"(?:\s+|\s*\b(?:GMT|UTC)\s*)([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
# email.utils reads a zone it does not know ("KST") as GMT without a word: its answer is only taken for a
# numeric offset or GMT/UT/UTC/Z.
KNOWN_ZONE = re.compile(r"\s(?:[+-]\d{4}|GMT|UTC?|Z)$", re.IGNORECASE)
LANGUAGES = frozenset(language_order)
# A date in a language the feed does not declare is looked for in the 20 languages dateparser lists as most
# used (en, ru, es, fr, de, ja, tr, pt, ..., ar, ko, id, uk): loading all 205 takes ~2.7 s of CPU in each
# poller process (a cron run), these 20 ~0.6 s, and an unreadable date costs ~2 ms instead of ~15.
DETECTED_LANGUAGES = tuple(language_order[:20])
DATEPARSER_SETTINGS = {
    "TIMEZONE": "UTC",  # a date without a zone is UTC, as feedparser reads it
    "TO_TIMEZONE": "UTC",
    "RETURN_AS_TIMEZONE_AWARE": True,
    # A weekday or a bare number is not a date: it would be placed in this month, so an old entry looks new.
    "REQUIRE_PARTS": ["day", "month", "year"],
    # No relative dates ("2 hours ago"): the answer is cached, and is not the same an hour later.
    "PARSERS": ["timestamp", "custom-formats", "absolute-time"],
}


class EntryDates:
    """Reads the entry dates of one feed that feedparser could not, in the language the feed says it is in.

    Cost per date, measured on the corpus's Korea Times and UOL feeds: a repaired RFC 822 date ~10 us;
    dateparser ~2 ms in a known language, ~12 ms when it must find the language (the first such date of a
    feed: the language found is used for the rest), plus ~0.6 s once per process to load its languages. A date
    already read is cached, as a changed feed repeats most of its dates: UOL's 15 entries cost ~35 ms on top
    of feedparser's ~4 ms the first time, nothing after; Korea Times' 195 cost ~2 ms on top of its ~70 ms.
    """

    def __init__(self, feed_language: str | None):
        self.language = _dateparser_language(feed_language)

    def read(self, raw: str | None) -> datetime | None:
        """`raw` as an aware UTC datetime, or None when it cannot be read either."""
        raw = (raw or "").strip()
        if not raw:
            return None
        return _repaired_rfc822(raw) or self._by_dateparser(raw)

    def _by_dateparser(self, raw: str) -> datetime | None:
        """dateparser in the feed's language, else in the language the date turns out to be in (then kept)."""
        when, language = _dateparser_date(raw, self.language)
        if when is None and self.language:
            # A feed may declare one language and write its dates in another (or in English).
            when, language = _dateparser_date(raw, None)
        if when is not None:
            self.language = language or self.language
        return when


def _repaired_rfc822(raw: str) -> datetime | None:
    """An RFC 822 date whose zone is written loosely ("GMT+9"), read by email.utils; None if it still is not one.

    email.utils already takes what else such dates get wrong: no space after the weekday's comma, one-digit
    hours, minutes or seconds.
    """
    text = LOOSE_OFFSET.sub(lambda m: f" {m[1]}{int(m[2]):02d}{m[3] or '00'}", raw)
    if not KNOWN_ZONE.search(text):
        return None
    try:
        when = parsedate_to_datetime(text)
        # "-0000" says the zone is unknown: email.utils then answers without one, and UTC is the best guess.
        return when.replace(tzinfo=when.tzinfo or timezone.utc).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a date; or a zone that moves 31 Dec 9999 past year 9999
        return None


@lru_cache(maxsize=4096)
def _dateparser_date(raw: str, language: str | None) -> tuple[datetime | None, str | None]:
    """dateparser's reading of `raw` in `language` (else the most used languages), and the language it used."""
    try:
        data = _parser((language,) if language else DETECTED_LANGUAGES).get_date_data(raw)
    except (ValueError, OverflowError):  # a date its zone moves past year 9999 ("31 Dec 9999 23:00 -0100")
        return None, None
    if data.date_obj is None:
        return None, None
    return data.date_obj.astimezone(timezone.utc), _dateparser_language(data.locale)


@cache
def _parser(languages: tuple[str, ...]) -> DateDataParser:
    """One dateparser per set of languages, kept: each loads its languages' data on first use."""
    return DateDataParser(languages=list(languages), settings=DATEPARSER_SETTINGS)


def _dateparser_language(tag: str | None) -> str | None:
    """The dateparser language of a language tag or locale ("pt-BR", "en-150" -> "pt", "en"), or None."""
    primary = re.split(r"[-_]", (tag or "").strip().lower())[0]
    return primary if primary in LANGUAGES else None
