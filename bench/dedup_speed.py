"""Dedup speed: decisions per second and p99 latency with 10k / 100k / 1M documents already indexed,
Redis bytes per indexed document, and datasketch's Redis-backed MinHashLSH on the same texts in the same run.

Ours: for each size the index is rebuilt from empty with pipelined inserts of synthetic originals spread over
the window (the same script as real decisions, shards sized for that volume as a steady state would size
them); then real corpus texts (dev-set documents, copies among them) are decided one at a time by
`DedupIndex.decide()` on its own client, as a worker calls it: normalisation, signature, one script call
and its round trip, nothing batched across documents. The pure-Python floor (normalise + signature, no
Redis) is timed on the same texts.

datasketch 2.x, its documented Redis setup: MinHashLSH(threshold=0.8, num_perm=128, storage_config={'type':
'redis', ...}) (0.8 is the issue's baseline threshold; datasketch picks 9 bands of 13 rows for it, fewer
round trips than the ~0.5 our decisions need would cost it), filled with `indexed` random MinHashes through
its insertion session, then per text, timed the same way: the same normalisation, a MinHash (default
SHA-1 token hashing, `update_batch`) of the same shingles our signature sketches (the word 3-grams of the
first HEAD_WORDS words), `query`, and `insert` when nothing matched (the decision ours makes; datasketch
does not keep the sketches, so it verifies nothing, which only flatters it). Its sketch and Redis times
are printed apart. Its index lives in its own database, and each text is decided by both right after one
another (who goes first alternates) while ours holds the smallest size, so that the ratio holds on a shared
machine whose load moves during a run.

    .venv/bin/python -m bench.dedup_speed [--sizes 10000,100000,1000000] [--datasketch 10000] [--queries 1000]
        [--redis-url redis://127.0.0.1:6379/4] [--datasketch-redis-url redis://127.0.0.1:6379/5]

The machine's load average is printed before and after: on a shared 2-core machine the latencies move with it
(the sizes are measured one after another, so the growth figure is the one most exposed to it).
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
from workers.dedup import DedupIndex
from workers.normalize import normalize_for_comparison
from workers.signature import (
    BAND_COUNT, BAND_KEY_SIZE, LEAD_PERM, NUM_PERM, Signature, compute_signature, head_words, shingles,
)

LOGGER = logging.getLogger(__name__)
BATCH = 2_000


def fill(index: DedupIndex, conn: redis.Redis, count: int, start: int) -> None:
    """Insert `count` synthetic originals at times spread evenly over the last window.

    Every bucket's shards are sized for `count` originals, as a steady state (the previous bucket held a
    window's worth) sizes them.
    """
    now = index.clock()
    buckets = [int((now - index.window * n / count) // index.span) for n in range(count)]
    index.load_script()
    pipe = conn.pipeline(transaction=False)
    for n, bucket in enumerate(buckets):
        raw = os.urandom(BAND_KEY_SIZE * BAND_COUNT + NUM_PERM + LEAD_PERM + 6)
        sig = Signature(raw[:6], 250, raw[6 : 6 + NUM_PERM], raw[6 + NUM_PERM : 6 + NUM_PERM + LEAD_PERM],
                        raw[-BAND_KEY_SIZE * BAND_COUNT :])
        record = sig.record((start + n).to_bytes(10, "big"))
        pipe.execute_command(*index.decide_command(bucket, sig, record, hint=count, probe_previous=False))
        if n % BATCH == BATCH - 1:
            pipe.execute()
    pipe.execute()


def index_bytes(conn: redis.Redis) -> int:
    """Bytes of all keys in the database by MEMORY USAGE (key, value and dict entry of each key)."""
    total, pipe, pending = 0, conn.pipeline(transaction=False), 0
    for key in conn.scan_iter(count=5_000):
        pipe.memory_usage(key, samples=0)
        pending += 1
        if pending == BATCH:
            total += sum(size or 0 for size in pipe.execute())
            pending = 0
    return total + sum(size or 0 for size in pipe.execute())


def used_memory(conn: redis.Redis) -> int:
    """The server's used_memory (all databases: others' activity adds noise)."""
    return conn.info("memory")["used_memory"]


class DatasketchRedis:
    """datasketch's MinHashLSH on Redis as its documentation sets it up, filled with `indexed` random sketches."""

    def __init__(self, url: str, indexed: int):
        self.conn = redis.Redis.from_url(url)
        self.conn.flushdb()
        kwargs = self.conn.connection_pool.connection_kwargs
        self.lsh = MinHashLSH(threshold=0.8, num_perm=128, storage_config={
            "type": "redis", "basename": b"dsbench",
            "redis": {"host": kwargs["host"], "port": kwargs["port"], "db": kwargs["db"]}})
        with self.lsh.insertion_session(buffer_size=5_000) as session:
            for n in range(indexed):
                sketch = MinHash(num_perm=128)
                sketch.update_batch([os.urandom(8) for _ in range(20)])
                session.insert(f"fill{n}", sketch)
        self.inserted = 0

    def decide(self, key: str, text: str) -> float:
        """Sketch, query and (when nothing matched) insert one text; the seconds spent sketching."""
        started = time.perf_counter()
        sketch = MinHash(num_perm=128)
        sketch.update_batch([g.encode() for g in shingles(head_words(normalize_for_comparison(text))) or [""]])
        sketched = time.perf_counter()
        if not self.lsh.query(sketch):
            self.lsh.insert(key, sketch)
            self.inserted += 1
        return sketched - started


