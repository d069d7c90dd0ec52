"""Fixtures for API tests: a store filled with the real newsroom, and a TestClient over the app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from config import load_settings
from store.base import open_store
from tests.api import newsroom


def fill_store(url: str, corpus) -> newsroom.Newsroom:
    """Publish the newsroom into the store at `url`."""
    store = open_store(url)
    try:
        return newsroom.fill(store, corpus)
    finally:
        store.close()


@pytest.fixture
def filled(store_url, corpus):
    """(store URL, Newsroom) of a fresh store holding the newsroom, on each backend."""
    return store_url, fill_store(store_url, corpus)


@pytest.fixture
def filled_sqlite(sqlite_url, corpus):
    """(store URL, Newsroom) on SQLite only, for tests of the app rather than the backend."""
    return sqlite_url, fill_store(sqlite_url, corpus)


@pytest.fixture
def room(filled):
    return filled[1]


def make_client(store_url: str, **overrides) -> TestClient:
    """A TestClient over an app on `store_url` with settings `overrides` (use as a context manager)."""
    return TestClient(create_app(load_settings(store_url=store_url, **overrides)))


@pytest.fixture
def client(filled):
    """A client of the app over the filled store, no token, no CORS."""
    with make_client(filled[0]) as test_client:
        yield test_client
