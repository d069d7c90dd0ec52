"""URL canonicalisation and the one identity rule: a document's id derives from its canonical URL."""

from __future__ import annotations

import hashlib
import posixpath
from urllib.parse import urlsplit, urlunsplit

import courlan


def canonicalize_url(url: str) -> str | None:
    """Return the canonical form of an http(s) URL, or None when it is not a fetchable web URL.

    Lower-cases scheme and host, drops default ports, fragments and tracking parameters
    (utm_*, fbclid, gclid, ... as courlan knows them), sorts the query and resolves dot segments. Credentials
    (`user:password@`) are no part of an article's identity and would show wherever its URL does: they are
    dropped here and stay only in the URL the worker fetches (a private feed's relative links inherit them).
    """
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    try:
        cleaned = courlan.normalize_url(courlan.scrub_url(url), strict=False)
    except (ValueError, AttributeError):
        return None
    parts = urlsplit(cleaned)
    path = parts.path or "/"
    if "/." in path:
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        if trailing and not path.endswith("/"):
            path += "/"
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], path, parts.query, ""))


def without_credentials(url: str) -> str:
    """`url` without its `user:password@`, if any (for the URLs a document is stored under)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) if "@" in parts.netloc else url


def url_id(canonical_url: str) -> str:
    """The id of a canonical URL: rq job id, URL-state key and document id in one."""
    return hashlib.blake2b(canonical_url.encode("utf-8"), digest_size=10).hexdigest()


def host_of(url: str) -> str:
    """The host of a URL, lower-cased, without a leading `www.` (the publisher, for politeness and filters)."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host
