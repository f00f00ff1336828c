"""Workshops on the kiosk and in the widget, in a real browser (Debian chromium + Playwright).

The « Ateliers » tile on the kiosk's home screen (last row shared, axe-clean, portrait and
landscape); the list of sessions and the booking card drawn from replies made up here (the
markers of /tmp/workshops-api.md: large buttons, the phone keyboard at the contact step, the
number in large type, the date in Paris time, a QR code of the session's page decoded with
jsQR, the waiting list said plainly, the card gone with « Effacer » and with the idle wipe);
the widget's card (number bold and larger, a link to the session's page); and the whole
booking through the real bot, with a session created in the real store.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.test_browser_console import AXE, CHROMIUM, CHROMIUM_ARGS, SHOTS
from tests.test_browser_kiosk import JSQR, LANDSCAPE, PORTRAIT, axe_serious

PARIS = ZoneInfo("Europe/Paris")
DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")  # fmt: skip
PHONE = {"width": 390, "height": 844}
TITLE = "Créer son adresse e-mail"
NUMBER = "K7P3Q"
JSON = "application/json"
CAF = '/book_workshop{"workshop_id": 13}'

# Decode a QR <img> of the page with jsQR (drawn large on a white canvas first).
DECODE = """async (selector) => {
  const img = document.querySelector(selector);
  await img.decode();
  const size = 480;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size;
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, size, size);
  g.drawImage(img, 0, 0, size, size);
  const code = jsQR(g.getImageData(0, 0, size, size).data, size, size);
  return code ? code.data : null;
}"""
FONT_PX = "(node) => parseFloat(getComputedStyle(node).fontSize)"
WIPED = "() => !document.querySelector('.gc-booking') && !document.getElementById('log').firstChild"


def said_in_french(moment: datetime, now: datetime) -> str:
    """How the card should say a session's start, computed here apart from the page's Intl."""
    local = moment.astimezone(PARIS)
    text = f"{DAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}"
    if local.year != now.astimezone(PARIS).year:
        text += f" {local.year}"
    text += f" à {local.hour} h" + (f" {local.minute:02d}" if local.minute else "")
    return text[0].upper() + text[1:]


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def coming_session() -> datetime:
    """Ten days ahead, at 14 h 30 Paris time (the minutes are said too)."""
    day = (datetime.now(PARIS) + timedelta(days=10)).date()
    return datetime(day.year, day.month, day.day, 14, 30, tzinfo=PARIS)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists() and AXE.exists() and JSQR.exists(), "`make setup` installs them"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


class MadeUpBot:
    """Answers /api/chat with replies written here, and records what the page sent."""

    def __init__(self, starts_at: datetime, *, waiting: bool = False) -> None:
        self.sent: list[str] = []
        self.starts_at = starts_at
        self.waiting = waiting

    def reply(self, message: str) -> list[dict]:
        def say(text, custom=None, buttons=None):
            out = [{"recipient_id": "x", "text": text, **({"buttons": buttons} if buttons else {})}]
            return out + ([{"recipient_id": "x", "custom": custom}] if custom else [])

        if message == "/list_workshops":
            when = said_in_french(self.starts_at, datetime.now(PARIS))
            sessions = [
                {"title": f"{when} : {TITLE}", "payload": '/book_workshop{"workshop_id": 12}'},
                {"title": "Jeudi 17 décembre, 10 h : Les démarches CAF", "payload": CAF},
                {"title": "Parler à un médiateur", "payload": "/ask_human"},
            ]
            return say("Voici les prochains ateliers :", {"workshops": [12, 13]}, sessions)
        if message.startswith("/book_workshop"):
            return say("Quel est votre prénom ?", {"booking": "first_name"})
        if message == "Camille":
            return say("Quel est votre numéro de téléphone ?",
                       {"booking": "contact_detail", "detail": "phone"})  # fmt: skip
        created = {"booking": "created", "number": NUMBER, "workshop": 12,
                   "starts_at": iso(self.starts_at), "waiting": self.waiting}  # fmt: skip
        return say(f"C'est noté, Camille. Votre numéro d'inscription : {NUMBER}.", created)

    def handle(self, route) -> None:
        message = route.request.post_data_json["message"]
        self.sent.append(message)
        headers = {"X-Guichet-Visitor-Text": message}
        route.fulfill(body=json.dumps(self.reply(message)), content_type=JSON, headers=headers)


def last_row_fills_the_grid(page) -> dict:
    """The home tiles' rows: the last one starts at the grid's left and ends at its right."""
    return page.evaluate(
        """() => {
          const grid = document.getElementById('common').getBoundingClientRect();
          const boxes = [...document.querySelectorAll('#common .tile')]
            .map((t) => t.getBoundingClientRect());
          const lastTop = Math.max(...boxes.map((b) => Math.round(b.top)));
          const last = boxes.filter((b) => Math.round(b.top) === lastTop);
          return {
            left: Math.min(...last.map((b) => b.left)) - grid.left,
            right: grid.right - Math.max(...last.map((b) => b.right)),
            smallest: Math.min(...boxes.map((b) => Math.min(b.width, b.height))),
            rows: new Set(boxes.map((b) => Math.round(b.top))).size,
          };
        }"""
    )


@pytest.mark.parametrize("orientation", ["portrait", "landscape"])
def test_home_has_the_workshops_tile(browser, running_stack, orientation):
    viewport = PORTRAIT if orientation == "portrait" else LANDSCAPE
    context = browser.new_context(bypass_csp=True, viewport=viewport, reduced_motion="reduce")
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/")
    config = page.evaluate("async () => (await fetch('/api/config')).json()")
    page.locator(".tile").nth(len(config["common"]) + 1).wait_for()
    tiles = page.locator(".tile")
    # The démarches, « Autre démarche », then « Ateliers » with what it is for.
    assert tiles.count() == len(config["common"]) + 2
    assert tiles.last.inner_text().split() == ["Ateliers", "Apprendre", "en", "groupe"]
    assert page.get_by_role("button", name="Ateliers Apprendre en groupe").is_visible()
    # In view on the home screen, unscrolled, whatever the orientation.
    tile = tiles.last.bounding_box()
    scroller = page.locator("#scroller").bounding_box()
    assert tile["y"] + tile["height"] <= scroller["y"] + scroller["height"], (tile, scroller)
    balance = last_row_fills_the_grid(page)
    assert abs(balance["left"]) < 1 and abs(balance["right"]) < 1, balance  # no hole
    assert balance["smallest"] >= 44, balance
    shot(page, f"kiosk-ateliers-home-{orientation}")
    assert axe_serious(page, f"{orientation} home") == []
    context.close()


def test_kiosk_list_form_and_booking_card(browser, running_stack):
    starts_at = coming_session()
    bot = MadeUpBot(starts_at)
    context = browser.new_context(bypass_csp=True, viewport=PORTRAIT, reduced_motion="reduce")
    page = context.new_page()
    page.route(f"{running_stack.web_url}/api/chat", bot.handle)
    page.goto(f"{running_stack.web_url}/")
    page.get_by_role("button", name="Ateliers").click()
    listing = page.locator("#log .gc-bot[data-workshops]")
    listing.wait_for()
    assert bot.sent == ["/list_workshops"]
    # One large button a line per session, the whole bubble wide.
    buttons = listing.locator(".gc-choice")
    assert buttons.count() == 3
    group = listing.locator(".gc-choices").bounding_box()
    for box in (buttons.nth(k).bounding_box() for k in range(3)):
        assert box["width"] > group["width"] - 2 and box["height"] >= 56
    assert buttons.first.evaluate(FONT_PX) >= 22
    shot(page, "kiosk-ateliers-list")
    problems = axe_serious(page, "list")

    buttons.first.click()
    page.locator("#log [data-booking=first_name]").wait_for()
    box = page.get_by_label("Votre message")
    assert box.get_attribute("inputmode") is None
    box.fill("Camille")
    box.press("Enter")
    page.locator("#log [data-booking=contact_detail]").wait_for()
    assert (box.get_attribute("inputmode"), box.get_attribute("autocomplete")) == ("tel", "tel")
    box.fill("06 12 34 56 78")
    box.press("Enter")

    card = page.locator("#log .gc-booking")
    card.wait_for()
    assert box.get_attribute("inputmode") is None  # the form is over
    line = card.locator(".gc-booking-line").inner_text()
    assert line.split() == ["Notez", "ce", "numéro", ":", NUMBER]
    number = card.locator(".gc-booking-number")
    assert number.evaluate(FONT_PX) >= 32
    when = card.locator(".gc-booking-when")
    assert when.inner_text() == said_in_french(starts_at, datetime.now(PARIS))
    assert when.evaluate(FONT_PX) >= 32
    assert "liste d'attente" not in card.inner_text()
    assert card.get_by_text("Scannez pour l'avoir sur votre téléphone.").is_visible()
    page.add_script_tag(path=str(JSQR))
    assert page.evaluate(DECODE, "#log .gc-booking-qr") == f"{running_stack.web_url}/ateliers/12"
    page.locator("#log").evaluate("(log) => { log.parentElement.scrollTop = 1e6; }")
    shot(page, "kiosk-ateliers-card")
    problems += axe_serious(page, "card")

    # « Effacer » takes the card with the rest.
    page.locator("#erase").click()
    page.get_by_role("button", name="Oui, effacer").click()
    page.get_by_text("La conversation a été effacée.").wait_for()
    assert page.locator(".gc-booking").count() == 0
    assert problems == []
    context.close()


def test_kiosk_waiting_list_public_address_and_idle_wipe(browser, running_stack):
    """The waiting list said plainly, the QR on PUBLIC_BASE_URL, and the idle wipe."""
    bot = MadeUpBot(coming_session(), waiting=True)
    public = "https://guichet.example.org/accueil"

    def config(route) -> None:
        answer = route.fetch()
        route.fulfill(response=answer, json={**answer.json(), "public_base_url": public + "/"})

    context = browser.new_context(bypass_csp=True, viewport=LANDSCAPE, reduced_motion="reduce")
    page = context.new_page()
    page.route(f"{running_stack.web_url}/api/chat", bot.handle)
    page.route(f"{running_stack.web_url}/api/config", config)
    page.goto(f"{running_stack.web_url}/?idle=3&countdown=1")
    page.locator(".tile").nth(3).wait_for()
    page.get_by_role("button", name="Ateliers").click()
    page.locator("#log .gc-bot[data-workshops] .gc-choice").first.click()
    page.locator("#log [data-booking=first_name]").wait_for()
    box = page.get_by_label("Votre message")
    box.fill("Camille")
    box.press("Enter")
    page.locator("#log [data-booking=contact_detail]").wait_for()
    box.fill("je viendrai")
    box.press("Enter")
    card = page.locator("#log .gc-booking")
    card.wait_for()
    status = card.locator(".gc-booking-status")
    assert status.inner_text() == (
        "Vous êtes sur la liste d'attente : vous n'avez pas encore de place."
    )
    page.add_script_tag(path=str(JSQR))
    assert page.evaluate(DECODE, "#log .gc-booking-qr") == f"{public}/ateliers/12"
    shot(page, "kiosk-ateliers-waiting")
    # Nobody touches the kiosk: the idle screen, then the wipe, takes the card away.
    page.locator("#idle:not(.hidden)").wait_for(timeout=15_000)
    page.wait_for_function(WIPED, timeout=15_000)
    page.get_by_role("button", name="Ateliers").wait_for()
    context.close()


def test_widget_shows_the_number_and_links_the_session(browser, running_stack):
    starts_at = coming_session()
    bot = MadeUpBot(starts_at)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, bypass_csp=True)
    page = context.new_page()
    page.route(f"{running_stack.web_url}/api/chat", bot.handle)
    page.goto(f"{running_stack.web_url}/demo")
    page.get_by_role("button", name="Ouvrir l'aide Guichet").tap()
    box = page.get_by_label("Votre message")
    box.fill("Camille")
    box.press("Enter")
    page.get_by_text("Quel est votre numéro de téléphone ?").wait_for()
    # The booking's contact step opens the number pad, as the hand-off's does.
    page.wait_for_function(
        "() => document.getElementById('guichet-widget').shadowRoot"
        ".getElementById('guichet-input').getAttribute('inputmode') === 'tel'"
    )
    box = page.get_by_label("Votre numéro de téléphone")
    box.fill("06 12 34 56 78")
    box.press("Enter")
    number = page.locator("#guichet-widget .gc-booking-number")
    number.wait_for()
    assert number.inner_text() == NUMBER
    text_px = page.locator("#guichet-widget .gc-bot .gc-text").last.evaluate(FONT_PX)
    weight = number.evaluate("(n) => Number(getComputedStyle(n).fontWeight)")
    assert number.evaluate(FONT_PX) >= 1.4 * text_px and weight >= 700
    when = page.locator("#guichet-widget .gc-booking-when").inner_text()
    assert when == said_in_french(starts_at, datetime.now(PARIS))
    link = page.get_by_role("link", name="Voir la page de l'atelier")
    assert link.get_attribute("href") == f"{running_stack.web_url}/ateliers/12"
    assert link.get_attribute("target") == "_blank"
    assert page.locator("#guichet-widget .gc-booking-qr").count() == 0  # no QR on a phone
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "kiosk-ateliers-widget.png"))
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run({include: [['#guichet-widget']]})")
    serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
    context.close()


def test_visitor_books_a_session_on_the_kiosk_through_the_bot(browser, running_stack):
    """A session made in the real store, found and booked through the real bot and action
    server; the card shows the store's number; the idle wipe takes it away."""
    from bot.workshops import WorkshopStore

    starts_at = coming_session()
    with WorkshopStore.open(running_stack.settings) as store:
        session = store.create(
            title=TITLE, description="Créer une adresse et envoyer un premier message.",
            starts_at=starts_at, duration_minutes=90, place="Salle 2",
            address="12 rue de la Poste", seats=8, level="debutant", guide_ids=[],
            actor="camille",
        )  # fmt: skip
    context = browser.new_context(bypass_csp=True, viewport=PORTRAIT, reduced_motion="reduce")
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/?idle=8&countdown=2")
    page.get_by_role("button", name="Ateliers").click()
    page.locator("#log .gc-bot[data-workshops]").wait_for()
    page.locator("#log .gc-bot[data-workshops] .gc-choice", has_text=TITLE).click()
    page.locator("#log [data-booking=first_name]").wait_for()
    box = page.get_by_label("Votre message")
    box.fill("Camille")
    box.press("Enter")
    page.locator("#log [data-booking=contact_kind]").wait_for()
    page.get_by_role("button", name="Je viendrai, sans être prévenu").click()
    page.locator("#log [data-booking=consent]").wait_for()
    page.get_by_role("button", name="Oui, j'accepte").click()
    card = page.locator("#log .gc-booking")
    card.wait_for()
    sender = page.evaluate("() => window.guichetKiosk.sender()")

    number = card.locator(".gc-booking-number").inner_text()
    assert card.locator(".gc-booking-number").evaluate(FONT_PX) >= 32
    assert card.locator(".gc-booking-when").inner_text() == said_in_french(
        starts_at, datetime.now(PARIS)
    )
    page.add_script_tag(path=str(JSQR))
    page_address = f"{running_stack.web_url}/ateliers/{session.id}"
    assert page.evaluate(DECODE, "#log .gc-booking-qr") == page_address
    shot(page, "kiosk-ateliers-booked")
    with WorkshopStore.open(running_stack.settings) as store:
        booked = store.booking(number)
    assert booked is not None and booked.workshop_id == session.id
    assert (booked.status, booked.first_name, booked.channel) == ("inscrit", "Camille", "kiosk")
    assert booked.sender_id == sender and booked.contact_kind == "none"
    # The visitor walks away: the idle screen, then the wipe, and the card is gone.
    page.locator("#idle:not(.hidden)").wait_for(timeout=20_000)
    page.wait_for_function(WIPED, timeout=20_000)
    context.close()
