"""One crash is not an outage: `python -m bot.stack run` (what `make run` starts), for real.

A few visitors walk guides through the web app's /api/chat while each server in turn is
killed with SIGKILL. The supervisor brings it back; meanwhile the others keep serving (the
web app answers in French while Rasa restarts), no answered turn is missing from the
tracker store and every database passes `PRAGMA integrity_check`. Then: the Rasa token is
not on any command line, the action server refuses a forged call, every file under DATA_DIR
is owner-only, and SIGTERM stops everything.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest

from bot.bench.serving import require_loopback, script
from bot.settings import ROOT, Settings
from bot.stack import MODEL_NAME, SECRET_HEADER, free_port
from bot.tickets import TicketStore
from bot.web.chat import VISITOR_TEXT_HEADER

VISITORS = 3
MAX_TURNS_PER_VISITOR = 400
THINK_SECONDS = 0.3
ROLES = {"actions": "bot.action_server", "rasa": "bot.rasa_server", "web": "bot.web"}
HEALTH = {"actions": "/health", "rasa": "/webhooks/rest/", "web": "/healthz"}


@dataclass
class Turn:
    sender: str
    message: str
    phase: str
    status: int  # 0: no HTTP answer at all
    texts: list[str]
    error: str = ""


@dataclass
class Outage:
    role: str
    old_pid: int
    new_pid: int = 0
    back: bool = False
    rasa_probes: list[int] = field(default_factory=list)  # REST channel, while web is down


@dataclass
class Run:
    data_dir: Path
    urls: dict[str, str]
    log: Path
    turns: list[Turn] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    cmdlines: dict[str, bytes] = field(default_factory=dict)
    status_codes: dict[str, int] = field(default_factory=dict)
    forged: dict[str, Any] = field(default_factory=dict)
    ticket: int | None = None
    exit_code: int | None = None
    left_running: list[int] = field(default_factory=list)
    phase: str = "normal"


def children(pid: int) -> dict[str, int]:
    """The servers started by the stack process, by role."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid != pid:
            continue
        for role, module in ROLES.items():
            if module.encode() in cmdline:
                found[role] = int(entry.name)
    return found


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return condition()


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def visitor(run: Run, index: int, stop: threading.Event) -> None:
    with httpx.Client(timeout=30, trust_env=False) as client:
        for _ in range(MAX_TURNS_PER_VISITOR // 8):
            sender = f"crash-{index}-{uuid.uuid4().hex[:12]}"
            for message, _expected in script(index, 8):
                if stop.is_set():
                    return
                phase = run.phase
                body = {"sender": sender, "message": message, "channel": "kiosk"}
                try:
                    answer = client.post(f"{run.urls['web']}/api/chat", json=body)
                    data = answer.json()
                    texts = [m.get("text", "") for m in data] if isinstance(data, list) else []
                    # What Guichet kept of the message (secrets masked): what the tracker holds.
                    kept = unquote(answer.headers.get(VISITOR_TEXT_HEADER, quote(message)))
                    run.turns.append(Turn(sender, kept, phase, answer.status_code, texts))
                except (httpx.HTTPError, ValueError) as exc:
                    run.turns.append(Turn(sender, message, phase, 0, [], type(exc).__name__))
                time.sleep(THINK_SECONDS)


def chat(run: Run, sender: str, message: str) -> list[dict[str, Any]]:
    body = {"sender": sender, "message": message, "channel": "kiosk"}
    answer = httpx.post(f"{run.urls['web']}/api/chat", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    reply: list[dict[str, Any]] = answer.json()
    return reply


def forge(run: Run, secret: str | None) -> tuple[int, str]:
    """A hand-off's last action, posted to the action server by some local process."""
    sender = f"forged-{uuid.uuid4().hex[:12]}"
    tracker = {
        "sender_id": sender,
        "slots": {"handoff_consent": True, "contact_preference": "desk"},
        "latest_message": {"text": "oui", "intent": {"name": "affirm"}, "entities": []},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }
    call = {"next_action": "action_submit_handoff", "sender_id": sender, "tracker": tracker,
            "domain": {}, "version": "3.6.2"}  # fmt: skip
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    answer = httpx.post(f"{run.urls['actions']}/webhook", json=call, headers=headers, timeout=30)
    return answer.status_code, sender


def kill_and_watch(run: Run, stack: subprocess.Popen[bytes], role: str) -> None:
    before = children(stack.pid)
    outage = Outage(role, before[role])
    run.outages.append(outage)
    run.phase = f"{role} down"
    os.kill(outage.old_pid, signal.SIGKILL)
    health = run.urls[role] + HEALTH[role]

    def back() -> bool:
        if role == "web":  # the other servers: Rasa's REST channel answers directly
            try:
                probe = httpx.post(
                    f"{run.urls['rasa']}/webhooks/rest/webhook",
                    json={"sender": f"probe-{uuid.uuid4().hex[:8]}", "message": "bonjour"},
                    timeout=30,
                )
                outage.rasa_probes.append(probe.status_code)
            except httpx.HTTPError:
                outage.rasa_probes.append(0)
        pid = children(stack.pid).get(role, 0)
        return pid not in (0, outage.old_pid) and answers(health)

    outage.back = wait_for(back, timeout=300)
    outage.new_pid = children(stack.pid).get(role, 0)
    run.phase = f"{role} back"
    # Some turns after the recovery, so that "works again" is seen by visitors too.
    start = len(run.turns)
    wait_for(lambda: sum(t.status == 200 for t in run.turns[start:]) >= VISITORS * 2, 120)
    run.phase = "normal"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    settings = Settings.from_env()
    assert (settings.model_dir / MODEL_NAME).exists(), "no trained model: run `make train`"
    data_dir = tmp_path_factory.mktemp("crash") / "var"
    ports = {"BOT_PORT": free_port(), "ACTIONS_PORT": free_port(), "WEB_PORT": free_port()}
    urls = {
        "rasa": f"http://127.0.0.1:{ports['BOT_PORT']}",
        "actions": f"http://127.0.0.1:{ports['ACTIONS_PORT']}",
        "web": f"http://127.0.0.1:{ports['WEB_PORT']}",
    }
    for url in urls.values():
        require_loopback(url)
    env = {k: v for k, v in os.environ.items() if k not in ("RASA_TOKEN", "ACTIONS_SECRET")}
    env |= {k: str(v) for k, v in ports.items()}
    env |= {"DATA_DIR": str(data_dir), "HOST": "127.0.0.1", "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT), "RESTART_LIMIT": "5"}  # fmt: skip
    log = data_dir.parent / "stack.log"
    result = Run(data_dir, urls, log)
    with log.open("wb") as out:
        stack = subprocess.Popen(  # noqa: S603 (our own module)
            [sys.executable, "-m", "bot.stack", "run"], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        ready = wait_for(
            lambda: stack.poll() is not None or b"Guichet est pr" in log.read_bytes(), 300
        )
        assert ready and stack.poll() is None, log.read_text(errors="replace")[-3000:]
        token = (data_dir / "rasa_token").read_text().strip()
        secret = (data_dir / "actions_secret").read_text().strip()

        stop = threading.Event()
        load = [threading.Thread(target=visitor, args=(result, i, stop)) for i in range(VISITORS)]
        for thread in load:
            thread.start()
        try:
            wait_for(lambda: sum(t.status == 200 for t in result.turns) >= VISITORS * 2, 120)
            result.cmdlines["rasa before"] = Path(
                f"/proc/{children(stack.pid)['rasa']}/cmdline"
            ).read_bytes()
            for role in ("actions", "rasa", "web"):
                kill_and_watch(result, stack, role)
        finally:
            stop.set()
            for thread in load:
                thread.join(timeout=60)

        pids = children(stack.pid)
        for role, pid in pids.items():
            result.cmdlines[role] = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = f"{urls['rasa']}/status"
        result.status_codes = {
            "token": httpx.get(status, params={"token": token}).status_code,
            "none": httpx.get(status).status_code,
            "wrong": httpx.get(status, params={"token": token[:-1]}).status_code,
        }
        refused, forged_sender = forge(result, None)
        wrong, wrong_sender = forge(result, secret[::-1])
        allowed, allowed_sender = forge(result, secret)
        result.forged = {"refused": refused, "wrong": wrong, "allowed": allowed,
                         "senders": (forged_sender, wrong_sender, allowed_sender)}  # fmt: skip

        # A hand-off from the kiosk: contacts, tickets, transcript all written.
        sender = f"crash-handoff-{uuid.uuid4().hex[:12]}"
        chat(result, sender, "je veux parler à quelqu'un")
        chat(result, sender, "à l'accueil")
        chat(result, sender, "je n'arrive pas à imprimer mon avis")
        created = [m["custom"] for m in chat(result, sender, "oui") if m.get("custom")]
        result.ticket = created[0].get("ticket") if created else None
        httpx.get(f"{urls['web']}/mediation/login", timeout=30)  # the console's own files

        stack.send_signal(signal.SIGTERM)
        result.exit_code = stack.wait(timeout=60)
        result.left_running = [p for p in pids.values() if Path(f"/proc/{p}").exists()]
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
        for pid in children(stack.pid).values():
            os.kill(pid, signal.SIGKILL)
    print(summary(result))
    yield result


def summary(run: Run) -> str:
    lines = ["", "kill -9 under load (test_e2e_crash):"]
    supervisor = [
        line.split("guichet: ", 1)[1]
        for line in run.log.read_text(errors="replace").splitlines()
        if "guichet: the " in line
    ]
    for outage in run.outages:
        during = [t for t in run.turns if t.phase == f"{outage.role} down"]
        codes: dict[int, int] = {}
        for t in during:
            codes[t.status] = codes.get(t.status, 0) + 1
        empty = sum(t.status == 200 and not t.texts for t in during)
        lines.append(
            f"  {outage.role}: back={outage.back}, turns while down by status {codes}, "
            f"{empty} answered with no message"
        )
    lines += [f"  supervisor: {line}" for line in supervisor]
    ok = sum(t.status == 200 for t in run.turns)
    lines.append(f"  {len(run.turns)} turns, {ok} answered 200")
    return "\n".join(lines)


def test_each_killed_server_comes_back(run: Run):
    assert [o.role for o in run.outages] == ["actions", "rasa", "web"]
    for outage in run.outages:
        assert outage.back, outage
        assert outage.new_pid not in (0, outage.old_pid)
    log = run.log.read_text(errors="replace")
    for role in ("actions", "rasa", "web"):
        assert f"the {role} server stopped (exit -9): restart 1 of 5 in 1 s" in log
        assert f"the {role} server answers again" in log
    restarts = [json.loads(line) for line in (run.data_dir / "incidents.jsonl").open()]
    assert [(r["kind"], r["detail"]) for r in restarts] == [
        ("server_restarted", "actions exit -9"),
        ("server_restarted", "rasa exit -9"),
        ("server_restarted", "web exit -9"),
    ]


def test_the_web_app_answered_in_french_while_rasa_restarted(run: Run):
    down = [t for t in run.turns if t.phase == "rasa down"]
    refused = [t for t in down if t.status != 200]
    assert refused, "no visitor turn fell while Rasa was down"
    for turn in refused:
        assert turn.status in (502, 503, 504), turn
        assert len(turn.texts) == 1 and turn.texts[0].startswith("Le service "), turn
    after = [t for t in run.turns if t.phase == "rasa back" and t.status == 200]
    assert any(t.texts for t in after)


def test_the_others_kept_serving(run: Run):
    for role in ("actions", "rasa"):
        during = [t for t in run.turns if t.phase == f"{role} down"]
        assert during and all(t.status != 0 for t in during), role  # never a hang or a reset
        for turn in during:
            if turn.status != 200:
                assert turn.texts and turn.texts[0].startswith("Le service "), turn
            # An action call that failed still gets words back, never an empty answer.
            assert any(turn.texts), turn
    web = next(o for o in run.outages if o.role == "web")
    assert web.rasa_probes and all(code == 200 for code in web.rasa_probes), web.rasa_probes
    for role in ("actions", "rasa", "web"):
        back = [t for t in run.turns if t.phase == f"{role} back"]
        assert any(t.status == 200 and t.texts for t in back), role


def test_no_answered_turn_is_lost(run: Run):
    answered: dict[str, list[str]] = {}
    for turn in run.turns:
        if turn.status == 200:
            answered.setdefault(turn.sender, []).append(turn.message)
    assert sum(len(v) for v in answered.values()) >= VISITORS * 6
    with closing(sqlite3.connect(f"file:{run.data_dir / 'tracker.db'}?mode=ro", uri=True)) as db:
        for sender, messages in answered.items():
            rows = db.execute(
                "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id",
                (sender,),
            ).fetchall()
            stored = iter(json.loads(row[0]).get("text") for row in rows)
            missing = [m for m in messages if m not in stored]  # in order, as a subsequence
            assert not missing, (sender, missing)


def test_every_database_is_intact(run: Run):
    databases = sorted(p for p in run.data_dir.rglob("*.db"))
    assert {p.name for p in databases} >= {"tracker.db", "tickets.db"}
    for path in databases:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)], path


def test_every_file_under_data_dir_is_owner_only(run: Run):
    assert run.ticket is not None  # a real hand-off wrote contacts and a ticket
    paths = [run.data_dir, *run.data_dir.rglob("*")]
    names = {p.name for p in paths}
    assert {"tracker.db", "tickets.db", "rasa.log", "rasa_token", "actions_secret"} <= names
    assert {"incidents.jsonl", "logs"} <= names
    wrong = {
        str(p.relative_to(run.data_dir)): oct(p.stat().st_mode & 0o777)
        for p in paths
        if (p.stat().st_mode & 0o777) != (0o700 if p.is_dir() else 0o600)
    }
    assert wrong == {}


def test_the_rasa_token_is_off_the_command_line(run: Run):
    token = (run.data_dir / "rasa_token").read_text().strip().encode()
    secret = (run.data_dir / "actions_secret").read_text().strip().encode()
    assert set(run.cmdlines) == {"rasa before", "actions", "rasa", "web"}
    for name, cmdline in run.cmdlines.items():
        assert token not in cmdline and b"auth-token" not in cmdline, name
        assert secret not in cmdline, name
    assert b"bot.rasa_server" in run.cmdlines["rasa"] and b"--enable-api" in run.cmdlines["rasa"]
    assert run.status_codes == {"token": 200, "none": 401, "wrong": 401}


def test_a_forged_action_call_is_refused_and_creates_nothing(run: Run):
    assert (run.forged["refused"], run.forged["wrong"], run.forged["allowed"]) == (401, 401, 200)
    forged, wrong, allowed = run.forged["senders"]
    with TicketStore(run.data_dir / "tickets.db") as store:
        tickets = store.list(limit=1000)
    senders = [t.sender_id for t in tickets]
    assert forged not in senders and wrong not in senders
    assert allowed in senders  # the same call with the secret does create one


def test_sigterm_stops_everything(run: Run):
    assert run.exit_code == 0
    assert run.left_running == []
    assert "Arrêt de Guichet" in run.log.read_text(errors="replace")
