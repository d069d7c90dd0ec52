"""What a worker process holds between jobs: settings, connections, the dedup indexes and the encoder.

rq forks a work horse per job; connections are opened lazily and again after a fork (keyed by pid),
while the settings and any loaded model are inherited from the parent, so each loads once per worker.
"""

from __future__ import annotations

import os
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
_pid: int | None = None


def init_runtime(settings: Settings) -> None:
    """Install the settings this process's jobs run with (called once by `wiredesk worker` / `run`)."""
    global _settings, _runtime
    _settings, _runtime = settings, None


def get_runtime() -> Runtime:
    """This process's Runtime, rebuilt after a fork so no connection is shared with the parent."""
    global _runtime, _pid, _settings
    if _runtime is None or _pid != os.getpid():
        if _settings is None:
            # A job run by a plain `rq worker`: settings come from the environment and config file.
            _settings = load_settings()
        _runtime, _pid = Runtime(_settings), os.getpid()
    return _runtime
