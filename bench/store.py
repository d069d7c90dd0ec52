"""Document store at scale: insert docs/s, bytes per document, p50/p95 of 20 top-20 queries, on both backends.

Documents are made from the corpus's real article texts (aeb ground truth, newspaper expected texts):
each is a base text with its sentences shuffled and partly dropped, plus a serial token, so all are
distinct; one in five joins an earlier document's story as a near copy. They are published one at a
time, as a worker does. Targets (issue 6): >= 5,000 docs/s on SQLite; p95 <= 50 ms at 1M on both.

    .venv/bin/python -m bench.store [--docs 1000000] [--backends sqlite,postgres] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import py3langid

from config import load_settings
from store.base import open_store
from store.records import NEAR, ORIGINAL, Document, Query

BASE = datetime(2024, 1, 1, tzinfo=UTC)
REPEATS = 5  # timed runs of each query, after one warm-up run


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


def make_documents(texts: list[dict], count: int, seed: int = 7):
    """`count` distinct documents from the base texts, about one in five a copy in an earlier story."""
    rng = random.Random(seed)
    stories: list[str] = []
    for i in range(count):
        base = texts[i % len(texts)]
        sentences = base["sentences"][:]
        rng.shuffle(sentences)
        keep = sentences[: max(2, int(len(sentences) * rng.uniform(0.6, 1.0)))]
        doc_id = f"doc{i:08d}"
        copy = stories and rng.random() < 0.2
        story = rng.choice(stories[-1000:]) if copy else doc_id
        if not copy:
            stories.append(doc_id)
        published = BASE + timedelta(minutes=rng.randrange(365 * 24 * 60))
        yield Document(id=doc_id, url=f"https://{base['source']}/a/{i}", title=keep[0][:200],
                       text=" ".join(keep) + f" wd{i}", source=base["source"], fetched=published,
                       published=published, language=base["language"], story_id=story,
                       relation=NEAR if copy else ORIGINAL, duplicate_of=story if copy else None,
                       word_count=sum(len(s.split()) for s in keep))


def pick_words(texts: list[dict]) -> dict[str, str]:
    """A frequent, a middling and a rare word of the base texts (letters only, 5+ characters)."""
    counts = Counter(w.lower() for t in texts for s in t["sentences"] for w in re.findall(r"[^\W\d_]{5,}", s))
    ranked = [w for w, _ in counts.most_common()]
    return {"frequent": ranked[10], "middling": ranked[300], "rare": ranked[3000], "other": ranked[40]}


def queries(words: dict[str, str], count: int) -> list[tuple[str, Query]]:
    """Twenty representative top-20 queries."""
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
        ("source + word", Query(text=f, source="www.bbc.co.uk")), ("page 2 of frequent", None),
    ]


def time_queries(store, named: list[tuple[str, Query]]) -> dict[str, list[float]]:
    """Milliseconds of each query's timed runs."""
    times: dict[str, list[float]] = {}
    first_page = store.search(named[0][1])
    for name, query in named:
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


def run(backend: str, url: str, texts: list[dict], count: int) -> None:
    """Load `count` documents into a fresh store at `url` and print its figures."""
    store = open_store(url)
    start = time.perf_counter()
    for doc in make_documents(texts, count):
        store.publish(doc, doc.id)
    elapsed = time.perf_counter() - start
    with store._tx() as conn:
        store._exec(conn, "ANALYZE")  # fresh planner statistics, as autovacuum / PRAGMA optimize would give
    size = size_of(store, url)
    times = time_queries(store, queries(pick_words(texts), count))
    every = sorted(t for runs in times.values() for t in runs)
    p50, p95 = statistics.median(every), every[int(len(every) * 0.95) - 1]
    print(f"{backend}: {count:,} docs inserted in {elapsed:.1f}s = {count / elapsed:,.0f} docs/s;"
          f" {size / count:,.0f} bytes/doc; query p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    for name, runs in times.items():
        print(f"  {statistics.median(runs):8.1f} ms  {name}")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    texts = load_texts(load_settings().corpus)
    print(f"{len(texts)} base texts; {args.docs:,} documents per backend")
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                run(backend, f"sqlite:///{tmp}/bench.db", texts, args.docs)
        else:
            schema = f"wd_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg_url, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            try:
                run(backend, f"{args.pg_url}?options=-csearch_path%3D{schema}", texts, args.docs)
            finally:
                with psycopg.connect(args.pg_url, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
