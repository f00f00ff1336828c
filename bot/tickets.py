"""Follow-up tickets: conversations the bot hands to a human mediator, kept in `tickets.db`
(or the `tickets` schema of PostgreSQL when DATABASE_URL is set: the same code, the same SQL).

`TicketStore` is the only code that writes to that database; `python -m bot.tickets` lists,
shows, exports and purges tickets from the command line.
"""

from __future__ import annotations

import argparse
import builtins
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

from bot.pending_contacts import RedisPendingContacts
from bot.settings import Settings, get_settings
from bot.spreadsheet import FrenchCsv, local_time
from bot.sqlite_store import Connect, Database, SQLiteStore, iso_utc, location, utcnow
from bot.transcript import REASON_LABELS, readable

STATUSES: tuple[str, ...] = (
    "nouveau",
    "en_cours",
    "a_rappeler",
    "injoignable",
    "resolu",
    "abandonne",
)
# The statuses of migrations 1 to 3, which the CHECK constraint of those databases allows.
_STATUSES_V1: tuple[str, ...] = ("nouveau", "en_cours", "resolu", "abandonne")
CLOSED_STATUSES: tuple[str, ...] = ("resolu", "abandonne")
CHANNELS: tuple[str, ...] = ("kiosk", "widget", "other")
REASONS: tuple[str, ...] = ("asked", "stuck", "not_understood", "not_covered")
CONTACT_PREFERENCES: tuple[str, ...] = ("desk", "phone", "email", "later")
ACTIONS: tuple[str, ...] = (
    "created",
    "status",
    "note",
    "assigned",
    "contact_erased",
    "export",
    "seen",
    "call",
)
# How a call-back attempt ended, as the mediator records it.
CALL_OUTCOMES: tuple[str, ...] = ("answered", "no_answer", "voicemail", "wrong_number")
CALL_OUTCOME_LABELS: dict[str, str] = {
    "answered": "a répondu",
    "no_answer": "pas de réponse",
    "voicemail": "messagerie",
    "wrong_number": "mauvais numéro",
}
MAX_NOTE_CHARS = 5000
# Who the audit trail names for a ticket's creation: the bot, on the visitor's behalf.
BOT_ACTOR = "guichet"

EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "updated_at",
    "status",
    "channel",
    "reason",
    "guide_id",
    "step",
    "steps",
    "contact_preference",
    "contact_detail",
    "visitor_sentence",
    "summary",
    "kiosk",
    "assigned_to",
    "next_call_at",
)

Clock = Callable[[], datetime]

# The incident kinds (bot.incidents) of the two hand-off limits.
LIMIT_CONVERSATION = "handoff_limit_conversation"
LIMIT_FLOOD = "handoff_flood"
FLOOD_WINDOW = timedelta(minutes=1)


class HandoffLimitReached(Exception):
    """A new ticket would pass a limit: `kind` is LIMIT_CONVERSATION or LIMIT_FLOOD."""

    def __init__(self, kind: str, count: int, limit: int) -> None:
        super().__init__(f"{kind}: {count} ticket(s), limit {limit}")
        self.kind = kind
        self.count = count
        self.limit = limit


@dataclass(frozen=True)
class HandoffLimits:
    """Most tickets per conversation (sender), and per minute across all visitors."""

    per_conversation: int
    per_minute: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HandoffLimits:
        return cls(settings.handoffs_per_conversation, settings.handoffs_per_minute)


# --- schema ---------------------------------------------------------------------------------


def _migration_1(db: Database) -> None:
    # Raw SQL because sqlite-utils' create_table cannot express CHECK constraints or
    # ON DELETE CASCADE. No CHECK on ticket_events.action: a new kind of audit event should
    # not need a table rebuild; `_event` validates it instead.
    # Ticket numbers are never given again (AUTOINCREMENT on SQLite, an identity column on
    # PostgreSQL); notes and events keep SQLite's plain rowid id.
    statements = (
        f"""CREATE TABLE tickets (
            id {db.pk},
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'nouveau' CHECK (status IN {_STATUSES_V1!r}),
            channel TEXT NOT NULL CHECK (channel IN {CHANNELS!r}),
            reason TEXT NOT NULL CHECK (reason IN {REASONS!r}),
            sender_id TEXT NOT NULL,
            guide_id TEXT,
            step INTEGER,
            steps INTEGER,
            contact_preference TEXT NOT NULL CHECK (contact_preference IN {CONTACT_PREFERENCES!r}),
            contact_detail TEXT,
            visitor_sentence TEXT,
            summary TEXT NOT NULL,
            transcript TEXT NOT NULL DEFAULT '[]',
            assigned_to TEXT,
            seen_at TEXT
        )""",
        f"""CREATE TABLE ticket_notes (
            id {db.rowid_pk},
            ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            author TEXT NOT NULL,
            text TEXT NOT NULL,
            internal INTEGER NOT NULL DEFAULT 1 CHECK (internal IN (0, 1))
        )""",
        f"""CREATE TABLE ticket_events (
            id {db.rowid_pk},
            ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT,
            detail TEXT
        )""",
        "CREATE INDEX idx_tickets_status ON tickets(status)",
        "CREATE INDEX idx_tickets_created_at ON tickets(created_at)",
        "CREATE INDEX idx_tickets_sender_id ON tickets(sender_id)",
        # Foreign-key columns are indexed so that the cascade on purge stays cheap.
        "CREATE INDEX idx_ticket_notes_ticket_id ON ticket_notes(ticket_id)",
        "CREATE INDEX idx_ticket_events_ticket_id ON ticket_events(ticket_id)",
    )
    for sql in statements:
        db.execute(sql)


def _migration_2(db: Database) -> None:
    # Contact details wait here, out of the conversation log, between the moment a visitor
    # types them and the moment the hand-off form stores them in a ticket (or drops them).
    db.execute(
        """CREATE TABLE pending_contacts (
            sender_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
            value TEXT NOT NULL,
            held_at TEXT NOT NULL
        )"""
    )


# Applied in order; the number already applied is kept by the base (`PRAGMA user_version`
# on SQLite, the schema_version table on PostgreSQL).
# A schema change is one more function appended here, never an edit of an applied one.
def _migration_3(db: Database) -> None:
    # Which kiosk a ticket comes from (its name as the kiosk page gives it), for the
    # console's « à l'accueil, maintenant » alert and the activity report by kiosk.
    db.execute("ALTER TABLE tickets ADD COLUMN kiosk TEXT")


