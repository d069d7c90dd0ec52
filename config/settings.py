"""The one place configuration enters: `WIREDESK_*` environment variables over a TOML file over defaults.

Every other module receives a `Settings` object and reads nothing from the environment itself.
The TOML file is the one named by `--config` or `WIREDESK_CONFIG`; its keys are the field names below
(`redis_url = "redis://..."`). `config/defaults.toml` documents every key with its default.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource

_config_file: ContextVar[Path | None] = ContextVar("wiredesk_config_file", default=None)


class Settings(BaseSettings):
    """Every setting wiredesk has, with its default; see config/defaults.toml for the prose."""

    model_config = SettingsConfigDict(env_prefix="WIREDESK_", extra="ignore", frozen=True)

    # Where things live
    redis_url: str = "redis://127.0.0.1:6379/0"
    store_url: str = "sqlite:///data/wiredesk.db"
    queue_name: str = "wiredesk"
    key_prefix: str = "wd"
    corpus: Path = Path("../shared/corpus")

    # Fetching (feeds and pages)
    user_agent: str = "wiredesk/0.1 (news ingestion; +https://github.com/wiredesk/wiredesk)"
    fetch_connect_timeout: float = 10.0
    fetch_read_timeout: float = 20.0
    fetch_total_timeout: float = 60.0
    fetch_max_bytes: int = 10_000_000
    fetch_max_redirects: int = 5
    allow_private_hosts: bool = False
    host_concurrency: int = 2
    host_min_delay: float = 1.0
    respect_robots: bool = False

    # Polling
    poll_min_interval: int = 300
    poll_max_interval: int = 86_400
    poll_tick: int = 60
    poll_concurrency: int = 32
    poll_per_host: int = 4
    entry_max_age_days: int = 30
    max_entries_per_poll: int = 200
    unconditional_every: int = 12

    # Jobs
    job_timeout: int = 180
    worker_isolation: bool = False
    retry_intervals: list[int] = Field(default_factory=lambda: [30, 300, 1800])
    url_deadline: int = 3600

    # Dedup
    dedup_window_days: int = 7
    crosslingual: bool = True

    # Serving and logging
    api_token: str | None = None
    cors_origins: list[str] = Field(default_factory=list)
    log_format: str = "text"
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        """Order of precedence: explicit arguments, then environment, then the TOML file."""
        sources = [init_settings, env_settings]
        path = _config_file.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def dedup_window_seconds(self) -> int:
        """The dedup window in seconds (the TTL of every dedup index key)."""
        return self.dedup_window_days * 86_400


class ConfigError(Exception):
    """The configuration file is missing or unreadable."""


def load_settings(config_file: str | Path | None = None, **overrides) -> Settings:
    """Build Settings from `overrides`, `WIREDESK_*` variables and the TOML file, in that order."""
    path = config_file or os.environ.get("WIREDESK_CONFIG")
    if path:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
    token = _config_file.set(Path(path) if path else None)
    try:
        return Settings(**overrides)
    finally:
        _config_file.reset(token)
