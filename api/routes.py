"""The JSON API: /v1/documents, /v1/stories, /v1/feeds and /healthz."""

from __future__ import annotations

import dataclasses
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query as Param, Request
from fastapi.responses import JSONResponse

from api.deps import get_store, run_search
from api.params import filters
from api.serialize import hit_json, jsonable, shown_feed, story_json, story_summary_json
from store.base import Store, StoreError
from store.records import Query

LOGGER = logging.getLogger(__name__)

router = APIRouter()

StoreDep = Annotated[Store, Depends(get_store)]
Filters = Annotated[Query, Depends(filters)]
Id = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00]+$", description="Document or story id.")]


@router.get("/v1/documents", tags=["documents"])
def list_documents(store: StoreDep, query: Filters,
                   all_copies: Annotated[bool, Param(description="Every copy, not one per story.")] = False
                   ) -> dict:
    """Documents matching the filters, one per story unless all_copies, with the story's other outlets."""
    page = run_search(store, dataclasses.replace(query, all_copies=all_copies))
    return {"items": [hit_json(hit) for hit in page.hits], "next_cursor": page.next_cursor}


@router.get("/v1/documents/{doc_id}", tags=["documents"])
def get_document(store: StoreDep, doc_id: Id) -> dict:
    """One document with every field."""
    doc = store.get_document(doc_id)
    if doc is None:
        raise HTTPException(404, f"no document {doc_id!r}")
    return jsonable(doc)


@router.get("/v1/stories", tags=["stories"])
def list_stories(store: StoreDep, query: Filters) -> dict:
    """Stories matching the filters: each one's best match in short and the outlets that published it."""
    page = run_search(store, dataclasses.replace(query, all_copies=False))
    return {"items": [story_summary_json(hit) for hit in page.hits], "next_cursor": page.next_cursor}


@router.get("/v1/stories/{story_id}", tags=["stories"])
def get_story(store: StoreDep, story_id: Id) -> dict:
    """A story: its canonical document and every copy, with relation, similarity and translations marked."""
    story = store.get_story(story_id)
    if story is None:
        raise HTTPException(404, f"no story {story_id!r}")
    return story_json(story)


@router.get("/v1/feeds", tags=["feeds"])
def list_feeds(store: StoreDep) -> dict:
    """Every feed and its health: state, last HTTP status, failures in a row, last error, next poll."""
    return {"items": [jsonable(shown_feed(feed)) for feed in store.list_feeds()]}


@router.get("/healthz", tags=["health"])
def healthz(request: Request) -> JSONResponse:
    """200 when the store answers, 503 when it does not (never needs the token)."""
    try:
        request.app.state.store.get().ping()
    except StoreError as exc:
        LOGGER.warning("health check: store does not answer: %s", exc)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})
