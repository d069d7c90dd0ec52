"""Document store at scale: insert docs/s, bytes per document, p50/p95 of 23 top-20 queries, on both backends.

Documents are made from the corpus's real article texts (aeb ground truth, newspaper expected texts):
each is a base text with its sentences shuffled and partly dropped, plus a serial token, so all are
distinct; one in five joins an earlier document's story as a near copy. Each comes through its source's
feed, one in twenty is flagged paywalled. They arrive in fetch order, as a
stream does: `--docs` of them fetched at a steady pace over a year (a sample continues at that pace), each
published up to a few hours before its fetch (exponential, mean 30 minutes), one in twenty a late arrival
published up to three days earlier, so date order follows arrival order only roughly. (Random dates over the
year, as this bench once used, overstate the cost of the date-keyed indexes, whose inserts then land all over
the B-tree, and misrepresent date-range queries, whose matches a real store keeps together.) They are
published one call per document, as a worker job does (`--batch N` uses Store.publish_many for N at a time
instead); the insert time includes the final Store.flush, so every document is searchable when the clock stops,
and Store.checkpoint, so SQLite's WAL holds no deferred copying either.
Targets (issue 6): >= 5,000 docs/s on SQLite; p95 <= 50 ms at 1M on both.

    .venv/bin/python -m bench.store [--docs 1000000] [--batch 1] [--backends sqlite,postgres] [--pg-url URL]
    .venv/bin/python bench/store.py ...   (the same)

The insert time is the store's alone (making the documents is not timed); next to it, SQLite's figure
has a baseline from the same run: bare FTS5 inserts of such documents, the ceiling of indexing alone.
`--sqlite-path` and `--pg-schema` keep the loaded store for later runs, which time the queries on it
again without loading (`--only` picks queries by name), after publishing `--sample N` more documents,
timed: the insert rate at that size. `--copy` bulk-loads an empty PostgreSQL store with COPY, untimed
(its own ingest rate, a few hundred documents per second, would take an hour for a million).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import py3langid

if __package__ in (None, ""):  # run as a file: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import load_settings  # noqa: E402
from store.base import open_store  # noqa: E402
from store.records import NEAR, ORIGINAL, Document, Query  # noqa: E402
from store.rows import DOC_COLUMNS  # noqa: E402

BASE = datetime(2024, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)  # the span `--docs` documents are fetched over
PAYWALLED_EVERY = 20  # one document in this many is flagged paywalled
LATE_SHARE = 0.05  # documents published up to LATE_DAYS before their fetch
LATE_DAYS = 3
CEILING_DOCS = 50_000  # documents of the bare-FTS5 baseline
REPEATS = 10  # timed runs of each query, after one warm-up run


def load_texts(corpus: Path) -> list[dict]:
    """Real article texts with a source host and a detected language."""
    items = []
    truth = json.loads((corpus / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    for entry in truth.values():
        items.append((entry["articleBody"], urlsplit(entry["url"]).hostname or "aeb.example"))
    for path in sorted((corpus / "newspaper" / "text").glob("*.txt")):
        items.append((path.read_text(encoding="utf-8", errors="replace"), re.sub(r"\d+\.txt$", "", path.name)))
    texts = []
    for text, source in items:
        sentences = [s for s in re.split(r"(?<=[.!?。])\s+", text) if s.strip()]
        if len(sentences) >= 2:
            texts.append({"sentences": sentences, "source": source, "language": py3langid.classify(text)[0]})
    return texts


def feed_of(source: str) -> str:
    """The one feed a bench document arrives through: its source's."""
    return f"https://{source}/feed"


