"""The mediators' console under /mediation/: log in, follow up tickets, report activity.

Thin routes over the core: `TicketStore` for tickets, `AccountStore` for logins,
`bot.stats` for the report. Every page but the login needs a logged-in mediator, and every
form carries a CSRF token.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from bot import tickets as tickets_module
from bot.accounts import AccountStore
from bot.guides import load_catalogue
from bot.settings import Settings
from bot.stats import build_report, parse_period, report_csv, svg_bar_chart, svg_hours_chart
from bot.tickets import (
    CHANNELS,
    MAX_NOTE_CHARS,
    REASONS,
    STATUSES,
    TicketStore,
    export_csv,
    export_json,
)
from bot.transcript import REASON_LABELS
from bot.web.security import csrf_ok, csrf_token, current_mediator

PAGE_SIZE = 20
REVIEW_AFTER_DAYS = 365
TZ = ZoneInfo("Europe/Paris")
# The French words of the tickets CLI, capitalised for the console's labels.
STATUS_LABELS = {k: v.capitalize() for k, v in tickets_module.STATUS_LABELS.items()}
CHANNEL_LABELS = {k: v.capitalize() for k, v in tickets_module.CHANNEL_LABELS.items()}
PREFERENCE_LABELS = {k: v.capitalize() for k, v in tickets_module.CONTACT_LABELS.items()}
ACTION_LABELS = {k: v.capitalize() for k, v in tickets_module.ACTION_LABELS.items()}

Handler = Callable[[Request], Awaitable[Response]]


def local_time(iso: str | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    if not iso:
        return ""
    moment = dt.datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(TZ).strftime(fmt)


class Console:
    """The console's routes, bound to one settings object (and so one DATA_DIR)."""

    def __init__(self, settings: Settings, templates: Jinja2Templates):
        self.settings = settings
        self.templates = templates
        templates.env.filters["local_time"] = local_time
        templates.env.globals.update(
            STATUS_LABELS=STATUS_LABELS,
            CHANNEL_LABELS=CHANNEL_LABELS,
            REASON_LABELS=REASON_LABELS,
            PREFERENCE_LABELS=PREFERENCE_LABELS,
            ACTION_LABELS=ACTION_LABELS,
        )

    # -- plumbing

    def tickets(self) -> TicketStore:
        return TicketStore.open(self.settings)

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context.update(
            mediator=current_mediator(request),
            csrf=csrf_token(request),
            org_name=self.settings.values["ORG_NAME"],
        )
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def problem(self, request: Request, message: str, status: int = 400) -> Response:
        return self.render(request, "mediation/problem.html", status=status, message=message)

    def routes(self) -> list[Route]:
        protected: list[tuple[str, Handler, list[str], str | None]] = [
            ("/", self.queue, ["GET"], "queue"),
            ("/tickets/{ticket_id}", self.ticket, ["GET"], "ticket"),
            ("/tickets/{ticket_id}/assign", self.assign, ["POST"], None),
            ("/tickets/{ticket_id}/notes", self.add_note, ["POST"], None),
            ("/tickets/{ticket_id}/status", self.set_status, ["POST"], None),
            ("/tickets/{ticket_id}/erase-contact", self.erase_contact, ["POST"], None),
            ("/export", self.export, ["GET"], "export"),
            ("/report", self.report, ["GET"], "report"),
            ("/report.csv", self.report_csv, ["GET"], "report_csv"),
            ("/guides", self.guides, ["GET"], "guides"),
            ("/logout", self.logout, ["POST"], "logout"),
        ]
        return [Route("/login", self.login, methods=["GET", "POST"], name="login")] + [
            Route(path, self.login_required(handler), methods=methods, name=name)
            for path, handler, methods, name in protected
        ]

    def login_required(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if not current_mediator(request):
                if request.method == "GET":
                    return RedirectResponse("/mediation/login", status_code=303)
                return self.problem(request, "Connectez-vous d'abord.", status=401)
            if request.method == "POST":
                form = await request.form()
                if not csrf_ok(request, form):
                    return self.problem(
                        request,
                        "Ce formulaire a expiré. Rechargez la page et recommencez.",
                        status=403,
                    )
            return await handler(request)

        guarded.login_required = True  # type: ignore[attr-defined]
        return guarded

    def ticket_id(self, request: Request) -> int | None:
        raw = request.path_params.get("ticket_id", "")
        return int(raw) if str(raw).isdigit() and len(str(raw)) < 12 else None

    # -- login

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self.render(request, "mediation/login.html")
        form = await request.form()
        if not csrf_ok(request, form):
            return self.render(
                request,
                "mediation/login.html",
                status=403,
                error="La page a expiré. Recommencez.",
            )
        name = str(form.get("name") or "").strip().lower()[:40]
        password = str(form.get("password") or "")[:200]
        ip = request.client.host if request.client else "?"
        with AccountStore.open(self.settings) as accounts:
            result = accounts.check_login(name, password, ip)
        if result.status == "throttled":
            minutes = max(1, math.ceil(result.retry_after / 60))
            error = f"Trop d'essais. Réessayez dans {minutes} minute(s)."
            return self.render(request, "mediation/login.html", status=429, error=error)
        if result.status != "ok":
            error = "Nom ou mot de passe incorrect."
            return self.render(request, "mediation/login.html", status=401, error=error)
        request.session.clear()
        request.session["mediator"] = name
        csrf_token(request)
        return RedirectResponse("/mediation/", status_code=303)

    async def logout(self, request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/mediation/login", status_code=303)

    # -- queue

    async def queue(self, request: Request) -> Response:
        query = request.query_params
        filters: dict[str, Any] = {}
        for key, choices in (("status", STATUSES), ("reason", REASONS), ("channel", CHANNELS)):
            value = query.get(key) or None
            if value and value not in choices:
                return self.problem(request, f"Filtre inconnu : {key}.")
            filters[key] = value
        guide = (query.get("guide") or "").strip()[:60] or None
        try:
            since = dt.date.fromisoformat(query["since"]) if query.get("since") else None
            until = dt.date.fromisoformat(query["until"]) if query.get("until") else None
        except ValueError:
            return self.problem(request, "Date invalide : utilisez le format AAAA-MM-JJ.")
        page_raw = query.get("page", "1")
        page = int(page_raw) if page_raw.isdigit() and 0 < int(page_raw) < 10_000 else 1
        with self.tickets() as store:
            found = store.list(
                **filters,
                guide=guide,
                since=since,
                until=until,
                limit=PAGE_SIZE + 1,
                offset=(page - 1) * PAGE_SIZE,
            )
            counts = store.count_by_status()
        kept = {k: v for k, v in query.items() if k != "page" and v}
        catalogue = load_catalogue(self.settings.knowledge_dir)
        return self.render(
            request,
            "mediation/queue.html",
            tickets=found[:PAGE_SIZE],
            counts=counts,
            page=page,
            has_next=len(found) > PAGE_SIZE,
            query=kept,
            query_string=urlencode(kept),
            statuses=STATUSES,
            reasons=REASONS,
            channels=CHANNELS,
            guides=catalogue.ids,
            domains=[(d, catalogue.domain_title(d)) for d in catalogue.domains()],
        )

    # -- one ticket

    async def ticket(self, request: Request) -> Response:
        ticket_id = self.ticket_id(request)
        with self.tickets() as store:
            found = store.get(ticket_id) if ticket_id is not None else None
            if found is None:
                return self.problem(request, "Ce ticket n'existe pas.", status=404)
            if not found.seen_at:
                store.mark_seen(found.id, actor=current_mediator(request) or "?")
        catalogue = load_catalogue(self.settings.knowledge_dir)
        guide = catalogue.get(found.guide_id or "")
        return self.render(
            request,
            "mediation/ticket.html",
            ticket=found,
            guide=guide,
            statuses=STATUSES,
            max_note=MAX_NOTE_CHARS,
        )

    async def _change(self, request: Request, action: Callable[..., Any]) -> Response:
        ticket_id = self.ticket_id(request)
        form = await request.form()
        actor = current_mediator(request) or "?"
        with self.tickets() as store:
            if ticket_id is None or store.get(ticket_id) is None:
                return self.problem(request, "Ce ticket n'existe pas.", status=404)
            try:
                action(store, ticket_id, form, actor)
            except ValueError as exc:
                return self.problem(request, str(exc))
        return RedirectResponse(f"/mediation/tickets/{ticket_id}", status_code=303)

    async def assign(self, request: Request) -> Response:
        return await self._change(
            request, lambda store, tid, form, actor: store.assign(tid, actor=actor)
        )

    async def add_note(self, request: Request) -> Response:
        def note(store: TicketStore, tid: int, form: Any, actor: str) -> None:
            text = str(form.get("text") or "").strip()
            if not text:
                raise ValueError("La note est vide.")
            if len(text) > MAX_NOTE_CHARS:
                raise ValueError(
                    f"La note est trop longue ({len(text)} caractères, {MAX_NOTE_CHARS} au plus)."
                )
            store.add_note(tid, text, actor=actor)

        return await self._change(request, note)

    async def set_status(self, request: Request) -> Response:
        def status(store: TicketStore, tid: int, form: Any, actor: str) -> None:
            value = str(form.get("status") or "")
            if value not in STATUSES:
                raise ValueError("Statut inconnu.")
            note = str(form.get("note") or "").strip()
            if len(note) > MAX_NOTE_CHARS:
                raise ValueError(f"La note est trop longue ({MAX_NOTE_CHARS} caractères au plus).")
            store.set_status(tid, value, actor=actor, note=note or None)

        return await self._change(request, status)

    async def erase_contact(self, request: Request) -> Response:
        return await self._change(
            request, lambda store, tid, form, actor: store.erase_contact(tid, actor=actor)
        )

    # -- export and report

    async def export(self, request: Request) -> Response:
        fmt = request.query_params.get("format", "csv")
        status = request.query_params.get("status") or None
        if fmt not in ("csv", "json") or (status and status not in STATUSES):
            return self.problem(request, "Export impossible : format ou statut inconnu.")
        with self.tickets() as store:
            found = store.list(status=status, limit=100_000)
            store.record_export([t.id for t in found], actor=current_mediator(request) or "?",
                                fmt=fmt)  # fmt: skip
        buffer = io.StringIO()
        (export_csv if fmt == "csv" else export_json)(found, buffer)
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        name = f"tickets-{dt.date.today().isoformat()}.{fmt}"
        return Response(
            buffer.getvalue(),
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def _report(self, request: Request) -> Any:
        query = request.query_params
        since, until = parse_period(query.get("since"), query.get("until"), dt.date.today())
        with self.tickets() as store:
            return build_report(self.settings.tracker_db, store, since, until, TZ)

    async def report(self, request: Request) -> Response:
        try:
            report = self._report(request)
        except ValueError as exc:
            return self.problem(request, str(exc))
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
        return self.render(
            request, "mediation/report.html", report=report, charts=charts, titles=titles
        )

    async def report_csv(self, request: Request) -> Response:
        try:
            report = self._report(request)
        except ValueError as exc:
            return self.problem(request, str(exc))
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
        return self.render(request, "mediation/guides.html", rows=rows)
