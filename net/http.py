"""Safe HTTP GET: timeouts, a streaming size cap, bounded redirects, private-address guard.

Raises a `FetchError` subclass named for what went wrong; the caller decides retry or fail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import httpx

from config import Settings

LOGGER = logging.getLogger(__name__)


class FetchError(Exception):
    """Base of fetch failures; `reason` is the short queryable label, `transient` says whether to retry."""

    reason = "fetch-error"
    transient = False

    def __init__(self, url: str, message: str = "", retry_after: float | None = None):
        super().__init__(f"{self.reason}: {url}{': ' + message if message else ''}")
        self.url = url
        self.message = message
        self.retry_after = retry_after


class Timeout(FetchError):
    reason, transient = "timeout", True


class ConnectError(FetchError):
    reason, transient = "connect-error", True


class HTTPStatusError(FetchError):
    """A non-2xx/3xx answer; 5xx, 429 and 408 are transient."""

    def __init__(self, url: str, status: int, retry_after: float | None = None):
        self.status = status
        self.reason = f"http-{status}"
        self.transient = status >= 500 or status in (408, 429)
        super().__init__(url, f"HTTP {status}", retry_after)


class TooLarge(FetchError):
    reason = "too-large"


class TooManyRedirects(FetchError):
    reason = "redirect-loop"


class BadURL(FetchError):
    reason = "bad-url"


class PrivateAddress(FetchError):
    reason = "private-address"


@dataclass(frozen=True)
class Response:
    """A completed GET: final URL, status (2xx or 304), headers (lower-case keys), body bytes, redirect chain."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: list[str] = field(default_factory=list)
    permanent_redirect: bool = False


def make_client(settings: Settings) -> httpx.Client:
    """An httpx client with wiredesk's timeouts and User-Agent; redirects are followed by `get`, not httpx."""
    timeout = httpx.Timeout(settings.fetch_read_timeout, connect=settings.fetch_connect_timeout)
    return httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": settings.user_agent},
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


def get(client: httpx.Client, url: str, settings: Settings, headers: dict[str, str] | None = None) -> Response:
    """GET `url` safely (see module docstring); return a Response or raise a FetchError."""
    raise NotImplementedError("net.http.get is being written")
