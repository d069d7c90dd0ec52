"""What a worker process holds between jobs: settings, connections, the dedup indexes and the encoder.

rq forks a work horse per job, and the horse inherits the parent's Runtime, built once before forking:
the HTTP client (its TLS context costs tens of milliseconds to make), the registered Lua scripts and the
loaded encoder. What must not cross a fork reconnects by itself: redis-py's pool and the store both
check the pid and open fresh connections in a new process, and the parent never fetches, so the HTTP
client's pool it hands down is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import httpx
import redis

from config import Settings, load_settings
from net.http import make_client
from store.base import Store, open_store


@dataclass
class Runtime:
    """The per-process context the job function works in."""

    settings: Settings

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url)

    @cached_property
    def store(self) -> Store:
        return open_store(self.settings.store_url)

    @cached_property
    def client(self) -> httpx.Client:
        return make_client(self.settings)

    @cached_property
    def dedup(self):
        from workers.dedup import DedupIndex

        return DedupIndex(self.redis, self.settings)

    @cached_property
    def crosslingual(self):
        """The cross-lingual matcher, or None when turned off (WIREDESK_CROSSLINGUAL=0)."""
        if not self.settings.crosslingual:
            return None
        from workers.crosslingual import CrossLingualIndex

        return CrossLingualIndex(self.redis, self.settings)


_settings: Settings | None = None
_runtime: Runtime | None = None


def init_runtime(settings: Settings) -> None:
    """Install the settings this process's jobs run with; a Runtime built for the same settings is kept."""
    global _settings, _runtime
    if settings != _settings:
        _settings, _runtime = settings, None


def get_runtime() -> Runtime:
    """This process's Runtime (inherited by forked work horses, see the module docstring)."""
    global _runtime, _settings
    if _runtime is None:
        if _settings is None:
            # A job run by a plain `rq worker`: settings come from the environment and config file.
            _settings = load_settings()
        _runtime = Runtime(_settings)
    return _runtime
