"""Issue 4's load claim: N article URLs over H loopback hosts through poll + P worker processes.

Real pages (../shared/corpus/aeb and readability), each URL's copy made distinct by a paragraph of its own, are
served from a separate process on H addresses in 127.0.0.0/8, one RSS feed per host. Prints throughput, the
most concurrent requests any host saw (must not exceed settings.host_concurrency) and the accounting
(stored + duplicate + failed = enqueued).

    python bench/load.py [--urls 10000] [--hosts 200] [--processes 4] [--redis-url redis://127.0.0.1:6379/4]
"""

from __future__ import annotations

import argparse
from collections import Counter
import gzip
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loopback import LoopbackSites, free_port, site_ips  # noqa: E402
from config import load_settings  # noqa: E402
from ingest.poller import poll_feeds  # noqa: E402
from store.base import open_store  # noqa: E402
from store.records import FINAL_STATES, Feed  # noqa: E402
from tests.pages import rss  # noqa: E402
from workers.worker import start_workers, stop_workers  # noqa: E402

WORDS = "council harbour railway election museum strike bridge budget festival court river airport".split()


def load_pages(corpus: Path) -> list[bytes]:
    """Every AEB and readability article page, as bytes."""
    pages = [gzip.decompress(path.read_bytes()) for path in sorted((corpus / "aeb" / "html").glob("*.html.gz"))]
    pages += [path.read_bytes() for path in sorted((corpus / "readability").glob("*/source.html"))]
    return pages


def page_for(pages: list[bytes], n: int) -> bytes:
    """Base page n mod len(pages) with a paragraph only URL n has, before </body>."""
    rng = random.Random(n)
    extra = (f"<p>Dispatch {n}: " + " ".join(rng.choice(WORDS) for _ in range(40)) + ".</p>").encode()
    base = pages[n % len(pages)]
    cut = base.rfind(b"</body>")
    return base + extra if cut < 0 else base[:cut] + extra + base[cut:]


class Site:
    """One host's pages, built on request (10,000 distinct pages are not held in memory): its feed and articles."""

    def __init__(self, feed: bytes, pages: list[bytes]):
        self.feed, self.pages = feed, pages

    def get(self, path: str, default):
        """(body, headers) for `path`, as bench.loopback asks of a site's page table."""
        if path == "/feed.xml":
            return self.feed, {"Content-Type": "application/rss+xml"}
        number = path.rsplit("/", 1)[-1]
        if not number.isdigit():
            return default
        return page_for(self.pages, int(number)), {"Content-Type": "text/html"}


def run(args) -> None:
    corpus = load_settings().corpus
    pages = load_pages(corpus)
    per_host = args.urls // args.hosts
    ips, port = site_ips(args.hosts), free_port()
    sites = {}
    for host_index, ip in enumerate(ips):
        first = host_index * per_host
        sites[ip] = Site(rss(f"site {ip}", [{"title": f"Story {n}", "link": f"http://{ip}:{port}/a/{n}"}
                                            for n in range(first, first + per_host)]), pages)
    server = LoopbackSites(sites, port)
    server.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(redis_url=args.redis_url, store_url=f"sqlite:///{tmp}/load.db",
                                 allow_private_hosts=True, crosslingual=args.crosslingual,
                                 max_entries_per_poll=per_host + 1, poll_per_host=1)
        conn = redis.Redis.from_url(settings.redis_url)
        conn.flushdb()
        store = open_store(settings.store_url)
        store.add_feeds([Feed(url=f"http://{ip}:{port}/feed.xml") for ip in ips])
        started = time.perf_counter()
        summary = poll_feeds(settings, store, conn)
        polled = time.perf_counter() - started
        children = start_workers(settings, burst=False, processes=args.processes)
        try:
            while True:
                states = store.count_url_states()
                if sum(states.get(state, 0) for state in FINAL_STATES) >= summary.enqueued:
                    break
                print(f"{time.perf_counter() - started:6.0f}s {states}", file=sys.stderr, flush=True)
                time.sleep(5)
        finally:
            elapsed = time.perf_counter() - started
            stop_workers(children)
        documents = store.stats()["documents"]
        reasons = Counter(f.reason for f in store.list_failures(include_retrying=False, limit=100_000))
        conn.flushdb()
    stats = server.stop()
    peak = max(s["max_concurrent"] for s in stats.values())
    stored, duplicate, failed = (states.get(s, 0) for s in FINAL_STATES)
    print(f"urls: {per_host * args.hosts} over {args.hosts} hosts, {args.processes} worker processes, "
          f"{multiprocessing.cpu_count()} cores, crosslingual: {args.crosslingual}, "
          f"host_concurrency: {settings.host_concurrency}, host_min_delay: {settings.host_min_delay}s")
    print(f"poll: {summary.line()} in {polled:.1f}s")
    print(f"throughput: {summary.enqueued / elapsed:.1f} URLs/s ({summary.enqueued} in {elapsed:.0f}s, poll included)")
    print(f"max concurrent requests on one host: {peak} (limit {settings.host_concurrency})")
    print(f"accounting: {stored} stored + {duplicate} duplicate + {failed} failed = {stored + duplicate + failed}"
          f" of {summary.enqueued} enqueued; {documents} documents; url states {states}")
    print(f"failure reasons: {dict(reasons.most_common())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--crosslingual", action="store_true", help="also run cross-lingual matching (slower)")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
