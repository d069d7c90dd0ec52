"""Poll N loopback feeds twice (all new, then all unchanged) and compare CPU per feed with plain feedparser.parse.

    .venv/bin/python bench/poll.py [--feeds 2000] [--redis-db 15]

Feed bodies are the corpus's real feeds (../shared/corpus/feeds), repeated under distinct URLs and served
with ETag / Last-Modified by a server in another process, so its CPU is not counted. The poller runs
`ingest.poller.poll_feeds` on a fresh SQLite store and the real Redis (the given database is flushed).
Targets (issue 3): first pass <= 1.3x raw feedparser CPU per feed; second pass >= 20x cheaper than the first.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import sys
import tempfile
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import load_settings  # noqa: E402
from ingest.poller import poll_feeds  # noqa: E402
from store.base import open_store  # noqa: E402
from store.records import Feed  # noqa: E402

FEED_SUFFIXES = (".xml", ".rss", ".atom", ".json")
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)


def feed_bodies(corpus: Path) -> list[tuple[bytes, str]]:
    """Every real feed snapshot of the corpus with the Content-Type to serve it with."""
    bodies = []
    for path in sorted((corpus / "feeds").rglob("*")):
        if (path.is_file() and path.suffix in FEED_SUFFIXES and "expected-output" not in path.parts
                and not path.name.endswith(".serde.json") and "sitemap" not in path.name):
            kind = "application/feed+json" if path.suffix == ".json" else "application/xml"
            bodies.append((path.read_bytes(), kind))
    return bodies


def serve(bodies: list[tuple[bytes, str]], port_queue) -> None:
    """Serve /feed/<n> -> bodies[n % len], honouring If-None-Match and If-Modified-Since."""
    etags = ['"' + hashlib.md5(body).hexdigest() + '"' for body, _ in bodies]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            index = int(self.path.rsplit("/", 1)[1]) % len(bodies)
            body, kind = bodies[index]
            fresh = (self.headers.get("If-None-Match") == etags[index]
                     or self.headers.get("If-Modified-Since") == LAST_MODIFIED)
            self.send_response(304 if fresh else 200)
            self.send_header("ETag", etags[index])
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", "0" if fresh else str(len(body)))
            self.end_headers()
            if not fresh:
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def timed(function) -> tuple[object, float, float]:
    """Run `function`; return its result, wall seconds and this process's CPU seconds (all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    """Run both passes and the feedparser baseline; print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--redis-db", type=int, default=15)
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    args = parser.parse_args()

    bodies = feed_bodies(Path(args.corpus))
    ports = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(bodies, ports), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=10)}"
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    workdir = tempfile.TemporaryDirectory()
    settings = load_settings(redis_url=redis_url, store_url=f"sqlite:///{workdir.name}/bench.db",
                             allow_private_hosts=True, entry_max_age_days=36_500, poll_concurrency=8,
                             poll_per_host=8, max_entries_per_poll=1000)
    store = open_store(settings.store_url)
    store.migrate()
    store.add_feeds([Feed(url=f"{base}/feed/{n}") for n in range(args.feeds)])
    try:
        first, first_wall, first_cpu = timed(lambda: poll_feeds(settings, store, conn, all_feeds=True))
        second, second_wall, second_cpu = timed(lambda: poll_feeds(settings, store, conn, all_feeds=True))
        served = [bodies[n % len(bodies)] for n in range(args.feeds)]
        _, raw_wall, raw_cpu = timed(lambda: [feedparser.parse(io.BytesIO(body), response_headers={
            "content-type": kind, "content-location": base}) for body, kind in served])
    finally:
        store.close()
        server.terminate()
        conn.flushdb()
    n = args.feeds
    print(f"{n} feeds ({len(bodies)} distinct real bodies), poll_concurrency={settings.poll_concurrency}, "
          f"SQLite + Redis db {args.redis_db}")
    print(f"pass 1 (all 200): {first.line()}")
    print(f"pass 2 (304):     {second.line()}")
    print(f"{'':24}{'feeds/s':>10}{'CPU ms/feed':>14}")
    for label, wall, cpu in (("poll pass 1 (200)", first_wall, first_cpu), ("poll pass 2 (304)", second_wall, second_cpu),
                             ("feedparser.parse only", raw_wall, raw_cpu)):
        print(f"{label:<24}{n / wall:>10.0f}{cpu / n * 1000:>14.3f}")
    print(f"pass 1 CPU / raw feedparser CPU: {first_cpu / raw_cpu:.2f}x (target <= 1.3)")
    print(f"pass 1 CPU / pass 2 CPU:         {first_cpu / second_cpu:.1f}x (target >= 20)")


if __name__ == "__main__":
    main()
