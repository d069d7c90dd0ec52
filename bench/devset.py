"""The labelled dedup development set: real corpus articles and copies made the way outlets make them.

`build_devset(corpus)` returns documents in arrival order, each with the story it belongs to. Stories are
real article texts (aeb ground truth, readability expected pages, newspaper expected texts). Copies are
re-headlined (the title is not part of the text), given or stripped of bylines and datelines, wrapped in
boilerplate, trimmed to their first 3-6 paragraphs, lightly edited and updated with new paragraphs.
Hard negatives are built in: the corpus holds pairs of articles from the same site, articles on the same
subjects, and "quoting" copies that carry one sentence of another story. `load_scoop(corpus)` reads the
hand-labelled short news groups. Everything is generated from a fixed seed.
"""

from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path

import lxml.html

from workers.normalize import normalize_for_comparison
from workers.signature import shingles

LOGGER = logging.getLogger(__name__)

SEED = 20251125
MIN_WORDS, MIN_PARAGRAPHS = 150, 4
_NAMES = ("Jane Doe", "Mark Ellison", "Priya Raman", "Tomás Ortega", "Ana Lima", "Kenji Sato")
_PLACES = ("WASHINGTON", "LONDON", "PARIS", "NEW YORK", "BERLIN", "TOKYO", "SYDNEY")
_WIRES = ("AP", "Reuters", "AFP")
_BOILERPLATE = (
    "Copyright 2025 The Associated Press. All rights reserved. This material may not be published, broadcast, "
    "rewritten or redistributed.",
    "Sign up for our morning newsletter to get the day's top stories in your inbox.",
    "Photo: {name}/Getty Images",
    "Reporting by {name}; Editing by {name2}",
    "Related: {other}",
    "Follow us on Twitter and Facebook for the latest updates.",
)


@dataclass(frozen=True)
class DevDoc:
    """One document of the development set: its id, text, story label and how it was made."""

    doc_id: str
    text: str
    story: str
    kind: str


def _paragraphs(text: str) -> list[str]:
    """Non-empty paragraphs of a text."""
    return [p.strip() for p in re.split(r"\n+", text) if p.strip()]


