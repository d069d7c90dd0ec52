"""The reading page: search as stories, a story with every copy and how it differs, feeds' health.

Each page makes a bounded number of store calls: a search page one search plus one get_story per story
with copies (at most PAGE_SIZE), a story page one get_story plus at most MAX_DIFFED get_document calls.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import get_store, run_search
from api.diff import compare_copy
from api.params import filters
from api.serialize import shown_feed
from store.base import Store
from store.records import TRANSLATION

LOGGER = logging.getLogger(__name__)

PAGE_SIZE = 20
MAX_DIFFED = 30  # copies of one story whose text is loaded and compared; the rest are listed only
OPENING_WORDS = 150  # words of the canonical text on a story page
COPIES_SHOWN = 8  # copies listed under a search result before "all N on the story page"

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))  # autoescapes .html


def web_link(url: str | None) -> str:
    """`url` if it is an http(s) link, else "#": a stored URL must never become a javascript: link."""
    return url if url and url.lower().startswith(("http://", "https://")) else "#"


templates.env.filters["web_link"] = web_link


def _form(request: Request) -> dict[str, str]:
    """The search form's values as the user sent them (for refilling the form)."""
    keys = ("q", "lang", "source", "since", "until", "order")
    return {key: request.query_params.get(key, "") for key in keys}


def opening(text: str, words: int = OPENING_WORDS) -> list[str]:
    """The first paragraphs of `text`, `words` words at most (the full text is one click away at the source)."""
    paragraphs, left = [], words
    for line in text.splitlines():
        kept = line.split()[:left]
        if kept:
            paragraphs.append(" ".join(kept) + ("…" if len(kept) < len(line.split()) else ""))
            left -= len(kept)
        if left <= 0:
            break
    return paragraphs


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, store: Store = Depends(get_store)):
    """Search box and filters; results one per story, each with who else published it."""
    form = _form(request)
    status, error, hits, stories, next_cursor = 200, None, [], {}, None
    try:
        query = filters(q=form["q"], lang=form["lang"], source=form["source"], since=form["since"],
                        until=form["until"], order="date" if form["order"] == "date" else "relevance",
                        cursor=request.query_params.get("cursor"), limit=PAGE_SIZE)
        page = run_search(store, query)
        hits, next_cursor = page.hits, page.next_cursor
        stories = {hit.document.story_id: store.get_story(hit.document.story_id) for hit in hits if hit.copies}
    except RequestValidationError as exc:
        status, error = 422, "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())
    return templates.TemplateResponse(request, "search.html", {
        "form": form, "hits": hits, "stories": stories, "next_cursor": next_cursor, "error": error,
        "copies_shown": COPIES_SHOWN, "translation": TRANSLATION,
    }, status_code=status)


@router.get("/story/{story_id}", response_class=HTMLResponse)
def story_page(request: Request, story_id: str, store: Store = Depends(get_store)):
    """A story: the canonical text's opening and every copy, with how each one differs."""
    story = store.get_story(story_id.replace("\x00", ""))
    if story is None:
        return templates.TemplateResponse(request, "missing.html", {"what": "story", "id": story_id},
                                          status_code=404)
    others = [c for c in story.copies if c.id != story.canonical.id]
    views = [compare_copy(story.canonical, c, store.get_document(c.id) if i < MAX_DIFFED else None)
             for i, c in enumerate(others)]
    return templates.TemplateResponse(request, "story.html", {
        "story": story, "doc": story.canonical, "views": views,
        "opening": opening(story.canonical.text),
    })


@router.get("/feeds", response_class=HTMLResponse)
def feeds_page(request: Request, store: Store = Depends(get_store)):
    """Every feed with its health, troubled ones first."""
    feeds = sorted(map(shown_feed, store.list_feeds()), key=lambda f: (f.state == "ok", -f.failures, f.url))
    return templates.TemplateResponse(request, "feeds.html", {"feeds": feeds})
