"""Real pages and feeds for tests: corpus articles, the French seed wrapped in site boilerplate, RSS built around them."""

from __future__ import annotations

import gzip
import json
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path


def seed_page(seed_dir: Path) -> tuple[str, bytes]:
    """The French seed article as a news page with navigation, a newsletter box and a footer; (title, html)."""
    return article_page(seed_dir / "article-fr.txt", "fr")


def english_seed_page() -> tuple[str, bytes]:
    """An English wire-style rendering of the seed story (the French one translates it), as a news page."""
    return article_page(Path(__file__).parent / "workers" / "data" / "article-en.txt", "en")


def article_page(path: Path, lang: str) -> tuple[str, bytes]:
    """A plain-text article (title, blank line, paragraphs) wrapped in a site's boilerplate; (title, html)."""
    paragraphs = path.read_text(encoding="utf-8").strip().split("\n\n")
    title, body = paragraphs[0], paragraphs[1:]
    html = f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)} | Le Quotidien</title>
<meta property="og:site_name" content="Le Quotidien">
<meta name="author" content="Rédaction internationale">
<meta property="article:published_time" content="2022-09-11T08:30:00+00:00"></head>
<body>
<header><nav><a href="/">Accueil</a> <a href="/monde">Monde</a> <a href="/economie">Économie</a>
<a href="/sport">Sport</a> <a href="/culture">Culture</a> <a href="/abonnement">S’abonner</a></nav></header>
<main><article><h1>{escape(title)}</h1>
<p class="byline">Par la Rédaction internationale, publié le 11 septembre 2022</p>
{''.join(f'<p>{escape(p)}</p>' for p in body)}
</article>
<aside><h3>Newsletter</h3><p>Recevez chaque matin l’essentiel de l’actualité. Inscrivez-vous gratuitement.</p></aside>
</main>
<footer><p>© 2022 Le Quotidien — Mentions légales — Politique de confidentialité — Gérer les cookies</p></footer>
</body></html>"""
    return title, html.encode("utf-8")


def aeb_pages(corpus: Path, count: int) -> list[tuple[str, bytes, str]]:
    """The first `count` article pages of the AEB corpus with ground truth: (id, html bytes, article body)."""
    truth = json.loads((corpus / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        path = corpus / "aeb" / "html" / f"{key}.html.gz"
        if path.exists() and len(truth[key]["articleBody"]) > 1500:
            pages.append((key, gzip.decompress(path.read_bytes()), truth[key]["articleBody"]))
        if len(pages) == count:
            break
    return pages


def rss(title: str, items: list[dict], now: datetime | None = None) -> bytes:
    """An RSS 2.0 feed; each item is a dict with link, title and optional summary/guid."""
    now = now or datetime.now(timezone.utc)
    entries = []
    for n, item in enumerate(items):
        published = format_datetime(now - timedelta(hours=n + 1))
        entries.append(
            f"<item><title>{escape(item['title'])}</title><link>{escape(item['link'])}</link>"
            f"<guid>{escape(item.get('guid', item['link']))}</guid><pubDate>{published}</pubDate>"
            f"<description>{escape(item.get('summary', ''))}</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>http://example.org/</link><description>test feed</description>{''.join(entries)}"
        "</channel></rss>"
    ).encode("utf-8")
