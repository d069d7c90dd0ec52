"""The embedded backend: one SQLite file in WAL mode, shared by the API and worker processes; FTS5 search."""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from store.base import StoreError, StoreUnavailable
from store.filters import LIST, PROBE, WALK
from store.rows import Codec
from store.sql import SQLStore

LOGGER = logging.getLogger(__name__)

CACHE_KIB = 65536  # page cache per connection (allocated as used)
BUSY_TIMEOUT = 10.0  # seconds a writer waits for another process's write lock before StoreUnavailable
# WAL pages after which a commit checkpoints (default 1000, 4 MB). Each checkpoint costs two fsyncs besides the
# copy, and at 1M documents a publish writes ~30 KB of WAL (row, indexes, FTS5 segments and merges), so the
# default checkpointed every ~130 documents, copying index pages that the next commits dirty again. Loading 1M
# in publish_many of 500: 4,386 docs/s before (final checkpoint not timed), 5,335 after (timed) (bench/store.py).
WAL_CHECKPOINT_PAGES = 25600
FETCH_BATCH = 500
# Deferred indexing (migration 0003): a publish indexes the queue once it holds FLUSH_DOCS documents or its
# oldest is FLUSH_SECONDS old; search and iter_documents index whatever is queued before they read.
# 5,000 rather than 2,000: bulk loads write fewer, larger FTS5 segments, so fewer merges (loading 1M in publish_many
# of 500: 4,943 -> 5,169 docs/s, same machine and day). A stream of workers flushes by age long before.
FLUSH_DOCS = 5000
FLUSH_SECONDS = 2.0
WALK_PROBES = 200  # text-index probes a date-ordered page may spend walking documents newest first
ROW_STEPS = 8  # a documents row lookup costs about as much as this many steps along an index
MAX_SEQ_RANGES = 16  # seq ranges a date-ranged relevance window walks one by one (seq_ranges)
# Messages of sqlite3.OperationalError that mean "try again later", not a bug.
_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o")


# The stores of this process, whose connections are closed before it forks. SQLite must not cross a fork: a
# child opening the same file reuses the parent's file descriptors, and with them locks it believes it holds
# (SQLite's table of open files is per process, POSIX locks belong to the parent). Once the parent had gone (a
# killed `wiredesk worker` or `run`), the next process to close the store saw no reader, checkpointed and
# deleted the WAL the children still wrote to: their commits were lost while they logged "stored".
# Forks happen on the thread that uses the store (the CLI's, an rq worker's), whose connection is the one closed.
_STORES: weakref.WeakSet = weakref.WeakSet()


def _close_before_fork() -> None:
    for store in list(_STORES):
        store.close()


os.register_at_fork(before=_close_before_fork)


def sqlite_path(url: str) -> str:
    """The file a `sqlite:///relative.db` or `sqlite:////absolute.db` URL names."""
    if not url.startswith("sqlite:///"):
        raise StoreError(f"SQLite URL must look like sqlite:///path.db, got {url!r}")
    return url.removeprefix("sqlite:///")


