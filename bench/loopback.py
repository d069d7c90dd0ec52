"""Loopback web sites for benchmarks, served from a separate process so their CPU is not the system's.

Each site is its own address in 127.0.0.0/8 (all loopback on Linux), so per-host politeness is exercised
as on the real web. The server process counts requests and the peak of concurrent requests per host.
It is a real HTTP/1.1 server (keep-alive, a thread per connection) that answers GET only and reads just the
request line and the end of the headers: its CPU is taken from the measured system on a small machine, and
http.server's header parsing and per-response formatting cost more than the pipeline's own fetch.
"""

from __future__ import annotations

import multiprocessing
import socket
import socketserver
import threading
from http import HTTPStatus

Page = tuple[bytes, dict[str, str]]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now; every site serves on it (their addresses differ)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def _serve(sites: dict[str, dict[str, Page]], port: int, ready, stop_event, results) -> None:
    """Child process: one threaded server per site address; report stats when told to stop."""
    stats = {ip: {"requests": 0, "active": 0, "max_concurrent": 0} for ip in sites}
    lock = threading.Lock()
    servers = {}

    for ip, pages in sites.items():
        class Handler(socketserver.StreamRequestHandler):
            site_ip, site_pages = ip, pages

            def handle(self):
                """Answer GET requests on this connection until the client closes it."""
                while True:
                    request_line = self.rfile.readline(65537)
                    if not request_line.strip():
                        return
                    while self.rfile.readline(65537).strip():
                        pass  # headers: nothing in them changes the answer
                    parts = request_line.split()
                    if len(parts) < 2:
                        return
                    self.answer(parts[1].decode("latin-1").split("?")[0])

            def answer(self, path: str) -> None:
                counter = stats[self.site_ip]
                with lock:
                    counter["requests"] += 1
                    counter["active"] += 1
                    counter["max_concurrent"] = max(counter["max_concurrent"], counter["active"])
                try:
                    body, headers = self.site_pages.get(path, (b"not found", {"status": "404"}))
                    status = HTTPStatus(int(headers.get("status", 200)))
                    head = [f"HTTP/1.1 {status.value} {status.phrase}", f"Content-Length: {len(body)}"]
                    head += [f"{key}: {value}" for key, value in headers.items() if key != "status"]
                    self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
                finally:
                    with lock:
                        counter["active"] -= 1

        server = _Server((ip, port), Handler)
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
