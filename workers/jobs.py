"""The one function rq runs: fetch -> extract -> dedup -> publish one article URL, and record how it ended.

This is the single place that decides retry or fail: transient faults (timeouts, 5xx, 429, a locked store)
are raised to rq (as `Retrying`) so its `Retry` schedules the next attempt; permanent ones end the URL as
failed with its reason.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime, timedelta, timezone

from rq import get_current_job
from rq.timeouts import JobTimeoutException

import telemetry

from ingest.records import FeedEntry
from ingest.urls import host_of, without_credentials
from store.base import StoreUnavailable
from net.http import HTTPStatusError
from store.records import FAILED, ORIGINAL, QUEUED, RETRYING, STARTED, TRANSLATION, Document
from workers.dedup import Decision
from workers.normalize import detect_wire
from workers.politeness import MAX_PAUSE, allowed_by_robots, host_wait, pause_host
from workers.errors import FetchError, RobotsDisallowed
from workers.extract import extract_article
from workers.fetch import fetch_page
from workers.records import Article, FetchedPage
from workers.runtime import Runtime, get_runtime

LOGGER = logging.getLogger(__name__)


def process_entry(entry: dict) -> str:
    """Process one queued feed entry end to end; return the URL's final state (or 'retrying')."""
    rt = get_runtime()
    record = FeedEntry.from_dict(entry)
    job = get_current_job()
    attempt = _attempt(job, rt)
    started = time.monotonic()
    wait = host_wait(rt.redis, rt.settings, host_of(record.url))
    if wait > 0 and job is not None:
        return _defer(rt, record, job, wait)
    rt.store.set_url_state(record.url_id, STARTED, attempts=attempt)
    # One Redis round trip for the job's metrics, also when a retry is raised.
    metrics = telemetry.Batch()
    try:
        try:
            state, reason = _process(rt, record, metrics, can_defer=job is not None)
        except HostBusy as exc:
            return _defer(rt, record, job, exc.wait)
        except (FetchError, StoreUnavailable) as exc:
            state, reason = _failed(rt, record, job, exc, getattr(exc, "reason", "store-unavailable"),
                                    getattr(exc, "transient", True))
        except JobTimeoutException as exc:
            # rq stopped the job at its job_timeout: a slow host or a page that takes long to extract; no bug, so
            # no traceback, and transient: the next attempt may find the host faster.
            state, reason = _failed(rt, record, job, exc, "job-timeout", True)
        except Exception as exc:  # a bug or a library fault must not lose the URL: record it, retry, then fail
            LOGGER.exception("unexpected error on %s", record.url)
            state, reason = _failed(rt, record, job, exc, f"internal-error: {type(exc).__name__}", True)
        LOGGER.info("url=%s feed=%s state=%s reason=%s duration=%.3fs", record.url, record.feed_url,
                    state, reason or "-", time.monotonic() - started)
        metrics.count("url_outcomes", state)
        if state in ("stored", "duplicate") and record.enqueued_at is not None:
            metrics.observe("end_to_end_seconds", (datetime.now(timezone.utc) - record.enqueued_at).total_seconds())
    finally:
        metrics.flush(rt.redis, rt.settings)
    return state


class Retrying(Exception):
    """Raised to rq in place of a failure `_failed` has recorded as `retrying` and logged in one line, so that
    rq's Retry schedules the next attempt. Its type tells the worker the failure is expected and already
    logged: rq would log it again at ERROR with a traceback (workers.worker `handle_exception`)."""


class HostBusy(Exception):
    """robots.txt took the host's slot; the page waits `wait` seconds for the next one."""

    def __init__(self, wait: float):
        super().__init__(f"host busy for {wait:.1f}s")
        self.wait = wait


def _process(rt: Runtime, entry: FeedEntry, metrics: telemetry.Batch, can_defer: bool) -> tuple[str, str | None]:
    """The happy path: each stage takes one record and returns the next."""
    if rt.settings.respect_robots:
        verdict = allowed_by_robots(rt.client, rt.redis, rt.settings, entry.url)
        if not verdict:
            raise RobotsDisallowed(entry.url)
        wait = host_wait(rt.redis, rt.settings, host_of(entry.url)) if verdict.fetched and can_defer else 0
        if wait > 0:
            raise HostBusy(wait)
    try:
        page = fetch_page(rt.client, entry.url, rt.settings)
    except FetchError as exc:
        metrics.count("fetches", exc.reason)
        if isinstance(exc, HTTPStatusError) and exc.status in (429, 503):
            # The publisher asked us to slow down: every worker leaves this host alone for a while.
            pause_host(rt.redis, rt.settings, host_of(entry.url), exc.retry_after or 60)
        raise
    metrics.count("fetches", str(page.status))
    extracting = time.monotonic()
    article = extract_article(page, entry)
    metrics.observe("extraction_seconds", time.monotonic() - extracting)
    document = build_document(entry, page, article, decide(rt, entry.url_id, article))
    rt.store.publish(document, entry.url_id)
    metrics.count("dedup_decisions", document.relation)
    return ("stored" if document.relation == ORIGINAL else "duplicate"), None


