"""The `wiredesk` command through click's runner: what a user types, on real Redis, SQLite and a loopback site."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from tests.pages import aeb_pages, rss, seed_page


@pytest.fixture
def env(settings, tmp_path):
    """The environment a user would export: test Redis, a fresh SQLite file, loopback allowed."""
    return {
        "WIREDESK_REDIS_URL": settings.redis_url,
        "WIREDESK_STORE_URL": settings.store_url,
        "WIREDESK_ALLOW_PRIVATE_HOSTS": "1",
        "WIREDESK_HOST_MIN_DELAY": "0",
        "WIREDESK_CROSSLINGUAL": "0",
        "WIREDESK_CONFIG": "",
    }


def wiredesk(env, *args):
    """Run `wiredesk ARGS` and return the result (stdout and stderr kept apart)."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def feed_url(http_server, corpus, seed_dir):
    """A loopback site with the French seed article, two real English pages and a dead link."""
    title, french = seed_page(seed_dir)
    items = [{"title": title, "link": http_server.add("/fr/kharkiv", french)}]
    for key, html, _ in aeb_pages(corpus, 2):
        items.append({"title": key, "link": http_server.add(f"/en/{key}", html)})
    items.append({"title": "dead", "link": http_server.url("/dead")})
    return http_server.add("/rss.xml", rss("Le Quotidien", items), headers={"Content-Type": "application/rss+xml"})


def test_add_run_once_then_query_finds_the_french_article_as_json_lines(env, feed_url):
    added = wiredesk(env, "feeds", "add", feed_url)
    assert added.exit_code == 0 and "added" in added.output

    ran = wiredesk(env, "run", "--once", "--processes", "1")
    assert ran.exit_code == 0, ran.output
    assert "4 new enqueued" in ran.output
    assert "3 stored, 0 duplicate, 1 failed" in ran.output

    found = wiredesk(env, "query", "kharkiv", "--lang", "fr", "--json")
    rows = [json.loads(line) for line in found.stdout.splitlines()]
    assert len(rows) == 1
    assert rows[0]["language"] == "fr" and "Kharkiv" in rows[0]["text"]

    shown = wiredesk(env, "show", rows[0]["id"], "--json")
    assert json.loads(shown.stdout)["url"].endswith("/fr/kharkiv")


def test_run_once_without_a_redis_starts_an_embedded_one(env, feed_url):
    env = {**env, "WIREDESK_REDIS_URL": "redis://127.0.0.1:1/0"}
    wiredesk(env, "feeds", "add", feed_url)
    ran = wiredesk(env, "run", "--once", "--processes", "1")
    assert ran.exit_code == 0, ran.output
    assert "3 stored" in ran.output


def test_poll_exits_non_zero_only_when_redis_is_unreachable(env, feed_url):
    wiredesk(env, "feeds", "add", feed_url)
    assert wiredesk(env, "poll").exit_code == 0
    down = wiredesk({**env, "WIREDESK_REDIS_URL": "redis://127.0.0.1:1/0"}, "poll")
    assert down.exit_code == 2
    assert "Redis unreachable" in down.output


def test_status_and_failures_report_every_url_state(env, feed_url):
    wiredesk(env, "feeds", "add", feed_url)
    wiredesk(env, "run", "--once", "--processes", "1")
    status = json.loads(wiredesk(env, "status", "--json").stdout)
    assert status["urls"] == {"stored": 3, "failed": 1}
    assert status["queue_depth"] == 0 and status["oldest_queued_seconds"] is None
    assert status["failed_last_hour"] == {"http-404": 1}
    assert status["documents"] == 3 and status["duplicate_rate"] == 0.0
    failures = [json.loads(line) for line in wiredesk(env, "failures", "--json").stdout.splitlines()]
    assert [(f["state"], f["reason"]) for f in failures] == [("failed", "http-404")]
    assert wiredesk(env, "failures", "--reason", "timeout", "--json").stdout == ""


def test_export_streams_every_document_as_json_lines(env, feed_url):
    wiredesk(env, "feeds", "add", feed_url)
    wiredesk(env, "run", "--once", "--processes", "1")
    lines = wiredesk(env, "export").stdout.splitlines()
    docs = [json.loads(line) for line in lines]
    assert len(docs) == 3
    assert all(doc["story_id"] for doc in docs)


def test_feeds_import_export_round_trip(env, corpus, tmp_path):
    source = next((corpus / "opml" / "plenary-awesome-rss-feeds").rglob("*.opml"))
    imported = wiredesk(env, "feeds", "import", str(source))
    assert imported.exit_code == 0 and "feeds read" in imported.output
    exported = wiredesk(env, "feeds", "export").stdout
    path = tmp_path / "again.opml"
    path.write_text(exported)
    again = wiredesk(env, "feeds", "import", str(path))
    assert again.stdout.strip().endswith(", 0 new")


def test_malformed_opml_is_a_clear_error_and_imports_nothing(env, tmp_path):
    path = tmp_path / "broken.opml"
    path.write_text("<opml><body><outline xmlUrl='http://a.example/rss'")
    result = wiredesk(env, "feeds", "import", str(path))
    assert result.exit_code == 1
    assert "broken.opml" in result.output
    assert wiredesk(env, "feeds", "list", "--json").stdout == ""


def test_bad_date_option_says_what_is_wrong(env):
    result = CliRunner().invoke(main, ["query", "x", "--since", "yesterday-ish"], env=env)
    assert result.exit_code == 2
    assert "is not a date" in result.output
