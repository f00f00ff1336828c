"""The mediators' console over HTTP: every route guarded, forms protected, bad input answered,
sessions that end for good, a login throttle no third party can turn against a mediator,
pages never cached, and the service's incidents shown on the queue page."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.routing import Mount
from starlette.testclient import TestClient

from bot import incidents
from bot.accounts import AccountStore
from bot.settings import ROOT, Settings
from bot.tickets import TicketStore
from bot.web.app import create_app
from bot.web.mediation import service_status

PASSWORD = "correct horse battery"
TRANSCRIPT: list[dict[str, Any]] = [
    {"at": "2026-11-20T09:00:00+00:00", "who": "visitor", "text": "<script>alert('x')</script>"},
    {"at": "2026-11-20T09:00:01+00:00", "who": "bot", "text": "Étape 1 sur 5", "buttons": []},
]


@pytest.fixture
def engine(request) -> str:
    """Where the stores live: SQLite files, or PostgreSQL for the tests marked `both_engines`."""
    return str(getattr(request, "param", "sqlite"))


# The console's main work (queue, ticket page, search, status changes, exports) once with
# SQLite files and once with DATABASE_URL set to a fresh PostgreSQL database.
both_engines = pytest.mark.parametrize("engine", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def settings(tmp_path: Path, engine: str, request) -> Settings:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    stale = yaml.safe_load((knowledge / "cv.rediger.yml").read_text(encoding="utf-8"))
    stale["verified_on"] = "2020-01-15"
    text = yaml.safe_dump(stale, allow_unicode=True).replace("'2020-01-15'", "2020-01-15")
    (knowledge / "cv.rediger.yml").write_text(text, encoding="utf-8")
    values = Settings.from_env().values | {
        "DATA_DIR": str(tmp_path / "var"),
        "KNOWLEDGE_DIR": str(knowledge),
    }
    if engine == "postgresql":
        values["DATABASE_URL"] = request.getfixturevalue("fresh_pg_url")
    return Settings(values)


@pytest.fixture
def ticket_id(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with TicketStore.open(settings) as store:
        ticket = store.create(
            sender_id="conv-1",
            channel="kiosk",
            reason="stuck",
            contact_preference="phone",
            contact_detail="06 12 34 56 78",
            visitor_sentence="je ne trouve pas mon avis",
            guide_id="impots.avis_imposition",
            step=2,
            steps=7,
            summary="Le visiteur est bloqué à l'étape 2.",
            transcript=TRANSCRIPT,
        )
    return ticket.id


@pytest.fixture
def client(settings: Settings) -> TestClient:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with AccountStore.open(settings) as accounts:
        accounts.create("camille", PASSWORD)
    return TestClient(create_app(settings), follow_redirects=False)


def text_of(response) -> str:
    """The page as a reader sees it: entities such as &#39; turned back into characters."""
    return html.unescape(response.text)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def log_in(client: TestClient, password: str = PASSWORD) -> str:
    token = csrf_of(client.get("/mediation/login").text)
    response = client.post(
        "/mediation/login", data={"name": "camille", "password": password, "csrf": token}
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/mediation/").text)


def console_routes(client: TestClient) -> list[tuple[str, str]]:
    app: Any = client.app
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/mediation")
    found = []
    for route in mount.routes:
        route_any: Any = route
        for method in sorted(route_any.methods or {"GET"}):
            if method != "HEAD":
                path = "/mediation" + route_any.path.replace("{ticket_id}", "1")
                found.append((method, path))
    return found


def test_every_console_route_refuses_an_anonymous_request(client, ticket_id):
    routes = console_routes(client)
    assert len(routes) >= 12
    for method, path in routes:
        if path == "/mediation/login":
            continue
        response = client.request(method, path, data={"csrf": "x"} if method == "POST" else None)
        if method == "GET":
            assert response.status_code == 303, (method, path)
            assert response.headers["location"] == "/mediation/login"
        else:
            assert response.status_code == 401, (method, path)
            assert "Connectez-vous" in response.text
    assert "06 12 34 56 78" not in client.get("/mediation/tickets/1").text


def test_login_logout_and_session_cookie(client):
    log_in(client)
    cookie = client.cookies.get("guichet_session")
    assert cookie
    set_cookie = (
        client.post(
            "/mediation/login",
            data={
                "name": "camille",
                "password": PASSWORD,
                "csrf": csrf_of(client.get("/mediation/login").text),
            },
        )
        .headers.get_list("set-cookie")[0]
        .lower()
    )
    assert set_cookie.startswith("guichet_session=")
    for attribute in ("httponly", "samesite=strict", "max-age", "path=/mediation"):
        assert attribute in set_cookie
    assert "secure" not in set_cookie  # SECURE_COOKIES is false by default
    token = csrf_of(client.get("/mediation/").text)
    assert client.post("/mediation/logout", data={"csrf": token}).status_code == 303
    assert client.get("/mediation/").status_code == 303


def test_the_cookie_is_secure_when_asked(settings):
    secure = Settings(settings.values | {"SECURE_COOKIES": "true"})
    secure.data_dir.mkdir(parents=True, exist_ok=True)
    with AccountStore.open(secure) as accounts:
        accounts.create("camille", PASSWORD)
    # Over HTTPS: a browser sends a Secure cookie back only there.
    browser = TestClient(create_app(secure), follow_redirects=False, base_url="https://testserver")
    page = browser.get("/mediation/login")
    assert "; secure" in page.headers["set-cookie"].lower()
    done = browser.post(
        "/mediation/login",
        data={"name": "camille", "password": PASSWORD, "csrf": csrf_of(page.text)},
    )
    assert done.status_code == 303
    cookies = [c.lower() for c in done.headers.get_list("set-cookie")]
    assert any(c.startswith("guichet_session=") and "; secure" in c for c in cookies)


def replay(client: TestClient, cookie: str, path: str = "/mediation/"):
    """A request carrying only `cookie`, as an attacker who copied it would send it."""
    fresh = TestClient(client.app, follow_redirects=False)
    return fresh.get(path, headers={"Cookie": f"guichet_session={cookie}"})


def test_a_session_is_stored_server_side_and_only_its_id_is_in_the_cookie(client, settings):
    log_in(client)
    cookie = client.cookies.get("guichet_session")
    assert cookie and "camille" not in cookie and len(cookie) < 100
    assert replay(client, cookie).status_code == 200
    with AccountStore.open(settings) as accounts:
        assert accounts.session_count("camille") == 1
    assert replay(client, cookie + "x").status_code == 303


def test_the_old_cookie_is_refused_after_logout(client):
    token = log_in(client)
    cookie = client.cookies.get("guichet_session")
    assert cookie
    client.post("/mediation/logout", data={"csrf": token})
    refused = replay(client, cookie)
    assert refused.status_code == 303 and refused.headers["location"] == "/mediation/login"
    post = TestClient(client.app, follow_redirects=False).post(
        "/mediation/tickets/1/notes",
        data={"csrf": token, "text": "x"},
        headers={"Cookie": f"guichet_session={cookie}"},
    )
    assert post.status_code == 401


def run_cli(settings: Settings, *args: str, stdin: str = "") -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.accounts", *args],
        input=stdin, text=True, capture_output=True, check=False, cwd=ROOT,
        env={**os.environ, "DATA_DIR": str(settings.data_dir)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_old_cookie_is_refused_after_passwd_and_after_removal(client, settings):
    log_in(client)
    cookie = client.cookies.get("guichet_session")
    assert cookie and replay(client, cookie).status_code == 200
    run_cli(settings, "passwd", "camille", "--password-stdin", stdin="un autre mot de passe\n")
    assert replay(client, cookie).status_code == 303
    # Logged in again with the new password, then the account is removed.
    log_in(client, "un autre mot de passe")
    cookie = client.cookies.get("guichet_session")
    assert cookie and replay(client, cookie).status_code == 200
    run_cli(settings, "remove", "camille")
    assert replay(client, cookie).status_code == 303
    assert client.get("/mediation/export?format=csv").status_code == 303


def test_a_disabled_account_loses_its_session(client, settings):
    log_in(client)
    with AccountStore.open(settings) as accounts:
        accounts.set_disabled("camille")
    assert client.get("/mediation/").status_code == 303


def test_wrong_password_then_throttling(client):
    for _ in range(5):
        token = csrf_of(client.get("/mediation/login").text)
        bad = client.post(
            "/mediation/login", data={"name": "camille", "password": "faux mot", "csrf": token}
        )
        assert bad.status_code == 401 and "incorrect" in bad.text
    token = csrf_of(client.get("/mediation/login").text)
    locked = client.post(
        "/mediation/login", data={"name": "camille", "password": PASSWORD, "csrf": token}
    )
    assert locked.status_code == 429 and "Trop d'essais" in text_of(locked)
    assert int(locked.headers["retry-after"]) > 0
    assert "Réessayez dans 1 minute." in text_of(locked)


def from_address(client: TestClient, host: str) -> TestClient:
    return TestClient(client.app, follow_redirects=False, client=(host, 40000))


def test_a_third_party_cannot_lock_camille_out(client):
    attacker = from_address(client, "203.0.113.9")
    statuses = []
    for _ in range(30):
        token = csrf_of(attacker.get("/mediation/login").text)
        answer = attacker.post(
            "/mediation/login", data={"name": "camille", "password": "devine", "csrf": token}
        )
        statuses.append(answer.status_code)
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429
    assert "Trop d'essais depuis cette adresse" in text_of(answer)
    assert int(answer.headers["retry-after"]) > 0
    # Even with the right password, that address waits.
    token = csrf_of(attacker.get("/mediation/login").text)
    assert (
        attacker.post(
            "/mediation/login", data={"name": "camille", "password": PASSWORD, "csrf": token}
        ).status_code
        == 429
    )
    # Camille, from the desk, logs in.
    desk = from_address(client, "192.0.2.44")
    token = csrf_of(desk.get("/mediation/login").text)
    done = desk.post(
        "/mediation/login", data={"name": "camille", "password": PASSWORD, "csrf": token}
    )
    assert done.status_code == 303 and desk.get("/mediation/").status_code == 200


def test_login_needs_its_csrf_token(client):
    response = client.post("/mediation/login", data={"name": "camille", "password": PASSWORD})
    assert response.status_code == 403 and "expiré" in response.text
    # A token from another browser (another login cookie) is refused too.
    other = TestClient(client.app, follow_redirects=False)
    foreign = csrf_of(other.get("/mediation/login").text)
    client.get("/mediation/login")
    response = client.post(
        "/mediation/login", data={"name": "camille", "password": PASSWORD, "csrf": foreign}
    )
    assert response.status_code == 403


def test_forms_refuse_a_missing_or_wrong_csrf_token(client, ticket_id):
    log_in(client)
    for data in ({"text": "note"}, {"text": "note", "csrf": "faux"}):
        response = client.post(f"/mediation/tickets/{ticket_id}/notes", data=data)
        assert response.status_code == 403 and "expiré" in text_of(response)


@both_engines
def test_follow_up_a_ticket(client, ticket_id, settings, engine):
    token = log_in(client)
    page = client.get(f"/mediation/tickets/{ticket_id}").text
    assert "06 12 34 56 78" in page and "je ne trouve pas mon avis" in page
    assert "&lt;script&gt;" in page and "<script>alert" not in page
    base = f"/mediation/tickets/{ticket_id}"
    assert client.post(f"{base}/assign", data={"csrf": token}).status_code == 303
    assert (
        client.post(f"{base}/notes", data={"csrf": token, "text": "Rappelé à 10 h"}).status_code
        == 303
    )
    done = client.post(
        f"{base}/status", data={"csrf": token, "status": "resolu", "note": "Avis imprimé"}
    )
    assert done.status_code == 303
    assert client.post(f"{base}/erase-contact", data={"csrf": token}).status_code == 303
    with TicketStore.open(settings) as store:
        assert store.dialect == engine  # the console wrote where the settings say
        ticket = store.get(ticket_id)
    assert ticket is not None
    assert ticket.status == "resolu" and ticket.assigned_to == "camille"
    assert ticket.contact_detail is None and ticket.summary  # erased, ticket kept
    assert [n.text for n in ticket.notes] == ["Rappelé à 10 h", "Avis imprimé"]
    actions = [(e.actor, e.action) for e in ticket.events]
    for expected in ("seen", "assigned", "note", "status", "contact_erased"):
        assert ("camille", expected) in actions


def test_bad_input_gets_a_french_message_never_a_500(client, ticket_id):
    token = log_in(client)
    cases = [
        (client.get("/mediation/tickets/999"), 404, "n'existe pas"),
        (client.get("/mediation/tickets/abc"), 404, "n'existe pas"),
        (client.get("/mediation/?since=hier"), 400, "Date invalide"),
        (client.get("/mediation/?until=9999-12-31"), 400, "Date invalide"),
        (client.get("/mediation/?since=0001-01-01"), 400, "Date invalide"),
        (client.get("/mediation/report?until=9999-12-31"), 400, "Date de fin invalide"),
        (client.get("/mediation/report.csv?since=0001-01-01"), 400, "Date de début invalide"),
        (client.get("/mediation/?status=perdu"), 400, "Filtre inconnu"),
        (client.get("/mediation/?page=-3"), 200, "File des demandes"),
        (client.get("/mediation/report?since=2026-13-01"), 400, ""),
        (client.get("/mediation/report?since=2026-05-01&until=2026-01-01"), 400, ""),
        (client.get("/mediation/export?format=xls"), 400, "Export impossible"),
        (
            client.post(
                f"/mediation/tickets/{ticket_id}/notes", data={"csrf": token, "text": "x" * 5001}
            ),
            400,
            "trop longue",
        ),
        (
            client.post(
                f"/mediation/tickets/{ticket_id}/notes", data={"csrf": token, "text": "   "}
            ),
            400,
            "vide",
        ),
        (
            client.post(
                f"/mediation/tickets/{ticket_id}/status", data={"csrf": token, "status": "perdu"}
            ),
            400,
            "Statut inconnu",
        ),
        (
            client.post("/mediation/tickets/999/notes", data={"csrf": token, "text": "x"}),
            404,
            "n'existe pas",
        ),
    ]
    for response, status, words in cases:
        assert response.status_code == status, (response.request.url, response.text[:200])
        assert words in text_of(response)
    huge = client.post(
        f"/mediation/tickets/{ticket_id}/notes", data={"csrf": token, "text": "x" * 100_000}
    )
    assert huge.status_code == 413


@both_engines
def test_queue_filters_and_pagination(client, settings):
    with TicketStore.open(settings) as store:
        for number in range(25):
            store.create(
                sender_id=f"s{number}",
                channel="widget" if number % 2 else "kiosk",
                reason="asked",
                contact_preference="desk",
                summary="s",
                transcript=[],
            )
    log_in(client)

    def rows(page: str) -> int:
        # Links of the table only: the desk panel above lists the waiting desk tickets too.
        return page.split('<table id="tickets">')[1].count('href="/mediation/tickets/')

    first = client.get("/mediation/").text
    assert rows(first) == 20 and "Page suivante" in first
    assert "non lu" in first
    second = client.get("/mediation/?page=2").text
    assert rows(second) == 5
    widget = client.get("/mediation/?channel=widget").text
    assert rows(widget) == 12
    assert "Impôts (toutes)" in text_of(client.get("/mediation/"))


@both_engines
def test_export_csv_is_audited(client, ticket_id, settings):
    log_in(client)
    response = client.get("/mediation/export?format=csv")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    assert "je ne trouve pas mon avis" in response.text
    as_json = client.get("/mediation/export?format=json")
    assert as_json.json()[0]["id"] == ticket_id
    with TicketStore.open(settings) as store:
        ticket = store.get(ticket_id)
    assert ticket is not None
    assert [e.action for e in ticket.events].count("export") == 2


def test_report_and_its_csv(client, ticket_id):
    log_in(client)
    page = client.get("/mediation/report")
    assert page.status_code == 200 and "<svg" in page.text and 'role="img"' in page.text
    csv_file = client.get("/mediation/report.csv")
    assert csv_file.status_code == 200 and "attachment" in csv_file.headers["content-disposition"]


def test_guides_page_flags_old_guides(client):
    log_in(client)
    page = client.get("/mediation/guides").text
    assert page.count("à revoir") == 1 and "https://www.impots.gouv.fr" in page


def test_security_headers(client):
    response = client.get("/mediation/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_console_pages_and_exports_are_never_cached(client, ticket_id):
    paths = ["/mediation/login"]
    log_in(client)
    paths += [
        "/mediation/",
        f"/mediation/tickets/{ticket_id}",
        "/mediation/export?format=csv",
        "/mediation/export?format=json",
        "/mediation/report",
        "/mediation/report.csv",
        "/mediation/guides",
        "/mediation/tickets/999",
    ]
    for path in paths:
        response = client.get(path)
        assert response.headers["cache-control"] == "no-store", path
        assert response.headers["pragma"] == "no-cache", path


def test_visitor_pages_set_no_cookie(client):
    for path in ("/", "/widget.js", "/api/config", "/demo", "/healthz"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "set-cookie" not in response.headers, path
    assert not client.cookies


def visible(response) -> str:
    """The page's words without markup, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", "", text_of(response)).split())


def test_the_queue_shows_incidents_of_the_last_day(client, settings):
    log_in(client)
    quiet = visible(client.get("/mediation/"))
    assert "État du service" in quiet and "Attention" not in quiet
    assert "refusées par les limites : 0 dans la dernière heure, 0 depuis 24 heures." in quiet
    for _ in range(2):
        incidents.record("ticket_write_failed", "database is locked", settings=settings)
    incidents.record("handoff_flood", "21 tickets in 60 s", settings=settings)
    for _ in range(2):
        incidents.record("handoff_limit_conversation", "conv", settings=settings)
    incidents.record("server_restarted", "rasa exited with 137", settings=settings)
    page = visible(client.get("/mediation/"))
    assert (
        "Attention : 2 tickets n'ont pas pu être enregistrés depuis 24 heures (à " in page
        and "Les visiteurs ont reçu les horaires de l'accueil." in page
    )
    assert re.search(r"\(à \d\d:\d\d, \d\d:\d\d\)", page)
    assert "refusées par les limites : 3 dans la dernière heure, 3 depuis 24 heures" in page
    assert "2 pour trop de demandes dans une conversation, 1 pour trop de demandes" in page
    assert "redémarré automatiquement : 1 fois depuis 24 heures" in page
    assert client.get("/mediation/").text.count('role="alert"') == 2
    # A day later, nothing of it is shown any more.
    later = datetime.now(timezone.utc) + timedelta(hours=24, minutes=1)
    assert service_status(settings, now=later) == {
        "alerts": [],
        "refused_hour": 0,
        "refused_day": 0,
        "refused_per_conversation": 0,
        "refused_flood": 0,
    }


# --- the console for a day at the desk ------------------------------------------------------

PRESSED: list[dict[str, Any]] = [
    {"at": "2026-11-20T09:00:00+00:00", "who": "visitor", "text": "/impots.avis_imposition"},
    {
        "at": "2026-11-20T09:00:01+00:00",
        "who": "bot",
        "text": "Étape 1 sur 7",
        "buttons": ["Étape suivante", "Je bloque"],
        "payloads": ["/next_step", "/stuck"],
    },
    {"at": "2026-11-20T09:00:05+00:00", "who": "visitor", "text": "/next_step"},
    # An older ticket: the bot's buttons were kept without their payloads.
    {"at": "2026-11-20T09:00:06+00:00", "who": "bot", "text": "Comment ?", "buttons": ["x"]},
    {
        "at": "2026-11-20T09:00:09+00:00",
        "who": "visitor",
        "text": '/choose_contact{"contact_preference": "phone"}',
    },
    {"at": "2026-11-20T09:00:10+00:00", "who": "visitor", "text": "/help"},
]


@both_engines
def test_the_ticket_page_reads_like_a_conversation_and_offers_the_call_back(
    client, settings, ticket_id
):
    with TicketStore.open(settings) as store:
        store._transact(
            lambda db: db.execute(
                "UPDATE tickets SET transcript = ? WHERE id = ?",
                [json.dumps(PRESSED, ensure_ascii=False), ticket_id],
            )
        )
    token = log_in(client)
    page = text_of(client.get(f"/mediation/tickets/{ticket_id}"))
    transcript = page.split('class="transcript"')[1].split("</ol>")[0]
    assert "/" not in re.sub(r"<[^>]+>", "", transcript).replace("</", "")
    from bot.guides import load_catalogue

    guide = load_catalogue(settings.knowledge_dir)["impots.avis_imposition"]
    for label in (
        f"« {guide.title} »",  # the guide's button, named from the catalogue
        "« Étape suivante »",  # found among the buttons of the message before
        "« Être rappelé par téléphone »",  # an old ticket: from the table of payloads
        "« Voir les démarches »",
    ):
        assert label in html.unescape(transcript), label
    # The step the visitor stopped on, in full, from the catalogue.
    step = guide.step(2)
    assert step.instruction in page
    if step.link:
        assert step.link.url in page
    assert 'href="tel:0612345678"' in page

    taken = client.post(f"/mediation/tickets/{ticket_id}/assign", data={"csrf": token})
    assert taken.status_code == 303 and taken.headers["location"].endswith("?fait=pris")
    page = text_of(client.get(taken.headers["location"]))
    assert "Vous suivez ce ticket. Il est passé « En cours »." in page
    assert "Je prends ce ticket" not in page
    called = client.post(
        f"/mediation/tickets/{ticket_id}/calls",
        data={"csrf": token, "outcome": "no_answer", "note": "sonne", "then": "a_rappeler",
              "next_call": "2026-12-01T10:30"},
    )  # fmt: skip
    assert called.status_code == 303
    page = text_of(client.get(called.headers["location"]))
    assert "L'appel est noté dans le journal." in page and "Pas de réponse" in page
    assert "À rappeler" in page and "01/12/2026 10:30" in page
    with TicketStore.open(settings) as store:
        stored = store.get(ticket_id)
    assert stored is not None and stored.next_call_at == "2026-12-01T09:30:00+00:00"
    assert [(c.outcome, c.note, c.actor) for c in stored.calls] == [
        ("no_answer", "sonne", "camille")
    ]
    bad = client.post(f"/mediation/tickets/{ticket_id}/calls", data={"csrf": token, "outcome": "x"})
    assert bad.status_code == 400 and "Choisissez" in text_of(bad)
    queue = text_of(client.get("/mediation/"))
    row = queue.split(f'data-id="{ticket_id}"')[1].split("</tr>")[0]
    assert "camille" in row and "depuis" in row and "À rappeler" in row


@both_engines
def test_the_queue_pins_desk_hand_offs_and_searches(client, settings, ticket_id):
    with TicketStore.open(settings) as store:
        desk = store.create(
            sender_id="conv-desk", channel="kiosk", reason="asked", contact_preference="desk",
            summary="Aide au guichet", transcript=PRESSED, kiosk="Borne 2",
            visitor_sentence="Je n'arrive pas à déclarer mes impôts",
        )  # fmt: skip
    log_in(client)
    page = text_of(client.get("/mediation/"))
    assert "<title>(2) File des demandes — Guichet</title>" in page
    pinned = page.split('id="desk"')[1].split("</section>")[0]
    assert f"Ticket n° {desk.id}" in pinned and "Borne 2" in pinned and "attend depuis" in pinned
    # Filters show French labels only, never a guide's id.
    visible = re.sub(r"<[^>]+>", " ", page)
    assert "impots.avis_imposition" not in visible, re.findall(
        r".{80}impots.avis_imposition.{40}", visible, re.S
    )
    assert "avis d'impôt" in visible

    def found(**params: str) -> set[int]:
        response = client.get("/mediation/", params=params)
        assert response.status_code == 200
        table = response.text.split('<table id="tickets">')
        return (
            {int(n) for n in re.findall(r'data-id="(\d+)"', table[1])} if len(table) > 1 else set()
        )

    assert found(q="0612 34 56 78") == {ticket_id}
    assert found(q=str(desk.id)) == {desk.id}
    assert found(q="DECLARER impots") == {desk.id}
    assert found(q="déclarer", channel="widget") == set()
    assert found(q="Borne 2", status="nouveau") == {desk.id}
    search = text_of(client.get("/mediation/", params={"q": "0612 34 56 78"}))
    assert 'value="0612 34 56 78"' in search and "Résultats pour « 0612 34 56 78 »" in search


@both_engines
def test_alerts_stream_tells_about_new_tickets(client, settings, ticket_id, monkeypatch):
    from bot.web import mediation

    monkeypatch.setattr(mediation, "EVENTS_LIFETIME_SECONDS", 0.0)
    assert client.get("/mediation/events").status_code == 303  # login first
    log_in(client)
    with client.stream("GET", "/mediation/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        body = "".join(response.iter_text())
    assert body.startswith("retry: ")
    event = body.split("event: tickets\ndata: ")[1].split("\n\n")[0]
    data = json.loads(event)
    assert data["latest"] == ticket_id and data["count"] == 1
    assert (
        data["tickets"][0]["guide"] == "Mon avis d'impôt" or "." not in data["tickets"][0]["guide"]
    )
    polled = client.get("/mediation/alerts").json()
    assert polled["latest"] == ticket_id and polled["tickets"][0]["channel"] == "Borne"


@both_engines
def test_export_opens_in_a_french_spreadsheet(client, settings, ticket_id):
    token = log_in(client)
    client.post(f"/mediation/tickets/{ticket_id}/assign", data={"csrf": token})
    client.post(f"/mediation/tickets/{ticket_id}/calls",
                data={"csrf": token, "outcome": "voicemail", "note": "=1+1"})  # fmt: skip
    response = client.get("/mediation/export", params={"format": "csv", "q": "0612345678"})
    assert response.status_code == 200
    content = response.content.decode("utf-8")
    assert content.startswith("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(content[1:]), delimiter=";"))
    assert header[:3] == ["Numéro", "Créé le", "Modifié le"] and len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["Statut"] == "en cours" and row["Canal"] == "borne"
    assert row["Démarche"] != "impots.avis_imposition" and "avis" in row["Démarche"].lower()
    assert row["Suivi par"] == "camille" and row["Appels"].endswith("messagerie (camille) : =1+1")
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", row["Créé le"])
    none = client.get("/mediation/export", params={"format": "csv", "q": "introuvable"})
    assert len(list(csv.reader(io.StringIO(none.text[1:]), delimiter=";"))) == 1
