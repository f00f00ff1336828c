"""The real servers with REDIS_URL set: conversations live in Redis (no persistence), Rasa's
lock store is Redis, « Effacer » removes every key of the conversation, and no visitor
sentence reaches a file under DATA_DIR; a hand-off still copies the conversation into its
ticket, and the statistics still count the turns (from the anonymous activity log)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from bot.activity import ActivityStore, conversation_key
from bot.conversations import RedisConversations, redis_client, sender_hash
from bot.settings import Settings
from bot.stack import MODEL_NAME, Stack, free_port
from bot.tickets import TicketStore

ERASED = "ma voisine Zorglub ne sait pas declarer ses impots"
KEPT = "mon chat Brouzouf voudrait payer sa taxe fonciere"
HANDED_OVER = "je n'arrive pas a ouvrir mon espace Ameli depuis hier"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url: str):
    settings = Settings.from_env()
    assert (settings.model_dir / MODEL_NAME).exists(), "run `make train` first"
    values = settings.values | {
        "DATA_DIR": str(tmp_path_factory.mktemp("redis-var")),
        "REDIS_URL": redis_url,
        "HANDOFFS_PER_MINUTE": "10000",
    }
    running = Stack(Settings(values), bot_port=free_port(), actions_port=free_port(),
                    web_port=free_port(), quiet=True)  # fmt: skip
    running.start()
    try:
        yield running
    finally:
        running.stop()


def say(stack: Stack, sender: str, message: str, channel: str = "kiosk") -> list[dict]:
    answer = httpx.post(
        f"{stack.web_url}/api/chat",
        json={"sender": sender, "message": message, "channel": channel},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text[:200]
    return list(answer.json())


def files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_erase_removes_every_key_and_nothing_reaches_a_file(stack: Stack, redis_url: str):
    client = redis_client(redis_url)
    gone, kept = uuid.uuid4().hex, uuid.uuid4().hex
    for sender, sentence in ((gone, ERASED), (kept, KEPT)):
        first = say(stack, sender, sentence)
        assert first and first[0].get("text")
        say(stack, sender, "/next_step")
    conversations = RedisConversations(redis_url, stack.settings.conversation_expiry_minutes)
    texts = [e.get("text") for e in conversations.read(gone) if e.get("event") == "user"]
    assert texts == [ERASED, "/next_step"]
    assert 0 < client.ttl(RedisConversations.key(gone)) <= 60 * 1440

    erased = httpx.post(f"{stack.web_url}/api/erase", json={"sender": gone}, timeout=30).json()
    assert erased["erased"] is True and erased["events"] > 0

    names = [bytes(k) for k in client.keys("*")]
    assert not [k for k in names if gone.encode() in k]
    assert f"guichet:erased:{sender_hash(gone)}".encode() in names
    assert conversations.read(gone) == []
    assert KEPT in [e.get("text") for e in conversations.read(kept)]  # Redis holds the other
    # Neither sentence is in any file: conversations never left Redis's memory.
    data_dir = stack.settings.data_dir
    written = files(data_dir)
    assert not (data_dir / "tracker.db").exists()
    for path, content in written.items():
        for sentence in (ERASED, KEPT):
            for words in (sentence, sentence.split()[2]):
                assert words.encode() not in content, (path.name, words)
    # Rasa ran with the Redis lock store, from a private copy of endpoints.yml.
    generated = data_dir / "endpoints.redis.yml"
    assert b"lock_store" in written[generated] and generated.stat().st_mode & 0o077 == 0
    # The turns were counted in the anonymous activity log, erased conversation included.
    with ActivityStore.open(stack.settings) as log:
        now = datetime.now(timezone.utc)
        rows = log.read(now - timedelta(hours=1), now + timedelta(minutes=1))
    mine = [r for r in rows if r.conversation == conversation_key(gone)]
    assert [r.kind for r in mine].count("user") == 2
    assert any(r.kind == "bot" for r in mine)


def test_a_handoff_copies_the_conversation_from_redis(stack: Stack, redis_url: str):
    sender = uuid.uuid4().hex
    say(stack, sender, HANDED_OVER, "widget")
    say(stack, sender, "je voudrais parler à un médiateur", "widget")
    say(stack, sender, '/choose_contact{"contact_preference": "later"}', "widget")
    say(stack, sender, "/deny", "widget")
    created = [m["custom"] for m in say(stack, sender, "/affirm", "widget") if m.get("custom")]
    assert created and created[0]["handoff"] == "created"
    with TicketStore.open(stack.settings) as store:
        ticket = store.get(created[0]["ticket"])
    assert ticket is not None and ticket.sender_id == sender
    assert HANDED_OVER in [t["text"] for t in ticket.transcript if t["who"] == "visitor"]
    # The erase of a conversation a ticket holds keeps it (as on SQLite).
    erased = httpx.post(f"{stack.web_url}/api/erase", json={"sender": sender}, timeout=30).json()
    assert erased["kept_for_ticket"] is True
