"""`python -m bot.tickets`: a mediator lists, reads, exports and purges tickets from a terminal,
in French, against the DATA_DIR of the environment; every test runs with the tickets in
SQLite and again with DATABASE_URL pointing at PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.settings import get_settings
from bot.tickets import Ticket, TicketStore, guide_titles, main

NOW = datetime.now(timezone.utc)
TRANSCRIPT: list[dict[str, Any]] = [
    {"at": "2024-03-04T09:29:00+00:00", "who": "visitor", "text": "payer impot", "intent": None},
    {
        "at": "2024-03-04T09:29:05+00:00",
        "who": "bot",
        "text": "Étape 2 sur 4",
        "buttons": ["Je bloque"],
        "marker": {"guide": "impots.paiement", "step": 2, "steps": 4},
    },
]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database) -> Path:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    # The tickets in DATA_DIR/tickets.db, or in PostgreSQL as the environment says.
    location = database("tickets")
    monkeypatch.setenv("DATABASE_URL", location if isinstance(location, str) else "sqlite")
    monkeypatch.setenv("TICKET_RETENTION_DAYS", "90")
    monkeypatch.setenv("CONVERSATION_RETENTION_DAYS", "30")
    return tmp_path


@pytest.fixture
def add_ticket(data_dir: Path) -> Callable[..., Ticket]:
    """Create a ticket as the bot would have, `days_ago` days ago."""

    def _add(days_ago: float = 0, status: str | None = None, **overrides: Any) -> Ticket:
        then = NOW - timedelta(days=days_ago)
        values: dict[str, Any] = {
            "sender_id": "conv-1",
            "channel": "widget",
            "reason": "stuck",
            "contact_preference": "phone",
            "contact_detail": "06 12 34 56 78",
            "guide_id": "impots.paiement",
            "step": 2,
            "steps": 4,
            "summary": "Démarche : Payer ses impôts, étape 2 sur 4. Motif : bloqué(e).",
            "transcript": TRANSCRIPT,
        }
        with TicketStore.open(get_settings(), clock=lambda: then) as store:
            ticket = store.create(**(values | overrides))
            if status:
                store.set_status(ticket.id, status, actor="marie")
        return ticket

    return _add


def hhmm(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")


def stored(ticket_id: int) -> Ticket:
    with TicketStore.open() as store:
        ticket = store.get(ticket_id)
    assert ticket is not None
    return ticket


def test_list_says_when_there_is_nothing(data_dir: Path, capsys):
    assert main(["list"]) == 0
    assert capsys.readouterr().out == "Aucun ticket.\n"


def test_list_shows_newest_first_filtered_and_limited(add_ticket, data_dir: Path, capsys):
    first = add_ticket(days_ago=2, sender_id="a")
    second = add_ticket(days_ago=1, sender_id="b", status="en_cours", guide_id=None)
    third = add_ticket(sender_id="c", reason="asked", channel="kiosk")
    # Where the environment says: the file only when DATABASE_URL is sqlite.
    assert (data_dir / "tickets.db").exists() == (get_settings().database_url == "")

    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:3]] == [f"#{t.id}" for t in (third, second, first)]
    assert "borne" in lines[0] and "a demandé à parler à une personne" in lines[0]
    assert "en cours" in lines[1] and "sans guide" in lines[1]
    assert lines[-1] == "3 ticket(s) affiché(s)."

    assert main(["list", "--status", "en_cours"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(f"#{second.id} ")
    assert main(["list", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert f"#{third.id} " in out and f"#{first.id} " not in out


def test_show_gives_the_whole_story_of_a_ticket(add_ticket, capsys):
    ticket = add_ticket()
    with TicketStore.open() as store:
        store.assign(ticket.id, actor="marie")
        store.add_note(ticket.id, "Rappeler après 14 h.", actor="marie")

    assert main(["show", str(ticket.id)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Ticket {ticket.id} — nouveau\n")
    assert "Canal : site web" in out
    assert "Motif : bloqué(e) sur une étape" in out
    assert f"Démarche : {guide_titles()['impots.paiement']}, étape 2 sur 4" in out
    assert "Contact : par téléphone — 06 12 34 56 78" in out
    assert "Suivi par : marie" in out
    assert "Appels\n  Aucun appel.\n" in out
    assert ticket.summary in out
    assert "marie : Rappeler après 14 h." in out
    assert "ticket créé" in out and "pris en charge" in out and "note ajoutée" in out
    conversation = out.split("Conversation\n")[1].splitlines()
    assert conversation == [
        f"  {hhmm(TRANSCRIPT[0]['at'])} Visiteur : payer impot",
        f"  {hhmm(TRANSCRIPT[1]['at'])} Guichet : Étape 2 sur 4 [Je bloque]",
    ]


def test_show_after_the_contact_was_erased(add_ticket, capsys):
    ticket = add_ticket()
    with TicketStore.open() as store:
        store.erase_contact(ticket.id, actor="marie")
    assert main(["show", str(ticket.id)]) == 0
    out = capsys.readouterr().out
    assert "Contact : par téléphone\n" in out and "06 12" not in out
    assert "coordonnées effacées" in out


def test_an_unknown_ticket_is_an_error(data_dir: Path, capsys):
    assert main(["show", "12"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "Ticket 12 introuvable.\n" and captured.out == ""


def test_csv_export_to_the_screen_is_audited(add_ticket, capsys):
    one = add_ticket(sender_id="a", visitor_sentence="je bloque au code")
    two = add_ticket(sender_id="b", status="resolu")

    assert main(["export", "--format", "csv"]) == 0
    rows = french_rows(capsys.readouterr().out)
    assert {r["Numéro"] for r in rows} == {str(one.id), str(two.id)}
    assert {r["Statut"] for r in rows} == {"nouveau", "résolu"}
    assert {r["Démarche"] for r in rows} == {guide_titles()["impots.paiement"]}
    assert "transcript" not in rows[0] and "Conversation" not in rows[0]

    assert main(["export", "--format", "csv", "--status", "resolu"]) == 0
    rows = french_rows(capsys.readouterr().out)
    assert [r["Numéro"] for r in rows] == [str(two.id)]

    exports = [(e.actor, e.detail) for e in stored(two.id).events if e.action == "export"]
    assert exports == [("cli", "csv"), ("cli", "csv")]
    assert [e.action for e in stored(one.id).events].count("export") == 1


def french_rows(content: str) -> list[dict[str, str]]:
    assert content.startswith("\ufeff")
    header, *rows = csv.reader(io.StringIO(content[1:]), delimiter=";")
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_the_cli_knows_call_backs(add_ticket, data_dir: Path, capsys):
    ticket = add_ticket(transcript=[
        {"at": "2024-03-04T09:29:00+00:00", "who": "bot", "text": "Étape 2 sur 4",
         "buttons": ["Étape suivante"], "payloads": ["/next_step"]},
        {"at": "2024-03-04T09:29:30+00:00", "who": "visitor", "text": "/next_step"},
        {"at": "2024-03-04T09:30:00+00:00", "who": "visitor",
         "text": '/choose_contact{"contact_preference": "phone"}'},
    ])  # fmt: skip
    with TicketStore.open() as store:
        store.take(ticket.id, actor="marie")
        store.record_call(ticket.id, "voicemail", actor="marie", note="message laissé")
        store.set_status(ticket.id, "a_rappeler", actor="marie", next_call=NOW + timedelta(days=1))
    assert main(["list", "--status", "a_rappeler"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"#{ticket.id} ") and "à rappeler" in line and "suivi par marie" in line
    assert main(["show", str(ticket.id)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Ticket {ticket.id} — à rappeler\n")
    assert "Prochain appel : " in out
    assert ", messagerie (marie) : message laissé" in out.split("Appels\n")[1]
    conversation = out.split("Conversation\n")[1]
    assert "Visiteur : [bouton] Étape suivante" in conversation
    assert "Visiteur : [bouton] Être rappelé par téléphone" in conversation
    assert "/next_step" not in conversation and "choose_contact" not in conversation
    target = data_dir / "export.csv"
    assert main(["export", "--format", "csv", "--output", str(target)]) == 0
    row = french_rows(target.read_text(encoding="utf-8"))[0]
    assert row["Statut"] == "à rappeler" and row["Suivi par"] == "marie"
    assert row["Appels"].endswith(", messagerie (marie) : message laissé")


def test_json_export_to_a_file(add_ticket, data_dir: Path, capsys):
    ticket = add_ticket()
    target = data_dir / "export.json"
    assert main(["export", "--format", "json", "--output", str(target)]) == 0
    assert capsys.readouterr().out == f"1 ticket(s) exporté(s) dans {target}.\n"
    data = json.loads(target.read_text(encoding="utf-8"))
    assert [item["id"] for item in data] == [ticket.id]
    assert data[0]["transcript"] == TRANSCRIPT
    assert [(e.action, e.detail) for e in stored(ticket.id).events][-1] == ("export", "json")


def test_export_needs_a_known_format(data_dir: Path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--format", "xls"])
    assert exit_info.value.code == 2


def make_tracker(path: Path, conversations: dict[str, float]) -> None:
    """A Rasa tracker store with one visitor message per conversation, `days ago`."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT,"
            " timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)"
        )
        for sender, days_ago in conversations.items():
            at = (NOW - timedelta(days=days_ago)).timestamp()
            data = json.dumps({"event": "user", "timestamp": at, "text": "bonjour"})
            conn.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, data)"
                " VALUES (?, 'user', ?, ?)",
                (sender, at, data),
            )