def decide(rt: Runtime, doc_id: str, article: Article) -> Decision:
    """Same-language dedup first; an original may still be a translation of an earlier story."""
    decision = rt.dedup.decide(doc_id, article.text, article.title)
    if decision.relation == ORIGINAL:
        matcher = rt.crosslingual
        match = matcher.match(doc_id, article.text, article.language, article.title) if matcher else None
        if match is not None:
            return Decision(TRANSLATION, match.story_id, match.duplicate_of, match.score, "crosslingual")
        return decision
    # The canonical document may itself have joined an older story as a translation since it was indexed.
    canonical = rt.store.get_document(decision.duplicate_of)
    if canonical is not None and canonical.story_id != decision.story_id:
        return Decision(decision.relation, canonical.story_id, decision.duplicate_of,
                        decision.similarity, decision.method)
    return decision


def build_document(entry: FeedEntry, page: FetchedPage, article: Article, decision: Decision) -> Document:
    """The stored record of an article and the dedup decision about it."""
    return Document(
        id=entry.url_id,
        url=entry.canonical_url,
        urls=sorted({without_credentials(url) for url in (entry.url, entry.canonical_url, page.final_url)}),
        feeds=[entry.feed_url],
        title=article.title,
        text=article.text,
        source=host_of(page.final_url),
        site_name=article.site_name,
        authors=article.authors,
        published=article.published,
        fetched=page.fetched_at,
        language=article.language,
        summary=article.summary,
        word_count=article.word_count,
        content_hash=article.content_hash,
        wire=detect_wire(article.text),
        story_id=decision.story_id,
        duplicate_of=decision.duplicate_of,
        similarity=decision.similarity,
        relation=decision.relation,
        flags=article.flags,
    )


def _defer(rt: Runtime, entry: FeedEntry, job, wait: float) -> str:
    """Let the host rest without holding a worker: rq runs this same job id again after `wait` seconds.

    rq's repeat keeps the job id, its retries and its rate-limit key; re-enqueueing under the same id
    from inside the running job would be marked finished and could be lost when its result expires.
    A retry held back this way (often by the host's pause after its own 429 or 503) stays `retrying` with the
    reason it failed for, due when the host frees up: `wiredesk failures` keeps showing why it is not stored.
    """
    job.repeats_left = 1
    job.repeat_intervals = [max(1, math.ceil(wait))]
    current = rt.store.get_url_state(entry.url_id)
    if current is not None and current.state == RETRYING:
        next_try = datetime.now(timezone.utc) + timedelta(seconds=job.repeat_intervals[0])
        rt.store.set_url_state(entry.url_id, RETRYING, reason=current.reason, detail=current.detail, next_try=next_try)
    else:
        rt.store.set_url_state(entry.url_id, QUEUED, reason="deferred: host busy")
    return "deferred"


def _attempt(job, rt: Runtime) -> int:
    """Which attempt this is (1 for the first), from rq's remaining retries."""
    if job is None or job.retries_left is None:
        return 1
    return len(rt.settings.retry_intervals) - job.retries_left + 1


def _failed(rt: Runtime, entry: FeedEntry, job, exc: Exception, reason: str, transient: bool) -> tuple[str, str]:
    """Record a failure: RETRYING and raise `Retrying` while rq has retries left for a transient one, else FAILED."""
    detail = str(exc)[:500]
    retries_left = job.retries_left if job is not None and job.retries_left else 0
    if transient and retries_left > 0:
        next_try = datetime.now(timezone.utc) + timedelta(seconds=_retry_delay(rt, retries_left, exc))
        rt.store.set_url_state(entry.url_id, RETRYING, reason=reason, detail=detail, next_try=next_try)
        LOGGER.info("url=%s feed=%s state=retrying reason=%s next_try=%s", entry.url, entry.feed_url,
                    reason, next_try.isoformat())
        raise Retrying(f"{reason}: {detail}") from exc
    rt.store.set_url_state(entry.url_id, FAILED, reason=reason, detail=detail)
    return FAILED, reason


def _retry_delay(rt: Runtime, retries_left: int, exc: Exception) -> float:
    """Seconds until the next attempt: rq's interval for this retry, or the server's Retry-After when longer.

    Retry-After is capped at MAX_PAUSE, as the host's pause is: a server asking for years (or more than a
    datetime can hold) must neither crash this handler nor keep the URL waiting longer than its host.
    """
    intervals = rt.settings.retry_intervals
    delay = intervals[min(len(intervals) - retries_left, len(intervals) - 1)]
    return max(delay, min(getattr(exc, "retry_after", None) or 0, MAX_PAUSE))
