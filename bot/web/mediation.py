"""The mediators' console under /mediation/: log in, follow up tickets, report activity.

Thin routes over the core: `TicketStore` for tickets, `AccountStore` for logins and
sessions, `bot.stats` for the report, `bot.incidents` for what went wrong. Every page but
the login needs a logged-in mediator, and every form carries a CSRF token. Every database
call and every scrypt runs in a worker thread: a locked tickets.db or ten logins at once
must not stall the event loop, which also serves the visitors' chat.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import math
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from bot import incidents
from bot import tickets as tickets_module
from bot.accounts import SESSION_LIFETIME, AccountStore, Session
from bot.guides import load_catalogue
from bot.settings import Settings
from bot.stats import (
    check_day,
)
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
from bot.web.reports import ReportPages
from bot.web.security import (
    LOGIN_COOKIE,
    LOGIN_COOKIE_SECONDS,
    SESSION_COOKIE,
    clear_cookie,
    cookie_value,
    form_token_ok,
    login_token,
    new_nonce,
    session_secret,
    set_cookie,
)

PAGE_SIZE = 20
TZ = ZoneInfo("Europe/Paris")
# The French words of the tickets CLI, capitalised for the console's labels.
STATUS_LABELS = {k: v.capitalize() for k, v in tickets_module.STATUS_LABELS.items()}
CHANNEL_LABELS = {k: v.capitalize() for k, v in tickets_module.CHANNEL_LABELS.items()}
PREFERENCE_LABELS = {k: v.capitalize() for k, v in tickets_module.CONTACT_LABELS.items()}
ACTION_LABELS = {k: v.capitalize() for k, v in tickets_module.ACTION_LABELS.items()}

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")
# Shown in the console's status box; kinds as bot.incidents records them.
REFUSED_KINDS = ("handoff_limit_conversation", "handoff_flood")
TIMES_SHOWN = 5


def french_wait(seconds: int) -> str:
    """'30 secondes', '1 minute', '12 minutes': how long to wait, rounded up."""
    if seconds < 60:
        return f"{seconds} seconde{'s' if seconds > 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


def _times(found: list[incidents.Incident], today: dt.date) -> str:
    """The local times of `found`, oldest first, the day added when it is not today."""
    shown = []
    for incident in sorted(found, key=lambda i: i.at)[:TIMES_SHOWN]:
        local = incident.at.astimezone(TZ)
        shown.append(local.strftime("%H:%M" if local.date() == today else "%d/%m à %H:%M"))
    more = ", …" if len(found) > TIMES_SHOWN else ""
    return ", ".join(shown) + more


def service_status(settings: Settings, now: dt.datetime | None = None) -> dict[str, Any]:
    """What the queue page says about the last 24 hours: alerts (tickets that could not be
    written, servers restarted) and the count of hand-offs refused by the limits."""
    now = now or dt.datetime.now(dt.timezone.utc)
    day = incidents.recent(since=now - dt.timedelta(hours=24), limit=10_000, settings=settings)
    today = now.astimezone(TZ).date()
    alerts = []
    failed = [i for i in day if i.kind == "ticket_write_failed"]
    if failed:
        n = len(failed)
        if n == 1:
            what = "1 ticket n'a pas pu être enregistré"
            told = "Le visiteur a reçu les horaires de l'accueil."
        else:
            what = f"{n} tickets n'ont pas pu être enregistrés"
            told = "Les visiteurs ont reçu les horaires de l'accueil."
        alerts.append(f"Attention : {what} depuis 24 heures (à {_times(failed, today)}). {told}")
    restarts = [i for i in day if i.kind == "server_restarted"]
    if restarts:
        alerts.append(
            "Un serveur s'est arrêté et a été redémarré automatiquement : "
            f"{len(restarts)} fois depuis 24 heures (à {_times(restarts, today)})."
        )
    refused = [i for i in day if i.kind in REFUSED_KINDS]
    last_hour = [i for i in refused if i.at >= now - dt.timedelta(hours=1)]
    by_kind = {kind: sum(1 for i in refused if i.kind == kind) for kind in REFUSED_KINDS}
    return {
        "alerts": alerts,
        "refused_hour": len(last_hour),
        "refused_day": len(refused),
        "refused_per_conversation": by_kind["handoff_limit_conversation"],
        "refused_flood": by_kind["handoff_flood"],
    }


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
        self.secret = session_secret(settings)
        self._accounts: AccountStore | None = None
        self._accounts_lock = threading.Lock()
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

    async def with_tickets(self, work: Callable[[TicketStore], T]) -> T:
        """`work` on a fresh ticket store, in a worker thread."""

        def run() -> T:
            with self.tickets() as store:
                return work(store)

        return await run_in_threadpool(run)

    def accounts(self) -> AccountStore:
        """The accounts store, opened once (in a worker thread, at first use) and shared:
        every request checks its session there."""
        with self._accounts_lock:
            if self._accounts is None:
                self._accounts = AccountStore.open(self.settings)
            return self._accounts

    def close(self) -> None:
        with self._accounts_lock:
            if self._accounts is not None:
                self._accounts.close()
                self._accounts = None

    async def session(self, request: Request) -> Session | None:
        """The request's live session (looked up once per request), or None."""
        if not hasattr(request.state, "session"):
            token = cookie_value(request, SESSION_COOKIE)
            found = None
            if token:
                found = await run_in_threadpool(lambda: self.accounts().session(token))
            request.state.session = found
        found = request.state.session
        return found if isinstance(found, Session) else None

    @staticmethod
    def mediator(request: Request) -> str:
        found = getattr(request.state, "session", None)
        return found.name if isinstance(found, Session) else "?"

    def render(
        self,
        request: Request,
        name: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        found = getattr(request.state, "session", None)
        nonce = None
        if isinstance(found, Session):
            mediator, csrf = found.name, found.csrf
        else:
            # The login form (and any page shown before login) uses the double-submit token.
            nonce = cookie_value(request, LOGIN_COOKIE) or new_nonce()
            mediator, csrf = None, login_token(self.secret, nonce)
        context.update(mediator=mediator, csrf=csrf, org_name=self.settings.values["ORG_NAME"])
        response = self.templates.TemplateResponse(
            request, name, context, status_code=status, headers=headers
        )
        if nonce is not None and nonce != cookie_value(request, LOGIN_COOKIE):
            set_cookie(
                response, LOGIN_COOKIE, nonce, LOGIN_COOKIE_SECONDS, self.settings.secure_cookies
            )
        return response

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
            *ReportPages(self).routes(),
            ("/logout", self.logout, ["POST"], "logout"),
        ]
        return [Route("/login", self.login, methods=["GET", "POST"], name="login")] + [
            Route(path, self.login_required(handler), methods=methods, name=name)
            for path, handler, methods, name in protected
        ]

    def login_required(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            found = await self.session(request)
            if found is None:
                response: Response
                if request.method == "GET":
                    response = RedirectResponse("/mediation/login", status_code=303)
                else:
                    response = self.problem(request, "Connectez-vous d'abord.", status=401)
                if cookie_value(request, SESSION_COOKIE):
                    # A cookie of an ended session: forget it.
                    clear_cookie(response, SESSION_COOKIE, self.settings.secure_cookies)
                return response
            if request.method == "POST":
                form = await request.form()
                if not form_token_ok(found.csrf, form):
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
        nonce = cookie_value(request, LOGIN_COOKIE)
        expected = login_token(self.secret, nonce) if nonce else None
        if not form_token_ok(expected, form):
            return self.render(
                request,
                "mediation/login.html",
                status=403,
                error="La page a expiré. Recommencez.",
            )
        name = str(form.get("name") or "").strip().lower()[:40]
        password = str(form.get("password") or "")[:200]
        ip = request.client.host if request.client else "?"
        # scrypt takes about 50 ms of CPU: in a worker thread, never on the event loop.
        result = await run_in_threadpool(lambda: self.accounts().check_login(name, password, ip))
        if result.delay > 0:
            # The name is under attack from many addresses: every answer waits a little.
            await asyncio.sleep(result.delay)
        if result.status == "throttled":
            wait = french_wait(result.retry_after)
            error = f"Trop d'essais depuis cette adresse. Réessayez dans {wait}."
            return self.render(
                request,
                "mediation/login.html",
                status=429,
                headers={"Retry-After": str(result.retry_after)},
                error=error,
            )
        if result.status != "ok":
            error = "Nom ou mot de passe incorrect."
            return self.render(request, "mediation/login.html", status=401, error=error)
        token, _ = await run_in_threadpool(lambda: self.accounts().open_session(name))
        response = RedirectResponse("/mediation/", status_code=303)
        secure = self.settings.secure_cookies
        set_cookie(response, SESSION_COOKIE, token, int(SESSION_LIFETIME.total_seconds()), secure)
        clear_cookie(response, LOGIN_COOKIE, secure)
        return response

    async def logout(self, request: Request) -> Response:
        token = cookie_value(request, SESSION_COOKIE)
        await run_in_threadpool(lambda: self.accounts().close_session(token))
        response = RedirectResponse("/mediation/login", status_code=303)
        clear_cookie(response, SESSION_COOKIE, self.settings.secure_cookies)
        return response

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
            since = check_day(query["since"]) if query.get("since") else None
            until = check_day(query["until"]) if query.get("until") else None
        except ValueError as exc:
            return self.problem(request, f"Date invalide : {exc}")
        page_raw = query.get("page", "1")
        page = int(page_raw) if page_raw.isdigit() and 0 < int(page_raw) < 10_000 else 1

        def read(store: TicketStore) -> tuple[list[Any], dict[str, int]]:
            found = store.list(
                **filters,
                guide=guide,
                since=since,
                until=until,
                limit=PAGE_SIZE + 1,
                offset=(page - 1) * PAGE_SIZE,
            )
            return found, store.count_by_status()

        found, counts = await self.with_tickets(read)
        status = await run_in_threadpool(service_status, self.settings)
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
            service=status,
        )

    # -- one ticket

    async def ticket(self, request: Request) -> Response:
        ticket_id = self.ticket_id(request)
        actor = self.mediator(request)

        def read(store: TicketStore) -> Any:
            found = store.get(ticket_id) if ticket_id is not None else None
            if found is not None and not found.seen_at:
                store.mark_seen(found.id, actor=actor)
            return found

        found = await self.with_tickets(read)
        if found is None:
            return self.problem(request, "Ce ticket n'existe pas.", status=404)
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
        actor = self.mediator(request)

        def change(store: TicketStore) -> str | None:
            """None when done; otherwise what went wrong ('' for a missing ticket)."""
            if ticket_id is None or store.get(ticket_id) is None:
                return ""
            try:
                action(store, ticket_id, form, actor)
            except ValueError as exc:
                return str(exc)
            return None

        failed = await self.with_tickets(change)
        if failed == "":
            return self.problem(request, "Ce ticket n'existe pas.", status=404)
        if failed is not None:
            return self.problem(request, failed)
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
        actor = self.mediator(request)

        def write(store: TicketStore) -> str:
            found = store.list(status=status, limit=100_000)
            store.record_export([t.id for t in found], actor=actor, fmt=fmt)
            buffer = io.StringIO()
            (export_csv if fmt == "csv" else export_json)(found, buffer)
            return buffer.getvalue()

        content = await self.with_tickets(write)
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        name = f"tickets-{dt.date.today().isoformat()}.{fmt}"
        return Response(
            content,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
