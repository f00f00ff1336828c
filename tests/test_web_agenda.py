"""The public agenda: anyone sees the coming workshops and their seats, never who booked."""

from __future__ import annotations

import html as html_module
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import icalendar
import pytest
from starlette.testclient import TestClient

from bot import pg
from bot.settings import Settings
from bot.web.app import create_app
from bot.workshops import TZ, Workshop, WorkshopStore, day_label

NAME, PHONE, EMAIL = "Philibert", "06 44 55 66 77", "philibert.durand@example.org"


@pytest.fixture
def settings(tmp_path: Path, database) -> Settings:
    # Once with the SQLite files in DATA_DIR, once with DATABASE_URL (PostgreSQL).
    location = database("workshops")
    url = str(location) if pg.is_url(location) else "sqlite"
    values = Settings.from_env().values | {"DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": url}
    return Settings(values)


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


def in_days(days: int, hour: int = 14) -> datetime:
    day = datetime.now(TZ) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def create(settings: Settings, **changes: Any) -> Workshop:
    fields: dict[str, Any] = {
        "title": "Créer son adresse e-mail",
        "description": "Pour bien débuter.\n\nApportez votre téléphone.",
        "starts_at": in_days(3),
        "duration_minutes": 90,
        "place": "Salle 2",
        "address": "1 place de la Mairie",
        "seats": 2,
        "level": "debutant",
        "guide_ids": ["compte.adresse_email"],
        "actor": "claire",
    }
    fields.update(changes)
    with WorkshopStore.open(settings) as store:
        return store.create(**fields)


def text_of(html: str) -> str:
    return html_module.unescape(" ".join(re.sub(r"<[^>]+>", " ", html).split()))


def test_agenda_lists_coming_sessions_by_day(client: TestClient, settings: Settings):
    email = create(settings)
    taxes = create(settings, title="Déclarer ses impôts", starts_at=in_days(3, 10), seats=1,
                   guide_ids=["impots.declaration_revenus"], level="tous")  # fmt: skip
    later = create(settings, title="Utiliser FranceConnect", starts_at=in_days(10),
                   booking_required=False)  # fmt: skip
    dropped = create(settings, title="Atelier CV", starts_at=in_days(12))
    create(settings, title="Trop loin", starts_at=in_days(70))
    create(settings, title="Déjà passé", starts_at=in_days(-2))
    with WorkshopStore.open(settings) as store:
        store.book(taxes.id, first_name=NAME, contact_kind="phone", contact_detail=PHONE,
                   channel="kiosk")  # fmt: skip
        store.cancel(dropped.id, actor="claire")
    response = client.get("/ateliers")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "public, max-age=300"
    html = response.text
    assert '<html lang="fr">' in html and "<h1>Prochains ateliers</h1>" in html
    text = text_of(html)
    # Grouped by day, soonest first, the morning session before the afternoon one.
    day = day_label(email.starts_at)
    assert f'<h2 id="jour-1">{day[:1].upper()}{day[1:]}</h2>' in html
    order = [text.index(t) for t in ("Déclarer ses impôts", "Créer son adresse e-mail",
                                     "Utiliser FranceConnect", "Atelier CV")]  # fmt: skip
    assert order == sorted(order)
    assert "Trop loin" not in text and "Déjà passé" not in text
    assert "2 places restantes" in text
    assert "Complet — liste d'attente" in text
    assert "Entrée libre, sans inscription" in text
    assert "Séance annulée" in text and "Annulé" in text
    assert "Créer une adresse mail ou retrouver son accès" in text  # guide taught, by title
    assert "Déclarer vos revenus en ligne" in text
    assert "Niveau débutant" in text and "Niveau tous niveaux" in text
    for session in (email, taxes, later, dropped):
        assert f'href="/ateliers/{session.id}"' in html
    assert NAME not in html and PHONE not in html
    assert settings.workshops_db.exists() == (not settings.database_url)


