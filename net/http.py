"""Safe HTTP GET: timeouts, a streaming size cap, bounded redirects, private-address guard.

Connect, read and total timeouts (the total one held by the socket layer in net.transport); a cap on the
decoded body enforced while streaming (net.inflate); redirects followed here, each hop checked for scheme
and address; loops detected; credentials in a URL (`https://user:password@host/feed`) sent as HTTP Basic
authentication, to that origin only, and never shown (`redact_url`). Raises a `FetchError` subclass named for
what went wrong (the one hierarchy of fetch failures, including the worker's NotHTML and EmptyBody); the caller
decides retry or fail.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import ssl
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import unquote, urldefrag, urljoin, urlsplit, urlunsplit

import httpx

from config import Settings
from net.inflate import Inflater, Truncated
from net.transport import DEADLINE, AddressRefused, GuardedBackend, LinearPool, check_host

LOGGER = logging.getLogger(__name__)


class FetchError(Exception):
    """Base of fetch failures; `reason` is the short queryable label, `transient` says whether to retry."""

    reason = "fetch-error"
    transient = False

    def __init__(self, url: str, message: str = "", retry_after: float | None = None):
        # The message is what the store keeps as the failure's detail and what logs print: no password in it.
        super().__init__(f"{self.reason}: {redact_url(url)}{': ' + message if message else ''}")
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


class BadEncoding(FetchError):
    """The body's Content-Encoding is unknown or its compressed stream is corrupt."""

    reason = "bad-encoding"


class TruncatedBody(FetchError):
    """The compressed body stopped before its stream's end: the rest of the page was lost on the way.

    Transient: a connection cut or a server fault mid-response, which the next attempt usually gets past.
    """

    reason, transient = "truncated-body", True


class NotHTML(FetchError):
    """The page is not HTML (an image, a PDF, JSON...): nothing to extract."""

    reason = "not-html"


class EmptyBody(FetchError):
    """The server answered 200 with no body."""

    reason = "empty-body"


@dataclass(frozen=True)
class Response:
    """A completed GET: final URL, status (2xx or 304), headers (lower-case keys), body bytes, redirect chain.

    `redirects` lists every URL that answered with a redirect, in order (so `redirects[0] == url` when any);
    `permanent_redirect` is true when every hop was a 301 or 308.
    """

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: list[str] = field(default_factory=list)
    permanent_redirect: bool = False


_REDIRECT_STATUSES = (301, 302, 303, 307, 308)


def redact_url(url: str) -> str:
    """`url` with the password of its userinfo, if any, shown as `***` (for lists, logs and error messages)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo.partition(':')[0]}:***@{host}"))


def _origin(parts) -> tuple[str, str | None, int | None]:
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _credentials(url: str, previous: str | None, authorization: str | None) -> str | None:
    """The Authorization header for a hop to `url`: Basic from its userinfo, else the previous hop's when `url`
    has the same origin as `previous` (as httpx keeps it across a same-origin redirect), else none."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    if previous is not None and authorization is not None and _origin(urlsplit(previous)) == _origin(parts):
        return authorization
    return None


class Client(httpx.Client):
    """An httpx.Client that builds `get`'s requests itself and hands them straight to its transport.

    `build_request` and `send` merge and handle what `get` never uses or does itself (base URL, query
    parameters, auth, redirects, the client's cookie jar): they took about a third of the CPU of a 304 poll.
    """

    def __init__(self, *, transport: httpx.HTTPTransport, **kwargs):
        super().__init__(transport=transport, **kwargs)
        self.transport = transport
        # Names keep their case on the wire (some servers still care); lower-case keys merge them.
        self._get_headers = {name.decode("latin-1").lower(): (name.decode("latin-1"), value.decode("latin-1"))
                             for name, value in self.headers.raw}
        self._get_timeouts = self.timeout.as_dict()

    def get_request(self, url: str, headers: dict[str, str]) -> httpx.Request:
        """A GET of `url` with the client's headers, `headers` over them, and its timeouts: what build_request
        makes, without merging a base URL, query parameters and the client's cookie jar, none of which we use."""
        merged = {**self._get_headers, **{name.lower(): (name, value) for name, value in headers.items()}}
        return httpx.Request("GET", url, headers=list(merged.values()), extensions={"timeout": self._get_timeouts})


