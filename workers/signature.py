"""MinHash signatures of normalised text: word 3-gram shingles, a full and a lead sketch, LSH band hashes.

Why these choices: wire copies are trimmed, re-topped and lightly edited, so two copies of one story share
most of their *opening* and a varying share of the rest (news is written in inverted pyramid, and outlets cut
from the bottom). Word 3-grams are specific enough that two independently written reports of one event share
few of them (quotes aside), and robust enough that one edited word changes only three shingles.
The head sketch (first 300 words, 128 permutations) estimates how much of the shorter text is in the longer:
comparing heads rather than whole texts keeps a 5-paragraph cut of a 3,000-word feature comparable to its
original. The lead sketch (first 25 words, the lede, 32 permutations) finds and vouches for very short cuts.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from dataclasses import dataclass

from rensa import RMinHash

LOGGER = logging.getLogger(__name__)

SHINGLE_WORDS = 3
NUM_PERM = 128
LEAD_PERM = 32
LEAD_WORDS = 25
HEAD_WORDS = 300
LEAD_SHINGLES = LEAD_WORDS - SHINGLE_WORDS + 1
FULL_SEED, LEAD_SEED = 20251, 20252
# LSH bands as (sketch, rows per band, number of bands). A pair becomes a candidate with probability
# 1 - (1 - J**r)**b: full 12x3 finds J=0.6 pairs 95% of the time, lead 8x4 finds lead J=0.8 pairs 98.5%,
# while two unrelated news texts (3-gram J ~ 0.002) collide once in ~10^7 comparisons.
FULL_BANDS = (3, 12)
LEAD_BANDS = (4, 8)
BAND_COUNT = FULL_BANDS[1] + LEAD_BANDS[1]
# One indexed record: doc id (10) | content hash (6) | head shingle count (2) | head sketch | lead sketch, one byte
# per slot (b-bit MinHash with b=8: the low byte of each 32-bit value; chance agreement 1/256 is corrected).
RECORD_SIZE = 10 + 6 + 2 + NUM_PERM + LEAD_PERM


@dataclass(frozen=True)
class Signature:
    """The comparison data of one text: its packed index record fields and its LSH band hashes."""

    content_hash: bytes
    shingles: int
    full: bytes
    lead: bytes
    bands: tuple[bytes, ...]

    def record(self, doc_key: bytes) -> bytes:
        """The fixed-size record the index stores for an original document."""
        return doc_key + self.content_hash + struct.pack(">H", min(self.shingles, 0xFFFF)) + self.full + self.lead


def shingles(words: list[str], size: int = SHINGLE_WORDS) -> list[str]:
    """Word n-grams of a word list; a text shorter than n words is one shingle."""
    if len(words) < size:
        return [" ".join(words)] if words else []
    return [" ".join(gram) for gram in zip(*(words[i:] for i in range(size)))]


def _sketch(tokens: list[str], num_perm: int, seed: int) -> list[int]:
    """The 32-bit R-MinHash values of a token set."""
    sketch = RMinHash(num_perm=num_perm, seed=seed)
    sketch.update(tokens)
    return sketch.digest()


def _band_hashes(values: list[int], rows: int, count: int, tag: int) -> list[bytes]:
    """One 8-byte hash per band of `rows` consecutive full-width values; `tag` keeps sketches apart."""
    return [
        hashlib.blake2b(struct.pack(f">B{rows}I", tag + band, *values[band * rows : (band + 1) * rows]),
                        digest_size=8).digest()
        for band in range(count)
    ]


def compute_signature(normalized: str) -> Signature:
    """The signature of a text already passed through `normalize_for_comparison`."""
    words = normalized.split()[:HEAD_WORDS]
    grams = shingles(words) or [""]
    lead_grams = grams[:LEAD_SHINGLES]
    full = _sketch(grams, NUM_PERM, FULL_SEED)
    lead = _sketch(lead_grams, LEAD_PERM, LEAD_SEED)
    bands = _band_hashes(full, *FULL_BANDS, tag=0) + _band_hashes(lead, *LEAD_BANDS, tag=64)
    return Signature(
        content_hash=hashlib.blake2b(normalized.encode("utf-8"), digest_size=6).digest(),  # of the whole text
        shingles=len(set(grams)),
        full=bytes(value & 0xFF for value in full),
        lead=bytes(value & 0xFF for value in lead),
        bands=tuple(bands),
    )