def _call_attempts(db: Database) -> tuple[str, ...]:
    return (
        f"""CREATE TABLE call_attempts (
            id {db.rowid_pk},
            ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN {CALL_OUTCOMES!r}),
            note TEXT
        )""",
        "CREATE INDEX idx_call_attempts_ticket_id ON call_attempts(ticket_id)",
    )


def _migration_4(db: Database) -> None:
    # Call-back workflow: two more statuses (the CHECK constraint of `tickets` must change,
    # which SQLite can only do by rebuilding the table), the next call's date, and a log of
    # call attempts. Runs inside the migration's transaction: all of it or nothing.
    if db.dialect != "sqlite":
        # PostgreSQL changes a constraint in place; it named the column's CHECK itself.
        statements: tuple[str, ...] = (
            "ALTER TABLE tickets DROP CONSTRAINT tickets_status_check",
            f"ALTER TABLE tickets ADD CONSTRAINT tickets_status_check"
            f" CHECK (status IN {STATUSES!r})",
            "ALTER TABLE tickets ADD COLUMN next_call_at TEXT",
            *_call_attempts(db),
        )
        for sql in statements:
            db.execute(sql)
        return
    # Foreign keys are on and cannot be turned off inside a transaction, so dropping the old
    # `tickets` would cascade into notes and events. Notes and events are therefore rebuilt
    # too, pointing at the new table, before any old table is dropped; the renames then
    # rewrite their REFERENCES clauses to `tickets`.
    columns = (
        "id, created_at, updated_at, status, channel, reason, sender_id, guide_id, step, steps,"
        " contact_preference, contact_detail, visitor_sentence, summary, transcript,"
        " assigned_to, seen_at, kiosk"
    )
    sequence = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'tickets'").fetchone()
    statements = (
        f"""CREATE TABLE tickets_v4 (
            id {db.pk},
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'nouveau' CHECK (status IN {STATUSES!r}),
            channel TEXT NOT NULL CHECK (channel IN {CHANNELS!r}),
            reason TEXT NOT NULL CHECK (reason IN {REASONS!r}),
            sender_id TEXT NOT NULL,
            guide_id TEXT,
            step INTEGER,
            steps INTEGER,
            contact_preference TEXT NOT NULL CHECK (contact_preference IN {CONTACT_PREFERENCES!r}),
            contact_detail TEXT,
            visitor_sentence TEXT,
            summary TEXT NOT NULL,
            transcript TEXT NOT NULL DEFAULT '[]',
            assigned_to TEXT,
            seen_at TEXT,
            kiosk TEXT,
            next_call_at TEXT
        )""",
        f"INSERT INTO tickets_v4 ({columns}) SELECT {columns} FROM tickets",
        f"""CREATE TABLE ticket_notes_v4 (
            id {db.rowid_pk},
            ticket_id INTEGER NOT NULL REFERENCES tickets_v4(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            author TEXT NOT NULL,
            text TEXT NOT NULL,
            internal INTEGER NOT NULL DEFAULT 1 CHECK (internal IN (0, 1))
        )""",
        "INSERT INTO ticket_notes_v4 SELECT id, ticket_id, created_at, author, text, internal"
        " FROM ticket_notes",
        f"""CREATE TABLE ticket_events_v4 (
            id {db.rowid_pk},
            ticket_id INTEGER NOT NULL REFERENCES tickets_v4(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT,
            detail TEXT
        )""",
        "INSERT INTO ticket_events_v4 SELECT id, ticket_id, at, actor, action, from_status,"
        " to_status, detail FROM ticket_events",
        "DROP TABLE ticket_notes",
        "DROP TABLE ticket_events",
        "DROP TABLE tickets",
        "ALTER TABLE tickets_v4 RENAME TO tickets",
        "ALTER TABLE ticket_notes_v4 RENAME TO ticket_notes",
        "ALTER TABLE ticket_events_v4 RENAME TO ticket_events",
        "CREATE INDEX idx_tickets_status ON tickets(status)",
        "CREATE INDEX idx_tickets_created_at ON tickets(created_at)",
        "CREATE INDEX idx_tickets_sender_id ON tickets(sender_id)",
        "CREATE INDEX idx_ticket_notes_ticket_id ON ticket_notes(ticket_id)",
        "CREATE INDEX idx_ticket_events_ticket_id ON ticket_events(ticket_id)",
        *_call_attempts(db),
    )
    for sql in statements:
        db.execute(sql)
    if sequence is not None:
        # AUTOINCREMENT never gives a purged ticket's number again: keep the old counter,
        # which may be above the highest id left.
        db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'tickets'", [sequence[0]])
    problems = db.execute("PRAGMA foreign_key_check").fetchall()
    if problems:  # pragma: no cover - the copy keeps every id, so nothing can dangle
        raise RuntimeError(f"tickets migration 4 left {len(problems)} dangling rows")


def _migration_5(db: Database) -> None:
    # The text a word search reads, lower case and without accents, kept with each ticket:
    # PostgreSQL cannot call Python during a query as SQLite can, and a column lets both
    # engines run the same LIKE. Filled here for the tickets already there.
    db.execute("ALTER TABLE tickets ADD COLUMN search_text TEXT")
    rows = builtins.list(
        db.query(
            "SELECT id, summary, visitor_sentence, kiosk, contact_detail, transcript FROM tickets"
        )
    )
    for row in rows:
        db.execute(
            "UPDATE tickets SET search_text = ? WHERE id = ?",
            [search_text(row), row["id"]],
        )


MIGRATIONS: tuple[Callable[[Database], None], ...] = (
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_5,
)


# --- records --------------------------------------------------------------------------------


@dataclass
class Note:
    id: int
    ticket_id: int
    created_at: str
    author: str
    text: str
    internal: bool = True


@dataclass
class TicketEvent:
    id: int
    ticket_id: int
    at: str
    actor: str
    action: str
    from_status: str | None = None
    to_status: str | None = None
    detail: str | None = None


@dataclass
class CallAttempt:
    id: int
    ticket_id: int
    at: str
    actor: str
    outcome: str
    note: str | None = None


