"""The ingest side's exceptions, named for what went wrong."""

from __future__ import annotations


class IngestError(Exception):
    """Base of the ingest side's errors."""


class NotAFeed(IngestError):
    """The URL answered with an HTML page, not a feed; `candidates` are the feeds that page links to."""

    def __init__(self, url: str, candidates: list[str] | None = None):
        self.url = url
        self.candidates = list(candidates or [])
        found = f"; feeds it links to: {', '.join(self.candidates)}" if self.candidates else "; it links to no feed"
        super().__init__(f"not a feed: {url} is an HTML page{found}")


class OPMLError(IngestError):
    """A subscription list cannot be read; the message names the file and what is wrong."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")
