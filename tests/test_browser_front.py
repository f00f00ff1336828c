"""The kiosk page and the website widget in a real browser (Debian chromium + Playwright).

Against the real servers: hand off at the kiosk, the idle wipe,
the widget on the demo site across pages and on a hostile page, axe-core on both.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from bot.tickets import TicketStore
from tests.test_browser_console import AXE, CHROMIUM, CHROMIUM_ARGS, SHOTS


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists() and AXE.exists(), "`make setup` installs chromium and axe-core"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def axe_serious(page, include: str | None = None) -> list:
    page.add_script_tag(path=str(AXE))
    context = f"{{include: [['{include}']]}}" if include else "document"
    result = page.evaluate(f"async () => await axe.run({context})")
    return [(v["id"], v["impact"]) for v in result["violations"]
            if v["impact"] in ("serious", "critical")]  # fmt: skip


def events_of(stack, sender: str) -> int:
    path = stack.settings.tracker_db
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?",
                                (sender,)).fetchone()[0])  # fmt: skip


def kiosk(browser, url: str, width: int = 1920, height: int = 1080):
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(url)
    return context, page


def test_kiosk_handoff_creates_a_kiosk_ticket(browser, running_stack):
    context, page = kiosk(browser, f"{running_stack.web_url}/", 1080, 1920)
    page.screenshot(path=str(SHOTS / "kiosk-portrait.png"))
    page.get_by_role("button", name="Parler à un médiateur").first.click()
    page.get_by_role("button", name="À l'accueil, maintenant").click()
    page.get_by_role("button", name="Passer").click()
    page.get_by_role("button", name="Oui, j'accepte").click()
    page.get_by_text("numéro de demande", exact=False).wait_for()
    sender = page.evaluate("() => window.guichetKiosk.sender()")
    with TicketStore(running_stack.settings.tickets_db) as store:
        tickets = [t for t in store.list(limit=1000) if t.sender_id == sender]
    assert len(tickets) == 1 and tickets[0].channel == "kiosk"
    context.close()


def test_kiosk_idle_wipe_leaves_nothing(browser, running_stack):
    context, page = kiosk(browser, f"{running_stack.web_url}/?idle=3&countdown=2")
    page.get_by_label("Votre message").fill("je dois faire ma declaration d impot")
    page.get_by_label("Votre message").press("Enter")
    page.get_by_text("Étape 1 sur", exact=False).first.wait_for()
    sender = page.evaluate("() => window.guichetKiosk.sender()")
    assert events_of(running_stack, sender) > 0
    page.get_by_text("Êtes-vous toujours là ?").wait_for(timeout=10_000)
    page.wait_for_function("() => !document.body.innerText.includes('Étape 1 sur')", timeout=10_000)
    assert page.evaluate("() => sessionStorage.length + localStorage.length") == 0
    assert "déclaration" not in page.locator("[role=log]").inner_text().lower()
    assert page.evaluate("() => window.guichetKiosk.sender()") != sender
    assert events_of(running_stack, sender) == 0
    context.close()


def widget_open(page) -> None:
    page.get_by_role("button", name="Ouvrir l'aide Guichet").click()
    page.get_by_label("Votre message").wait_for()


def test_widget_survives_navigation_and_erases(browser, running_stack):
    context = browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/demo")
    widget_open(page)
    page.get_by_label("Votre message").fill("jveux fair mon cv svp")
    page.get_by_label("Votre message").press("Enter")
    page.get_by_text("Étape 1 sur", exact=False).first.wait_for()
    page.get_by_role("button", name="Étape suivante").last.click()
    page.get_by_text("Étape 2 sur", exact=False).first.wait_for()
    page.screenshot(path=str(SHOTS / "widget-phone.png"))
    assert axe_serious(page, "#guichet-widget") == []
    sender = page.evaluate("() => window.GuichetWidget.sender()")
    page.goto(f"{running_stack.web_url}/demo/horaires")
    page.wait_for_function("() => window.GuichetWidget !== undefined")
    if not page.get_by_label("Votre message").is_visible():
        widget_open(page)
    page.get_by_text("Étape 2 sur", exact=False).first.wait_for()
    assert page.evaluate("() => window.GuichetWidget.sender()") == sender
    page.get_by_role("button", name="Effacer la conversation").click()
    page.wait_for_function("() => !document.getElementById('guichet-widget')"
                           ".shadowRoot.textContent.includes('Étape 2 sur')")  # fmt: skip
    assert events_of(running_stack, sender) == 0
    context.close()


def test_widget_keeps_only_masked_text_in_session_storage(browser, running_stack):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/demo")
    widget_open(page)
    page.get_by_label("Votre message").fill("voici ma carte 4970 1012 3456 7893 pour payer")
    page.get_by_label("Votre message").press("Enter")
    # the reply is saved with the visitor's words, as the server masked them
    page.wait_for_function(
        "() => (sessionStorage.getItem('guichet.transcript') || '').includes('carte masqué')"
    )
    stored = page.evaluate("() => JSON.stringify(Object.assign({}, sessionStorage))")
    assert "4970" not in stored and "7893" not in stored
    assert "voici ma carte [numéro de carte masqué] pour payer" in stored
    context.close()


def test_widget_stays_usable_on_a_hostile_page(browser, running_stack):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/demo/hostile")
    widget_open(page)
    page.get_by_label("Votre message").fill("je veux faire mon cv")
    page.get_by_role("button", name="Envoyer", exact=True).click()
    page.get_by_text("Étape 1 sur", exact=False).first.wait_for()  # a real reply arrived
    box = page.get_by_label("Votre message").bounding_box()
    assert box and box["width"] > 100 and box["height"] < 200
    page.screenshot(path=str(SHOTS / "widget-hostile.png"))
    context.close()


# Records, on every change of the page, whether the typed secret was ever in its text, and
# whether a visitor bubble waited for the server's masked copy.
WATCH_SECRET = """(secret) => {
  window.__leaks = [];
  window.__pending = false;
  const texts = () => {
    const widget = document.getElementById('guichet-widget');
    const inside = widget && widget.shadowRoot ? widget.shadowRoot.textContent : '';
    return document.body.innerText + ' ' + document.documentElement.outerHTML + ' ' + inside;
  };
  const check = () => {
    if (texts().includes(secret)) window.__leaks.push(Date.now());
    const root = document.getElementById('guichet-widget');
    const scope = root && root.shadowRoot ? root.shadowRoot : document;
    if (scope.querySelector('[data-pending]')) window.__pending = true;
  };
  const watch = (node) => new MutationObserver(check).observe(node,
    {subtree: true, childList: true, characterData: true, attributes: true});
  watch(document.body);
  const widget = document.getElementById('guichet-widget');
  if (widget && widget.shadowRoot) watch(widget.shadowRoot);
}"""
PASSWORD = "mon mot de passe est Azerty123!"


def shows_secret(page) -> bool:
    return page.evaluate(
        "() => { const w = document.getElementById('guichet-widget');"
        " const t = document.body.innerText + document.documentElement.outerHTML"
        " + (w && w.shadowRoot ? w.shadowRoot.textContent : '');"
        " return t.includes('Azerty123'); }"
    )


def type_password_and_watch(page) -> None:
    page.evaluate(WATCH_SECRET, "Azerty123")
    box = page.get_by_label("Votre message")
    box.fill(PASSWORD)
    box.press("Enter")
    assert box.input_value() == ""  # out of the text box at once
    # Poll while the request is in flight, until the masked copy is on screen.
    for _ in range(600):
        assert not shows_secret(page)
        if page.get_by_text("[mot de passe masqué]", exact=False).count():
            break
        page.wait_for_timeout(20)
    page.get_by_text("mon mot de passe est [mot de passe masqué]", exact=False).wait_for()
    assert page.evaluate("() => window.__leaks") == []
    assert page.evaluate("() => window.__pending") is True  # « … » while waiting
    assert not shows_secret(page)


def test_kiosk_never_shows_a_typed_password(browser, running_stack):
    context, page = kiosk(browser, f"{running_stack.web_url}/")
    type_password_and_watch(page)
    context.close()


def test_widget_never_shows_a_typed_password(browser, running_stack):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/demo")
    widget_open(page)
    type_password_and_watch(page)
    stored = page.evaluate("() => JSON.stringify(Object.assign({}, sessionStorage))")
    assert "Azerty123" not in stored
    context.close()


def alpha(colour: str) -> float:
    """The alpha of a computed CSS colour: rgb(r, g, b) or rgba(r, g, b, a)."""
    inside = colour[colour.index("(") + 1 : colour.index(")")].replace("/", ",").split(",")
    return float(inside[3]) if len(inside) == 4 else 1.0


def test_idle_overlay_is_opaque(browser, running_stack):
    context, page = kiosk(browser, f"{running_stack.web_url}/?idle=1&countdown=120")
    page.get_by_role("button", name="Parler à un médiateur").first.click()
    page.get_by_role("button", name="À l'accueil, maintenant").wait_for()
    page.get_by_text("Êtes-vous toujours là ?").wait_for(timeout=20_000)
    style = page.evaluate(
        "() => { const o = document.getElementById('idle'); const s = getComputedStyle(o);"
        " const r = o.getBoundingClientRect();"
        " return {bg: s.backgroundColor, opacity: s.opacity, visible: s.visibility,"
        " x: r.x, y: r.y, w: r.width, h: r.height, vw: innerWidth, vh: innerHeight}; }"
    )
    page.screenshot(path=str(SHOTS / "kiosk-idle-overlay.png"))
    assert alpha(style["bg"]) == 1.0, style
    assert float(style["opacity"]) == 1.0 and style["visible"] == "visible"
    assert (style["x"], style["y"]) == (0, 0)
    assert (style["w"], style["h"]) == (style["vw"], style["vh"])
    context.close()


def test_kiosk_wipes_sooner_after_a_ticket(browser, running_stack):
    # Without a ticket the screen would stay for ten minutes (idle=600).
    context, page = kiosk(browser, f"{running_stack.web_url}/?idle=600&countdown=1&wipe=2")
    page.get_by_role("button", name="Parler à un médiateur").first.click()
    page.get_by_role("button", name="À l'accueil, maintenant").click()
    page.get_by_role("button", name="Passer").click()
    page.get_by_role("button", name="Oui, j'accepte").click()
    page.get_by_text("numéro de demande", exact=False).wait_for()
    sender = page.evaluate("() => window.guichetKiosk.sender()")
    page.wait_for_function(
        "() => !document.body.innerText.includes('numéro de demande')", timeout=60_000
    )
    assert page.locator("[role=log]").inner_text().strip() == ""
    assert page.evaluate("() => window.guichetKiosk.sender()") != sender
    with TicketStore(running_stack.settings.tickets_db) as store:  # the ticket stays
        assert [t for t in store.list(limit=1000) if t.sender_id == sender]
    context.close()


PHONE_FORMS = (b"47 19 83 52", b"47.19.83.52", b"47198352", b"0647198352")
PROBLEM = "ma box zorglubette ne marche plus"


def data_files(stack) -> dict[str, bytes]:
    root = stack.settings.data_dir
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_idle_wipe_after_a_phone_number_leaves_nothing_in_any_file(browser, running_stack):
    context, page = kiosk(browser, f"{running_stack.web_url}/?idle=6&countdown=2")
    page.get_by_role("button", name="Parler à un médiateur").first.click()
    page.get_by_role("button", name="Être rappelé par téléphone").click()
    box = page.get_by_label("Votre message")
    box.fill("06 47 19 83 52")
    box.press("Enter")
    # The number is read back in full, on the kiosk only, before consent.
    page.get_by_text("Vous avez écrit 06 47 19 83 52", exact=False).wait_for()
    page.get_by_role("button", name="Oui, c'est bien ça").click()
    page.get_by_role("button", name="Passer").wait_for()
    box.fill(PROBLEM)
    box.press("Enter")
    page.get_by_role("button", name="Oui, j'accepte").wait_for()
    sender = page.evaluate("() => window.guichetKiosk.sender()")
    with TicketStore(running_stack.settings.tickets_db) as store:
        assert store.peek_contact(sender) is not None  # held, waiting for consent
    assert any(b"zorglubette" in c for c in data_files(running_stack).values())
    # The visitor walks away: no consent, the idle wipe.
    page.get_by_text("Êtes-vous toujours là ?").wait_for(timeout=30_000)
    page.wait_for_function("() => window.guichetKiosk.sender() !== " + repr(sender),
                           timeout=30_000)  # fmt: skip
    page.wait_for_function("() => !document.body.innerText.includes('zorglubette')")
    assert events_of(running_stack, sender) == 0
    with TicketStore(running_stack.settings.tickets_db) as store:
        assert store.peek_contact(sender) is None
    found = {
        name: [f.decode() for f in (*PHONE_FORMS, b"zorglubette", sender.encode()) if f in content]
        for name, content in data_files(running_stack).items()
    }
    found = {name: hits for name, hits in found.items() if hits}
    # tickets.db* is cleaned by TicketStore.drop_contact (secure_delete and a WAL
    # checkpoint); the tracker store, its WAL and the logs by the erase and the scrubber.
    assert found == {}, found
    context.close()


def test_kiosk_shows_an_arabic_notice_right_to_left(browser, running_stack):
    from bot.language import NOTICES

    context, page = kiosk(browser, f"{running_stack.web_url}/")
    box = page.get_by_role("textbox").first
    box.fill("أريد أن أصرح بضرائبي على الإنترنت من فضلك")
    box.press("Enter")
    notice = page.locator(".gc-bot .gc-text").filter(has_text=NOTICES["ar"].split(".")[0])
    notice.first.wait_for()
    assert notice.first.get_attribute("dir") == "auto"
    assert notice.first.evaluate("node => getComputedStyle(node).direction") == "rtl"
    context.close()
