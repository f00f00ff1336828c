"""The ticket store: a handoff becomes a ticket that mediators follow, annotate, close and
eventually purge, with every change in the audit trail.

Tests that take `location` (or `fresh_db`) run once on SQLite and once on PostgreSQL (the
`database` fixture); those about SQLite files (WAL, bytes on disk, old files) take
`db_path` and run on SQLite only."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot import pg, tickets
from bot.settings import ROOT, Settings
from bot.tickets import MAX_NOTE_CHARS, Ticket, TicketStore, export_csv, export_json

START = datetime(2024, 3, 4, 9, 30, tzinfo=timezone.utc)

TRANSCRIPT = [
    {"at": "2024-03-04T09:29:00+00:00", "who": "visitor", "text": "payer impot", "intent": "x"},
    {
        "at": "2024-03-04T09:29:01+00:00",
        "who": "bot",
        "text": "Étape 2 sur 4",
        "buttons": ["Je bloque"],
        "marker": {"guide": "impots.paiement", "step": 2, "steps": 4},
    },
]


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def location(database) -> Path | str:
    """The store's place on the engine of this run: a SQLite file or a PostgreSQL URL."""
    return database("tickets")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A SQLite file, for the tests about SQLite files themselves."""
    return tmp_path / "tickets.db"


@pytest.fixture
def fresh_db(location: Path | str, clock: FakeClock) -> Iterator[TicketStore]:
    with TicketStore(location, clock=clock) as store:
        yield store


def new_ticket(store: TicketStore, **overrides: Any) -> Ticket:
    values: dict[str, Any] = {
        "sender_id": "conv-1",
        "channel": "kiosk",
        "reason": "stuck",
        "contact_preference": "phone",
        "contact_detail": "06 12 34 56 78",
        "visitor_sentence": "je n'arrive pas à payer",
        "guide_id": "impots.paiement",
        "step": 2,
        "steps": 4,
        "summary": "Démarche : Payer ses impôts, étape 2 sur 4.",
        "transcript": TRANSCRIPT,
    }
    return store.create(**(values | overrides))


def raw_rows(location: Path | str, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows read straight from the database, past the store (`?` placeholders)."""
    if pg.is_url(location):
        import psycopg2

        conn = psycopg2.connect(str(location), options="-c search_path=tickets")
        try:
            with conn.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), params)
                return [tuple(row) for row in cur.fetchall()]
        finally:
            conn.close()
    with closing(sqlite3.connect(location)) as conn:
        return conn.execute(sql, params).fetchall()


def raw_write(location: Path | str, sql: str, params: tuple = ()) -> None:
    """A write that skips the store (`?` placeholders), committed."""
    if pg.is_url(location):
        import psycopg2

        conn = psycopg2.connect(str(location), options="-c search_path=tickets")
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), params)
        finally:
            conn.close()
        return
    with closing(sqlite3.connect(location)) as conn, conn:
        conn.execute(sql, params)


def actions(ticket: Ticket | None) -> list[str]:
    assert ticket is not None
    return [event.action for event in ticket.events]


# --- creation and reading -------------------------------------------------------------------


def test_a_handoff_becomes_a_new_ticket_with_its_creation_audited(fresh_db: TicketStore):
    created = new_ticket(fresh_db)
    assert created.id == 1 and created.status == "nouveau"

    ticket = fresh_db.get(created.id)
    assert ticket is not None
    assert ticket.created_at == ticket.updated_at == "2024-03-04T09:30:00+00:00"
    assert (ticket.sender_id, ticket.channel, ticket.reason) == ("conv-1", "kiosk", "stuck")
    assert (ticket.guide_id, ticket.step, ticket.steps) == ("impots.paiement", 2, 4)
    assert ticket.contact_preference == "phone" and ticket.contact_detail == "06 12 34 56 78"
    assert ticket.visitor_sentence == "je n'arrive pas à payer"
    assert ticket.transcript == TRANSCRIPT
    assert ticket.assigned_to is None and ticket.seen_at is None and ticket.notes == []
    assert actions(ticket) == ["created"]
    assert ticket.events[0].to_status == "nouveau" and ticket.events[0].actor == "guichet"
    # What create returns is what get reads back, minus the trail.
    assert created == Ticket(**{**vars(ticket), "events": []})


def test_a_ticket_without_guide_or_contact(fresh_db: TicketStore):
    ticket = new_ticket(
        fresh_db,
        reason="not_covered",
        contact_preference="later",
        contact_detail=None,
        visitor_sentence=None,
        guide_id=None,
        step=None,
        steps=None,
        transcript=[],
    )
    stored = fresh_db.get(ticket.id)
    assert stored is not None
    assert stored.guide_id is None and stored.step is None and stored.contact_detail is None
    assert stored.transcript == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("channel", "sms"),
        ("reason", "bored"),
        ("contact_preference", "pigeon"),
        ("sender_id", ""),
        ("step", "2"),
    ],
)
def test_create_refuses_unknown_values_and_stores_nothing(fresh_db: TicketStore, field, value):
    with pytest.raises(ValueError, match=field):
        new_ticket(fresh_db, **{field: value})
    assert fresh_db.list() == []


def test_unknown_ticket_reads_as_none(fresh_db: TicketStore):
    assert fresh_db.get(42) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.set_status(42, "resolu", actor="marie"),
        lambda s: s.assign(42, actor="marie"),
        lambda s: s.add_note(42, "rappelé", actor="marie"),
        lambda s: s.erase_contact(42, actor="marie"),
        lambda s: s.mark_seen(42, actor="marie"),
        lambda s: s.record_export([42], actor="marie", fmt="csv"),
    ],
)
def test_changing_an_unknown_ticket_raises_key_error(fresh_db: TicketStore, change):
    with pytest.raises(KeyError):
        change(fresh_db)


# --- listing --------------------------------------------------------------------------------


