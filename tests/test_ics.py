"""The iCalendar feed of the public agenda, parsed back with a real RFC 5545 parser."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import icalendar
import pytest

from bot import ics
from bot.workshops import TZ, WorkshopStore

NOW = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)
LONG_TEXT = (
    "Démarches « impôts » ; comptes, mots de passe \\ sécurité. Ça s'apprend : "
    "créer l'espace, déclarer, payer — à votre rythme, pas à pas, sans jargon, "
    "avec des exercices guidés et une fiche récapitulative à emporter chez vous. " * 3
).strip() + "\nDeuxième ligne : ✓ éàü 漢字 😀."


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WorkshopStore]:
    with WorkshopStore(tmp_path / "workshops.db", clock=lambda: NOW) as opened:
        yield opened


def create(store: WorkshopStore, **changes: Any):
    fields: dict[str, Any] = {
        "title": "Créer son adresse e-mail",
        "description": "Pour bien débuter.",
        "starts_at": datetime(2026, 10, 20, 14, 0, tzinfo=TZ),
        "duration_minutes": 90,
        "place": "Salle 2",
        "address": "1 place de la Mairie, 75001 Paris",
        "seats": 8,
        "level": "debutant",
        "guide_ids": ["compte.adresse_email"],
        "actor": "claire",
    }
    fields.update(changes)
    return store.create(**fields)


def feed(store: WorkshopStore) -> bytes:
    sessions = store.between(NOW, NOW + timedelta(days=90))
    text = ics.calendar(
        sessions, base_url="https://guichet.example.org/", host="guichet.example.org",
        name="Ateliers — Médiathèque", now=NOW,
    )  # fmt: skip
    return text.encode("utf-8")


def test_feed_parses_back_with_events_in_paris_time(store: WorkshopStore):
    summer = create(store)
    # After the change to winter time on 25 October 2026.
    winter = create(store, title="Déclarer ses impôts", starts_at=datetime(2026, 11, 3, 9, 30),
                    duration_minutes=120)  # fmt: skip
    raw = feed(store)
    calendar = icalendar.Calendar.from_ical(raw)
    assert calendar["VERSION"] == "2.0" and calendar["METHOD"] == "PUBLISH"
    assert str(calendar["PRODID"]) == ics.PRODID and calendar["CALSCALE"] == "GREGORIAN"
    (zone,) = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == "Europe/Paris"
    events = calendar.walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == [summer.title, winter.title]
    first, second = events
    assert str(first["UID"]) == f"atelier-{summer.id}@guichet.example.org"
    start, end = first.decoded("DTSTART"), first.decoded("DTEND")
    assert start == datetime(2026, 10, 20, 14, 0, tzinfo=TZ)
    assert start.astimezone(timezone.utc) == datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)
    assert end - start == timedelta(minutes=90)
    assert first["DTSTART"].params["TZID"] == "Europe/Paris"
    assert second.decoded("DTSTART").astimezone(timezone.utc) == datetime(
        2026, 11, 3, 8, 30, tzinfo=timezone.utc
    )
    assert str(first["LOCATION"]) == "Salle 2, 1 place de la Mairie, 75001 Paris"
    assert str(first["URL"]) == f"https://guichet.example.org/ateliers/{summer.id}"
    assert str(first["STATUS"]) == "CONFIRMED" and int(str(first["SEQUENCE"])) == 0
    assert first.decoded("DTSTAMP") == NOW
    assert "Places restantes : 8 sur 8." in str(first["DESCRIPTION"])


def test_lines_end_with_crlf_and_fold_at_75_octets(store: WorkshopStore):
    create(store, description=LONG_TEXT, title="Atelier " + "très long titre " * 6)
    raw = feed(store)
    assert raw.endswith(b"END:VCALENDAR\r\n")
    lines = raw.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # something was folded
    for line in lines:
        line.decode("utf-8")  # no UTF-8 character cut in two at a fold
    (event,) = icalendar.Calendar.from_ical(raw).walk("VEVENT")
    assert str(event["DESCRIPTION"]).startswith(LONG_TEXT)
    assert str(event["SUMMARY"]) == "Atelier " + "très long titre " * 5 + "très long titre"


def test_text_escaping_of_semicolon_comma_backslash_and_newline(store: WorkshopStore):
    tricky = "Salle « A ; B », 2e étage \\ aile nord"
    create(store, title="Impôts ; taxes, et \\ le reste", place=tricky, address="")
    raw = feed(store)
    assert b"SUMMARY:Imp\xc3\xb4ts \\; taxes\\, et \\\\ le reste\r\n" in raw
    (event,) = icalendar.Calendar.from_ical(raw).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Impôts ; taxes, et \\ le reste"
    assert str(event["LOCATION"]) == tricky
    assert ics.escape_text("a\r\nb\nc") == "a\\nb\\nc"


def test_cancelled_session_says_so_and_bumps_the_sequence(store: WorkshopStore):
    kept = create(store)
    dropped = create(store, starts_at=datetime(2026, 10, 27, 14, 0, tzinfo=TZ))
    store.update(dropped.id, actor="claire", seats=10)
    store.cancel(dropped.id, actor="claire")
    events = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(feed(store)).walk("VEVENT")}
    gone = events[f"atelier-{dropped.id}@guichet.example.org"]
    assert str(gone["STATUS"]) == "CANCELLED" and int(str(gone["SEQUENCE"])) == 2
    assert str(gone["SUMMARY"]).startswith("Annulé : ")
    assert "Cette séance est annulée." in str(gone["DESCRIPTION"])
    still = events[f"atelier-{kept.id}@guichet.example.org"]
    assert str(still["STATUS"]) == "CONFIRMED"


def test_full_session_and_no_personal_data(store: WorkshopStore):
    session = create(store, seats=1)
    store.book(session.id, first_name="Eulalie", contact_kind="email",
               contact_detail="eulalie.martin@example.org", channel="widget")  # fmt: skip
    raw = feed(store)
    assert b"Eulalie" not in raw and b"eulalie.martin" not in raw
    (event,) = icalendar.Calendar.from_ical(raw).walk("VEVENT")
    assert "Complet" in str(event["DESCRIPTION"])


@pytest.mark.parametrize("length", [1, 74, 75, 76, 149, 150, 151, 400])
def test_fold_never_splits_a_character(length: int):
    for filler in ("a", "é", "漢", "😀"):
        line = "DESCRIPTION:" + filler * length
        folded = ics.fold(line).encode("utf-8")
        parts = folded.split(b"\r\n")[:-1]
        assert all(len(p) <= 75 for p in parts)
        assert [p.decode("utf-8") for p in parts]
        assert b"".join([parts[0], *(p[1:] for p in parts[1:])]).decode() == line
