"""Issue 4's load claim: N article URLs over H loopback hosts through poll + P worker processes.

Real pages (../shared/corpus/aeb and readability), each URL's copy made distinct by a paragraph of its own, are
served from a separate process on H addresses in 127.0.0.0/8, one RSS feed per host. Prints throughput, the
most concurrent requests any host saw (must not exceed settings.host_concurrency) and the accounting
(stored + duplicate + failed = enqueued).

    python bench/load.py [--urls 10000] [--hosts 200] [--processes 4] [--redis-url redis://127.0.0.1:6379/4]
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import random
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loopback import free_port, site_ips  # noqa: E402
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


def _serve(ips: list[str], port: int, per_host: int, pages: list[bytes], ready, stop_event, results) -> None:
    """Child process: one server per host address; pages built on request; counts peak concurrency per host."""
    stats = {ip: {"requests": 0, "active": 0, "max_concurrent": 0} for ip in ips}
    lock = threading.Lock()
    servers = []
    for host_index, ip in enumerate(ips):
        first = host_index * per_host
        feed = rss(f"site {ip}", [{"title": f"Story {n}", "link": f"http://{ip}:{port}/a/{n}"}
                                  for n in range(first, first + per_host)])

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            site_ip, site_feed = ip, feed

            def log_message(self, *args):
                pass

            def do_GET(self):
                counter = stats[self.site_ip]
                with lock:
                    counter["requests"] += 1
                    counter["active"] += 1
                    counter["max_concurrent"] = max(counter["max_concurrent"], counter["active"])
                try:
                    if self.path == "/feed.xml":
                        body, kind = self.site_feed, "application/rss+xml"
                    else:
                        body, kind = page_for(pages, int(self.path.rsplit("/", 1)[-1])), "text/html"
                    self.send_response(200)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with lock:
                        counter["active"] -= 1

        server = ThreadingHTTPServer((ip, port), Handler)
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.send(True)
    stop_event.wait()
    for server in servers:
        server.shutdown()
    results.send(stats)


def run(args) -> None:
    corpus = load_settings().corpus
    pages = load_pages(corpus)
    per_host = args.urls // args.hosts
    ips, port = site_ips(args.hosts), free_port()
    ctx = multiprocessing.get_context("fork")
    ready_recv, ready_send = ctx.Pipe(duplex=False)
    results_recv, results_send = ctx.Pipe(duplex=False)
    stop = ctx.Event()
    server = ctx.Process(target=_serve, args=(ips, port, per_host, pages, ready_send, stop, results_send), daemon=True)
    server.start()
    ready_recv.recv()
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
        conn.flushdb()
    stop.set()
    stats = results_recv.recv()
    server.join(10)
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