def test_list_is_newest_first_and_pages(fresh_db: TicketStore, clock: FakeClock):
    for n in range(5):
        new_ticket(fresh_db, sender_id=f"conv-{n}")
        clock.advance(minutes=1)
    assert [t.id for t in fresh_db.list(limit=2)] == [5, 4]
    assert [t.id for t in fresh_db.list(limit=2, offset=2)] == [3, 2]
    assert [t.id for t in fresh_db.list(limit=2, offset=4)] == [1]
    assert fresh_db.list(offset=5) == []


def test_tickets_created_in_the_same_second_keep_a_stable_order(fresh_db: TicketStore):
    for n in range(3):
        new_ticket(fresh_db, sender_id=f"conv-{n}")
    assert [t.id for t in fresh_db.list()] == [3, 2, 1]


def test_list_filters_by_status_reason_channel_guide_and_days(
    fresh_db: TicketStore, clock: FakeClock
):
    pay = new_ticket(fresh_db, guide_id="impots.paiement", channel="kiosk", reason="stuck")
    clock.advance(days=1)
    declare = new_ticket(
        fresh_db, guide_id="impots.declaration_revenus", channel="widget", reason="asked"
    )
    clock.advance(days=1)
    lookalike = new_ticket(fresh_db, guide_id="impotsx.autre", channel="other")
    unguided = new_ticket(fresh_db, guide_id=None, reason="not_covered")
    fresh_db.set_status(declare.id, "en_cours", actor="marie")

    def ids(**filters: Any) -> set[int]:
        return {t.id for t in fresh_db.list(**filters)}

    assert ids(status="en_cours") == {declare.id}
    assert ids(status="nouveau") == {pay.id, lookalike.id, unguided.id}
    assert ids(reason="not_covered") == {unguided.id}
    assert ids(channel="widget") == {declare.id}
    assert ids(guide="impots") == {pay.id, declare.id}
    assert ids(guide="impots.paiement") == {pay.id}
    assert ids(guide="impots.declaration") == set()
    assert ids(since=date(2024, 3, 5)) == {declare.id, lookalike.id, unguided.id}
    assert ids(until=date(2024, 3, 5)) == {pay.id, declare.id}
    assert ids(since=date(2024, 3, 5), until=date(2024, 3, 5)) == {declare.id}
    assert ids(guide="impots", status="nouveau") == {pay.id}
    with pytest.raises(ValueError, match="status"):
        fresh_db.list(status="ferme")


def test_count_by_status_lists_every_status(fresh_db: TicketStore):
    assert fresh_db.count_by_status() == dict.fromkeys(tickets.STATUSES, 0)
    for n in range(3):
        new_ticket(fresh_db, sender_id=f"conv-{n}")
    fresh_db.set_status(1, "resolu", actor="marie")
    assert fresh_db.count_by_status() == dict.fromkeys(tickets.STATUSES, 0) | {
        "nouveau": 2,
        "resolu": 1,
    }


def test_sender_ids_are_the_conversations_held_by_a_ticket(fresh_db: TicketStore):
    assert fresh_db.sender_ids() == set()
    new_ticket(fresh_db, sender_id="a")
    new_ticket(fresh_db, sender_id="b")
    new_ticket(fresh_db, sender_id="a")
    assert fresh_db.sender_ids() == {"a", "b"}


# --- a mediator's work ----------------------------------------------------------------------


def test_a_mediator_takes_a_ticket_and_closes_it(fresh_db: TicketStore, clock: FakeClock):
    ticket = new_ticket(fresh_db)
    clock.advance(minutes=5)
    fresh_db.assign(ticket.id, actor="marie")
    fresh_db.set_status(ticket.id, "en_cours", actor="marie")
    clock.advance(minutes=10)
    closed = fresh_db.set_status(
        ticket.id, "resolu", actor="marie", note="Paiement fait au guichet."
    )

    assert closed.status == "resolu" and closed.assigned_to == "marie"
    assert closed.updated_at == "2024-03-04T09:45:00+00:00"
    assert actions(closed) == ["created", "assigned", "status", "status", "note"]
    moves = [(e.from_status, e.to_status) for e in closed.events if e.action == "status"]
    assert moves == [("nouveau", "en_cours"), ("en_cours", "resolu")]
    assert [(n.author, n.text, n.internal) for n in closed.notes] == [
        ("marie", "Paiement fait au guichet.", True)
    ]


def test_setting_the_same_status_again_is_not_a_change(fresh_db: TicketStore, clock: FakeClock):
    ticket = new_ticket(fresh_db)
    clock.advance(hours=1)
    same = fresh_db.set_status(ticket.id, "nouveau", actor="marie")
    assert actions(same) == ["created"] and same.updated_at == ticket.updated_at


def test_status_must_be_known(fresh_db: TicketStore):
    ticket = new_ticket(fresh_db)
    with pytest.raises(ValueError, match="status"):
        fresh_db.set_status(ticket.id, "ferme", actor="marie")
    with pytest.raises(ValueError, match="actor"):
        fresh_db.set_status(ticket.id, "resolu", actor=" ")
    assert actions(fresh_db.get(ticket.id)) == ["created"]


def test_reassigning_keeps_who_had_it_in_the_trail(fresh_db: TicketStore):
    ticket = new_ticket(fresh_db)
    fresh_db.assign(ticket.id, actor="marie")
    fresh_db.assign(ticket.id, actor="karim")
    stored = fresh_db.get(ticket.id)
    assert stored is not None and stored.assigned_to == "karim"
    assert [(e.actor, e.detail) for e in stored.events if e.action == "assigned"] == [
        ("marie", None),
        ("karim", "marie"),
    ]


