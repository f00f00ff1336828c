"""The kiosk as visitors use it, in a real browser (Debian chromium + Playwright), portrait
(1080×1920) and landscape (1920×1080), against the real servers.

A guide walked to its last step with the top bar always in view and the document never
scrolled; a link that shows its address and a QR code (decoded with jsQR) and opens no tab;
the erase confirmation; reading aloud with the server's voice; the kiosk's name in the
ticket; the phone and e-mail keyboards of the hand-off form; axe-core on every screen.
"""

from __future__ import annotations

import pytest

from bot.settings import ROOT
from bot.tickets import TicketStore
from tests.test_browser_console import AXE, CHROMIUM, CHROMIUM_ARGS, SHOTS

JSQR = ROOT / "node_modules" / "jsqr" / "dist" / "jsQR.js"
PORTRAIT = {"width": 1080, "height": 1920}
LANDSCAPE = {"width": 1920, "height": 1080}
TAX_NOTICE = "Obtenir ou imprimer votre avis d'impôt"
TOP_BAR = ("#ask-human", "#erase", "#text-smaller", "#text-bigger")


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists() and AXE.exists() and JSQR.exists(), "`make setup` installs them"
    from playwright.sync_api import sync_playwright

    # Headless chromium has no voice: the server's voice plays with no one to tap.
    args = [*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=args
        )
        yield launched
        launched.close()


