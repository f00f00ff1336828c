"""A day at the desk, in a real browser (Debian chromium driven by Playwright) against the
real stack: an open console receives a kiosk hand-off made meanwhile, pinned at the top with
the kiosk's name and counted in the tab title; the ticket reads as a conversation (button
labels, never payloads) beside the step the visitor stopped on; the mediator takes it, logs
a call and sets « à rappeler »; the search finds a phone number typed with other spacing;
the print view drops the navigation and the forms. axe-core checks every page."""

from __future__ import annotations

import re
import uuid

from bot.client import markers, send
from tests.test_browser_console import SHOTS, browser, check_accessibility, make_account

__all__ = ["browser"]  # the module-scoped fixture, shared with the console's first test

PASSWORD = "un mot de passe solide"


def hand_off(bot_url: str, metadata: dict[str, str], *, phone: str | None = None) -> int:
    """A visitor walks a guide one step, then asks for a mediator through the REST channel."""
    sender = f"day-{uuid.uuid4().hex}"
    send(bot_url, sender, "/impots.avis_imposition", metadata=metadata)
    send(bot_url, sender, "/next_step", metadata=metadata)
    send(bot_url, sender, "/ask_human", metadata=metadata)
    preference = "phone" if phone else "desk"
    send(bot_url, sender, f'/choose_contact{{"contact_preference": "{preference}"}}',
         metadata=metadata)  # fmt: skip
    if phone:
        send(bot_url, sender, phone, metadata=metadata)
        send(bot_url, sender, "/affirm", metadata=metadata)  # « Oui, c'est bien ça »
    send(bot_url, sender, "/deny", metadata=metadata)  # « Passer » the sentence
    created = markers(send(bot_url, sender, "/affirm", metadata=metadata))
    assert created and created[0]["handoff"] == "created", created
    return int(created[0]["ticket"])


def test_a_day_at_the_desk(browser, running_stack):
    bot, web = running_stack.bot_url, running_stack.web_url
    phone_ticket = hand_off(bot, {"channel": "widget"}, phone="06 12 34 56 78")
    make_account(running_stack.settings.data_dir, "camille", PASSWORD)
    context = browser.new_context(
        bypass_csp=True, viewport={"width": 1280, "height": 900}, locale="fr-FR"
    )
    page = context.new_page()
    page.goto(f"{web}/mediation/login")
    page.get_by_label("Nom").fill("camille")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{web}/mediation/")
    before = page.title()

    # A visitor at « Borne 2 » asks for someone at the desk while the console is open.
    desk_ticket = hand_off(bot, {"channel": "kiosk", "kiosk": "Borne 2"})
    assert page.locator(f'#tickets tbody tr[data-id="{desk_ticket}"]').count() == 0
    pinned = page.locator("#desk-list li", has_text=f"Ticket n° {desk_ticket}")
    pinned.wait_for(timeout=20_000)
    assert "Borne 2" in pinned.inner_text() and "attend depuis" in pinned.inner_text()
    assert page.locator(f'#tickets tbody tr[data-id="{desk_ticket}"]').is_visible()
    # Newest first: the new row went to the top of the table.
    assert page.locator("#tickets tbody tr").first.get_attribute("data-id") == str(desk_ticket)
    title = page.title()
    assert re.fullmatch(r"\(\d+\) File des demandes — Guichet", title), title
    assert title != before
    assert "Borne 2" in page.locator("#announce").inner_text()
    # The sound is off unless the mediator turns it on, and the choice is remembered.
    assert not page.get_by_label("Son à l'arrivée d'une demande").is_checked()
    page.get_by_label("Son à l'arrivée d'une demande").check()
    assert page.evaluate("() => localStorage.getItem('guichet.console.sound')") == "oui"
    assert page.evaluate("() => window.guichetBeeps") == 1
    check_accessibility(page, "queue-alert")

    # Search: the number typed with other spacing.
    page.get_by_label("Rechercher").fill("0612 34 56 78")
    page.get_by_role("button", name="Rechercher").click()
    page.wait_for_url(re.compile(r".*q=0612"))
    rows = page.locator("#tickets tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-id") == str(phone_ticket)
    check_accessibility(page, "search")

    # The ticket: a readable conversation and the step in full.
    rows.first.get_by_role("link").first.click()
    page.wait_for_url(f"{web}/mediation/tickets/{phone_ticket}")
    transcript = page.locator(".transcript").inner_text()
    assert "« Étape suivante »" in transcript and "« Parler à un médiateur »" in transcript
    assert "« Être rappelé par téléphone »" in transcript
    assert "/next_step" not in transcript and "choose_contact" not in transcript
    for line in transcript.splitlines():
        assert not line.strip().startswith("/"), line
    assert page.locator(".step .instruction").inner_text().strip()
    assert page.locator("a.contact").get_attribute("href") == "tel:0612345678"

    page.get_by_role("button", name="Je prends ce ticket").click()
    page.wait_for_url(re.compile(r".*fait=pris"))
    assert "Il est passé « En cours »" in page.locator(".done").inner_text()
    page.get_by_label("Pas de réponse").check()
    page.get_by_label("Note sur l'appel (facultative)").fill("Sonne dans le vide.")
    page.get_by_label("Statut après l'appel").select_option("a_rappeler")
    page.get_by_label("Prochain appel (pour « À rappeler » ou « Injoignable »)").first.fill(
        "2026-12-01T10:30"
    )
    page.get_by_role("button", name="Noter l'appel").click()
    page.wait_for_url(re.compile(r".*fait=appel"))
    calls = page.locator("table.calls").inner_text()
    assert "Pas de réponse" in calls and "Sonne dans le vide." in calls and "camille" in calls
    assert "À rappeler" in page.locator("h1").inner_text()
    assert "01/12/2026 10:30" in page.locator("main").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-ticket.png"), full_page=True)
    check_accessibility(page, "ticket-day")

    # Printed: no navigation, no forms; the conversation, the contact and links as text.
    page.emulate_media(media="print")
    assert page.locator("header.top").is_hidden()
    assert page.get_by_role("button", name="Noter l'appel").is_hidden()
    assert page.locator(".transcript").is_visible()
    link = page.locator(".step a.url")
    if link.count():
        assert link.inner_text().startswith("http")
    assert "06 12 34 56 78" in page.locator("main").inner_text()
    page.screenshot(path=str(SHOTS / "console-ticket-print.png"), full_page=True)
    page.emulate_media(media="screen")

    # The queue after the work: who follows the ticket, its status.
    page.goto(f"{web}/mediation/")
    row = page.locator(f'#tickets tbody tr[data-id="{phone_ticket}"]').inner_text()
    assert "camille" in row and "À rappeler" in row and "depuis" in row
    context.close()
