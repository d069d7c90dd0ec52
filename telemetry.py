"""Pipeline metrics kept in Redis, so pollers and work horses on every machine add to one set of series.

rq forks a work horse per job and pollers run from cron: neither lives long enough to be scraped, so each
outcome is added to a Redis hash, and the API's /metrics exports them in the Prometheus format.
Keys: `{prefix}:metrics:c:{name}` (counters: field = label values joined by `|`) and
`{prefix}:metrics:b:{name}` (histograms: a field per bucket counting the observations in that bucket alone, so
an observation costs three commands instead of one per bucket above it; `collect` adds them up cumulatively;
plus `sum` and `count`).
"""

from __future__ import annotations

import itertools
import logging

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from redis import Redis
from redis.exceptions import RedisError

from config import Settings

LOGGER = logging.getLogger(__name__)

# name -> (help, label names)
COUNTERS = {
    "polls": ("Feed polls by outcome.", ("outcome",)),
    "fetches": ("Page fetches by HTTP status or failure reason.", ("status",)),
    "dedup_decisions": ("Dedup decisions by relation (original, exact, near, translation).", ("relation",)),
    "url_outcomes": ("URLs by the state their job left them in.", ("state",)),
}
# name -> (help, bucket upper bounds in seconds)
HISTOGRAMS = {
    "extraction_seconds": ("Time to extract one article.", (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)),
    "end_to_end_seconds": ("From enqueue of a feed entry to its stored document.",
                           (1, 5, 15, 60, 300, 900, 3600, 14400, 86400)),
}


def _key(settings: Settings, kind: str, name: str) -> str:
    return f"{settings.key_prefix}:metrics:{kind}:{name}"


class Batch:
    """Counts and observations gathered during one unit of work (a job), written in one Redis round trip."""

    def __init__(self) -> None:
        self._counts: list[tuple[str, tuple[str, ...], int]] = []
        self._observations: list[tuple[str, float]] = []

    def count(self, name: str, *labels: str, amount: int = 1) -> None:
        """Add `amount` to counter `name` for these label values, at the next `flush`."""
        self._counts.append((name, labels, amount))

    def observe(self, name: str, seconds: float) -> None:
        """Record one observation in histogram `name`, at the next `flush`."""
        self._observations.append((name, seconds))

    def flush(self, redis: Redis, settings: Settings) -> None:
        """Write what was gathered and start empty; a metrics failure never fails the caller."""
        if not (self._counts or self._observations):
            return
        try:
            pipe = redis.pipeline(transaction=False)
            for name, labels, amount in self._counts:
                pipe.hincrby(_key(settings, "c", name), "|".join(labels), amount)
            for name, seconds in self._observations:
                key = _key(settings, "b", name)
                bound = next((b for b in HISTOGRAMS[name][1] if seconds <= b), None)
                if bound is not None:  # above the last bound only `count` (Prometheus' +Inf) grows
                    pipe.hincrby(key, str(bound), 1)
                pipe.hincrbyfloat(key, "sum", seconds)
                pipe.hincrby(key, "count", 1)
            pipe.execute()
        except RedisError as exc:
            LOGGER.warning("metrics %s not recorded: %s",
                           sorted({n for n, *_ in self._counts} | {n for n, _ in self._observations}), exc)
        self._counts, self._observations = [], []


def count(redis: Redis, settings: Settings, name: str, *labels: str, amount: int = 1) -> None:
    """Add `amount` to counter `name` for these label values; a metrics failure never fails the caller."""
    batch = Batch()
    batch.count(name, *labels, amount=amount)
    batch.flush(redis, settings)


def observe(redis: Redis, settings: Settings, name: str, seconds: float) -> None:
    """Record one observation in histogram `name`; a metrics failure never fails the caller."""
    batch = Batch()
    batch.observe(name, seconds)
    batch.flush(redis, settings)


def collect(redis: Redis, settings: Settings):
    """Every series as prometheus_client metric families (for a custom collector)."""
    for name, (help_text, label_names) in COUNTERS.items():
        family = CounterMetricFamily(f"wiredesk_{name}", help_text, labels=list(label_names))
        for labels, value in sorted(redis.hgetall(_key(settings, "c", name)).items()):
            family.add_metric(labels.decode().split("|"), int(value))
        yield family
    for name, (help_text, bounds) in HISTOGRAMS.items():
        raw = {k.decode(): float(v) for k, v in redis.hgetall(_key(settings, "b", name)).items()}
        cumulative = itertools.accumulate(raw.get(str(b), 0.0) for b in bounds)
        buckets = [(str(float(b)), total) for b, total in zip(bounds, cumulative)]
        buckets.append(("+Inf", raw.get("count", 0.0)))
        yield HistogramMetricFamily(f"wiredesk_{name}", help_text, buckets=buckets, sum_value=raw.get("sum", 0.0))
