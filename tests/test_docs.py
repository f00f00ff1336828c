"""Documentation is tested: every command-line command and make target is in README."""

from __future__ import annotations

import re

from bot.settings import ROOT
from bot.tickets import _parser

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_tickets_command_is_documented():
    subparsers = next(a for a in _parser()._actions if a.dest == "command")
    commands = list(subparsers.choices or [])
    assert {"list", "show", "export", "purge"} <= set(commands)
    for command in commands:
        assert f"python -m bot.tickets {command}" in README, command


def test_every_make_target_with_help_is_documented():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = re.findall(r"^([a-z][a-z-]*):.*## ", makefile, flags=re.MULTILINE)
    assert {"run", "test", "run-scaled"} <= set(targets)
    for target in targets:
        assert f"make {target}" in README, target


def test_every_accounts_command_is_documented():
    from bot.accounts import main  # noqa: F401 (the CLI exists)

    for command in ("add", "passwd", "list", "remove"):
        assert f"python -m bot.accounts {command}" in README, command