def axe_serious(page, name: str) -> list:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [(name, v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"] if v["impact"] in ("serious", "critical")]  # fmt: skip


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def page_never_scrolled(page) -> None:
    """The document has not moved, has nothing to scroll, and the top bar is fully in view."""
    state = page.evaluate(
        """(ids) => ({
          y: window.scrollY,
          top: document.scrollingElement.scrollTop,
          height: document.scrollingElement.scrollHeight,
          inner: innerHeight,
          boxes: ids.map((id) => {
            const r = document.querySelector(id).getBoundingClientRect();
            return [id, r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight
                        && r.right <= innerWidth && r.height > 0];
          }),
        })""",
        list(TOP_BAR),
    )
    assert state["y"] == 0 and state["top"] == 0, state
    assert state["height"] <= state["inner"], state  # nothing that could scroll the page
    assert all(inside for _, inside in state["boxes"]), state


def spent_buttons_left(page) -> int:
    """Answer buttons shown before the visitor's last message (they should be gone)."""
    return page.evaluate(
        """() => {
          const mine = [...document.querySelectorAll('#log .gc-visitor')].pop();
          if (!mine) return 0;
          return [...document.querySelectorAll('#log .gc-choice')].filter((b) =>
            b.compareDocumentPosition(mine) & Node.DOCUMENT_POSITION_FOLLOWING).length;
        }"""
    )


def decode_qr(page) -> str | None:
    """Draw the dialog's QR image on a canvas and decode it with jsQR."""
    page.add_script_tag(path=str(JSQR))
    return page.evaluate(
        """async () => {
          const img = document.getElementById('link-qr');
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
    )


def check_link_dialog(page, context, name: str) -> list:
    link = page.locator("#log .gc-link").first
    href = link.get_attribute("data-href")
    assert href and href.startswith("https://")
    link.click()
    dialog = page.get_by_role("dialog", name="Continuer sur votre téléphone")
    dialog.wait_for()
    assert len(context.pages) == 1  # no tab opened
    assert page.locator("#link-address").inner_text() == href
    assert dialog.get_by_text("Scannez ce code avec l'appareil photo de votre téléphone "
                              "pour continuer sur votre téléphone.").is_visible()  # fmt: skip
    assert decode_qr(page) == href
    assert href in (page.locator("#link-qr").get_attribute("alt") or "")
    shot(page, name)
    problems = axe_serious(page, name)
    page.get_by_role("button", name="Fermer").click()
    dialog.wait_for(state="hidden")
    assert len(context.pages) == 1
    return problems


def check_erase_confirmation(page, name: str) -> list:
    page.locator("#erase").click()
    dialog = page.get_by_role("dialog", name="Effacer toute la conversation ?")
    dialog.wait_for()
    shot(page, name)
    problems = axe_serious(page, name)
    page.get_by_role("button", name="Non, continuer").click()
    dialog.wait_for(state="hidden")
    assert page.locator("#log .gc-bot").count() > 0  # nothing erased
    page.locator("#erase").click()
    page.get_by_role("button", name="Oui, effacer").click()
    page.get_by_text("La conversation a été effacée.").wait_for()
    assert page.locator("#log").inner_text().strip() == ""
    return problems


@pytest.mark.parametrize("orientation", ["portrait", "landscape"])
def test_kiosk_walk_keeps_the_top_bar_in_view(browser, running_stack, orientation):
    viewport = PORTRAIT if orientation == "portrait" else LANDSCAPE
    # Reduced motion: no smooth scrolling, so the screenshots show where each scroll ends.
    context = browser.new_context(bypass_csp=True, viewport=viewport, reduced_motion="reduce")
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/")
    config = page.evaluate("async () => (await fetch('/api/config')).json()")
    # Home: the catalogue's most asked démarches, the tax notice among them, then the menu.
    page.get_by_role("button", name="Autre démarche").wait_for()
    page.locator(".tile").nth(len(config["common"]) + 1).wait_for()
    tiles = page.locator(".tile").all_inner_texts()
    assert tiles[:-1] == [g["title"] for g in config["common"]] + ["Autre démarche"]
    assert tiles[-1].split()[0] == "Ateliers"  # tests/test_browser_workshops.py checks it
    assert TAX_NOTICE in tiles
    shot(page, f"kiosk-{orientation}-home")
    problems = axe_serious(page, f"{orientation} home")

    page.get_by_role("button", name=TAX_NOTICE).click()
    page.get_by_text("Étape 1 sur", exact=False).first.wait_for()
    label = page.locator(".gc-progress-label").last.inner_text()
    steps = int(label.rsplit(" ", 1)[1])
    qr_shot = "kiosk-link-qr" if orientation == "portrait" else "kiosk-landscape-link-qr"
    problems += check_link_dialog(page, context, qr_shot)
    for step in range(2, steps + 1):
        primary = page.locator("#log .gc-primary")
        assert primary.count() == 1 and primary.inner_text() == "Étape suivante"
        primary.click()
        page.locator(".gc-progress-label", has_text=f"Étape {step} sur {steps}").wait_for()
        assert spent_buttons_left(page) == 0
        page_never_scrolled(page)
        if step == 3:
            problems += axe_serious(page, f"{orientation} mid-guide")
    shot(page, f"kiosk-{orientation}-last-step")
    page.locator("#log .gc-primary").click()  # the last « Étape suivante »: the guide is done
    page.get_by_text("Bravo", exact=False).wait_for()
    assert page.locator("#log [data-completed=true]").count() == 1
    page_never_scrolled(page)
    # The wheel over the conversation and over the top bar moves nothing but the log.
    for x, y in ((viewport["width"] // 2, viewport["height"] // 2), (viewport["width"] // 2, 20)):
        page.mouse.move(x, y)
        page.mouse.wheel(0, -3000)
        page.mouse.wheel(0, 3000)
        page.wait_for_timeout(300)
        page_never_scrolled(page)
    problems += check_erase_confirmation(page, f"kiosk-{orientation}-erase-confirm")
    page_never_scrolled(page)
    assert problems == []
    context.close()


def test_kiosk_name_keyboards_and_ticket(browser, running_stack):
    context = browser.new_context(bypass_csp=True, viewport=PORTRAIT)
    page = context.new_page()
    bodies: list = []
    page.on(
        "request",
        lambda r: bodies.append(r.post_data_json) if r.url.endswith("/api/chat") else None,
    )
    page.goto(f"{running_stack.web_url}/?kiosk=Borne%202")
    assert page.locator("#kiosk-name").inner_text() == "Borne 2"
    # The name from the address is cleaned as the server cleans it.
    cleaned = page.evaluate(
        "async () => (await import('/static/chat/chat.js'))"
        ".cleanKioskName('\\u0007Borne\\n\\t 3 ' + 'x'.repeat(60))"
    )
    assert cleaned == ("Borne 3 " + "x" * 60)[:40]

    box = page.get_by_label("Votre message")
    assert box.get_attribute("inputmode") is None
    page.locator("#ask-human").click()
    page.get_by_role("button", name="Être rappelé par téléphone").click()
    page.get_by_text("numéro de téléphone", exact=False).last.wait_for()
    assert (box.get_attribute("inputmode"), box.get_attribute("autocomplete")) == ("tel", "tel")
    page.get_by_role("button", name="Annuler").last.click()
    page.wait_for_function("() => !document.getElementById('message').hasAttribute('inputmode')")
    assert box.get_attribute("autocomplete") == "off"
    page.locator("#ask-human").click()
    page.get_by_role("button", name="Recevoir une réponse par e-mail").click()
    page.get_by_text("adresse e-mail ?", exact=False).last.wait_for()
    assert (box.get_attribute("inputmode"), box.get_attribute("autocomplete")) == (
        "email",
        "email",
    )
    page.get_by_role("button", name="Annuler").last.click()
    page.wait_for_function("() => !document.getElementById('message').hasAttribute('inputmode')")

    page.locator("#ask-human").click()
    page.get_by_role("button", name="À l'accueil, maintenant").click()
    page.get_by_role("button", name="Passer").click()
    page.get_by_role("button", name="Oui, j'accepte").click()
    page.get_by_text("numéro de demande", exact=False).wait_for()
    sender = page.evaluate("() => window.guichetKiosk.sender()")
    assert bodies and all(b["kiosk"] == "Borne 2" and b["channel"] == "kiosk" for b in bodies)
    with TicketStore(running_stack.settings.tickets_db) as store:
        tickets = [t for t in store.list(limit=1000) if t.sender_id == sender]
    assert [t.kiosk for t in tickets] == ["Borne 2"]
    context.close()


def test_kiosk_reads_aloud_with_the_server_voice(browser, running_stack):
    # No bypass_csp: the page's own Content-Security-Policy must let the voice play.
    context = browser.new_context(viewport=LANDSCAPE)
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/")
    voices = page.evaluate(
        "() => speechSynthesis.getVoices().filter(v => v.lang.startsWith('fr')).length"
    )
    if voices:
        pytest.skip("this browser has a French voice: the server's voice is not used")
    page.evaluate(
        "() => { window.__played = 0; const a = document.getElementById('reader');"
        " a.addEventListener('playing', () => { window.__played += 1; }); }"
    )
    page.get_by_role("button", name="Écrire ou améliorer votre CV").click()
    page.get_by_text("Étape 1 sur", exact=False).first.wait_for()
    step = page.locator("#log .gc-bot").last
    with page.expect_response("**/api/speak") as answer:
        step.get_by_role("button", name="Lire à voix haute").click()
    response = answer.value
    assert response.status == 200
    assert response.headers["content-type"].startswith("audio/wav")
    said = response.request.post_data_json["text"]
    assert "Vos choix : Étape suivante" in said
    page.wait_for_function("() => window.__played > 0")
    stop = step.get_by_role("button", name="Arrêter la lecture")
    assert stop.is_visible()
    stop.click()
    assert page.evaluate("() => document.getElementById('reader').paused") is True
    assert not stop.is_visible()

    # Neither voice: the visitor is told, in French, rather than left with silence.
    page.route("**/api/speak", lambda route: route.fulfill(status=503, body=""))
    step.get_by_role("button", name="Lire à voix haute").click()
    page.get_by_text(
        "La lecture à voix haute ne marche pas sur cette borne.", exact=False
    ).wait_for()
    context.close()


def test_idle_wipe_closes_the_link_dialog(browser, running_stack):
    context = browser.new_context(viewport=PORTRAIT)
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/?idle=5&countdown=1")
    page.get_by_role("button", name=TAX_NOTICE).click()
    page.get_by_text("Étape 1 sur", exact=False).first.wait_for()
    page.locator("#log .gc-link").first.click()
    dialog = page.get_by_role("dialog", name="Continuer sur votre téléphone")
    dialog.wait_for()
    dialog.wait_for(state="hidden", timeout=20_000)  # the idle screen, then the wipe
    page.wait_for_function("() => document.getElementById('log').children.length === 0")
    assert page.locator("#link-address").inner_text() == ""
    assert page.locator("#link-qr").get_attribute("src") is None
    assert len(context.pages) == 1
    context.close()
