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
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
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
    CALL_BACK_STATUSES,
    CALL_OUTCOME_LABELS,
    CALL_OUTCOMES,
    CHANNELS,
    CLOSED_STATUSES,
    MAX_NOTE_CHARS,
    REASONS,
    STATUSES,
    Ticket,
    TicketStore,
    export_csv,
    export_json,
    guide_titles,
)
from bot.transcript import REASON_LABELS, readable
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
from bot.web.workshops import WorkshopPages

PAGE_SIZE = 20
TZ = ZoneInfo("Europe/Paris")
# The French words of the tickets CLI, capitalised for the console's labels.
STATUS_LABELS = {k: v.capitalize() for k, v in tickets_module.STATUS_LABELS.items()}
CHANNEL_LABELS = {k: v.capitalize() for k, v in tickets_module.CHANNEL_LABELS.items()}
PREFERENCE_LABELS = {k: v.capitalize() for k, v in tickets_module.CONTACT_LABELS.items()}
ACTION_LABELS = {k: v.capitalize() for k, v in tickets_module.ACTION_LABELS.items()}
OUTCOME_LABELS = {k: v.capitalize() for k, v in CALL_OUTCOME_LABELS.items()}
# What a change tells the mediator once the page is shown again (?fait=…): fixed sentences,
# so that nothing from the address is ever written into the page.
DONE_MESSAGES = {
    "pris": "Vous suivez ce ticket. Il est passé « En cours ».",
    "repris": "Vous suivez ce ticket.",
    "appel": "L'appel est noté dans le journal.",
    "statut": "Le statut est changé.",
    "note": "La note est ajoutée.",
    "efface": "Le contact est effacé.",
}
# How long one alert stream lasts before the browser reconnects (EventSource does it by
# itself): a stream never outlives a logout for long, and a proxy never holds one forever.
EVENTS_LIFETIME_SECONDS = 300.0
RECONNECT_MS = 3000

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


