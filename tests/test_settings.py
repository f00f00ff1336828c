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