@dataclass
class Ticket:
    id: int
    created_at: str
    updated_at: str
    status: str
    channel: str
    reason: str
    sender_id: str
    guide_id: str | None
    step: int | None
    steps: int | None
    contact_preference: str
    contact_detail: str | None
    visitor_sentence: str | None
    summary: str
    transcript: list[dict[str, Any]] = field(default_factory=list)
    assigned_to: str | None = None
    seen_at: str | None = None
    kiosk: str | None = None
    next_call_at: str | None = None
    # Filled by `TicketStore.get` (and `export`) only; `list` leaves them empty.
    notes: list[Note] = field(default_factory=list)
    events: list[TicketEvent] = field(default_factory=list)
    calls: list[CallAttempt] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Ticket:
        values = dict(row)
        values.pop("search_text", None)  # the store's own search column
        values["transcript"] = json.loads(values["transcript"] or "[]")
        return cls(**values)

    def export_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in EXPORT_COLUMNS}


MAX_KIOSK_NAME_CHARS = 40


def clean_kiosk_name(name: str | None) -> str | None:
    """A kiosk's name as the console shows it: printable, one line, at most 40 characters."""
    if not name:
        return None
    text = " ".join("".join(c if c.isprintable() else " " for c in str(name)).split())
    return text[:MAX_KIOSK_NAME_CHARS] or None


# The stores share one clock and one way of writing times (bot.sqlite_store).
_utcnow = utcnow
_iso = iso_utc


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _check_actor(actor: str) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("actor must be a non-empty string")


# --- store ----------------------------------------------------------------------------------


