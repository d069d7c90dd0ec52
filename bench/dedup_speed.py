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
are printed apart.

    .venv/bin/python -m bench.dedup_speed [--sizes 10000,100000,1000000] [--datasketch 10000] [--queries 1000]

The machine's load average is printed before and after: on a shared 2-core machine the latencies move with it.
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


def time_decisions(index: DedupIndex, texts: list[str], start: int) -> list[float]:
    """Seconds per decide() (normalisation, signature and Redis) for each text, new ids."""
    latencies = []
    for n, text in enumerate(texts):
        started = time.perf_counter()
        index.decide(f"{start + n:020x}", text)
        latencies.append(time.perf_counter() - started)
    return latencies


def time_floor(texts: list[str]) -> float:
    """Mean seconds of the pure-Python part of a decision (normalise, signature): the best of 3 passes."""
    passes = []
    for _ in range(3):
        started = time.perf_counter()
        for text in texts:
            compute_signature(normalize_for_comparison(text))
        passes.append((time.perf_counter() - started) / len(texts))
    return min(passes)


def datasketch_redis(url: str, texts: list[str], indexed: int) -> dict[str, float]:
    """Rate, p99, sketch and Redis time of datasketch's Redis MinHashLSH with `indexed` documents already in."""
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
    latencies, sketching, inserted = [], 0.0, 0
    for n, text in enumerate(texts):
        started = time.perf_counter()
        sketch = MinHash(num_perm=128)
        sketch.update_batch([g.encode() for g in shingles(head_words(normalize_for_comparison(text))) or [""]])
        sketched = time.perf_counter()
        if not lsh.query(sketch):
            lsh.insert(f"doc{n}", sketch)
            inserted += 1
        latencies.append(time.perf_counter() - started)
        sketching += sketched - started
    conn.flushdb()
    total = sum(latencies)
    return {"rate": len(latencies) / total, "p99": _p99(latencies), "sketch_ms": sketching / len(texts) * 1e3,
            "redis_ms": (total - sketching) / len(texts) * 1e3, "inserted": inserted}


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
    print(f"load average {os.getloadavg()[0]:.2f}; {len(texts)} real texts decided per size (mean {words:.0f} "
          "words), new ids; signature included")
    print(f"{'indexed':>10}{'fill s':>8}{'decisions/s':>13}{'mean ms':>9}{'p50 ms':>8}{'p99 ms':>8}{'floor ms':>10}"
          f"{'bytes/doc':>11}{'used/doc':>10}")
    rates = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        conn.flushdb()
        before = used_memory(conn)
        started = time.perf_counter()
        fill(index, conn, size, start=10**12)
        fill_seconds = time.perf_counter() - started
        used = (used_memory(conn) - before) / size
        per_doc = index_bytes(conn) / size
        latencies = time_decisions(index, texts, start=10**13 + size)
        floor = time_floor(texts)
        rates[size] = len(latencies) / sum(latencies)
        print(f"{size:>10}{fill_seconds:>8.0f}{rates[size]:>13.0f}{1e3 / rates[size]:>9.3f}"
              f"{statistics.median(latencies) * 1e3:>8.3f}{_p99(latencies) * 1e3:>8.3f}{floor * 1e3:>10.3f}"
              f"{per_doc:>11.0f}{used:>10.0f}")
    conn.flushdb()
    ds = datasketch_redis(args.redis_url, texts, args.datasketch)
    smallest, largest = min(rates), max(rates)
    print(f"datasketch MinHashLSH (Redis storage) with {args.datasketch} indexed: {ds['rate']:.0f} decisions/s, "
          f"p99 {ds['p99'] * 1e3:.2f} ms (sketch {ds['sketch_ms']:.3f} ms + Redis {ds['redis_ms']:.3f} ms per "
          f"text; {ds['inserted']} inserted)")
    print(f"wiredesk/datasketch throughput: {rates[smallest] / ds['rate']:.1f}x at {smallest} indexed; "
          f"growth {smallest} -> {largest}: {rates[smallest] / rates[largest]:.2f}x; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