def test_notes_are_kept_in_order_and_bounded(fresh_db: TicketStore, clock: FakeClock):
    ticket = new_ticket(fresh_db)
    clock.advance(minutes=3)
    first = fresh_db.add_note(ticket.id, "  Rappel prévu mardi.  ", actor="marie")
    fresh_db.add_note(ticket.id, "x" * MAX_NOTE_CHARS, actor="karim")
    for bad in ("", "   \n", "x" * (MAX_NOTE_CHARS + 1)):
        with pytest.raises(ValueError, match="note"):
            fresh_db.add_note(ticket.id, bad, actor="marie")

    stored = fresh_db.get(ticket.id)
    assert stored is not None
    assert first.text == "Rappel prévu mardi." and first.ticket_id == ticket.id
    assert [n.author for n in stored.notes] == ["marie", "karim"]
    assert stored.notes[0] == first
    assert actions(stored) == ["created", "note", "note"]
    assert stored.updated_at == "2024-03-04T09:33:00+00:00"


def test_erasing_the_contact_keeps_the_ticket(fresh_db: TicketStore, location: Path | str):
    ticket = new_ticket(fresh_db)
    fresh_db.erase_contact(ticket.id, actor="marie")
    stored = fresh_db.get(ticket.id)
    assert stored is not None
    assert stored.contact_detail is None
    assert stored.contact_preference == "phone" and stored.summary == ticket.summary
    assert stored.transcript == TRANSCRIPT
    assert actions(stored) == ["created", "contact_erased"]
    # Nor in the search text that was written with the ticket.
    assert "06 12 34 56 78" not in str(raw_rows(location, "SELECT * FROM tickets"))


def test_seen_keeps_the_first_time_and_logs_each_look(fresh_db: TicketStore, clock: FakeClock):
    ticket = new_ticket(fresh_db)
    clock.advance(minutes=1)
    fresh_db.mark_seen(ticket.id, actor="marie")
    clock.advance(minutes=1)
    fresh_db.mark_seen(ticket.id, actor="karim")
    stored = fresh_db.get(ticket.id)
    assert stored is not None
    assert stored.seen_at == "2024-03-04T09:31:00+00:00"
    # Reading is not a change: retention counts from the last change.
    assert stored.updated_at == ticket.updated_at
    assert [(e.action, e.actor) for e in stored.events[1:]] == [
        ("seen", "marie"),
        ("seen", "karim"),
    ]


def test_an_export_is_audited_on_each_ticket_or_not_at_all(fresh_db: TicketStore):
    one, two = new_ticket(fresh_db), new_ticket(fresh_db, sender_id="conv-2")
    fresh_db.record_export([one.id, two.id, one.id], actor="marie", fmt="csv")
    for ticket_id in (one.id, two.id):
        stored = fresh_db.get(ticket_id)
        assert stored is not None
        assert [(e.action, e.detail) for e in stored.events[1:]] == [("export", "csv")]

    # One unknown id rolls the whole record back.
    with pytest.raises(KeyError):
        fresh_db.record_export([one.id, 99], actor="marie", fmt="json")
    assert actions(fresh_db.get(one.id)) == ["created", "export"]


# --- retention ------------------------------------------------------------------------------


def test_purge_deletes_only_closed_tickets_past_retention(fresh_db: TicketStore, clock: FakeClock):
    old_resolved = new_ticket(fresh_db, sender_id="old-resolved")
    old_abandoned = new_ticket(fresh_db, sender_id="old-abandoned")
    old_open = new_ticket(fresh_db, sender_id="old-open")
    fresh_db.set_status(old_resolved.id, "resolu", actor="marie", note="fait")
    fresh_db.set_status(old_abandoned.id, "abandonne", actor="marie")
    clock.advance(days=80)
    recent_resolved = new_ticket(fresh_db, sender_id="recent-resolved")
    fresh_db.set_status(recent_resolved.id, "resolu", actor="marie")

    assert fresh_db.purge(now=START + timedelta(days=89), retention_days=90) == 0
    assert fresh_db.purge(now=START + timedelta(days=91), retention_days=90) == 2
    assert {t.id for t in fresh_db.list()} == {old_open.id, recent_resolved.id}
    # The injected clock is used when no `now` is given.
    clock.advance(days=91)
    assert fresh_db.purge(retention_days=90) == 1
    assert {t.id for t in fresh_db.list()} == {old_open.id}


def test_purging_a_ticket_deletes_its_notes_and_events(
    fresh_db: TicketStore, clock: FakeClock, location: Path | str
):
    kept = new_ticket(fresh_db)
    gone = new_ticket(fresh_db, sender_id="conv-2")
    fresh_db.add_note(gone.id, "à supprimer", actor="marie")
    fresh_db.add_note(kept.id, "à garder", actor="marie")
    fresh_db.set_status(gone.id, "resolu", actor="marie")
    clock.advance(days=100)
    assert fresh_db.purge(retention_days=90) == 1

    assert raw_rows(location, "SELECT DISTINCT ticket_id FROM ticket_notes") == [(kept.id,)]
    assert raw_rows(location, "SELECT DISTINCT ticket_id FROM ticket_events") == [(kept.id,)]


# --- the database itself --------------------------------------------------------------------


def table_and_index_names(location: Path | str) -> set[str]:
    if pg.is_url(location):
        return {
            name
            for (name,) in raw_rows(
                location,
                "SELECT tablename FROM pg_tables WHERE schemaname = 'tickets' UNION"
                " SELECT indexname FROM pg_indexes WHERE schemaname = 'tickets'",
            )
        }
    return {name for (name,) in raw_rows(location, "SELECT name FROM sqlite_master")}


