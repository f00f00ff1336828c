"""The process launcher builds the right commands (without starting anything here)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.stack import Stack, ensure_private_file


def test_secrets_are_generated_once_with_owner_only_permissions(tmp_path: Path):
    path = tmp_path / "sub" / "token"
    first = ensure_private_file(path)
    assert ensure_private_file(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert all(c in "0123456789abcdef" for c in first)  # never starts with "-"


def test_a_token_starting_with_a_dash_is_passed_safely(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RASA_TOKEN", "-abc")
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"")
    seen: dict[str, list[str]] = {}

    def fake_spawn(self: Stack, name: str, args: list[str]) -> None:
        seen[name] = args

    monkeypatch.setattr(Stack, "_spawn", fake_spawn)
    monkeypatch.setattr(Stack, "wait_ready", lambda self, timeout: None)
    settings = Settings(Settings.from_env().values | {"DATA_DIR": str(tmp_path / "var")})
    running = Stack(
        settings, bot_port=6001, actions_port=6002, web_port=6003, model=model, with_web=True
    )
    running.start()
    assert "--auth-token=-abc" in seen["rasa"]
    assert seen["rasa"][seen["rasa"].index("--port") + 1] == "6001"
    assert seen["actions"][-1] == "6002" or "6002" in seen["actions"]
    assert seen["web"][-2:] == ["-m", "bot.web"]
    env = running.env()
    assert env["DATA_DIR"] == str(tmp_path / "var") and env["WEB_PORT"] == "6003"
    assert env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:6002/webhook"


def test_start_without_a_model_says_how_to_get_one(tmp_path: Path):
    settings = Settings(Settings.from_env().values | {"DATA_DIR": str(tmp_path)})
    with pytest.raises(FileNotFoundError, match="make train"):
        Stack(settings, model=tmp_path / "none.tar.gz").start()
