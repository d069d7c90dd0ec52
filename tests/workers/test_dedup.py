"""The shared dedup index: originals, exact and near copies, precision guards, idempotency, races, key layout."""

from __future__ import annotations

import json
import multiprocessing
import random
import time

import pytest
import redis

from store.records import EXACT, NEAR, ORIGINAL
from workers.dedup import Decision, DedupIndex

STORIES, WORKERS = 40, 8


def story_text(seed: int, paragraphs: int = 8) -> str:
    """A synthetic article: paragraphs of words drawn from a large vocabulary (no two stories alike)."""
    rng = random.Random(seed)
    return "\n\n".join(
        " ".join(f"w{rng.randrange(20_000)}" for _ in range(40)) + "." for _ in range(paragraphs)
    )


def ids(n: int, base: int = 0) -> list[str]:
    return [f"{base + i:020x}" for i in range(n)]


@pytest.mark.parametrize("one_call", [True, False], ids=["one-call", "cluster-two-calls"])
def test_first_copy_is_original_and_later_copies_point_to_it(redis_conn, settings, one_call):
    index = DedupIndex(redis_conn, settings)
    index.one_call = one_call
    original, exact, trimmed, other = ids(4)
    text = story_text(1)
    assert index.decide(original, text).relation == ORIGINAL
    same = index.decide(exact, "By Jane Doe, Associated Press\nWASHINGTON (AP) \u2014 " + text)
    assert (same.relation, same.duplicate_of, same.story_id, same.method) == (EXACT, original, original, "exact")
    cut = "\n\n".join(text.split("\n\n")[:3]) + "\n\nRelated: something else entirely"
    near = index.decide(trimmed, cut)
    assert (near.relation, near.duplicate_of, near.method) == (NEAR, original, "near")
    assert near.similarity > 0.9
    assert index.decide(other, story_text(2)).relation == ORIGINAL


def test_independent_reports_quoting_the_same_statement_stay_apart(redis_conn, settings):
    index = DedupIndex(redis_conn, settings)
    quote = '"We will not accept any agreement that leaves our farmers worse off than they were," the minister said.'
    first = story_text(3).replace("\n\n", f"\n\n{quote}\n\n", 1)
    second = story_text(4).replace("\n\n", f"\n\n{quote}\n\n", 1)
    a, b = ids(2)
    assert index.decide(a, first).relation == ORIGINAL
    assert index.decide(b, second).relation == ORIGINAL


def test_short_texts_never_merge_even_when_equal(redis_conn, settings):
    index = DedupIndex(redis_conn, settings)
    a, b = ids(2)
    assert index.decide(a, "Please enable JavaScript to continue.").relation == ORIGINAL
    assert index.decide(b, "Please enable JavaScript to continue.").relation == ORIGINAL


def test_retried_decision_is_the_same_and_indexes_nothing_new(redis_conn, settings):
    index = DedupIndex(redis_conn, settings)
    a, b = ids(2)
    text = story_text(5)
    first, copy = index.decide(a, text), index.decide(b, text + "\n\nAn update paragraph with new words.")
    buckets = {k: redis_conn.hgetall(k) for k in redis_conn.keys("*")}
    assert any(len(fields) > 3 for fields in buckets.values())
    assert index.decide(a, text) == first
    assert index.decide(b, story_text(55)) == copy  # a retry is answered from the stored decision
    assert {k: redis_conn.hgetall(k) for k in redis_conn.keys("*")} == buckets


@pytest.mark.parametrize("one_call", [True, False], ids=["one-call", "cluster-two-calls"])
def test_copy_finds_its_original_in_the_previous_bucket_and_retries_keep_their_answer(redis_conn, settings, one_call):
    now = time.time()
    earlier, later = DedupIndex(redis_conn, settings), DedupIndex(redis_conn, settings)
    later.one_call = earlier.one_call = one_call
    earlier.clock, later.clock = (lambda: now), (lambda: now + later.span)
    a, b, c = ids(3)
    text = story_text(7)
    assert earlier.decide(a, text).relation == ORIGINAL
    copy = later.decide(b, "\n\n".join(text.split("\n\n")[:4]))
    assert (copy.relation, copy.duplicate_of) == (NEAR, a)
    assert later.decide(a, story_text(8)) == Decision(ORIGINAL, a, None, None, None)  # known in the old bucket
    assert later.decide(b, story_text(9)) == copy
    assert later.decide(c, story_text(10)).relation == ORIGINAL


def test_decisions_survive_a_dropped_connection_and_a_fork(redis_conn, settings):
    index = DedupIndex(redis_conn, settings)
    a, b, c, d = ids(4)
    text = story_text(11)
    assert index.decide(a, text).relation == ORIGINAL
    host, port = index._conn._sock.getsockname()[:2]
    redis_conn.client_kill(f"{host}:{port}")  # the server drops the index's own connection
    assert index.decide(b, text).duplicate_of == a
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    child = ctx.Process(target=lambda: results.put(index.decide(c, text).duplicate_of))
    child.start()
    assert results.get(timeout=30) == a  # the child decides on a connection of its own...
    child.join(timeout=10)
    assert index.decide(d, text).duplicate_of == a  # ...and leaves the parent's one usable


