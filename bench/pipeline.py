"""Issue 2's claim: the full pipeline keeps >= 80% of raw extraction throughput.

Real article pages (../shared/corpus/aeb) are served from loopback sites in another process; the pipeline
(poll the feed, 2 running rq worker processes: fetch, extract, dedup, publish to SQLite) is timed from the
poll until every URL is in a final state, against a plain loop of trafilatura.bare_extraction over the same
bytes in 2 processes, in the same run. Both sides start warm: the pool and the workers exist before the
clock, forked from a process that has paid extraction's first-use costs (`workers.extract.warm_up`).
On a shared machine other jobs slow one side or the other at random: both sides run `--rounds` times,
alternating, and the best of each is compared (as timeit does); every round is printed.
Each round also prints the CPU time per page on both sides, which moves far less with the machine's load than
pages/s: raw is the extracting processes'; pipeline is the worker processes' (their whole lives, with their rq
schedulers), the Redis server's and the poll's (with this script's wait for the last state); the loopback sites'
is not counted (they stand for the web).

    python bench/pipeline.py [--pages 180] [--hosts 20] [--redis-db 3] [--rounds 3] [--no-crosslingual]
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import redis
import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loopback import LoopbackSites, free_port, site_ips  # noqa: E402
from config import load_settings  # noqa: E402
from ingest.poller import poll_feeds  # noqa: E402
from store.base import open_store  # noqa: E402
from store.records import Feed  # noqa: E402
from tests.pages import rss  # noqa: E402
from store.records import FINAL_STATES  # noqa: E402
from workers.extract import EXTRACTION_OPTIONS, warm_up  # noqa: E402
from workers.worker import start_workers, stop_workers  # noqa: E402


WARM_UP = 3.0  # seconds for the worker processes to register before the clock starts


def load_pages(corpus: Path, count: int) -> list[tuple[str, bytes]]:
    """Up to `count` AEB pages: (id, html bytes)."""
    truth = json.loads((corpus / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth)[:count]:
        path = corpus / "aeb" / "html" / f"{key}.html.gz"
        if path.exists():
            pages.append((key, gzip.decompress(path.read_bytes())))
    return pages


def _extract(page: tuple[str, bytes]) -> bool:
    result = trafilatura.bare_extraction(page[1], **EXTRACTION_OPTIONS)  # the options the workers extract with
    return result is not None


def _children_cpu() -> float:
    """CPU seconds of this process's ended children (and of theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _redis_cpu(conn: redis.Redis) -> float:
    """CPU seconds the Redis server has used (all its clients: the bench's database is not alone on it)."""
    info = conn.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def baseline(pages: list[tuple[str, bytes]], processes: int) -> tuple[float, float]:
    """Pages per second of bare trafilatura extraction in `processes` processes, and their CPU seconds."""
    warm_up()  # in this process, which the pool's processes are forked from, as the workers are from theirs
    cpu = _children_cpu()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        start = time.perf_counter()
        pool.map(_extract, pages, chunksize=1)
        rate = len(pages) / (time.perf_counter() - start)
    return rate, _children_cpu() - cpu


def pipeline(pages, processes: int, hosts: int, redis_db: int, crosslingual: bool) -> tuple[float, dict, dict]:
    """Pages per second through poll + workers, the final URL states, and CPU seconds by part."""
    port, ips = free_port(), site_ips(hosts)
    sites = {ip: {} for ip in ips}
    items = []
    for n, (key, html) in enumerate(pages):
        ip = ips[n % hosts]
        sites[ip][f"/a/{key}"] = (html, {"Content-Type": "text/html"})
        items.append({"title": key, "link": f"http://{ip}:{port}/a/{key}"})
    sites[ips[0]]["/feed.xml"] = (rss("bench", items), {"Content-Type": "application/rss+xml"})
    server = LoopbackSites(sites, port)
    server.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            redis_url=f"redis://127.0.0.1:6379/{redis_db}", store_url=f"sqlite:///{tmp}/bench.db",
            allow_private_hosts=True, host_min_delay=0.0, crosslingual=crosslingual,
            max_entries_per_poll=len(pages) + 1,
        )
        conn = redis.Redis.from_url(settings.redis_url)
        conn.flushdb()
        store = open_store(settings.store_url)
        store.add_feeds([Feed(url=f"http://{ips[0]}:{port}/feed.xml")])
        # Long-running workers, as in production: started (and warmed up) before the clock starts.
        workers_cpu = _children_cpu()
        workers = start_workers(settings, burst=False, processes=processes)
        time.sleep(WARM_UP)
        redis_cpu, own_cpu = _redis_cpu(conn), time.process_time()
        start = time.perf_counter()
        summary = poll_feeds(settings, store, conn)
        while sum(store.count_url_states().get(s, 0) for s in FINAL_STATES) < len(pages):
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        cpu = {"redis": _redis_cpu(conn) - redis_cpu, "poll": time.process_time() - own_cpu}
        stop_workers(workers)
        # Their whole lives (the idle warm-up, start and stop are a few ms), but not the loopback sites'.
        cpu["workers"] = _children_cpu() - workers_cpu
        states = store.count_url_states()
        conn.flushdb()
    server.stop()
    assert summary.enqueued == len(pages), summary.line()
    return len(pages) / elapsed, states, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=180)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--redis-db", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-crosslingual", action="store_true")
    args = parser.parse_args()
    pages = load_pages(load_settings().corpus, args.pages)
    print(f"pages: {len(pages)}, processes: {args.processes}, hosts: {args.hosts}, "
          f"crosslingual: {not args.no_crosslingual}")
    rounds = []
    for round_ in range(1, args.rounds + 1):
        raw, raw_cpu = baseline(pages, args.processes)
        full, states, cpu = pipeline(pages, args.processes, args.hosts, args.redis_db, not args.no_crosslingual)
        rounds.append((raw, full, raw_cpu, sum(cpu.values())))
        ms = {part: 1000 * seconds / len(pages) for part, seconds in cpu.items()}
        print(f"round {round_}: raw {raw:6.1f} pages/s, pipeline {full:6.1f} pages/s (ratio {full / raw:.2f})"
              f"   url states: {states}", flush=True)
        print(f"         CPU per page: raw {1000 * raw_cpu / len(pages):5.1f} ms, pipeline "
              f"{sum(ms.values()):5.1f} ms (workers {ms['workers']:.1f}, redis-server {ms['redis']:.1f}, "
              f"poll {ms['poll']:.1f}): CPU ratio {raw_cpu / sum(cpu.values()):.2f}", flush=True)
    raws, fulls, raw_cpus, full_cpus = zip(*rounds)
    raw, full = max(raws), max(fulls)
    print(f"raw trafilatura.bare_extraction: {raw:7.1f} pages/s (best of {args.rounds})")
    print(f"full pipeline:                   {full:7.1f} pages/s (best of {args.rounds})")
    print(f"ratio pipeline/raw: {full / raw:.2f}  (target >= 0.80); "
          f"CPU ratio, least CPU of each: {min(raw_cpus) / min(full_cpus):.2f}")


if __name__ == "__main__":
    main()
