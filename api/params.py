"""Query-string parameters shared by the JSON API and the page, turned into a store `Query`.

Every bad value becomes a 422 naming the parameter, in FastAPI's own error format.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Query as Param
from fastapi.exceptions import RequestValidationError

from store.records import Query

MAX_LIMIT = 100
MAX_TEXT = 2000  # characters of a filter value kept (q is kept whole: the store refuses one too long)
_RELATIVE = re.compile(r"^(\d{1,6})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def invalid(name: str, message: str, value=None) -> RequestValidationError:
    """A 422 error for query parameter `name`."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", name), "msg": message,
                                    "input": value}])


def parse_when(value: str, now: datetime | None = None) -> datetime:
    """An ISO date/datetime, or a span back from now (`90m`, `24h`, `7d`, `2w`); UTC when no zone is given."""
    value = value.strip()
    match = _RELATIVE.match(value)
    if match:
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())  # ValueError propagates
    # In UTC here, where an OverflowError (0001-01-01T00:00+01:00 is before year 1 in UTC) still means "not a date".
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _when(name: str, value: str | None) -> datetime | None:
    """parse_when for parameter `name`, as a 422 when it is not a date."""
    if not value:
        return None
    try:
        return parse_when(value)
    except (ValueError, OverflowError):
        raise invalid(name, "not a date: use 2026-11-25, 2026-11-25T08:00:00Z or a span back from now"
                            " like 90m, 24h, 7d, 2w", value[:100]) from None


def _text(value: str | None, limit: int | None = MAX_TEXT) -> str | None:
    """A filter value without NUL characters, cut to `limit`; None when empty."""
    if value is None:
        return None
    value = value.replace("\x00", "")[:limit].strip()
    return value or None


def filters(
    q: Annotated[str | None, Param(description='Words, "phrases", prefix*, OR, NOT/-word.')] = None,
    lang: Annotated[str | None, Param(description="Language code, e.g. fr.")] = None,
    since: Annotated[str | None, Param(description="On or after: 2026-11-25, 2026-11-25T08:00Z, 24h, 7d.")] = None,
    until: Annotated[str | None, Param(description="Before: same forms as since.")] = None,
    date_field: Annotated[Literal["published", "fetched"], Param(description="Which time since/until test.")]
    = "published",
    source: Annotated[str | None, Param(description="Publisher host, e.g. reuters.com.")] = None,
    feed: Annotated[str | None, Param(description="Feed URL.")] = None,
    wire: Annotated[str | None, Param(description="Wire agency credited: AP, Reuters, AFP, ...")] = None,
    story: Annotated[str | None, Param(description="Story id.")] = None,
    flag: Annotated[list[str], Param(description="paywalled or partial (repeatable).")] = [],  # noqa: B006
    order: Annotated[Literal["relevance", "date"], Param(description="Ranking; date when there is no q.")]
    = "relevance",
    limit: Annotated[int, Param(ge=1, le=MAX_LIMIT, description="Page size, at most 100.")] = 20,
    cursor: Annotated[str | None, Param(description="next_cursor of the previous page.")] = None,
) -> Query:
    """The filters every search route takes, as a store Query (one result per story)."""
    since_at, until_at = _when("since", since), _when("until", until)
    if since_at and until_at and since_at >= until_at:
        raise invalid("until", "must be after since", until)
    # q whole: the store refuses a query too long to search as asked instead of searching a cut one.
    return Query(text=_text(q, None), language=_text(lang), since=since_at, until=until_at, date_field=date_field,
                 source=_text(source), feed=_text(feed), wire=_text(wire), story_id=_text(story),
                 flags=[f for f in map(_text, flag) if f], order=order, limit=limit, cursor=_text(cursor))
