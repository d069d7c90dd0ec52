"""Why a URL could not become a document: the fetch errors of net.http plus what the worker itself finds.

Every failure carries `reason` (the short label users query with `wiredesk failures --reason`) and
`transient` (retry with backoff, or fail at once); the job function is the one place that acts on them.
"""

from net.http import FetchError


class NoText(FetchError):
    """The page parsed, but no article text came out of it."""

    reason = "no-text"