def load_articles(corpus: Path) -> dict[str, list[str]]:
    """Real article texts by name, as paragraph lists, from the three extraction corpora."""
    articles: dict[str, list[str]] = {}
    truth = json.loads((corpus / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    for key, item in sorted(truth.items()):
        articles[f"aeb/{key}"] = _paragraphs(item.get("articleBody") or "")
    for page in sorted((corpus / "readability").glob("*/expected.html")):
        tree = lxml.html.fromstring(page.read_bytes())
        articles[f"readability/{page.parent.name}"] = [
            " ".join(p.text_content().split()) for p in tree.iter("p", "li", "h2", "h3", "blockquote")
        ]
    for path in sorted((corpus / "newspaper" / "text").glob("*.txt")):
        articles[f"newspaper/{path.stem}"] = _paragraphs(path.read_text(encoding="utf-8", errors="replace"))
    # Space-delimited languages only: copies of Chinese or Thai text need a different tokeniser.
    kept = {
        name: [p for p in paras if p]
        for name, paras in articles.items()
        if sum(len(p.split()) for p in paras) >= MIN_WORDS and len([p for p in paras if p]) >= MIN_PARAGRAPHS
        and sum(len(p.split()) for p in paras) * 12 > sum(len(p) for p in paras)
    }
    return _drop_corpus_copies(kept)


def _drop_corpus_copies(articles: dict[str, list[str]]) -> dict[str, list[str]]:
    """Keep one of each set of corpus articles that are copies of each other (the same page in two corpora,
    shared test fixtures): at least half of the shorter's 3-grams in the other, counted exactly."""
    grams = {
        name: set(shingles(normalize_for_comparison("\n".join(paras)).split())) for name, paras in articles.items()
    }
    kept: dict[str, list[str]] = {}
    for name, paras in articles.items():
        mine = grams[name]
        twin = next((k for k in kept if len(mine & grams[k]) >= 0.5 * min(len(mine), len(grams[k]))), None)
        if twin is None:
            kept[name] = paras
        else:
            LOGGER.info("dev set: %s is a copy of %s; dropped", name, twin)
    return kept


def _edit_words(rng: random.Random, paragraphs: list[str], edits: int) -> list[str]:
    """Change a few words the way copy editors do: a replaced, dropped or inserted word."""
    paragraphs = list(paragraphs)
    for _ in range(edits):
        i = rng.randrange(len(paragraphs))
        words = paragraphs[i].split()
        if len(words) < 4:
            continue
        j = rng.randrange(len(words))
        action = rng.choice(("replace", "drop", "insert"))
        if action == "replace":
            words[j] = rng.choice(("said", "stated", "reported", "according", "officials", "on Tuesday"))
        elif action == "drop":
            del words[j]
        else:
            words.insert(j, rng.choice(("also", "now", "reportedly", "however,")))
        paragraphs[i] = " ".join(words)
    return paragraphs


def make_copy(rng: random.Random, paragraphs: list[str], others: list[list[str]]) -> tuple[str, str]:
    """One outlet's copy of an article and a label of what was done to it."""
    done = []
    paras = list(paragraphs)
    if rng.random() < 0.5:
        keep = rng.randint(3, 6)
        if keep < len(paras):
            paras, _ = paras[:keep], done.append(f"trim{keep}")
    if rng.random() < 0.5:
        paras, _ = _edit_words(rng, paras, rng.randint(1, 5)), done.append("edit")
    if rng.random() < 0.4:
        # New paragraphs: text from elsewhere in the corpus, as an outlet's own update would be.
        # A copy stays mostly the original's text: updates add at most a third of its length.
        budget = sum(len(p.split()) for p in paras) // 3
        update = [p for p in rng.choice(others)[1:] if len(p.split()) <= budget]
        if update:
            paras = paras + rng.sample(update, 1)
            done.append("update")
    if rng.random() < 0.5:
        wire = rng.choice(_WIRES)
        paras[0] = f"{rng.choice(_PLACES)} ({wire}) \u2014 {paras[0]}"
        done.append("dateline")
    if rng.random() < 0.4:
        paras.insert(0, f"By {rng.choice(_NAMES)}, {rng.choice(('Associated Press', 'Reuters', 'Staff Writer'))}")
        done.append("byline")
    if rng.random() < 0.6:
        for _ in range(rng.randint(1, 3)):
            line = rng.choice(_BOILERPLATE).format(
                name=rng.choice(_NAMES), name2=rng.choice(_NAMES), other=rng.choice(others)[0][:90]
            )
            paras.insert(rng.randint(1, len(paras)), line)
        done.append("boilerplate")
    return "\n\n".join(paras), "+".join(done) or "verbatim"


def _quoting(rng: random.Random, paragraphs: list[str], quoted: list[str]) -> str:
    """Another story's text carrying one sentence of `quoted`: the same statement quoted, a different story."""
    sentences = [s for p in quoted for s in re.split(r"(?<=[.!?])\s+", p) if len(s.split()) >= 12]
    if not sentences:
        return "\n\n".join(paragraphs)
    paras = list(paragraphs)
    paras.insert(min(2, len(paras)), f"\u201c{rng.choice(sentences)}\u201d a spokesperson said.")
    return "\n\n".join(paras)


def build_devset(corpus: Path, copies_per_story: int = 3, seed: int = SEED) -> list[DevDoc]:
    """The development set in a shuffled arrival order (a copy may arrive before its original)."""
    rng = random.Random(seed)
    articles = load_articles(corpus)
    names = sorted(articles)
    docs: list[DevDoc] = []
    for n, name in enumerate(names):
        paras = articles[name]
        others = [articles[o] for o in rng.sample(names, 6) if o != name]
        docs.append(DevDoc(f"{n:05d}00", "\n\n".join(paras), name, "original"))
        for c in range(copies_per_story):
            text, kind = make_copy(rng, paras, others)
            docs.append(DevDoc(f"{n:05d}{c + 1:02d}", text, name, kind))
        if rng.random() < 0.3:
            docs.append(DevDoc(f"{n:05d}90", _quoting(rng, paras, others[0]), name, "quoting"))
    rng.shuffle(docs)
    return docs


def load_scoop(corpus: Path) -> list[DevDoc]:
    """The hand-labelled scoop items (title and 1-2 sentence teaser) with their story groups."""
    root = corpus / "dedup" / "scoop"
    docs = []
    with open(root / "ground_truth" / "dedup_ground_truth_items.jsonl", encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            item = json.loads(line)
            path = root / item["file"].removeprefix("testdata/")
            data = json.loads(path.read_text(encoding="utf-8"))
            # A feed item is its title and teaser; 86 items have only a placeholder ("---") as body.
            text = f"{data.get('title') or ''}\n\n{data.get('body_text') or ''}"
            docs.append(DevDoc(f"{n:05d}77", text, item["story_gt_id"], item.get("source", "")))
    return docs


def doc_id(dev_id: str) -> str:
    """A 20-hex-digit document id for a development-set id."""
    return dev_id.encode().hex()[:20].rjust(20, "0")
