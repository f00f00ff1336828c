"""The console's « Ateliers » pages over HTTP, on a real workshops.db: create, edit,
duplicate, cancel and repeat sessions, French validation errors that keep what was typed,
bookings with how to reach people, attendance, people added at the desk, the attendance
sheet and its CSV, the list of people to tell, and the workshop figures of the report."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from bot import pg
from bot.accounts import AccountStore
from bot.settings import Settings
from bot.web.app import create_app
from bot.workshops import Workshop, WorkshopStore

PASSWORD = "correct horse battery"
TZ = ZoneInfo("Europe/Paris")


@pytest.fixture
def settings(tmp_path: Path, database) -> Settings:
    # Once with the SQLite files in DATA_DIR, once with DATABASE_URL (PostgreSQL).
    location = database("workshops")
    url = str(location) if pg.is_url(location) else "sqlite"
    values = Settings.from_env().values | {"DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": url}
    found = Settings(values)
    found.data_dir.mkdir(parents=True, exist_ok=True)
    return found


@pytest.fixture
def client(settings: Settings) -> TestClient:
    with AccountStore.open(settings) as accounts:
        accounts.create("camille", PASSWORD)
    return TestClient(create_app(settings), follow_redirects=False)


def text_of(response) -> str:
    return html.unescape(response.text)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def csrf(client: TestClient) -> str:
    token = csrf_of(client.get("/mediation/login").text)
    done = client.post(
        "/mediation/login", data={"name": "camille", "password": PASSWORD, "csrf": token}
    )
    assert done.status_code == 303
    return csrf_of(client.get("/mediation/ateliers").text)


def in_days(days: int) -> str:
    return (dt.datetime.now(TZ).date() + dt.timedelta(days=days)).isoformat()


def form(csrf: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "csrf": csrf,
        "title": "Créer son adresse e-mail",
        "description": "Apprenez à créer une adresse e-mail. Apportez votre téléphone.",
        "date": in_days(10),
        "time": "14:00",
        "duration": "90",
        "place": "Salle informatique",
        "address": "1 place de la Mairie",
        "seats": "6",
        "level": "debutant",
        "guides": ["compte.adresse_email", "impots.paiement"],
        "booking_required": "1",
        "count": "1",
        "every_days": "7",
    }
    values.update(changes)
    return values


def create(client: TestClient, csrf: str, **changes: Any) -> int:
    done = client.post("/mediation/ateliers/nouveau", data=form(csrf, **changes))
    assert done.status_code == 303, text_of(done)
    match = re.fullmatch(r"/mediation/ateliers/(\d+)\?fait=cree", done.headers["location"])
    assert match, done.headers["location"]
    return int(match.group(1))


def must(found: Workshop | None) -> Workshop:
    assert found is not None
    return found


def store(settings: Settings) -> WorkshopStore:
    return WorkshopStore.open(settings)


def test_every_workshop_route_needs_a_login_and_a_form_token(client, csrf, settings):
    workshop = create(client, csrf)
    anonymous = TestClient(client.app, follow_redirects=False)
    for path in (
        "/mediation/ateliers",
        "/mediation/ateliers/nouveau",
        f"/mediation/ateliers/{workshop}",
        f"/mediation/ateliers/{workshop}/emargement",
        f"/mediation/ateliers/{workshop}/emargement.csv",
    ):
        refused = anonymous.get(path)
        assert refused.status_code == 303 and refused.headers["location"] == "/mediation/login"
    posted = anonymous.post(f"/mediation/ateliers/{workshop}/annuler", data={"csrf": csrf})
    assert posted.status_code == 401
    forged = client.post(f"/mediation/ateliers/{workshop}/annuler", data={"csrf": "faux"})
    assert forged.status_code == 403 and "expiré" in text_of(forged)
    with store(settings) as workshops:
        assert must(workshops.get(workshop)).status == "prevu"


def test_create_a_session_and_find_it_on_the_ateliers_page(client, csrf, settings):
    page = text_of(client.get("/mediation/ateliers/nouveau"))
    # Guides are offered by their French titles, grouped by domain; never as raw ids.
    assert "Créer une adresse mail ou retrouver son accès" in page
    assert ">compte.adresse_email<" not in page and "compte.adresse_email</" not in page
    assert page.count('<fieldset class="guide-group">') >= 5  # grouped by domain
    workshop = create(client, csrf, title="Atelier <script>alert(1)</script>")
    shown = client.get(f"/mediation/ateliers/{workshop}?fait=cree")
    assert shown.status_code == 200
    assert "<script>alert(1)</script>" not in shown.text
    text = text_of(shown)
    assert "L'atelier est créé." in text
    assert "14 h à 15 h 30 (1 h 30)" in text
    assert "Salle informatique, 1 place de la Mairie" in text
    assert "Débutant" in text
    with store(settings) as workshops:
        saved = must(workshops.get(workshop))
    assert saved.guide_ids == ["compte.adresse_email", "impots.paiement"]
    assert saved.starts.astimezone(TZ).strftime("%H:%M") == "14:00"
    assert saved.booking_required is True and saved.seats == 6
    listing = text_of(client.get("/mediation/ateliers"))
    assert "Atelier <script>alert(1)</script>" in listing
    assert "0 / 6" in listing
    assert 'href="http://testserver/ateliers"' in listing
    assert 'value="http://testserver/ateliers.ics"' in listing
    # With DATABASE_URL, the console's sessions and accounts are in PostgreSQL: no file.
    for name in ("workshops.db", "accounts.db"):
        assert (settings.data_dir / name).exists() == (not settings.database_url)


def test_validation_errors_are_french_and_the_form_keeps_what_was_typed(client, csrf, settings):
    wrong = client.post(
        "/mediation/ateliers/nouveau",
        data=form(
            csrf,
            title="",
            date=in_days(-2),
            seats="0",
            duration="beaucoup",
            place="",
            count="100",
            guides=["impots.paiement", "pas.un_guide"],
        ),
    )
    assert wrong.status_code == 400
    text = text_of(wrong)
    for message in (
        "Le formulaire contient 6 erreurs",
        "Donnez un titre à l'atelier.",
        "Cette date est passée. Choisissez une date à venir.",
        "Indiquez un nombre de places entre 1 et 500.",
        "Indiquez une durée en minutes, entre 15 et 600.",
        "Indiquez la salle",
        "Indiquez un nombre de séances entre 1 et 52.",
    ):
        assert message in text, message
    # What was typed is still there, the guide still ticked, the unknown one dropped.
    assert "Apprenez à créer une adresse e-mail. Apportez votre téléphone." in text
    assert re.search(r'value="impots.paiement" checked', wrong.text)
    assert "pas.un_guide" not in text
    assert 'aria-invalid="true"' in wrong.text
    with store(settings) as workshops:
        assert workshops.upcoming(limit=50) == []


def test_six_weekly_sessions_in_one_go_keep_their_local_hour(client, csrf, settings):
    # Six Tuesdays at 14:00 across the end of winter time (last Sunday of March).
    now = dt.datetime.now(TZ).date()
    year = now.year + 1
    march = dt.date(year, 3, 31)
    last_sunday = march - dt.timedelta(days=(march.weekday() + 1) % 7)
    start = last_sunday - dt.timedelta(days=12)
    done = client.post(
        "/mediation/ateliers/nouveau",
        data=form(csrf, date=start.isoformat(), count="6", every_days="7"),
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/mediation/ateliers?fait=serie"
    with store(settings) as workshops:
        made = workshops.between(
            dt.datetime.combine(start, dt.time(), tzinfo=TZ),
            dt.datetime.combine(start + dt.timedelta(days=60), dt.time(), tzinfo=TZ),
        )
    assert len(made) == 6
    assert len({w.series_id for w in made}) == 1 and made[0].series_id
    local = [w.starts.astimezone(TZ) for w in made]
    assert [d.date() for d in local] == [start + dt.timedelta(days=7 * k) for k in range(6)]
    assert {d.strftime("%H:%M") for d in local} == {"14:00"}
    listing = text_of(client.get("/mediation/ateliers?fait=serie"))
    assert "Les séances sont créées." in listing
    assert listing.count("Créer son adresse e-mail") >= 6


def test_edit_a_session_and_keep_enough_seats(client, csrf, settings):
    workshop = create(client, csrf, seats="3")
    with store(settings) as workshops:
        for name in ("Ana", "Bruno"):
            workshops.book(
                workshop, first_name=name, contact_kind="none", contact_detail=None,
                channel="desk",
            )  # fmt: skip
    page = text_of(client.get(f"/mediation/ateliers/{workshop}/modifier"))
    assert 'value="Créer son adresse e-mail"' in page and 'value="14:00"' in page
    too_few = client.post(
        f"/mediation/ateliers/{workshop}/modifier", data=form(csrf, seats="1", title="Nouveau")
    )
    assert too_few.status_code == 400
    assert "2 personnes sont déjà inscrites" in text_of(too_few)
    assert 'value="Nouveau"' in too_few.text  # kept
    done = client.post(
        f"/mediation/ateliers/{workshop}/modifier",
        data=form(csrf, title="E-mail : les bases", time="9:30", seats="4", guides=[]),
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?fait=modifie")
    with store(settings) as workshops:
        saved = must(workshops.get(workshop))
    assert saved.title == "E-mail : les bases" and saved.seats == 4 and saved.guide_ids == []
    assert saved.starts.astimezone(TZ).strftime("%H:%M") == "09:30"
    assert saved.booked == 2


def test_duplicate_a_session_to_a_new_date(client, csrf, settings):
    workshop = create(client, csrf)
    past = client.post(
        f"/mediation/ateliers/{workshop}/dupliquer",
        data={"csrf": csrf, "date": in_days(-1), "time": "10:00"},
    )
    assert past.status_code == 400
    assert "Cette date est passée" in text_of(past)
    done = client.post(
        f"/mediation/ateliers/{workshop}/dupliquer",
        data={"csrf": csrf, "date": in_days(17), "time": "10:00"},
    )
    assert done.status_code == 303
    copy = int(done.headers["location"].split("/")[3].split("?")[0])
    assert copy != workshop
    with store(settings) as workshops:
        original, duplicate = must(workshops.get(workshop)), must(workshops.get(copy))
    assert duplicate.title == original.title and duplicate.guide_ids == original.guide_ids
    assert duplicate.starts.astimezone(TZ).date().isoformat() == in_days(17)
    assert duplicate.starts.astimezone(TZ).strftime("%H:%M") == "10:00"
    assert "dupliqué" in text_of(client.get(done.headers["location"]))


def test_bookings_show_how_to_reach_people_and_attendance_is_noted(client, csrf, settings):
    workshop = create(client, csrf, seats="2")
    with store(settings) as workshops:
        ana = workshops.book(
            workshop, first_name="Ana", contact_kind="email",
            contact_detail="ana@example.fr", channel="kiosk", sender_id="conv-ana",
        )  # fmt: skip
        workshops.book(
            workshop, first_name="Bruno", contact_kind="phone",
            contact_detail="06 12 34 56 78", channel="widget",
        )  # fmt: skip
        workshops.book(
            workshop, first_name="Chloé", contact_kind="phone",
            contact_detail="07 11 22 33 44", channel="widget",
        )  # fmt: skip
    page = client.get(f"/mediation/ateliers/{workshop}")
    assert 'href="mailto:ana@example.fr"' in page.text
    assert 'href="tel:0612345678"' in page.text
    text = text_of(page)
    assert "Inscrits (2)" in text and "Liste d'attente (1)" in text
    assert "Borne" in text and "Site web" in text and ana.number in text
    waiting_part = text.split("Liste d'attente (1)")[1]
    assert "Chloé" in waiting_part and "07 11 22 33 44" in waiting_part
    present = client.post(
        f"/mediation/ateliers/{workshop}/inscriptions/{ana.id}/presence",
        data={"csrf": csrf, "presence": "present"},
    )
    assert present.status_code == 303 and "fait=presence" in present.headers["location"]
    with store(settings) as workshops:
        bookings = {b.first_name: b for b in workshops.bookings(workshop)}
    assert bookings["Ana"].attended is True and bookings["Bruno"].attended is None
    client.post(
        f"/mediation/ateliers/{workshop}/inscriptions/{bookings['Bruno'].id}/presence",
        data={"csrf": csrf, "presence": "absent"},
    )
    with store(settings) as workshops:
        assert {b.first_name: b.attended for b in workshops.bookings(workshop)} == {
            "Ana": True, "Bruno": False, "Chloé": None,
        }  # fmt: skip
    assert 'aria-pressed="true"' in client.get(f"/mediation/ateliers/{workshop}").text
    wrong = client.post(
        f"/mediation/ateliers/{workshop}/inscriptions/{ana.id}/presence",
        data={"csrf": csrf, "presence": "peut-être"},
    )
    assert wrong.status_code == 400


def test_add_a_person_at_the_desk_then_the_waiting_list(client, csrf, settings):
    workshop = create(client, csrf, seats="1")
    bad = client.post(
        f"/mediation/ateliers/{workshop}/inscriptions",
        data={"csrf": csrf, "first_name": "Denise", "contact": "06 12 34", "channel": "phone"},
    )
    assert bad.status_code == 400
    text = text_of(bad)
    assert "Numéro de téléphone illisible" in text
    assert 'value="Denise"' in bad.text and 'value="06 12 34"' in bad.text
    no_name = client.post(
        f"/mediation/ateliers/{workshop}/inscriptions",
        data={"csrf": csrf, "first_name": " ", "contact": "", "channel": "desk"},
    )
    assert "Indiquez le prénom" in text_of(no_name)
    first = client.post(
        f"/mediation/ateliers/{workshop}/inscriptions",
        data={"csrf": csrf, "first_name": "Denise", "contact": "0612345678", "channel": "phone"},
    )
    assert first.status_code == 303 and "fait=inscrit" in first.headers["location"]
    second = client.post(
        f"/mediation/ateliers/{workshop}/inscriptions",
        data={
            "csrf": csrf,
            "first_name": "Émile",
            "contact": "emile@exemple.fr",
            "channel": "desk",
        },
    )
    assert "fait=attente" in second.headers["location"]
    assert "la personne est sur la liste d'attente" in text_of(
        client.get(second.headers["location"])
    )
    with store(settings) as workshops:
        found = {b.first_name: b for b in workshops.bookings(workshop)}
    assert found["Denise"].status == "inscrit" and found["Denise"].channel == "phone"
    assert found["Denise"].contact_kind == "phone"
    assert found["Denise"].contact_detail == "06 12 34 56 78"
    assert found["Émile"].status == "attente" and found["Émile"].contact_kind == "email"


def test_the_attendance_sheet_and_its_csv_carry_first_names_only(client, csrf, settings):
    workshop = create(client, csrf)
    with store(settings) as workshops:
        workshops.book(
            workshop, first_name="=Ana", contact_kind="phone",
            contact_detail="06 12 34 56 78", channel="kiosk",
        )  # fmt: skip
        bruno = workshops.book(
            workshop, first_name="Bruno", contact_kind="email",
            contact_detail="bruno@example.fr", channel="desk",
        )  # fmt: skip
        workshops.mark_attendance(bruno.id, True, actor="camille")
    sheet = client.get(f"/mediation/ateliers/{workshop}/emargement")
    assert sheet.status_code == 200
    text = text_of(sheet)
    assert "Feuille d'émargement" in text and "Créer son adresse e-mail" in text
    assert "Salle informatique, 1 place de la Mairie" in text
    assert "=Ana" in text and "Bruno" in text and "Signature" in text
    assert "06 12 34" not in text and "0612345678" not in text and "bruno@" not in text
    exported = client.get(f"/mediation/ateliers/{workshop}/emargement.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    body = exported.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:]), delimiter=";"))
    assert rows[0] == ["atelier", "Créer son adresse e-mail"]
    assert rows[1] == ["date", dt.date.fromisoformat(in_days(10)).strftime("%d/%m/%Y")]
    header = rows.index(
        ["n°", "prénom", "statut", "numéro d'inscription", "canal", "inscrit le", "présence"]
    )
    people = rows[header + 1 :]
    assert [r[:3] for r in people] == [["1", "'=Ana", "inscrit"], ["2", "Bruno", "inscrit"]]
    assert people[1][4] == "à l'accueil" and people[1][6] == "présent"
    assert "06 12" not in body and "@" not in body


def test_cancelling_a_session_lists_the_people_to_tell(client, csrf, settings):
    workshop = create(client, csrf, seats="1")
    with store(settings) as workshops:
        workshops.book(
            workshop, first_name="Ana", contact_kind="phone",
            contact_detail="06 12 34 56 78", channel="kiosk",
        )  # fmt: skip
        workshops.book(
            workshop, first_name="Bruno", contact_kind="email",
            contact_detail="bruno@example.fr", channel="widget",
        )  # fmt: skip
    confirm = client.get(f"/mediation/ateliers/{workshop}/annuler")
    assert confirm.status_code == 200
    text = text_of(confirm)
    assert "Annuler l'atelier « Créer son adresse e-mail » ?" in text
    assert "2 personnes (inscrites ou en attente) seront à prévenir" in text
    with store(settings) as workshops:
        assert must(workshops.get(workshop)).status == "prevu"  # nothing done before confirming
    done = client.post(f"/mediation/ateliers/{workshop}/annuler", data={"csrf": csrf})
    assert done.status_code == 303 and done.headers["location"].endswith("?fait=annule")
    page = client.get(done.headers["location"])
    text = text_of(page)
    assert "L'atelier est annulé." in text and "À prévenir (2)" in text
    assert 'href="tel:0612345678"' in page.text and 'href="mailto:bruno@example.fr"' in page.text
    assert "Atelier annulé" in text and "Par téléphone" in text and "Par e-mail" in text
    listing = client.get("/mediation/ateliers")
    assert "À prévenir (2)" in text_of(listing) and "Annulé" in text_of(listing)
    with store(settings) as workshops:
        ana = next(b for b, _ in workshops.to_notify() if b.first_name == "Ana")
    told = client.post(
        f"/mediation/ateliers/prevenu/{ana.id}", data={"csrf": csrf, "retour": str(workshop)}
    )
    assert told.status_code == 303
    assert told.headers["location"].startswith(f"/mediation/ateliers/{workshop}?fait=prevenu")
    with store(settings) as workshops:
        assert [b.first_name for b, _ in workshops.to_notify()] == ["Bruno"]
    assert "À prévenir (1)" in text_of(client.get("/mediation/ateliers"))
    again = client.post(f"/mediation/ateliers/prevenu/{ana.id}", data={"csrf": csrf})
    assert again.status_code == 404


def test_a_promotion_from_the_waiting_list_is_to_tell(client, csrf, settings):
    workshop = create(client, csrf, seats="1")
    with store(settings) as workshops:
        ana = workshops.book(
            workshop, first_name="Ana", contact_kind="none", contact_detail=None,
            channel="desk",
        )  # fmt: skip
        workshops.book(
            workshop, first_name="Bruno", contact_kind="phone",
            contact_detail="06 98 76 54 32", channel="kiosk",
        )  # fmt: skip
    confirm = text_of(client.get(f"/mediation/ateliers/{workshop}/inscriptions/{ana.id}/annuler"))
    assert "Annuler l'inscription de Ana ?" in confirm
    done = client.post(
        f"/mediation/ateliers/{workshop}/inscriptions/{ana.id}/annuler", data={"csrf": csrf}
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?fait=promu")
    page = client.get(done.headers["location"])
    text = text_of(page)
    assert "Une personne de la liste d'attente a eu la place" in text
    assert "À prévenir (1)" in text and "A eu une place" in text
    assert 'href="tel:0698765432"' in page.text
    assert "Inscrits (1)" in text and "Liste d'attente (0)" in text
    assert "À prévenir (1)" in text_of(client.get("/mediation/ateliers"))


def test_unknown_sessions_and_months_get_a_french_answer(client, csrf):
    assert client.get("/mediation/ateliers/999").status_code == 404
    assert "Cet atelier n'existe pas." in text_of(client.get("/mediation/ateliers/abc"))
    future = client.get("/mediation/ateliers?mois=2999-01")
    assert "choisissez un mois passé" in text_of(future)
    assert client.get("/mediation/ateliers?mois=2020-02").status_code == 200


def test_the_report_counts_workshops_held_by_theme(client, csrf, settings):
    now = dt.datetime.now(dt.timezone.utc)
    before = now - dt.timedelta(days=5)
    held_at = now - dt.timedelta(days=2)

    def booking_clock() -> dt.datetime:
        return before

    with WorkshopStore.open(settings, clock=booking_clock) as workshops:
        fields: dict[str, Any] = {
            "description": "", "duration_minutes": 60, "place": "Salle 1", "address": "",
            "level": "debutant", "actor": "camille",
        }  # fmt: skip
        taxes = workshops.create(
            title="Payer ses impôts", starts_at=held_at, seats=4,
            guide_ids=["impots.paiement"], **fields,
        )  # fmt: skip
        plain = workshops.create(
            title="Découvrir l'ordinateur", starts_at=held_at + dt.timedelta(hours=3), seats=6,
            guide_ids=[], **fields,
        )  # fmt: skip
        dropped = workshops.create(
            title="Annulé", starts_at=held_at, seats=5, guide_ids=["impots.paiement"], **fields
        )
        people = [
            workshops.book(
                taxes.id, first_name=n, contact_kind="none", contact_detail=None, channel="desk"
            )
            for n in ("A", "B", "C")
        ]
        workshops.book(
            plain.id, first_name="D", contact_kind="none", contact_detail=None, channel="desk"
        )
        workshops.mark_attendance(people[0].id, True, actor="camille")
        workshops.mark_attendance(people[1].id, True, actor="camille")
        workshops.mark_attendance(people[2].id, False, actor="camille")
        workshops.cancel(dropped.id, actor="camille")
    page = client.get("/mediation/report")
    assert page.status_code == 200
    text = text_of(page)
    section = text.split("Ateliers (accompagnements collectifs)</h2>")[1].split("</section>")[0]
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", section))
    assert figures["Ateliers tenus"] == "2"
    assert figures["Places offertes"] == "10"
    assert figures["Inscriptions"] == "4"
    assert figures["Personnes venues"] == "2"
    assert figures["Absents"] == "1"
    assert figures["Présence non notée"] == "1"
    assert figures["Taux de présence"] == "50,0 %"
    assert "Personnes venues aux ateliers, par thématique" in section  # the chart
    exported = client.get("/mediation/report.csv").content.decode("utf-8")
    parts = [
        list(csv.reader(io.StringIO(chunk), delimiter=";"))
        for chunk in exported.lstrip("\ufeff").split("\r\n\r\n")
    ]
    held, by_theme = parts[-2], parts[-1]
    assert held[0] == ["ateliers (accompagnements collectifs)", "valeur"]
    assert ["ateliers tenus", "2"] in held and ["taux de présence", "50,0 %"] in held
    themes = {row[0]: row[1:] for row in by_theme[1:] if row}
    assert themes["Argent - Impôts"] == ["1", "4", "3", "2", "1", "66,7 %"]
    assert themes["Sans thématique (aucun guide)"] == ["1", "6", "1", "0", "0", "0,0 %"]
    assert themes["Logement"][0] == "0"
