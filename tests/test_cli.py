"""The `wiredesk` command through click's runner: what a user types, on real Redis, SQLite and a loopback site."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from store.base import open_store
from store.records import FAILED, NEAR, Feed, UrlState
from tests.pages import aeb_pages, rss, seed_page
from tests.store.factory import make_doc

STORY, COPY, OTHER = "3f2a9c0d1e4b5a6f7a8b", "4e3b0d1e2f5c6b7a8b9c", "5d4c1e2f3a6d7c8b9cad"  # 20 hex, as url_id
NOT_UTF8 = "\udcff"  # what Python makes of the byte 0xFF in argv (PEP 383)


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


def at_width(columns, env, *args):
    """`wiredesk ARGS` printing to a terminal `columns` wide (rich reads COLUMNS; a pipe gets 80)."""
    return wiredesk({**env, "COLUMNS": str(columns)}, *args)


def follow_failing(settings, feed_url: str, error: str, page_url: str) -> None:
    """A feed whose last poll failed with `error`, and a page of it that failed for good, as polls and jobs leave
    them."""
    store = open_store(settings.store_url)
    store.migrate()
    store.add_feeds([Feed(url=feed_url)])
    store.save_feed(Feed(url=feed_url, state="backoff", last_status=200, failures=2, last_error=error))
    store.claim_urls([UrlState(url_id=STORY, url=page_url, feed_url=feed_url, state="queued")])
    store.set_url_state(STORY, FAILED, reason="http-404")
    store.close()


def publish(settings, *docs):
    """Put documents in the store the CLI reads, as a worker would (each under its own id as URL id)."""
    store = open_store(settings.store_url)
    store.migrate()
    store.publish_many([(doc, doc.id) for doc in docs])
    store.close()


@pytest.fixture
def stored(settings):
    """Two stories in the store: STORY with a long title on a long host and its copy COPY an hour later, and OTHER."""
    title = "Ceasefire talks resume in Geneva as envoys of both sides meet for a third round " * 3
    publish(settings,
            make_doc(STORY, "ceasefire talks in Geneva", title=title, source="www.news.example-outlet.com",
                     language="en"),
            make_doc(COPY, "ceasefire talks in Geneva", title=title, source="www.example-paper.co.uk", language="en",
                     story_id=STORY, relation=NEAR, similarity=0.93, hours=1),
            make_doc(OTHER, "ceasefire holds elsewhere", title="Ceasefire holds", hours=2))


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


def test_a_password_in_a_feed_url_is_sent_to_the_feed_but_never_printed(env, feed_url, http_server):
    private = feed_url.replace("http://", "http://reader:s3cret@")
    added = wiredesk(env, "feeds", "add", private)
    assert added.exit_code == 0 and "reader:***@" in added.output
    ran = wiredesk(env, "run", "--once", "--processes", "1")
    assert "3 stored" in ran.output
    assert any(path == "/rss.xml" and headers.get("Authorization", "").startswith("Basic ")
               for path, headers in http_server.requests)
    listed = wiredesk(env, "feeds", "list").output + wiredesk(env, "feeds", "list", "--json").output
    assert "s3cret" not in listed + added.output + ran.output and "reader:***@" in listed


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


@pytest.mark.parametrize("cursor", ["abc", "[/b]abc"])
def test_a_bad_cursor_is_an_error_line_and_exit_2_not_a_traceback(env, cursor):
    result = wiredesk(env, "query", "--cursor", cursor, "police")
    assert result.exit_code == 2
    assert f"error: bad cursor '{cursor}'" in result.stderr.splitlines()


@pytest.mark.parametrize("args, name", [
    (["query", NOT_UTF8], "'[TEXT]'"),
    (["query", "--lang", NOT_UTF8], "'--lang'"),
    (["export", "--source", NOT_UTF8], "'--source'"),
    (["show", NOT_UTF8], "'DOC_ID'"),
    (["story", NOT_UTF8], "'STORY_ID'"),
    (["failures", "--reason", NOT_UTF8], "'--reason'"),
])
def test_an_argument_that_is_not_utf8_is_refused_naming_it(env, args, name):
    result = wiredesk(env, *args)
    assert result.exit_code == 2
    assert f"Invalid value for {name}: not valid UTF-8" in result.stderr


@pytest.mark.parametrize("command, until", [("query", "2026-11-03"), ("export", "2026-11-05")])
def test_until_not_after_since_is_refused_naming_until(env, command, until):
    result = wiredesk(env, command, "--since", "2026-11-05", "--until", until)
    assert result.exit_code == 2
    assert "Invalid value for '--until': must be after --since" in result.stderr


@pytest.mark.parametrize("columns", [80, 30])
def test_ids_stay_whole_in_query_and_story_tables_however_narrow(env, stored, columns):
    listed = at_width(columns, env, "query", "ceasefire", "--all-copies").stdout
    shown = at_width(columns, env, "story", STORY).stdout
    assert all(doc_id in listed for doc_id in (STORY, COPY, OTHER))
    assert STORY in shown and COPY in shown
    assert max(len(line) for line in (listed + shown).splitlines()) <= columns


def test_the_next_cursor_is_printed_on_one_line_at_80_columns(env, stored):
    cursor = json.loads(wiredesk(env, "query", "ceasefire", "--limit", "1", "--json").stdout.splitlines()[-1])
    listed = at_width(80, env, "query", "ceasefire", "--limit", "1").stdout
    assert f"more: --cursor {cursor['next_cursor']}\n" in listed


def test_long_titles_take_at_most_two_lines_at_80_columns(env, stored):
    rows = at_width(80, env, "query", "ceasefire", "--all-copies").stdout.splitlines()[2:]  # below the header rule
    assert len(rows) <= 2 * 3  # three documents, two lines each at most
    assert sum(row.rstrip().endswith("…") for row in rows) == 2  # both long titles cut, "Ceasefire holds" whole


def test_story_shows_when_each_copy_was_published(env, stored):
    shown = at_width(80, env, "story", STORY).stdout
    assert "2024-03-01 12:00" in shown and "2024-03-01 13:00" in shown


def test_titles_that_look_like_markup_are_printed_as_written(env, settings):
    publish(settings, make_doc(STORY, "polls close", title="[/update] Polls close"))
    for args in (["query", "polls"], ["show", STORY], ["story", STORY]):
        assert "[/update]" in at_width(80, env, *args).stdout


def test_story_takes_the_id_of_any_of_its_copies(env, stored):
    by_copy = at_width(80, env, "story", COPY)
    assert by_copy.exit_code == 0 and STORY in by_copy.stdout and COPY in by_copy.stdout
    missing = wiredesk(env, "story", "0" * 20)
    assert missing.exit_code == 1 and "no story or document" in missing.stderr


def test_failures_and_feeds_list_print_urls_and_errors_whole_at_80_columns(env, settings):
    feed_url = "http://127.0.0.1:8802/" + "section/" * 6 + "rss.xml"
    error = f"not a feed: {feed_url} answered an HTML page (text/html), not RSS, Atom or JSON Feed"
    page_url = feed_url.replace("rss.xml", "2026/12/03/a-story-with-a-long-slug.html")
    follow_failing(settings, feed_url, error, page_url)
    feeds = at_width(80, env, "feeds", "list").stdout
    failures = at_width(80, env, "failures").stdout
    # Each URL on one line, as grep needs it; the error wrapped, to its last word.
    assert any(feed_url in line for line in feeds.splitlines()), feeds
    assert "JSON Feed" in feeds and "…" not in feeds, feeds
    assert any(page_url in line for line in failures.splitlines()), failures


def test_urls_and_errors_that_look_like_markup_are_printed_as_written(env, settings):
    feed_url, page_url = "http://a.example/[/x]/rss.xml", "http://a.example/[/x]/story"
    follow_failing(settings, feed_url, "bad [/x] feed", page_url)
    feeds = at_width(200, env, "feeds", "list").stdout
    assert feed_url in feeds and "bad [/x] feed" in feeds
    assert page_url in at_width(200, env, "failures").stdout
    removed = wiredesk(env, "feeds", "remove", "http://b.example/[/x]/rss.xml")
    assert removed.exit_code == 1 and "not followed: http://b.example/[/x]/rss.xml" in removed.stderr


def test_show_names_the_authors_the_site_and_the_wire_agency(env, settings):
    publish(settings, make_doc(STORY, "polls close", title="Polls close", authors=["Ana Lopez", "Tom Berg"],
                               site_name="The [Daily] Example", wire="AP"))
    shown = at_width(80, env, "show", STORY).stdout
    assert "by Ana Lopez, Tom Berg · The [Daily] Example · wire AP" in shown.splitlines()


def test_a_query_may_start_with_a_word_to_exclude_and_unknown_options_are_still_refused(env, stored):
    found = wiredesk(env, "query", "-geneva ceasefire", "--all-copies", "--json")
    assert found.exit_code == 0, found.stderr
    assert [json.loads(line)["id"] for line in found.stdout.splitlines()] == [OTHER]
    assert wiredesk(env, "query", "-geneva").exit_code == 0
    mistyped = wiredesk(env, "query", "ceasefire", "--jsn")
    assert mistyped.exit_code == 2 and "No such option '--jsn'" in mistyped.stderr


def test_redis_lost_in_the_middle_of_a_command_is_an_error_line_and_exit_2():
    import redis

    from cli import _Main

    group = _Main(name="wiredesk")

    @group.command()
    def drain():  # as `run --once` when Redis goes away after its first ping
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    result = CliRunner().invoke(group, ["drain"])
    assert result.exit_code == 2
    assert "Redis unreachable" in result.stderr and "Traceback" not in result.output
