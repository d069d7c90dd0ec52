"""The reading page in a real headless Chromium (Debian's package) driven by Playwright, phone-sized:
search, open the copies, open a story, see every copy, then the feeds; screenshots in tests/artifacts/."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from config import load_settings
from store.base import open_store
from store.records import Feed
from tests.conftest import wait_for

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _require_browser():
    """Playwright's sync API, or a skip (a failure where CI=true) saying what is missing."""
    missing = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
        missing.append("the playwright package (pip install playwright)")
    if not shutil.which(CHROMIUM):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must have it")
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture
def server(filled_sqlite):
    """The app served by uvicorn on a free loopback port, in a thread; yields its base URL and the newsroom."""
    store = open_store(filled_sqlite[0])
    store.add_feeds([Feed(url="https://www.reuters.com/rss", title="Reuters World"), Feed(url="https://gone.example/rss")])
    store.save_feed(Feed(url="https://gone.example/rss", state="gone", last_status=410, failures=2,
                         last_error="HTTP 410 Gone"))
    store.close()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = create_app(load_settings(store_url=filled_sqlite[0]))
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: uv.started, timeout=10), "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", filled_sqlite[1]
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_real_server_refuses_a_100_kb_query_string_as_too_long(server):
    base, _ = server
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(b"GET /v1/documents?q=" + b"copper%22*NEAR(%00" * 6000 + b" HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.1 422 ")


def test_reader_searches_opens_a_story_and_sees_its_copies(server):
    sync_playwright = _require_browser()
    base, room = server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            page.goto(base + "/")
            page.fill("input[name=q]", "copper miners")
            page.click("button[type=submit]")
            page.wait_for_url("**/?q=copper+miners*")
            result = page.locator("li.story").first
            assert "Also published by 3 outlets" in result.inner_text()
            result.locator("details.copies summary").click()
            assert result.locator(".badge.translation").first.is_visible()
            page.screenshot(path=ARTIFACTS / "search.png", full_page=True)

            result.locator("h2 a").click()
            page.wait_for_url(f"**/story/{room.story}")
            assert page.locator("h1").inner_text() == "Striking Arizona copper miners determined to continue fight"
            copies = page.locator("div.copy")
            assert copies.count() == 3
            assert sorted(copies.locator("h3 a").all_inner_texts()) == ["apnews.com", "azcentral.com", "elpais.com"]
            assert page.locator("div.copy.near ins").first.inner_text() == "Copper miners on strike in"
            page.screenshot(path=ARTIFACTS / "story.png", full_page=True)

            page.click("header nav >> text=Feeds")
            page.wait_for_url("**/feeds")
            assert page.locator("li.feed.gone .badge").inner_text() == "gone"
            page.screenshot(path=ARTIFACTS / "feeds.png", full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "story.png").stat().st_size > 10_000
