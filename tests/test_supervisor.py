"""The supervision of `make run`, with stand-in servers (no Rasa): a server that dies is
restarted with a growing delay while the others keep running, and one that keeps dying is
left stopped after RESTART_LIMIT restarts."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot import incidents
from bot.settings import Settings
from bot.stack import RestartPolicy, Stack, free_port, make_private

# A stand-in server: answers 200 to any GET on its port (what /health and /healthz need).
SERVE = (
    "import http.server, sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(b'{}')\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
)
DIE = "import sys, time; time.sleep(0.2); sys.exit(3)"


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    settings = Settings(
        Settings.from_env().values | {"DATA_DIR": str(tmp_path / "var"), "RESTART_LIMIT": "2"}
    )
    running = Stack(settings, actions_port=free_port(), web_port=free_port(), quiet=True)
    yield running
    running.stop()


def serve(port: int | None) -> list[str]:
    return [sys.executable, "-c", SERVE, str(port)]


def test_the_delay_doubles_is_capped_and_ends_at_the_limit():
    policy = RestartPolicy(limit=7, first_delay_s=1.0, max_delay_s=30.0)
    assert [policy.delay(n) for n in range(8)] == [1, 2, 4, 8, 16, 30, 30, None]
    assert RestartPolicy(limit=0).delay(0) is None
    assert Stack(Settings(Settings.from_env().values | {"RESTART_LIMIT": "4"})).restart_policy == (
        RestartPolicy(limit=4)
    )


def test_a_killed_server_comes_back_and_the_other_keeps_running(stack: Stack):
    stack.launch({"actions": serve(stack.actions_port), "web": serve(stack.web_port)})
    assert wait_for(lambda: stack.healthy("actions") and stack.healthy("web"))
    stack.supervise()
    web_pid = stack.processes["web"].pid
    killed = stack.processes["actions"].pid
    os.kill(killed, signal.SIGKILL)

    assert wait_for(lambda: bool(stack.restarts) and stack.restarts[0].back_after_s is not None)
    restart = stack.restarts[0]
    assert (restart.name, restart.exit_code, restart.delay_s) == ("actions", -9, 1.0)
    assert stack.processes["actions"].pid != killed and stack.healthy("actions")
    assert stack.processes["web"].pid == web_pid and stack.processes["web"].poll() is None
    assert stack.given_up == set()
    recorded = incidents.recent(settings=stack.settings)
    assert [(i.kind, i.detail) for i in recorded] == [("server_restarted", "actions exit -9")]


def test_a_server_that_keeps_dying_is_left_stopped_after_the_limit(
    stack: Stack, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, logger="bot.stack")
    stack.launch({"actions": [sys.executable, "-c", DIE], "web": serve(stack.web_port)})
    stack.supervise()
    assert wait_for(lambda: "actions" in stack.given_up)

    # RESTART_LIMIT=2: two restarts, 1 s then 2 s after each death, then no more.
    assert [(r.name, r.exit_code, r.delay_s) for r in stack.restarts] == [
        ("actions", 3, 1.0),
        ("actions", 3, 2.0),
    ]
    assert stack.processes["actions"].poll() == 3
    assert stack.processes["web"].poll() is None and stack.healthy("web")
    left = [r for r in caplog.records if "left stopped" in r.getMessage()]
    assert len(left) == 1 and left[0].levelno == logging.ERROR
    assert "actions" in left[0].getMessage()
    restarted = [r.getMessage() for r in caplog.records if ": restart " in r.getMessage()]
    assert restarted == [
        "the actions server stopped (exit 3): restart 1 of 2 in 1 s",
        "the actions server stopped (exit 3): restart 2 of 2 in 2 s",
    ]
    within = timedelta(hours=1)
    assert incidents.count("server_restarted", within=within, settings=stack.settings) == 2


def test_stop_cancels_a_pending_restart_and_leaves_nothing_running(
    stack: Stack, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, logger="bot.stack")
    stack.restart_policy = RestartPolicy(limit=5, first_delay_s=30.0)
    stack.launch({"actions": serve(stack.actions_port), "web": serve(stack.web_port)})
    stack.supervise()
    procs = list(stack.processes.values())
    os.kill(procs[0].pid, signal.SIGKILL)
    # The death is seen and a restart planned 30 s later; stop() comes first.
    assert wait_for(lambda: any("in 30 s" in r.getMessage() for r in caplog.records))
    stack.stop()
    assert all(p.poll() is not None for p in procs)
    assert stack.processes == {} and stack.restarts == []


def test_servers_write_owner_only_files(stack: Stack):
    data = stack.settings.data_dir
    data.mkdir(parents=True)
    (data / "old.db").write_text("from an older version")
    (data / "old.db").chmod(0o644)
    write = f"open({str(data / 'new.txt')!r}, 'w').write('x')"
    stack.launch({"actions": [sys.executable, "-c", write]})
    assert stack.processes["actions"].wait(timeout=30) == 0
    make_private(data)
    modes = {p.name: p.stat().st_mode & 0o777 for p in data.rglob("*")}
    assert modes["new.txt"] == 0o600 and modes["old.db"] == 0o600
    assert modes["logs"] == 0o700 and modes["actions.log"] == 0o600
