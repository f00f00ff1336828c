"""The tracker store of the Rasa server: where conversations live while they go on.

endpoints.yml names `GuichetTrackerStore`, which is, by settings:

- `SQLiteTrackerStore` (REDIS_URL none, the default): Rasa's SQL tracker store on a SQLite
  file, tuned. Same tables and queries as Rasa's `SQLTrackerStore` (bot.conversations reads
  them); only the connection settings change, measured by `make bench`
  (docs/benchmarks.md): WAL journal with `synchronous=NORMAL` (a turn's commit no longer
  waits for two disk flushes, readers never block the writer; a crash of the process loses
  nothing, a power cut may lose the last turns, not corrupt the file), one kept connection
  per thread, and a conversation's events read and written with two plain SQL statements
  (the ones Rasa's ORM builds) instead of ORM queries built on every turn.
- `RedisEventsTrackerStore` (REDIS_URL set): one Redis list per conversation
  (`guichet:conversation:<sender>`, one JSON event per item, only the new events appended at
  each save) that expires CONVERSATION_EXPIRY_MINUTES after its last turn. Redis runs
  without persistence, so conversations never reach a disk, and several Rasa processes on
  several machines share them.

An erased conversation (`bot.conversations`, the visitor pressed « Effacer ») is never stored
again and reads back as nothing: a turn still in flight when the erase landed would
otherwise save its tracker, and the conversation, back. The check is part of the write
itself (the INSERT's `WHERE NOT EXISTS`, or the Lua script that appends to the Redis list),
so that no erase can slip between the check and the write.

Both append the new events' anonymous rows to the activity log (`bot.activity`), which the
statistics read; a failure there is logged and never costs the visitor a turn.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import sqlite3
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.activity import ActivityStore, activity_rows
from bot.conversations import (
    BUSY_TIMEOUT_MS,
    SESSION_STARTED_PREFIX,
    TOMBSTONES_DDL,
    RedisConversations,
    event_json,
    redis_client,
    sender_hash,
)

log = logging.getLogger(__name__)

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


async def record_activity(
    activity: ActivityStore | None, sender: str, events: list[dict[str, Any]]
) -> None:
    """Append the anonymous rows of `events` to the activity log, off the event loop (a
    SQLite commit waits for the disk). The conversation's lock is held until the save
    returns, so a conversation's rows keep their order."""
    if activity is None or not events:
        return
    rows = activity_rows(sender, events)
    if not rows:
        return
    try:
        await asyncio.to_thread(activity.record, rows)
    except sqlite3.Error as exc:
        # The statistics lose these rows; the visitor loses nothing.
        log.warning("activity log not written: %s", type(exc).__name__)


class SQLiteTrackerStore(SQLTrackerStore):
    def __init__(
        self,
        domain: Domain | None = None,
        db: str = "rasa.db",
        event_broker: EventBroker | None = None,
        activity: ActivityStore | None = None,
        **kwargs: Any,
    ) -> None:
        self.activity = activity
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
            rows, new = [], []
            for event in itertools.islice(tracker.events, int(stored or 0), None):
                data = event.as_dict()
                new.append(data)
                intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
                rows.append((sender, event.type_name, data.get("timestamp"), intent,
                             data.get("name"), json.dumps(data), erased))  # fmt: skip
            written = conn.exec_driver_sql(INSERT, rows).rowcount if rows else 0
        if written:
            await record_activity(self.activity, sender, new)


# KEYS: conversation. Returns {length, events of the current session}: the session starts
# at the last `session_started` event, as in Rasa's SQL tracker store.
COUNT_LUA = """
local all = redis.call('LRANGE', KEYS[1], 0, -1)
local n = #all
for i = n, 1, -1 do
  if string.sub(all[i], 1, #ARGV[1]) == ARGV[1] then return {n, n - i + 1} end
end
return {n, n}
"""

