"""The optional bearer token and CORS, over the whole app."""

from __future__ import annotations

import base64

import pytest

from tests.api.conftest import make_client

TOKEN = "s3cret-token"
PROTECTED = ["/v1/documents", "/v1/stories", "/v1/feeds", "/metrics", "/", "/feeds", "/openapi.json", "/docs"]


@pytest.fixture
def locked(filled_sqlite):
    with make_client(filled_sqlite[0], api_token=TOKEN, cors_origins=["https://news.example"]) as client:
        yield client


def test_every_route_but_healthz_needs_the_token(locked):
    for path in PROTECTED:
        assert locked.get(path).status_code == 401, path
        assert locked.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
        assert locked.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200, path
    assert locked.get("/healthz").status_code == 200


def test_api_challenges_with_bearer_and_page_with_basic(locked):
    assert locked.get("/v1/documents").headers["www-authenticate"].startswith("Bearer")
    assert locked.get("/").headers["www-authenticate"].startswith("Basic")
    basic = base64.b64encode(f"reader:{TOKEN}".encode()).decode()
    assert locked.get("/", headers={"Authorization": f"Basic {basic}"}).status_code == 200


def test_without_a_token_setting_routes_are_open(client):
    assert client.get("/v1/documents").status_code == 200 and client.get("/").status_code == 200


def test_cors_allows_the_configured_origin_only(locked):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    allowed = locked.get("/v1/documents", headers={**auth, "Origin": "https://news.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://news.example"
    other = locked.get("/v1/documents", headers={**auth, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_preflight_is_answered_without_the_token(locked):
    preflight = locked.options("/v1/documents", headers={
        "Origin": "https://news.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://news.example"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
