"""« Effacer » against the real servers: an erase racing a turn in flight leaves nothing,
logs written at DEBUG hold no visitor text, and a stopped Rasa gives « Le service
redémarre » in French.

Its own stack, with LOG_LEVEL=DEBUG, so that Rasa logs every message it parses (the
scrubber of bot/logs.py must take the text out) and DATA_DIR holds only this module's data.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from bot.settings import Settings
from bot.stack import MODEL_NAME, Stack, free_port

ROUNDS = 20
MARK = b"zorglub"  # in every racing message; a plain word the privacy guard keeps
CONTROL = b"Brouzouf"  # in a conversation nobody erases: shows the search can see


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    settings = Settings.from_env()
    assert (settings.model_dir / MODEL_NAME).exists(), "run `make train` first"
    values = settings.values | {
        "DATA_DIR": str(tmp_path_factory.mktemp("race-var")),
        "LOG_LEVEL": "DEBUG",
    }
    running = Stack(Settings(values), bot_port=free_port(), actions_port=free_port(),
                    web_port=free_port(), quiet=True)  # fmt: skip
    running.start()
    try:
        yield running
    finally:
        running.stop()


def events_of(stack: Stack, sender: str) -> int:
    with closing(sqlite3.connect(stack.settings.tracker_db)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?",
                                (sender,)).fetchone()[0])  # fmt: skip


def files(stack: Stack) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in stack.settings.data_dir.rglob("*") if p.is_file()}


def found_in(stack: Stack, needle: bytes) -> list[str]:
    return [p.name for p, content in files(stack).items() if needle.lower() in content.lower()]


async def race(stack: Stack) -> list[dict]:
    """Each round: a conversation with one finished turn, then a message and an erase of
    it at once, the erase sent a little later in each round so that across the rounds it
    lands from before Rasa reads the message to after Rasa has saved it."""
    api = f"{stack.web_url}/api"
    rounds = []
    async with httpx.AsyncClient(timeout=60) as client:

        async def say(sender: str, text: str) -> httpx.Response:
            return await client.post(f"{api}/chat", json={"sender": sender, "message": text,
                                                          "channel": "kiosk"})  # fmt: skip

        # One timed turn sets the range of delays.
        started = asyncio.get_running_loop().time()
        await say(uuid.uuid4().hex, "bonjour")
        turn = asyncio.get_running_loop().time() - started
        for index in range(ROUNDS):
            sender = uuid.uuid4().hex
            first = await say(sender, "bonjour, je dois declarer mes impots")
            assert first.status_code == 200
            order: list[str] = []

            async def chat(sender: str = sender, order: list[str] = order) -> httpx.Response:
                answer = await say(sender, f"ma voisine {MARK.decode()} ne sait pas non plus")
                order.append("chat")
                return answer

            async def erase(delay: float, sender: str = sender, order: list[str] = order):
                await asyncio.sleep(delay)
                answer = await client.post(f"{api}/erase", json={"sender": sender})
                order.append("erase")
                return answer

            delay = turn * index / ROUNDS
            chatted, erased = await asyncio.gather(chat(), erase(delay))
            assert chatted.status_code == 200 and erased.status_code == 200
            assert erased.json()["erased"] is True
            rounds.append({"sender": sender, "in_flight": order[0] == "erase",
                           "events": erased.json()["events"]})  # fmt: skip
    return rounds


def test_an_erase_racing_a_turn_in_flight_leaves_nothing(stack):
    control = uuid.uuid4().hex
    answer = httpx.post(
        f"{stack.web_url}/api/chat",
        timeout=60,
        json={
            "sender": control,
            "message": f"mon chat {CONTROL.decode()} a faim",
            "channel": "kiosk",
        },
    )
    assert answer.status_code == 200
    rounds = asyncio.run(race(stack))

    in_flight = sum(r["in_flight"] for r in rounds)
    left = {r["sender"]: events_of(stack, r["sender"]) for r in rounds}
    print(f"\nerase race: {len(rounds)} rounds, {in_flight} with the erase answered before the "
          f"turn, events left after erase: {sum(left.values())}")  # fmt: skip
    assert in_flight > 0  # some erases did land while their turn was still in flight
    assert sum(left.values()) == 0, left
    # Nothing of the erased conversations anywhere (databases, WAL, SHM, logs), while the
    # conversation nobody erased is found: the search sees what is there.
    assert found_in(stack, CONTROL) != []
    assert found_in(stack, MARK) == []
    for sender in left:
        for path, content in files(stack).items():
            if ".db" in path.name:
                assert sender.encode() not in content, path.name


def test_debug_logs_hold_no_visitor_text(stack):
    logs = stack.settings.data_dir / "logs"
    written = b"".join(p.read_bytes() for p in logs.glob("*.log"))
    assert b"processor.message.parse" in written  # Rasa did log each message it parsed
    assert CONTROL.lower() not in written.lower() and MARK not in written
    assert b"declarer mes impots" not in written


def test_a_stopped_rasa_gives_the_restarting_message(stack):
    rasa = stack.processes["rasa"]
    rasa.terminate()
    rasa.wait(timeout=30)
    answer = httpx.post(f"{stack.web_url}/api/chat", timeout=30, json={
        "sender": uuid.uuid4().hex, "message": "bonjour", "channel": "kiosk"})  # fmt: skip
    assert answer.status_code == 503
    assert answer.json() == [{"text": "Le service redémarre. Réessayez dans quelques secondes."}]
