"""The public agenda of workshops: HTML pages and iCalendar feeds, for anyone.

Thin adapters over `WorkshopStore` and `bot.ics`. They show sessions and seat counts only,
never who booked; answers may be cached a few minutes by browsers and proxies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from bot import ics
from bot.settings import Settings
from bot.workshops import (
    Workshop,
    WorkshopStore,
    day_label,
    duration_label,
    hour_label,
)

AGENDA_DAYS = 60
# Seat counts change as people book: short enough that a full session soon shows as such.
CACHE_CONTROL = "public, max-age=300"


@dataclass
class Day:
    label: str  # « Mardi 8 décembre »
    sessions: list[Workshop]


def seats_text(workshop: Workshop) -> str:
    """What the agenda says of the seats, in French."""
    if workshop.cancelled:
        return "Séance annulée"
    if not workshop.booking_required:
        return "Entrée libre, sans inscription"
    left = workshop.seats_left
    if left == 0:
        return "Complet — liste d'attente"
    return f"{left} place restante" if left == 1 else f"{left} places restantes"


def by_day(sessions: list[Workshop]) -> list[Day]:
    days: list[Day] = []
    for session in sessions:
        label = day_label(session.starts_at)
        label = label[:1].upper() + label[1:]
        if not days or days[-1].label != label:
            days.append(Day(label, []))
        days[-1].sessions.append(session)
    return days


class Agenda:
    """GET /ateliers, /ateliers/{id}, /ateliers.ics and /ateliers/{id}.ics."""

    def __init__(self, settings: Settings, templates: Jinja2Templates) -> None:
        self.settings = settings
        self.templates = templates
        self._titles: dict[str, str] | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/ateliers", self.agenda_page, methods=["GET", "HEAD"]),
            Route("/ateliers.ics", self.agenda_feed, methods=["GET", "HEAD"]),
            Route("/ateliers/{workshop_id:int}.ics", self.session_feed, methods=["GET", "HEAD"]),
            Route("/ateliers/{workshop_id:int}", self.session_page, methods=["GET", "HEAD"]),
        ]

    # -- data

    def guide_titles(self) -> dict[str, str]:
        if self._titles is None:  # the catalogue is read once, at the first page
            from bot.tickets import guide_titles

            self._titles = guide_titles(self.settings)
        return self._titles

    def _upcoming(self) -> list[Workshop]:
        now = datetime.now(timezone.utc)
        with WorkshopStore.open(self.settings) as store:
            # Sessions under way are still shown: someone may be looking for the room.
            return store.between(now - timedelta(hours=3), now + timedelta(days=AGENDA_DAYS))

    def _one(self, workshop_id: int) -> Workshop:
        with WorkshopStore.open(self.settings) as store:
            found = store.get(workshop_id)
        if found is None:
            raise HTTPException(404)
        return found

    def base_url(self, request: Request) -> str:
        """Where visitors reach the app: PUBLIC_BASE_URL, else the request's own origin."""
        configured = self.settings.public_base_url
        if configured:
            return configured
        return f"{request.url.scheme}://{request.url.netloc}"

    def _host(self, request: Request) -> str:
        return urlsplit(self.base_url(request)).hostname or "guichet.invalid"

    def _context(self, request: Request, **values: object) -> dict[str, object]:
        return {
            "request": request,
            "org_name": self.settings.values["ORG_NAME"],
            "org_address": self.settings.values["ORG_ADDRESS"],
            "org_phone": self.settings.values["ORG_PHONE"],
            "titles": self.guide_titles(),
            # Passed here, not as template globals: the console shares the environment.
            "day_label": day_label,
            "hour_label": hour_label,
            "duration_label": duration_label,
            "seats_text": seats_text,
            **values,
        }

    # -- endpoints

    async def agenda_page(self, request: Request) -> Response:
        sessions = await run_in_threadpool(self._upcoming)
        await run_in_threadpool(self.guide_titles)
        response = self.templates.TemplateResponse(
            request,
            "agenda/list.html",
            self._context(request, days=by_day(sessions), agenda_days=AGENDA_DAYS),
        )
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response

    async def session_page(self, request: Request) -> Response:
        session = await run_in_threadpool(self._one, request.path_params["workshop_id"])
        await run_in_threadpool(self.guide_titles)
        response = self.templates.TemplateResponse(
            request, "agenda/session.html", self._context(request, session=session)
        )
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response

    def _feed(self, request: Request, sessions: list[Workshop], filename: str) -> Response:
        name = f"Ateliers — {self.settings.values['ORG_NAME']}"
        body = ics.calendar(
            sessions, base_url=self.base_url(request), host=self._host(request), name=name
        )
        return Response(
            body.encode("utf-8"),
            media_type=ics.MEDIA_TYPE,
            headers={
                "Cache-Control": CACHE_CONTROL,
                "Content-Disposition": f'inline; filename="{filename}"',
            },
        )

    async def agenda_feed(self, request: Request) -> Response:
        sessions = await run_in_threadpool(self._upcoming)
        return self._feed(request, sessions, "ateliers.ics")

    async def session_feed(self, request: Request) -> Response:
        workshop_id = request.path_params["workshop_id"]
        session = await run_in_threadpool(self._one, workshop_id)
        return self._feed(request, [session], f"atelier-{workshop_id}.ics")
