"""The console's pages about activity and guides: the report for management (and its
CSV), the guides page. Routes of `bot.web.mediation.Console`, kept apart from the ticket
pages so that each part stays readable."""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from bot.guides import load_catalogue
from bot.stats import build_report, parse_period, report_csv, svg_bar_chart, svg_hours_chart
from bot.transcript import REASON_LABELS

if TYPE_CHECKING:
    from bot.web.mediation import Console

REVIEW_AFTER_DAYS = 365
TZ = ZoneInfo("Europe/Paris")


class ReportPages:
    """/report, /report.csv and /guides, drawn with the console's plumbing."""

    def __init__(self, console: Console):
        self.console = console
        self.settings = console.settings

    def routes(self) -> list[tuple[str, Any, list[str], str | None]]:
        return [
            ("/report", self.report, ["GET"], "report"),
            ("/report.csv", self.report_csv, ["GET"], "report_csv"),
            ("/guides", self.guides, ["GET"], "guides"),
        ]

    async def _report(self, request: Request) -> Any:
        query = request.query_params
        since, until = parse_period(query.get("since"), query.get("until"), dt.date.today())
        tracker_db = self.settings.tracker_db
        return await self.console.with_tickets(
            lambda store: build_report(tracker_db, store, since, until, TZ)
        )

    async def report(self, request: Request) -> Response:
        try:
            report = await self._report(request)
        except ValueError as exc:
            return self.console.problem(request, str(exc))
        catalogue = load_catalogue(self.settings.knowledge_dir)
        titles = {g.id: g.title for g in catalogue.guides.values()}
        charts = {
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
            "hours": svg_hours_chart(
                report.busiest_hours,
                title="Messages des visiteurs par heure",
                description="Nombre de messages reçus à chaque heure de la journée.",
            ),
        }
        return self.console.render(
            request, "mediation/report.html", report=report, charts=charts, titles=titles
        )

    async def report_csv(self, request: Request) -> Response:
        try:
            report = await self._report(request)
        except ValueError as exc:
            return self.console.problem(request, str(exc))
        buffer = io.StringIO()
        report_csv(report, buffer)
        name = f"activite-{report.since.isoformat()}-{report.until.isoformat()}.csv"
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def guides(self, request: Request) -> Response:
        catalogue = load_catalogue(self.settings.knowledge_dir)
        limit = dt.date.today() - dt.timedelta(days=REVIEW_AFTER_DAYS)
        rows = [(g, g.verified_on < limit) for g in catalogue.guides.values()]
        return self.console.render(request, "mediation/guides.html", rows=rows)