def make_client(settings: Settings) -> Client:
    """An httpx client with wiredesk's timeouts and User-Agent; redirects are followed by `get`, not httpx.

    Its network backend refuses non-public peers at connect time (unless `allow_private_hosts`) and
    holds every socket call to the deadline `get` sets. It keeps no cookies between fetches and
    ignores proxy environment variables (a proxy would hide the real peer from the address guard).
    """
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    transport = httpx.HTTPTransport(verify=_tls_context(), limits=limits, trust_env=False)
    # httpx has no public hook for the pool: the one it built takes our network backend in place of the default,
    # and our pass over its connections (the same class but for that method, so every attribute stays valid).
    transport._pool._network_backend = GuardedBackend(settings.allow_private_hosts)
    transport._pool.__class__ = LinearPool
    return Client(
        timeout=httpx.Timeout(settings.fetch_read_timeout, connect=settings.fetch_connect_timeout),
        follow_redirects=False,
        headers={"User-Agent": settings.user_agent},
        cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
        transport=transport,
        trust_env=False,
    )


@cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once per process: loading the CA bundle costs tens of
    milliseconds, paid by every polling pass (a client each) before this was shared."""
    return httpx.create_ssl_context()


def get(client: Client, url: str, settings: Settings, headers: dict[str, str] | None = None) -> Response:
    """GET `url` safely (see module docstring); return a Response or raise a FetchError.

    Args:
        client: from `make_client`.
        url: an http or https URL.
        settings: timeouts, size cap, redirect cap and `allow_private_hosts`.
        headers: extra request headers (Accept, If-None-Match...).

    Returns:
        The final Response: 2xx with its decoded body, or 304 with an empty one.

    Raises:
        BadURL, PrivateAddress, TooManyRedirects, Timeout, ConnectError, HTTPStatusError, TooLarge, BadEncoding,
        TruncatedBody.
    """
    deadline = time.monotonic() + settings.fetch_total_timeout
    token = DEADLINE.set(deadline)
    try:
        # The caller may not pick the Content-Encoding: only what `Inflater` decodes in bounded steps is asked for.
        own = {key: value for key, value in (headers or {}).items() if key.lower() != "accept-encoding"}
        return _follow(client, url, settings, own, deadline)
    except AddressRefused as exc:
        raise PrivateAddress(url, str(exc)) from exc
    except httpx.TimeoutException as exc:
        late = time.monotonic() >= deadline
        raise Timeout(url, f"total deadline {settings.fetch_total_timeout}s" if late else type(exc).__name__) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise BadURL(url, str(exc)) from exc
    except httpx.TransportError as exc:
        raise ConnectError(url, str(exc) or type(exc).__name__) from exc
    finally:
        DEADLINE.reset(token)


def _follow(client: Client, url: str, settings: Settings, headers: dict[str, str], deadline: float) -> Response:
    """The redirect loop of `get`: check each hop, send it, stop at the first non-redirect answer."""
    # Cookies live for one fetch only: enough for sites that set one and redirect back.
    cookies = httpx.Cookies()
    seen: set[tuple[str, str]] = set()
    redirects: list[str] = []
    permanent = True
    current, authorization = url, None
    while True:
        _check_target(url, current, settings)
        authorization = _credentials(current, redirects[-1] if redirects else None, authorization)
        # Set here rather than left to httpx, which also asks for br/zstd when those packages are installed.
        own = {**headers, "Accept-Encoding": "gzip, deflate"}
        if authorization is not None:  # built by httpx's client from a URL's userinfo, which we go around
            own["Authorization"] = authorization
        request = client.get_request(current, own)
        if cookies:  # building the header costs a urllib Request shim: only when there is one to send
            cookies.set_cookie_header(request)
        hop = (current, request.headers.get("cookie", ""))
        if hop in seen:
            raise TooManyRedirects(url, f"loops back to {current}")
        seen.add(hop)
        response = client.transport.handle_request(request)
        response.request = request  # what the cookie jar reads the origin from (the client would set it)
        try:
            if "set-cookie" in response.headers:
                cookies.extract_cookies(response)
            location = response.headers.get("location")
            if response.status_code in _REDIRECT_STATUSES and location:
                if len(redirects) >= settings.fetch_max_redirects:
                    raise TooManyRedirects(url, f"more than {settings.fetch_max_redirects} redirects")
                redirects.append(current)
                permanent = permanent and response.status_code in (301, 308)
                try:
                    current = urldefrag(urljoin(current, location.strip())).url
                except ValueError as exc:
                    raise BadURL(url, f"bad Location {location!r}") from exc
                continue
            if response.status_code != 304 and not 200 <= response.status_code < 300:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                raise HTTPStatusError(url, response.status_code, retry_after)
            # A 304 has no body, but reading its end keeps the connection alive for the next poll.
            body = _read_body(response, url, settings, deadline) if response.status_code != 304 else response.read()
            return Response(
                url=url,
                final_url=current,
                status=response.status_code,
                headers={key.lower(): value for key, value in response.headers.items()},
                body=body,
                redirects=redirects,
                permanent_redirect=bool(redirects) and permanent,
            )
        finally:
            response.close()


def _check_target(url: str, target: str, settings: Settings) -> None:
    """Refuse a hop that is not http(s), or (guard on) whose host resolves to a non-public address."""
    try:
        parts = urlsplit(target)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise BadURL(url, f"unparseable URL {target!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadURL(url, f"not an http(s) URL: {target!r}")
    if settings.allow_private_hosts:
        return
    try:
        check_host(parts.hostname, port)
    except OSError as exc:
        raise ConnectError(url, f"cannot resolve {parts.hostname}: {exc}") from exc


def _read_body(response: httpx.Response, url: str, settings: Settings, deadline: float) -> bytes:
    """Stream and decode the body, aborting once it passes the size cap or the total deadline."""
    cap = settings.fetch_max_bytes
    length = response.headers.get("content-length", "").strip()
    if length.isdigit() and int(length) > cap:
        raise TooLarge(url, f"Content-Length {length} > {cap}")
    try:
        inflater = Inflater(response.headers.get("content-encoding", ""))
    except ValueError as exc:
        raise BadEncoding(url, str(exc)) from exc
    body = bytearray()
    try:
        for raw in response.iter_raw():
            for piece in inflater.feed(raw):
                body += piece
                if len(body) > cap:
                    raise TooLarge(url, f"body over {cap} bytes")
            # The transport enforces this too; checked here as well for clients not built by make_client.
            if time.monotonic() > deadline:
                raise Timeout(url, f"total deadline {settings.fetch_total_timeout}s")
        body += inflater.flush()
    except zlib.error as exc:
        raise BadEncoding(url, f"corrupt compressed body: {exc}") from exc
    except Truncated as exc:
        raise TruncatedBody(url, f"{exc} ({len(body)} bytes decoded)") from exc
    if len(body) > cap:
        raise TooLarge(url, f"body over {cap} bytes")
    return bytes(body)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date); None when absent or unreadable.

    Never raises. The value is the server's, unbounded (a year, or inf for hundreds of digits): callers cap it.
    """
    value = (value or "").strip()
    if not value:
        return None
    # str.isdigit also accepts "²" and other digits float() cannot read; delay-seconds is ASCII digits only.
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
