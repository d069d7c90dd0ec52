"""The cross-lingual matcher on the real Redis: the seed story across French and English, the window, races."""

import multiprocessing
import time
from pathlib import Path

import pytest
import redis

from config import Settings
from workers import crosslingual
from workers.crosslingual import MIN_COSINE, CrossLingualIndex, anchors_agree, embed, extract_anchors

DATA = Path(__file__).parent / "data"


class ShortWindow(Settings):
    """Settings whose dedup window lasts two seconds, so expiry can be watched."""

    @property
    def dedup_window_seconds(self) -> int:
        return 2


@pytest.fixture(scope="module")
def french(seed_dir):
    return (seed_dir / "article-fr.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def english():
    return (DATA / "article-en.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def unrelated(corpus):
    return (corpus / "newspaper" / "text" / "cnn.txt").read_text(encoding="utf-8")


@pytest.fixture
def index(redis_conn, settings):
    return CrossLingualIndex(redis_conn, settings)


def test_english_rendering_joins_the_story_of_the_french_seed(index, french, english):
    assert index.match("fr-1", french, "fr") is None
    found = index.match("en-1", english, "en")
    assert found is not None
    assert (found.story_id, found.duplicate_of) == ("fr-1", "fr-1")
    assert found.score >= MIN_COSINE


def test_unrelated_english_article_starts_its_own_story(index, french, unrelated):
    assert index.match("fr-1", french, "fr") is None
    assert index.match("cnn-1", unrelated, "en") is None


def test_a_later_language_can_join_through_a_translation(index, french, english):
    index.match("fr-1", french, "fr")
    index.match("en-1", english, "en")
    found = index.match("en-as-de", english, "de")
    assert found is not None and found.story_id == "fr-1"


def test_a_document_is_embedded_only_once_a_candidate_in_another_language_needs_it(
        index, redis_conn, french, english, monkeypatch):
    encoded = []
    monkeypatch.setattr(crosslingual, "embed", lambda text: encoded.append(text[:12]) or embed(text))
    assert index.match("fr-1", french, "fr") is None
    assert index.match("fr-2", french, "fr") is None
    assert encoded == []
    assert redis_conn.hexists(index._key("d", "fr-1"), "t") and not redis_conn.hexists(index._key("d", "fr-1"), "v")
    assert index.match("en-1", english, "en").duplicate_of in ("fr-1", "fr-2")
    assert len(encoded) == 3  # en-1 itself, and both French candidates, each once
    assert redis_conn.hexists(index._key("d", "fr-1"), "v") and not redis_conn.hexists(index._key("d", "fr-1"), "t")
    assert index.match("en-as-de", english, "de").story_id in ("fr-1", "fr-2")
    assert len(encoded) == 4  # the candidates' embeddings were written back: only en-as-de is encoded


def test_a_document_of_unknown_language_is_left_to_same_language_dedup(index, french, english):
    assert index.match("fr-1", french, "fr") is None
    assert index.match("en-1", english, None) is None
    assert index.match("en-2", english, "en").duplicate_of == "fr-1"


def test_documents_in_the_same_language_are_left_to_same_language_dedup(index, french):
    assert index.match("fr-1", french, "fr") is None
    assert index.match("fr-2", french, "fr") is None


def test_a_retry_returns_the_first_decision(index, french, english, unrelated):
    assert index.match("fr-1", french, "fr") is None
    first = index.match("en-1", english, "en")
    assert index.match("en-1", english, "en") == first
    assert index.match("fr-1", french, "fr") is None
    assert index.match("en-1", unrelated, "en") == first


def test_the_index_expires_with_the_dedup_window(redis_conn, redis_url, french, english):
    index = CrossLingualIndex(redis_conn, ShortWindow(redis_url=redis_url))
    assert index.match("fr-1", french, "fr") is None
    keys = redis_conn.keys("*")
    assert keys and all(0 < redis_conn.ttl(key) <= 2 for key in keys)
    time.sleep(2.5)
    assert redis_conn.keys("*") == []
    assert index.match("en-1", english, "en") is None


def test_anchors_survive_translation_and_transliteration():
    english = extract_anchors("On Sunday, Trump met Netanyahu in Jerusalem; 1,250 people and 2020 plans.")
    russian = extract_anchors("В воскресенье Трамп встретился с Нетаньяху в Иерусалиме: 1 250 человек, 2020 год.")
    assert {"@trmp", "@ntn", "#1250", "#2020"} <= english & russian


def test_anchors_agree_in_number_and_in_share_of_the_fewer():
    assert anchors_agree(2, 5, 60)
    assert not anchors_agree(1, 5, 60)
    assert anchors_agree(1, 15, 1)  # all a text has (a Chinese translation may keep only a number)
    assert not anchors_agree(2, 40, 60)  # 2 of 40 anchors in common: chance
    assert anchors_agree(6, 40, 60)


def test_documents_sharing_only_common_numbers_are_not_compared(index, monkeypatch):
    encoded = []
    monkeypatch.setattr(crosslingual, "embed", lambda text: encoded.append(text[:12]) or embed(text))
    results = " ".join(f"Round {n}: the Harriers beat the Wolves {n + 20} to {n + 7} at Dunmore Park."
                       for n in range(10, 40))
    harvest = ("Le 12 mars 2019, les coopératives de Lyon, Marseille, Toulouse, Bordeaux, Nantes et Lille ont vendu "
               "150, 275, 390, 410, 520, 640 et 760 tonnes de fruits, selon Coop de France, qui attend une saison plus "
               "calme, des prix plus stables et des clients plus nombreux sur les marchés de toute la région.")
    assert index.match("en-1", results + " Updated March 2019.", "en") is None
    assert index.match("fr-1", harvest, "fr") is None  # "12" and "2019" in common, of its 15 anchors: chance
    assert encoded == []


def _race(redis_url, settings_json, doc_id, text, language, barrier, results):
    """One worker process: wait for the other, then match."""
    index = CrossLingualIndex(redis.Redis.from_url(redis_url), Settings.model_validate_json(settings_json))
    embed("warm up")
    barrier.wait()
    found = index.match(doc_id, text, language)
    results.put((doc_id, found.duplicate_of if found else None))


def test_two_processes_racing_two_translations_leave_one_original(redis_conn, redis_url, settings, french, english):
    context = multiprocessing.get_context("fork")
    for round_ in range(3):
        barrier, results = context.Barrier(2), context.Queue()
        jobs = [context.Process(target=_race, args=(redis_url, settings.model_dump_json(), f"{lang}-{round_}",
                                                    text, lang, barrier, results))
                for lang, text in (("fr", french), ("en", english))]
        for job in jobs:
            job.start()
        decisions = dict(results.get(timeout=60) for _ in jobs)
        for job in jobs:
            job.join(timeout=10)
        originals = [doc for doc, duplicate_of in decisions.items() if duplicate_of is None]
        assert len(originals) == 1, decisions
        assert set(decisions.values()) == {None, originals[0]}
        redis_conn.flushdb()
