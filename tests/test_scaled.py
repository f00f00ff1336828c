"""End to end against the scaled stack: 2 Rasa processes (each with its action server) and
2 web copies behind HAProxy, with PostgreSQL and Redis of their own, started once for the
module (bot/scaled.py, what `make run-scaled` starts).

Visitors go through HAProxy only, as they would in production: guides, a hand-off whose
ticket lands in PostgreSQL and in the console, « Effacer » leaving no byte on any disk,
50 visitors at once, two messages of one conversation sent together, and last (it breaks
the stack) one Rasa process killed mid-run.
"""

from __future__ import annotations

import json
import random
import string
import threading
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.client import markers, send
from bot.scaled import ScaledStack, backend_states
from bot.settings import Settings
from bot.stack import MODEL_NAME, free_port
from tests.conftest import SUMMARY
from tests.test_e2e_handoff import desk_handoff

GUIDE = "impots.avis_imposition"
TIMEOUT = 60.0  # the client's patience; the web app itself gives Rasa 8 s


def word() -> str:
    """A word nobody else types, letters only (the privacy guard keeps it as it is)."""
    return "".join(random.choices(string.ascii_lowercase, k=14))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    settings = Settings.from_env()
    assert (settings.model_dir / MODEL_NAME).exists(), "run `make train` first"
    values = settings.values | {
        "DATA_DIR": str(tmp_path_factory.mktemp("scaled-var")),
        # 50 visitors at once create more tickets a minute than a desk does.
        "HANDOFFS_PER_MINUTE": "10000",
    }
    running = ScaledStack(
        Settings(values),
        rasa_processes=2,
        web_processes=2,
        quiet=True,
        bot_port=free_port(),
        web_port=free_port(),
        throwaway=True,
    )
    running.start(timeout=300)
    try:
        yield running
    finally:
        running.stop()


def walk(url: str, sender: str, turns: int) -> list[tuple[int, bool]]:
    """Start GUIDE, then press « Étape suivante »: `turns` messages in all; the step of
    every reply and whether it says the guide is completed."""
    seen = []
    for turn in range(turns):
        reply = send(url, sender, "/next_step" if turn else f"/{GUIDE}", timeout=TIMEOUT)
        found = [m for m in markers(reply) if m.get("guide") == GUIDE]
        assert reply and found, reply
        seen.append((int(found[0]["step"]), bool(found[0].get("completed"))))
    return seen


def full_walk(steps: int) -> list[tuple[int, bool]]:
    """What a whole walk shows: steps 1 to the last, then « completed » on the last."""
    return [(n, False) for n in range(1, steps + 1)] + [(steps, True)]


def user_texts(stack: ScaledStack, sender: str) -> list[str]:
    """The user events of a conversation, through HAProxy and Rasa's HTTP API."""
    quoted = urllib.parse.quote(sender, safe="")
    url = f"{stack.bot_url}/conversations/{quoted}/tracker?token={stack.token}"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:  # noqa: S310 (loopback)
        tracker = json.loads(resp.read())
    return [e.get("text") for e in tracker["events"] if e.get("event") == "user"]


def test_every_process_is_up_behind_haproxy(stack: ScaledStack):
    states = backend_states(stack.stats_url)
    assert states["rasa"] == {"rasa-0": "UP", "rasa-1": "UP"}
    assert states["web"] == {"web-0": "UP", "web-1": "UP"}
    assert stack.database_url and stack.database_url.startswith("postgresql://")
    assert stack.redis_url and stack.redis_url.startswith("redis://")
    for server in [*stack.rasa, *stack.actions, *stack.web]:
        assert server.process is not None and server.process.poll() is None, server.name
    # Logs: owner-only, one file per process.
    logs = {p.name: p.stat().st_mode & 0o777 for p in stack.log_dir.iterdir()}
    assert {"rasa-0.log", "rasa-1.log", "haproxy.log", "web-1.log"} <= set(logs)
    assert set(logs.values()) == {0o600}


def test_a_guide_walked_over_rest_through_haproxy(stack: ScaledStack, catalogue):
    steps = len(catalogue.guides[GUIDE].steps)
    sender = f"scaled-{uuid.uuid4().hex}"
    assert walk(stack.bot_url, sender, steps + 1) == full_walk(steps)
    # The conversation lives in Redis: the tracker has every turn.
    assert user_texts(stack, sender) == [f"/{GUIDE}"] + ["/next_step"] * steps


