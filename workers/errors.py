"""Why a URL could not become a document: the fetch errors of net.http plus what the worker itself finds.

Every failure carries `reason` (the short label users query with `wiredesk failures --reason`) and
`transient` (retry with backoff, or fail at once); the job function is the one place that acts on them.
"""

from net.http import FetchError


class NoText(FetchError):
    """The page parsed, but no article text came out of it."""

    reason = "no-text"


class RobotsDisallowed(FetchError):
    """robots.txt forbids our User-Agent this URL (only checked when respect_robots is on)."""

    reason = "robots-disallowed"
