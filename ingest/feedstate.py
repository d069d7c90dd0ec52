"""Turn one feed's fetch result into its new durable state, claiming and enqueueing its new entries."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from redis import Redis

from config import Settings
from ingest.errors import NotAFeed
from ingest.queue import enqueue_entries
from ingest.schedule import next_poll_after_failure, next_poll_after_success, publishing_rate
from net import http
from store.records import Feed, UrlState

LOGGER = logging.getLogger(__name__)

OK, BACKOFF, GONE, NOT_A_FEED = "ok", "backoff", "gone", "not-a-feed"
FAILED_RESULTS = ("failed", "gone", "not-a-feed")

FeedSave = tuple[Feed, str | None]  # a feed's new state, and the URL it had before a permanent redirect


@dataclass(frozen=True)
class FeedOutcome:
    """One feed's result in a pass: 'changed', 'not-modified', 'failed', 'gone', 'not-a-feed' or 'skipped'."""

    url: str
    result: str
    status: int | None = None
    entries: int = 0
    enqueued: int = 0
    error: str | None = None


def apply_result(settings: Settings, store, redis: Redis, feed: Feed, result,
                 now: datetime) -> tuple[FeedOutcome, FeedSave]:
    """Enqueue the new entries of `result` (a poller.FetchResult); return the outcome and the feed's new state.

    The caller saves the state (`store.save_feeds`), so that a pass can save many feeds in one transaction.
    """
    if result.error is not None:
        return _record_failure(settings, feed, result.error, now)
    fetch = result.fetch
    updated = replace(
        feed,
        etag=fetch.etag,
        last_modified=fetch.last_modified,
        body_hash=result.body_hash or feed.body_hash,
        last_polled=now,
        last_status=fetch.status,
        failures=0,
        polls=feed.polls + 1,
        state=OK,
    )
    hints = [fetch.cache_seconds]
    if result.unchanged:
        outcome = FeedOutcome(feed.url, "not-modified", fetch.status)
        updated.last_error = feed.last_error if feed.failures == 0 else None
    else:
        parsed = result.parsed
        enqueued = _enqueue_new(settings, store, redis, parsed.entries, feed.url, now)
        outcome = FeedOutcome(feed.url, "changed", fetch.status, len(parsed.entries), enqueued, parsed.reason)
        updated.title = parsed.title or feed.title
        updated.site_url = parsed.site_url or feed.site_url
        updated.entries_seen = feed.entries_seen + enqueued
        updated.rate_per_day = publishing_rate(parsed.dates, now) or feed.rate_per_day
        updated.last_error = parsed.reason
        hints += [parsed.ttl_seconds, parsed.update_seconds]
    updated.next_poll = next_poll_after_success(settings, now, updated.rate_per_day, hints)
    old_url = None
    if fetch.permanent_redirect and fetch.final_url != feed.url:
        LOGGER.info("feed %s moved permanently to %s", http.redact_url(feed.url), http.redact_url(fetch.final_url))
        old_url, updated.url = feed.url, fetch.final_url
    return outcome, (updated, old_url)


def _enqueue_new(settings: Settings, store, redis: Redis, entries, feed_url: str, now: datetime) -> int:
    """Claim the entries' URLs in the store and enqueue only those never seen before."""
    if not entries:
        return 0
    states = [UrlState(url_id=e.url_id, url=e.canonical_url, feed_url=feed_url, state="queued") for e in entries]
    new_ids = set(store.claim_urls(states))
    fresh = [replace(entry, enqueued_at=now) for entry in entries if entry.url_id in new_ids]
    return enqueue_entries(redis, settings, fresh)


def _record_failure(settings: Settings, feed: Feed, error: Exception, now: datetime) -> tuple[FeedOutcome, FeedSave]:
    """Count the failure, back off (410 stops the feed), and record what went wrong."""
    status = getattr(error, "status", None)
    failures = feed.failures + 1
    state, result = BACKOFF, "failed"
    if status == 410:
        state, result = GONE, "gone"
    elif isinstance(error, NotAFeed):
        state, result, status = NOT_A_FEED, "not-a-feed", 200
    message = str(error) if isinstance(error, (http.FetchError, NotAFeed)) else f"{type(error).__name__}: {error}"
    retry_after = getattr(error, "retry_after", None)
    updated = replace(
        feed,
        last_polled=now,
        last_status=status,
        failures=failures,
        last_error=message,
        polls=feed.polls + 1,
        state=state,
        next_poll=None if state == GONE else next_poll_after_failure(settings, now, failures, retry_after),
    )
    LOGGER.info("feed %s: %s", http.redact_url(feed.url), message)
    return FeedOutcome(feed.url, result, status, error=message), (updated, None)