# KEYS: conversation, tombstone. ARGV: expiry (s), the length the list had when the new
# events were chosen, then the new events. -1: erased, nothing written; -2: the list changed
# meanwhile (another save), choose again; else the new length.
APPEND_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[2]) then return -2 end
local n = tonumber(ARGV[2])
for i = 3, #ARGV do n = redis.call('RPUSH', KEYS[1], ARGV[i]) end
if n > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
SAVE_ATTEMPTS = 5
ACTIVITY_RETRY_BUDGET = 1.0


class RedisEventsTrackerStore(TrackerStore):
    """Conversations in Redis: one list of JSON events per conversation, with an expiry."""

    def __init__(
        self,
        domain: Domain | None = None,
        event_broker: EventBroker | None = None,
        *,
        url: str,
        expiry_minutes: int,
        activity: ActivityStore | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker)
        self.conversations = RedisConversations(url, expiry_minutes, client=redis_client(url))
        self.red = self.conversations.client
        self.activity = activity
        self._count = self.red.register_script(COUNT_LUA)
        self._append = self.red.register_script(APPEND_LUA)

    async def _retrieve(self, sender_id: str, all_sessions: bool) -> DialogueStateTracker | None:
        events = self.conversations.read(sender_id)
        if not all_sessions:
            starts = [i for i, e in enumerate(events) if e.get("event") == SessionStarted.type_name]
            if starts:
                events = events[starts[-1] :]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._retrieve(sender_id, False)

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._retrieve(sender_id, True)

    async def keys(self) -> list[str]:
        found = self.red.scan_iter(match=RedisConversations.key("*"), count=500)
        prefix = len(RedisConversations.key(""))
        return [bytes(k)[prefix:].decode("utf-8", "surrogateescape") for k in found]

    async def save(self, tracker: DialogueStateTracker) -> None:
        sender = tracker.sender_id
        # The append below refuses an erased conversation by itself; an event broker must
        # not be sent its events either.
        if self.event_broker is not None and self.conversations.is_erased(sender):
            return
        await self.stream_events(tracker)
        keys = [RedisConversations.key(sender), RedisConversations.erased_key(sender)]
        for _ in range(SAVE_ATTEMPTS):
            length, stored = self._count(keys=keys[:1], args=[SESSION_STARTED_PREFIX])
            new = [e.as_dict() for e in itertools.islice(tracker.events, int(stored), None)]
            result = int(self._append(keys=keys, args=[
                self.conversations.expiry_seconds, int(length), *map(event_json, new)
            ]))  # fmt: skip
            if result == -1:
                return  # erased meanwhile: nothing written
            if result >= 0:
                await record_activity(self.activity, sender, new)
                return
        raise RuntimeError(f"the conversation changed {SAVE_ATTEMPTS} times during one save")


class GuichetTrackerStore(TrackerStore):
    """What endpoints.yml names: `SQLiteTrackerStore` on `db` when REDIS_URL is none,
    `RedisEventsTrackerStore` otherwise; both append to the activity log of the settings.

    Rasa builds the tracker store from a class; this one hands back the store the settings
    choose (settings come from the environment the server was started with)."""

    def __new__(
        cls,
        domain: Domain | None = None,
        event_broker: EventBroker | None = None,
        db: str | None = None,
        **kwargs: Any,
    ) -> Any:
        from bot.settings import Settings

        settings = Settings.from_env()
        # A turn waits for its activity rows: a database in trouble may cost it a second,
        # not the stores' usual five (the rows are then lost, the turn is not).
        activity = ActivityStore.open(settings, retry_budget=ACTIVITY_RETRY_BUDGET)
        for ignored in ("host", "url", "port", "username", "password", "dialect"):
            kwargs.pop(ignored, None)
        if settings.redis_url:
            return RedisEventsTrackerStore(
                domain,
                event_broker,
                url=settings.redis_url,
                expiry_minutes=settings.conversation_expiry_minutes,
                activity=activity,
            )
        return SQLiteTrackerStore(domain, db or str(settings.tracker_db), event_broker,
                                  activity=activity, **kwargs)  # fmt: skip
