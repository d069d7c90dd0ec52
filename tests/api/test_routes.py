"""The JSON API over a real store on both backends: search, stories, documents, feeds, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.base import open_store
from store.records import Feed


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_documents_are_one_per_story_with_the_other_outlets(client, room):
    items = client.get("/v1/documents", params={"q": "copper miners"}).json()["items"]
    assert [item["story_id"] for item in items] == [room.story]
    assert items[0]["copies"] == 3
    everyone = {"reuters.com", "apnews.com", "azcentral.com", "elpais.com"}
    assert set(items[0]["outlets"]) == everyone - {items[0]["source"]}


def test_all_copies_returns_every_document_of_the_story(client, room):
    got = ids(client.get("/v1/documents", params={"story": room.story, "all_copies": "true", "order": "date"}))
    assert sorted(got) == sorted([room.story, room.exact, room.near, room.translation])


@pytest.mark.parametrize("params, expected", [
    ({"lang": "es"}, "translation"),
    ({"source": "apnews.com"}, "exact"),
    ({"wire": "Reuters", "since": "2024-03-02T09:30:00Z"}, "near"),
])
def test_filters_pick_the_copy_that_matches(client, room, params, expected):
    assert ids(client.get("/v1/documents", params={**params, "all_copies": "true"})) == [getattr(room, expected)]


def test_date_range_keeps_documents_published_inside_it(client, room):
    got = ids(client.get("/v1/documents", params={"since": "2024-03-01T13:00:00", "until": "2024-03-01T15:00:00",
                                                  "order": "date"}))
    assert got == [room.singles[2], room.singles[1]]


def test_next_cursor_walks_every_document_exactly_once(client, room):
    seen, params = [], {"all_copies": "true", "order": "date", "limit": 3}
    while True:
        body = client.get("/v1/documents", params=params).json()
        seen += [item["id"] for item in body["items"]]
        if not body["next_cursor"]:
            break
        params["cursor"] = body["next_cursor"]
    everything = room.singles + [room.story, room.exact, room.near, room.translation]
    assert len(seen) == len(everything) and set(seen) == set(everything)


def test_document_by_id_has_every_field_and_404_when_absent(client, room):
    doc = client.get(f"/v1/documents/{room.near}").json()
    assert doc["relation"] == "near" and doc["similarity"] == 0.86 and doc["published"] == "2024-03-02T10:00:00+00:00"
    assert doc["text"].startswith("Copper miners on strike")
    missing = client.get("/v1/documents/0000000000")
    assert missing.status_code == 404 and "0000000000" in missing.json()["detail"]


def test_stories_list_one_summary_per_story(client, room):
    items = client.get("/v1/stories", params={"q": "copper", "all_copies": "true"}).json()["items"]
    assert len(items) == 1
    assert items[0]["id"] == room.story and items[0]["copies"] == 3 and "elpais.com" in items[0]["outlets"]


def test_story_has_canonical_and_copies_with_translation_marked(client, room):
    story = client.get(f"/v1/stories/{room.story}").json()
    assert story["canonical"]["id"] == room.story and story["canonical"]["text"] == room.texts["story"]
    relations = {c["id"]: (c["relation"], c["similarity"], c["translation"]) for c in story["copies"]}
    assert relations == {room.story: ("original", None, False), room.exact: ("exact", 1.0, False),
                         room.near: ("near", 0.86, False), room.translation: ("translation", 0.71, True)}
    assert client.get("/v1/stories/nope").status_code == 404


def test_feeds_report_health(filled, client):
    store = open_store(filled[0])
    store.add_feeds([Feed(url="https://ok.example/rss"), Feed(url="https://down.example/rss")])
    store.save_feed(Feed(url="https://down.example/rss", state="backoff", last_status=503, failures=3,
                         last_error="HTTP 503", next_poll=datetime(2024, 3, 3, tzinfo=UTC)))
    store.close()
    feeds = {f["url"]: f for f in client.get("/v1/feeds").json()["items"]}
    down = feeds["https://down.example/rss"]
    assert (down["state"], down["last_status"], down["failures"], down["last_error"], down["next_poll"]) == (
        "backoff", 503, 3, "HTTP 503", "2024-03-03T00:00:00+00:00")
    assert feeds["https://ok.example/rss"]["state"] == "ok"


def test_a_password_in_a_feed_url_is_shown_as_stars(filled, client):
    store = open_store(filled[0])
    store.add_feeds([Feed(url="https://reader:s3cret@private.example/rss")])
    store.close()
    urls = [f["url"] for f in client.get("/v1/feeds").json()["items"]]
    assert "https://reader:***@private.example/rss" in urls
    assert "s3cret" not in client.get("/v1/feeds").text + client.get("/feeds").text


def test_healthz_answers_ok_when_the_store_does(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_openapi_documents_every_route_and_its_parameters(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/documents", "/v1/documents/{doc_id}", "/v1/stories", "/v1/stories/{story_id}", "/v1/feeds",
            "/healthz", "/metrics"} <= set(spec["paths"])
    names = {p["name"] for p in spec["paths"]["/v1/documents"]["get"]["parameters"]}
    assert names == {"q", "lang", "since", "until", "date_field", "source", "feed", "wire", "story", "flag",
                     "order", "limit", "cursor", "all_copies"}
    assert client.get("/docs").status_code == 200
