"""Fixtures of the ingest tests: a real SQLite store, and a loopback route that honours conditional GET."""

from __future__ import annotations

import hashlib

import pytest

from store.base import open_store


@pytest.fixture
def store(settings):
    """A fresh SQLite store (the one the settings name), migrated."""
    opened = open_store(settings.store_url)
    opened.migrate()
    yield opened
    opened.close()


def conditional_route(body: bytes, content_type: str = "application/rss+xml", last_modified: str | None = None):
    """A route handler serving `body` with an ETag, answering 304 when the client sends it back."""
    etag = '"' + hashlib.md5(body).hexdigest() + '"'

    def handler(request):
        fresh = request.headers.get("If-None-Match") == etag or (
            last_modified and request.headers.get("If-Modified-Since") == last_modified)
        request.send_response(304 if fresh else 200)
        request.send_header("ETag", etag)
        if last_modified:
            request.send_header("Last-Modified", last_modified)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", "0" if fresh else str(len(body)))
        request.end_headers()
        if not fresh:
            request.wfile.write(body)

    return handler
