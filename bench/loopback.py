"""Loopback web sites for benchmarks, served from a separate process so their CPU is not the system's.

Each site is its own address in 127.0.0.0/8 (all loopback on Linux), so per-host politeness is exercised
as on the real web. The server process counts requests and the peak of concurrent requests per host.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Page = tuple[bytes, dict[str, str]]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now; every site serves on it (their addresses differ)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(sites: dict[str, dict[str, Page]], port: int, ready, stop_event, results) -> None:
    """Child process: one threaded server per site address; report stats when told to stop."""
    stats = {ip: {"requests": 0, "active": 0, "max_concurrent": 0} for ip in sites}
    lock = threading.Lock()
    servers = {}

    for ip, pages in sites.items():
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            site_ip, site_pages = ip, pages

            def log_message(self, *args):
                pass

            def do_GET(self):
                counter = stats[self.site_ip]
                with lock:
                    counter["requests"] += 1
                    counter["active"] += 1
                    counter["max_concurrent"] = max(counter["max_concurrent"], counter["active"])
                try:
                    body, headers = self.site_pages.get(self.path.split("?")[0], (b"not found", {"status": "404"}))
                    self.send_response(int(headers.get("status", 200)))
                    for key, value in headers.items():
                        if key != "status":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with lock:
                        counter["active"] -= 1

        server = ThreadingHTTPServer((ip, port), Handler)
        server.daemon_threads = True
        servers[ip] = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.send(True)
    stop_event.wait()
    for server in servers.values():
        server.shutdown()
    results.send({ip: {k: v for k, v in s.items() if k != "active"} for ip, s in stats.items()})


class LoopbackSites:
    """Serve `sites` ({ip: {path: (body, headers)}}) on `port`; `start()`, then `stop()` returns per-host stats."""

    def __init__(self, sites: dict[str, dict[str, Page]], port: int):
        ctx = multiprocessing.get_context("fork")
        self._ready_recv, ready_send = ctx.Pipe(duplex=False)
        self._results_recv, results_send = ctx.Pipe(duplex=False)
        self._stop = ctx.Event()
        self._process = ctx.Process(target=_serve, args=(sites, port, ready_send, self._stop, results_send), daemon=True)

    def start(self) -> None:
        self._process.start()
        self._ready_recv.recv()

    def stop(self) -> dict[str, dict]:
        self._stop.set()
        stats = self._results_recv.recv()
        self._process.join(timeout=10)
        return stats


def site_ips(count: int) -> list[str]:
    """`count` distinct loopback addresses, 127.0.1.1 onwards."""
    return [f"127.0.{1 + n // 250}.{1 + n % 250}" for n in range(count)]