def test_schema_version_is_recorded_and_reopening_changes_nothing(location: Path | str):
    with TicketStore(location) as store:
        assert store.schema_version == len(tickets.MIGRATIONS) == 5
        new_ticket(store)
    with TicketStore(location) as again:
        assert again.schema_version == 5
        assert [t.sender_id for t in again.list()] == ["conv-1"]
    names = table_and_index_names(location)
    assert {
        "tickets",
        "ticket_notes",
        "ticket_events",
        "pending_contacts",
        "call_attempts",
    } <= names
    assert {"idx_tickets_status", "idx_tickets_created_at", "idx_tickets_sender_id"} <= names
    assert not any(name.endswith("_v4") for name in names)
    if pg.is_url(location):
        assert raw_rows(location, "SELECT version FROM schema_version") == [(5,)]
    else:
        assert raw_rows(location, "PRAGMA user_version") == [(5,)]


def test_a_new_file_keeps_the_ids_of_before(db_path: Path):
    # SQLite only: the DDL of its ids is what files made by earlier versions have.
    with TicketStore(db_path):
        pass
    schema = {
        name: sql for name, sql in raw_rows(db_path, "SELECT name, sql FROM sqlite_master") if sql
    }
    assert "id INTEGER PRIMARY KEY AUTOINCREMENT," in schema["tickets"]
    for table in ("ticket_notes", "ticket_events", "call_attempts"):
        assert "id INTEGER PRIMARY KEY," in schema[table], table


def test_a_new_migration_is_applied_once_on_open(location: Path | str, monkeypatch):
    with TicketStore(location) as store:
        new_ticket(store)
    calls: list[int] = []

    def add_priority(db: Any) -> None:
        calls.append(1)
        db.execute("ALTER TABLE tickets ADD COLUMN priority INTEGER NOT NULL DEFAULT 0")

    monkeypatch.setattr(tickets, "MIGRATIONS", (*tickets.MIGRATIONS, add_priority))
    with TicketStore(location) as store:
        assert store.schema_version == len(tickets.MIGRATIONS) == 6
    with TicketStore(location) as store:
        assert store.schema_version == 6
    assert calls == [1]
    assert raw_rows(location, "SELECT priority FROM tickets") == [(0,)]


def test_the_database_uses_wal(db_path: Path):
    # SQLite only: PostgreSQL has no journal mode to choose.
    with TicketStore(db_path) as store:
        assert store.journal_mode == "wal"
    assert raw_rows(db_path, "PRAGMA journal_mode") == [("wal",)]


def test_the_database_enforces_constraints(fresh_db: TicketStore, location: Path | str):
    import psycopg2

    # The CHECK constraint guards the table even against a write that skips the store.
    with pytest.raises((sqlite3.IntegrityError, psycopg2.IntegrityError)):
        raw_write(
            location,
            "INSERT INTO tickets (created_at, updated_at, status, channel, reason, sender_id,"
            " contact_preference, summary) VALUES ('', '', 'ferme', 'kiosk', 'asked', 'x',"
            " 'desk', '')",
        )
    # Through the store, the engine's error is the stores' own DB-API class: here a call
    # attempt of a ticket that does not exist (foreign keys are enforced on both engines).
    orphan = {"ticket_id": 999, "at": "", "actor": "x", "outcome": "answered"}
    with pytest.raises(sqlite3.IntegrityError):
        fresh_db._transact(lambda db: db.insert("call_attempts", orphan))
    assert fresh_db.list() == []


def test_open_creates_the_data_folder(tmp_path: Path):
    settings = Settings.from_env({"DATA_DIR": str(tmp_path / "new" / "var")})
    with TicketStore.open(settings) as store:
        new_ticket(store)
    assert (tmp_path / "new" / "var" / "tickets.db").is_file()


def test_open_uses_the_database_url_and_makes_no_folder(tmp_path: Path, fresh_pg_url: str):
    settings = Settings.from_env(
        {"DATA_DIR": str(tmp_path / "new" / "var"), "DATABASE_URL": fresh_pg_url}
    )
    with TicketStore.open(settings) as store:
        assert store.dialect == "postgresql"
        created = new_ticket(store)
    assert not (tmp_path / "new").exists()
    assert raw_rows(fresh_pg_url, "SELECT id, sender_id FROM tickets") == [(created.id, "conv-1")]


def test_fifty_visitors_handed_over_at_once_get_fifty_tickets(location: Path | str):
    def hand_over(n: int) -> tuple[int, str]:
        # One store per worker, as separate processes would have.
        with TicketStore(location) as store:
            ticket = new_ticket(store, sender_id=f"conv-{n}")
            return ticket.id, ticket.sender_id

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(hand_over, range(50)))

    assert len({ticket_id for ticket_id, _ in results}) == 50
    with TicketStore(location) as store:
        stored = store.list(limit=100)
        assert {t.id: t.sender_id for t in stored} == dict(results)
        assert store.sender_ids() == {f"conv-{n}" for n in range(50)}
        assert all(actions(store.get(t.id)) == ["created"] for t in stored)


def test_one_store_shared_by_threads(fresh_db: TicketStore):
    def hand_over(n: int) -> int:
        ticket = new_ticket(fresh_db, sender_id=f"conv-{n}")
        fresh_db.add_note(ticket.id, f"note {n}", actor="marie")
        return ticket.id

    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(hand_over, range(40)))
    assert len(set(ids)) == 40
    for ticket_id in ids:
        stored = fresh_db.get(ticket_id)
        assert stored is not None and actions(stored) == ["created", "note"]


# --- exports --------------------------------------------------------------------------------


def read_french_csv(content: str) -> list[list[str]]:
    """Rows as a French spreadsheet reads them: the BOM first, then `;`."""
    assert content.startswith("\ufeff"), "no UTF-8 byte-order mark"
    return list(csv.reader(io.StringIO(content[1:], newline=""), delimiter=";"))