def time_decisions(index: DedupIndex, texts: list[str], start: int,
                   baseline: DatasketchRedis | None = None) -> tuple[list[float], list[float], float]:
    """Seconds per decide() (normalisation, signature and Redis) for each text, new ids; with a baseline,
    its decision on the same text right before or after ours (alternately), so both meet the same load.

    Returns our latencies, the baseline's, and the baseline's seconds spent sketching.
    """
    ours, theirs, sketching = [], [], 0.0
    for n, text in enumerate(texts):
        for turn in ((0, 1) if n % 2 else (1, 0)):
            started = time.perf_counter()
            if turn == 0:
                index.decide(f"{start + n:020x}", text)
                ours.append(time.perf_counter() - started)
            elif baseline is not None:
                sketching += baseline.decide(f"doc{n}", text)
                theirs.append(time.perf_counter() - started)
    return ours, theirs, sketching


def time_floor(texts: list[str]) -> float:
    """Mean seconds of the pure-Python part of a decision (normalise, signature): the best of 3 passes."""
    passes = []
    for _ in range(3):
        started = time.perf_counter()
        for text in texts:
            compute_signature(normalize_for_comparison(text))
        passes.append((time.perf_counter() - started) / len(texts))
    return min(passes)


def _p99(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.99)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--datasketch-redis-url", default="redis://127.0.0.1:6379/5")
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
    print(f"load average {os.getloadavg()[0]:.2f}; {len(texts)} real texts decided per size (mean {words:.0f} "
          "words), new ids; signature included")
    print(f"{'indexed':>10}{'fill s':>8}{'decisions/s':>13}{'mean ms':>9}{'p50 ms':>8}{'p99 ms':>8}{'floor ms':>10}"
          f"{'bytes/doc':>11}{'used/doc':>10}")
    sizes = [int(s) for s in args.sizes.split(",")]
    rates, ds_latencies, ds_sketching = {}, [], 0.0
    for size in sizes:
        conn.flushdb()
        before = used_memory(conn)
        started = time.perf_counter()
        fill(index, conn, size, start=10**12)
        fill_seconds = time.perf_counter() - started
        used = (used_memory(conn) - before) / size
        per_doc = index_bytes(conn) / size
        # datasketch decides alongside the smallest index, text by text.
        baseline = DatasketchRedis(args.datasketch_redis_url, args.datasketch) if size == min(sizes) else None
        latencies, theirs, sketching = time_decisions(index, texts, 10**13 + size, baseline)
        if baseline is not None:
            ds_latencies, ds_sketching, ds_inserted = theirs, sketching, baseline.inserted
            baseline.conn.flushdb()
        floor = time_floor(texts)
        rates[size] = len(latencies) / sum(latencies)
        print(f"{size:>10}{fill_seconds:>8.0f}{rates[size]:>13.0f}{1e3 / rates[size]:>9.3f}"
              f"{statistics.median(latencies) * 1e3:>8.3f}{_p99(latencies) * 1e3:>8.3f}{floor * 1e3:>10.3f}"
              f"{per_doc:>11.0f}{used:>10.0f}")
    conn.flushdb()
    smallest, largest = min(rates), max(rates)
    ds_rate, ds_total = len(ds_latencies) / sum(ds_latencies), sum(ds_latencies)
    print(f"datasketch MinHashLSH (Redis storage) with {args.datasketch} indexed, same texts interleaved with "
          f"ours at {smallest}: {ds_rate:.0f} decisions/s, p99 {_p99(ds_latencies) * 1e3:.2f} ms (sketch "
          f"{ds_sketching / len(texts) * 1e3:.3f} ms + Redis {(ds_total - ds_sketching) / len(texts) * 1e3:.3f} ms "
          f"per text; {ds_inserted} inserted)")
    print(f"wiredesk/datasketch throughput: {rates[smallest] / ds_rate:.1f}x at {smallest} indexed; "
          f"growth {smallest} -> {largest}: {rates[smallest] / rates[largest]:.2f}x; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