def test_a_handoff_is_a_ticket_in_postgresql_and_in_the_console(stack: ScaledStack):
    from bot.accounts import AccountStore
    from bot.tickets import TicketStore

    assert stack.scaled_settings is not None
    sender = f"scaled-{uuid.uuid4().hex}"
    sentence = f"je ne trouve pas le formulaire {word()}"
    send(stack.bot_url, sender, f"/{GUIDE}", timeout=TIMEOUT)
    created = desk_handoff(stack.bot_url, sender, sentence)
    assert created["handoff"] == "created"
    assert stack.database_url is not None
    with TicketStore(stack.database_url) as store:
        ticket = store.get(created["ticket"])
    assert ticket is not None and ticket.visitor_sentence == sentence
    assert ticket.guide_id == GUIDE
    assert any(t["who"] == "visitor" and t["text"] == f"/{GUIDE}" for t in ticket.transcript)

    # The console, through HAProxy's round robin over both web copies: the login made on
    # one copy holds on the other (signed cookie, sessions in PostgreSQL).
    with AccountStore.open(stack.scaled_settings) as accounts:
        accounts.create("camille", "un mot de passe assez long")
    with httpx.Client(base_url=stack.web_url, follow_redirects=False, timeout=30) as web:
        page = web.get("/mediation/login").text
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = {"name": "camille", "password": "un mot de passe assez long", "csrf": csrf}
        assert web.post("/mediation/login", data=form).status_code == 303
        for _ in range(4):  # every copy, twice
            queue = web.get("/mediation/")
            assert queue.status_code == 200 and f"/mediation/tickets/{ticket.id}" in queue.text
        shown = web.get(f"/mediation/tickets/{ticket.id}")
        assert shown.status_code == 200 and sentence.split()[-1] in shown.text


def files_under(*folders: Path) -> dict[Path, bytes]:
    found = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                found[path] = path.read_bytes()
    return found


