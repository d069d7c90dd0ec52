"""/metrics: store counts and request counters in the Prometheus text format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def test_metrics_count_documents_stories_duplicates_and_urls(client, room):
    got = samples(client)
    assert got[("wiredesk_documents", ())] == 14
    assert got[("wiredesk_stories", ())] == 11
    assert got[("wiredesk_duplicates", ())] == 3
    assert got[("wiredesk_urls", (("state", "stored"),))] == 11
    assert got[("wiredesk_urls", (("state", "duplicate"),))] == 3


def test_metrics_count_requests_by_route_template(client, room):
    client.get(f"/v1/documents/{room.near}")
    client.get("/v1/documents/absent")
    got = samples(client)
    assert got[("wiredesk_http_requests_total", (("route", "/v1/documents/{doc_id}"), ("status", "200")))] == 1
    assert got[("wiredesk_http_requests_total", (("route", "/v1/documents/{doc_id}"), ("status", "404")))] == 1
