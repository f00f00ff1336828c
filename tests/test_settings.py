"""Settings: read from the environment, every one documented in README."""

from __future__ import annotations

import pytest

from bot.settings import ROOT, SETTINGS, Settings


def test_every_setting_is_documented_in_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"| `{setting.name}` | `{setting.default}` |" in readme, setting.name


def test_every_setting_has_help():
    assert all(s.help.strip() and s.default != "" for s in SETTINGS)
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)


def test_defaults_and_environment():
    defaults = Settings.from_env({})
    assert defaults.bot_port == 5005 and defaults.actions_port == 5055
    assert defaults.web_port == 8000 and defaults.host == "127.0.0.1"
    assert defaults.data_dir == ROOT / "var"
    custom = Settings.from_env({"BOT_PORT": "6000", "DATA_DIR": "/tmp/guichet"})
    assert custom.bot_port == 6000 and str(custom.data_dir) == "/tmp/guichet"


def test_a_bad_number_says_which_setting():
    with pytest.raises(ValueError, match="BOT_PORT"):
        _ = Settings.from_env({"BOT_PORT": "cinq"}).bot_port


def test_embedded_defaults_use_no_server():
    settings = Settings.from_env({})
    assert settings.database_url == "" and settings.redis_url == ""
    assert settings.conversation_expiry_minutes == 1440
    assert settings.rasa_processes >= 1 and settings.web_processes == 2


def test_scaled_settings_are_checked():
    env = {
        "DATABASE_URL": "postgresql://guichet:pw@127.0.0.1:5432/guichet",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "RASA_PROCESSES": "3",
    }
    settings = Settings.from_env(env)
    assert settings.database_url == env["DATABASE_URL"]
    assert settings.redis_url == env["REDIS_URL"]
    assert settings.rasa_processes == 3
    with pytest.raises(ValueError, match="DATABASE_URL"):
        _ = Settings.from_env({"DATABASE_URL": "mysql://x"}).database_url
    with pytest.raises(ValueError, match="REDIS_URL"):
        _ = Settings.from_env({"REDIS_URL": "memcached://x"}).redis_url
