"""Shared fixtures: real Redis (own database, flushed around each test), real stores, a loopback HTTP server.

Environment knobs for running suites side by side: WIREDESK_TEST_REDIS_DB (default 13) picks the Redis
database; WIREDESK_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test) the PostgreSQL server.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import pytest
import redis

from config import Settings, load_settings

REDIS_DB = int(os.environ.get("WIREDESK_TEST_REDIS_DB", "13"))
PG_URL = os.environ.get("WIREDESK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def corpus_path() -> Path:
    """The corpus folder tests read: WIREDESK_CORPUS, else ../shared/corpus beside the project."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
    return Path(os.environ.get("WIREDESK_CORPUS", default))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus; skipped where absent (a user's clone), a failure where CI=true."""
    path = corpus_path()
    if not path.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus not found at {path} (set WIREDESK_CORPUS); CI must have it")
        pytest.skip(f"corpus not found at {path}; set WIREDESK_CORPUS to run this test")
    return path


@pytest.fixture(scope="session")
def seed_dir(corpus) -> Path:
    """../shared/seed, beside the corpus."""
    return corpus.parent / "seed"


@pytest.fixture
def redis_url() -> str:
    return f"redis://127.0.0.1:6379/{REDIS_DB}"


@pytest.fixture
def redis_conn(redis_url):
    """A connection to the test database of the real Redis, flushed before and after the test."""
    conn = redis.Redis.from_url(redis_url)
    try:
        conn.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis does not answer at {redis_url}: {exc}")
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'wiredesk.db'}"


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    import psycopg

    schema = f"wd_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL does not answer at {PG_URL}: {exc}")
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    """Each store test runs on both backends."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def settings(redis_conn, redis_url, sqlite_url, tmp_path) -> Settings:
    """Settings for a test: test Redis database, a fresh SQLite store, private hosts allowed (loopback server)."""
    return load_settings(
        redis_url=redis_url,
        store_url=sqlite_url,
        allow_private_hosts=True,
        host_min_delay=0.0,
        retry_intervals=[1, 2],
        corpus=corpus_path(),
    )


@dataclass
class Route:
    """What the loopback server answers on one path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None


class LoopbackServer:
    """A real threaded HTTP server on 127.0.0.1 with a route table tests fill in; it counts requests per path."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path
                with server._lock:
                    server.hits[path] = server.hits.get(path, 0) + 1
                    server.requests.append((path, dict(self.headers)))
                route = server.routes.get(path) or server.routes.get(path.split("?")[0])
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "9")
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"not found")
                    return
                if route.handler is not None:
                    route.handler(self)
                    return
                self.send_response(route.status)
                headers = {"Content-Type": "text/html; charset=utf-8", **route.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add(self, path: str, body: bytes | str = b"", status: int = 200, **kwargs) -> str:
        """Serve `body` at `path`; return the full URL."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body=body, status=status, **kwargs)
        return self.base + path

    def url(self, path: str) -> str:
        return self.base + path

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server():
    """A loopback HTTP server for the test; stopped afterwards."""
    server = LoopbackServer().start()
    yield server
    server.stop()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll `predicate` until true or `timeout` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
