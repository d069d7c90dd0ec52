"""The ingest side's exceptions, named for what went wrong."""

from __future__ import annotations


class IngestError(Exception):
    """Base of the ingest side's errors."""


class NotAFeed(IngestError):
    """The URL answered with something other than a feed: the message says `what` it is.

    For an HTML page, `candidates` are the feeds it announces and `json_links` its application/json links,
    feeds only if their body is a JSON Feed; the message names the candidates.
    """

    def __init__(self, url: str, what: str, candidates: list[str] | None = None,
                 json_links: list[str] | None = None):
        self.url = url
        self.candidates = list(candidates or [])
        self.json_links = list(json_links or [])
        super().__init__(f"not a feed: {url} is {what}")

    @classmethod
    def html_page(cls, url: str, candidates: list[str], json_links: list[str]) -> NotAFeed:
        """An HTML page, with the feeds it links to (or that it links to none) in the message."""
        found = f"; feeds it links to: {', '.join(candidates)}" if candidates else "; it links to no feed"
        return cls(url, "an HTML page" + found, candidates, json_links)


class OPMLError(IngestError):
    """A subscription list cannot be read; the message names the file and what is wrong."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")
