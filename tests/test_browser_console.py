"""The mediators' console in a real browser (Debian chromium driven by Playwright).

A visitor hands off over REST (typing a script payload on the way); a mediator account is
made with the CLI; the mediator logs in, opens the ticket, adds a note, resolves it and sees
it counted in the report. axe-core checks each page. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bot.client import markers, send
from bot.settings import ROOT

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "screenshots"
PAYLOAD = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


def check_accessibility(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{name}: {serious}"


def make_account(data_dir: Path, name: str, password: str) -> None:
    env = {**os.environ, "DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "bot.accounts", "add", name, "--password-stdin"],
        input=password + "\n",
        text=True,
        capture_output=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def hand_off(bot_url: str) -> int:
    sender = f"browser-{uuid.uuid4().hex}"
    kiosk = {"channel": "kiosk"}
    send(bot_url, sender, "/impots.paiement", metadata=kiosk)
    send(bot_url, sender, "je veux parler à un médiateur", metadata=kiosk)
    send(bot_url, sender, '/choose_contact{"contact_preference": "desk"}', metadata=kiosk)
    send(bot_url, sender, f"je bloque au paiement {PAYLOAD}", metadata=kiosk)
    created = markers(send(bot_url, sender, "oui", metadata=kiosk))[0]
    assert created["handoff"] == "created"
    return int(created["ticket"])


def test_a_mediator_follows_up_a_real_handoff(browser, running_stack):
    ticket_id = hand_off(running_stack.bot_url)
    make_account(running_stack.settings.data_dir, "dominique", "un mot de passe solide")
    web = running_stack.web_url
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()

    page.goto(f"{web}/mediation/")
    assert page.url.endswith("/mediation/login")
    check_accessibility(page, "login")
    page.get_by_label("Nom").fill("dominique")
    page.get_by_label("Mot de passe").fill("un mot de passe solide")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{web}/mediation/")
    check_accessibility(page, "queue")

    page.get_by_role("link", name=str(ticket_id), exact=True).click()
    page.wait_for_url(f"{web}/mediation/tickets/{ticket_id}")
    assert page.get_by_text("je bloque au paiement", exact=False).first.is_visible()
    assert page.evaluate("() => window.pwned") is None  # the payload shows as text, never runs
    assert page.locator(".transcript").inner_text().count("<script>window.pwned=2</script>") >= 1
    check_accessibility(page, "ticket")

    page.get_by_label("Note interne").fill("Rendez-vous pris jeudi à 10 h.")
    page.get_by_role("button", name="Ajouter la note").click()
    page.wait_for_url(f"{web}/mediation/tickets/{ticket_id}?fait=note")
    assert page.get_by_text("Rendez-vous pris jeudi à 10 h.").is_visible()
    page.get_by_label("Nouveau statut").select_option("resolu")
    page.get_by_label("Note de résolution (facultative)").fill("Paiement fait ensemble.")
    page.get_by_role("button", name="Changer le statut").click()
    page.wait_for_url(f"{web}/mediation/tickets/{ticket_id}?fait=statut")
    assert "Résolu" in page.locator("h1").inner_text()

    page.goto(f"{web}/mediation/report")
    assert page.locator("svg[role=img]").count() == 4
    asked = page.locator("table", has_text="Guides démarrés et terminés").inner_text()
    assert "Payer" in asked or "paiement" in asked.lower()
    check_accessibility(page, "report")
    page.goto(f"{web}/mediation/guides")
    check_accessibility(page, "guides")
    context.close()


def test_console_pages_with_incidents_and_error_pages_stay_accessible(browser, tmp_path: Path):
    """No Rasa needed: a ticket written straight to the store, incidents recorded, the web
    app served by a real uvicorn. The status box and the French error pages pass axe too,
    and logging out leaves a cookie that no longer opens anything."""
    import socket
    import threading
    import time

    import uvicorn

    from bot import incidents
    from bot.settings import Settings
    from bot.tickets import TicketStore
    from bot.web.app import create_app

    settings = Settings(Settings.from_env().values | {"DATA_DIR": str(tmp_path / "var")})
    settings.data_dir.mkdir(parents=True)
    make_account(settings.data_dir, "dominique", "un mot de passe solide")
    with TicketStore.open(settings) as store:
        ticket = store.create(
            sender_id="conv-axe", channel="widget", reason="asked", contact_preference="desk",
            summary=f"Demande {PAYLOAD}", transcript=[],
        )  # fmt: skip
    incidents.record("ticket_write_failed", "database is locked", settings=settings)
    incidents.record("handoff_flood", "21 in 60 s", settings=settings)
    incidents.record("server_restarted", "rasa exited", settings=settings)
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
        web = f"http://127.0.0.1:{port}"
        context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{web}/mediation/login")
        page.get_by_label("Nom").fill("dominique")
        page.get_by_label("Mot de passe").fill("un mot de passe solide")
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(f"{web}/mediation/")
        box = page.locator("section.service").inner_text()
        assert "1 ticket n'a pas pu être enregistré" in box and "redémarré" in box
        check_accessibility(page, "queue-incidents")
        page.goto(f"{web}/mediation/tickets/{ticket.id}")
        assert page.evaluate("() => window.pwned") is None
        missing = page.goto(f"{web}/mediation/nulle-part")
        assert missing is not None and missing.status == 404
        assert "Cette page n'existe pas." in page.locator("main").inner_text()
        check_accessibility(page, "error-404")
        cookie = next(c for c in context.cookies() if c["name"] == "guichet_session")
        assert (
            cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/mediation"
        )
        page.goto(f"{web}/mediation/")
        page.get_by_role("button", name="Se déconnecter").click()
        page.wait_for_url(f"{web}/mediation/login")
        # The old cookie, put back by hand, opens nothing.
        context.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path")}])
        page.goto(f"{web}/mediation/")
        assert page.url.endswith("/mediation/login")
        context.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
