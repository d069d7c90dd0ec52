"""Politeness every worker on every machine shares through Redis: a minimum delay per host, host pauses, robots.txt.

Concurrency per host is not here: rq's `RateLimit` holds a host's jobs back at enqueue (ingest.queue).
Times come from the Redis server's clock (key TTLs), so workers on machines with skewed clocks still agree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx
from redis import Redis

from config import Settings
from net.http import FetchError, get

LOGGER = logging.getLogger(__name__)

MAX_PAUSE = 6 * 3600  # a Retry-After of a week is a server's mistake, not a reason to forget the host
ROBOTS_TTL = 24 * 3600  # RFC 9309: a cached robots.txt should not be used for more than 24 hours
ROBOTS_MAX_CHARS = 500 * 1024  # RFC 9309: parse at least the first 500 KiB

# Take the host's slot if it is free and the host is not paused; else return the milliseconds to wait.
# KEYS: slot key (exists while the minimum delay since the last request runs), pause key
# ARGV: minimum delay in milliseconds
_TAKE_SLOT = """
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then
    return paused
end
local delay = tonumber(ARGV[1])
if delay <= 0 or redis.call('SET', KEYS[1], '1', 'PX', delay, 'NX') then
    return 0
end
local wait = redis.call('PTTL', KEYS[1])
if wait < 0 then
    return delay
end
-- PTTL is 0 in the last millisecond before expiry: still taken, and 0 would mean "go".
return math.max(wait, 1)
"""

# Pause a host for ARGV[1] milliseconds unless it is already paused for longer.
_PAUSE = """
local left = redis.call('PTTL', KEYS[1])
local wanted = tonumber(ARGV[1])
if left < wanted then
    redis.call('SET', KEYS[1], '1', 'PX', wanted)
    return wanted
end
return left
"""


def _slot_key(settings: Settings, host: str) -> str:
    return f"{settings.key_prefix}:polite:{host}:slot"


def _pause_key(settings: Settings, host: str) -> str:
    return f"{settings.key_prefix}:polite:{host}:pause"


def host_wait(redis: Redis, settings: Settings, host: str) -> float:
    """Seconds until `host` may be fetched; 0 means go now, and this caller has taken the host's slot.

    Args:
        redis: the shared Redis.
        settings: `key_prefix` and `host_min_delay` (seconds between two requests to one host).
        host: the host as `ingest.urls.host_of` gives it.

    Returns:
        0.0 when the request may go now, else the seconds to wait (the host's pause or the rest of its delay).
    """
    delay_ms = int(settings.host_min_delay * 1000)
    wait_ms = redis.eval(_TAKE_SLOT, 2, _slot_key(settings, host), _pause_key(settings, host), delay_ms)
    return int(wait_ms) / 1000


def pause_host(redis: Redis, settings: Settings, host: str, seconds: float) -> float:
    """Hold every worker off `host` for `seconds` (capped at MAX_PAUSE), keeping a longer pause already set.

    Returns the seconds the host is now paused for.
    """
    wanted_ms = int(min(seconds, MAX_PAUSE) * 1000)
    if wanted_ms <= 0:
        return 0.0
    paused_ms = int(redis.eval(_PAUSE, 1, _pause_key(settings, host), wanted_ms))
    LOGGER.info("host=%s paused for %.1fs", host, paused_ms / 1000)
    return paused_ms / 1000


@dataclass(frozen=True)
class RobotsVerdict:
    """Whether robots.txt allows a URL (the verdict's truth value), and whether robots.txt was fetched for it."""

    allowed: bool
    fetched: bool = False

    def __bool__(self) -> bool:
        return self.allowed


def allowed_by_robots(client: httpx.Client, redis: Redis, settings: Settings, url: str) -> RobotsVerdict:
    """Whether robots.txt lets our User-Agent fetch `url` (always, when `respect_robots` is off).

    robots.txt is fetched once per scheme and host and cached in Redis for ROBOTS_TTL. Following RFC 9309, a
    missing robots.txt (4xx) allows everything; a transient failure (timeout, 5xx, 429) raises the FetchError
    so the job retries later rather than crawl blind. A fetch of robots.txt is a request to the host like
    any other: the verdict says so, so that the page waits for the host's next slot.
    """
    if not settings.respect_robots:
        return RobotsVerdict(True)
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    key = f"{settings.key_prefix}:robots:{origin}"
    cached = redis.get(key)
    if cached is None:
        rules = _fetch_robots(client, settings, origin)
        redis.set(key, rules, ex=ROBOTS_TTL)
    else:
        rules = cached.decode("utf-8")
    parser = RobotFileParser()
    parser.parse(rules.splitlines())
    return RobotsVerdict(parser.can_fetch(settings.user_agent, url), fetched=cached is None)


def _fetch_robots(client: httpx.Client, settings: Settings, origin: str) -> str:
    """The robots.txt text of `origin`, or "" (allow all) when it has none."""
    try:
        response = get(client, f"{origin}/robots.txt", settings, headers={"Accept": "text/plain"})
    except FetchError as exc:
        if exc.transient:
            raise
        # A 4xx, too many redirects, too large...: RFC 9309 treats an unreachable-for-good file as absent.
        LOGGER.info("robots.txt of %s unusable (%s): allowing all", origin, exc.reason)
        return ""
    return response.body.decode("utf-8", errors="replace")[:ROBOTS_MAX_CHARS]
