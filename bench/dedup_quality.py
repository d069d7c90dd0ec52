"""Dedup quality: pairwise precision, recall, F1 and adjusted Rand index on the development set and on scoop.

Every system sees the documents one at a time in the same arrival order and puts each into the story of
its match or a new one: wiredesk's DedupIndex (real Redis), an exact hash of the normalised text, SimHash
(64-bit, word 3-grams, Hamming distance <= 3) and datasketch MinHashLSH (threshold 0.8, 128 permutations).

    .venv/bin/python bench/dedup_quality.py [--redis-url redis://127.0.0.1:6379/4] [--copies 3]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time
from collections import Counter, defaultdict
from math import comb
from pathlib import Path

import redis
from datasketch import MinHash, MinHashLSH

from bench.devset import DevDoc, build_devset, doc_id, load_scoop
from config import load_settings
from workers.dedup import DedupIndex
from workers.normalize import normalize_for_comparison
from workers.signature import shingles

LOGGER = logging.getLogger(__name__)


def pair_scores(truth: list[str], predicted: list[str]) -> dict[str, float]:
    """Pairwise precision, recall, F1 and the adjusted Rand index of a clustering against the truth."""
    both = Counter(zip(truth, predicted))
    same_both = sum(comb(n, 2) for n in both.values())
    same_truth = sum(comb(n, 2) for n in Counter(truth).values())
    same_pred = sum(comb(n, 2) for n in Counter(predicted).values())
    precision = same_both / same_pred if same_pred else 1.0
    recall = same_both / same_truth if same_truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    expected = same_truth * same_pred / comb(len(truth), 2)
    ceiling = (same_truth + same_pred) / 2
    ari = (same_both - expected) / (ceiling - expected) if ceiling != expected else 1.0
    return {"precision": precision, "recall": recall, "f1": f1, "ari": ari, "false_pairs": same_pred - same_both}


def cluster_wiredesk(docs: list[DevDoc], conn: redis.Redis) -> list[str]:
    """Story ids from the real shared index."""
    conn.flushdb()
    index = DedupIndex(conn, load_settings())
    return [index.decide(doc_id(d.doc_id), d.text).story_id for d in docs]


def _shingle_sets(docs: list[DevDoc]) -> list[list[str]]:
    return [shingles(normalize_for_comparison(d.text).split()) or [""] for d in docs]


def cluster_exact(docs: list[DevDoc]) -> list[str]:
    """Stories by the hash of the normalised text."""
    return [hashlib.blake2b(normalize_for_comparison(d.text).encode()).hexdigest() for d in docs]


def _simhash(grams: list[str]) -> int:
    """64-bit SimHash of a shingle list."""
    weights = [0] * 64
    for gram in grams:
        value = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if value >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


def cluster_simhash(docs: list[DevDoc], k: int = 3) -> list[str]:
    """Stories by SimHash: a document joins the first earlier story within Hamming distance k."""
    seen: list[tuple[int, str]] = []
    out = []
    for doc, grams in zip(docs, _shingle_sets(docs)):
        value = _simhash(grams)
        story = next((s for v, s in seen if (v ^ value).bit_count() <= k), None)
        if story is None:
            story = doc.doc_id
            seen.append((value, story))
        out.append(story)
    return out


def cluster_datasketch(docs: list[DevDoc], threshold: float = 0.8) -> list[str]:
    """Stories by datasketch MinHashLSH (in memory): query, then insert the document if it matched nothing."""
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    story_of: dict[str, str] = {}
    out = []
    for doc, grams in zip(docs, _shingle_sets(docs)):
        sketch = MinHash(num_perm=128)
        sketch.update_batch([g.encode() for g in grams])
        found = sorted(lsh.query(sketch))
        story = story_of[found[0]] if found else doc.doc_id
        if not found:
            lsh.insert(doc.doc_id, sketch)
        story_of[doc.doc_id] = story
        out.append(story)
    return out


def report(name: str, docs: list[DevDoc], systems: dict[str, list[str]]) -> None:
    """Print one table of scores per system."""
    truth = [d.story for d in docs]
    stories = len(set(truth))
    print(f"\n{name}: {len(docs)} documents, {stories} stories")
    print(f"{'system':<26}{'precision':>10}{'recall':>9}{'F1':>8}{'ARI':>8}{'false pairs':>13}")
    for system, predicted in systems.items():
        s = pair_scores(truth, predicted)
        print(f"{system:<26}{s['precision']:>10.4f}{s['recall']:>9.4f}{s['f1']:>8.4f}{s['ari']:>8.4f}"
              f"{s['false_pairs']:>13}")


def recall_by_kind(docs: list[DevDoc], predicted: list[str]) -> None:
    """Share of copies put in their original's story, by how the copy was made (trimmed or not)."""
    story_of_original = {d.story: p for d, p in zip(docs, predicted) if d.kind == "original"}
    groups: dict[str, list[bool]] = defaultdict(list)
    for doc, story in zip(docs, predicted):
        if doc.kind != "original":
            key = "quoting" if doc.kind == "quoting" else ("trimmed" if "trim" in doc.kind else "untrimmed")
            groups[key].append(story == story_of_original[doc.story])
    for key, hits in sorted(groups.items()):
        print(f"  wiredesk: {key:<10} copies joined to their original: {sum(hits)}/{len(hits)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--copies", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings()
    corpus = Path(settings.corpus)
    conn = redis.Redis.from_url(args.redis_url)
    for name, docs in (("dev set", build_devset(corpus, args.copies)), ("scoop", load_scoop(corpus))):
        started = time.perf_counter()
        systems = {"wiredesk (containment)": cluster_wiredesk(docs, conn)}
        LOGGER.info("wiredesk on %s: %.1fs", name, time.perf_counter() - started)
        systems["exact hash"] = cluster_exact(docs)
        systems["SimHash 64-bit k=3"] = cluster_simhash(docs)
        systems["datasketch LSH 0.8"] = cluster_datasketch(docs)
        report(name, docs, systems)
        if name == "dev set":
            recall_by_kind(docs, systems["wiredesk (containment)"])
    conn.flushdb()


if __name__ == "__main__":
    main()