def test_csv_export_opens_in_a_french_spreadsheet(fresh_db: TicketStore, clock: FakeClock):
    first = new_ticket(fresh_db, visitor_sentence='=HYPERLINK("http://x")', kiosk="Borne 2")
    new_ticket(fresh_db, sender_id="conv-2", contact_detail=None, step=None, steps=None)
    fresh_db.take(first.id, actor="camille")
    fresh_db.record_call(first.id, "no_answer", actor="camille", note="sonne dans le vide")
    fresh_db.set_status(
        first.id, "a_rappeler", actor="camille", next_call=START + timedelta(days=1)
    )
    fresh_db.add_note(first.id, "Rappeler après 14 h.", actor="camille")
    out = io.StringIO()
    export_csv(fresh_db.export(), out, titles={"impots.paiement": "Payer ses impôts"})
    rows = read_french_csv(out.getvalue())
    assert rows[0][:4] == ["Numéro", "Créé le", "Modifié le", "Statut"]
    named = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [r["Numéro"] for r in named] == ["2", "1"]
    one = named[1]
    # Local time (Paris is UTC+1 in March), French values, never ids.
    assert one["Créé le"] == "04/03/2024 10:30"
    assert one["Statut"] == "à rappeler" and one["Canal"] == "borne"
    assert one["Borne"] == "Borne 2" and one["Démarche"] == "Payer ses impôts"
    assert one["Motif"] == "bloqué(e) sur une étape" and one["Étape"] == "2 sur 4"
    assert one["Souhait"] == "par téléphone" and one["Suivi par"] == "camille"
    assert one["Consulté"] == "non" and one["Prochain appel"] == "05/03/2024 10:30"
    assert one["Appels"] == "04/03/2024 10:30, pas de réponse (camille) : sonne dans le vide"
    assert "Rappeler après 14 h." in one["Notes"]
    # A visitor's text must not run as a formula in a spreadsheet.
    assert one["Phrase du visiteur"] == '\'=HYPERLINK("http://x")'
    assert named[0]["Contact"] == "" and named[0]["Étape"] == ""
    assert "payer impot" not in out.getvalue()  # no transcript
    assert "impots.paiement" not in out.getvalue()


def test_json_export_adds_the_transcript(fresh_db: TicketStore):
    new_ticket(fresh_db)
    out = io.StringIO()
    export_json(fresh_db.export(), out)
    data = json.loads(out.getvalue())
    assert len(data) == 1
    assert set(data[0]) == {*tickets.EXPORT_COLUMNS, "calls", "transcript"}
    assert data[0]["transcript"] == TRANSCRIPT
    assert data[0]["summary"] == "Démarche : Payer ses impôts, étape 2 sur 4."
    assert "étape" in out.getvalue()  # French kept readable, not \u-escaped


def test_a_contact_waits_outside_the_conversation_until_a_ticket_takes_it(fresh_db: TicketStore):
    fresh_db.hold_contact("conv-9", "phone", "0612345678")
    fresh_db.hold_contact("conv-9", "email", "a@b.fr")  # the latest one wins
    assert fresh_db.peek_contact("conv-9") == ("email", "a@b.fr")
    assert fresh_db.peek_contact("other") is None
    with pytest.raises(ValueError):
        fresh_db.hold_contact("conv-9", "fax", "x")
    ticket = new_ticket(fresh_db, sender_id="conv-9", contact_detail="a@b.fr")
    assert ticket.contact_detail == "a@b.fr"
    assert fresh_db.peek_contact("conv-9") is None


def test_waiting_contacts_are_dropped_or_forgotten(location: Path | str):
    moments = iter(
        [
            datetime(2026, 1, 1, 10, tzinfo=timezone.utc),
            datetime(2026, 1, 1, 12, tzinfo=timezone.utc),
        ]
    )
    with TicketStore(location, clock=lambda: next(moments)) as store:
        store.hold_contact("old", "phone", "0612345678")
        store.hold_contact("new", "phone", "0698765432")
        forgotten = store.purge_pending_contacts(
            older_than=datetime(2026, 1, 1, 11, tzinfo=timezone.utc)
        )
        assert forgotten == 1
        assert store.peek_contact("old") is None and store.peek_contact("new")
        store.drop_contact("new")
        assert store.peek_contact("new") is None


FORMULAS = (
    "bonjour;=cmd|'/C calc'!A0",
    '=HYPERLINK("http://x")',
    "ok, +33 6 12 34 56 78",
    "a\t@SUM(A1:A9)",
    "rien;  -2+3",
    'texte;"=1+1"',
    "ligne\n=EXEC()",
    "fin,@evil",
)


def test_csv_export_is_safe_whatever_separator_the_spreadsheet_uses(fresh_db: TicketStore):
    for n, text in enumerate(FORMULAS):
        new_ticket(fresh_db, sender_id=f"conv-{n}", visitor_sentence=text, contact_detail=text)
    out = io.StringIO()
    export_csv(fresh_db.list(), out)
    content = out.getvalue()
    # Every cell is quoted, so that a separator inside a value stays in its cell.
    assert content.startswith('\ufeff"Numéro";"Créé le"')
    for delimiter in (",", ";", "\t"):
        for row in csv.reader(io.StringIO(content[1:]), delimiter=delimiter):
            for cell in row:
                # A line inside a cell may become a row of its own; quotes left over by
                # a wrong separator do not protect. A leading apostrophe does.
                for line in cell.splitlines() or [""]:
                    assert line.strip().lstrip('"')[:1] not in ("=", "+", "-", "@"), (
                        delimiter,
                        cell,
                    )
    # Read with the right separator, values stay readable: one apostrophe in front.
    rows = read_french_csv(content)
    column = rows[0].index("Phrase du visiteur")
    sentences = {r[column] for r in rows[1:]}
    assert "bonjour;'=cmd|'/C calc'!A0" in sentences
    assert "ok, '+33 6 12 34 56 78" in sentences
    assert "ligne\n'=EXEC()" in sentences


def test_ordinary_values_are_exported_unchanged(fresh_db: TicketStore):
    plain = "je n'arrive pas à payer - le site dit 3-4 jours"
    new_ticket(fresh_db, visitor_sentence=plain)
    out = io.StringIO()
    export_csv(fresh_db.list(), out)
    header, row = read_french_csv(out.getvalue())
    assert row[header.index("Phrase du visiteur")] == plain


