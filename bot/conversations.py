"""Where conversations live, and how they are read back, erased and purged.

Two engines, chosen by settings (`open_conversations`):

- `SQLiteConversations`: the embedded default, Rasa's `events` table in DATA_DIR/tracker.db
  (written by `bot.tracker_store.SQLiteTrackerStore`). Erasing overwrites the rows
  (`secure_delete`) and empties the write-ahead log, so no byte of them is left on disk.
- `RedisConversations` (REDIS_URL set): one Redis list per conversation,
  `guichet:conversation:<sender>`, one JSON event per item, with an expiry of
  CONVERSATION_EXPIRY_MINUTES refreshed at every turn. Redis runs without persistence
  (`save ""`, `appendonly no`): a conversation never reaches a disk, so deleting the key
  leaves nothing anywhere. PostgreSQL was not chosen for conversations because a deleted
  row stays in its table files, WAL and backups.

Erasing a conversation (« Effacer ») also leaves a tombstone keyed by a hash of the sender
id, in the same transaction, so that a turn still in flight saves nothing afterwards: the
tracker store refuses to write while the tombstone exists (a SQL `WHERE NOT EXISTS`, or a
Lua script in Redis).

No Rasa import here: the web app, the action server and the command line use this module.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.settings import Settings

BUSY_TIMEOUT_MS = 5000

# Erased conversations, so that a turn still in flight when the visitor pressed « Effacer »
# cannot save the conversation back (the tracker store checks it on every read and write).
# It holds a hash of the sender id, not the id, and goes after the conversation retention.
TOMBSTONES_DDL = (
    "CREATE TABLE IF NOT EXISTS erased_senders"
    " (sender_hash TEXT PRIMARY KEY, erased_at REAL NOT NULL) WITHOUT ROWID"
)

# Redis keys. The conversation key holds the sender id as it is (Redis keys are binary
# safe); the tombstone only a hash of it.
CONVERSATION_KEY = "guichet:conversation:"
ERASED_KEY = "guichet:erased:"
# Every event is stored as `{"event": <type>, ...}`, type first, so that Lua finds session
# starts with a prefix test instead of decoding JSON.
SESSION_STARTED_PREFIX = '{"event": "session_started"'


def sender_hash(sender_id: str) -> str:
    """How an erased conversation is remembered: a SHA-256 of its sender id."""
    data = sender_id.encode("utf-8", "surrogatepass")
    return hashlib.sha256(b"guichet-erased:" + data).hexdigest()


def event_json(event: dict[str, Any]) -> str:
    """One event as Redis stores it: its type first (see SESSION_STARTED_PREFIX)."""
    ordered = {"event": event.get("event"), **{k: v for k, v in event.items() if k != "event"}}
    return json.dumps(ordered)


def _epoch(moment: datetime) -> float:
    # Rasa stores Unix timestamps; a naive datetime is taken as UTC.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _decode(raw: str | bytes | None) -> dict[str, Any] | None:
    try:
        data = json.loads(raw or "{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # one damaged event must not hide the rest of the conversation
    return data if isinstance(data, dict) else None


class Conversations(Protocol):
    """What the web app, the actions and the purge need of the conversations' store."""

    def read(self, sender: str) -> list[dict[str, Any]]:
        """Every event of one conversation (all sessions) as Rasa's dicts, in stored order;
        [] when there is none."""
        ...

    def delete(self, sender: str) -> int:
        """Erase one conversation and leave its tombstone, atomically; how many events went."""
        ...

    def is_erased(self, sender: str) -> bool:
        """Whether this conversation was erased (and its tombstone still holds)."""
        ...

    def purge(self, keep: set[str], older_than: datetime) -> int:
        """Delete the conversations not in `keep` whose last event is older than
        `older_than` (and the tombstones of erases before then); how many went."""
        ...


# --- SQLite ---------------------------------------------------------------------------------


