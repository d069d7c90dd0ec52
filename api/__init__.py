"""The query side over HTTP: the JSON API under /v1, the reading page, /healthz and /metrics."""
