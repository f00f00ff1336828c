"""The console's pages about activity and guides: the report for management (and its
CSV), the guides page and the printable sheet of a guide. Routes of
`bot.web.mediation.Console`, kept apart from the ticket pages so that each part stays
readable."""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from bot.activity import ActivityStore
from bot.french import a
from bot.guides import COOP_CATEGORIES, Catalogue, Guide, load_catalogue, paris_today
from bot.qr import NotAnAddress, qr_svg
from bot.spreadsheet import MEDIA_TYPE
from bot.stats import (
    CHANNEL_LABELS,
    Report,
    build_report,
    category_labels,
    format_delay,
    format_rate,
    kiosk_label,
    parse_period,
    period_bounds,
    report_csv,
    svg_bar_chart,
    svg_hours_chart,
)
from bot.tickets import TicketStore
from bot.transcript import REASON_LABELS
from bot.workshops import WorkshopStore

if TYPE_CHECKING:
    from bot.web.mediation import Console

REVIEW_AFTER_DAYS = 365
TZ = ZoneInfo("Europe/Paris")
# About 3 cm on paper for a usual official address: big enough for any phone camera.
QR_SCALE = 3


def _categories(catalogue: Catalogue) -> dict[str, str]:
    return {g.id: g.coop_category for g in catalogue.guides.values()}


def _next_check(guide: Guide, today: dt.date) -> dt.date | None:
    """The first date, after `today`, on which one of the guide's dated facts must be checked."""
    validities = [s.validity for s in guide.steps if s.validity]
    validities += [f.validity for f in guide.dated_facts]
    dates = [v.check_by for v in validities if v.check_by is not None and v.check_by >= today]
    return min(dates) if dates else None


def qr_code(url: str) -> Markup:
    """An inline QR code of `url` (made here, by segno), or nothing for a non-web address."""
    try:
        return Markup(qr_svg(url, scale=QR_SCALE))
    except NotAnAddress:
        return Markup("")


