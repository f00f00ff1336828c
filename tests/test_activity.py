"""The anonymous activity log: what it keeps of each event, and its store on both engines."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.activity import ActivityRow, ActivityStore, activity_rows, conversation_key
from bot.settings import Settings

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc).timestamp()
SENTENCE = "je suis zoe martin, 06 12 34 56 78, mon voisin me harcele"


def events() -> list[dict]:
    """One turn of each kind the statistics read, and others they do not."""
    return [
        {"event": "action", "timestamp": T0, "name": "action_listen"},
        {
            "event": "user",
            "timestamp": T0 + 1,
            "text": SENTENCE,
            "parse_data": {"intent": {"name": "ask_human", "confidence": 0.9}, "entities": []},
            "metadata": {"channel": "kiosk", "kiosk": "Borne de Zoé", "language": "fr"},
        },
        {
            "event": "bot",
            "timestamp": T0 + 2,
            "text": "Étape 1 : ouvrez impots.gouv.fr",
            "data": {"custom": {"guide": "impots.paiement", "step": 1, "steps": 4}},
        },
        {
            "event": "bot",
            "timestamp": T0 + 3,
            "text": "Je n'ai pas compris",
            "data": {"custom": {"fallback": "not_understood"}},
        },
        {"event": "bot", "timestamp": T0 + 4, "text": "Bonjour !", "data": {"custom": None}},
        {
            "event": "bot",
            "timestamp": T0 + 5,
            "data": {"custom": {"guide": "impots.paiement", "step": 4, "completed": True}},
        },
        {"event": "slot", "timestamp": T0 + 6, "name": "guide_feedback", "value": "yes"},
        {"event": "slot", "timestamp": T0 + 7, "name": "guide_id", "value": None},
        {"event": "slot", "timestamp": T0 + 8, "name": "handoff_problem", "value": SENTENCE},
        {"event": "slot", "timestamp": T0 + 9, "name": "guide_id", "value": SENTENCE},
        {"event": "user", "timestamp": T0 + 10, "text": "salut", "metadata": {"channel": "x<>"}},
    ]


def test_rows_keep_only_what_the_statistics_read():
    rows = activity_rows("visitor-zoe-123", events())
    key = conversation_key("visitor-zoe-123")
    assert rows == [
        ActivityRow(T0 + 1, key, "user", {"channel": "kiosk"}),
        ActivityRow(
            T0 + 2, key, "bot", {"guide": "impots.paiement", "step": 1, "completed": False}
        ),
        ActivityRow(T0 + 3, key, "bot", {"fallback": "not_understood"}),
        ActivityRow(T0 + 5, key, "bot", {"guide": "impots.paiement", "step": 4, "completed": True}),
        ActivityRow(T0 + 6, key, "slot", {"name": "guide_feedback", "value": "yes"}),
        ActivityRow(T0 + 7, key, "slot", {"name": "guide_id", "value": None}),
        ActivityRow(T0 + 10, key, "user", {"channel": "other"}),
    ]
    text = json.dumps([r.data for r in rows]) + key
    for secret in ("zoe", "Zoé", "06 12", "voisin", "Borne", "visitor"):
        assert secret not in text


def test_the_conversation_key_is_a_hash_of_its_own():
    from bot.conversations import sender_hash

    key = conversation_key("visitor-1")
    assert len(key) == 32 and key != conversation_key("visitor-2")
    assert key == conversation_key("visitor-1")
    assert key not in sender_hash("visitor-1")  # the erase tombstones cannot be joined


def test_record_read_purge(database):
    with ActivityStore(database("activity")) as log:
        rows = activity_rows("v1", events()) + activity_rows("v2", events()[:3])
        assert log.record(rows) == len(rows)
        assert log.record([]) == 0
        everything = log.read(T0 - 1, T0 + 100)
        assert everything == rows  # in the order written
        assert log.read(T0 + 2, T0 + 3) == [r for r in rows if r.at == T0 + 2]
        start = datetime.fromtimestamp(T0 + 5, timezone.utc)
        assert [r.at for r in log.read(start, start + timedelta(seconds=2))] == [T0 + 5, T0 + 6]
        older = [r for r in rows if r.at < T0 + 3]
        assert len(older) == 4  # two rows of each conversation
        assert log.purge(datetime.fromtimestamp(T0 + 3, timezone.utc)) == len(older)
        assert log.read(T0 - 1, T0 + 100) == [r for r in rows if r.at >= T0 + 3]
        assert log.purge(T0 + 1000) == len(rows) - len(older)
        assert log.read(T0 - 1, T0 + 100) == []


def test_open_follows_the_settings(tmp_path: Path, database):
    location = database("activity")
    values = Settings.from_env().values | {"DATA_DIR": str(tmp_path / "var")}
    if isinstance(location, str):
        values["DATABASE_URL"] = location
    with ActivityStore.open(Settings(values)) as log:
        log.record(activity_rows("v1", events()))
        assert log.dialect == ("sqlite" if isinstance(location, Path) else "postgresql")
    assert (tmp_path / "var" / "activity.db").exists() == isinstance(location, Path)


def test_sqlite_file_is_owner_only(tmp_path: Path):
    """SQLite only: the file's mode (PostgreSQL keeps its files in its own folder)."""
    with ActivityStore(tmp_path / "activity.db") as log:
        log.record(activity_rows("v1", events()))
    assert (tmp_path / "activity.db").stat().st_mode & 0o077 == 0