class SQLiteStore(SQLStore):
    """Store in an SQLite file: one connection per process and thread, writers serialised by BEGIN IMMEDIATE."""

    dialect = "sqlite"
    codec = Codec()
    # Without planner statistics (the store gathers none) SQLite may start a join from another filter's index
    # (a language: most documents) rather than from the label's few; CROSS JOIN keeps the written order.
    label_join = "CROSS JOIN"

    def __init__(self, url: str, auto_migrate: bool = True, busy_timeout: float = BUSY_TIMEOUT):
        self.path, self.busy_timeout = sqlite_path(url), busy_timeout
        if sqlite3.sqlite_version_info < (3, 35):
            raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old: 3.35+ needed for RETURNING")
        super().__init__(url, auto_migrate)
        _STORES.add(self)

    def _connect(self):
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves; the connection may serve a streaming
            # generator consumed on another thread, but never two threads at once (connections are per thread).
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; WAL keeps the file consistent
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            # A batch dirties index pages all over a million-document store (dates, sources, stories are not in
            # insert order); with the default 2 MB cache they spill to the WAL mid-transaction and are read back.
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc
        return conn

    @contextmanager
    def _transaction(self, conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _classify(self, exc: Exception):
        if isinstance(exc, sqlite3.OperationalError) and any(word in str(exc).lower() for word in _TRANSIENT):
            return StoreUnavailable
        if isinstance(exc, sqlite3.Error):
            return StoreError
        return None

    def _prepare_migration(self, conn) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version"
                     " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")

    def _schema_version(self, conn) -> int:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'").fetchone() is None:
            return 0
        return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]

    def _run_script(self, conn, sql: str) -> None:
        # executescript would COMMIT our transaction first, so split into statements (triggers kept whole).
        statement = ""
        for line in sql.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                conn.execute(statement)
                statement = ""
        if statement.strip():
            conn.execute(statement)  # trailing comments are a no-op; a truncated statement raises

    def _stream(self, conn, sql: str, params: list) -> Iterator:
        cursor = conn.execute(sql, params)
        try:
            while rows := cursor.fetchmany(FETCH_BATCH):
                yield from rows
        finally:
            cursor.close()

    def text_filter(self, alias: str, tq, plan: str) -> tuple[str, list]:
        matches = "(SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?)"
        if plan == PROBE:  # seek this row in the index: many index segments to visit, so ~0.1 ms a row
            return f"EXISTS (SELECT 1 FROM documents_fts WHERE documents_fts MATCH ? AND rowid = {alias}.seq)", [tq.fts]
        # The match list is built once per statement (a few ms for 100,000 matches); unary + keeps SQLite
        # from driving the plan by it, so another index (dates) is walked and each row looked up in the list.
        column = f"+{alias}.seq" if plan == WALK else f"{alias}.seq"
        return f"{column} IN {matches}", [tq.fts]

    def date_plan(self, tq, limit: int) -> str:
        # Costs per page, for m matches of n stored documents: a walk in date order meets a match every n/m
        # rows, so PROBE costs about limit*n/m probes and WALK the list of m plus limit*n/m index steps; LIST
        # looks up and sorts all m rows (a row lookup costs ROW_STEPS index steps).
        stored = self._stored()
        many = limit * stored // WALK_PROBES
        if self._matches_reach(tq, many):
            return PROBE
        return WALK if self._matches_reach(tq, math.isqrt(limit * stored // max(1, ROW_STEPS))) else LIST

    def match_window(self, tq, conds: str, few_conds: str, passing: int) -> tuple[str, str, list]:
        # FTS5 walks its doclists in rowid (seq) order and stops at the LIMIT: no full match list is built.
        # bm25 is lower-is-better; negate it so both backends rank higher-is-better. Title counts double.
        rank = "-bm25(documents_fts, 2.0, 1.0)"
        window = (f"SELECT d.seq, d.id, d.story_id, {rank} AS rank"
                  " FROM documents_fts JOIN documents d ON d.seq = documents_fts.rowid"
                  f" WHERE documents_fts MATCH ? AND documents_fts.rowid >= ? AND documents_fts.rowid < ? AND {conds}"
                  " ORDER BY documents_fts.rowid DESC LIMIT ?")
        # Few filtered documents: their matches from the match list, read once. This probed the text index for
        # each of them instead below a match count, but a probe that finds its document costs ~4 ms for a word
        # in a third of a million documents (one that misses ~35 us; bm25's statistics recomputed per probe, it
        # seems): the Reuters documents of two weeks (~600) took 2.6 s for "people", 23.5 ms from the list.
        few = (f"SELECT d.seq, d.id, d.story_id, {rank} AS rank"
               " FROM documents_fts JOIN documents d ON d.seq = documents_fts.rowid WHERE documents_fts MATCH ?"
               f" AND +documents_fts.rowid IN (SELECT d.seq FROM documents d WHERE {few_conds})")
        return window, few, [tq.fts]

    def seq_ranges(self, query) -> list[tuple[int, int]] | None:
        # Zones of 1024 seqs with their date span (migration 0007); adjacent zones meeting the range make one
        # range. Only a published range bounds dated (store.filters); a fetched range is not bounded here.
        if query.date_field != "published" or (query.since is None and query.until is None):
            return None
        since, until = self.codec.dump_time(query.since), self.codec.dump_time(query.until)
        zones = self._rows("SELECT block, low_seq, high_seq FROM seq_zones WHERE (? IS NULL OR high_dated >= ?)"
                           " AND (? IS NULL OR low_dated < ?) ORDER BY block DESC", [since, since, until, until])
        ranges: list[list[int]] = []
        for zone in zones:
            if ranges and zone["block"] == ranges[-1][2] - 1:
                ranges[-1][0], ranges[-1][2] = zone["low_seq"], zone["block"]
            else:
                ranges.append([zone["low_seq"], zone["high_seq"] + 1, zone["block"]])
        if len(ranges) > MAX_SEQ_RANGES:  # one statement per range: past a few, one range around them all
            return [(ranges[-1][0], ranges[0][1])]
        return [(low, high) for low, high, _ in ranges]

    def _stored(self) -> int:
        """Documents ever stored (the highest seq): an instant upper bound of the count."""
        return self._one("SELECT coalesce(max(seq), 0) AS n FROM documents")["n"]

    def _matches_reach(self, tq, cap: int) -> bool:
        """Whether at least `cap` documents match `tq` (counting stops there; none if more than are stored)."""
        if cap > self._stored():
            return False
        found = self._one("SELECT count(*) AS n FROM (SELECT 1 FROM documents_fts WHERE documents_fts MATCH ?"
                          " LIMIT ?)", [tq.fts, max(1, cap)])["n"]
        return found >= max(1, cap)

    def checkpoint(self) -> None:
        with self._guard():
            self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def flush(self) -> None:
        if self._one("SELECT 1 FROM fts_pending LIMIT 1") is not None:
            with self._tx() as conn:
                self._index_pending(conn)

    def _index_due(self, conn) -> None:
        # Two seeks on the primary key, not a count of the queue (~80 us, as much as the rest of a small publish):
        # the seq span bounds the count from above, and the lowest seq was queued first unless an old document
        # was republished, whose span then calls for indexing anyway.
        due = conn.execute("SELECT (SELECT max(seq) FROM fts_pending) - (SELECT min(seq) FROM fts_pending) + 1 >= ?"
                           " OR (julianday('now') - (SELECT queued FROM fts_pending ORDER BY seq LIMIT 1))"
                           " * 86400.0 >= ?",
                           [FLUSH_DOCS, FLUSH_SECONDS]).fetchone()[0]
        if due:
            self._index_pending(conn)

    def _index_pending(self, conn) -> None:
        """Index every queued document in this transaction: one FTS5 segment for the lot."""
        cur = conn.execute("INSERT INTO documents_fts (rowid, title, text) SELECT d.seq, d.title, d.text"
                           " FROM fts_pending p JOIN documents d ON d.seq = p.seq ORDER BY p.seq")
        conn.execute("DELETE FROM fts_pending")
        LOGGER.debug("indexed %d queued documents", cur.rowcount)
