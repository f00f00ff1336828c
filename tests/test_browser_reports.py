"""The activity report, the guides page and the printable guide sheet in a real browser
(Debian chromium driven by Playwright), served by a real web app on its own data dir with a
tracker store and tickets written for the test.

Chart labels are measured as drawn (computed font size, text boxes against the chart and its
label column); the sheet is printed (print media, and a PDF) and its QR codes are decoded
back to their addresses with jsQR. axe-core checks every page. Screenshots and the PDF go
to test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.guides import COOP_CATEGORIES, load_catalogue
from bot.settings import ROOT, Settings
from bot.tickets import TicketStore

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
JSQR = ROOT / "node_modules" / "jsqr" / "dist" / "jsQR.js"
SHOTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "un mot de passe solide"
SHEET_GUIDE = "impots.declaration_revenus"  # 8 steps, the most links


def write_tracker(settings: Settings, guides: list[str], now: datetime) -> None:
    """Visitors who walk guides to their end (one per guide, two for the first), written to
    the activity log as the tracker store writes it."""
    from bot.activity import ActivityStore, activity_rows

    with ActivityStore.open(settings) as log:
        for n, guide in enumerate([guides[0], *guides]):
            sender, at = f"visitor-{n}", (now - timedelta(hours=n + 1)).timestamp()
            events: list[tuple[str, dict[str, Any]]] = [
                ("user", {"text": "bonjour", "metadata": {"channel": "kiosk"}}),
                ("bot", {"data": {"custom": {"guide": guide, "step": 1, "steps": 3}}}),
                ("user", {"text": "/suivant", "metadata": {"channel": "kiosk"}}),
                ("bot", {"data": {"custom": {"guide": guide, "step": 3, "completed": True}}}),
                ("slot", {"name": "guide_feedback", "value": "yes"}),
            ]
            log.record(activity_rows(sender, [
                {"event": kind, "timestamp": at + i, **data}
                for i, (kind, data) in enumerate(events)
            ]))  # fmt: skip


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from bot.accounts import AccountStore
    from bot.web.app import create_app

    data = tmp_path_factory.mktemp("reports") / "var"
    settings = Settings(Settings.from_env().values | {"DATA_DIR": str(data)})
    settings.data_dir.mkdir(parents=True)
    with AccountStore.open(settings) as accounts:
        accounts.create("dominique", PASSWORD)
    catalogue = load_catalogue(settings.knowledge_dir)
    now = datetime.now(timezone.utc)
    write_tracker(settings, catalogue.ids, now)

    clock = {"now": now - timedelta(hours=40)}
    with TicketStore.open(settings, clock=lambda: clock["now"]) as store:
        for kiosk, guide, resolve in (
            ("Borne du hall, près de l'entrée", SHEET_GUIDE, True),
            ("Salle 2", "cv.rediger", True),
            (None, None, False),
        ):
            ticket = store.create(
                sender_id="visitor-0", channel="kiosk", reason="stuck",
                contact_preference="desk", summary="Demande.", transcript=[],
                guide_id=guide, kiosk=kiosk,
            )  # fmt: skip
            clock["now"] += timedelta(hours=3)
            if resolve:
                store.set_status(ticket.id, "resolu", actor="dominique")
            clock["now"] += timedelta(hours=1)

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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), "Debian chromium is missing: `make setup` installs it"
    assert AXE.exists() and JSQR.exists(), "node packages missing: `make setup` runs npm ci"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def log_in(context, web: str):
    page = context.new_page()
    page.goto(f"{web}/mediation/login")
    page.get_by_label("Nom").fill("dominique")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{web}/mediation/")
    return page


def check_accessibility(page, name: str) -> None:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{name}: {serious}"


# Every <text> of every chart, as drawn: its computed size, its box in the chart's own
# units, the chart's viewBox, and for a bar label the right edge of its column (where its
# bar starts).
MEASURE_CHARTS = """() => [...document.querySelectorAll('svg[role=img]')].map(svg => {
  const box = svg.viewBox.baseVal;
  const shown = svg.getBoundingClientRect();
  return {
    title: svg.querySelector('title').textContent,
    width: box.width, height: box.height, scale: shown.width / box.width,
    texts: [...svg.querySelectorAll('text')].map(t => {
      const b = t.getBBox();
      return {
        text: [...t.querySelectorAll('tspan')].map(s => s.textContent).join(' ')
              || t.textContent,
        size: parseFloat(getComputedStyle(t).fontSize),
        label: t.classList.contains('label'),
        column: t.parentNode.querySelector('rect.bar')?.x.baseVal.value ?? null,
        x: b.x, y: b.y, w: b.width, h: b.height,
      };
    }),
  };
})"""


def test_the_report_charts_are_readable_and_nothing_is_cut(browser, web):
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = log_in(context, web)
    page.goto(f"{web}/mediation/report")
    page.wait_for_selector("svg[role=img]")
    charts = page.evaluate(MEASURE_CHARTS)
    assert len(charts) == 4
    by_title = {c["title"]: c for c in charts}
    categories = by_title["Guides démarrés par thématique"]
    labels = [t["text"] for t in categories["texts"] if t["label"]]
    # All ten, in La Coop's order, then the ticket that had no guide.
    assert labels == [*COOP_CATEGORIES.values(), "Sans thématique (aucun guide)"]
    wrapped = 0
    for chart in charts:
        assert chart["scale"] >= 0.999, chart["title"]  # never shrunk below its 14 px
        for t in chart["texts"]:
            where = (chart["title"], t["text"])
            assert t["size"] >= 14, where
            assert t["x"] >= 0 and t["y"] >= 0, where
            assert t["x"] + t["w"] <= chart["width"] and t["y"] + t["h"] <= chart["height"], where
            if t["label"]:
                assert t["x"] + t["w"] <= t["column"], where  # inside its column
                assert "…" not in t["text"], where
                wrapped += t["h"] > 1.5 * t["size"]
    assert wrapped >= 1  # long labels (« Papiers - Élections Citoyenneté ») go over lines

    text = page.locator("main").inner_text()
    assert "Borne du hall, près de l'entrée" in text and "Salle 2" in text
    assert "borne sans nom" in text
    assert "terminé avec un médiateur" in text  # the definition is on the page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-report.png"), full_page=True)
    check_accessibility(page, "report")

    # The CSV as the console serves it, read back as a French spreadsheet does.
    download = page.request.get(f"{web}/mediation/report.csv")
    assert download.ok and "attachment" in download.headers["content-disposition"]
    body = download.body().decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:]), delimiter=";"))
    start = rows.index(next(r for r in rows if r and r[0] == "thématique (La Coop)"))
    assert [r[0] for r in rows[start + 1 : start + 11]] == list(COOP_CATEGORIES.values())
    assert any(r[:3] == ["borne", "tickets", "tickets résolus"] for r in rows)  # by kiosk
    assert any(r[:3] == ["Salle 2", "1", "1"] for r in rows)

    # In print, the console's navigation goes and the charts keep their size.
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert all(c["scale"] >= 0.999 for c in page.evaluate(MEASURE_CHARTS))
    context.close()


DECODE_QR = """async () => {
  const found = [];
  for (const box of document.querySelectorAll('.qr')) {
    const svg = box.querySelector('svg');
    const xml = new XMLSerializer().serializeToString(svg);
    const image = new Image();
    image.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(xml);
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width * 2; canvas.height = image.height * 2;
    const drawing = canvas.getContext('2d');
    drawing.imageSmoothingEnabled = false;
    drawing.drawImage(image, 0, 0, canvas.width, canvas.height);
    const pixels = drawing.getImageData(0, 0, canvas.width, canvas.height);
    const code = jsQR(pixels.data, canvas.width, canvas.height);
    found.push({label: box.getAttribute('aria-label'), data: code ? code.data : null});
  }
  return found;
}"""


def test_the_guides_page_and_a_printable_sheet(browser, web):
    guide = load_catalogue().get(SHEET_GUIDE)
    assert guide is not None
    # Without bypassing the CSP: the « Imprimer » button's script is a file of its own.
    strict = browser.new_context(viewport={"width": 1280, "height": 900})
    page = log_in(strict, web)
    page.goto(f"{web}/mediation/guides")
    card = page.locator("li.guide", has_text=guide.title)
    assert card.get_by_text(guide.coop_label, exact=True).is_visible()
    assert card.get_by_text(guide.verified_on.strftime("%d/%m/%Y")).first.is_visible()
    first_step = card.get_by_text(guide.steps[0].instruction)
    assert not first_step.is_visible()
    card.locator("summary").click()
    assert first_step.is_visible()
    page.add_init_script("window.print = () => { window.printed = true; };")
    card.get_by_role("link", name="Fiche à imprimer").click()
    page.wait_for_url(f"{web}/mediation/guides/{SHEET_GUIDE}/fiche")
    page.get_by_role("button", name="Imprimer").click()
    page.wait_for_function("() => window.printed === true")
    strict.close()

    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = log_in(context, web)
    page.goto(f"{web}/mediation/guides")
    page.locator("li.guide summary").first.click()
    page.screenshot(path=str(SHOTS / "console-guides.png"))
    check_accessibility(page, "guides")
    page.goto(f"{web}/mediation/guides/{SHEET_GUIDE}/fiche")
    check_accessibility(page, "guide sheet")
    missing = page.goto(f"{web}/mediation/guides/nulle.part/fiche")
    assert missing is not None and missing.status == 404
    page.goto(f"{web}/mediation/guides/{SHEET_GUIDE}/fiche")

    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    assert not page.locator(".sheet-tools").is_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 794
    text = " ".join(page.locator("main").inner_text().split())
    for number, step in enumerate(guide.steps, 1):
        for part in (step.instruction, step.detail, step.warning):
            if part:
                assert " ".join(part.split()) in text, (number, part)
    links = [s.link.url for s in guide.steps if s.link] + [s.url for s in guide.sources]
    for url in links:
        assert url in text
    assert f"Vérifié le {guide.verified_on:%d/%m/%Y}" in text
    assert "Espace numérique de la médiathèque" in text or "Horaires" in text

    page.add_script_tag(path=str(JSQR))
    decoded = page.evaluate(DECODE_QR)
    assert len(decoded) == len(links)
    assert [d["data"] for d in decoded] == links  # each QR code reads back to its address
    assert all(d["label"].endswith(d["data"]) for d in decoded)

    page.screenshot(path=str(SHOTS / "guide-sheet.png"), full_page=True)
    page.pdf(path=str(SHOTS / "guide-sheet.pdf"), format="A4", print_background=True)
    assert (SHOTS / "guide-sheet.pdf").read_bytes().startswith(b"%PDF")
    context.close()