def make_documents(texts: list[dict], count: int, first: int = 0, seed: int = 7, total: int | None = None):
    """`count` distinct documents numbered from `first`, about one in five a copy in an earlier story, fetched in
    number order at the pace that spreads `total` (default `count`) over a year, published a little earlier."""
    rng = random.Random(seed + first)
    step = YEAR / (total or count)
    stories: list[str] = []
    for i in range(first, first + count):
        base = texts[i % len(texts)]
        sentences = base["sentences"][:]
        rng.shuffle(sentences)
        keep = sentences[: max(2, int(len(sentences) * rng.uniform(0.6, 1.0)))]
        doc_id = f"doc{i:08d}"
        copy = stories and rng.random() < 0.2
        story = rng.choice(stories[-1000:]) if copy else doc_id
        if not copy:
            stories.append(doc_id)
        fetched = BASE + step * i
        if rng.random() < LATE_SHARE:
            published = fetched - timedelta(days=rng.uniform(0, LATE_DAYS))
        else:
            published = fetched - timedelta(minutes=min(rng.expovariate(1 / 30), 6 * 60))
        published = published.replace(microsecond=0)
        yield Document(id=doc_id, url=f"https://{base['source']}/a/{i}", title=keep[0][:200],
                       text=" ".join(keep) + f" wd{i}", source=base["source"], fetched=fetched,
                       published=published, language=base["language"], story_id=story, feeds=[feed_of(base["source"])],
                       flags=["paywalled"] if i % PAYWALLED_EVERY == 0 else [],
                       relation=NEAR if copy else ORIGINAL, duplicate_of=story if copy else None,
                       word_count=sum(len(s.split()) for s in keep))


def pick_words(texts: list[dict]) -> dict[str, str]:
    """A frequent, a middling and a rare word of the base texts (letters only, 5+ characters)."""
    counts = Counter(w.lower() for t in texts for s in t["sentences"] for w in re.findall(r"[^\W\d_]{5,}", s))
    ranked = [w for w, _ in counts.most_common()]
    return {"frequent": ranked[10], "middling": ranked[300], "rare": ranked[3000], "other": ranked[40]}


def pick_source(texts: list[dict]) -> str:
    """A source with a single base text: about 1/309 of the documents, a small filter."""
    counts = Counter(t["source"] for t in texts)
    return min(source for source, n in counts.items() if n == 1)


def queries(words: dict[str, str], count: int, source: str) -> list[tuple[str, Query]]:
    """Twenty-three representative top-20 queries."""
    f, m, r, o = words["frequent"], words["middling"], words["rare"], words["other"]
    june, july = BASE + timedelta(days=152), BASE + timedelta(days=182)
    return [
        ("word frequent", Query(text=f)), ("word middling", Query(text=m)), ("word rare", Query(text=r)),
        ("serial token", Query(text=f"wd{count // 2}")), ("two words", Query(text=f"{f} {o}")),
        ("two words rare", Query(text=f"{m} {r}")), ("phrase", Query(text=f'"{f} {o}"')),
        ("prefix", Query(text=f"{m[:4]}*")), ("or", Query(text=f"{m} OR {r}")),
        ("not", Query(text=f"{f} -{o}")), ("lang en + word", Query(text=m, language="en")),
        ("lang es, date order", Query(language="es", order="date")),
        ("date range + word", Query(text=f, since=june, until=july)),
        ("date range, date order", Query(since=june, until=july, order="date")),
        ("latest, one per story", Query(order="date")), ("latest, all copies", Query(order="date", all_copies=True)),
        ("word, date order", Query(text=m, order="date")), ("word, all copies", Query(text=m, all_copies=True)),
        ("source + word", Query(text=f, source=source)), ("page 2 of frequent", None),
        ("feed, date order", Query(feed=feed_of(source), order="date")),
        ("feed + word", Query(text=f, feed=feed_of(source))),
        ("flag, date order", Query(flags=["paywalled"], order="date")),
    ]


def time_queries(store, named: list[tuple[str, Query]], only: set[str]) -> dict[str, list[float]]:
    """Milliseconds of each query's timed runs (those named in `only`, or all when it is empty)."""
    times: dict[str, list[float]] = {}
    first_page = store.search(named[0][1])
    for name, query in named:
        if only and name not in only:
            continue
        if query is None:  # the second page of the first query, by its cursor
            query = Query(text=named[0][1].text, cursor=first_page.next_cursor)
        store.search(query)
        runs = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            store.search(query)
            runs.append((time.perf_counter() - start) * 1000)
        times[name] = runs
    return times


