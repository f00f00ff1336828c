"""The tracker store of the Rasa server: Rasa's SQL tracker store on a SQLite file, tuned.

endpoints.yml names it (`type: bot.tracker_store.SQLiteTrackerStore`). Same tables and
queries as Rasa's `SQLTrackerStore` (the transcript, statistics and purge code read them);
only the connection settings change, measured by `make bench` (docs/benchmarks.md):

- WAL journal with `synchronous=NORMAL`: a turn's commit no longer waits for two disk
  flushes, and readers (the mediators' console) never block the writer. A crash of the
  process loses nothing; a power cut may lose the last turns, not corrupt the file.
- one kept connection per thread, instead of a new connection for every query;
- reading and writing a conversation's events with two plain SQL statements (the same
  ones Rasa's ORM builds) instead of building ORM queries on every turn.

An erased conversation (`bot.transcript.delete_conversation`, the visitor pressed
« Effacer ») is never stored again and reads back as nothing: a turn still in flight when
the erase landed would otherwise save its tracker, and the conversation, back. The check is
one primary-key lookup per read, and part of the INSERT statement itself on write, so that
no erase can slip between the check and the write.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.transcript import BUSY_TIMEOUT_MS, TOMBSTONES_DDL, sender_hash

# Rasa's `_event_query`: a conversation's events since its latest session start (or all of
# them when it has none), in the order they were stored.
SESSION_START = (
    "SELECT MAX(timestamp) FROM events WHERE sender_id = ? AND type_name = "
    f"'{SessionStarted.type_name}'"
)
CURRENT_SESSION = (
    f"FROM events WHERE sender_id = ? AND (timestamp >= ({SESSION_START}) "
    f"OR ({SESSION_START}) IS NULL)"
)
READ_CURRENT = f"SELECT data {CURRENT_SESSION} ORDER BY id"
READ_ALL = "SELECT data FROM events WHERE sender_id = ? ORDER BY id"
COUNT_CURRENT = f"SELECT COUNT(*) {CURRENT_SESSION}"
ERASED = "SELECT 1 FROM erased_senders WHERE sender_hash = ?"
INSERT = (
    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
    "SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (" + ERASED + ")"
)


def _tune(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # busy_timeout first, so that the WAL switch waits for a concurrent writer (the web
    # app erasing a conversation) instead of failing with "database is locked".
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Space freed when SQLite moves rows between pages is zeroed too: an erased
    # conversation must not survive as stale bytes inside a page.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


class SQLiteTrackerStore(SQLTrackerStore):
    def __init__(
        self,
        domain: Domain | None = None,
        db: str = "rasa.db",
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        for ignored in ("dialect", "host", "port", "username", "password", "login_db", "query"):
            kwargs.pop(ignored, None)
        super().__init__(domain=domain, dialect="sqlite", db=db, event_broker=event_broker,
                         **kwargs)  # fmt: skip
        rasa_engine: sa.engine.Engine = self.engine  # type: ignore[has-type]
        rasa_engine.dispose()
        engine = sa.create_engine(rasa_engine.url, poolclass=sa.pool.SingletonThreadPool)
        sa.event.listen(engine, "connect", _tune)
        self.engine = engine
        self.sessionmaker = sa.orm.session.sessionmaker(bind=engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(TOMBSTONES_DDL)

    @staticmethod
    def _erased(conn: Any, digest: str) -> bool:
        return conn.exec_driver_sql(ERASED, (digest,)).first() is not None

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        sql, params = (
            (READ_ALL, (sender_id,))
            if fetch_events_from_all_sessions
            else (READ_CURRENT, (sender_id, sender_id, sender_id))
        )
        with self.engine.connect() as conn:
            if self._erased(conn, sender_hash(sender_id)):
                return None
            rows = conn.exec_driver_sql(sql, params).fetchall()
        events = [json.loads(row[0]) for row in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        sender = tracker.sender_id
        erased = sender_hash(sender)
        with self.engine.connect() as conn:
            if self._erased(conn, erased):
                return
        await self.stream_events(tracker)
        with self.engine.begin() as conn:
            stored = conn.exec_driver_sql(COUNT_CURRENT, (sender, sender, sender)).scalar()
            rows = []
            for event in itertools.islice(tracker.events, int(stored or 0), None):
                data = event.as_dict()
                intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
                rows.append((sender, event.type_name, data.get("timestamp"), intent,
                             data.get("name"), json.dumps(data), erased))  # fmt: skip
            if rows:
                conn.exec_driver_sql(INSERT, rows)
