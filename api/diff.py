"""How a copy of a story differs from its canonical document: sizes, and a word diff of the opening."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from store.records import TRANSLATION, Copy, Document

LEAD_WORDS = 80  # words of the canonical opening compared; enough to see a rewritten lede, cheap to diff
SLACK = 40  # more words of the copy, so a rewrite that shifts words does not look like a change at the cut


@dataclass
class CopyView:
    """One copy as the story page shows it."""

    copy: Copy
    word_count: int | None = None
    words_delta: int | None = None  # copy minus canonical
    segments: list[tuple[str, str]] = field(default_factory=list)  # ("equal" | "delete" | "insert", text)
    excerpt: str = ""  # the copy's opening, shown instead of a diff for translations
    identical_lead: bool = False

    @property
    def translation(self) -> bool:
        return self.copy.relation == TRANSLATION


def lead(text: str, words: int = LEAD_WORDS) -> list[str]:
    """The first `words` words of `text`."""
    return text.split(maxsplit=words)[:words]


def word_diff(old: list[str], new: list[str]) -> list[tuple[str, str]]:
    """Segments turning `old` into `new`: equal runs, deleted and inserted words (a change is both)."""
    segments = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            segments.append(("equal", " ".join(old[i1:i2])))
            continue
        if i2 > i1:
            segments.append(("delete", " ".join(old[i1:i2])))
        if j2 > j1:
            segments.append(("insert", " ".join(new[j1:j2])))
    return segments


def compare_copy(canonical: Document, copy: Copy, doc: Document | None) -> CopyView:
    """What the page says about `copy` (its full document `doc` if loaded) against the canonical one."""
    view = CopyView(copy=copy)
    if doc is None:
        return view
    view.word_count = doc.word_count or len(doc.text.split())
    view.words_delta = view.word_count - (canonical.word_count or len(canonical.text.split()))
    if view.translation:
        view.excerpt = " ".join(lead(doc.text))
        return view
    old = canonical.text.split(maxsplit=LEAD_WORDS)
    segments = word_diff(old[:LEAD_WORDS], lead(doc.text, LEAD_WORDS + SLACK))
    while len(old) > LEAD_WORDS and segments and segments[-1][0] == "insert":
        segments.pop()  # the copy's words past the compared opening, not an insertion
    view.identical_lead = all(kind == "equal" for kind, _ in segments)
    view.segments = [] if view.identical_lead else segments
    return view
