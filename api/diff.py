"""How a copy of a story differs from its canonical document: sizes, and a word diff of the opening."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from store.records import TRANSLATION, Copy, Document

LEAD_WORDS = 80  # words of each text's opening compared; enough to see a rewritten lede, cheap to diff


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
    new = lead(doc.text)
    if view.translation:
        view.excerpt = " ".join(new)
        return view
    old = lead(canonical.text)
    view.identical_lead = old == new
    if not view.identical_lead:
        view.segments = word_diff(old, new)
    return view
