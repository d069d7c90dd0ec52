"""Extraction: article text and metadata from real pages, merged with the feed entry; flags and refusals."""

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ingest.records import FeedEntry
from tests.pages import aeb_pages, seed_page
from workers.errors import NoText
from workers.extract import declared_language, extract_article, normalize_text
from workers.records import FetchedPage

URL = "http://news.example/a"


def page_of(html: bytes | str) -> FetchedPage:
    text = html.decode("utf-8") if isinstance(html, bytes) else html
    return FetchedPage(URL, URL, 200, "text/html", {}, text.encode(), text, "utf-8", datetime.now(timezone.utc))


def entry(**fields) -> FeedEntry:
    return FeedEntry(url=URL, canonical_url=URL, url_id="0" * 20, feed_url="http://news.example/rss", **fields)


def test_real_page_text_matches_ground_truth_without_boilerplate(corpus):
    _, html, truth = aeb_pages(corpus, 1)[0]
    article = extract_article(page_of(html), entry())
    first_sentence = truth.split(".")[0].strip()
    assert first_sentence[:60] in article.text
    assert article.word_count > 50 and article.language == "en"


def test_seed_page_keeps_typography_and_takes_the_feed_time_on_the_same_day(seed_dir):
    _, html = seed_page(seed_dir)
    feed_time = datetime(2022, 9, 11, 8, 30, tzinfo=timezone.utc)
    article = extract_article(page_of(html), entry(published=feed_time))
    assert article.language == "fr"
    assert "“Nous espérions le succès" in article.text
    assert article.published == feed_time
    assert article.site_name == "Le Quotidien"


def test_page_declaring_itself_not_free_is_flagged_paywalled(seed_dir):
    _, html = seed_page(seed_dir)
    marked = html.decode().replace("</head>", '<script type="application/ld+json">'
                                   '{"@type": "NewsArticle", "isAccessibleForFree": "False"}</script></head>')
    assert "paywalled" in extract_article(page_of(marked), entry()).flags


def test_text_much_shorter_than_the_feed_summary_is_flagged_partial():
    teaser = "<html><body><article>" + "".join(
        f"<p>Teaser sentence number {n} of a story that continues behind a login wall here.</p>" for n in range(3)
    ) + "</article></body></html>"
    summary = " ".join(f"word{n}" for n in range(400))
    assert "partial" in extract_article(page_of(teaser), entry(summary=summary)).flags


def test_page_without_article_text_is_refused_as_no_text():
    with pytest.raises(NoText) as refused:
        extract_article(page_of("<html><body><nav>Home | News</nav></body></html>"), entry())
    assert refused.value.reason == "no-text" and not refused.value.transient


def test_normalize_text_folds_spaces_and_keeps_typography():
    assert normalize_text("  «\u00a0Bonjour\u202f»  \n\n\t l’été ") == "« Bonjour »\nl’été"


@pytest.mark.parametrize("html, language", [
    ('<!DOCTYPE html><html lang="fr-CA"><head>', "fr"),
    ("<HTML class=x LANG=de><body>", "de"),
    ('<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="es" lang="pt">', "pt"),
    ('<html xml:lang="es">', "es"),
    ('<html data-lang="it"><body>', None),
    ("<p>a fragment without an html tag</p>", None),
    # Old IE conditional comments hold <html> tags the parser never sees; the real one follows them.
    ('<!--[if lt IE 9]><html class="ie" lang="en"><![endif]--><!--[if gte IE 9]><!--><html lang="fr"><!--<![endif]-->',
     "fr"),
    ('<!--[if IE 8]><html lang="en"><![endif]--><!--[if gt IE 8]><!--><html><!--<![endif]-->', None),
])
def test_declared_language_is_read_off_the_html_tag_outside_comments(html, language):
    assert declared_language(html) == language


def test_warm_up_loads_what_a_workers_first_pages_would_otherwise_load():
    # A fresh interpreter: this one may have loaded them already, in other tests.
    probe = ("import trafilatura.external as jt; from htmldate.extractors import get_external_parser as dp;"
             "from workers.extract import warm_up;"
             "before = (jt.JT_STOPLIST is None, dp.cache_info().currsize); warm_up();"
             "print(before, (jt.JT_STOPLIST is None, dp.cache_info().currsize))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    assert out.split() == ["(True,", "0)", "(False,", "1)"]
