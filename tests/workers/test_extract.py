"""Extraction: article text and metadata from real pages, merged with the feed entry; flags and refusals."""

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.records import FeedEntry
from tests.pages import aeb_pages, seed_page
from workers.errors import NoText
from workers.extract import declared_language, extract_article, normalize_text
from workers.records import FetchedPage

URL = "http://news.example/a"


def page_of(html: bytes | str, url: str = URL) -> FetchedPage:
    text = html.decode("utf-8") if isinstance(html, bytes) else html
    return FetchedPage(url, url, 200, "text/html", {}, text.encode(), text, "utf-8", datetime.now(timezone.utc))


def entry(**fields) -> FeedEntry:
    return FeedEntry(url=URL, canonical_url=URL, url_id="0" * 20, feed_url="http://news.example/rss", **fields)


def corpus_page(corpus: Path, relative: str, url: str = URL) -> FetchedPage:
    return page_of((corpus / relative).read_bytes(), url)


def dated_page(head: str = "", footer: str = "") -> FetchedPage:
    """A plain news page whose only date is the one in `head` or `footer`."""
    paragraphs = "".join(f"<p>Paragraph {n} of a report on the council meeting that ran late into the night over "
                         f"the budget for the new harbour bridge and its upkeep.</p>" for n in range(6))
    return page_of(f"<html lang='en'><head><title>Council meets late</title>{head}</head><body><article>"
                   f"{paragraphs}</article><footer>{footer}</footer></body></html>")


def published_meta(value: str) -> str:
    return f'<meta property="article:published_time" content="{value}">'


UTC = timezone.utc
EST = timezone(timedelta(hours=-5))


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


def test_page_declaring_itself_not_free_in_microdata_is_flagged_paywalled(corpus):
    html = (corpus / "readability/nytimes-3/source.html").read_text(encoding="utf-8")
    declared = '<meta itemprop="isAccessibleForFree" content="false" />'
    assert declared in html
    assert "paywalled" in extract_article(page_of(html), entry()).flags
    free = html.replace(declared, '<meta itemprop="isAccessibleForFree" content="true" />')
    assert "paywalled" not in extract_article(page_of(free), entry()).flags


@pytest.mark.parametrize("declaration", [
    '<meta content="False" itemprop="isAccessibleForFree">',
    "<meta itemprop='isAccessibleForFree' content='false'>",
    "<meta itemprop=isAccessibleForFree content=FALSE>",
    '<link itemprop="isAccessibleForFree" href="https://schema.org/False">',
])
def test_microdata_not_free_is_recognised_in_any_attribute_order_and_quoting(seed_dir, declaration):
    _, html = seed_page(seed_dir)
    marked = html.decode().replace("</head>", f"{declaration}</head>")
    assert "paywalled" in extract_article(page_of(marked), entry()).flags


def test_text_much_shorter_than_the_feed_summary_is_flagged_partial():
    teaser = "<html><body><article>" + "".join(
        f"<p>Teaser sentence number {n} of a story that continues behind a login wall here.</p>" for n in range(3)
    ) + "</article></body></html>"
    summary = " ".join(f"word{n}" for n in range(400))
    assert "partial" in extract_article(page_of(teaser), entry(summary=summary)).flags


def test_chinese_teaser_under_a_long_chinese_summary_is_flagged_partial(corpus):
    full = extract_article(corpus_page(corpus, "goose3/test_bbc_chinese.html"), entry()).text
    lead = full.splitlines()[:2]
    teaser = "<html lang='zh'><body><article>" + "".join(f"<p>{line}</p>" for line in lead) + "</article></body></html>"
    assert "partial" in extract_article(page_of(teaser), entry(summary=full)).flags


# Words as a segmenter counts them in the extracted text (jieba for Chinese, TinySegmenter for Japanese, PyThaiNLP's
# newmm for Thai; tokens with a letter or digit). Split on spaces, these texts held 15 to 102 words.
@pytest.mark.parametrize("path, language, segmented_words", [
    ("goose3/test_bbc_chinese.html", "zh", 362),
    ("newspaper/html/japanese_article.html", "ja", 240),
    ("readability/yahoo-4/source.html", "ja", 569),
    ("newspaper/html/thai_article.html", "th", 343),
])
def test_articles_in_scripts_without_spaces_are_kept_and_counted_near_a_segmenters_words(
        corpus, path, language, segmented_words):
    article = extract_article(corpus_page(corpus, path), entry())
    assert article.language == language
    assert abs(article.word_count - segmented_words) <= 0.1 * segmented_words


@pytest.mark.parametrize("path, url, published", [
    ("readability/bbc-1/source.html", "http://www.bbc.com/news/world-us-canada-33646704",
     datetime(2015, 7, 24, 4, 36, 9, tzinfo=UTC)),  # 05:36:09+01:00
    # The URL gives only the day; the page's header gives the time, 10:43:37-08:00.
    ("readability/breitbart/source.html",
     "http://www.breitbart.com/tech/2016/12/22/neutral-snopes-fact-checker-david-emery-un-angry-trump-supporters/",
     datetime(2016, 12, 22, 18, 43, 37, tzinfo=UTC)),
])
def test_real_pages_publication_time_and_offset_are_kept_as_the_instant_in_utc(corpus, path, url, published):
    assert extract_article(corpus_page(corpus, path, url), entry()).published == published


def test_page_time_late_evening_in_a_negative_offset_is_stored_on_the_next_utc_day():
    feed_time = datetime(2024, 12, 2, 23, 30, tzinfo=EST).astimezone(UTC)
    page = dated_page(published_meta("2024-12-02T23:30:00-05:00"))
    published = extract_article(page, entry(published=feed_time)).published
    assert published == datetime(2024, 12, 3, 4, 30, tzinfo=UTC) and published.tzinfo == UTC


def test_page_time_from_earlier_today_is_kept():
    # htmldate rejects dates after its max_date; trafilatura's own max_date is today's midnight.
    now = datetime.now(UTC).replace(microsecond=0)
    assert extract_article(dated_page(published_meta(now.isoformat())), entry()).published == now


def test_page_time_wins_over_a_feed_that_re_dated_the_item():
    redated = datetime(2024, 12, 2, 12, 0, tzinfo=UTC)
    page = dated_page(published_meta("2024-11-20T09:00:00+01:00"))
    assert extract_article(page, entry(published=redated)).published == datetime(2024, 11, 20, 8, 0, tzinfo=UTC)


def test_day_only_page_date_takes_the_feed_time_even_on_the_next_utc_day():
    # In UTC, as ingest hands feed times on: 2024-12-02 23:30 -05:00, the page's day in New York.
    feed_time = datetime(2024, 12, 2, 23, 30, tzinfo=EST).astimezone(UTC)
    page = dated_page(published_meta("2024-12-02"))
    assert extract_article(page, entry(published=feed_time)).published == feed_time


def test_copyright_year_is_no_publication_date():
    page = dated_page(footer="<p>© 2024 Probe Times. All rights reserved.</p>")
    feed_time = datetime(2024, 12, 2, 12, 0, tzinfo=UTC)
    assert extract_article(page, entry(published=feed_time)).published == feed_time
    assert extract_article(page, entry()).published is None


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
             "from htmldate.extractors import month_words as mw; from workers.extract import warm_up;"
             "state = lambda: (jt.JT_STOPLIST is None, dp.cache_info().currsize, mw.cache_info().currsize);"
             "before = state(); warm_up(); print(before, state())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    assert out.split() == ["(True,", "0,", "0)", "(False,", "1,", "1)"]
