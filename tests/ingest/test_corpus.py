"""Every real and broken feed of the corpus goes through the poller from a loopback server without a crash."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from ingest.poller import poll_feeds
from store.records import Feed

HEADER = re.compile(r"^\s*Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)
ENCODINGS = {".gz": "gzip", ".z": "deflate"}
FEEDPARSER_DIRS = ("illformed", "encoding", "entities", "compression", "http", "wellformed")


def served_headers(path: Path, body: bytes) -> tuple[int, dict[str, str]]:
    """The status and headers a feedparser test file asks for in its leading comment (`Header:` lines)."""
    headers = {"Content-Type": "application/xml"}
    status = 200
    comment = body[:4096].decode("latin-1")
    comment = comment[:comment.find("-->")] if "-->" in comment else ""
    for name, value in HEADER.findall(comment):
        name = "-".join(part.capitalize() for part in name.split("-"))
        if name == "Status":
            status = int(value)
        else:
            headers[name] = value
    if path.suffix in ENCODINGS:
        headers["Content-Encoding"] = ENCODINGS[path.suffix]
    return status, headers


def corpus_files(corpus: Path) -> list[Path]:
    """The feedparser test files and the real feed snapshots (expected-output files left out)."""
    files = [p for d in FEEDPARSER_DIRS for p in sorted((corpus / "feedparser-tests" / d).rglob("*")) if p.is_file()]
    files += [p for p in sorted((corpus / "feeds").rglob("*"))
              if p.is_file() and "expected-output" not in p.parts and not p.name.endswith(".serde.json")]
    return files


def test_every_corpus_feed_is_polled_without_an_unhandled_exception(settings, store, redis_conn, http_server,
                                                                     corpus, caplog):
    files = corpus_files(corpus)
    assert len(files) > 2000
    for path in files:
        body = path.read_bytes()
        status, headers = served_headers(path, body)
        route = "/" + quote(str(path.relative_to(corpus)))
        http_server.add(route, body, status=status, headers=headers)
        store.add_feeds([Feed(url=http_server.url(route))])
    outcomes = []
    broad = settings.model_copy(update={"poll_per_host": settings.poll_concurrency})
    with caplog.at_level(logging.ERROR, logger="ingest"):
        summary = poll_feeds(broad, store, redis_conn, progress=outcomes.append)
    assert summary.polled == len(files)
    assert [r.getMessage() for r in caplog.records] == []
    silent = [o.url for o in outcomes if o.result == "changed" and o.entries == 0 and not o.error]
    assert silent == []
    failed = [o for o in outcomes if o.result in ("failed", "not-a-feed")]
    assert all(store.get_feed(o.url).last_error for o in failed)
    assert summary.changed > len(files) // 2


@pytest.mark.parametrize("name", ["deflate.z", "gzip.gz"])
def test_compressed_feed_is_decoded(settings, store, redis_conn, http_server, corpus, name):
    path = corpus / "feedparser-tests" / "compression" / name
    status, headers = served_headers(path, path.read_bytes())
    url = http_server.add("/" + name, path.read_bytes(), status=status, headers=headers)
    store.add_feeds([Feed(url=url)])
    poll_feeds(settings, store, redis_conn)
    assert store.get_feed(url).last_status == 200 and store.get_feed(url).state == "ok"