def test_worker_with_a_late_clock_moves_to_the_sealed_buckets_successor(redis_conn, settings):
    today = time.time()
    ahead, behind = DedupIndex(redis_conn, settings), DedupIndex(redis_conn, settings)
    ahead.clock, behind.clock = (lambda: today + ahead.span), (lambda: today)
    a, b = ids(2)
    text = story_text(6)
    assert ahead.decide(a, text).relation == ORIGINAL  # seals `today`'s bucket while probing it
    late = behind.decide(b, text)
    assert (late.relation, late.duplicate_of) == (EXACT, a)


def test_every_key_expires_within_the_window_and_a_bucket_shares_one_hash_tag(redis_conn, settings):
    index = DedupIndex(redis_conn, settings)
    bucket = int(time.time() // index.span)
    for doc, seed in zip(ids(5), range(5)):
        index.decide(doc, story_text(seed))
    keys = [k.decode() for k in redis_conn.keys("*")]
    assert keys
    for key in keys:
        ttl = redis_conn.ttl(key)
        assert 0 < ttl <= settings.dedup_window_seconds + index.span, key
        assert key.startswith("{wd:dd:") and key.index("}") == len("{wd:dd:20241004}") - 1, key
    tags = {k[: k.index("}") + 1] for k in keys}
    assert tags == {index.bucket_tag(bucket - 1), index.bucket_tag(bucket)}  # the probe seals the previous one


def _worker(redis_url, settings_json, one_call, worker, barrier, results):
    """One worker process: decide its own copy of every story at the same moment as the others."""
    from config import load_settings

    index = DedupIndex(redis.Redis.from_url(redis_url), load_settings(**json.loads(settings_json)))
    index.one_call = one_call
    for story in range(STORIES):
        text = f"By Reporter {worker}, Staff\n\n" + story_text(1000 + story)
        doc = f"{story * WORKERS + worker:020x}"
        barrier.wait()
        decision = index.decide(doc, text)
        results.put((story, doc, decision.relation, decision.story_id))


@pytest.mark.parametrize("one_call", [True, False], ids=["one-call", "cluster-two-calls"])
def test_eight_workers_deciding_copies_at_once_elect_exactly_one_original_per_story(
    redis_conn, redis_url, settings, one_call
):
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    config = json.dumps({"key_prefix": settings.key_prefix, "dedup_window_days": settings.dedup_window_days})
    procs = [ctx.Process(target=_worker, args=(redis_url, config, one_call, w, barrier, results)) for w in range(WORKERS)]
    for proc in procs:
        proc.start()
    rows = [results.get(timeout=60) for _ in range(STORIES * WORKERS)]
    for proc in procs:
        proc.join(timeout=10)
    by_story: dict[int, list[tuple[str, str, str]]] = {}
    for story, doc, relation, story_id in rows:
        by_story.setdefault(story, []).append((doc, relation, story_id))
    for story, decided in by_story.items():
        originals = [doc for doc, relation, _ in decided if relation == ORIGINAL]
        assert len(originals) == 1, (story, decided)
        assert {story_id for _, _, story_id in decided} == {originals[0]}
    assert len(by_story) == STORIES


def lightly_edited(text: str, every: int = 33) -> str:
    """`text` with one character in `every` of its Han, kana or Thai characters changed, as an editor's touch."""
    chars = list(text)
    marked = [n for n, char in enumerate(chars) if "\u0e00" <= char <= "\u0e7f" or "\u3040" <= char <= "\u9fff"]
    for n in marked[::every]:
        chars[n] = "\u7684"
    return "".join(chars)


@pytest.mark.parametrize("name", ["chinese", "japanese2", "thai"])
def test_copies_in_scripts_without_spaces_are_compared_by_characters(redis_conn, settings, corpus, name):
    index = DedupIndex(redis_conn, settings)
    text = (corpus / "newspaper" / "text" / f"{name}.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n") if p.strip()]
    original, edited, trimmed = ids(3)
    assert index.decide(original, text).relation == ORIGINAL
    # Before: a phrase between two punctuation marks was one "word", and one changed character changed it.
    assert (index.decide(edited, lightly_edited(text)).duplicate_of, index.decide(trimmed, "\n".join(
        paragraphs[: max(2, len(paragraphs) // 2)])).duplicate_of) == (original, original)
    for n, other in enumerate({"chinese", "japanese2", "thai"} - {name}, start=1):
        unrelated = (corpus / "newspaper" / "text" / f"{other}.txt").read_text(encoding="utf-8")
        assert index.decide(ids(1, 100 + n)[0], unrelated).relation == ORIGINAL


def test_a_real_chinese_article_extracted_by_two_tools_is_one_story_and_a_short_one_none(redis_conn, settings, corpus):
    index = DedupIndex(redis_conn, settings)
    newspaper = (corpus / "newspaper" / "text" / "chinese.txt").read_text(encoding="utf-8")
    goose = json.loads((corpus / "goose3" / "test_bbc_chinese.json").read_text(encoding="utf-8"))
    first, second, short, short_again = ids(4)
    assert index.decide(first, newspaper).relation == ORIGINAL
    assert index.decide(second, goose["expected"]["cleaned_text"]).duplicate_of == first
    teaser = "香港行政长官梁振英向香港民众道歉。"  # 17 characters, some 9 words: too short to be anyone's copy
    assert index.decide(short, teaser).relation == ORIGINAL
    assert index.decide(short_again, teaser).relation == ORIGINAL
