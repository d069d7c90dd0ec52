"""read_opml / write_opml over the corpus's real subscription lists, listparser's test files and small lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import OPMLError
from ingest.opml import read_opml, write_opml
from store.records import Feed
from tests.conftest import corpus_path


def opml_files(corpus: Path) -> list[Path]:
    root = corpus / "opml"
    return sorted(p for p in root.rglob("*") if p.suffix in (".opml", ".xml") and "malformed" not in p.parts)


def test_every_subscription_list_of_the_corpus_imports(corpus):
    files = opml_files(corpus)
    assert len(files) > 200
    counts = {path: len(read_opml(path)) for path in files}
    assert sum(counts.values()) > 1000


def test_lists_with_quotes_and_markup_in_attributes_keep_every_feed(corpus):
    path = corpus / "opml" / "plenary-awesome-rss-feeds" / "countries" / "with_category" / "Russia.opml"
    feeds = read_opml(path)
    assert len(feeds) == path.read_bytes().count(b"xmlUrl=")
    assert any(f.url == "https://www.kommersant.ru/RSS/main.xml" and "Коммерсантъ" in f.title for f in feeds)
    assert {f.category for f in feeds} == {"Russia"}


def test_nested_categories_become_a_path(corpus):
    [feed] = read_opml(corpus / "opml" / "listparser-tests" / "opml" / "categories" / "hier-2-nested.xml")
    assert feed.category == "grouping1/grouping2"


FEED_A = '<outline type="rss" text="A" xmlUrl="https://a.example/rss"/>'
FOLDER_LAYOUTS = {
    "folder and first feed on one line": '<outline text="News">' + FEED_A,
    "single-quoted folder on its own line": "<outline text='News'>\n" + FEED_A,
}


def _opml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "list.opml"
    head = '<?xml version="1.0"?>\n<opml version="1.0"><head><title>x</title></head><body>'
    path.write_text(f"{head}\n{body}\n</body></opml>\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("layout", FOLDER_LAYOUTS.values(), ids=FOLDER_LAYOUTS.keys())
def test_folder_tag_beside_its_first_feed_is_not_merged_with_it(tmp_path, layout):
    path = _opml(tmp_path, layout + '\n<outline type="rss" text="B" xmlUrl="https://b.example/rss"/>\n</outline>')
    assert [(f.url, f.title, f.category) for f in read_opml(path)] == [
        ("https://a.example/rss", "A", "News"), ("https://b.example/rss", "B", "News")]


def test_feed_with_broken_quoting_after_a_folder_sharing_a_line_is_still_repaired(tmp_path):
    broken = '<outline type="rss" text="B "quoted"" description="<p>x</p>" xmlUrl="https://b.example/rss"/>'
    path = _opml(tmp_path, FOLDER_LAYOUTS["folder and first feed on one line"] + "\n" + broken + "\n</outline>")
    assert [(f.url, f.title, f.category) for f in read_opml(path)] == [
        ("https://a.example/rss", "A", "News"), ("https://b.example/rss", 'B "quoted"', "News")]


MALFORMED = corpus_path() / "opml" / "listparser-tests" / "malformed"


@pytest.mark.parametrize("name", sorted(p.name for p in MALFORMED.glob("*.xml")))
def test_malformed_list_raises_naming_the_file_and_the_problem(corpus, name):
    path = corpus / "opml" / "listparser-tests" / "malformed" / name
    with pytest.raises(OPMLError) as caught:
        read_opml(path)
    assert str(path) in str(caught.value) and "line" in caught.value.problem


def test_missing_file_raises_opml_error(tmp_path):
    with pytest.raises(OPMLError, match="cannot read"):
        read_opml(tmp_path / "absent.opml")


def test_export_then_import_round_trips_urls_titles_and_categories(tmp_path):
    feeds = [Feed(url="https://a.example/rss", title="A & B <news>", category="News/World"),
             Feed(url="https://b.example/atom", title=None, category="News"),
             Feed(url="https://c.example/feed.json", title="C", category=None, site_url="https://c.example/")]
    path = tmp_path / "out.opml"
    path.write_text(write_opml(feeds), encoding="utf-8")
    back = {f.url: (f.title, f.category) for f in read_opml(path)}
    assert back == {"https://a.example/rss": ("A & B <news>", "News/World"),
                    "https://b.example/atom": ("https://b.example/atom", "News"),
                    "https://c.example/feed.json": ("C", None)}
