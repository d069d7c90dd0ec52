"""When to poll a feed next: its measured publishing rate and its own hints, or a capped backoff after failures."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from config import Settings

UNKNOWN_RATE_INTERVAL = 3600
POLLS_PER_GAP = 2
SUCCESS_JITTER = 0.1
FAILURE_JITTER = 0.25


def publishing_rate(dates: list[datetime], now: datetime) -> float | None:
    """Entries per day over the window from the oldest dated entry until now; None with under two dates."""
    past = [date for date in dates if date <= now]
    if len(past) < 2:
        return None
    days = max((now - min(past)).total_seconds() / 86_400, 1 / 24)
    return len(past) / days


def next_poll_after_success(settings: Settings, now: datetime, rate_per_day: float | None,
                            hints: list[float | None] = (), rng: random.Random | None = None) -> datetime:
    """Poll about twice per expected gap between entries, never sooner than the feed's hints ask.

    `hints` are minimum intervals in seconds the feed announced (ttl, sy:updatePeriod, Cache-Control/Expires).
    """
    rng = rng or random
    interval = 86_400 / rate_per_day / POLLS_PER_GAP if rate_per_day else UNKNOWN_RATE_INTERVAL
    interval = max([interval, *(hint for hint in hints if hint)])
    interval *= rng.uniform(1 - SUCCESS_JITTER, 1 + SUCCESS_JITTER)
    return now + timedelta(seconds=_bounded(settings, interval))


def next_poll_after_failure(settings: Settings, now: datetime, failures: int, retry_after: float | None = None,
                            rng: random.Random | None = None) -> datetime:
    """Exponential backoff from the minimum interval, with jitter, capped; at least the server's Retry-After."""
    rng = rng or random
    backoff = settings.poll_min_interval * 2 ** min(max(failures - 1, 0), 20)
    backoff = min(backoff, settings.poll_max_interval) * rng.uniform(1 - FAILURE_JITTER, 1 + FAILURE_JITTER)
    return now + timedelta(seconds=_bounded(settings, max(backoff, retry_after or 0)))


def _bounded(settings: Settings, seconds: float) -> float:
    """Clamp an interval to [poll_min_interval, poll_max_interval]."""
    return min(max(seconds, settings.poll_min_interval), settings.poll_max_interval)