class ReportPages:
    """/report, /report.csv, /guides and /guides/{id}/fiche, drawn with the console's
    plumbing."""

    # What « today » is for dated facts (Europe/Paris); a test sets another date.
    clock = staticmethod(paris_today)

    def __init__(self, console: Console):
        self.console = console
        self.settings = console.settings

    def routes(self) -> list[tuple[str, Any, list[str], str | None]]:
        return [
            ("/report", self.report, ["GET"], "report"),
            ("/report.csv", self.report_csv, ["GET"], "report_csv"),
            ("/guides", self.guides, ["GET"], "guides"),
            ("/guides/{guide_id}/fiche", self.sheet, ["GET"], "guide_sheet"),
        ]

    async def _report(self, request: Request, catalogue: Catalogue) -> Report:
        query = request.query_params
        since, until = parse_period(query.get("since"), query.get("until"), dt.date.today())
        categories = _categories(catalogue)
        start, end = period_bounds(since, until, TZ)
        settings = self.settings

        def build(store: TicketStore) -> Report:
            with WorkshopStore.open(settings) as workshops:
                held = workshops.stats(start, end)
            # The anonymous activity log, whatever engine holds the conversations.
            with ActivityStore.open(settings) as activity:
                return build_report(activity, store, since, until, TZ, categories, workshops=held)

        return await self.console.with_tickets(build)

    async def report(self, request: Request) -> Response:
        catalogue = load_catalogue(self.settings.knowledge_dir)
        try:
            report = await self._report(request, catalogue)
        except ValueError as exc:
            return self.console.problem(request, str(exc))
        titles = {g.id: g.title for g in catalogue.guides.values()}
        rows = category_labels()
        unclassified = report.categories[""]
        if (
            not unclassified.started
            and not unclassified.tickets.created
            and not report.workshops_by_category[""].sessions
        ):
            rows = rows[:-1]  # « sans thématique » only when it holds something
        # Only the themes that held a workshop: a chart of ten zeros tells nothing.
        workshop_rows = [
            (key, label)
            for key, label in category_labels()
            if report.workshops_by_category[key].sessions
        ]
        charts = {
            "categories": svg_bar_chart(
                [label for _, label in rows],
                [report.categories[key].started for key, _ in rows],
                title="Guides démarrés par thématique",
                description="Nombre de guides démarrés sur la période, par thématique de "
                "démarches administratives de La Coop de la médiation numérique.",
            ),
            "guides": svg_bar_chart(
                [titles.get(g.guide_id, g.guide_id) for g in report.guides],
                [g.started for g in report.guides],
                title="Guides démarrés",
                description="Nombre de guides démarrés par démarche sur la période.",
            ),
            "reasons": svg_bar_chart(
                [REASON_LABELS[r] for r in report.handoffs_by_reason],
                list(report.handoffs_by_reason.values()),
                title="Demandes transmises au médiateur, par raison",
                description="Nombre de tickets créés sur la période, par raison.",
            ),
            "workshops": svg_bar_chart(
                [label for _, label in workshop_rows],
                [report.workshops_by_category[key].attended for key, _ in workshop_rows],
                title="Personnes venues aux ateliers, par thématique",
                description="Nombre de personnes notées présentes aux ateliers tenus sur la "
                "période, par thématique de La Coop de la médiation numérique.",
            )
            if report.workshops.sessions
            else "",
            "hours": svg_hours_chart(
                report.busiest_hours,
                title="Messages des visiteurs par heure",
                description="Nombre de messages reçus à chaque heure de la journée.",
            ),
        }
        return self.console.render(
            request,
            "mediation/report.html",
            report=report,
            charts=charts,
            titles=titles,
            category_rows=rows,
            workshop_rows=workshop_rows,
            kiosks=sorted(report.resolution_by_kiosk.items()),
            channel_labels={k: v.capitalize() for k, v in CHANNEL_LABELS.items()},
            kiosk_label=kiosk_label,
            delay=format_delay,
            rate=format_rate,
        )

    async def report_csv(self, request: Request) -> Response:
        catalogue = load_catalogue(self.settings.knowledge_dir)
        try:
            report = await self._report(request, catalogue)
        except ValueError as exc:
            return self.console.problem(request, str(exc))
        buffer = io.StringIO()
        report_csv(report, buffer, {g.id: g.title for g in catalogue.guides.values()})
        name = f"activite-{report.since.isoformat()}-{report.until.isoformat()}.csv"
        return Response(
            buffer.getvalue(),
            media_type=MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def guides(self, request: Request) -> Response:
        catalogue = load_catalogue(self.settings.knowledge_dir)
        today = self.clock()
        limit = today - dt.timedelta(days=REVIEW_AFTER_DAYS)
        # Each guide, whether its check is over a year old, and its dated facts now expired.
        rows = [
            (g, g.verified_on < limit, g.expired_facts(today)) for g in catalogue.guides.values()
        ]
        return self.console.render(
            request,
            "mediation/guides.html",
            rows=rows,
            categories=COOP_CATEGORIES,
            next_check=lambda g: _next_check(g, today),
        )

    async def sheet(self, request: Request) -> Response:
        catalogue = load_catalogue(self.settings.knowledge_dir)
        guide: Guide | None = catalogue.get(str(request.path_params["guide_id"]))
        if guide is None:
            return self.console.problem(request, "Ce guide n'existe pas.", status=404)
        # The visitor takes the sheet home: an expired date is not printed as current.
        guide = guide.as_of(self.clock())
        values = self.settings.values
        org = {
            key: values.get(f"ORG_{key.upper()}", "")
            for key in ("name", "desk", "address", "hours", "phone")
        }
        return self.console.render(
            request,
            "mediation/guide_sheet.html",
            guide=guide,
            qr=qr_code,
            org=org,
            at_desk=a(org["desk"]),
        )
