"""The website widget on a phone and on a page wider than the screen (Chromium + Playwright).

Against the real servers, as a job seeker on a 390×844 phone (touch, mobile viewport): the
launcher's label, the full-screen panel with 44 px header buttons and the page held still
behind it, the number pad and the e-mail keyboard in the hand-off form, and the launcher and
panel inside what the visitor sees on /demo/horaires scrolled sideways, on a phone and on a
desktop. axe-core checks the widget (its shadow root) at both sizes. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import re

import pytest

from bot.french import de
from tests.test_browser_console import AXE, CHROMIUM, CHROMIUM_ARGS, SHOTS

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
LAUNCHER = "Ouvrir l'aide Guichet"

# A widget element's box in the coordinates of the visual viewport (what is on screen),
# with the visual viewport's size.
BOX_ON_SCREEN = """(selector) => {
  const node = document.getElementById('guichet-widget').shadowRoot.querySelector(selector);
  const box = node.getBoundingClientRect();
  const view = window.visualViewport;
  return {x: box.left - view.offsetLeft, y: box.top - view.offsetTop, width: box.width,
          height: box.height, view_width: view.width, view_height: view.height};
}"""
# The text box's keyboard attributes.
KEYBOARD = """() => {
  const box = document.getElementById('guichet-widget').shadowRoot.getElementById('guichet-input');
  return [box.getAttribute('inputmode'), box.getAttribute('autocomplete'), box.tagName];
}"""
KEYBOARD_IS = """(mode) => document.getElementById('guichet-widget').shadowRoot
  .getElementById('guichet-input').getAttribute('inputmode') === mode"""
# The element of the widget that has the focus, inside the shadow root.
FOCUSED = """() => {
  const host = document.getElementById('guichet-widget');
  const active = document.activeElement === host ? host.shadowRoot.activeElement : null;
  return active ? active.className : null;
}"""


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


def phone_context(browser):
    # bypass_csp: axe-core is added as an inline script, which the demo's policy forbids.
    return browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, bypass_csp=True)


def axe_serious_in_widget(page) -> list:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run({include: [['#guichet-widget']]})")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def inside_screen(box: dict) -> bool:
    return (
        box["x"] >= -0.5
        and box["y"] >= -0.5
        and box["x"] + box["width"] <= box["view_width"] + 0.5
        and box["y"] + box["height"] <= box["view_height"] + 0.5
    )


def panel_box(page) -> dict:
    """The open panel's box once its opening animation is over."""
    page.wait_for_function(
        "() => document.getElementById('guichet-widget').shadowRoot"
        ".querySelector('.panel').getAnimations().length === 0"
    )
    return page.evaluate(BOX_ON_SCREEN, ".panel")


def wait_for_reply(page, text: str) -> None:
    page.get_by_text(text, exact=False).last.wait_for()


