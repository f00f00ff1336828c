"""The process launcher builds the right commands (without starting anything here)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bot.rasa_server import prepare
from bot.settings import ROOT, Settings
from bot.stack import SECRET_HEADER, Stack, _get, ensure_private_file, free_port


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
    assert not any("auth-token" in a or "-abc" in a for args in seen.values() for a in args)
    assert running.env("rasa")["RASA_TOKEN"] == "-abc"
    assert "RASA_TOKEN" not in running.env("actions") and "RASA_TOKEN" not in running.env("web")
    argv = list(seen["rasa"][2:])
    environ = running.env("rasa")
    prepare(argv, environ)  # what bot.rasa_server does in the Rasa process
    assert argv[-1] == "--auth-token=-abc" and "RASA_TOKEN" not in environ
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


def test_rasa_gets_the_shared_secret_and_its_defaults_from_the_settings(tmp_path: Path):
    environ = {"DATA_DIR": str(tmp_path / "var"), "ACTIONS_PORT": "6002"}
    argv = ["run", "--enable-api", "--log-file", str(tmp_path / "var" / "logs" / "rasa.log")]
    prepare(argv, environ)
    token = (tmp_path / "var" / "rasa_token").read_text()
    assert argv[-1] == f"--auth-token={token}"
    assert environ["ACTIONS_SECRET"] == (tmp_path / "var" / "actions_secret").read_text()
    assert environ["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:6002/webhook"
    assert environ["TRACKER_DB"] == str(tmp_path / "var" / "tracker.db")
    assert stat.S_IMODE((tmp_path / "var" / "logs").stat().st_mode) == 0o700
    # A token given on the command line is left alone; a shell gets no token at all.
    given = ["run", "--enable-api", "--auth-token", "x"]
    prepare(given, dict(environ))
    assert given == ["run", "--enable-api", "--auth-token", "x"]
    shell = ["shell", "--port", "5006"]
    prepare(shell, {"DATA_DIR": str(tmp_path / "var"), "ACTIONS_SECRET": "s"})
    assert shell == ["shell", "--port", "5006"]


def test_racing_processes_all_read_the_first_secret(tmp_path: Path):
    path = tmp_path / "actions_secret"
    with ThreadPoolExecutor(8) as pool:
        seen = set(pool.map(lambda _: ensure_private_file(path), range(32)))
    assert len(seen) == 1 and len(seen.pop()) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["actions_secret"]  # no leftover


def test_the_action_server_answers_rasa_only(tmp_path: Path):
    """`python -m bot.action_server`, for real: no secret, no action; /health stays open."""
    port = free_port()
    secret = "s3cr3t-" + "x" * 20
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATA_DIR": str(tmp_path / "var"),
           "ACTIONS_SECRET": secret, "SANIC_HOST": "127.0.0.1"}  # fmt: skip
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "bot.action_server", "--port", str(port), "--quiet"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while _get(f"{base}/health")[0] != 200:
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        assert f"{secret}".encode() not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
        call = {"next_action": "action_greet_unknown", "sender_id": "x", "tracker": {},
                "domain": {}, "version": "3.6.2"}  # fmt: skip
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: secret + "x"}):
            refused = httpx.post(f"{base}/webhook", json=call, headers=headers)
            assert refused.status_code == 401, headers
            assert refused.json() == {"error": "This server answers the Rasa server only."}
        assert httpx.get(f"{base}/actions").status_code == 401
        # With the secret, the request reaches rasa_sdk (which knows no such action).
        known = httpx.post(f"{base}/webhook", json=call, headers={SECRET_HEADER: secret})
        assert known.status_code == 404 and known.json()["action_name"] == call["next_action"]
        listed = httpx.get(f"{base}/actions", headers={SECRET_HEADER: secret}).json()
        assert {"name": "action_submit_handoff"} in listed
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- deploy/systemd: what an operator installs ------------------------------------------------

UNITS = ROOT / "deploy" / "systemd"
SERVICES = ("guichet-actions.service", "guichet-rasa.service", "guichet-web.service")
INSTALL_DIR = "/opt/guichet"
STATE_DIR = "/var/lib/guichet"


def read_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A unit file as systemd reads it: sections of (key, value), keys may repeat."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        key, sep, value = line.partition("=")
        assert sep and current, f"{path.name}: {raw!r}"
        sections[current].append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


@pytest.mark.parametrize("name", SERVICES)
def test_each_unit_restarts_on_failure_within_limits_and_is_hardened(name: str):
    unit = read_unit(UNITS / name)
    one = {k: v for k, v in unit["Service"]}
    assert one["Restart"] == "on-failure" and float(one["RestartSec"]) > 0
    assert values(unit, "Unit", "StartLimitIntervalSec") == ["600"]
    assert values(unit, "Unit", "StartLimitBurst") == [Settings.from_env({}).raw("RESTART_LIMIT")]
    assert values(unit, "Unit", "PartOf") == ["guichet.target"]
    assert values(unit, "Install", "WantedBy") == ["guichet.target"]
    assert one["User"] == "guichet" and one["UMask"] == "0077"
    assert (one["NoNewPrivileges"], one["ProtectSystem"], one["PrivateTmp"]) == (
        "yes", "strict", "yes",
    )  # fmt: skip
    assert STATE_DIR in one["ReadWritePaths"].split()
    assert one["EnvironmentFile"] == "/etc/guichet/guichet.env"
    assert one["WorkingDirectory"] == INSTALL_DIR


@pytest.mark.parametrize("name", SERVICES)
def test_each_unit_starts_a_module_that_exists_without_secrets(name: str):
    import importlib.util
    import shlex

    unit = read_unit(UNITS / name)
    (command,) = values(unit, "Service", "ExecStart")
    args = shlex.split(command)
    assert args[0] == f"{INSTALL_DIR}/.venv/bin/python" and args[1] == "-m"
    module = args[2]
    assert module in {"bot.action_server", "bot.rasa_server", "bot.web"}
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).resolve().is_relative_to(ROOT)
    assert "--auth-token" not in command and "SECRET" not in command
    for flag, folder in (("--endpoints", ROOT), ("--credentials", ROOT)):
        if flag in args:
            assert (folder / args[args.index(flag) + 1]).is_file()
    if "--log-file" in args:
        assert args[args.index("--log-file") + 1].startswith(STATE_DIR + "/")
    # ${VAR} in ExecStart: defined by the example environment file.
    example = (ROOT / "deploy" / "guichet.env.example").read_text()
    defined = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line}
    for used in {a[2:-1] for a in args if a.startswith("${")}:
        assert used in defined, used
    assert f"DATA_DIR={STATE_DIR}" in example.splitlines()


def test_the_target_starts_the_three_services():
    target = read_unit(UNITS / "guichet.target")
    assert set(values(target, "Unit", "Wants")[0].split()) == set(SERVICES)
    assert values(target, "Install", "WantedBy") == ["multi-user.target"]
    assert sorted(p.name for p in UNITS.iterdir()) == sorted([*SERVICES, "guichet.target"])


def test_systemd_accepts_the_units(tmp_path: Path):
    """`systemd-analyze verify` on copies pointing at this checkout (when it is installed)."""
    import shutil

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the unit files are parsed above")
    for path in UNITS.iterdir():
        text = path.read_text().replace(INSTALL_DIR, str(ROOT))
        text = text.replace("/etc/guichet/guichet.env", str(ROOT / "deploy/guichet.env.example"))
        (tmp_path / path.name).write_text(text)
    done = subprocess.run(  # noqa: S603
        [analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr.strip() == "" and done.stdout.strip() == "", done
