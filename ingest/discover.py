"""Feed discovery: the feeds an HTML page announces in `<link rel="alternate">` (trafilatura's finder)."""

from __future__ import annotations

import logging

from trafilatura.feeds import FeedParameters, determine_feed

from ingest.urls import host_of

LOGGER = logging.getLogger(__name__)


def find_feed_links(page_html: str, page_url: str) -> list[str]:
    """Feed URLs an HTML page announces (RSS, Atom, JSON Feed links; comment feeds left out), absolute."""
    params = FeedParameters(page_url, host_of(page_url), page_url)
    try:
        return determine_feed(page_html, params)
    except ValueError as exc:
        LOGGER.debug("feed discovery failed on %s: %s", page_url, exc)
        return []