# --- hand-off limits ------------------------------------------------------------------------


def test_limits_are_checked_atomically_by_concurrent_creators(
    location: Path | str, clock: FakeClock
):
    limits = tickets.HandoffLimits(per_conversation=2, per_minute=5)

    def hand_over(sender: str) -> str:
        # One store per worker, as separate processes would have.
        with TicketStore(location, clock=clock) as store:
            try:
                new_ticket(store, sender_id=sender, limits=limits)
            except tickets.HandoffLimitReached as reached:
                return reached.kind
            return "created"

    with ThreadPoolExecutor(max_workers=10) as pool:
        same = list(pool.map(hand_over, ["same"] * 10))
    assert sorted(same) == ["created"] * 2 + [tickets.LIMIT_CONVERSATION] * 8
    clock.advance(seconds=61)  # those two are now older than a minute
    with ThreadPoolExecutor(max_workers=20) as pool:
        many = list(pool.map(hand_over, [f"conv-{n}" for n in range(20)]))
    assert sorted(many) == ["created"] * 5 + [tickets.LIMIT_FLOOD] * 15
    with TicketStore(location, clock=clock) as store:
        assert len(store.list(limit=100)) == 7
        reached = store.handoff_limit("newcomer", limits)
        assert reached is not None and reached.kind == tickets.LIMIT_FLOOD
        clock.advance(seconds=61)
        assert store.handoff_limit("newcomer", limits) is None
        reached = store.handoff_limit("same", limits)
        assert reached is not None and reached.kind == tickets.LIMIT_CONVERSATION


# A process of Rasa's action server: its own store, three threads handing over at once.
FLOOD_WORKER = """
import sys, threading
from bot.settings import Settings
from bot.tickets import HandoffLimitReached, HandoffLimits, TicketStore

location, name = sys.argv[1], sys.argv[2]
limits = HandoffLimits.from_settings(Settings.from_env())
results = []
with TicketStore(location) as store:
    def hand_over(n):
        for i in range(8):
            try:
                store.create(sender_id=f"{name}-{n}-{i}", channel="widget", reason="asked",
                             contact_preference="later", summary="Demande.", transcript=[],
                             limits=limits)
                results.append("created")
            except HandoffLimitReached as reached:
                results.append(reached.kind)
    print("ready", flush=True)
    sys.stdin.readline()
    threads = [threading.Thread(target=hand_over, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
print(" ".join(results), flush=True)
"""


