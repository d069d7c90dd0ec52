"""Dedup speed: decisions per second and p99 latency with 10k / 100k / 1M documents already indexed,
Redis bytes per indexed document, and datasketch's Redis-backed MinHashLSH on the same documents.

For each size the index is rebuilt from empty with pipelined inserts of synthetic originals spread over the
window's day buckets (the same script as real decisions, shards sized for that volume as a steady state would
size them); then real corpus texts are decided one at a time, signature included.

    .venv/bin/python bench/dedup_speed.py [--sizes 10000,100000,1000000] [--datasketch 10000]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from pathlib import Path

import redis
from datasketch import MinHash, MinHashLSH

from bench.devset import build_devset
from config import load_settings
from workers.dedup import DAY, MIN_CONTAINMENT, MIN_SHARED_SHINGLES, DedupIndex
from workers.normalize import normalize_for_comparison
from workers.signature import BAND_COUNT, LEAD_PERM, LEAD_SHINGLES, NUM_PERM, Signature, shingles

LOGGER = logging.getLogger(__name__)
BATCH = 2_000


def fill(index: DedupIndex, conn: redis.Redis, count: int, start: int) -> None:
    """Insert `count` synthetic originals into the window's buckets (today and the 7 days before)."""
    today = int(index.clock() // DAY)
    days = list(range(today - index.window // DAY, today + 1))
    per_day = count // len(days) + 1
    pipe = conn.pipeline(transaction=False)
    for n in range(count):
        day = days[n % len(days)]
        raw = os.urandom(8 * BAND_COUNT + NUM_PERM + LEAD_PERM + 6)
        sig = Signature(raw[:6], 250, raw[6 : 6 + NUM_PERM], raw[6 + NUM_PERM : 6 + NUM_PERM + LEAD_PERM],
                        tuple(raw[-8 * BAND_COUNT :][i : i + 8] for i in range(0, 8 * BAND_COUNT, 8)))
        key = (start + n).to_bytes(10, "big")
        expire_at = (day + 1) * DAY + index.window
        index.script(keys=[index.bucket_tag(day)], client=pipe, args=[
            "decide", key, expire_at, per_day, b"".join(sig.bands), sig.record(key), MIN_CONTAINMENT,
            MIN_SHARED_SHINGLES, NUM_PERM, LEAD_PERM, LEAD_SHINGLES, b""])
        if n % BATCH == BATCH - 1:
            pipe.execute()
    pipe.execute()


def index_bytes(conn: redis.Redis) -> int:
    """Bytes of all keys in the database by MEMORY USAGE."""
    return sum(conn.memory_usage(key, samples=0) or 0 for key in conn.scan_iter(count=5_000))


def time_decisions(index: DedupIndex, texts: list[str], start: int) -> list[float]:
    """Seconds per decide() (normalisation, signature and Redis) for each text, new ids."""
    latencies = []
    for n, text in enumerate(texts):
        started = time.perf_counter()
        index.decide(f"{start + n:020x}", text)
        latencies.append(time.perf_counter() - started)
    return latencies


def datasketch_redis(url: str, texts: list[str], indexed: int) -> tuple[float, float]:
    """Query-then-insert rate and p99 of datasketch's Redis MinHashLSH with `indexed` documents already in."""
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    kwargs = conn.connection_pool.connection_kwargs
    lsh = MinHashLSH(threshold=0.8, num_perm=128, storage_config={
        "type": "redis", "basename": b"dsbench",
        "redis": {"host": kwargs["host"], "port": kwargs["port"], "db": kwargs["db"]}})
    with lsh.insertion_session(buffer_size=5_000) as session:
        for n in range(indexed):
            sketch = MinHash(num_perm=128)
            sketch.update_batch([os.urandom(8) for _ in range(20)])
            session.insert(f"fill{n}", sketch)
    latencies = []
    for n, text in enumerate(texts):
        started = time.perf_counter()
        sketch = MinHash(num_perm=128)
        sketch.update_batch([g.encode() for g in shingles(normalize_for_comparison(text).split()) or [""]])
        if not lsh.query(sketch):
            lsh.insert(f"doc{n}", sketch)
        latencies.append(time.perf_counter() - started)
    conn.flushdb()
    return len(latencies) / sum(latencies), _p99(latencies)


def _p99(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.99)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--datasketch", type=int, default=10_000, help="documents indexed for datasketch")
    parser.add_argument("--queries", type=int, default=1_000)
    args = parser.parse_args()
    settings = load_settings()
    texts = [d.text for d in build_devset(Path(settings.corpus))][: args.queries]
    words = statistics.mean(len(t.split()) for t in texts)
    conn = redis.Redis.from_url(args.redis_url)
    conn.flushdb()
    index = DedupIndex(conn, settings)
    print(f"{len(texts)} real texts decided per size (mean {words:.0f} words), new ids; signature included")
    print(f"{'indexed':>10}{'fill s':>8}{'decisions/s':>13}{'mean ms':>9}{'p99 ms':>8}{'bytes/doc':>11}")
    rates = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        conn.flushdb()
        started = time.perf_counter()
        fill(index, conn, size, start=10**12)
        fill_seconds = time.perf_counter() - started
        per_doc = index_bytes(conn) / size
        latencies = time_decisions(index, texts, start=10**13 + size)
        rates[size] = len(latencies) / sum(latencies)
        print(f"{size:>10}{fill_seconds:>8.0f}{rates[size]:>13.0f}{1e3 / rates[size]:>9.3f}"
              f"{_p99(latencies) * 1e3:>8.3f}{per_doc:>11.0f}")
    conn.flushdb()
    ds_rate, ds_p99 = datasketch_redis(args.redis_url, texts, args.datasketch)
    smallest = min(rates)
    print(f"datasketch MinHashLSH (Redis storage) with {args.datasketch} indexed: {ds_rate:.0f} decisions/s, "
          f"p99 {ds_p99 * 1e3:.2f} ms; wiredesk at {smallest} indexed is {rates[smallest] / ds_rate:.1f}x faster")


if __name__ == "__main__":
    main()
