"""Where conversations live (SQLite file or Redis), read back, erased and purged, with the
tracker store that writes them: the same behaviour on both engines, and Redis's own
guarantees (expiry, nothing on disk, an erase that leaves no key)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.activity import ActivityStore, conversation_key
from bot.conversations import (
    Conversations,
    RedisConversations,
    SQLiteConversations,
    open_conversations,
    redis_client,
    sender_hash,
)
from bot.settings import ROOT, Settings
from bot.tracker_store import GuichetTrackerStore, RedisEventsTrackerStore, SQLiteTrackerStore
from tests.test_tracker_store import conversation

SECRET = "ma voisine zoe habite au 12 rue des Lilas"
EXPIRY_MINUTES = 90
OWN_DB = 9


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@dataclass
class Engine:
    name: str
    store: TrackerStore
    conversations: Conversations
    activity: ActivityStore
    folder: Path

    def save(self, tracker: DialogueStateTracker) -> None:
        asyncio.run(self.store.save(tracker))


@pytest.fixture(params=["sqlite", "redis"])
def engine(request, tmp_path: Path, domain: Domain) -> Iterator[Engine]:
    activity = ActivityStore(tmp_path / "activity.db")
    store: TrackerStore
    if request.param == "sqlite":
        db = tmp_path / "tracker.db"
        store = SQLiteTrackerStore(domain=domain, db=str(db), activity=activity)
        conversations: Conversations = SQLiteConversations(db)
    else:
        # A database of its own on the shared server, emptied first: the purge test counts
        # every conversation in it.
        url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + f"/{OWN_DB}"
        redis_client(url).flushdb()
        store = RedisEventsTrackerStore(
            domain, url=url, expiry_minutes=EXPIRY_MINUTES, activity=activity
        )
        conversations = RedisConversations(url, EXPIRY_MINUTES)
    with activity:
        yield Engine(request.param, store, conversations, activity, tmp_path)


def sender(name: str) -> str:
    """A sender id of its own: the Redis server is shared by the whole run."""
    return f"{name}-{secrets.token_hex(6)}"


def turn(domain: Domain, who: str, text: str, at: float = 30.0) -> DialogueStateTracker:
    """What Rasa saves at the end of a turn: the whole tracker, this turn included."""
    tracker = DialogueStateTracker(who, domain.slots)
    # From the session start on, as Rasa reads a tracker back (action_session_start, just
    # before it, is not part of the session for either store).
    for event in conversation(who)[0][1:]:
        tracker.update(event)
    tracker.update(
        UserUttered(text, {"name": "greet", "confidence": 0.9}, timestamp=at,
                    metadata={"channel": "widget"})
    )  # fmt: skip
    marker = {"custom": {"fallback": "not_understood"}}
    tracker.update(BotUttered("Bonjour !", marker, timestamp=at + 1))
    return tracker


def test_the_same_trackers_as_rasa_on_redis(redis_url: str, domain: Domain, tmp_path: Path):
    """Sessions read back as Rasa's SQL tracker store reads them: the latest session, or
    every session for the full tracker."""
    ours = RedisEventsTrackerStore(domain, url=redis_url, expiry_minutes=EXPIRY_MINUTES)
    rasa = SQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    names = [sender("visitor-a"), sender("visitor-b")]

    async def play(store: TrackerStore) -> list[DialogueStateTracker | None]:
        seen = []
        for name in names:
            tracker = DialogueStateTracker(name, domain.slots)
            for events in conversation(name):
                for event in events:
                    tracker.update(event)
                await store.save(tracker)
                seen.append(await store.retrieve(name))
            seen.append(await store.retrieve_full_tracker(name))
        seen.append(await store.retrieve("nobody-" + secrets.token_hex(4)))
        return seen

    mine, theirs = asyncio.run(play(ours)), asyncio.run(play(rasa))
    assert mine[-1] is None and theirs[-1] is None
    for a, b in zip(mine[:-1], theirs[:-1], strict=True):
        assert a is not None and b is not None
        assert list(a.events) == list(b.events)
        assert a.current_slot_values() == b.current_slot_values()
    assert mine[2] is not None and mine[3] is not None
    assert 0 < len(mine[2].events) < len(mine[3].events)
    # Saving the tracker read back (the latest session) again appends nothing.
    full = mine[3]
    assert full is not None and mine[2] is not None
    asyncio.run(ours.save(mine[2]))
    assert len(RedisConversations(redis_url, 1).read(names[0])) == len(full.events)
    assert set(names) <= set(asyncio.run(ours.keys()))


def test_read_gives_every_event_in_order(engine: Engine, domain: Domain):
    who = sender("reader")
    first = turn(domain, who, "premier message", at=30.0)
    engine.save(first)
    # The next turn, as Rasa plays it: read the tracker back, add to it, save it.
    tracker = asyncio.run(engine.store.retrieve(who))
    assert tracker is not None
    engine.save(tracker)  # nothing new
    tracker.update(UserUttered("second message", timestamp=40.0))
    engine.save(tracker)
    events = engine.conversations.read(who)
    expected = [e.as_dict() for e in first.events] + [tracker.events[-1].as_dict()]
    assert [(e["event"], e["timestamp"]) for e in events] == [
        (e["event"], e["timestamp"]) for e in expected
    ]
    assert [e.get("text") for e in events if e["event"] == "user"] == [
        "je dois declarer mes impots",
        "premier message",
        "second message",
    ]
    assert engine.conversations.read(sender("nobody")) == []


def test_erase_then_a_late_save_writes_nothing(engine: Engine, domain: Domain):
    who, other = sender("leaving"), sender("staying")
    engine.save(turn(domain, who, SECRET))
    engine.save(turn(domain, other, "bonjour"))
    assert engine.conversations.delete(who) == len(turn(domain, who, SECRET).events)
    assert engine.conversations.is_erased(who) and not engine.conversations.is_erased(other)
    # The turn that was in flight when the visitor pressed « Effacer » now saves.
    engine.save(turn(domain, who, "un message tardif", at=50.0))
    assert engine.conversations.read(who) == []
    assert asyncio.run(engine.store.retrieve(who)) is None
    assert asyncio.run(engine.store.retrieve_full_tracker(who)) is None
    assert len(engine.conversations.read(other)) > 0
    # The late save wrote no activity row either; the first turn's rows stay (anonymous).
    rows = engine.activity.read(0, 100)
    assert [r.at for r in rows if r.conversation == conversation_key(who)] == [
        10.0,
        12.0,
        12.5,
        30.0,
        31.0,
    ]


def test_the_write_itself_checks_the_erase(engine: Engine, domain: Domain, monkeypatch):
    """The erase lands after the save began and before its write: still nothing."""
    who = sender("racing")
    engine.save(turn(domain, who, "premier message"))
    real_stream = engine.store.stream_events

    async def erase_meanwhile(tracker: DialogueStateTracker) -> None:
        engine.conversations.delete(tracker.sender_id)
        await real_stream(tracker)

    monkeypatch.setattr(engine.store, "stream_events", erase_meanwhile)
    engine.save(turn(domain, who, "un message tardif", at=50.0))
    assert engine.conversations.read(who) == []


def test_erasing_before_the_first_save_still_blocks_it(engine: Engine, domain: Domain):
    who = sender("new")
    assert engine.conversations.delete(who) == 0
    engine.save(turn(domain, who, "mon premier message"))
    assert engine.conversations.read(who) == []


def test_purge_forgets_old_conversations_that_no_ticket_holds(engine: Engine, domain: Domain):
    now = datetime.now(timezone.utc)
    old, held = sender("old"), sender("held")
    recent = sender("recent")
    engine.save(turn(domain, old, "bonjour", at=(now - timedelta(days=40)).timestamp()))
    engine.save(turn(domain, held, "je bloque", at=(now - timedelta(days=40)).timestamp()))
    engine.save(turn(domain, recent, "bonjour", at=now.timestamp()))
    assert engine.conversations.purge(keep={held}, older_than=now - timedelta(days=30)) == 1
    assert engine.conversations.read(old) == []
    assert engine.conversations.read(held) != [] and engine.conversations.read(recent) != []
    assert engine.conversations.purge(keep={held}, older_than=now - timedelta(days=30)) == 0
    assert engine.conversations.purge(keep=set(), older_than=now + timedelta(seconds=5)) == 2


def test_each_save_writes_the_new_events_to_the_activity_log(engine: Engine, domain: Domain):
    who = sender("counted")
    engine.save(turn(domain, who, SECRET))
    engine.save(turn(domain, who, SECRET))  # the same tracker again: no new row
    rows = [r for r in engine.activity.read(0, 100) if r.conversation == conversation_key(who)]
    assert [(r.kind, r.at) for r in rows] == [
        ("user", 10.0),
        ("bot", 12.0),
        ("slot", 12.5),
        ("user", 30.0),
        ("bot", 31.0),
    ]
    assert rows[3].data == {"channel": "widget"} and rows[4].data == {"fallback": "not_understood"}
    engine.activity.close()
    for path in engine.folder.glob("activity.db*"):
        assert SECRET.encode() not in path.read_bytes() and who.encode() not in path.read_bytes()


# --- Redis only -----------------------------------------------------------------------------


def test_redis_erase_leaves_no_key_but_a_hashed_tombstone(redis_url: str, domain: Domain):
    store = RedisEventsTrackerStore(domain, url=redis_url, expiry_minutes=EXPIRY_MINUTES)
    conversations = RedisConversations(redis_url, EXPIRY_MINUTES)
    who = sender("gone")
    asyncio.run(store.save(turn(domain, who, SECRET)))
    client = redis_client(redis_url)
    assert client.exists(RedisConversations.key(who))
    conversations.delete(who)
    names = [bytes(k) for k in client.keys("*")]
    assert not [k for k in names if who.encode() in k]
    assert f"guichet:erased:{sender_hash(who)}".encode() in names
    assert client.get(f"guichet:erased:{sender_hash(who)}") == b"1"


def test_redis_keys_expire_and_each_save_refreshes_them(redis_url: str, domain: Domain):
    store = RedisEventsTrackerStore(domain, url=redis_url, expiry_minutes=EXPIRY_MINUTES)
    client = redis_client(redis_url)
    who = sender("expiring")
    key = RedisConversations.key(who)
    asyncio.run(store.save(turn(domain, who, "bonjour")))
    assert EXPIRY_MINUTES * 60 - 5 <= client.ttl(key) <= EXPIRY_MINUTES * 60
    client.expire(key, 10)
    tracker = turn(domain, who, "bonjour")
    tracker.update(UserUttered("encore moi", timestamp=60.0))
    asyncio.run(store.save(tracker))
    assert client.ttl(key) > 10
    RedisConversations(redis_url, EXPIRY_MINUTES).delete(who)
    tombstone = RedisConversations.erased_key(who)
    assert EXPIRY_MINUTES * 60 - 5 <= client.ttl(tombstone) <= EXPIRY_MINUTES * 60


def test_redis_writes_nothing_to_disk(tmp_path: Path, domain: Domain):
    """A Redis of its own, started as bot.services starts it: after a conversation and its
    erase, its folder holds no RDB snapshot and no append-only file, and its log no text."""
    from bot.services import Redis

    server = Redis(tmp_path / "redis").start()
    try:
        store = RedisEventsTrackerStore(domain, url=server.url, expiry_minutes=EXPIRY_MINUTES)
        who = sender("disk")
        asyncio.run(store.save(turn(domain, who, SECRET)))
        client = redis_client(server.url)
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        RedisConversations(server.url, EXPIRY_MINUTES).delete(who)
        client.close()
    finally:
        server.stop()  # a clean shutdown is when a configured snapshot would be written
    found = [p for p in (tmp_path / "redis").rglob("*") if p.is_file()]
    assert [p.name for p in found] == ["server.log"]
    for path in found:
        assert SECRET.encode() not in path.read_bytes()
        assert not path.name.endswith((".rdb", ".aof"))


# --- chosen by settings ---------------------------------------------------------------------


def settings_with(tmp_path: Path, **values: str) -> Settings:
    return Settings(Settings.from_env().values | {"DATA_DIR": str(tmp_path / "var"), **values})


def test_open_conversations_follows_the_settings(tmp_path: Path, redis_url: str):
    assert isinstance(open_conversations(settings_with(tmp_path)), SQLiteConversations)
    chosen = open_conversations(settings_with(tmp_path, REDIS_URL=redis_url))
    assert isinstance(chosen, RedisConversations) and chosen.url == redis_url


def test_the_endpoints_store_follows_the_settings(
    tmp_path: Path, redis_url: str, domain: Domain, monkeypatch
):
    for name, value in settings_with(tmp_path).values.items():
        monkeypatch.setenv(name, value)
    chosen: Any = GuichetTrackerStore(domain=domain, db=str(tmp_path / "t.db"), host=None)
    assert isinstance(chosen, SQLiteTrackerStore)
    assert chosen.activity is not None
    monkeypatch.setenv("REDIS_URL", redis_url)
    chosen = GuichetTrackerStore(domain=domain, db=str(tmp_path / "t.db"))
    assert isinstance(chosen, RedisEventsTrackerStore)
    who = sender("endpoint")
    asyncio.run(chosen.save(turn(domain, who, "bonjour")))
    with ActivityStore.open(settings_with(tmp_path)) as log:
        assert conversation_key(who) in {r.conversation for r in log.read(0, 100)}
    assert (tmp_path / "var" / "activity.db").exists()


def test_rasa_gets_a_redis_lock_store_from_a_private_file(tmp_path: Path, redis_url: str):
    import yaml

    from bot.rasa_server import prepare

    environ = dict(settings_with(tmp_path, REDIS_URL=redis_url).values)
    argv = ["run", "--endpoints", str(ROOT / "endpoints.yml"), "--enable-api"]
    prepare(argv, environ)
    password = redis_url.split(":", 2)[2].split("@")[0]
    assert not any(password in a for a in argv)
    generated = Path(argv[argv.index("--endpoints") + 1])
    assert generated.parent == tmp_path / "var" and os.stat(generated).st_mode & 0o077 == 0
    endpoints = yaml.safe_load(generated.read_text())
    lock = endpoints["lock_store"]
    assert lock["type"] == "redis" and lock["password"] == password
    assert f"{lock['url']}:{lock['port']}" in redis_url
    assert endpoints["tracker_store"]["type"] == "bot.tracker_store.GuichetTrackerStore"
    # Rasa's own lock store connects with it.
    from rasa.core.lock_store import RedisLockStore

    locks = RedisLockStore(host=lock["url"], port=lock["port"], db=lock["db"],
                           password=lock["password"])  # fmt: skip
    assert locks.red.ping()
    # Without REDIS_URL, the file is left alone.
    plain = ["run", "--endpoints", "endpoints.yml"]
    prepare(plain, dict(settings_with(tmp_path).values))
    assert plain[:3] == ["run", "--endpoints", "endpoints.yml"]
