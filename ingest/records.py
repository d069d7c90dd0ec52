"""Records that leave the ingest side: one `FeedEntry` per new article URL found in a feed."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime


@dataclass(frozen=True)
class FeedEntry:
    """One article announced by a feed, as the job receives it (JSON-safe through `to_dict`)."""

    url: str
    canonical_url: str
    url_id: str
    feed_url: str
    title: str | None = None
    summary: str | None = None
    published: datetime | None = None
    authors: list[str] = field(default_factory=list)
    guid: str | None = None
    enqueued_at: datetime | None = None

    def to_dict(self) -> dict:
        """A dict of JSON-safe values (datetimes as ISO 8601), the job's only argument."""
        # Built field by field: dataclasses.asdict deep-copies every value, a tenth of a millisecond an entry.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["authors"] = list(self.authors)
        for key in ("published", "enqueued_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "FeedEntry":
        """The inverse of `to_dict`."""
        data = dict(data)
        for key in ("published", "enqueued_at"):
            if data.get(key):
                data[key] = datetime.fromisoformat(data[key])
        return cls(**data)
