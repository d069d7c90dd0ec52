"""What every route needs from the app: its store, and a search whose store-side errors are 422s."""

from __future__ import annotations

from fastapi import Request

from api.params import invalid
from store.base import InvalidQuery, Store
from store.records import Query, ResultPage


def get_store(request: Request) -> Store:
    """The app's store (a FastAPI dependency); StoreUnavailable becomes a 503."""
    return request.app.state.store.get()


def run_search(store: Store, query: Query) -> ResultPage:
    """store.search, with a query the store rejects (text it cannot search, a stale or forged cursor) as a 422 on
    the parameter at fault."""
    try:
        return store.search(query)
    except InvalidQuery as exc:
        param = exc.param or ("cursor" if query.cursor else "q")
        value = {"cursor": query.cursor, "q": query.text, "flag": query.flags}.get(param)
        raise invalid(param, str(exc), value[:100] if isinstance(value, str) else value) from None
