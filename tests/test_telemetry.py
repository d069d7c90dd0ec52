"""Pipeline metrics: pollers and workers add to series in Redis; the API's /metrics exports them."""

from prometheus_client.parser import text_string_to_metric_families

import telemetry
from tests.api.conftest import make_client


def samples(text: str) -> dict:
    """{(sample name, labels as a sorted tuple): value} of a Prometheus exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_counts_and_observations_from_many_processes_add_up_in_redis(settings, redis_conn):
    telemetry.count(redis_conn, settings, "fetches", "200")
    telemetry.count(redis_conn, settings, "fetches", "200", amount=2)
    telemetry.count(redis_conn, settings, "fetches", "http-404")
    for seconds in (0.03, 0.3, 7.0):
        telemetry.observe(redis_conn, settings, "extraction_seconds", seconds)
    families = {f.name: f for f in telemetry.collect(redis_conn, settings)}
    fetches = {s.labels["status"]: s.value for s in families["wiredesk_fetches"].samples if s.name.endswith("_total")}
    assert fetches == {"200": 3, "http-404": 1}
    buckets = {s.labels["le"]: s.value for s in families["wiredesk_extraction_seconds"].samples
               if s.name.endswith("_bucket")}
    assert buckets["0.05"] == 1 and buckets["0.5"] == 2 and buckets["5.0"] == 2 and buckets["+Inf"] == 3


def test_a_batch_writes_a_jobs_metrics_at_flush_and_only_once(settings, redis_conn):
    batch = telemetry.Batch()
    batch.count("fetches", "200")
    batch.observe("extraction_seconds", 0.3)
    batch.count("url_outcomes", "stored")
    assert redis_conn.keys("*") == []
    batch.flush(redis_conn, settings)
    batch.flush(redis_conn, settings)
    families = {f.name: f for f in telemetry.collect(redis_conn, settings)}
    assert [s.value for s in families["wiredesk_url_outcomes"].samples if s.name.endswith("_total")] == [1]
    assert [s.value for s in families["wiredesk_extraction_seconds"].samples if s.name.endswith("_count")] == [1]


def test_api_metrics_export_pipeline_series_and_queue_depth(settings, redis_conn):
    telemetry.count(redis_conn, settings, "polls", "changed", amount=4)
    telemetry.count(redis_conn, settings, "dedup_decisions", "near")
    with make_client(settings.store_url, redis_url=settings.redis_url) as client:
        found = samples(client.get("/metrics").text)
    assert found[("wiredesk_polls_total", (("outcome", "changed"),))] == 4
    assert found[("wiredesk_dedup_decisions_total", (("relation", "near"),))] == 1
    assert found[("wiredesk_queue_depth", ())] == 0


def test_api_metrics_still_answer_when_redis_is_down(settings):
    with make_client(settings.store_url, redis_url="redis://127.0.0.1:1/0") as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert "wiredesk_documents" in response.text and "wiredesk_queue_depth" not in response.text