def test_phone_full_screen_panel_and_hand_off_keyboards(browser, running_stack):
    context = phone_context(browser)
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/demo")
    launcher = page.get_by_role("button", name=LAUNCHER)
    launcher.wait_for()
    # The default label is on screen, and it starts the button's name.
    assert launcher.locator(".launcher-label").inner_text() == "Besoin d'aide ?"
    label = page.evaluate(BOX_ON_SCREEN, ".launcher-label")
    assert label["width"] > 50 and inside_screen(label)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "widget-phone-launcher.png"))

    # The visitor has read half the page; the panel then covers the whole screen.
    page.evaluate("() => window.scrollTo(0, 600)")
    page.wait_for_function("() => window.scrollY > 0")
    scrolled = page.evaluate("() => window.scrollY")
    launcher.tap()
    page.get_by_label("Votre message").wait_for()
    panel = panel_box(page)
    assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, 390, 844)
    assert (
        page.evaluate(
            "() => document.getElementById('guichet-widget').shadowRoot"
            ".querySelector('.panel').getAttribute('aria-modal')"
        )
        == "true"
    )
    for name in ("Fermer", "Réduire le texte", "Agrandir le texte", "Parler à un médiateur",
                 "Effacer la conversation"):  # fmt: skip
        box = page.get_by_role("button", name=name, exact=True).bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44, name
    # A swipe on the panel does not move the page behind it.
    page.mouse.move(195, 60)
    page.mouse.wheel(0, 800)
    cdp = context.new_cdp_session(page)
    cdp.send("Input.synthesizeScrollGesture", {"x": 195, "y": 780, "yDistance": -500,
                                               "gestureSourceType": "touch"})  # fmt: skip
    assert page.evaluate("() => window.scrollY") == scrolled
    page.screenshot(path=str(SHOTS / "widget-phone-open.png"))
    # The greeting names the organisation with French elision (« de l'Espace… »).
    greeting = page.get_by_text("Je suis Guichet", exact=False).inner_text()
    assert f"l'assistant {de(running_stack.settings.values['ORG_NAME'])}." in greeting
    assert not re.search(r"\bde [aeiouyéèêàâîôûh]", greeting, re.IGNORECASE)
    assert axe_serious_in_widget(page) == []

    # A smaller screen (the on-screen keyboard) keeps the text box in view.
    page.set_viewport_size({"width": 390, "height": 480})
    page.wait_for_function(
        "() => document.getElementById('guichet-widget').shadowRoot"
        ".querySelector('.panel').getBoundingClientRect().height <= 480"
    )
    assert inside_screen(page.evaluate(BOX_ON_SCREEN, ".form"))
    page.set_viewport_size(PHONE)

    # The hand-off by phone opens the number pad.
    assert page.evaluate(KEYBOARD)[:2] == ["text", "off"]
    page.get_by_role("button", name="Parler à un médiateur", exact=True).tap()
    page.get_by_role("button", name="Être rappelé par téléphone").tap()
    wait_for_reply(page, "Quel est votre numéro de téléphone")
    assert page.evaluate(KEYBOARD) == ["tel", "tel", "INPUT"]
    assert page.get_by_label("Votre numéro de téléphone").is_visible()
    page.screenshot(path=str(SHOTS / "widget-phone-handoff.png"))
    page.locator(".gc-choice:not([disabled])", has_text="Annuler").tap()
    page.wait_for_function(KEYBOARD_IS, arg="text")
    assert page.evaluate(KEYBOARD)[:2] == ["text", "off"]

    # By e-mail: the e-mail keyboard, kept on the next page of the site.
    page.get_by_role("button", name="Parler à un médiateur", exact=True).tap()
    page.locator(".gc-choice:not([disabled])", has_text="Recevoir une réponse par e-mail").tap()
    wait_for_reply(page, "Quelle est votre adresse e-mail")
    assert page.evaluate(KEYBOARD) == ["email", "email", "INPUT"]
    assert page.get_by_label("Votre adresse e-mail").is_visible()
    page.goto(f"{running_stack.web_url}/demo/horaires")
    page.get_by_label("Votre adresse e-mail").wait_for()
    wait_for_reply(page, "Quelle est votre adresse e-mail")
    assert page.evaluate(KEYBOARD)[:2] == ["email", "email"]

    # Closing gives the page back where it was, and the focus to the launcher, which
    # carries the host's own label here (data-label).
    page.get_by_role("button", name="Fermer", exact=True).tap()
    page.get_by_role("button", name=LAUNCHER).wait_for()
    assert page.locator(".launcher-label").inner_text() == "Une question ?"
    assert page.evaluate(FOCUSED) == "launcher"
    context.close()


