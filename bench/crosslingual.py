"""Cross-lingual matching on crosslingual-dev: translation recall, false merges, same-story recall, ms per document.

Articles arrive one at a time in stream.jsonl order through the real Redis index (CrossLingualIndex.match);
each gets the story of its match or its own. Scores follow the corpus README (false merges counted
transitively). The cosine threshold is calibrated on one half of the translation pairs and checked on the other.

    .venv/bin/python bench/crosslingual.py [--redis-url redis://127.0.0.1:6379/7] [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import redis

from config import load_settings
from workers import crosslingual
from workers.crosslingual import CrossLingualIndex, anchors_agree, clean_text, embed, extract_anchors

# The cosine threshold sits midway between the two calibration distributions, among pairs whose anchors agree:
# the low tail of translations (all but POSITIVE_TAIL of them above) and the high tail of pairs humans call
# different stories (NEGATIVE_TAIL of them above). The midpoint is the widest margin on both sides.
POSITIVE_TAIL = 0.025
NEGATIVE_TAIL = 0.05


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def half(pair_id: str) -> int:
    """0 = calibration, 1 = held out; a stable split by the pair's first article id."""
    return hashlib.blake2b(pair_id.encode(), digest_size=1).digest()[0] % 2


def agreeing_cosines(texts: dict[str, str], pairs: list[tuple[str, str]]) -> list[float]:
    """The embedding cosine of each pair whose anchors agree (the others can never be merged)."""
    cosines = []
    for id1, id2 in pairs:
        a, b = clean_text(texts[id1]), clean_text(texts[id2])
        anchors_a, anchors_b = extract_anchors(a), extract_anchors(b)
        if anchors_agree(len(anchors_a & anchors_b), len(anchors_a), len(anchors_b)):
            cosines.append(float(embed(a) @ embed(b)))
    return cosines


def calibrate(texts: dict[str, str], mt_pairs: list[dict], human: list[dict]) -> float:
    """The calibrated cosine threshold on the calibration half, with its two sides printed."""
    positive = agreeing_cosines(texts, [(p["src_id"], p["mt_id"]) for p in mt_pairs if half(p["src_id"]) == 0])
    negative = agreeing_cosines(texts, [(h["id1"], h["id2"]) for h in human
                                        if h["overall"] >= 3.5 and half(h["id1"]) == 0])
    low, high = np.quantile(positive, POSITIVE_TAIL), np.quantile(negative, 1 - NEGATIVE_TAIL)
    # Rounded down to 0.01: ~50 pairs per side do not give more precision than that.
    threshold = float(np.floor((low + high) / 2 * 100) / 100)
    print(f"calibration half: translations' {POSITIVE_TAIL:.1%} quantile {low:.3f} (n={len(positive)}), "
          f"different stories' {1 - NEGATIVE_TAIL:.0%} quantile {high:.3f} (n={len(negative)}) "
          f"-> MIN_COSINE {threshold:.2f} (shipped: {crosslingual.MIN_COSINE:.2f})")
    return threshold


def run_stream(index: CrossLingualIndex, stream: list[dict], key: dict[str, str]) -> tuple[dict, list, list]:
    """Story id per article id, and the encode and the whole-match time (ms) per document."""
    stories, encode_ms, match_ms = {}, [], []
    for item in stream:
        article = key[item["doc_id"]]
        start = time.perf_counter()
        embed(clean_text(item["text"]))
        encode_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        found = index.match(item["doc_id"], item["text"], item["lang"])
        match_ms.append((time.perf_counter() - start) * 1000)
        stories[article] = key.get(found.story_id, found.story_id) if found else article
    return stories, encode_ms, match_ms


def together(stories: dict, pairs: list[tuple[str, str]]) -> tuple[float, int]:
    """Share of pairs whose two articles ended in one story."""
    hits = [stories[a] == stories[b] for a, b in pairs if a in stories and b in stories]
    return (sum(hits) / len(hits) if hits else float("nan")), len(hits)


def report(stories: dict, mt_pairs: list[dict], human: list[dict], which: int | None) -> None:
    """Print the three scores for one half (or all pairs when `which` is None)."""
    pick = [p for p in mt_pairs if which is None or half(p["src_id"]) == which]
    rows = {
        "translation recall": [(p["src_id"], p["mt_id"]) for p in pick],
        "false merges (overall >= 3.5)": [(h["id1"], h["id2"]) for h in human if h["overall"] >= 3.5
                                          and (which is None or half(h["id1"]) == which)],
        "same-story recall (overall <= 1.5)": [(h["id1"], h["id2"]) for h in human if h["overall"] <= 1.5
                                               and (which is None or half(h["id1"]) == which)],
    }
    label = {None: "all pairs", 0: "calibration half", 1: "held-out half"}[which]
    for name, pairs in rows.items():
        share, n = together(stories, pairs)
        print(f"  {label:17s} {name:36s} {share:6.3f}  (n={n})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--limit", type=int, default=0, help="only the first N stream articles")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    settings = load_settings(redis_url=args.redis_url, key_prefix=f"bench-xl-{os.getpid()}")
    folder = settings.corpus / "crosslingual-dev"
    stream = read_jsonl(folder / "stream.jsonl")[: args.limit or None]
    key = json.loads((folder / "stream_key.json").read_text())
    mt_pairs, human = read_jsonl(folder / "mt_pairs.jsonl"), read_jsonl(folder / "human_pairs.jsonl")
    texts = {key[s["doc_id"]]: s["text"] for s in stream}
    mt_pairs = [p for p in mt_pairs if p["src_id"] in texts and p["mt_id"] in texts]

    embed("warm up")
    calibrate(texts, mt_pairs, human)
    conn = redis.Redis.from_url(settings.redis_url)
    index = CrossLingualIndex(conn, settings)
    try:
        stories, encode_ms, match_ms = run_stream(index, stream, key)
    finally:
        keys = list(conn.scan_iter(match=f"{{{settings.key_prefix}:xl}}*", count=1000))
        memory = sum(conn.memory_usage(k) or 0 for k in keys)
        for chunk in range(0, len(keys), 500):
            conn.delete(*keys[chunk:chunk + 500])
    print(f"{len(stream)} articles, {len(set(stories.values()))} stories")
    for which in (0, 1, None):
        report(stories, mt_pairs, human, which)
    print(f"encode per document (one core): median {np.median(encode_ms):.1f} ms, "
          f"p95 {np.percentile(encode_ms, 95):.1f} ms, mean {np.mean(encode_ms):.1f} ms")
    print(f"match per document (clean, anchors, encode, Redis): median {np.median(match_ms):.1f} ms, "
          f"p95 {np.percentile(match_ms, 95):.1f} ms; "
          f"Redis {memory / max(1, len(keys)):.0f} B/key, {memory / len(stream):.0f} B per article")


if __name__ == "__main__":
    main()
