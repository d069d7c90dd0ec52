"""One polling pass: due feeds, a Redis lease per feed, bounded concurrency, new entries enqueued once.

Threads only fetch and parse; every store and queue write happens in the calling thread, so a store
connection is never shared between threads. Feed states are saved in batches (a transaction per feed was
most of the cost of an unchanged feed), and a feed's lease is given back only once its state is saved. A
store error on one feed (a value the database refuses) fails that feed, not the pass or its batch.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Callable

import httpx
from redis import Redis

import telemetry
from config import Settings
from ingest import feedstate
from ingest.feeds import FeedFetch, ParsedFeed, body_hash, fetch_feed, parse_feed
from ingest.errors import NotAFeed
from ingest.urls import host_of, url_id
from net import http
from store.base import StoreError, StoreUnavailable
from store.records import Feed

LOGGER = logging.getLogger(__name__)

LEASE_MARGIN = 30.0
SAVE_BATCH = 200  # feed states per transaction
SAVE_EVERY = 1.0  # seconds a finished feed's state may wait for its batch
# Parsing holds the GIL throughout: pool threads parsing at once only take turns, at a cost in switches and
# caches, so one parses at a time while the others fetch.
PARSING = threading.Lock()
# KEYS: ARGV[1] leases to give back (deleted only where they still hold their token), then leases to take;
# ARGV: count, lease ms, then a token per key. Returns 1 or 0 per lease to take.
EXCHANGE_SCRIPT = """
local released = tonumber(ARGV[1])
for i = 1, released do
  if redis.call('GET', KEYS[i]) == ARGV[2 + i] then redis.call('DEL', KEYS[i]) end
