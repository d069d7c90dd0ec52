"""Story assignment: is a document the first copy of its story, an exact copy or a near copy of an earlier one.

The index is shared by every worker through Redis and bounded by the dedup window. It is split into time
buckets one window long (see workers/dedup_script.py for the key layout), so a document's window reaches
into the current bucket and the one before; a decision

1. seals and probes the previous bucket (read-only otherwise), then
2. probes the current bucket, verifies candidates, and either records the document as a copy of the best
   verified match (old or new) or inserts it as a story's original,
in one atomic script call (EVALSHA; the script is loaded once) whatever the index holds: a probe reads the
14 small shards its band keys point to with one HMGET, it scans nothing. On Redis Cluster, where the two buckets' slots may sit on two nodes, step 1
is a call of its own and its best match is handed to step 2.

Race-freedom: two documents processed at the same moment meet in the current bucket's script, which Redis
runs one at a time, so the second sees the first. A worker whose clock still names an older bucket after
another worker moved on finds that bucket sealed and moves on too, and every insert into a bucket precedes
its seal, so a document probing a sealed bucket sees everything it will ever hold.

Buckets one window long: a copy always finds an original indexed up to one window earlier, and may find one
up to two windows earlier (the previous bucket is probed whole); Redis holds between one and two windows of
originals (a bucket expires a window after it ends). Day buckets would hold less but cost 8 probes a decision.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass

from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from store.records import EXACT, NEAR, ORIGINAL
from workers.dedup_script import lua_source
from workers.normalize import comparison_words, normalize_for_comparison
from workers.signature import Signature, compute_signature

LOGGER = logging.getLogger(__name__)

DAY = 86_400
# A near copy is a text at least half of whose shingles (of the shorter of the two) come from the other:
# independently written reports of one event share quotes and names, far below half of their 3-grams.
MIN_CONTAINMENT = 0.5
# ...and that shares at least ~14 running words, so short texts do not merge on a shared sentence fragment.
MIN_SHARED_SHINGLES = 12
MIN_WORDS = MIN_SHARED_SHINGLES + 2
LUA = lua_source(MIN_CONTAINMENT, MIN_SHARED_SHINGLES)
LUA_SHA = hashlib.sha1(LUA.encode()).hexdigest()
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
        self.span = max(self.window, DAY)  # a bucket's length in seconds
        self.clock = time.time
        self._tags: dict[int, str] = {}
        # Redis Cluster may put two buckets on two nodes: there the previous bucket is probed by its own call.
        self.one_call = not isinstance(redis, RedisCluster)
        # Standalone Redis: the index's own connection of the client's pool, and the process that opened it.
        self._conn = None
        self._conn_pid = 0
        self._conn_lock = threading.Lock()

    def bucket_tag(self, bucket: int) -> str:
        """The hash tag of a bucket: every key of the bucket starts with it (one Cluster slot per bucket)."""
        tag = self._tags.get(bucket)
        if tag is None:  # formatting a date costs ~5 us, twice a decision; a process sees few buckets
            day = time.strftime("%Y%m%d", time.gmtime(bucket * self.span))
            tag = self._tags[bucket] = "{%s:dd:%s}" % (self.prefix, day)
        return tag

    def _expire_at(self, bucket: int) -> int:
        """When a bucket's keys expire: a window after its end, when no document can match its originals."""
        return (bucket + 1) * self.span + self.window

    def decide_command(self, bucket: int, sig: Signature, record: bytes, hint: int = 0, prior: bytes = b"",
                       probe_previous: bool = True) -> tuple:
        """The EVALSHA that decides in `bucket`, probing the previous bucket in the same call unless told not to."""
        keys = [self.bucket_tag(bucket)] + ([self.bucket_tag(bucket - 1)] if probe_previous else [])
        return ("EVALSHA", LUA_SHA, len(keys), *keys, b"decide", self._expire_at(bucket), hint, sig.bands, record,
                prior, self._expire_at(bucket - 1))

    def _probe_command(self, bucket: int, sig: Signature, record: bytes) -> tuple:
        """The EVALSHA that seals and probes an older bucket by itself."""
        return ("EVALSHA", LUA_SHA, 1, self.bucket_tag(bucket), b"probe", self._expire_at(bucket), 0, sig.bands,
                record, b"", 0)

    def load_script(self) -> None:
        """Load the script into Redis (again after a restart or SCRIPT FLUSH)."""
        self.redis.script_load(LUA)

    def _run(self, command: tuple) -> list:
        """Run one script command, loading the script first if Redis does not know it."""
        try:
            return self._execute(command)
        except NoScriptError:
            self.load_script()
            return self._execute(command)

    def _execute(self, command: tuple) -> list:
        """Send one command and read its reply.

        On standalone Redis the command goes straight to a connection of the client's pool that this index
        keeps (a forked process takes its own): redis-py's `execute_command` spends ~50 us a call on pool
        checkout, retries and observability hooks, a fifth of a whole decision. A connection that breaks is
        reopened and the command sent once more, as redis-py's retry would: safe, because a decision already
        made is found and answered again.
        """
        if isinstance(self.redis, RedisCluster):
            return self.redis.execute_command(*command)
        with self._conn_lock:
            if self._conn_pid != os.getpid():
                self._conn, self._conn_pid = self.redis.connection_pool.get_connection(), os.getpid()
            try:
                self._conn.send_command(*command)
                return self._conn.read_response()
            except (RedisConnectionError, RedisTimeoutError):
                self._conn.disconnect()
                self._conn.send_command(*command)
                return self._conn.read_response()

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
        if comparison_words(normalized) < MIN_WORDS:
            # Too little text to call it anyone's copy (placeholders, "---", a one-line teaser): its own story.
            doc_key(doc_id)
            return Decision(ORIGINAL, doc_id, None, None, None)
        return self.decide_signature(doc_id, compute_signature(normalized))

    def decide_signature(self, doc_id: str, sig: Signature) -> Decision:
        """`decide()` for a signature already computed."""
        record = sig.record(doc_key(doc_id))
        bucket = int(self.clock() // self.span)
        for _ in range(_MAX_BUCKET_MOVES):
            if self.one_call:
                reply = self._run(self.decide_command(bucket, sig, record))
            else:
                old = self._run(self._probe_command(bucket - 1, sig, record))
                if old[0] == b"known":
                    return _decision(doc_id, old[1], old[2], float(old[3]))
                prior = old[1] + old[2] + bytes([round(float(old[3]) * 255)]) if old[0] == b"match" else b""
                reply = self._run(self.decide_command(bucket, sig, record, int(old[-1]), prior, probe_previous=False))
            if reply[0] == b"sealed":
                LOGGER.info("dedup bucket %s is sealed; moving to the next one", self.bucket_tag(bucket))
                bucket += 1
                continue
            if reply[0] == b"original":
                return Decision(ORIGINAL, doc_id, None, None, None)
            return _decision(doc_id, reply[1], reply[2], float(reply[3]))
        raise DedupError(f"no open dedup bucket after {_MAX_BUCKET_MOVES} moves for {doc_id}")
