"""Guichet's SQLite tracker store stores and reads back exactly what Rasa's SQL store does."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conversations import SQLiteConversations
from bot.settings import ROOT
from bot.tracker_store import SQLiteTrackerStore


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def conversation(sender: str) -> list[list]:
    """Three saves: a first session, more turns, then a new session."""
    user = UserUttered(
        "je dois declarer mes impots",
        {"name": "impots.declarer", "confidence": 0.9},
        timestamp=10.0,
        metadata={"channel": "kiosk"},
    )
    return [
        [
            ActionExecuted("action_session_start", timestamp=1.0),
            SessionStarted(timestamp=2.0),
            ActionExecuted("action_listen", timestamp=3.0),
            user,
            ActionExecuted("action_start_guide", timestamp=11.0),
            BotUttered("Étape 1", {"custom": {"guide": "impots.declarer"}}, timestamp=12.0),
            SlotSet("guide_id", "impots.declarer", timestamp=12.5),
        ],
        [
            ActionExecuted("action_listen", timestamp=13.0),
            UserUttered("/next_step", {"name": "next_step", "confidence": 1.0}, timestamp=20.0),
            ActionExecuted("action_step_command", timestamp=21.0),
            SlotSet("guide_step", 2.0, timestamp=21.5),
        ],
        [
            ActionExecuted("action_session_start", timestamp=100.0),
            SessionStarted(timestamp=101.0),
            ActionExecuted("action_listen", timestamp=102.0),
            UserUttered("bonjour", {"name": "greet", "confidence": 0.99}, timestamp=110.0),
        ],
    ]


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
            "FROM events ORDER BY id"
        ).fetchall()


def test_same_rows_and_same_trackers_as_rasa(tmp_path: Path, domain: Domain) -> None:
    ours = SQLiteTrackerStore(domain=domain, db=str(tmp_path / "ours.db"))
    rasa = SQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "rasa.db"))

    async def play(store: SQLTrackerStore) -> list[DialogueStateTracker | None]:
        seen = []
        for sender in ("visitor-a", "visitor-b"):
            tracker = DialogueStateTracker(sender, domain.slots)
            for events in conversation(sender):
                for event in events:
                    tracker.update(event)
                await store.save(tracker)
                seen.append(await store.retrieve(sender))
            seen.append(await store.retrieve_full_tracker(sender))
        seen.append(await store.retrieve("nobody"))
        return seen

    ours_seen = asyncio.run(play(ours))
    rasa_seen = asyncio.run(play(rasa))

    assert rows(tmp_path / "ours.db") == rows(tmp_path / "rasa.db")
    assert len(rows(tmp_path / "ours.db")) >= 2 * 15
    assert ours_seen[-1] is None and rasa_seen[-1] is None
    for mine, theirs in zip(ours_seen[:-1], rasa_seen[:-1], strict=True):
        assert mine is not None and theirs is not None
        assert list(mine.events) == list(theirs.events)
        assert mine.current_slot_values() == theirs.current_slot_values()
    # After the second session start, only that session is read back; the full tracker
    # still has everything.
    assert ours_seen[2] is not None and ours_seen[3] is not None
    assert 0 < len(ours_seen[2].events) < len(ours_seen[3].events)
    assert len(ours_seen[3].events) >= 15


def test_wal_journal(tmp_path: Path, domain: Domain) -> None:
    store = SQLiteTrackerStore(domain=domain, db=str(tmp_path / "t.db"))
    tracker = DialogueStateTracker("visitor", domain.slots)
    tracker.update(ActionExecuted("action_listen", timestamp=1.0))
    asyncio.run(store.save(tracker))
    with sqlite3.connect(tmp_path / "t.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_erased_conversation_leaves_no_bytes_in_any_file(tmp_path: Path, domain: Domain) -> None:

    db = tmp_path / "tracker.db"
    store = SQLiteTrackerStore(domain=domain, db=str(db))
    secret_text = "ma voisine zoe habite au 12 rue des Lilas"

    async def chat() -> None:
        for sender, text in (("leaving", secret_text), ("staying", "bonjour")):
            tracker = DialogueStateTracker(sender, domain.slots)
            tracker.update(ActionExecuted("action_listen", timestamp=1.0))
            tracker.update(UserUttered(text, {"name": "greet", "confidence": 0.9}, timestamp=2.0))
            await store.save(tracker)

    asyncio.run(chat())

    def anywhere() -> bool:
        return any(secret_text.encode() in p.read_bytes() for p in tmp_path.iterdir())

    assert anywhere()  # the check can see the text where it is
    assert SQLiteConversations(db).delete("leaving") == 2
    assert not anywhere()
    assert asyncio.run(store.retrieve("leaving")) is None
    kept = asyncio.run(store.retrieve("staying"))
    assert kept is not None and kept.latest_message is not None
    assert kept.latest_message.text == "bonjour"


def late_save(store: SQLiteTrackerStore, domain: Domain, sender: str, text: str) -> None:
    """What Rasa does at the end of a turn: save the whole tracker, this turn included."""
    tracker = DialogueStateTracker(sender, domain.slots)
    for event in conversation(sender)[0]:
        tracker.update(event)
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 0.9}, timestamp=30.0))
    tracker.update(BotUttered("Bonjour !", timestamp=31.0))
    asyncio.run(store.save(tracker))


def test_a_turn_saved_after_the_erase_stores_nothing(tmp_path: Path, domain: Domain) -> None:

    db = tmp_path / "tracker.db"
    store = SQLiteTrackerStore(domain=domain, db=str(db))
    late_save(store, domain, "visitor-x", "premier message")
    assert SQLiteConversations(db).delete("visitor-x") > 0
    assert SQLiteConversations(db).is_erased("visitor-x") and not SQLiteConversations(db).is_erased(
        "visitor-y"
    )
    # The turn that was in flight when the visitor pressed « Effacer » now saves.
    late_save(store, domain, "visitor-x", "un message tardif de zoe")
    assert [r for r in rows(db) if r[0] == "visitor-x"] == []
    assert asyncio.run(store.retrieve("visitor-x")) is None
    assert asyncio.run(store.retrieve_full_tracker("visitor-x")) is None
    # Other conversations are untouched, and the mark holds a hash, never the sender id.
    late_save(store, domain, "visitor-y", "bonjour")
    assert {r[0] for r in rows(db)} == {"visitor-y"}
    for path in tmp_path.iterdir():
        content = path.read_bytes()
        assert b"visitor-x" not in content and b"tardif" not in content, path.name


def test_the_write_itself_checks_the_erase(tmp_path: Path, domain: Domain, monkeypatch) -> None:
    """The erase lands after the save's first check and before its INSERT: still nothing."""

    db = tmp_path / "tracker.db"
    store = SQLiteTrackerStore(domain=domain, db=str(db))
    late_save(store, domain, "visitor-x", "premier message")
    real_stream = store.stream_events

    async def erase_meanwhile(tracker: DialogueStateTracker) -> None:
        SQLiteConversations(db).delete(tracker.sender_id)
        await real_stream(tracker)

    monkeypatch.setattr(store, "stream_events", erase_meanwhile)
    late_save(store, domain, "visitor-x", "un message tardif")
    assert rows(db) == []


def test_erase_marks_go_with_the_retention_purge(tmp_path: Path, domain: Domain) -> None:
    from datetime import datetime, timedelta, timezone

    db = tmp_path / "tracker.db"
    store = SQLiteTrackerStore(domain=domain, db=str(db))
    late_save(store, domain, "visitor-x", "bonjour")
    SQLiteConversations(db).delete("visitor-x")
    now = datetime.now(timezone.utc)
    SQLiteConversations(db).purge(keep=set(), older_than=now - timedelta(days=30))
    assert SQLiteConversations(db).is_erased("visitor-x")  # erased just now: the mark stays
    SQLiteConversations(db).purge(keep=set(), older_than=now + timedelta(seconds=1))
    assert not SQLiteConversations(db).is_erased("visitor-x")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM erased_senders").fetchone()[0] == 0


def test_erasing_before_the_first_save_still_blocks_it(tmp_path: Path, domain: Domain) -> None:
    """The visitor's very first message is still in flight when the erase lands."""

    db = tmp_path / "tracker.db"
    store = SQLiteTrackerStore(domain=domain, db=str(db))
    assert SQLiteConversations(db).delete("visitor-new") == 0
    late_save(store, domain, "visitor-new", "mon premier message")
    assert rows(db) == []