end
local taken = {}
for i = released + 1, #KEYS do
  taken[#taken + 1] = redis.call('SET', KEYS[i], ARGV[2 + i], 'NX', 'PX', ARGV[2]) and 1 or 0
end
return taken
"""


@dataclass
class PollSummary:
    """What one pass did."""

    polled: int = 0
    changed: int = 0
    not_modified: int = 0
    failed: int = 0
    entries: int = 0
    enqueued: int = 0
    postponed: int = 0  # new entries over max_entries_per_poll, left for the feed's next poll
    skipped: int = 0
    duration: float = 0.0
    results: Counter = field(default_factory=Counter)

    def add(self, outcome: feedstate.FeedOutcome) -> None:
        """Count one feed's outcome."""
        self.results[outcome.result] += 1
        if outcome.result == "skipped":
            self.skipped += 1
            return
        self.polled += 1
        self.changed += outcome.result == "changed"
        self.not_modified += outcome.result == "not-modified"
        self.failed += outcome.result in feedstate.FAILED_RESULTS
        self.entries += outcome.entries
        self.enqueued += outcome.enqueued

    def line(self) -> str:
        """The one-line summary `wiredesk poll` prints."""
        postponed = f", {self.postponed} new left for the next poll (max_entries_per_poll)" if self.postponed else ""
        return (f"polled {self.polled} feeds in {self.duration:.1f}s: {self.changed} changed, "
                f"{self.not_modified} not modified, {self.failed} failed; {self.entries} entries, "
                f"{self.enqueued} new enqueued{postponed}; {self.skipped} skipped (leased by another poller)")


@dataclass
class FetchResult:
    """What a pool thread brings back for one feed: the fetch, the parse, or the error."""

    fetch: FeedFetch | None = None
    parsed: ParsedFeed | None = None
    unchanged: bool = False
    body_hash: str | None = None
    error: Exception | None = None


@dataclass
class _Running:
    feed: Feed
    token: str
    host: str


@dataclass
class _Dispatch:
    """Feeds waiting per host, leased feeds ready to start, what runs now, finished feeds to save, and leases
    still to give back."""

    waiting: dict[str, deque] = field(default_factory=dict)
    active: Counter = field(default_factory=Counter)
    running: dict[Future, _Running] = field(default_factory=dict)
    ready: deque[_Running] = field(default_factory=deque)
    ready_per_host: Counter = field(default_factory=Counter)
    unsaved: list[feedstate.FeedSave] = field(default_factory=list)
    held: list[_Running] = field(default_factory=list)
    unsaved_since: float = 0.0
    releases: list[tuple[str, str]] = field(default_factory=list)

    def finished(self, run: _Running, save: feedstate.FeedSave) -> None:
        """Keep a finished feed's new state, and its lease until that state is saved."""
        if not self.unsaved:
            self.unsaved_since = time.monotonic()
        self.unsaved.append(save)
        self.held.append(run)

    def save(self, settings: Settings, store, redis: Redis, polled_at: datetime, *, now: bool = False) -> None:
        """Save the kept feed states in one transaction when the batch is full or old (or `now`), and give their
        leases back. Raises StoreUnavailable, keeping the leases of the states it could not save."""
        if not self.unsaved or not (now or len(self.unsaved) >= SAVE_BATCH
                                    or time.monotonic() - self.unsaved_since >= SAVE_EVERY):
            return
        try:
            store.save_feeds(self.unsaved)
        except StoreUnavailable:
            raise
        except StoreError:
            # One state the database refuses fails the whole transaction: save them one by one, so that only
            # that feed's is lost (and recorded as its failure).
            for run, save in zip(self.held, self.unsaved):
                _save_alone(settings, store, redis, run.feed, save, polled_at)
        self.unsaved.clear()
        self.releases += [(run.feed.url, run.token) for run in self.held]
        self.held.clear()


def poll_feeds(settings: Settings, store, redis: Redis, *, all_feeds: bool = False, now: datetime | None = None,
               progress: Callable[[feedstate.FeedOutcome], None] | None = None) -> PollSummary:
    """Poll the feeds that are due (every feed but gone ones with `all_feeds`) once; return the summary.

    Raises only when Redis (redis.ConnectionError) or the store (store.base.StoreUnavailable) fails.
    Example: `poll_feeds(settings, open_store(settings.store_url), Redis.from_url(settings.redis_url)).line()`.
    """
    started = time.monotonic()
    now = now or datetime.now(timezone.utc)
    feeds = [f for f in store.list_feeds() if f.state != feedstate.GONE] if all_feeds else store.due_feeds(now)
    summary = PollSummary()
    state = _Dispatch()
    for feed in feeds:
        state.waiting.setdefault(host_of(feed.url), deque()).append(feed)
    try:
        with http.make_client(settings) as client, ThreadPoolExecutor(settings.poll_concurrency) as pool:
            while state.waiting or state.ready or state.running:
                for outcome in _dispatch(settings, store, redis, client, pool, state, all_feeds, now):
                    _report(summary, progress, outcome)
                if not state.running:
                    continue
                done, _ = wait(list(state.running), timeout=SAVE_EVERY, return_when=FIRST_COMPLETED)
                for future in done:
                    run = state.running.pop(future)
                    state.active[run.host] -= 1
                    outcome, save, postponed = _apply_result(settings, store, redis, run.feed, future.result(), now)
                    state.finished(run, save)
                    summary.postponed += postponed
                    _report(summary, progress, outcome)
                state.save(settings, store, redis, now)
            state.save(settings, store, redis, now, now=True)
    finally:
        # Leases of feeds whose state could not be saved (the store or Redis went away) are kept: they expire on
        # their own.
        _exchange_leases(redis, settings, state.releases, [])
    summary.duration = time.monotonic() - started
    for result, number in summary.results.items():
        telemetry.count(redis, settings, "polls", result, amount=number)
    LOGGER.info(summary.line())
    return summary


def _dispatch(settings: Settings, store, redis: Redis, client: httpx.Client, pool: ThreadPoolExecutor,
              state: _Dispatch, all_feeds: bool, now: datetime) -> list[feedstate.FeedOutcome]:
    """Start leased feeds while the overall and per-host limits allow; when slots stay free, lease the next
    batch (a round trip and a store read for several feeds, not one each) and start from it.

    Returns the feeds skipped because another poller has them.
    """
    _start_ready(settings, client, pool, state, now)
    free = settings.poll_concurrency - len(state.running)
    if free <= 0 or not state.waiting:
        return []
    skipped = _lease_batch(settings, store, redis, state, free + settings.poll_concurrency - len(state.ready),
                           all_feeds, now)
    _start_ready(settings, client, pool, state, now)
    return skipped


def _start_ready(settings: Settings, client: httpx.Client, pool: ThreadPoolExecutor, state: _Dispatch,
                 now: datetime) -> None:
    """Start ready feeds, in lease order, whose host has room, while the overall limit allows."""
    kept = deque()
    for run in state.ready:
        if len(state.running) < settings.poll_concurrency and state.active[run.host] < settings.poll_per_host:
            state.active[run.host] += 1
            state.ready_per_host[run.host] -= 1
            state.running[pool.submit(fetch_and_parse, client, run.feed, settings, now)] = run
        else:
            kept.append(run)
    state.ready = kept


def _lease_batch(settings: Settings, store, redis: Redis, state: _Dispatch, wanted: int, all_feeds: bool,
                 now: datetime) -> list[feedstate.FeedOutcome]:
    """Lease up to `wanted` waiting feeds, host by host in turn, at most poll_per_host ready per host; re-read
    them and queue them as ready. Returns those another poller has."""
    picked = []
    for host in list(state.waiting):
        queue = state.waiting[host]
        while queue and len(picked) < wanted and state.ready_per_host[host] < settings.poll_per_host:
            picked.append((host, queue.popleft()))
            state.ready_per_host[host] += 1
        if not queue:
            del state.waiting[host]
    if not picked:
        return []
    tokens = _exchange_leases(redis, settings, state.releases, [feed.url for _, feed in picked])
    # Re-read under the lease: another poller may have polled it since the due list was read.
    current = store.get_feeds([feed.url for (_, feed), token in zip(picked, tokens) if token])
    skipped = []
    for (host, feed), token in zip(picked, tokens):
        fresh = current.get(feed.url) if token else None
        if token and (fresh is None or not (all_feeds or fresh.next_poll is None or fresh.next_poll <= now)):
            state.releases.append((feed.url, token))
            fresh = None
        if fresh is None:
            state.ready_per_host[host] -= 1
            skipped.append(feedstate.FeedOutcome(feed.url, "skipped"))
            continue
        state.ready.append(_Running(fresh, token, host))
    return skipped


def fetch_and_parse(client: httpx.Client, feed: Feed, settings: Settings, now: datetime) -> FetchResult:
    """Fetch one feed and parse it unless it did not change; never raises (the error is the result)."""
    every = settings.unconditional_every
    conditional = not (every and (feed.polls + 1) % every == 0)
    try:
        fetch = fetch_feed(client, feed, settings, conditional=conditional)
        if fetch.status == 304:
            return FetchResult(fetch=fetch, unchanged=True)
        digest = body_hash(fetch.body)
        if digest == feed.body_hash:
            return FetchResult(fetch=fetch, unchanged=True, body_hash=digest)
        with PARSING:
            parsed = parse_feed(fetch.body, fetch.final_url, settings, fetch.headers, now=now)
        return FetchResult(fetch=fetch, parsed=parsed, body_hash=digest)
    except (http.FetchError, NotAFeed) as exc:
        return FetchResult(error=exc)
    except Exception as exc:  # one broken feed must not stop the pass; the error is recorded on the feed
        LOGGER.exception("unexpected error polling %s", feed.url)
        return FetchResult(error=exc)


def _apply_result(settings: Settings, store, redis: Redis, feed: Feed, result: FetchResult,
                  now: datetime) -> tuple[feedstate.FeedOutcome, feedstate.FeedSave, int]:
    """`feedstate.apply_result` with at most `max_entries_per_poll` new entries enqueued; also return how many
    new ones were left for the next poll. A store error other than StoreUnavailable fails this feed only."""
    try:
        postponed = _cap_new_entries(settings, store, result) if result.parsed else 0
        outcome, save = feedstate.apply_result(settings, store, redis, feed, result, now)
    except StoreUnavailable:
        raise
    except StoreError as exc:
        LOGGER.error("feed %s: the store failed on its entries: %s", http.redact_url(feed.url), exc)
        outcome, save = feedstate.apply_result(settings, store, redis, feed, FetchResult(error=exc), now)
        return outcome, save, 0
    # The outcome counts the entries the feed lists, those left for later included.
    return replace(outcome, entries=outcome.entries + postponed), save, postponed


def _cap_new_entries(settings: Settings, store, result: FetchResult) -> int:
    """Keep in the parsed entries those the store knows and the newest `max_entries_per_poll` it does not;
    return how many new ones are left, and when some are, make sure the next poll reads this body again.

    Known entries must not count against the cap, or a feed listing more fresh entries than the cap would
    fill it with the same newest ones on every poll and never enqueue the others. Only such a feed (rare: most
    list a few dozen) asks the store, an URL at a time.
    """
    parsed, cap = result.parsed, settings.max_entries_per_poll
    if len(parsed.entries) <= cap:
        return 0
    kept, new = [], 0
    for entry in parsed.entries:  # newest first
        known = store.get_url_state(entry.url_id) is not None
        if known or new < cap:
            kept.append(entry)
            new += not known
    postponed = len(parsed.entries) - len(kept)
    if postponed:
        parsed.entries = kept
        parsed.reason = f"{postponed} new entries left for the next poll (max_entries_per_poll {cap})"
        # Without this body's validators the next poll gets it whole instead of a 304, and without its hash
        # it is parsed instead of skipped as unchanged.
        result.fetch = replace(result.fetch, etag=None, last_modified=None)
        result.body_hash = None
        LOGGER.info("feed %s: %s", http.redact_url(result.fetch.url), parsed.reason)
    return postponed


def _save_alone(settings: Settings, store, redis: Redis, feed: Feed, save: feedstate.FeedSave,
                now: datetime) -> None:
    """Save one feed's new state; if the store refuses it, log that and record it as the feed's failure (so the
    feed backs off and `feeds list` shows why). Raises StoreUnavailable only."""
    try:
        store.save_feeds([save])
        return
    except StoreUnavailable:
        raise
    except StoreError as exc:
        LOGGER.error("feed %s: its new state could not be saved: %s", http.redact_url(feed.url), exc)
        error = StoreError(f"its new state could not be saved: {exc}")
    _, failure = feedstate.apply_result(settings, store, redis, feed, FetchResult(error=error), now)
    try:
        store.save_feeds([failure])
    except StoreUnavailable:
        raise
    except StoreError as exc:
        LOGGER.error("feed %s: nor could its failure be recorded: %s", http.redact_url(feed.url), exc)


def _report(summary: PollSummary, progress, outcome: feedstate.FeedOutcome) -> None:
    """Count an outcome and tell the caller."""
    summary.add(outcome)
    if progress is not None:
        progress(outcome)


def _lease_key(settings: Settings, feed_url: str) -> str:
    """The Redis key of a feed's polling lease (one hash tag for all: the exchange script takes many at once)."""
    return f"{{{settings.key_prefix}:poll-lease}}:{url_id(feed_url)}"


def _exchange_leases(redis: Redis, settings: Settings, releases: list[tuple[str, str]],
                     acquire: list[str]) -> list[str | None]:
    """Give back finished leases (compare-and-delete) and take new ones, in one script call.

    A lease expires on its own should this process die. Returns a token per URL in `acquire`, None where
    another poller holds the feed. `releases` is emptied.
    """
    if not releases and not acquire:
        return []
    # Feeds are leased a batch ahead of the free slots (see `_dispatch`): about poll_concurrency of them wait
    # for a slot, which the running fetches free within one fetch's time, or two when their host is full:
    # a lease lasts three fetches plus the margin.
    lease_ms = int((3 * settings.fetch_total_timeout + LEASE_MARGIN) * 1000)
    tokens = [uuid.uuid4().hex for _ in acquire]
    keys = [_lease_key(settings, url) for url, _ in releases] + [_lease_key(settings, url) for url in acquire]
    taken = redis.eval(EXCHANGE_SCRIPT, len(keys), *keys, len(releases), lease_ms,
                       *(token for _, token in releases), *tokens)
    releases.clear()
    return [token if ok else None for token, ok in zip(tokens, taken)]