def test_phone_close_restores_the_page(browser, running_stack):
    context = phone_context(browser)
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/demo")
    page.evaluate("() => window.scrollTo(0, 700)")
    page.wait_for_function("() => window.scrollY > 0")
    scrolled = page.evaluate("() => window.scrollY")
    page.get_by_role("button", name=LAUNCHER).tap()
    page.get_by_label("Votre message").wait_for()
    # Full screen is a modal dialog: Tab goes round inside it.
    page.get_by_role("button", name="Envoyer", exact=True).focus()
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "size-button"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED) == "send"
    page.keyboard.press("Escape")
    page.get_by_role("button", name=LAUNCHER).wait_for()
    assert page.evaluate("() => window.scrollY") == scrolled
    assert page.evaluate(FOCUSED) == "launcher"
    # The page scrolls again once the panel is closed.
    page.mouse.move(195, 400)
    page.mouse.wheel(0, 300)
    page.wait_for_function(f"() => window.scrollY > {scrolled}")
    context.close()


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_widget_stays_on_screen_on_a_wide_page(browser, running_stack, size):
    phone = size == PHONE
    context = browser.new_context(viewport=size, is_mobile=phone, has_touch=phone, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{running_stack.web_url}/demo/horaires")
    page.get_by_role("button", name=LAUNCHER).wait_for()
    assert page.evaluate("() => document.documentElement.scrollWidth") > size["width"] + 200
    # Down to the wide table, then sideways as far as it goes.
    page.evaluate("() => document.getElementById('titre-planning').scrollIntoView()")
    page.mouse.move(size["width"] // 2, size["height"] // 2)
    page.mouse.wheel(4000, 0)
    page.wait_for_function(
        "() => window.visualViewport.pageLeft + window.visualViewport.width"
        " >= document.documentElement.scrollWidth - 1"
    )
    launcher = page.evaluate(BOX_ON_SCREEN, ".launcher")
    assert inside_screen(launcher), launcher
    # Tapped where it is seen (not scrolled into view first), it opens.
    x = launcher["x"] + launcher["width"] / 2
    y = launcher["y"] + launcher["height"] / 2
    if phone:
        page.touchscreen.tap(x, y)
    else:
        page.mouse.click(x, y)
    page.get_by_label("Votre message").wait_for()
    panel = panel_box(page)
    assert inside_screen(panel), panel
    if phone:
        assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, 390, 844)
        page.screenshot(path=str(SHOTS / "widget-horaires-open.png"))
        # Playwright's own tap aims in the layout viewport: tap where the button is seen.
        close = page.evaluate(BOX_ON_SCREEN, ".close")
        assert inside_screen(close), close
        page.touchscreen.tap(close["x"] + close["width"] / 2, close["y"] + close["height"] / 2)
        page.get_by_role("button", name=LAUNCHER).wait_for()
        # Closing leaves the visitor where they were on the wide page.
        assert page.evaluate(
            "() => window.visualViewport.pageLeft + window.visualViewport.width"
            " >= document.documentElement.scrollWidth - 1"
        )
        page.screenshot(path=str(SHOTS / "widget-horaires.png"))
    else:
        assert panel["width"] == 380
        page.screenshot(path=str(SHOTS / "widget-horaires-desktop.png"))
        assert axe_serious_in_widget(page) == []
    context.close()


def test_launcher_label_from_the_host_is_plain_short_text(browser, running_stack):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    label = "<img src=x onerror=pwned=1>\u202e\n  Aide   en ligne pour vos démarches"
    host = (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Hôte</title></head>'
        f"<body><main><h1>Hôte</h1></main><script src=\"/widget.js\" data-label='{label}'>"
        "</script></body></html>"
    )
    page.route(f"{running_stack.web_url}/demo/label-test",
               lambda route: route.fulfill(body=host, content_type="text/html"))  # fmt: skip
    page.goto(f"{running_stack.web_url}/demo/label-test")
    shown = page.get_by_role("button", name=LAUNCHER).locator(".launcher-label").inner_text()
    # Markup stays visible text; controls and runs of spaces become one space; cut at 32.
    assert shown.startswith("<img src=x onerror=pwned=1> Aid")
    assert shown.endswith("…") and len(shown) == 32
    assert "\u202e" not in shown
    shadow = "document.getElementById('guichet-widget').shadowRoot"
    assert page.evaluate(f"() => {shadow}.querySelector('img') === null")
    assert page.evaluate("() => window.pwned === undefined")
    context.close()


def test_marker_detail_chooses_the_keyboard(browser, running_stack):
    """The `detail` key of the hand-off marker wins over the question's words (the reply is
    made up here: no real question lacks the words)."""
    context = phone_context(browser)
    page = context.new_page()
    reply = (
        '[{"recipient_id": "x", "text": "Comment vous joindre ? Voir https://www.impots.gouv.fr."},'
        ' {"recipient_id": "x", "custom": {"handoff": "contact_detail", "detail": "email"}}]'
    )
    json = "application/json"
    page.route(f"{running_stack.web_url}/api/chat",
               lambda route: route.fulfill(body=reply, content_type=json))  # fmt: skip
    page.goto(f"{running_stack.web_url}/demo")
    page.get_by_role("button", name=LAUNCHER).tap()
    box = page.get_by_label("Votre message")
    box.fill("bonjour")
    box.press("Enter")
    wait_for_reply(page, "Comment vous joindre")
    page.wait_for_function(KEYBOARD_IS, arg="email")
    assert page.evaluate(KEYBOARD)[:2] == ["email", "email"]
    # On the visitor's own phone a link may open a new tab, without giving it this page.
    link = page.get_by_role("link", name="https://www.impots.gouv.fr")
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener noreferrer"
    context.close()