def size_of(store, url: str) -> int:
    """Bytes the store occupies on disk."""
    if url.startswith("sqlite:"):
        store._rows("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(os.path.getsize(p) for p in Path(store.path).parent.glob(Path(store.path).name + "*"))
    row = store._one("SELECT sum(pg_total_relation_size(c.oid)) AS n FROM pg_class c"
                     " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
                     " AND c.relkind IN ('r', 'm')")
    return int(row["n"])


def load(store, texts: list[dict], count: int, batch: int, first: int = 0, total: int | None = None) -> float:
    """Publish `count` documents numbered from `first` (one call each, or `batch` per publish_many) at the pace of
    `total` a year (make_documents); seconds the store spent until all are searchable (making them is not timed)."""
    docs = make_documents(texts, count, first, total=total)
    spent = 0.0
    while chunk := [(doc, doc.id) for doc in itertools.islice(docs, max(batch, 1000))]:
        start = time.perf_counter()
        if batch == 1:
            for doc, url_id in chunk:
                store.publish(doc, url_id)
        else:
            for at in range(0, len(chunk), batch):
                store.publish_many(chunk[at:at + batch])
        spent += time.perf_counter() - start
    start = time.perf_counter()
    store.flush()
    store.checkpoint()
    return spent + time.perf_counter() - start


def fts5_ceiling(texts: list[dict], count: int) -> float:
    """Docs/s of bare FTS5 inserts of the first `count` documents' title and text in one transaction, with the
    store's tokenizer and nothing else (no row, no other index): what SQLite's indexing alone allows."""
    rows = [(doc.title, doc.text) for doc in make_documents(texts, count)]
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(f"{tmp}/ceiling.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("CREATE VIRTUAL TABLE f USING fts5 (title, text, tokenize = 'unicode61 remove_diacritics 2')")
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO f (title, text) VALUES (?, ?)", rows)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
    return count / elapsed


def copy_load(store, texts: list[dict], count: int) -> None:
    """Bulk-load `count` documents into a PostgreSQL store with COPY (untimed preparation of a large store).

    As PostgreSQL's manual advises for bulk loads, the documents' secondary indexes are dropped for the load and
    built again after it (a GIN index built at once takes minutes; kept up row by row with a 128 MB buffer pool
    it slowed the load to ~150 documents/s past 300,000).
    """
    columns = DOC_COLUMNS + ("dated", "stored_at")
    codec, stamp = store.codec, store.codec.dump_time(datetime.now(UTC))
    docs = make_documents(texts, count)
    with store._guard():
        conn = store._conn()
        indexes = conn.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
                               " AND i.tablename = 'documents' AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
                               " WHERE c.conname = i.indexname)").fetchall()
        for index in indexes:
            conn.execute(f"DROP INDEX {index['indexname']}")
        while chunk := list(itertools.islice(docs, 10_000)):
            with conn.transaction(), conn.cursor().copy(
                    f"COPY documents ({', '.join(columns)}) FROM STDIN") as copy:
                for doc in chunk:
                    doc.story_id = doc.story_id or doc.id
                    copy.write_row(codec.params(doc, DOC_COLUMNS) + [codec.dump_time(doc.published), stamp])
            print(f"  copied {chunk[-1].id}", file=sys.stderr, flush=True)
        conn.execute("SET maintenance_work_mem = '1GB'")
        for index in indexes:
            conn.execute(index["indexdef"])
            print(f"  built {index['indexname']}", file=sys.stderr, flush=True)
        conn.execute("RESET maintenance_work_mem")  # the store keeps this connection for the timed part


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)]


def inserted(count: int, elapsed: float, batch: int) -> str:
    """How fast `count` documents went in."""
    return (f"{count:,} docs inserted in {elapsed:.1f}s = {count / elapsed:,.0f} docs/s"
            f" ({'one publish per document' if batch == 1 else f'publish_many of {batch}'})")


