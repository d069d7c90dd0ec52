"""Row <-> record conversion shared by both backends; a `Codec` carries the few dialect differences."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime

from store.records import Copy, Document, Feed, UrlState

DOC_COLUMNS = tuple(f.name for f in fields(Document))
FEED_COLUMNS = tuple(f.name for f in fields(Feed))
URL_COLUMNS = tuple(f.name for f in fields(UrlState))
COPY_COLUMNS = tuple(f.name for f in fields(Copy))

LIST_FIELDS = frozenset({"urls", "feeds", "authors", "flags"})
TIME_FIELDS = frozenset({"fetched", "published", "last_polled", "next_poll", "added_at",
                         "created_at", "updated_at", "next_try"})


def utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def without_nul(value):
    """`value` without NUL characters if it is text or a list of texts; any other value as it is."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


class Codec:
    """How values are stored: SQLite keeps times as sortable ISO text and lists as JSON text."""

    def dump_time(self, value: datetime | None):
        if value is None:
            return None
        return utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

    def load_time(self, value) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return None if value is None else utc(value)
        # fromisoformat reads the trailing Z as UTC; strptime took ten times as long.
        return datetime.fromisoformat(value)

    def dump_list(self, value: list[str]):
        return json.dumps(list(value or []), ensure_ascii=False)

    def load_list(self, value) -> list[str]:
        if value is None:
            return []
        return list(json.loads(value)) if isinstance(value, str) else list(value)

    def dump(self, name: str, value):
        """One field's value as the database stores it (text without NUL characters: PostgreSQL's text and jsonb
        cannot hold one, which failed a whole write, a poll pass's feed states or an article's publish; SQLite
        drops them too, so that both backends store the same values)."""
        value = without_nul(value)
        if name in TIME_FIELDS:
            return self.dump_time(value)
        if name in LIST_FIELDS:
            return self.dump_list(value)
        return value

    def load(self, name: str, value):
        """One column's value as the record holds it."""
        if name in TIME_FIELDS:
            return self.load_time(value)
        if name in LIST_FIELDS:
            return self.load_list(value)
        return value

    def params(self, record, columns: tuple[str, ...]) -> list:
        """A record's fields in column order, dumped."""
        return [self.dump(name, getattr(record, name)) for name in columns]

    def record(self, cls, row: Mapping, columns: tuple[str, ...]):
        """Build a record of `cls` from a row holding `columns`."""
        return cls(**{name: self.load(name, row[name]) for name in columns})

    def document(self, row: Mapping) -> Document:
        return self.record(Document, row, DOC_COLUMNS)

    def feed(self, row: Mapping) -> Feed:
        return self.record(Feed, row, FEED_COLUMNS)

    def url_state(self, row: Mapping) -> UrlState:
        return self.record(UrlState, row, URL_COLUMNS)

    def copy(self, row: Mapping) -> Copy:
        return self.record(Copy, row, COPY_COLUMNS)


def merge_lists(old: list[str], new: list[str]) -> list[str]:
    """`old` then the items of `new` not in it, order kept."""
    seen = set(old)
    return list(old) + [item for item in new if item not in seen and not seen.add(item)]


def column_list(columns: tuple[str, ...], alias: str = "") -> str:
    """`a.x, a.y` for a SELECT."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + name for name in columns)