class TicketStore(SQLiteStore):
    """The tickets database: schema, writes and reads. Safe to share between threads."""

    pg_schema = "tickets"

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Clock = _utcnow,
        connect: Connect | None = None,
        retry_budget: float | None = None,
        pending: RedisPendingContacts | None = None,
    ) -> None:
        super().__init__(path, clock=clock, connect=connect, retry_budget=retry_budget)
        # Contact details waiting for consent: in this database, or in Redis when the
        # deployment has one (bot/pending_contacts.py says why never on PostgreSQL).
        self._pending = pending

    def migrations(self) -> Sequence[Callable[[Database], None]]:
        return MIGRATIONS

    def close(self) -> None:
        if self._pending is not None:
            self._pending.close()
        super().close()

    @classmethod
    def open(cls, settings: Settings | None = None, *, clock: Clock = _utcnow) -> TicketStore:
        """The store of the settings: the `tickets` schema of DATABASE_URL when it is set,
        else the file `settings.tickets_db`, creating its folder when missing."""
        settings = settings or get_settings()
        pending = (
            RedisPendingContacts(settings.redis_url, hours=PENDING_CONTACT_HOURS)
            if settings.redis_url
            else None
        )
        return cls(location(settings, settings.tickets_db), clock=clock, pending=pending)

    def _now(self) -> str:
        return _iso(self._clock())

    def _row(self, db: Database, ticket_id: int) -> dict[str, Any]:
        rows = builtins.list(db.query("SELECT * FROM tickets WHERE id = ?", [ticket_id]))
        if not rows:
            raise KeyError(ticket_id)
        return rows[0]

    def _event(
        self,
        db: Database,
        ticket_id: int,
        action: str,
        *,
        actor: str,
        at: str,
        from_status: str | None = None,
        to_status: str | None = None,
        detail: str | None = None,
    ) -> None:
        _check_choice("action", action, ACTIONS)
        db.insert(
            "ticket_events",
            {
                "ticket_id": ticket_id,
                "at": at,
                "actor": actor,
                "action": action,
                "from_status": from_status,
                "to_status": to_status,
                "detail": detail,
            },
        )

    def _note(
        self, db: Database, ticket_id: int, text: str, *, actor: str, at: str, internal: bool
    ) -> Note:
        note_id = db.insert(
            "ticket_notes",
            {
                "ticket_id": ticket_id,
                "created_at": at,
                "author": actor,
                "text": text,
                "internal": internal,
            },
        )
        self._event(db, ticket_id, "note", actor=actor, at=at)
        return Note(note_id, ticket_id, at, actor, text, internal)

    @staticmethod
    def _clean_note(text: str) -> str:
        cleaned = (text or "").strip()
        if not cleaned:
            raise ValueError("a note cannot be empty")
        if len(cleaned) > MAX_NOTE_CHARS:
            raise ValueError(f"a note is limited to {MAX_NOTE_CHARS} characters")
        return cleaned

    # -- writes

    def create(
        self,
        *,
        sender_id: str,
        channel: str,
        reason: str,
        contact_preference: str,
        contact_detail: str | None = None,
        visitor_sentence: str | None = None,
        guide_id: str | None = None,
        step: int | None = None,
        steps: int | None = None,
        summary: str,
        transcript: builtins.list[dict[str, Any]],
        limits: HandoffLimits | None = None,
        kiosk: str | None = None,
    ) -> Ticket:
        """A new ticket in status 'nouveau', with its 'created' audit event.

        With `limits`, `HandoffLimitReached` instead when the conversation already has as
        many tickets as allowed, or the last minute as many new tickets: checked inside the
        write transaction, so that two processes creating at once cannot both pass."""
        if not sender_id:
            raise ValueError("sender_id must be a non-empty string")
        _check_choice("channel", channel, CHANNELS)
        _check_choice("reason", reason, REASONS)
        _check_choice("contact_preference", contact_preference, CONTACT_PREFERENCES)
        for name, value in (("step", step), ("steps", steps)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be a whole number or None; got {value!r}")
        now = self._now()
        record: dict[str, Any] = {
            "created_at": now,
            "updated_at": now,
            "status": "nouveau",
            "channel": channel,
            "reason": reason,
            "sender_id": sender_id,
            "guide_id": guide_id,
            "step": step,
            "steps": steps,
            "contact_preference": contact_preference,
            "contact_detail": contact_detail or None,
            "visitor_sentence": visitor_sentence or None,
            "summary": summary,
            "transcript": json.dumps(transcript, ensure_ascii=False),
            "assigned_to": None,
            "seen_at": None,
            "kiosk": clean_kiosk_name(kiosk) if channel == "kiosk" else None,
        }
        since = _iso(self._clock() - FLOOD_WINDOW)

        def write(db: Database) -> int:
            if limits is not None:
                self._check_limits(db, sender_id, limits, since)
            ticket_id = db.insert("tickets", {**record, "search_text": search_text(record)})
            self._event(db, ticket_id, "created", actor=BOT_ACTOR, at=now, to_status="nouveau")
            # The contact detail now lives in the ticket only.
            db.execute("DELETE FROM pending_contacts WHERE sender_id = ?", [sender_id])
            return ticket_id

        ticket_id = self._transact(write)
        return Ticket.from_row({"id": ticket_id, **record})

    @staticmethod
    def _check_limits(db: Database, sender_id: str, limits: HandoffLimits, since: str) -> None:
        mine = db.execute("SELECT COUNT(*) FROM tickets WHERE sender_id = ?", [sender_id])
        count = int(mine.fetchone()[0])
        if count >= limits.per_conversation:
            raise HandoffLimitReached(LIMIT_CONVERSATION, count, limits.per_conversation)
        recent = db.execute("SELECT COUNT(*) FROM tickets WHERE created_at >= ?", [since])
        count = int(recent.fetchone()[0])
        if count >= limits.per_minute:
            raise HandoffLimitReached(LIMIT_FLOOD, count, limits.per_minute)

    def handoff_limit(self, sender_id: str, limits: HandoffLimits) -> HandoffLimitReached | None:
        """The limit a new ticket of `sender_id` would pass now, or None: asked before the
        hand-off form, so that a visitor is not asked four questions to be refused."""
        since = _iso(self._clock() - FLOOD_WINDOW)
        with self._read() as db:
            try:
                self._check_limits(db, sender_id, limits, since)
            except HandoffLimitReached as reached:
                return reached
        return None

    def set_status(
        self,
        ticket_id: int,
        status: str,
        *,
        actor: str,
        note: str | None = None,
        next_call: datetime | None = None,
    ) -> Ticket:
        """Move a ticket to `status`; the audit trail keeps both ends, `note` goes to notes.
        `next_call` is when to call again (kept for « à rappeler » and « injoignable »,
        cleared by any other status)."""
        _check_choice("status", status, STATUSES)
        _check_actor(actor)
        cleaned = self._clean_note(note) if note is not None else None
        keeps_call = status in CALL_BACK_STATUSES
        next_call_at = _iso(next_call) if next_call is not None and keeps_call else None

        def write(db: Database) -> None:
            row = self._row(db, ticket_id)
            current = row["status"]
            now = self._now()
            if next_call_at != row["next_call_at"] and (keeps_call or row["next_call_at"]):
                db.execute(
                    "UPDATE tickets SET next_call_at = ?, updated_at = ? WHERE id = ?",
                    [next_call_at, now, ticket_id],
                )
            if current != status:
                db.execute(
                    "UPDATE tickets SET status = ?, updated_at = ? WHERE id = ?",
                    [status, now, ticket_id],
                )
                self._event(
                    db,
                    ticket_id,
                    "status",
                    actor=actor,
                    at=now,
                    from_status=current,
                    to_status=status,
                )
            if cleaned is not None:
                db.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", [now, ticket_id])
                self._note(db, ticket_id, cleaned, actor=actor, at=now, internal=True)

        self._transact(write)
        return self._get_required(ticket_id)

    def take(self, ticket_id: int, *, actor: str) -> str:
        """« Je prends ce ticket »: `actor` follows it, and a new ticket moves to « en
        cours », in one transaction. Returns the status before."""
        _check_actor(actor)

        def write(db: Database) -> str:
            row = self._row(db, ticket_id)
            now = self._now()
            if row["assigned_to"] != actor:
                db.execute(
                    "UPDATE tickets SET assigned_to = ?, updated_at = ? WHERE id = ?",
                    [actor, now, ticket_id],
                )
                self._event(
                    db, ticket_id, "assigned", actor=actor, at=now, detail=row["assigned_to"]
                )
            if row["status"] == "nouveau":
                db.execute(
                    "UPDATE tickets SET status = 'en_cours', updated_at = ? WHERE id = ?",
                    [now, ticket_id],
                )
                self._event(
                    db,
                    ticket_id,
                    "status",
                    actor=actor,
                    at=now,
                    from_status="nouveau",
                    to_status="en_cours",
                )
            return str(row["status"])

        return self._transact(write)

    def record_call(
        self, ticket_id: int, outcome: str, *, actor: str, note: str | None = None
    ) -> CallAttempt:
        """Log one call-back attempt (its time is now) in the ticket's call log."""
        _check_choice("outcome", outcome, CALL_OUTCOMES)
        _check_actor(actor)
        cleaned = self._clean_note(note) if note and note.strip() else None

        def write(db: Database) -> CallAttempt:
            self._row(db, ticket_id)
            now = self._now()
            call_id = db.insert(
                "call_attempts",
                {"ticket_id": ticket_id, "at": now, "actor": actor, "outcome": outcome,
                 "note": cleaned},
            )  # fmt: skip
            db.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", [now, ticket_id])
            self._event(db, ticket_id, "call", actor=actor, at=now, detail=outcome)
            return CallAttempt(call_id, ticket_id, now, actor, outcome, cleaned)

        return self._transact(write)

    def assign(self, ticket_id: int, *, actor: str) -> None:
        """The mediator `actor` takes the ticket."""
        _check_actor(actor)

        def write(db: Database) -> None:
            previous = self._row(db, ticket_id)["assigned_to"]
            now = self._now()
            db.execute(
                "UPDATE tickets SET assigned_to = ?, updated_at = ? WHERE id = ?",
                [actor, now, ticket_id],
            )
            self._event(db, ticket_id, "assigned", actor=actor, at=now, detail=previous)

        self._transact(write)

    def add_note(self, ticket_id: int, text: str, *, actor: str, internal: bool = True) -> Note:
        _check_actor(actor)
        cleaned = self._clean_note(text)

        def write(db: Database) -> Note:
            self._row(db, ticket_id)
            now = self._now()
            db.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", [now, ticket_id])
            return self._note(db, ticket_id, cleaned, actor=actor, at=now, internal=internal)

        return self._transact(write)

    def erase_contact(self, ticket_id: int, *, actor: str) -> None:
        """Forget the visitor's phone or e-mail; the ticket itself stays."""
        _check_actor(actor)

        def write(db: Database) -> None:
            row = self._row(db, ticket_id)
            detail = row["contact_detail"]
            now = self._now()
            # The search text held the detail too: written again without it.
            db.execute(
                "UPDATE tickets SET contact_detail = NULL, next_call_at = NULL, updated_at = ?,"
                " search_text = ? WHERE id = ?",
                [now, search_text({**row, "contact_detail": None}), ticket_id],
            )
            # A mediator may have copied the number or the address into a call note or a
            # note: it goes there too.
            if detail:
                for table, column in (("call_attempts", "note"), ("ticket_notes", "text")):
                    for row in builtins.list(
                        db.query(
                            f"SELECT id, {column} FROM {table} WHERE ticket_id = ?", [ticket_id]
                        )  # fmt: skip
                    ):
                        text = row[column]
                        scrubbed = scrub_contact(text, detail) if text else text
                        if scrubbed != text:
                            db.execute(
                                f"UPDATE {table} SET {column} = ? WHERE id = ?",
                                [scrubbed, row["id"]],
                            )
            self._event(db, ticket_id, "contact_erased", actor=actor, at=now)

        self._transact(write)
        self._checkpoint()

    def mark_seen(self, ticket_id: int, *, actor: str) -> None:
        """Record that `actor` opened the ticket; `seen_at` keeps the first time."""
        _check_actor(actor)

        def write(db: Database) -> None:
            self._row(db, ticket_id)
            now = self._now()
            # Reading is not a change: updated_at, which drives retention, is left alone.
            db.execute(
                "UPDATE tickets SET seen_at = COALESCE(seen_at, ?) WHERE id = ?",
                [now, ticket_id],
            )
            self._event(db, ticket_id, "seen", actor=actor, at=now)

        self._transact(write)

    def record_export(self, ids: Iterable[int], *, actor: str, fmt: str) -> None:
        """Audit that these tickets left the database in an export file."""
        _check_actor(actor)
        wanted = builtins.list(dict.fromkeys(ids))
        if not wanted:
            return

        def write(db: Database) -> None:
            now = self._now()
            for ticket_id in wanted:
                self._row(db, ticket_id)
                self._event(db, ticket_id, "export", actor=actor, at=now, detail=fmt)

        self._transact(write)

    def purge(self, *, now: datetime | None = None, retention_days: int) -> int:
        """Delete closed tickets unchanged for `retention_days`; notes and events follow."""
        if retention_days < 0:
            raise ValueError("retention_days cannot be negative")
        cutoff = _iso((now or self._clock()) - timedelta(days=retention_days))
        marks = ", ".join("?" for _ in CLOSED_STATUSES)

        def write(db: Database) -> int:
            cursor = db.execute(
                f"DELETE FROM tickets WHERE status IN ({marks}) AND updated_at < ?",
                [*CLOSED_STATUSES, cutoff],
            )
            return int(cursor.rowcount)

        deleted = self._transact(write)
        if deleted:
            self._checkpoint()
        return deleted

    # -- reads

    def _get_required(self, ticket_id: int) -> Ticket:
        ticket = self.get(ticket_id)
        if ticket is None:
            raise KeyError(ticket_id)
        return ticket

    def get(self, ticket_id: int) -> Ticket | None:
        """The ticket with its notes and audit trail, oldest first; None when unknown."""
        with self._read() as db:
            try:
                ticket = Ticket.from_row(self._row(db, ticket_id))
            except KeyError:
                return None
            ticket.notes = [
                Note(**{**row, "internal": bool(row["internal"])})
                for row in db.query(
                    "SELECT * FROM ticket_notes WHERE ticket_id = ? ORDER BY id", [ticket_id]
                )
            ]
            ticket.events = [
                TicketEvent(**row)
                for row in db.query(
                    "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id", [ticket_id]
                )
            ]
            ticket.calls = [
                CallAttempt(**row)
                for row in db.query(
                    "SELECT * FROM call_attempts WHERE ticket_id = ? ORDER BY id", [ticket_id]
                )
            ]
        return ticket

    def export(self, *, status: str | None = None) -> builtins.list[Ticket]:
        """Every ticket (of `status`), newest first, with its notes and call attempts."""
        found: builtins.list[Ticket] = []
        while page := self.list(status=status, limit=EXPORT_PAGE, offset=len(found)):
            found += page
        by_id = {t.id: t for t in found}
        with self._read() as db:
            for row in db.query("SELECT * FROM ticket_notes ORDER BY id"):
                if row["ticket_id"] in by_id:
                    by_id[row["ticket_id"]].notes.append(
                        Note(**{**row, "internal": bool(row["internal"])})
                    )
            for row in db.query("SELECT * FROM call_attempts ORDER BY id"):
                if row["ticket_id"] in by_id:
                    by_id[row["ticket_id"]].calls.append(CallAttempt(**row))
        return found

    def alerts(self, *, limit: int = 20) -> dict[str, Any]:
        """What the open console needs to notice new tickets: the newest id, how many are
        « nouveau », and the newest of those (the hand-offs at the desk among them)."""
        with self._read() as db:
            newest = db.execute("SELECT MAX(id) FROM tickets").fetchone()[0]
            count = db.execute("SELECT COUNT(*) FROM tickets WHERE status = 'nouveau'").fetchone()[
                0
            ]
            waiting = [
                Ticket.from_row(row)
                for row in db.query(
                    "SELECT * FROM tickets WHERE status = 'nouveau'"
                    " ORDER BY created_at DESC, id DESC LIMIT ?",
                    [limit],
                )
            ]
        return {"latest": int(newest or 0), "count": int(count), "tickets": waiting}

    def list(
        self,
        *,
        status: str | None = None,
        reason: str | None = None,
        guide: str | None = None,
        channel: str | None = None,
        since: date | None = None,
        until: date | None = None,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Ticket]:
        """Tickets newest first. `guide` matches a guide id or its theme ('impots');
        `since` and `until` are days (UTC), both included; `query` is a search (see
        `_search`)."""
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if query and query.strip():
            clause, values = _search(query)
            where.append(clause)
            params += values
        if status is not None:
            _check_choice("status", status, STATUSES)
            where.append("status = ?")
            params.append(status)
        if reason is not None:
            _check_choice("reason", reason, REASONS)
            where.append("reason = ?")
            params.append(reason)
        if channel is not None:
            _check_choice("channel", channel, CHANNELS)
            where.append("channel = ?")
            params.append(channel)
        if guide:
            # substr, not LIKE: guide ids contain '_', which LIKE would read as a wildcard.
            where.append("(guide_id = ? OR substr(guide_id, 1, ?) = ?)")
            params += [guide, len(guide) + 1, guide + "."]
        if since is not None:
            where.append("created_at >= ?")
            params.append(_iso(datetime.combine(since, time(), timezone.utc)))
        if until is not None:
            where.append("created_at < ?")
            params.append(_iso(datetime.combine(until + timedelta(days=1), time(), timezone.utc)))
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset cannot be negative")
        sql = "SELECT * FROM tickets"
        if where:
            sql += " WHERE " + " AND ".join(where)
        # id breaks ties: several tickets can share one second.
        sql += " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        with self._read() as db:
            return [Ticket.from_row(row) for row in db.query(sql, [*params, limit, offset])]

    def count_by_status(self) -> dict[str, int]:
        """Every status with its number of tickets, zeros included."""
        counts = dict.fromkeys(STATUSES, 0)
        with self._read() as db:
            for row in db.query("SELECT status, COUNT(*) AS n FROM tickets GROUP BY status"):
                counts[row["status"]] = row["n"]
        return counts

    # -- contact details waiting for the hand-off form

    def hold_contact(self, sender_id: str, kind: str, value: str) -> None:
        """Keep the latest contact detail a visitor typed, until a ticket takes it."""
        _check_choice("kind", kind, ("phone", "email"))
        if self._pending is not None:
            self._pending.hold(sender_id, kind, value)
            return
        now = self._now()
        self._transact(
            lambda db: db.execute(
                "INSERT INTO pending_contacts (sender_id, kind, value, held_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (sender_id) DO UPDATE SET"
                " kind = excluded.kind, value = excluded.value, held_at = excluded.held_at",
                [sender_id, kind, value, now],
            )
        )

    def peek_contact(self, sender_id: str) -> tuple[str, str] | None:
        if self._pending is not None:
            return self._pending.peek(sender_id)
        with self._read() as db:
            rows = builtins.list(
                db.query(
                    "SELECT kind, value FROM pending_contacts WHERE sender_id = ?", [sender_id]
                )
            )
        return (rows[0]["kind"], rows[0]["value"]) if rows else None

    def drop_contact(self, sender_id: str) -> None:
        """Forget the contact detail a visitor typed, in every byte of the files too."""
        if self._pending is not None:
            self._pending.drop(sender_id)
            return
        dropped = self._transact(
            lambda db: (
                db.execute("DELETE FROM pending_contacts WHERE sender_id = ?", [sender_id]).rowcount
            )
        )
        if dropped:
            self._checkpoint()

    def purge_pending_contacts(self, *, older_than: datetime) -> int:
        """Forget contact details no ticket took (the visitor left, or refused consent)."""
        if self._pending is not None:
            return self._pending.purge(older_than=older_than)
        cutoff = _iso(older_than)
        forgotten = int(
            self._transact(
                lambda db: (
                    db.execute("DELETE FROM pending_contacts WHERE held_at < ?", [cutoff]).rowcount
                )
            )
        )
        if forgotten:
            self._checkpoint()
        return forgotten

    def sender_ids(self) -> set[str]:
        """Conversations a ticket still holds (kept out of the tracker-store purge)."""
        with self._read() as db:
            return {row["sender_id"] for row in db.query("SELECT sender_id FROM tickets")}


# --- search ---------------------------------------------------------------------------------

CALL_BACK_STATUSES: tuple[str, ...] = ("a_rappeler", "injoignable")


def plain_text(text: Any) -> str:
    """Lower case without accents, for searches that ignore both (« Impôt » finds « impot »)."""
    if text is None:
        return ""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def said_text(transcript: Any) -> str:
    """What was written in a stored conversation (its turns' texts), plain, for searches:
    not its JSON keys and times, which every ticket has."""
    try:
        turns = json.loads(transcript or "[]")
    except (TypeError, ValueError):
        return ""
    if not isinstance(turns, builtins.list):
        return ""
    return plain_text(" ".join(str(t.get("text") or "") for t in turns if isinstance(t, dict)))


def search_text(ticket: dict[str, Any]) -> str:
    """What a word search reads in a ticket (its `search_text` column): the summary, the
    visitor's sentence, the kiosk's name, the contact detail and what was said in the
    conversation, lower case and without accents."""
    fields = ("summary", "visitor_sentence", "kiosk", "contact_detail")
    written = plain_text(" ".join(str(ticket.get(name) or "") for name in fields))
    return written + " " + said_text(ticket.get("transcript"))


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _digits(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    # +33 6 12… and 0033 6 12… are the French 06 12…
    for prefix in ("0033", "33"):
        if phone.lstrip().startswith(("+33", "0033")) and digits.startswith(prefix):
            return "0" + digits[len(prefix) :]
    return digits


def _search(query: str) -> tuple[str, builtins.list[Any]]:
    """One WHERE clause for a mediator's search: a ticket number (« 12 », « n° 12 »), a phone
    number with any spacing (« 0612 34 56 78 »), an e-mail address, or words all found in
    the summary, the visitor's sentence, the conversation or the kiosk's name (accents and
    letter case ignored)."""
    text = query.strip()[:200]
    clauses: builtins.list[str] = []
    params: builtins.list[Any] = []
    number = re.fullmatch(r"(?:n°|no|#)?\s*(\d{1,9})", text, re.IGNORECASE)
    if number:
        clauses.append("id = ?")
        params.append(int(number.group(1)))
    if re.fullmatch(r"[+\d\s.\-/()]+", text) and len(_digits(text)) >= 4:
        stripped = "contact_detail"
        for sep in (" ", ".", "-", "/", "(", ")", "\u00a0"):
            stripped = f"replace({stripped}, '{sep}', '')"
        clauses.append(f"{stripped} LIKE ? ESCAPE '\\'")
        params.append(_like(_digits(text)))
    if "@" in text:
        clauses.append("lower(contact_detail) LIKE ? ESCAPE '\\'")
        params.append(_like(text.lower()))
    words = [w for w in re.split(r"\s+", plain_text(text)) if w]
    if words and not clauses:
        # `search_text` is already plain: both engines compare it byte for byte.
        haystack = "coalesce(search_text, '')"
        clauses.append("(" + " AND ".join(f"{haystack} LIKE ? ESCAPE '\\'" for _ in words) + ")")
        params += [_like(w) for w in words]
    return "(" + " OR ".join(clauses) + ")", params


def scrub_contact(text: str, detail: str) -> str:
    """`text` without `detail` (a phone number in any spacing, or an e-mail address)."""
    if "@" in detail:
        return re.sub(re.escape(detail), "[contact effacé]", text, flags=re.IGNORECASE)
    digits = _digits(detail)
    if len(digits) < 4:
        return text
    # The same digits with any separators between them, « +33 6… » included.
    body = r"[\s.\-/]*".join(re.escape(d) for d in digits[1:])
    pattern = rf"(?:\+33|0033|{re.escape(digits[0])})[\s.\-/]*{body}"
    return re.sub(pattern, "[contact effacé]", text)


# --- exports --------------------------------------------------------------------------------


# The columns of the CSV export, as a French spreadsheet shows them.
CSV_HEADERS: tuple[str, ...] = (
    "Numéro",
    "Créé le",
    "Modifié le",
    "Statut",
    "Canal",
    "Borne",
    "Motif",
    "Démarche",
    "Étape",
    "Souhait",
    "Contact",
    "Phrase du visiteur",
    "Résumé",
    "Suivi par",
    "Consulté",
    "Prochain appel",
    "Appels",
    "Notes",
)


def _step_text(ticket: Ticket) -> str:
    if ticket.step is None:
        return ""
    return f"{ticket.step} sur {ticket.steps}" if ticket.steps else str(ticket.step)


def call_line(call: CallAttempt) -> str:
    """« 30/11/2026 14:05, pas de réponse (camille) : note »"""
    line = f"{local_time(call.at)}, {CALL_OUTCOME_LABELS[call.outcome]} ({call.actor})"
    return line + (f" : {call.note}" if call.note else "")


def export_csv(
    tickets: Iterable[Ticket], file: TextIO, *, titles: dict[str, str] | None = None
) -> None:
    """Tickets as a CSV file that opens cleanly in a French spreadsheet (BOM, `;`, French
    headers and values, local time), with notes and call attempts (fill them with
    `TicketStore.export`); the transcript is left out. `titles` names the guides."""
    titles = titles or {}
    writer = FrenchCsv(file)
    writer.row(CSV_HEADERS)
    for t in tickets:
        guide = titles.get(t.guide_id, t.guide_id) if t.guide_id else ""
        writer.row(
            [
                t.id,
                local_time(t.created_at),
                local_time(t.updated_at),
                STATUS_LABELS[t.status],
                CHANNEL_LABELS[t.channel],
                t.kiosk,
                REASON_LABELS[t.reason],
                guide,
                _step_text(t),
                CONTACT_LABELS[t.contact_preference],
                t.contact_detail,
                t.visitor_sentence,
                t.summary,
                t.assigned_to,
                t.seen_at is not None,
                local_time(t.next_call_at),
                "\n".join(call_line(c) for c in t.calls),
                "\n".join(f"{local_time(n.created_at)} {n.author} : {n.text}" for n in t.notes),
            ]
        )


def export_json(tickets: Iterable[Ticket], file: TextIO) -> None:
    """Tickets as a JSON list, each with its technical columns, call attempts and transcript."""
    data = [
        {
            **ticket.export_row(),
            "calls": [
                {"at": c.at, "actor": c.actor, "outcome": c.outcome, "note": c.note}
                for c in ticket.calls
            ],
            "transcript": ticket.transcript,
        }
        for ticket in tickets
    ]
    json.dump(data, file, ensure_ascii=False, indent=2)
    file.write("\n")


# --- command line ---------------------------------------------------------------------------

STATUS_LABELS = {
    "nouveau": "nouveau",
    "en_cours": "en cours",
    "a_rappeler": "à rappeler",
    "injoignable": "injoignable",
    "resolu": "résolu",
    "abandonne": "abandonné",
}
CHANNEL_LABELS = {"kiosk": "borne", "widget": "site web", "other": "autre"}
CONTACT_LABELS = {
    "desk": "au guichet",
    "phone": "par téléphone",
    "email": "par courriel",
    "later": "plus tard",
}
ACTION_LABELS = {
    "created": "ticket créé",
    "status": "statut changé",
    "note": "note ajoutée",
    "assigned": "pris en charge",
    "contact_erased": "coordonnées effacées",
    "export": "exporté",
    "seen": "consulté",
    "call": "appel",
}
EXPORT_PAGE = 500


def _local(iso: str, fmt: str = "%d/%m/%Y %H:%M") -> str:
    # Stored in UTC; shown in French local time, as the console and the exports show it.
    return local_time(iso, fmt)


def guide_titles(settings: Settings | None = None) -> dict[str, str]:
    """Guide ids (and themes, such as 'impots') to the French titles of the catalogue."""
    from bot.guides import load_catalogue

    try:
        catalogue = load_catalogue((settings or get_settings()).knowledge_dir)
    except (OSError, ValueError):
        # A guide file being edited must not stop the tickets from being read: ids then.
        return {}
    titles = {d: catalogue.domain_title(d) for d in catalogue.domains()}
    titles.update({g.id: g.title for g in catalogue.guides.values()})
    return titles


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.tickets",
        description="Tickets de suivi transmis aux médiateurs (base DATA_DIR/tickets.db).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="commande")

    listing = commands.add_parser("list", help="lister les tickets, du plus récent au plus ancien")
    listing.add_argument("--status", choices=STATUSES, help="seulement les tickets de ce statut")
    listing.add_argument("--limit", type=int, default=50, help="nombre maximal (50 par défaut)")

    show = commands.add_parser("show", help="afficher un ticket et sa conversation")
    show.add_argument("id", type=int, help="numéro du ticket")

    export = commands.add_parser("export", help="exporter les tickets en CSV ou JSON")
    export.add_argument("--format", choices=("csv", "json"), required=True, help="format")
    export.add_argument("--output", type=Path, help="fichier de sortie (écran par défaut)")
    export.add_argument("--status", choices=STATUSES, help="seulement les tickets de ce statut")

    commands.add_parser(
        "purge",
        help="supprimer les tickets clos et les conversations sans ticket trop anciens",
    )
    return parser


def _print_list(store: TicketStore, status: str | None, limit: int, titles: dict[str, str]) -> int:
    tickets = store.list(status=status, limit=max(limit, 0))
    if not tickets:
        print("Aucun ticket.")
        return 0
    for t in tickets:
        guide = titles.get(t.guide_id, t.guide_id) if t.guide_id else "sans guide"
        who = f" — suivi par {t.assigned_to}" if t.assigned_to else ""
        print(
            f"#{t.id:<5} {_local(t.created_at)}  {STATUS_LABELS[t.status]:<11} "
            f"{CHANNEL_LABELS[t.channel]:<9} {guide} — {REASON_LABELS[t.reason]}{who}"
        )
    print(f"{len(tickets)} ticket(s) affiché(s).")
    return 0


def _print_ticket(ticket: Ticket, titles: dict[str, str]) -> None:
    print(f"Ticket {ticket.id} — {STATUS_LABELS[ticket.status]}")
    print(f"Créé le {_local(ticket.created_at)}, modifié le {_local(ticket.updated_at)}")
    channel = CHANNEL_LABELS[ticket.channel]
    print(f"Canal : {channel}" + (f" ({ticket.kiosk})" if ticket.kiosk else ""))
    print(f"Motif : {REASON_LABELS[ticket.reason]}")
    if ticket.guide_id:
        where = titles.get(ticket.guide_id, ticket.guide_id)
        if ticket.step is not None and ticket.steps is not None:
            where += f", étape {ticket.step} sur {ticket.steps}"
        print(f"Démarche : {where}")
    contact = CONTACT_LABELS[ticket.contact_preference]
    if ticket.contact_detail:
        contact += f" — {ticket.contact_detail}"
    print(f"Contact : {contact}")
    print(f"Suivi par : {ticket.assigned_to or 'personne'}")
    if ticket.next_call_at:
        print(f"Prochain appel : {_local(ticket.next_call_at)}")
    print()
    print("Appels")
    if not ticket.calls:
        print("  Aucun appel.")
    for call in ticket.calls:
        print(f"  {call_line(call)}")
    print()
    print("Résumé")
    print(f"  {ticket.summary}")
    print()
    print("Notes")
    if not ticket.notes:
        print("  Aucune note.")
    for note in ticket.notes:
        print(f"  {_local(note.created_at)} {note.author} : {note.text}")
    print()
    print("Historique")
    for event in ticket.events:
        action = ACTION_LABELS.get(event.action, event.action)
        line = f"  {_local(event.at)} {event.actor} : {action}"
        if event.action == "status" and event.from_status and event.to_status:
            line += f" ({STATUS_LABELS[event.from_status]} → {STATUS_LABELS[event.to_status]})"
        elif event.action == "call" and event.detail in CALL_OUTCOME_LABELS:
            line += f" ({CALL_OUTCOME_LABELS[event.detail]})"
        elif event.detail:
            line += f" ({event.detail})"
        print(line)
    print()
    print("Conversation")
    if not ticket.transcript:
        print("  Aucun message enregistré.")
    for turn in readable(ticket.transcript, titles):
        who = "Visiteur" if turn.get("who") == "visitor" else "Guichet"
        text = turn.get("text") or ""
        if turn.get("pressed"):
            text = f"[bouton] {text}"
        if turn.get("buttons"):
            text += " [" + " | ".join(turn["buttons"]) + "]"
        if not text and turn.get("marker"):
            text = "(" + json.dumps(turn["marker"], ensure_ascii=False) + ")"
        moment = _local(turn["at"], "%H:%M") if turn.get("at") else "--:--"
        print(f"  {moment} {who} : {text.strip()}")


def _export(
    store: TicketStore, fmt: str, output: Path | None, status: str | None, titles: dict[str, str]
) -> int:
    tickets = store.export(status=status)

    def write(file: TextIO) -> None:
        if fmt == "csv":
            export_csv(tickets, file, titles=titles)
        else:
            export_json(tickets, file)

    if output is None:
        write(sys.stdout)
    else:
        # newline="" lets the csv module write its own line endings.
        with output.open("w", encoding="utf-8", newline="") as file:
            write(file)
    store.record_export([t.id for t in tickets], actor="cli", fmt=fmt)
    if output is not None:
        print(f"{len(tickets)} ticket(s) exporté(s) dans {output}.")
    return 0


# A contact detail that no ticket took within this time is forgotten.
PENDING_CONTACT_HOURS = 2


def purge_all(
    store: TicketStore, settings: Settings, now: datetime | None = None
) -> dict[str, int]:
    """Apply every retention rule: closed tickets, conversations, waiting contact details."""
    now = now or _utcnow()
    tickets = store.purge(now=now, retention_days=settings.ticket_retention_days)
    # Asked after the ticket purge, so conversations of tickets just deleted can go too.
    # Conversations live in SQLite or Redis by settings (bot.conversations); the anonymous
    # activity log the statistics read goes after the same retention.
    from bot.activity import ActivityStore
    from bot.conversations import open_conversations

    forget_before = now - timedelta(days=settings.conversation_retention_days)
    conversations = open_conversations(settings).purge(
        keep=store.sender_ids(), older_than=forget_before
    )
    with ActivityStore.open(settings) as activity:
        activity_rows = activity.purge(older_than=forget_before)
    contacts = store.purge_pending_contacts(older_than=now - timedelta(hours=PENDING_CONTACT_HOURS))
    # Logs and incidents under DATA_DIR (bot/logs.py); the erase marks went with the
    # conversations above.
    from bot.logs import purge_files

    files = purge_files(settings, now)
    # Workshop bookings: names and contacts go the retention period after their session.
    from bot.workshops import WorkshopStore

    with WorkshopStore.open(settings) as workshops:
        bookings = workshops.purge(now=now, retention_days=settings.workshop_retention_days)
    return {"tickets": tickets, "conversations": conversations, "contacts": contacts,
            "logs": files["logs"], "incidents": files["incidents"],
            "bookings": bookings, "activity": activity_rows}  # fmt: skip


def _purge(store: TicketStore, settings: Settings) -> int:
    counts = purge_all(store, settings)
    print(f"Tickets clos supprimés : {counts['tickets']}")
    print(f"Conversations sans ticket supprimées : {counts['conversations']}")
    print(f"Coordonnées en attente oubliées : {counts['contacts']}")
    print(f"Journaux expirés supprimés : {counts['logs']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = get_settings()
    with TicketStore.open(settings) as store:
        if args.command == "list":
            return _print_list(store, args.status, args.limit, guide_titles(settings))
        if args.command == "show":
            ticket = store.get(args.id)
            if ticket is None:
                print(f"Ticket {args.id} introuvable.", file=sys.stderr)
                return 1
            _print_ticket(ticket, guide_titles(settings))
            return 0
        if args.command == "export":
            return _export(store, args.format, args.output, args.status, guide_titles(settings))
        return _purge(store, settings)


if __name__ == "__main__":
    sys.exit(main())
