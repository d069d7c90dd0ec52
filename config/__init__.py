"""Settings: `WIREDESK_*` environment variables over a TOML file over documented defaults."""

from config.settings import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
