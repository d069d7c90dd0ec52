"""Settings: environment over TOML over defaults, and a defaults file that documents every key."""

import tomllib
from pathlib import Path

import pytest

from config import ConfigError, Settings, load_settings

DEFAULTS = Path(__file__).resolve().parents[2] / "config" / "defaults.toml"


def test_environment_overrides_toml_which_overrides_defaults(tmp_path, monkeypatch):
    path = tmp_path / "wiredesk.toml"
    path.write_text('redis_url = "redis://queue:6379/3"\nfetch_max_bytes = 1000\nretry_intervals = [5, 10]\n')
    monkeypatch.setenv("WIREDESK_FETCH_MAX_BYTES", "2000")
    settings = load_settings(path)
    assert settings.redis_url == "redis://queue:6379/3"
    assert settings.fetch_max_bytes == 2000
    assert settings.retry_intervals == [5, 10]
    assert settings.user_agent == Settings.model_fields["user_agent"].default


def test_config_file_named_by_environment_is_read(tmp_path, monkeypatch):
    path = tmp_path / "w.toml"
    path.write_text("allow_private_hosts = true\n")
    monkeypatch.setenv("WIREDESK_CONFIG", str(path))
    assert load_settings().allow_private_hosts is True


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_defaults_file_documents_every_setting_with_its_real_default(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(f"WIREDESK_{name.upper()}", raising=False)
    documented = tomllib.loads(DEFAULTS.read_text())
    optional = {name for name, field in Settings.model_fields.items() if field.default is None}
    assert set(Settings.model_fields) - optional == set(documented)
    from_file = load_settings(DEFAULTS)
    assert from_file == Settings()