class SQLiteConversations:
    """Rasa's `events` table in the tracker store's SQLite file, read and changed directly."""

    def __init__(self, tracker_db: Path | str) -> None:
        self.path = Path(tracker_db)

    def _connect(self, mode: str) -> sqlite3.Connection:
        # A URI with mode=ro/rw never creates a missing file, unlike a plain connect().
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode={mode}", uri=True)
        # Rasa writes to this file while we read or purge; wait for it rather than fail.
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return conn

    @staticmethod
    def _has_events_table(conn: sqlite3.Connection) -> bool:
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
        ).fetchone()
        return row is not None

    def read(self, sender: str) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with closing(self._connect("ro")) as conn:
            if not self._has_events_table(conn):
                return []
            rows = conn.execute(
                "SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender,)
            ).fetchall()
        return [event for (raw,) in rows if (event := _decode(raw)) is not None]

    @contextmanager
    def _writable(self) -> Iterator[sqlite3.Connection | None]:
        """A connection to change the tracker store, or None when there is no file yet."""
        if not self.path.exists():
            yield None
            return
        with closing(self._connect("rw")) as conn:
            # Deleted conversations leave no bytes behind: freed pages are zeroed, and the
            # write-ahead log (the tracker store runs in WAL mode) is emptied afterwards.
            conn.execute("PRAGMA secure_delete=ON")
            yield conn
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def delete(self, sender: str) -> int:
        with self._writable() as conn:
            if conn is None:
                return 0
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(TOMBSTONES_DDL)
                conn.execute(
                    "INSERT OR REPLACE INTO erased_senders (sender_hash, erased_at) VALUES (?, ?)",
                    (sender_hash(sender), time.time()),
                )
                if not self._has_events_table(conn):
                    return 0
                cursor = conn.execute("DELETE FROM events WHERE sender_id = ?", (sender,))
            return int(cursor.rowcount)

    def is_erased(self, sender: str) -> bool:
        if not self.path.exists():
            return False
        with closing(self._connect("ro")) as conn:
            try:
                row = conn.execute(
                    "SELECT 1 FROM erased_senders WHERE sender_hash = ?", (sender_hash(sender),)
                ).fetchone()
            except sqlite3.OperationalError:
                return False  # no table yet: nothing was ever erased
        return row is not None

    def purge(self, keep: set[str], older_than: datetime) -> int:
        cutoff = _epoch(older_than)
        with self._writable() as conn:
            if conn is None:
                return 0
            with conn:
                # Take the write lock before reading, so no event can land between the
                # choice of conversations and their deletion.
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(TOMBSTONES_DDL)
                conn.execute("DELETE FROM erased_senders WHERE erased_at < ?", (cutoff,))
                if not self._has_events_table(conn):
                    return 0
                stale = [
                    sender
                    for (sender,) in conn.execute(
                        "SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < ?",
                        (cutoff,),
                    )
                    if sender not in keep
                ]
                conn.executemany("DELETE FROM events WHERE sender_id = ?", [(s,) for s in stale])
        return len(stale)


# --- Redis ----------------------------------------------------------------------------------

# KEYS: conversation, tombstone. ARGV: tombstone expiry (s). Both in one script, so that no
# save can land between them.
ERASE_LUA = """
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
"""

# KEYS: conversation. ARGV: cutoff (epoch s). Deletes the conversation when its last event
# is older than the cutoff, checked and done at once (a new turn may just have landed).
PURGE_LUA = """
local last = redis.call('LINDEX', KEYS[1], -1)
if not last then return 0 end
local ok, event = pcall(cjson.decode, last)
local at = ok and type(event) == 'table' and tonumber(event['timestamp']) or nil
if at ~= nil and at >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""


# One client (and its connection pool) per URL and process: the web app erases on many
# requests, and redis-py's pool reconnects by itself after a fork or a Redis restart.
_CLIENTS: dict[str, Any] = {}


def redis_client(url: str) -> Any:
    """The client of the Redis at `url` (bytes in and out; the password stays in the URL)."""
    client = _CLIENTS.get(url)
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        _CLIENTS[url] = client
    return client


class RedisConversations:
    """Conversations in Redis, one list of JSON events per conversation (no persistence)."""

    def __init__(self, url: str, expiry_minutes: int, *, client: Any = None) -> None:
        self.url = url
        self.expiry_seconds = max(1, int(expiry_minutes) * 60)
        self.client = client if client is not None else redis_client(url)
        self._erase = self.client.register_script(ERASE_LUA)
        self._purge = self.client.register_script(PURGE_LUA)

    @staticmethod
    def key(sender: str) -> str:
        return CONVERSATION_KEY + sender

    @staticmethod
    def erased_key(sender: str) -> str:
        return ERASED_KEY + sender_hash(sender)

    def read(self, sender: str) -> list[dict[str, Any]]:
        raw = self.client.lrange(self.key(sender), 0, -1)
        return [event for item in raw if (event := _decode(item)) is not None]

    def delete(self, sender: str) -> int:
        # A tombstone lives as long as a conversation key could: any turn in flight when
        # the visitor erased is long over when it expires.
        keys = [self.key(sender), self.erased_key(sender)]
        return int(self._erase(keys=keys, args=[self.expiry_seconds]))

    def is_erased(self, sender: str) -> bool:
        return bool(self.client.exists(self.erased_key(sender)))

    def purge(self, keep: set[str], older_than: datetime) -> int:
        """Conversations expire by themselves after CONVERSATION_EXPIRY_MINUTES without a
        turn; this removes those that a longer expiry would keep past the retention.
        Tombstones expire by themselves."""
        cutoff = _epoch(older_than)
        deleted = 0
        prefix = CONVERSATION_KEY.encode()
        for key in self.client.scan_iter(match=CONVERSATION_KEY + "*", count=500):
            sender = bytes(key)[len(prefix) :].decode("utf-8", "surrogateescape")
            if sender in keep:
                continue
            deleted += int(self._purge(keys=[key], args=[cutoff]))
        return deleted


def open_conversations(settings: Settings) -> Conversations:
    """The conversations' store the settings choose: Redis when REDIS_URL is set, else the
    tracker store's SQLite file."""
    if settings.redis_url:
        return RedisConversations(settings.redis_url, settings.conversation_expiry_minutes)
    return SQLiteConversations(settings.tracker_db)
