"""The server backend: PostgreSQL through psycopg 3, a generated tsvector with a GIN index, unaccent for diacritics."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterator
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from store import relevance
from store.base import StoreError, StoreUnavailable
from store.filters import LIST
from store.rows import Codec, utc
from store.sql import SQLStore

LOGGER = logging.getLogger(__name__)

FETCH_BATCH = 500
CONNECT_TIMEOUT = 10  # seconds
PHRASE_SPAN = 20_000  # seqs a phrase's relevance window looks at first (store.sql.SQLStore.window_span)
# A word in fewer than SPAN_MAX_SHARE of the documents is found by GIN, and the planner then reads every match's
# row for its seq (15,000 rows, ~70 ms, for a word in 1.5% of a million documents). From SPAN_MIN_MATCHES up, a
# window reads its matches in a seq range sized to hold about SPAN_SLACK windows of them (migration 0009's BRIN
# index gives the range's pages for a few ms: 12 ms for the 565,000 seqs of a match in 0.27% of a million).
# Below it the matches are few enough to read all (a phrase's 2,650 at 1M: 25 ms, against 34 ms in a range); the
# planner's estimate for a word outside its most-common list (a serial token, a name) stays below it too.
SPAN_MIN_MATCHES = 3 * relevance.WINDOW
SPAN_MAX_SHARE = 0.05
SPAN_SLACK = 1.5
# Adding a GIN match to a bitmap costs ~0.5 us and testing a row ~7 us (1M-document bench): the few documents a
# filter leaves are tested row by row when the planner expects the text in this many times more documents.
PROBE_RATIO = 15
TSQUERY = "wd_tsquery(?, ?)"  # migration 0014; its parameters: ts_params(tq)
# The text and pair indexes take new entries in a pending list (GIN fast update, 16 MB) that the insert finding it
# full merges into the index, holding at most work_mem of entries at a time: at PostgreSQL's default 4 MB a merge
# takes several passes, each rewriting (and, after a checkpoint, logging whole) pages all over the pair index.
# Measured at 1.06M documents (bench/store.py --sample, merge of what is left pending included): 95 -> 212
# docs/s in batches of 500 (WAL 907 -> 435 KB a document) and 92 -> 144 one at a time (set for the whole
# database instead: 64 MB 181, 128 MB 194). Only the backend merging holds that memory (the others skip the merge
# while one runs), and only in a publish transaction.
MERGE_WORK_MEM = "64MB"
GIN_INDEXES = ("documents_tsv", "documents_pairs")


def ts_params(tq) -> list:
    """The parameters of one TSQUERY: the compiled query's template and its words."""
    return [tq.tsquery, list(tq.ts_words)]


class PgCodec(Codec):
    """PostgreSQL keeps timestamptz and jsonb natively."""

    def dump_time(self, value: datetime | None):
        return None if value is None else utc(value)

    def dump_list(self, value: list[str]):
        return Jsonb(list(value or []))


