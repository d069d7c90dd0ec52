"""URL canonicalisation and the one identity rule: a document's id derives from its canonical URL."""

from __future__ import annotations

import hashlib
import posixpath
from urllib.parse import urlsplit, urlunsplit

import courlan


def canonicalize_url(url: str) -> str | None:
    """Return the canonical form of an http(s) URL, or None when it is not a fetchable web URL.

    Lower-cases scheme and host, drops default ports, fragments and tracking parameters
    (utm_*, fbclid, gclid, ... as courlan knows them), sorts the query and resolves dot segments.
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
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def url_id(canonical_url: str) -> str:
    """The id of a canonical URL: rq job id, URL-state key and document id in one."""
    return hashlib.blake2b(canonical_url.encode("utf-8"), digest_size=10).hexdigest()


def host_of(url: str) -> str:
    """The host of a URL, lower-cased, without a leading `www.` (the publisher, for politeness and filters)."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host
