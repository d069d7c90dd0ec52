"""The FastAPI application: one store per app, the optional bearer token, CORS, errors as 422/503.

Auth: when `settings.api_token` is set, every route needs `Authorization: Bearer <token>` except /healthz,
which load balancers and container health checks call without credentials and which tells nothing but
whether the store answers. Browsers cannot send a bearer token when following a link, so HTML routes also
accept HTTP Basic with the token as password (any user name) and answer 401 with a Basic challenge,
which makes the browser ask for it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api import metrics, pages, routes
from config import Settings
from store.base import Store, StoreUnavailable, open_store

LOGGER = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz"})
MACHINE_PREFIXES = ("/v1/", "/metrics", "/openapi.json")  # routes programs call: challenge with Bearer


class StoreHolder:
    """The app's one store, opened at startup or, if the database was down then, on first use."""

    def __init__(self, url: str):
        self.url = url
        self._store: Store | None = None
        self._lock = threading.Lock()

    def get(self) -> Store:
        """The open store; raises StoreUnavailable while it cannot be opened."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.url)
        return self._store

    def close(self) -> None:
        """Close the store if it was opened."""
        if self._store is not None:
            self._store.close()


def token_matches(header: str | None, token: str) -> bool:
    """Whether an Authorization header carries `token`, as a bearer token or a Basic password."""
    scheme, _, value = (header or "").partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    elif scheme != "bearer":
        return False
    return secrets.compare_digest(value.encode("utf-8"), token.encode("utf-8"))


def _unauthorized(path: str) -> JSONResponse:
    """401 with the challenge that suits the caller: Bearer for programs, Basic for browsers."""
    machine = path.startswith(MACHINE_PREFIXES)
    challenge = 'Bearer realm="wiredesk"' if machine else 'Basic realm="wiredesk", charset="UTF-8"'
    return JSONResponse({"detail": "missing or wrong token: send Authorization: Bearer <token>"},
                        status_code=401, headers={"WWW-Authenticate": challenge})


def create_app(settings: Settings) -> FastAPI:
    """The HTTP API, the reading page, /healthz and /metrics over the store `settings.store_url` names."""
    holder = StoreHolder(settings.store_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            holder.get()  # migrate once at startup rather than on the first request
        except StoreUnavailable as exc:
            LOGGER.warning("store not available at startup, will retry on each request: %s", exc)
        yield
        holder.close()

    app = FastAPI(title="wiredesk", version="0.1.0", lifespan=lifespan,
                  description="Search the news wiredesk has stored: documents, stories and their copies, feeds.")
    app.state.store = holder
    app.state.settings = settings
    metrics.install(app, settings)

    if settings.api_token:
        token = settings.api_token

        @app.middleware("http")
        async def require_token(request: Request, call_next):
            if request.method == "OPTIONS" or request.url.path in OPEN_PATHS:
                return await call_next(request)
            if not token_matches(request.headers.get("authorization"), token):
                return _unauthorized(request.url.path)
            return await call_next(request)

    # Added last so it wraps the token check: preflights and 401s carry the CORS headers too.
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET"],
                           allow_headers=["Authorization"])

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable):
        LOGGER.warning("store unavailable serving %s: %s", request.url.path, exc)
        return JSONResponse({"detail": "store unavailable, try again later"}, status_code=503)

    app.include_router(routes.router)
    app.include_router(metrics.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    return app