def waited(iso: str | None, now: dt.datetime | None = None) -> str:
    """How long since `iso`, as a mediator says it: « 4 min », « 2 h 10 », « 3 j »."""
    if not iso:
        return ""
    now = now or dt.datetime.now(dt.timezone.utc)
    moment = dt.datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    minutes = max(0, int((now - moment).total_seconds() // 60))
    if minutes < 1:
        return "moins d'une minute"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest:02d}" if rest else f"{hours} h"
    days = minutes // (24 * 60)
    return f"{days} j"


def next_call_value(raw: str) -> dt.datetime | None:
    """The « prochain appel » field (a local date and time, or a day): None when empty."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError("Date du prochain appel illisible.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return moment


def alert_item(ticket: Ticket, titles: dict[str, str]) -> dict[str, Any]:
    """One waiting ticket, as the queue page's script draws it (labels already French)."""
    return {
        "id": ticket.id,
        "url": f"/mediation/tickets/{ticket.id}",
        "created_at": ticket.created_at,
        "created": local_time(ticket.created_at),
        "desk": ticket.contact_preference == "desk",
        "kiosk": ticket.kiosk or "",
        "status": STATUS_LABELS[ticket.status],
        "reason": REASON_LABELS[ticket.reason],
        "guide": titles.get(ticket.guide_id or "", ticket.guide_id or "—"),
        "step": f"étape {ticket.step} sur {ticket.steps}" if ticket.step and ticket.steps else "",
        "channel": CHANNEL_LABELS[ticket.channel],
        "preference": PREFERENCE_LABELS[ticket.contact_preference],
        "assigned": ticket.assigned_to or "",
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
        templates.env.filters["waited"] = waited
        templates.env.globals.update(
            STATUS_LABELS=STATUS_LABELS,
            CHANNEL_LABELS=CHANNEL_LABELS,
            REASON_LABELS=REASON_LABELS,
            PREFERENCE_LABELS=PREFERENCE_LABELS,
            ACTION_LABELS=ACTION_LABELS,
            OUTCOME_LABELS=OUTCOME_LABELS,
            CLOSED_STATUSES=CLOSED_STATUSES,
        )

    # -- plumbing

    def tickets(self) -> TicketStore:
        return TicketStore.open(self.settings)

    def titles(self) -> dict[str, str]:
        """Guide ids and themes to their French titles (the catalogue is cached by mtime)."""
        return guide_titles(self.settings)

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
            ("/events", self.events, ["GET"], "events"),
            ("/alerts", self.alerts, ["GET"], "alerts"),
            ("/tickets/{ticket_id}/assign", self.assign, ["POST"], None),
            ("/tickets/{ticket_id}/calls", self.add_call, ["POST"], None),
            ("/tickets/{ticket_id}/notes", self.add_note, ["POST"], None),
            ("/tickets/{ticket_id}/status", self.set_status, ["POST"], None),
            ("/tickets/{ticket_id}/erase-contact", self.erase_contact, ["POST"], None),
            ("/export", self.export, ["GET"], "export"),
            *ReportPages(self).routes(),
            *WorkshopPages(self).routes(),
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

    def _filters(self, request: Request) -> dict[str, Any]:
        """The queue's filters and search from the address (so a search can be bookmarked);
        ValueError with a French message for a value the console does not offer."""
        query = request.query_params
        filters: dict[str, Any] = {}
        for key, choices in (("status", STATUSES), ("reason", REASONS), ("channel", CHANNELS)):
            value = query.get(key) or None
            if value and value not in choices:
                raise ValueError(f"Filtre inconnu : {key}.")
            filters[key] = value
        filters["guide"] = (query.get("guide") or "").strip()[:60] or None
        filters["query"] = (query.get("q") or "").strip()[:200] or None
        try:
            filters["since"] = check_day(query["since"]) if query.get("since") else None
            filters["until"] = check_day(query["until"]) if query.get("until") else None
        except ValueError as exc:
            raise ValueError(f"Date invalide : {exc}") from None
        return filters

    async def queue(self, request: Request) -> Response:
        query = request.query_params
        try:
            filters = self._filters(request)
        except ValueError as exc:
            return self.problem(request, str(exc))
        page_raw = query.get("page", "1")
        page = int(page_raw) if page_raw.isdigit() and 0 < int(page_raw) < 10_000 else 1

        def read(store: TicketStore) -> tuple[list[Any], dict[str, int], dict[str, Any]]:
            found = store.list(**filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
            return found, store.count_by_status(), store.alerts()

        found, counts, alerts = await self.with_tickets(read)
        status = await run_in_threadpool(service_status, self.settings)
        kept = {k: v for k, v in query.items() if k != "page" and v}
        titles = self.titles()
        guides = sorted(
            ((g, t) for g, t in titles.items() if "." in g), key=lambda item: item[1].lower()
        )
        domains = [(d, t) for d, t in titles.items() if "." not in d]
        desk = [alert_item(t, titles) for t in alerts["tickets"] if t.contact_preference == "desk"]
        return self.render(
            request,
            "mediation/queue.html",
            tickets=found[:PAGE_SIZE],
            counts=counts,
            page=page,
            has_next=len(found) > PAGE_SIZE,
            query=kept,
            query_string=urlencode(kept),
            # New tickets are added to the table live only where they belong: first page,
            # no filter.
            live=page == 1 and not kept,
            statuses=STATUSES,
            reasons=REASONS,
            channels=CHANNELS,
            guides=guides,
            domains=domains,
            titles=titles,
            service=status,
            desk=desk,
            new_count=alerts["count"],
            latest=alerts["latest"],
            export_query=urlencode({k: v for k, v in kept.items() if k != "format"}),
        )

    # -- alerts

    def _alert_payload(self, found: dict[str, Any]) -> dict[str, Any]:
        titles = self.titles()
        return {
            "latest": found["latest"],
            "count": found["count"],
            "tickets": [alert_item(t, titles) for t in found["tickets"]],
        }

    async def alerts(self, request: Request) -> Response:
        """The same data as the event stream, once: for a browser without EventSource."""
        found = await self.with_tickets(lambda store: store.alerts())
        return Response(
            json.dumps(self._alert_payload(found), ensure_ascii=False),
            media_type="application/json",
        )

    async def events(self, request: Request) -> Response:
        """Server-sent events: `tickets` whenever the newest ticket or the count of new ones
        changes. Each stream reads the database itself (every `CONSOLE_ALERT_SECONDS`, in a
        worker thread), so a ticket written by any process is seen. Starlette stops the
        stream when the browser goes; it also ends after a few minutes, and the browser
        reconnects by itself."""
        interval = max(1, self.settings.console_alert_seconds)
        lifetime = EVENTS_LIFETIME_SECONDS

        async def stream() -> Any:
            yield f"retry: {RECONNECT_MS}\n\n"
            ends = time.monotonic() + lifetime
            last: tuple[int, int] | None = None
            while True:
                found = await self.with_tickets(lambda store: store.alerts())
                seen = (found["latest"], found["count"])
                if seen != last:
                    data = json.dumps(self._alert_payload(found), ensure_ascii=False)
                    yield f"event: tickets\ndata: {data}\n\n"
                    last = seen
                else:
                    yield ": rien de nouveau\n\n"  # a comment, kept from proxies' timeouts
                left = ends - time.monotonic()
                if left <= 0:
                    return
                await asyncio.sleep(min(interval, left))

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},
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
        try:
            catalogue = load_catalogue(self.settings.knowledge_dir)
            guide = catalogue.get(found.guide_id or "")
        except (OSError, ValueError):
            guide = None
        step = None
        if guide is not None and found.step and 1 <= found.step <= guide.step_count:
            step = guide.step(found.step)
        contact = found.contact_detail or ""
        tel = "".join(c for c in contact if c.isdigit() or c == "+") if "@" not in contact else ""
        next_call = ""
        if found.next_call_at:
            next_call = local_time(found.next_call_at, "%Y-%m-%dT%H:%M")
        return self.render(
            request,
            "mediation/ticket.html",
            ticket=found,
            turns=readable(found.transcript, self.titles()),
            guide=guide,
            step=step,
            tel=tel,
            statuses=STATUSES,
            call_back_statuses=CALL_BACK_STATUSES,
            outcomes=CALL_OUTCOMES,
            next_call=next_call,
            max_note=MAX_NOTE_CHARS,
            done=DONE_MESSAGES.get(request.query_params.get("fait", "")),
        )

    async def _change(
        self, request: Request, action: Callable[..., Any], done: str | None = None
    ) -> Response:
        ticket_id = self.ticket_id(request)
        form = await request.form()
        actor = self.mediator(request)

        def change(store: TicketStore) -> tuple[str | None, Any]:
            """(None, result) when done; otherwise what went wrong ('' for a missing ticket)."""
            if ticket_id is None or store.get(ticket_id) is None:
                return "", None
            try:
                return None, action(store, ticket_id, form, actor)
            except ValueError as exc:
                return str(exc), None

        failed, result = await self.with_tickets(change)
        if failed == "":
            return self.problem(request, "Ce ticket n'existe pas.", status=404)
        if failed is not None:
            return self.problem(request, failed)
        message = result if isinstance(result, str) and result in DONE_MESSAGES else done
        target = f"/mediation/tickets/{ticket_id}"
        if message:
            target += f"?fait={message}"
        return RedirectResponse(target, status_code=303)

    async def assign(self, request: Request) -> Response:
        def take(store: TicketStore, tid: int, form: Any, actor: str) -> str:
            before = store.take(tid, actor=actor)
            return "pris" if before == "nouveau" else "repris"

        return await self._change(request, take)

    async def add_call(self, request: Request) -> Response:
        def call(store: TicketStore, tid: int, form: Any, actor: str) -> None:
            outcome = str(form.get("outcome") or "")
            if outcome not in CALL_OUTCOMES:
                raise ValueError("Choisissez comment l'appel s'est passé.")
            note = str(form.get("note") or "").strip()
            if len(note) > MAX_NOTE_CHARS:
                raise ValueError(f"La note est trop longue ({MAX_NOTE_CHARS} caractères au plus).")
            then = str(form.get("then") or "")
            next_call = next_call_value(str(form.get("next_call") or ""))
            if then and then not in STATUSES:
                raise ValueError("Statut inconnu.")
            store.record_call(tid, outcome, actor=actor, note=note or None)
            if then:
                store.set_status(tid, then, actor=actor, next_call=next_call)

        return await self._change(request, call, "appel")

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

        return await self._change(request, note, "note")

    async def set_status(self, request: Request) -> Response:
        def status(store: TicketStore, tid: int, form: Any, actor: str) -> None:
            value = str(form.get("status") or "")
            if value not in STATUSES:
                raise ValueError("Statut inconnu.")
            note = str(form.get("note") or "").strip()
            if len(note) > MAX_NOTE_CHARS:
                raise ValueError(f"La note est trop longue ({MAX_NOTE_CHARS} caractères au plus).")
            next_call = next_call_value(str(form.get("next_call") or ""))
            store.set_status(tid, value, actor=actor, note=note or None, next_call=next_call)

        return await self._change(request, status, "statut")

    async def erase_contact(self, request: Request) -> Response:
        return await self._change(
            request,
            lambda store, tid, form, actor: store.erase_contact(tid, actor=actor),
            "efface",
        )

    # -- export

    async def export(self, request: Request) -> Response:
        fmt = request.query_params.get("format", "csv")
        if fmt not in ("csv", "json"):
            return self.problem(request, "Export impossible : format inconnu.")
        try:
            filters = self._filters(request)
        except ValueError as exc:
            return self.problem(request, f"Export impossible. {exc}")
        actor = self.mediator(request)
        titles = self.titles()

        def write(store: TicketStore) -> str:
            found = store.export(status=filters["status"])
            if any(value for key, value in filters.items() if key != "status"):
                # The queue's other filters and search, as the mediator sees them.
                wanted: set[int] = set()
                while page := store.list(**filters, limit=500, offset=len(wanted)):
                    wanted.update(t.id for t in page)
                    if len(page) < 500:
                        break
                found = [t for t in found if t.id in wanted]
            store.record_export([t.id for t in found], actor=actor, fmt=fmt)
            buffer = io.StringIO()
            if fmt == "csv":
                export_csv(found, buffer, titles=titles)
            else:
                export_json(found, buffer)
            return buffer.getvalue()

        content = await self.with_tickets(write)
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        name = f"tickets-{dt.datetime.now(TZ).date().isoformat()}.{fmt}"
        return Response(
            content,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