def test_two_processes_never_pass_the_flood_limit_together(location: Path | str):
    # Real processes, each with its own connections: on PostgreSQL, the store's advisory
    # lock is what keeps the count exact; on SQLite, BEGIN IMMEDIATE.
    TicketStore(location).close()  # the schema exists before the race
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HANDOFFS_PER_MINUTE": "7",
           "HANDOFFS_PER_CONVERSATION": "3"}  # fmt: skip
    workers = [
        subprocess.Popen(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "-c", FLOOD_WORKER, str(location), f"process-{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
        for worker in workers:  # both start together
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=120)[0].split() for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert [worker.returncode for worker in workers] == [0, 0]
    results = outputs[0] + outputs[1]
    assert len(results) == 48
    assert sorted(results) == ["created"] * 7 + [tickets.LIMIT_FLOOD] * 41
    assert raw_rows(location, "SELECT COUNT(*) FROM tickets") == [(7,)]


def test_the_flood_window_is_one_minute(fresh_db: TicketStore, clock: FakeClock):
    limits = tickets.HandoffLimits(per_conversation=10, per_minute=2)
    new_ticket(fresh_db, sender_id="a", limits=limits)
    clock.advance(seconds=30)
    new_ticket(fresh_db, sender_id="b", limits=limits)
    with pytest.raises(tickets.HandoffLimitReached) as raised:
        new_ticket(fresh_db, sender_id="c", limits=limits)
    assert (raised.value.kind, raised.value.count, raised.value.limit) == ("handoff_flood", 2, 2)
    clock.advance(seconds=31)  # the first one is now older than a minute
    new_ticket(fresh_db, sender_id="c", limits=limits)


# --- call-back workflow, search, migration 4 ------------------------------------------------


def old_ticket(store: TicketStore, **overrides: Any) -> Ticket:
    """A ticket as the code of an older schema wrote it: only the columns of version 3."""
    at = store._now()
    record: dict[str, Any] = {
        "created_at": at,
        "updated_at": at,
        "status": "nouveau",
        "channel": "kiosk",
        "reason": "stuck",
        "sender_id": "conv-1",
        "guide_id": "impots.paiement",
        "step": 2,
        "steps": 4,
        "contact_preference": "phone",
        "contact_detail": "06 12 34 56 78",
        "visitor_sentence": "je n'arrive pas à payer",
        "summary": "Démarche : Payer ses impôts, étape 2 sur 4.",
        "transcript": json.dumps(TRANSCRIPT, ensure_ascii=False),
        "kiosk": None,
    } | overrides

    def write(db: Any) -> int:
        ticket_id = db.insert("tickets", record)
        created = {"ticket_id": ticket_id, "at": at, "actor": "guichet", "action": "created"}
        db.insert("ticket_events", {**created, "to_status": "nouveau"})
        return int(ticket_id)

    return Ticket.from_row({**record, "id": store._transact(write)})


def test_an_older_schema_is_brought_up_to_date_on_either_engine(
    location: Path | str, clock: FakeClock, monkeypatch
):
    monkeypatch.setattr(tickets, "MIGRATIONS", tickets.MIGRATIONS[:3])
    with TicketStore(location, clock=clock) as old:
        assert old.schema_version == 3
        first = old_ticket(old, kiosk="Borne 1", visitor_sentence="Je dois DÉCLARER mes impôts")
        old.add_note(first.id, "Note d'avant.", actor="marie")
        gone = old_ticket(old, sender_id="conv-2")
        raw_write(location, "UPDATE tickets SET status = 'resolu' WHERE id = ?", (gone.id,))
        clock.advance(days=400)
        assert old.purge(retention_days=30) == 1  # the highest id is gone
        # A version 3 table refuses the new statuses, on either engine.
        import psycopg2

        with pytest.raises((sqlite3.IntegrityError, psycopg2.IntegrityError)):
            raw_write(location, "UPDATE tickets SET status = 'a_rappeler' WHERE id = ?", (1,))
    monkeypatch.undo()

    with TicketStore(location, clock=clock) as store:
        assert store.schema_version == len(tickets.MIGRATIONS) == 5
        kept = store.get(first.id)
        assert kept is not None and kept.kiosk == "Borne 1" and kept.next_call_at is None
        assert [n.text for n in kept.notes] == ["Note d'avant."]
        # Migration 5 wrote the search text of the tickets already there.
        assert [t.id for t in store.list(query="impots declarer")] == [first.id]
        assert [t.id for t in store.list(query="borne")] == [first.id]
        # A purged ticket's number is never given again.
        assert new_ticket(store, sender_id="conv-3").id == gone.id + 1
        store.set_status(first.id, "a_rappeler", actor="marie", next_call=START)
        store.record_call(first.id, "voicemail", actor="marie")
        assert store.count_by_status()["a_rappeler"] == 1
        store.set_status(first.id, "resolu", actor="marie")
        clock.advance(days=400)
        assert store.purge(retention_days=30) == 1
    # Notes, events and calls went with their ticket.
    for table in ("ticket_notes", "ticket_events", "call_attempts"):
        left = raw_rows(location, f"SELECT COUNT(*) FROM {table} WHERE ticket_id = ?", (1,))
        assert left == [(0,)], table


def test_a_version_3_database_keeps_everything_through_migration_4(
    db_path: Path, clock: FakeClock, monkeypatch
):
    # SQLite only: migration 4 rebuilds the tables of files made by earlier versions.
    monkeypatch.setattr(tickets, "MIGRATIONS", tickets.MIGRATIONS[:3])
    with TicketStore(db_path, clock=clock) as old:
        assert old.schema_version == 3
        first = old_ticket(old, kiosk="Borne 1")
        old.add_note(first.id, "Note d'avant.", actor="marie")
        second = old_ticket(old, sender_id="conv-2")
        third = old_ticket(old, sender_id="conv-3")
    # The v3 code's status changes, as it wrote them.
    with closing(sqlite3.connect(db_path)) as conn, conn:
        for ticket_id, status in ((first.id, "en_cours"), (third.id, "resolu")):
            conn.execute("UPDATE tickets SET status = ? WHERE id = ?", (status, ticket_id))
            conn.execute(
                "INSERT INTO ticket_events (ticket_id, at, actor, action, from_status, to_status)"
                " VALUES (?, ?, 'marie', 'status', 'nouveau', ?)",
                (ticket_id, START.isoformat(), status),
            )
    with TicketStore(db_path, clock=clock) as old:
        clock.advance(days=400)
        assert old.purge(retention_days=30) == 1  # the highest id is gone
        old.hold_contact("conv-9", "phone", "0612345678")
        # A v3 table refuses the new statuses.
        with closing(sqlite3.connect(db_path)) as conn, pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE tickets SET status = 'a_rappeler' WHERE id = ?", (first.id,))
    monkeypatch.undo()

    with TicketStore(db_path, clock=clock) as store:
        assert store.schema_version == len(tickets.MIGRATIONS)
        kept = store.get(first.id)
        assert kept is not None and kept.kiosk == "Borne 1" and kept.status == "en_cours"
        assert [n.text for n in kept.notes] == ["Note d'avant."]
        assert actions(kept) == ["created", "note", "status"]
        assert kept.transcript == TRANSCRIPT and kept.next_call_at is None
        assert [t.id for t in store.list(query="borne")] == [first.id]
        assert store.get(second.id) is not None
        assert store.peek_contact("conv-9") == ("phone", "0612345678")
        # A purged ticket's number is never given again.
        assert new_ticket(store, sender_id="conv-4").id == third.id + 1
        store.set_status(first.id, "a_rappeler", actor="marie")
        # Foreign keys still cascade from the rebuilt table.
        store.set_status(first.id, "resolu", actor="marie")
        store.record_call(second.id, "voicemail", actor="marie")
        clock.advance(days=400)
        store.set_status(second.id, "abandonne", actor="marie")
        clock.advance(days=400)
        store.purge(retention_days=30)
    assert raw_rows(db_path, "PRAGMA foreign_key_check") == []
    assert raw_rows(db_path, "SELECT COUNT(*) FROM ticket_notes") == [(0,)]
    assert raw_rows(db_path, "SELECT COUNT(*) FROM call_attempts") == [(0,)]
    schema = " ".join(sql for (sql,) in raw_rows(db_path, "SELECT sql FROM sqlite_master") if sql)
    assert "_v4" not in schema


def test_taking_a_ticket_moves_a_new_one_to_en_cours(fresh_db: TicketStore):
    ticket = new_ticket(fresh_db)
    assert fresh_db.take(ticket.id, actor="camille") == "nouveau"
    taken = fresh_db.get(ticket.id)
    assert taken is not None and taken.status == "en_cours" and taken.assigned_to == "camille"
    assert actions(taken) == ["created", "assigned", "status"]
    fresh_db.set_status(ticket.id, "a_rappeler", actor="camille")
    # Someone else takes it over: the status is left alone.
    assert fresh_db.take(ticket.id, actor="dominique") == "a_rappeler"
    again = fresh_db.get(ticket.id)
    assert again is not None and again.status == "a_rappeler"
    assert again.assigned_to == "dominique" and again.events[-1].detail == "camille"
    with pytest.raises(KeyError):
        fresh_db.take(999, actor="camille")


def test_call_attempts_and_the_next_call_date(fresh_db: TicketStore, clock: FakeClock):
    ticket = new_ticket(fresh_db)
    fresh_db.record_call(ticket.id, "no_answer", actor="camille")
    clock.advance(hours=2)
    fresh_db.record_call(ticket.id, "voicemail", actor="camille", note="message laissé")
    tomorrow = START + timedelta(days=1, hours=1)
    fresh_db.set_status(ticket.id, "a_rappeler", actor="camille", next_call=tomorrow)
    stored = fresh_db.get(ticket.id)
    assert stored is not None
    assert [(c.outcome, c.note, c.actor) for c in stored.calls] == [
        ("no_answer", None, "camille"),
        ("voicemail", "message laissé", "camille"),
    ]
    assert stored.calls[1].at == "2024-03-04T11:30:00+00:00"
    assert stored.status == "a_rappeler" and stored.next_call_at == "2024-03-05T10:30:00+00:00"
    assert actions(stored) == ["created", "call", "call", "status"]
    fresh_db.set_status(ticket.id, "injoignable", actor="camille", next_call=tomorrow)
    fresh_db.set_status(ticket.id, "resolu", actor="camille")
    closed = fresh_db.get(ticket.id)
    assert closed is not None and closed.next_call_at is None  # no call for a closed ticket
    with pytest.raises(ValueError, match="outcome"):
        fresh_db.record_call(ticket.id, "busy", actor="camille")
    assert fresh_db.count_by_status()["resolu"] == 1


def test_erasing_the_contact_leaves_it_nowhere(fresh_db: TicketStore, location: Path | str):
    ticket = new_ticket(fresh_db, contact_detail="06 12 34 56 78")
    fresh_db.record_call(
        ticket.id, "wrong_number", actor="camille", note="0612345678 ne répond pas"
    )
    fresh_db.add_note(ticket.id, "Numéro noté : +33 6 12 34 56 78.", actor="camille")
    fresh_db.erase_contact(ticket.id, actor="camille")
    erased = fresh_db.get(ticket.id)
    assert erased is not None and erased.contact_detail is None
    assert erased.calls[0].note == "[contact effacé] ne répond pas"
    assert erased.notes[0].text == "Numéro noté : [contact effacé]."
    for table in ("tickets", "ticket_notes", "call_attempts", "ticket_events"):
        rows = str(raw_rows(location, f"SELECT * FROM {table}"))
        assert "0612345678" not in rows and "12 34 56 78" not in rows, table
    if pg.is_url(location):
        return  # PostgreSQL keeps no promise about its files' bytes (README, « Scaling out »)
    assert isinstance(location, Path)
    for name in ("tickets.db", "tickets.db-wal", "tickets.db-shm"):
        path = location.parent / name
        if path.exists():
            data = path.read_bytes()
            assert b"0612345678" not in data and b"12 34 56 78" not in data, name


def test_an_email_is_scrubbed_whatever_its_case():
    assert tickets.scrub_contact(
        "Écrit à Jean.Dupont@Exemple.fr hier", "jean.dupont@exemple.fr"
    ) == ("Écrit à [contact effacé] hier")
    assert tickets.scrub_contact("le 06 98 76 54 32", "06 12 34 56 78") == "le 06 98 76 54 32"


def test_search_by_number_phone_email_and_words(fresh_db: TicketStore):
    phone = new_ticket(fresh_db, sender_id="a", contact_detail="06 12 34 56 78")
    email = new_ticket(
        fresh_db,
        sender_id="b",
        contact_preference="email",
        contact_detail="Jean.Dupont@exemple.fr",
        visitor_sentence="Je n'arrive pas à déclarer mes impôts",
    )
    words = new_ticket(
        fresh_db,
        sender_id="c",
        contact_detail=None,
        visitor_sentence=None,
        summary="Démarche : aucun guide en cours.",
        transcript=[{"at": START.isoformat(), "who": "visitor", "text": "Ma CAF a bloqué l'APL"}],
    )

    def found(text: str) -> list[int]:
        return [t.id for t in fresh_db.list(query=text)]

    assert found(str(email.id)) == [email.id]
    assert found(f"n° {words.id}") == [words.id]
    for spelling in ("0612 34 56 78", "06.12.34.56.78", "0612345678", "+33 6 12 34 56 78"):
        assert found(spelling) == [phone.id], spelling
    assert found("jean.dupont@EXEMPLE.fr") == [email.id]
    assert found("dupont") == [email.id]
    assert found("IMPOTS declarer") == [email.id]  # accents and case ignored
    assert found("caf bloque") == [words.id]
    assert found("apl impôts") == []  # every word must be found
    assert found("visitor") == []  # the transcript's JSON keys are not searched
    assert found("100%_") == []
    assert found("   ") == [words.id, email.id, phone.id]
    # Filters and search together.
    fresh_db.set_status(email.id, "injoignable", actor="camille")
    assert [t.id for t in fresh_db.list(query="dupont", status="nouveau")] == []
    assert [t.id for t in fresh_db.list(query="dupont", status="injoignable")] == [email.id]


def test_alerts_give_the_newest_ticket_and_the_new_ones(fresh_db: TicketStore):
    assert fresh_db.alerts() == {"latest": 0, "count": 0, "tickets": []}
    first = new_ticket(fresh_db, contact_preference="desk", contact_detail=None, kiosk="Borne 2")
    second = new_ticket(fresh_db, sender_id="conv-2")
    fresh_db.take(second.id, actor="camille")
    found = fresh_db.alerts()
    assert found["latest"] == second.id and found["count"] == 1
    assert [(t.id, t.kiosk) for t in found["tickets"]] == [(first.id, "Borne 2")]