class PostgresStore(SQLStore):
    """Store in PostgreSQL; honours the search_path given in the URL (`?options=-csearch_path%3Dschema`)."""

    dialect = "postgres"
    codec = PgCodec()
    lock_row = " FOR UPDATE"

    def _connect(self):
        try:
            # prepare_threshold=None: no server-side prepared statements, so each search is planned with its
            # own words (a generic plan cannot tell a rare word, best found by GIN, from a common one)
            conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT,
                                   prepare_threshold=None)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        conn.execute("SET TIME ZONE 'UTC'")
        return conn

    def _transaction(self, conn):
        return conn.transaction()

    def _before_publish(self, conn) -> None:
        conn.execute(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")

    def checkpoint(self) -> None:
        """Merge the text indexes' pending lists now (a search reads a pending list whole, entry by entry)."""
        with self._tx() as conn:
            conn.execute(f"SET LOCAL maintenance_work_mem = '{MERGE_WORK_MEM}'")
            for index in GIN_INDEXES:
                conn.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])

    def _sql(self, sql: str) -> str:
        # Shared statements use `?` and no literal `%`; psycopg wants `%s`.
        return sql.replace("?", "%s")

    def _classify(self, exc: Exception):
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return StoreUnavailable
        if isinstance(exc, psycopg.Error):
            return StoreError
        return None

    def _prepare_migration(self, conn) -> None:
        # One migrator per schema at a time; the lock ends with the transaction.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('wiredesk-migrate:' || current_schema()))")
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'").fetchone() is None:
            # Database-wide, so in public whatever the search_path; needs superuser or a trusted-extension grant.
            try:
                with conn.transaction():  # a savepoint, so a lost race does not abort the migration
                    conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
            except psycopg.errors.UniqueViolation:
                LOGGER.debug("another process created unaccent concurrently")
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version"
                     " (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)")

    def _schema_version(self, conn) -> int:
        if conn.execute("SELECT to_regclass('schema_version') AS t").fetchone()["t"] is None:
            return 0
        return conn.execute("SELECT coalesce(max(version), 0) AS v FROM schema_version").fetchone()["v"]

    def _run_script(self, conn, sql: str) -> None:
        conn.execute(sql)  # no parameters: psycopg sends the whole file as one simple query

    def _stream(self, conn, sql: str, params: list) -> Iterator:
        with conn.transaction(), conn.cursor(name=f"wd_iter_{uuid.uuid4().hex[:12]}") as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(FETCH_BATCH):
                yield from rows

    def text_filter(self, alias: str, tq, plan: str) -> tuple[str, list]:
        # One form for every plan: PostgreSQL chooses GIN or a row-by-row test from the statistics.
        if not tq.phrases:
            return f"{alias}.tsv @@ {TSQUERY}", ts_params(tq)
        # The phrases' pairs drive the plan (migration 0010); the words' GIN, whose lists hold every document
        # with the phrase's words wherever they are, is kept out of it: ts_match_vq is @@ that no index serves.
        pairs = " AND ".join(f"{alias}.pairs @> wd_phrase_keys(?)" for _ in tq.phrases)
        return f"{pairs} AND ts_match_vq({alias}.tsv, {TSQUERY})", [*tq.phrases, *ts_params(tq)]

    def match_window(self, tq, conds: str, few_conds: str, passing: int) -> tuple[str, str, list]:
        # The planner picks GIN for rare words and a backward walk of the seq index for common ones. Rank is
        # computed above the LIMIT, for the window's rows only (their tsvector fetched again by seq): in the
        # scan's own target list PostgreSQL would rank (and read the tsvector of) every GIN match before
        # sorting them. float8: float4 text would not round-trip through a cursor.
        test, params = self.text_filter("d", tq, LIST)
        window = (f"SELECT w.seq, w.id, w.story_id, ts_rank_cd(r.tsv, {TSQUERY})::float8 AS rank FROM"
                  f" (SELECT d.seq, d.id, d.story_id FROM documents d WHERE {test}"
                  f" AND d.seq >= ? AND d.seq < ? AND {conds} ORDER BY d.seq DESC LIMIT ?) w"
                  " JOIN documents r ON r.seq = w.seq ORDER BY w.seq DESC")
        # The planner ANDs the filter's index with GIN even for a word in a third of all documents, whose GIN
        # list alone is ~150 ms at a million (a source of 3,000 documents tested row by row: ~25 ms).
        # ts_match_vq is @@ written as a function call, which no index serves.
        if not tq.phrases and passing < relevance.SELECTIVE and self.estimate_matches(tq) > PROBE_RATIO * passing:
            test = f"ts_match_vq(d.tsv, {TSQUERY})"
        probe = (f"SELECT d.seq, d.id, d.story_id, ts_rank_cd(d.tsv, {TSQUERY})::float8 AS rank FROM documents d"
                 f" WHERE {test} AND {few_conds}")
        return window, probe, [*ts_params(tq), *params]

    def estimate_matches(self, tq) -> float:
        """The planner's estimate of the documents matching `tq` (from the text index's statistics; for required
        phrases, of the documents holding their pairs)."""
        if tq.phrases:
            test = " AND ".join("d.pairs @> wd_phrase_keys(?)" for _ in tq.phrases)
            params = list(tq.phrases)
        else:
            test, params = f"d.tsv @@ {TSQUERY}", ts_params(tq)
        plan = self._one(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM documents d WHERE {test}", params)
        return plan["QUERY PLAN"][0]["Plan"]["Plan Rows"]

    def window_span(self, tq) -> int | None:
        # PostgreSQL estimates a phrase as common as its words together: for two common words seldom adjacent it
        # walks the newest rows testing each for the phrase (seconds at a million documents). In bounded seq
        # ranges it tests only the words' common documents there (GIN), and stops at the range holding the
        # window's last match. A phrase every match contains is found by its pairs instead, like a word.
        if "<->" in tq.tsquery and not tq.phrases:
            return PHRASE_SPAN
        # Common words are best walked down the seq index, testing each row, and rare ones read whole.
        matches = self.estimate_matches(tq)
        top = self._one("SELECT coalesce(max(seq), 0) AS top FROM documents")["top"]
        if matches <= 0 or not SPAN_MIN_MATCHES <= matches <= SPAN_MAX_SHARE * top:
            return None
        return math.ceil(SPAN_SLACK * relevance.WINDOW * top / matches)

    def window_rows(self, sql: str, params: list) -> list:
        # The planner prices a phrase test like a comparison (it decompresses a tsvector: ~30 us) and would still
        # walk the range's rows in seq order testing each; with index scans off it tests the GIN candidates only.
        with self._guard():
            conn = self._conn()
            with conn.transaction():
                conn.execute("SET LOCAL enable_indexscan = off")
                return conn.execute(self._sql(sql), params).fetchall()
