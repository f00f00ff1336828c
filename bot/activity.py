"""The anonymous activity log: what the statistics need of each turn, and nothing else.

The tracker store appends a few rows for the new events of every turn it saves (whatever
the engine that holds the conversations), and `bot.stats` builds the activity report from
these rows alone, so that the report needs no kept conversation. A row holds:

- `at`: the event's time (epoch seconds);
- `conversation`: a hash of the sender id (`conversation_key`), never the id;
- `kind`: `user` (a visitor's message), `bot` (a reply carrying a route marker) or `slot`;
- `data` (JSON), reduced to what the report reads: the channel of a visitor's message
  (kiosk, widget or other); the `fallback`, `guide`, `step` and `completed` of a reply's
  marker; the name and value of the `guide_feedback` and `guide_id` slots.

No text a visitor typed, no contact detail, no sender id in clear: « Effacer » and the
conversation purge have nothing to remove here. The rows go after
CONVERSATION_RETENTION_DAYS (`bot.tickets.purge_all`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from bot.sqlite_store import Migration, SQLiteStore, location, utcnow

if TYPE_CHECKING:
    from bot.settings import Settings

CHANNELS: tuple[str, ...] = ("kiosk", "widget", "other")
MARKER_KEYS: tuple[str, ...] = ("fallback", "guide", "step", "completed")
# Slots whose values are catalogue ids or fixed answers, never visitor text.
SLOTS: dict[str, tuple[Any, ...] | None] = {
    "guide_feedback": ("yes", "no", None),
    "guide_id": None,  # a guide id, or None when the visitor leaves the guide
}


def conversation_key(sender_id: str) -> str:
    """How the log names a conversation: a hash of its sender id (another one than the erase
    tombstones use, so the two cannot be joined), 128 bits."""
    data = sender_id.encode("utf-8", "surrogatepass")
    return hashlib.sha256(b"guichet-activity:" + data).hexdigest()[:32]


def _epoch(moment: datetime | float) -> float:
    if isinstance(moment, (int, float)):
        return float(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@dataclass(frozen=True)
class ActivityRow:
    at: float
    conversation: str
    kind: str
    data: dict[str, Any]


def _guide_id(value: Any) -> bool:
    # Guide ids are "domain.name" made of letters, digits, dots, dashes and underscores.
    return (
        isinstance(value, str)
        and 0 < len(value) <= 80
        and value.replace(".", "").replace("_", "").replace("-", "").isalnum()
    )


def _row(conversation: str, event: dict[str, Any]) -> ActivityRow | None:
    kind = event.get("event")
    at = event.get("timestamp")
    if not isinstance(at, (int, float)):
        return None
    if kind == "user":
        channel = (event.get("metadata") or {}).get("channel")
        return ActivityRow(float(at), conversation, "user",
                           {"channel": channel if channel in CHANNELS else "other"})  # fmt: skip
    if kind == "bot":
        custom = (event.get("data") or {}).get("custom")
        if not isinstance(custom, dict):
            return None
        kept: dict[str, Any] = {}
        if "fallback" in custom:
            fallback = custom["fallback"]
            kept["fallback"] = fallback if _guide_id(fallback) else True
        if _guide_id(custom.get("guide")):
            kept["guide"] = custom["guide"]
            step = custom.get("step")
            kept["step"] = step if isinstance(step, int) and not isinstance(step, bool) else None
            kept["completed"] = custom.get("completed") is True
        return ActivityRow(float(at), conversation, "bot", kept) if kept else None
    if kind == "slot":
        name, value = event.get("name"), event.get("value")
        if name not in SLOTS:
            return None
        allowed = SLOTS[name]
        if allowed is not None and value not in allowed:
            return None
        if allowed is None and value is not None and not _guide_id(value):
            return None
        return ActivityRow(float(at), conversation, "slot", {"name": name, "value": value})
    return None


def activity_rows(sender_id: str, events: Iterable[dict[str, Any]]) -> list[ActivityRow]:
    """The log's rows for these events of one conversation (Rasa's event dicts)."""
    conversation = conversation_key(sender_id)
    return [row for event in events if (row := _row(conversation, event)) is not None]


def _create_activity(db: Any) -> None:
    # DOUBLE PRECISION, not REAL: PostgreSQL's REAL is 4 bytes, which rounds an epoch time to
    # about two minutes. SQLite reads both as its REAL (8 bytes).
    db.execute(
        f"CREATE TABLE activity (id {db.pk}, at DOUBLE PRECISION NOT NULL,"
        " conversation TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX activity_at ON activity (at)")


class ActivityStore(SQLiteStore):
    """The activity log: DATA_DIR/activity.db, or the `activity` schema of DATABASE_URL."""

    pg_schema = "activity"

    def __init__(self, path: Any, *, clock: Any = utcnow, **kwargs: Any) -> None:
        super().__init__(path, clock=clock, **kwargs)

    def migrations(self) -> Sequence[Migration]:
        return [_create_activity]

    @classmethod
    def open(
        cls, settings: Settings | None = None, *, retry_budget: float | None = None
    ) -> ActivityStore:
        """The log the settings choose, creating DATA_DIR when missing."""
        from bot.settings import get_settings

        settings = settings or get_settings()
        return cls(location(settings, settings.data_dir / "activity.db"), retry_budget=retry_budget)

    def record(self, rows: Iterable[ActivityRow]) -> int:
        """Append `rows`, in their order, in one transaction; how many."""
        values = [(r.at, r.conversation, r.kind, json.dumps(r.data)) for r in rows]
        if not values:
            return 0

        def work(db: Any) -> None:
            for value in values:
                db.execute(
                    "INSERT INTO activity (at, conversation, kind, data) VALUES (?, ?, ?, ?)",
                    value,
                )

        self._transact(work)
        return len(values)

    def read(self, start: datetime | float, end: datetime | float) -> list[ActivityRow]:
        """The rows of [start, end), in the order they were written."""
        with self._read() as db:
            found = list(
                db.query(
                    "SELECT at, conversation, kind, data FROM activity"
                    " WHERE at >= ? AND at < ? ORDER BY id",
                    [_epoch(start), _epoch(end)],
                )
            )
        rows = []
        for row in found:
            try:
                data = json.loads(row["data"] or "{}")
            except json.JSONDecodeError:
                continue  # one damaged row must not stop the report
            if isinstance(data, dict):
                rows.append(ActivityRow(float(row["at"]), row["conversation"], row["kind"], data))
        return rows

    def purge(self, older_than: datetime | float) -> int:
        """Delete the rows older than `older_than`; how many."""
        cutoff = _epoch(older_than)
        deleted = self._transact(
            lambda db: db.execute("DELETE FROM activity WHERE at < ?", [cutoff]).rowcount
        )
        return int(deleted or 0)
