"""Story assignment: is a document the first copy of its story, an exact copy or a near copy of an earlier one.

The index is shared by every worker through Redis and bounded by the dedup window. It is split into day
buckets (see workers/dedup_script.py for the key layout); a decision

1. seals and probes every older bucket of the window in one pipeline (read-only apart from the seal), then
2. runs one atomic script on the current bucket that probes it, verifies candidates, and either records the
   document as a copy of the best verified match (old or new) or inserts it as a story's original.

Race-freedom: two documents processed at the same moment meet in the current bucket's script, which Redis
runs one at a time, so the second sees the first. A worker whose clock still names an older bucket after
another worker moved on finds that bucket sealed and moves on too, and every insert into a bucket precedes
its seal, so a document probing a sealed bucket sees everything it will ever hold.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from store.records import EXACT, NEAR, ORIGINAL
from workers.dedup_script import LUA
from workers.normalize import normalize_for_comparison
from workers.signature import LEAD_PERM, LEAD_SHINGLES, NUM_PERM, Signature, compute_signature

LOGGER = logging.getLogger(__name__)

DAY = 86_400
# A near copy is a text at least half of whose shingles (of the shorter of the two) come from the other:
# independently written reports of one event share quotes and names, far below half of their 3-grams.
MIN_CONTAINMENT = 0.5
# ...and that shares at least ~14 running words, so short texts do not merge on a shared sentence fragment.
MIN_SHARED_SHINGLES = 12
MIN_WORDS = MIN_SHARED_SHINGLES + 2
_MAX_BUCKET_MOVES = 3
_RELATIONS = {"o": ORIGINAL, "e": EXACT, "n": NEAR}


@dataclass(frozen=True)
class Decision:
    """How a document relates to its story."""

    relation: str  # store.records.ORIGINAL | EXACT | NEAR
    story_id: str  # the story's id (= the canonical document's id for an original)
    duplicate_of: str | None  # the canonical document id for EXACT/NEAR
    similarity: float | None
    method: str | None = None  # 'exact' | 'near', for the record


class DedupError(Exception):
    """The dedup index could not reach a decision (the current bucket kept moving)."""


def doc_key(doc_id: str) -> bytes:
    """The 10-byte binary form of a document id (a `url_id`, 20 hex digits)."""
    try:
        key = bytes.fromhex(doc_id)
    except ValueError:
        key = b""
    if len(key) != 10:
        raise ValueError(f"not a document id (20 hex digits): {doc_id!r}")
    return key


def _decision(doc_id: str, relation: bytes, canonical: bytes, similarity: float) -> Decision:
    """A Decision from the script's answer."""
    rel = _RELATIONS[relation.decode()]
    if rel == ORIGINAL:
        return Decision(ORIGINAL, doc_id, None, None, None)
    canonical_id = canonical.hex()
    return Decision(rel, canonical_id, canonical_id, round(similarity, 3), "exact" if rel == EXACT else "near")


class DedupIndex:
    """The shared near-duplicate index in Redis; `decide()` is safe to call from any number of workers."""

    def __init__(self, redis, settings):
        self.redis = redis
        self.prefix = settings.key_prefix
        self.window = settings.dedup_window_seconds
        self.script = redis.register_script(LUA)
        self.clock = time.time

    def bucket_tag(self, day: int) -> str:
        """The hash tag of a day bucket: every key of the bucket starts with it (one Cluster slot per day)."""
        return "{%s:dd:%s}" % (self.prefix, time.strftime("%Y%m%d", time.gmtime(day * DAY)))

    def _args(self, mode, key, day, hint, sig: Signature, prior=b""):
        """The script's arguments for one bucket."""
        expire_at = (day + 1) * DAY + self.window
        return [mode, key, expire_at, hint, b"".join(sig.bands), sig.record(key), MIN_CONTAINMENT,
                MIN_SHARED_SHINGLES, NUM_PERM, LEAD_PERM, LEAD_SHINGLES, prior]

    def decide(self, doc_id: str, text: str, title: str | None = None) -> Decision:
        """Decide whether `text` starts a story or copies one indexed within the window; index it if new.

        The title is not compared: outlets re-headline wire copies, and equal titles over different texts
        are common ("Live updates", "Morning briefing").

        Args:
            doc_id: the document's id (`ingest.urls.url_id`).
            text: the extracted text, as stored.
        Returns:
            The Decision; the same one again when called again for the same document within the window.
        """
        normalized = normalize_for_comparison(text or "")
        if normalized.count(" ") + 1 < MIN_WORDS:
            # Too little text to call it anyone's copy (placeholders, "---", a one-line teaser): its own story.
            doc_key(doc_id)
            return Decision(ORIGINAL, doc_id, None, None, None)
        return self.decide_signature(doc_id, compute_signature(normalized))

    def decide_signature(self, doc_id: str, sig: Signature) -> Decision:
        """`decide()` for a signature already computed (benchmarks fill the index this way)."""
        key = doc_key(doc_id)
        day = int(self.clock() // DAY)
        oldest = day - (self.window + DAY - 1) // DAY
        for _ in range(_MAX_BUCKET_MOVES):
            prior, hint = b"", 0
            older = list(range(oldest, day))
            if older:
                pipe = self.redis.pipeline(transaction=False)
                for old in older:
                    self.script(keys=[self.bucket_tag(old)], args=self._args("probe", key, old, 0, sig), client=pipe)
                results = pipe.execute()
                best = -1.0
                for reply in results:
                    if reply[0] == b"known":
                        return _decision(doc_id, reply[1], reply[2], float(reply[3]))
                    if reply[0] == b"match" and float(reply[3]) > best:
                        best = float(reply[3])
                        prior = reply[1] + reply[2] + bytes([round(best * 255)])
                hint = int(results[-1][-1])
            reply = self.script(keys=[self.bucket_tag(day)], args=self._args("decide", key, day, hint, sig, prior))
            if reply[0] == b"sealed":
                LOGGER.info("dedup bucket %s is sealed; moving to the next day", self.bucket_tag(day))
                day += 1
                continue
            if reply[0] == b"original":
                return Decision(ORIGINAL, doc_id, None, None, None)
            return _decision(doc_id, reply[1], reply[2], float(reply[3]))
        raise DedupError(f"no open dedup bucket after {_MAX_BUCKET_MOVES} moves for {doc_id}")
