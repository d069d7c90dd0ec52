"""A small real newsroom for API tests: ten articles from the extraction benchmark, and one story told by
four outlets (the original, an exact copy, a rewritten copy and a Spanish translation) from crosslingual-dev."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest.urls import host_of, url_id
from store.base import Store
from store.records import EXACT, NEAR, TRANSLATION, Document

BASE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SINGLES = 10
STORY_SRC, STORY_MT = "1483803662", "1483803662es"  # "Striking Arizona copper miners ..." en -> es


@dataclass
class Newsroom:
    """Ids of what was published."""

    singles: list[str] = field(default_factory=list)
    story: str = ""
    exact: str = ""
    near: str = ""
    translation: str = ""
    texts: dict[str, str] = field(default_factory=dict)


def _doc(url: str, text: str, hours: float, **fields) -> Document:
    """A document as the worker would publish it."""
    published = BASE + timedelta(hours=hours)
    first = text.strip().splitlines()[0]
    doc_id = url_id(url)
    fields.setdefault("story_id", doc_id)
    return Document(id=doc_id, url=url, urls=[url], title=fields.pop("title", first[:90]), text=text,
                    source=host_of(url), fetched=published + timedelta(minutes=3), published=published,
                    word_count=len(text.split()), feeds=[f"https://{host_of(url)}/rss"], **fields)


def _publish(store: Store, doc: Document) -> str:
    store.publish(doc, doc.id)
    return doc.id


def fill(store: Store, corpus: Path) -> Newsroom:
    """Publish the newsroom into `store`."""
    room = Newsroom()
    truth = json.loads((corpus / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    english = [item for _, item in sorted(truth.items()) if item["articleBody"].isascii()
               and len(item["articleBody"]) > 1500]
    for i, item in enumerate(english[:SINGLES]):
        room.singles.append(_publish(store, _doc(item["url"], item["articleBody"], hours=i, language="en")))
    articles = {}
    with open(corpus / "crosslingual-dev" / "articles.jsonl", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["id"] in (STORY_SRC, STORY_MT):
                articles[row["id"]] = row
    text = articles[STORY_SRC]["text"]
    original = _doc("https://www.reuters.com/world/us/arizona-copper-miners-strike", text, 20, language="en",
                    wire="Reuters", title="Striking Arizona copper miners determined to continue fight")
    room.story = _publish(store, original)
    copy = dict(story_id=room.story, duplicate_of=room.story, language="en", wire="Reuters")
    room.exact = _publish(store, _doc("https://apnews.com/article/copper-miners", text, 21, relation=EXACT,
                                      similarity=1.0, title=original.title, **copy))
    rewritten = "Copper miners on strike in Arizona say they will keep fighting. " + " ".join(text.split()[12:])
    room.near = _publish(store, _doc("https://www.azcentral.com/story/news/copper-strike", rewritten, 22,
                                     relation=NEAR, similarity=0.86, title="Arizona copper miners vow to keep fighting",
                                     **copy))
    room.translation = _publish(store, _doc(
        "https://elpais.com/internacional/mineros-cobre-arizona", articles[STORY_MT]["text"], 23,
        relation=TRANSLATION, similarity=0.71, story_id=room.story, duplicate_of=room.story, language="es",
        title="Mineros de cobre de Arizona en huelga decididos a seguir luchando"))
    room.texts = {"story": text, "translation": articles[STORY_MT]["text"]}
    return room