def test_erase_leaves_no_byte_of_the_sentence_on_any_disk(stack: ScaledStack):
    import redis

    assert stack.postgres is not None and stack.redis is not None
    pg_folder: Path = stack.postgres.folder  # type: ignore[attr-defined]
    redis_folder: Path = stack.redis.folder  # type: ignore[attr-defined]
    secret_word, kept_word = word(), word()
    erased, kept = uuid.uuid4().hex, uuid.uuid4().hex

    def chat(sender: str, message: str) -> None:
        answer = httpx.post(
            f"{stack.web_url}/api/chat",
            json={"sender": sender, "message": message, "channel": "widget"},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 200, answer.text

    chat(erased, f"je cherche le papier {secret_word} pour la mairie")
    chat(erased, "/next_step")
    # A control: a hand-off's sentence is kept in PostgreSQL, so the search below sees
    # what PostgreSQL writes (its WAL at least) when it is there.
    created = desk_handoff(stack.bot_url, kept, f"il me faut le papier {kept_word}")
    assert created["handoff"] == "created"
    client = redis.Redis.from_url(stack.redis_url or "")
    stored = client.lrange(f"guichet:conversation:{erased}", 0, -1)
    assert any(secret_word.encode() in event for event in stored)

    answer = httpx.post(f"{stack.web_url}/api/erase", json={"sender": erased}, timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.json()["erased"] is True, answer.text
    assert answer.json()["events"] > 0
    assert client.exists(f"guichet:conversation:{erased}") == 0
    assert user_texts(stack, erased) == []

    import psycopg2

    conn = psycopg2.connect(stack.database_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CHECKPOINT")  # whatever PostgreSQL holds in memory, on disk now
    finally:
        conn.close()
    disk = files_under(pg_folder, redis_folder, stack.settings.data_dir)
    assert any(kept_word.encode() in content for content in disk.values())
    holding = [str(p) for p, content in disk.items() if secret_word.encode() in content]
    assert holding == []


def test_a_phone_number_declined_at_consent_never_reaches_postgresql(stack: ScaledStack):
    """The detail waits in Redis (memory only) between the read-back and consent; « Non »
    drops it. PostgreSQL, whose deleted rows stay in its files and WAL, never sees it."""
    import psycopg2
    import redis

    from bot.pending_contacts import PREFIX
    from tests.test_e2e_handoff import KIOSK, handoff_marker

    assert stack.postgres is not None and stack.redis is not None
    # A number nobody else types in this module, and its digits without spaces.
    digits = "07" + "".join(random.choices(string.digits, k=8))
    spaced = " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    sender = f"scaled-phone-{uuid.uuid4().hex[:8]}"
    url = stack.bot_url
    send(url, sender, "je veux parler à quelqu'un", metadata=KIOSK, timeout=TIMEOUT)
    send(url, sender, "par téléphone", metadata=KIOSK, timeout=TIMEOUT)
    read_back = send(url, sender, f"mon numéro c'est le {spaced}", metadata=KIOSK, timeout=TIMEOUT)
    assert read_back[0]["text"] == f"Vous avez écrit {spaced}. C'est bien ça ?"
    client = redis.Redis.from_url(stack.redis_url or "")
    assert client.exists(PREFIX + sender) == 1  # waiting for consent, in Redis
    assert (
        handoff_marker(send(url, sender, "/affirm", metadata=KIOSK, timeout=TIMEOUT))["handoff"]
        == "problem"
    )
    assert (
        handoff_marker(send(url, sender, "/deny", metadata=KIOSK, timeout=TIMEOUT))["handoff"]
        == "consent"
    )
    assert (
        handoff_marker(send(url, sender, "Non", metadata=KIOSK, timeout=TIMEOUT))["handoff"]
        == "declined"
    )
    assert client.exists(PREFIX + sender) == 0

    conn = psycopg2.connect(stack.database_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CHECKPOINT")
    finally:
        conn.close()
    pg_folder: Path = stack.postgres.folder  # type: ignore[attr-defined]
    redis_folder: Path = stack.redis.folder  # type: ignore[attr-defined]
    disk = files_under(pg_folder, redis_folder, stack.settings.data_dir)
    holding = [
        str(p)
        for p, content in disk.items()
        if digits.encode() in content or spaced.encode() in content
    ]
    assert holding == []


def test_fifty_visitors_at_once_get_every_reply_in_order(stack: ScaledStack, catalogue, request):
    steps = min(4, len(catalogue.guides[GUIDE].steps))
    senders = [f"scaled-50-{i}-{uuid.uuid4().hex[:8]}" for i in range(50)]
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        walks = list(pool.map(lambda s: walk(stack.bot_url, s, steps), senders))
    elapsed = time.monotonic() - start
    assert walks == [[(n, False) for n in range(1, steps + 1)]] * 50
    for sender in senders[:10]:
        assert user_texts(stack, sender) == [f"/{GUIDE}"] + ["/next_step"] * (steps - 1)
    request.config.stash.setdefault(SUMMARY, []).append(
        f"scaled stack, 2 Rasa processes: 50 visitors x {steps} turns in {elapsed:.1f} s"
    )


def test_two_messages_of_one_conversation_sent_together_lose_no_turn(stack: ScaledStack):
    lost = []
    for round_ in range(20):
        sender = f"scaled-pair-{round_}-{uuid.uuid4().hex[:8]}"
        send(stack.bot_url, sender, f"/{GUIDE}", timeout=TIMEOUT)
        together = threading.Barrier(2)
        first, second = f"bonjour {word()}", f"merci {word()}"

        def say(text: str, sender: str = sender, together: Any = together) -> list[dict]:
            together.wait()
            return send(stack.bot_url, sender, text, timeout=TIMEOUT)

        with ThreadPoolExecutor(max_workers=2) as pool:
            replies = list(pool.map(say, [first, second]))
        assert all(replies), replies
        texts = user_texts(stack, sender)
        if not {first, second} <= set(texts) or len(texts) != 3:
            lost.append((sender, texts))
    assert lost == []


def test_a_killed_rasa_process_costs_its_visitors_no_error(stack: ScaledStack, catalogue):
    """Last: it kills rasa-0, which is not restarted."""
    steps = len(catalogue.guides[GUIDE].steps)
    senders = [f"scaled-kill-{i}-{uuid.uuid4().hex[:8]}" for i in range(16)]
    before = {row: int(v) for row, v in _served(stack).items()}
    two_turns_done = threading.Barrier(len(senders) + 1)
    errors: list[str] = []

    def visitor(sender: str) -> list[tuple[int, bool]]:
        seen: list[tuple[int, bool]] = []
        try:
            for turn in range(steps + 1):
                if turn == 2:
                    two_turns_done.wait(timeout=120)
                    time.sleep(random.random())  # spread the turns around the kill
                message = "/next_step" if turn else f"/{GUIDE}"
                # The visitors' own path: the web app, with its 8 s timeout towards Rasa.
                # A 502/503/504 here is the French error a kiosk would show.
                answer = httpx.post(
                    f"{stack.web_url}/api/chat",
                    json={"sender": sender, "message": message, "channel": "kiosk"},
                    timeout=TIMEOUT,
                )
                assert answer.status_code == 200, (answer.status_code, answer.text)
                reply = answer.json()
                found = [m for m in markers(reply) if m.get("guide") == GUIDE]
                assert reply and found, reply
                seen.append((int(found[0]["step"]), bool(found[0].get("completed"))))
                if seen[-1][1]:
                    break
                time.sleep(0.2)
        except Exception as exc:  # noqa: BLE001 (any error is what this test looks for)
            errors.append(f"{sender}: {exc!r}")
        return seen

    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        futures = [pool.submit(visitor, s) for s in senders]
        two_turns_done.wait(timeout=120)
        served = _served(stack)
        assert served["rasa-0"] > before["rasa-0"]  # rasa-0 had conversations of this test
        stack.kill_rasa(0)
        walks = [f.result() for f in futures]
    assert errors == []
    # Every conversation went on from where it was, to the end: none started over.
    # (A turn the process had saved but not yet answered when killed is played again on
    # the other process: a step may be skipped then, never repeated from the start.)
    for seen in walks:
        numbers = [step for step, _ in seen[:-1]]
        assert numbers[0] == 1 and seen[-1] == (steps, True), seen
        assert all(b > a for a, b in zip(numbers, numbers[1:], strict=False)), seen
    assert backend_states(stack.stats_url)["rasa"]["rasa-0"] == "DOWN"


def _served(stack: ScaledStack) -> dict[str, int]:
    """Requests each Rasa process has answered (HAProxy's `stot` counter)."""
    import csv
    import io

    with urllib.request.urlopen(f"{stack.stats_url};csv", timeout=10) as resp:  # noqa: S310
        text = resp.read().decode().lstrip("# ")
    return {
        row["svname"]: int(row["stot"])
        for row in csv.DictReader(io.StringIO(text))
        if row["pxname"] == "rasa" and row["svname"].startswith("rasa-")
    }