def analyze(store, url: str) -> None:
    """What a PostgreSQL server does by itself after a bulk load: autovacuum's statistics, visibility map and GIN
    pending-list merge. Nothing on SQLite, where the store never gathers statistics (nothing runs ANALYZE or
    PRAGMA optimize), so the queries are timed on the plans its users get. With statistics SQLite judges a skewed
    column by its average: a wire filter that no document matches walked every document (960 ms at 1M, 0.1 ms
    without them), though the queries below time the same either way."""
    if url.startswith("postgresql:"):
        with store._guard():
            store._conn().execute("VACUUM ANALYZE documents")


def run(backend: str, url: str, texts: list[dict], count: int, batch: int, only: set[str], sample: int = 0,
        copy: bool = False) -> None:
    """Load `count` documents into the store at `url` (unless it holds them already: then publish `sample`
    more, timed) and print its figures. `copy`: bulk-load with COPY instead, untimed (PostgreSQL)."""
    store = open_store(url)
    stored, how = store._one("SELECT count(*) AS n FROM documents")["n"], "already stored (not loaded again)"
    if not stored and copy:
        copy_load(store, texts, count)
        analyze(store, url)
        stored, how = count, "bulk-loaded with COPY (untimed)"
    if stored:
        loaded, timed = f"{stored:,} docs {how}", sample
        count = stored + sample
        if sample:
            loaded += f"; then {inserted(sample, load(store, texts, sample, batch, first=stored, total=stored), batch)}"
    else:
        elapsed, timed = load(store, texts, count, batch), count
        analyze(store, url)
        loaded = inserted(count, elapsed, batch)
    if timed and url.startswith("sqlite:"):
        bare = min(timed, CEILING_DOCS)
        loaded += f" (bare FTS5 inserts of {bare:,} such documents: {fts5_ceiling(texts, bare):,.0f} docs/s)"
    if url.startswith("postgresql:"):  # the two server settings the figures depend on most (see docker-compose.yml)
        server = store._one("SELECT current_setting('shared_buffers') AS b, current_setting('max_wal_size') AS w")
        loaded += f" (server: shared_buffers {server['b']}, max_wal_size {server['w']})"
    size = size_of(store, url)
    times = time_queries(store, queries(pick_words(texts), count, pick_source(texts)), only)
    every = [t for runs in times.values() for t in runs] or [math.nan]
    print(f"{backend}: {loaded}; {size / count:,.0f} bytes/doc; all queries p50 {statistics.median(every):.1f} ms,"
          f" p95 {percentile(every, 0.95):.1f} ms; load average {os.getloadavg()[0]:.1f}", flush=True)
    for name, runs in times.items():
        print(f"  p50 {statistics.median(runs):8.1f} ms  p95 {percentile(runs, 0.95):8.1f} ms  {name}", flush=True)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1, help="documents per publish_many call (1: publish each)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sqlite-path", help="keep the SQLite store in this file (reused when it holds documents)")
    parser.add_argument("--pg-schema", help="keep the PostgreSQL store in this schema (reused when it holds documents)")
    parser.add_argument("--only", action="append", default=[], help="a query name to time (repeat; default: all)")
    parser.add_argument("--sample", type=int, default=0,
                        help="into a store that already holds documents, publish this many more, timed")
    parser.add_argument("--copy", action="store_true",
                        help="PostgreSQL: bulk-load an empty store with COPY, untimed (then --sample times inserts)")
    args = parser.parse_args()
    only = set(args.only)
    texts = load_texts(load_settings().corpus)
    print(f"{len(texts)} base texts; {args.docs:,} documents per backend; load average {os.getloadavg()[0]:.1f}",
          flush=True)
    for backend in args.backends.split(","):
        if backend == "sqlite" and args.sqlite_path:
            run(backend, f"sqlite:///{os.path.abspath(args.sqlite_path)}", texts, args.docs, args.batch, only,
                args.sample)
        elif backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                run(backend, f"sqlite:///{tmp}/bench.db", texts, args.docs, args.batch, only)
        else:
            schema = args.pg_schema or f"wd_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg_url, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            try:
                run(backend, f"{args.pg_url}?options=-csearch_path%3D{schema}", texts, args.docs, args.batch, only,
                    args.sample, args.copy)
            finally:
                if not args.pg_schema:
                    with psycopg.connect(args.pg_url, autocommit=True) as conn:
                        conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