def test_session_page_and_its_cancellation(client: TestClient, settings: Settings):
    session = create(settings, seats=1)
    with WorkshopStore.open(settings) as store:
        store.book(session.id, first_name=NAME, contact_kind="email", contact_detail=EMAIL,
                   channel="widget", sender_id="visitor-philibert")  # fmt: skip
    page = client.get(f"/ateliers/{session.id}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "<h1>Créer son adresse e-mail</h1>" in page.text
    assert "Complet — liste d'attente" in text
    assert "Salle 2, 1 place de la Mairie" in text
    assert "Inscrivez-vous à l'accueil" in text and "liste d'attente" in text
    assert f'href="/ateliers/{session.id}.ics"' in page.text
    assert "<p>Apportez votre téléphone.</p>" in page.text
    for secret in (NAME, EMAIL, "visitor-philibert"):
        assert secret not in page.text
    with WorkshopStore.open(settings) as store:
        store.cancel(session.id, actor="claire")
    text = text_of(client.get(f"/ateliers/{session.id}").text)
    assert "Cette séance est annulée." in text and "S'inscrire" not in text


def test_unknown_session_is_a_french_404(client: TestClient):
    response = client.get("/ateliers/999")
    assert response.status_code == 404
    assert "Page introuvable" in response.text
    assert client.get("/ateliers/abc").status_code == 404


def test_titles_are_escaped(client: TestClient, settings: Settings):
    session = create(settings, title="<script>alert(1)</script> & co")
    html = client.get(f"/ateliers/{session.id}").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html


def test_feeds_are_icalendar_with_the_request_origin(client: TestClient, settings: Settings):
    session = create(settings)
    create(settings, title="Trop loin", starts_at=in_days(70))
    with WorkshopStore.open(settings) as store:
        store.book(session.id, first_name=NAME, contact_kind="phone", contact_detail=PHONE,
                   channel="kiosk")  # fmt: skip
    response = client.get("/ateliers.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert NAME.encode() not in response.content and PHONE.encode() not in response.content
    (event,) = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
    assert str(event["URL"]) == f"http://testserver/ateliers/{session.id}"
    assert str(event["UID"]) == f"atelier-{session.id}@testserver"
    assert event.decoded("DTSTART").astimezone(timezone.utc) == session.starts
    one = client.get(f"/ateliers/{session.id}.ics")
    assert one.status_code == 200
    assert len(icalendar.Calendar.from_ical(one.content).walk("VEVENT")) == 1
    assert client.get("/ateliers/999.ics").status_code == 404


def test_feed_uses_the_public_base_url(settings: Settings):
    values = settings.values | {"PUBLIC_BASE_URL": "https://ateliers.mediatheque.example/"}
    configured = Settings(values)
    session = create(configured)
    client = TestClient(create_app(configured))
    (event,) = icalendar.Calendar.from_ical(client.get("/ateliers.ics").content).walk("VEVENT")
    assert str(event["URL"]) == f"https://ateliers.mediatheque.example/ateliers/{session.id}"
    assert str(event["UID"]) == f"atelier-{session.id}@ateliers.mediatheque.example"


def test_empty_agenda_says_so(client: TestClient):
    text = text_of(client.get("/ateliers").text)
    assert "Aucun atelier n'est prévu pour les 60 prochains jours." in text


def test_erase_from_the_chat_forgets_the_bookings_name(client: TestClient, settings: Settings):
    session = create(settings)
    with WorkshopStore.open(settings) as store:
        booking = store.book(session.id, first_name=NAME, contact_kind="phone",
                             contact_detail=PHONE, channel="kiosk",
                             sender_id="a" * 32)  # fmt: skip
    assert client.post("/api/erase", json={"sender": "a" * 32}).status_code == 200
    with WorkshopStore.open(settings) as store:
        erased = store.booking(booking.number)
    assert erased is not None and erased.erased and erased.status == "inscrit"
