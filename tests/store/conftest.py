"""The store every store test runs against: a fresh one on each backend (see `store_url`), closed afterwards."""

import pytest

from store.base import open_store


@pytest.fixture
def store(store_url):
    store = open_store(store_url)
    yield store
    store.close()