def test_purge_applies_both_retention_periods(add_ticket, data_dir: Path, capsys):
    old_closed = add_ticket(days_ago=100, status="resolu", sender_id="old-closed")
    old_open = add_ticket(days_ago=100, sender_id="old-open")
    recent_closed = add_ticket(days_ago=10, status="abandonne", sender_id="recent-closed")
    make_tracker(
        data_dir / "tracker.db",
        {"old-closed": 100, "old-open": 100, "recent-closed": 40, "stray": 40, "today": 0},
    )

    assert main(["purge"]) == 0
    assert capsys.readouterr().out == (
        "Tickets clos supprimés : 1\nConversations sans ticket supprimées : 2\n"
        "Coordonnées en attente oubliées : 0\nJournaux expirés supprimés : 0\n"
    )
    with TicketStore.open() as store:
        assert {t.id for t in store.list()} == {old_open.id, recent_closed.id}
        assert store.get(old_closed.id) is None
    with closing(sqlite3.connect(data_dir / "tracker.db")) as conn:
        left = {s for (s,) in conn.execute("SELECT DISTINCT sender_id FROM events")}
    # A deleted ticket no longer holds its conversation, so that one goes too.
    assert left == {"old-open", "recent-closed", "today"}


def test_purge_without_a_tracker_store(add_ticket, data_dir: Path, capsys):
    add_ticket(days_ago=100, status="resolu")
    assert main(["purge"]) == 0
    assert "Tickets clos supprimés : 1" in capsys.readouterr().out
    assert not (data_dir / "tracker.db").exists()
