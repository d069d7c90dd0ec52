"""fetch_feed and parse_feed: conditional GET, RSS/Atom/JSON Feed, links, dates, encodings, HTML pages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from ingest.errors import NotAFeed
from ingest.feeds import cache_seconds, fetch_feed, parse_feed
from net.http import make_client
from store.records import Feed

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
FEED_URL = "https://news.example.org/feeds/main.xml"


def rss(items: str, channel: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            f'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" '
            f'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"><channel><title>News</title>'
            f'<link>https://news.example.org/</link>{channel}{items}</channel></rss>').encode()


def item(link: str, days_old: float = 1, extra: str = "") -> str:
    date = format_datetime(NOW - timedelta(days=days_old), usegmt=True)
    return f"<item><title>T {link}</title><link>{link}</link><pubDate>{date}</pubDate>{extra}</item>"


def test_rss_entries_become_feed_entries_with_canonical_ids(settings):
    parsed = parse_feed(rss(item("https://news.example.org/a?utm_source=rss#top")), FEED_URL, settings, now=NOW)
    [entry] = parsed.entries
    assert parsed.title == "News" and parsed.site_url == "https://news.example.org/"
    assert entry.canonical_url == "https://news.example.org/a"
    assert entry.feed_url == FEED_URL and entry.title.startswith("T ")
    assert entry.published == NOW - timedelta(days=1)


def test_relative_links_resolve_against_the_feed_url(settings):
    parsed = parse_feed(rss(item("../story/1.html")), FEED_URL, settings, now=NOW)
    assert parsed.entries[0].canonical_url == "https://news.example.org/story/1.html"


def test_summary_and_title_keep_text_but_no_markup_scripts_or_styles(settings):
    summary = ("<description><![CDATA[<p>Troops <b>entered</b> Kharkiv &amp; Izium.</p>"
               "<script>track('x')</script><style>p{color:red}</style><img src=x onerror=alert(1)>]]></description>")
    parsed = parse_feed(rss(item("https://news.example.org/a", extra=summary)), FEED_URL, settings, now=NOW)
    [entry] = parsed.entries
    assert entry.summary == "Troops entered Kharkiv & Izium."
    assert entry.title == "T https://news.example.org/a"


def test_google_news_link_resolves_to_the_publisher_url_it_carries(settings):
    link = "https://news.google.com/news/url?sa=t&amp;url=https://publisher.example/story-1&amp;ct=ga"
    parsed = parse_feed(rss(item(link)), FEED_URL, settings, now=NOW)
    assert parsed.entries[0].canonical_url == "https://publisher.example/story-1"


def test_feedproxy_link_yields_to_feedburner_origlink(settings):
    extra = "<feedburner:origLink>https://publisher.example/real</feedburner:origLink>"
    parsed = parse_feed(rss(item("http://feedproxy.google.com/~r/x/~3/abc/", extra=extra)), FEED_URL, settings, now=NOW)
    assert parsed.entries[0].canonical_url == "https://publisher.example/real"


def test_entries_older_than_the_age_limit_are_skipped_with_a_reason(settings):
    parsed = parse_feed(rss(item("https://a.example/old", days_old=settings.entry_max_age_days + 1)),
                        FEED_URL, settings, now=NOW)
    assert parsed.entries == [] and parsed.found == 1
    assert "older than" in parsed.reason


def test_every_fresh_entry_is_kept_newest_first_whatever_the_per_poll_cap(settings):
    # Which entries are new only the store knows: the poller applies max_entries_per_poll to those.
    capped = settings.model_copy(update={"max_entries_per_poll": 2})
    body = rss("".join(item(f"https://a.example/{n}", days_old=n) for n in (3, 1, 2)))
    parsed = parse_feed(body, FEED_URL, capped, now=NOW)
    assert [e.canonical_url for e in parsed.entries] == [f"https://a.example/{n}" for n in (1, 2, 3)]


def test_feed_hints_ttl_and_sy_update_period_are_read(settings):
    channel = "<ttl>90</ttl><sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>"
    parsed = parse_feed(rss(item("https://a.example/1"), channel), FEED_URL, settings, now=NOW)
    assert parsed.ttl_seconds == 5400 and parsed.update_seconds == 21_600


def test_json_feed_is_parsed(settings):
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J",
                       "home_page_url": "https://j.example/",
                       "items": [{"id": "1", "url": "/posts/1", "title": "One",
                                  "date_published": (NOW - timedelta(hours=2)).isoformat(),
                                  "authors": [{"name": "Ann"}]}]}).encode()
    parsed = parse_feed(body, "https://j.example/feed.json", settings, now=NOW)
    assert parsed.version == "json" and parsed.title == "J"
    assert parsed.entries[0].canonical_url == "https://j.example/posts/1"
    assert parsed.entries[0].authors == ["Ann"]


def json_feed(items) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}).encode()


GOOD_ITEM = {"id": "good", "url": "https://j.example/good", "date_published": (NOW - timedelta(hours=1)).isoformat()}


@pytest.mark.parametrize("odd, field, expected", [
    ({"authors": 1}, "authors", []),
    ({"authors": [{"name": 7}, "Ann", {"name": " Bea "}]}, "authors", ["Bea"]),
    ({"date_published": "0001-01-01T00:00:00+01:00"}, "published", None),
    ({"date_published": "9999-12-31T23:59:59-01:00"}, "published", None),
    ({"title": 1984}, "title", None),
    ({"url": 5, "external_url": "https://j.example/external"}, "canonical_url", "https://j.example/external"),
], ids=["authors-number", "author-names-not-text", "date-before-year-1-in-utc", "date-after-9999-in-utc",
        "title-number", "url-number"])
def test_json_feed_item_with_a_malformed_field_loses_only_that_field(settings, odd, field, expected):
    item_ = {"id": "odd", "url": "https://j.example/odd", "title": "Odd", **odd}
    parsed = parse_feed(json_feed([GOOD_ITEM, item_]), "https://j.example/feed.json", settings, now=NOW)
    entries = {entry.guid: entry for entry in parsed.entries}
    assert set(entries) == {"good", "odd"}
    assert getattr(entries["odd"], field) == expected


def test_json_feed_whose_items_are_not_a_list_has_no_entries(settings):
    parsed = parse_feed(json_feed(1), "https://j.example/feed.json", settings, now=NOW)
    assert (parsed.title, parsed.entries, parsed.reason) == ("J", [], "no entries")


def test_charset_of_the_content_type_header_is_honoured(settings):
    body = rss(item("https://a.example/1")).replace(b"<title>News</title>", "<title>Новости</title>".encode("cp1251"))
    body = body.replace(b' encoding="utf-8"', b"")
    parsed = parse_feed(body, FEED_URL, settings, {"Content-Type": "application/xml; charset=windows-1251"}, now=NOW)
    assert parsed.title == "Новости"


def test_html_page_raises_not_a_feed_with_the_feeds_it_links_to(settings):
    page = (b'<!doctype html><html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
            b"</head><body><p>Hello</p></body></html>")
    with pytest.raises(NotAFeed) as caught:
        parse_feed(page, "https://site.example/news/", settings, {"content-type": "text/html"})
    assert caught.value.candidates == ["https://site.example/rss.xml"]


def test_feed_without_entries_records_why(settings):
    parsed = parse_feed(rss(""), FEED_URL, settings, now=NOW)
    assert parsed.entries == [] and parsed.reason.startswith("no entries")


def test_cache_control_max_age_wins_over_expires():
    assert cache_seconds({"cache-control": "public, max-age=600", "expires": "Thu, 01 Jan 1970 00:00:00 GMT"}) == 600
    assert cache_seconds({"expires": format_datetime(NOW + timedelta(hours=1), usegmt=True)}, now=NOW) == 3600
    assert cache_seconds({}) is None


def test_fetch_sends_validators_and_reads_not_modified(settings, http_server):
    url = http_server.add("/feed", b"", status=304, headers={"ETag": '"v2"'})
    with make_client(settings) as client:
        fetched = fetch_feed(client, Feed(url=url, etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT"),
                             settings)
    sent = http_server.requests[-1][1]
    assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert fetched.status == 304 and fetched.body is None and fetched.etag == '"v2"'


def test_unconditional_fetch_sends_no_validators(settings, http_server):
    url = http_server.add("/feed", rss(""), headers={"Content-Type": "application/rss+xml"})
    with make_client(settings) as client:
        fetched = fetch_feed(client, Feed(url=url, etag='"v1"'), settings, conditional=False)
    assert "If-None-Match" not in http_server.requests[-1][1]
    assert fetched.status == 200 and fetched.body == rss("")


def test_korea_times_dates_with_a_gmt_plus_9_zone_are_read_so_its_old_entries_are_skipped(settings, corpus):
    body = (corpus / "feeds" / "mediacloud-rss-fetcher" / "real-korean-times.rss").read_bytes()
    parsed = parse_feed(body, FEED_URL, settings, now=NOW)
    assert parsed.entries == [] and parsed.reason == "195 entries, all older than 30 days"
    # "Thu,28 Jul 2022 4:35:5 GMT+9": nine hours ahead of UTC
    assert set(parsed.dates) == {datetime(2022, 7, 27, 19, 35, 5, tzinfo=timezone.utc)}


def test_portuguese_day_and_month_names_are_read_so_old_uol_entries_are_skipped(settings, corpus):
    body = (corpus / "feeds" / "rss-parser" / "input" / "uolNoticias.rss").read_bytes()
    parsed = parse_feed(body, FEED_URL, settings, now=NOW)
    assert parsed.entries == [] and parsed.reason == "15 entries, all older than 30 days"
    # "Seg, 24 Set 2018 19:42:40 -0300" (segunda-feira, setembro)
    assert parsed.dates[0] == datetime(2018, 9, 24, 22, 42, 40, tzinfo=timezone.utc)


# The feed says its language; says none; or says one its dates are not written in.
@pytest.mark.parametrize("language", ["<language>pt-BR</language>", "", "<language>en-us</language>"])
def test_date_in_another_language_is_read_and_an_unreadable_one_stays_undated(settings, language):
    items = ("<item><title>a</title><link>https://a.example/lido</link><pubDate>Sex, 28 Fev 2025 10:00:00 -0300"
             "</pubDate></item><item><title>b</title><link>https://a.example/sem-data</link>"
             "<pubDate>ontem à noite</pubDate></item>")
    parsed = parse_feed(rss(items, language), FEED_URL, settings, now=NOW)
    published = {entry.canonical_url: entry.published for entry in parsed.entries}
    assert published == {"https://a.example/lido": datetime(2025, 2, 28, 13, 0, tzinfo=timezone.utc),
                         "https://a.example/sem-data": None}


def test_dates_feedparser_parses_never_reach_the_fallback(settings, monkeypatch):
    def fallback(self, raw):
        raise AssertionError(f"fallback ran for {raw!r}")

    monkeypatch.setattr("ingest.feeds.EntryDates.read", fallback)
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><title>x</title>'
            b'<link href="https://a.example/x"/><updated>2025-02-28T10:00:00Z</updated></entry></feed>')
    assert len(parse_feed(rss(item("https://a.example/1")), FEED_URL, settings, now=NOW).entries) == 1
    assert len(parse_feed(atom, FEED_URL, settings, now=NOW).entries) == 1


def test_json_that_is_not_a_json_feed_raises_not_a_feed(settings):
    record = json.dumps({"id": 245688, "date": "2022-07-27T10:00:00", "link": "https://site.example/a/",
                         "title": {"rendered": "A"}, "content": {"rendered": "<p>A</p>"}}).encode()
    with pytest.raises(NotAFeed) as caught:
        parse_feed(record, "https://site.example/wp-json/wp/v2/posts/245688", settings)
    assert str(caught.value) == ("not a feed: https://site.example/wp-json/wp/v2/posts/245688 is JSON, "
                                 "not a JSON Feed")


def test_wordpress_page_offers_its_feed_not_its_comment_feed_and_keeps_its_rest_api_link_apart(settings, corpus):
    page = (corpus / "feeds" / "mediacloud-peoplesdailyng-feed-url-returns-html.html").read_bytes()
    url = "https://www.peoplesdailyng.com/feedback-from-previous-columns/"
    with pytest.raises(NotAFeed) as caught:
        parse_feed(page, url, settings, {"content-type": "text/html; charset=utf-8"})
    assert caught.value.candidates == ["https://www.peoplesdailyng.com/feed/"]
    assert caught.value.json_links == ["https://www.peoplesdailyng.com/wp-json/wp/v2/posts/245688"]
    assert "wp-json" not in str(caught.value)
