"""The console's « Ateliers » pages in a real browser (Debian chromium driven by Playwright),
on a web app of its own (real uvicorn, its own DATA_DIR and workshops.db; no Rasa needed).

A mediator creates a session through the form (after a French validation error), finds it,
adds a person booked by phone, marks attendance, and prints the attendance sheet (print
media: no navigation, the table of first names, no contact details). axe-core checks the
list (with people to tell), the form, the session page and the sheet. Screenshots go to
test-artifacts/screenshots/console-ateliers*.png.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.settings import ROOT

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TZ = ZoneInfo("Europe/Paris")
PASSWORD = "un mot de passe solide"


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), "Debian chromium is missing: `make setup` installs it"
    assert AXE.exists(), "axe-core is missing: `make setup` runs npm ci"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def web(tmp_path: Path):
    """The web app on a free port over its own DATA_DIR, with one mediator account."""
    import uvicorn

    from bot.accounts import AccountStore
    from bot.settings import Settings
    from bot.web.app import create_app

    settings = Settings(Settings.from_env().values | {"DATA_DIR": str(tmp_path / "var")})
    settings.data_dir.mkdir(parents=True)
    with AccountStore.open(settings) as accounts:
        accounts.create("dominique", PASSWORD)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                       ws="none")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        assert server.started
        yield f"http://127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def check_accessibility(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"console-ateliers-{name}.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{name}: {serious}"


def test_a_mediator_plans_a_session_takes_a_booking_and_prints_the_sheet(browser, web):
    from bot.workshops import WorkshopStore

    url, settings = web
    day = dt.datetime.now(TZ).date() + dt.timedelta(days=9)
    # Another session, cancelled with a visitor booked on the kiosk: someone to tell.
    with WorkshopStore.open(settings) as workshops:
        other = workshops.create(
            title="Déclarer ses revenus en ligne", description="",
            starts_at=dt.datetime.combine(day, dt.time(10), tzinfo=TZ), duration_minutes=120,
            place="Salle du 1er étage", address="", seats=8, level="tous",
            guide_ids=["impots.declaration_revenus"], actor="dominique",
        )  # fmt: skip
        workshops.book(
            other.id, first_name="Lucienne", contact_kind="phone",
            contact_detail="06 12 34 56 78", channel="kiosk",
        )  # fmt: skip
        workshops.cancel(other.id, actor="dominique")
    # A session held two days ago, for the report's workshop figures.
    held_at = dt.datetime.now(TZ) - dt.timedelta(days=2)
    with WorkshopStore.open(settings, clock=lambda: held_at - dt.timedelta(days=3)) as workshops:
        held = workshops.create(
            title="Payer ses impôts en ligne", description="", starts_at=held_at,
            duration_minutes=60, place="Salle 2", address="", seats=6, level="debutant",
            guide_ids=["impots.paiement"], actor="dominique",
        )  # fmt: skip
        for name, came in (("Paul", True), ("Rose", False)):
            booking = workshops.book(
                held.id, first_name=name, contact_kind="none", contact_detail=None,
                channel="desk",
            )  # fmt: skip
            workshops.mark_attendance(booking.id, came, actor="dominique")

    context = browser.new_context(
        bypass_csp=True, viewport={"width": 1280, "height": 900}, locale="fr-FR"
    )
    page = context.new_page()
    page.goto(f"{url}/mediation/login")
    page.get_by_label("Nom").fill("dominique")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{url}/mediation/")
    page.get_by_role("link", name="Ateliers", exact=True).click()
    page.wait_for_url(f"{url}/mediation/ateliers")
    notify = page.locator("#a-prevenir")
    assert "Lucienne" in notify.inner_text()
    assert notify.locator('a[href="tel:0612345678"]').count() == 1
    check_accessibility(page, "liste")

    page.get_by_role("link", name="Créer un atelier").click()
    page.wait_for_url(f"{url}/mediation/ateliers/nouveau")
    page.get_by_label("Titre").fill("Créer son adresse e-mail")
    page.get_by_label("Description pour les visiteurs (facultative)").fill(
        "Vous apprenez à créer une adresse e-mail et à envoyer un message."
    )
    page.get_by_label("Salle").fill("")
    page.get_by_label("Nombre de places").fill("2")
    page.get_by_label("Créer une adresse mail ou retrouver son accès").check()
    page.get_by_role("button", name="Créer l'atelier").click()
    # No date and no room: French errors, what was typed kept.
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert "Choisissez la date de l'atelier." in summary.inner_text()
    assert "Indiquez la salle" in summary.inner_text()
    assert page.get_by_label("Titre").input_value() == "Créer son adresse e-mail"
    assert page.get_by_label("Créer une adresse mail ou retrouver son accès").is_checked()
    check_accessibility(page, "formulaire")

    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Heure de début (heure de Paris)").fill("14:00")
    page.get_by_label("Salle").fill("Salle informatique")
    page.get_by_label("Niveau").select_option("debutant")
    page.get_by_role("button", name="Créer l'atelier").click()
    page.wait_for_url("**/mediation/ateliers/*?fait=cree")
    assert "L'atelier est créé." in page.locator(".done").inner_text()
    workshop_url = page.url.split("?")[0]

    page.get_by_label("Prénom (ou initiales)").fill("Marcel")
    page.get_by_label("Téléphone ou e-mail (facultatif)").fill("07 98 76 54 32")
    page.get_by_role("radio", name="Par téléphone").check()
    page.get_by_role("button", name="Inscrire").click()
    page.wait_for_url("**?fait=inscrit*")
    booked = page.locator("#inscrits")
    assert "Marcel" in booked.inner_text()
    assert booked.locator('a[href="tel:0798765432"]').count() == 1
    page.get_by_role("button", name="Présent : Marcel").click()
    page.wait_for_url("**?fait=presence*")
    assert page.get_by_role("button", name="Présent : Marcel").get_attribute("aria-pressed") == (
        "true"
    )
    assert "Venu" in page.locator("#inscrits").inner_text()
    check_accessibility(page, "seance")

    page.get_by_role("link", name="Ateliers", exact=True).click()
    row = page.locator("tr", has_text="Créer son adresse e-mail")
    assert "1 / 2" in row.inner_text()

    page.goto(f"{workshop_url}/emargement")
    assert page.get_by_role("button", name="Imprimer").is_visible()
    check_accessibility(page, "emargement")
    page.emulate_media(media="print")
    assert not page.locator(".sheet-tools").is_visible()
    assert not page.get_by_role("button", name="Imprimer").is_visible()
    table = page.locator("table.attendance-table")
    assert table.is_visible()
    assert "Marcel" in table.inner_text() and "Signature" in table.inner_text()
    printed = page.locator("body").inner_text()
    assert "07 98" not in printed and "0798765432" not in printed
    assert "Créer son adresse e-mail" in printed and "Salle informatique" in printed
    page.screenshot(path=str(SHOTS / "console-ateliers-emargement-impression.png"), full_page=True)
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")

    page.emulate_media(media="screen")
    page.goto(f"{url}/mediation/report")
    section = page.locator("section", has=page.locator("#ateliers"))
    figures = section.locator("dl").inner_text()
    assert "Ateliers tenus\n1" in figures.replace("\t", "\n")
    assert "50,0 %" in figures
    assert section.locator("svg[role=img]").count() == 1
    assert "Argent - Impôts" in section.locator("table").inner_text()
    check_accessibility(page, "rapport")
    context.close()
