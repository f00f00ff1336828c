"""The console's « Ateliers » pages: plan workshop sessions (one, or a series in one go),
follow who booked, mark who came, print the attendance sheet, and the list of people to
tell when a session is cancelled or a seat frees up.

Routes of `bot.web.mediation.Console`, mounted under /mediation/ateliers, thin over
`bot.workshops.WorkshopStore`. Every store call runs in a worker thread (a locked database
must not stall the visitors' chat), every form carries the console's CSRF token (checked
by `Console.login_required`), and what comes back in an address (?fait=…) only picks one of
the fixed sentences below.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.contacts import EMAIL_RE, normalise_phone
from bot.guides import Catalogue, load_catalogue
from bot.spreadsheet import MEDIA_TYPE, FrenchCsv
from bot.workshops import (
    LEVEL_LABELS,
    LEVELS,
    MONTH_NAMES,
    Booking,
    UnknownBooking,
    Workshop,
    WorkshopClosed,
    WorkshopStore,
    day_label,
    duration_label,
    hour_label,
)

if TYPE_CHECKING:
    from bot.web.mediation import Console

TZ = ZoneInfo("Europe/Paris")
T = TypeVar("T")

MAX_TITLE = 120
MAX_DESCRIPTION = 2000
MAX_PLACE = 120
MAX_ADDRESS = 200
MAX_FIRST_NAME = 40
MAX_SEATS = 500
MIN_DURATION, MAX_DURATION = 15, 10 * 60
MAX_COUNT = 52  # a year of weekly sessions
MAX_EVERY_DAYS = 90
# The printed sheet has a few blank lines for people who come without booking.
BLANK_SHEET_ROWS = 4
UPCOMING_DAYS = 366

LEVEL_NAMES = {k: v[:1].upper() + v[1:] for k, v in LEVEL_LABELS.items()}
CHANNEL_LABELS = {
    "kiosk": "Borne",
    "widget": "Site web",
    "desk": "À l'accueil",
    "phone": "Par téléphone",
    "other": "Autre",
}
# How the person asked to be told.
CONTACT_LABELS = {
    "phone": "Par téléphone",
    "email": "Par e-mail",
    "none": "Aucun contact laissé : à l'accueil",
}
NOTIFY_LABELS = {
    "cancelled": "Atelier annulé",
    "promoted": "A eu une place (était sur la liste d'attente)",
}
BOOKING_LABELS = {"inscrit": "Inscrit", "attente": "Liste d'attente", "annule": "Annulé"}
DONE_MESSAGES = {
    "cree": "L'atelier est créé.",
    "serie": "Les séances sont créées.",
    "modifie": "L'atelier est modifié.",
    "duplique": "L'atelier est dupliqué. Vérifiez la date et l'heure ci-dessous.",
    "annule": "L'atelier est annulé. Prévenez les personnes de la liste « À prévenir ».",
    "inscrit": "La personne est inscrite.",
    "attente": "L'atelier est complet : la personne est sur la liste d'attente.",
    "presence": "La présence est notée.",
    "desinscrit": "L'inscription est annulée.",
    "promu": "L'inscription est annulée. Une personne de la liste d'attente a eu la place : "
    "prévenez-la (liste « À prévenir »).",
    "prevenu": "C'est noté : la personne est prévenue.",
}


def french_date(moment: dt.datetime, *, year: bool = True) -> str:
    """« mardi 8 décembre 2026 » in Paris time."""
    text = day_label(moment)
    return f"{text} {moment.astimezone(TZ).year}" if year else text


# The store's French times and durations: one way of writing them everywhere.
french_hour = hour_label
french_duration = duration_label


def tel_link(detail: str | None) -> str:
    """The digits of a phone number for a tel: link ('' for none)."""
    return "".join(c for c in detail or "" if c.isdigit() or c == "+")


def _int(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) < 7 else None


def _local(day: str, hour: str) -> dt.datetime | None:
    """The aware Paris moment of a date field and a time field, or None if unreadable."""
    # A browser sends "14:05"; typed by hand (no time picker) it may be "9:30" or "9h30".
    match = re.fullmatch(r"(\d{1,2})\s*[:hH]\s*(\d{2})?(?::\d{2})?", hour.strip())
    try:
        date = dt.date.fromisoformat(day.strip())
        if match is None:
            return None
        time = dt.time(int(match[1]), int(match[2] or 0))
    except ValueError:
        return None
    return dt.datetime.combine(date, time.replace(second=0, microsecond=0), tzinfo=TZ)


@dataclass
class SessionForm:
    """A workshop form as typed (kept to show again) and what is wrong with it, by field."""

    raw: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    # A series: how many sessions, how many days apart (the create form only).
    values_count: int = 1
    values_every: int = 7

    @classmethod
    def blank(cls, address: str) -> SessionForm:
        return cls(
            {
                "title": "",
                "description": "",
                "date": "",
                "time": "14:00",
                "duration": "120",
                "place": "",
                "address": address,
                "seats": "8",
                "level": "debutant",
                "guides": [],
                "booking_required": True,
                "count": "1",
                "every_days": "7",
            }
        )

    @classmethod
    def of(cls, workshop: Workshop) -> SessionForm:
        starts = workshop.starts.astimezone(TZ)
        return cls(
            {
                "title": workshop.title,
                "description": workshop.description,
                "date": starts.date().isoformat(),
                "time": starts.strftime("%H:%M"),
                "duration": str(workshop.duration_minutes),
                "place": workshop.place,
                "address": workshop.address,
                "seats": str(workshop.seats),
                "level": workshop.level,
                "guides": list(workshop.guide_ids),
                "booking_required": workshop.booking_required,
                "count": "1",
                "every_days": "7",
            }
        )

    @classmethod
    def read(
        cls,
        form: Mapping[str, Any],
        guides: list[str],
        known_guides: set[str],
        now: dt.datetime,
        *,
        creating: bool,
        booked: int = 0,
    ) -> SessionForm:
        def text(name: str, limit: int) -> str:
            # A little over the limit is kept, so that the error can say how long it is.
            return str(form.get(name) or "").strip()[: limit * 2]

        raw: dict[str, Any] = {
            "title": text("title", MAX_TITLE),
            "description": text("description", MAX_DESCRIPTION),
            "date": text("date", 10),
            "time": text("time", 8),
            "duration": text("duration", 4),
            "place": text("place", MAX_PLACE),
            "address": text("address", MAX_ADDRESS),
            "seats": text("seats", 4),
            "level": text("level", 20),
            "guides": [g for g in guides if g in known_guides],
            "booking_required": bool(form.get("booking_required")),
            "count": text("count", 3) or "1",
            "every_days": text("every_days", 3) or "7",
        }
        found = cls(raw)
        errors = found.errors
        if not raw["title"]:
            errors["title"] = "Donnez un titre à l'atelier."
        elif len(raw["title"]) > MAX_TITLE:
            errors["title"] = f"Le titre est trop long ({MAX_TITLE} caractères au plus)."
        if len(raw["description"]) > MAX_DESCRIPTION:
            errors["description"] = (
                f"La description est trop longue ({MAX_DESCRIPTION} caractères au plus)."
            )
        starts = None
        if not raw["date"]:
            errors["date"] = "Choisissez la date de l'atelier."
        elif not raw["time"]:
            errors["time"] = "Choisissez l'heure de début."
        else:
            starts = _local(raw["date"], raw["time"])
            if starts is None:
                errors["date"] = "Date ou heure illisible. Exemple : 08/12/2026 à 14:00."
            elif creating and starts <= now:
                errors["date"] = "Cette date est passée. Choisissez une date à venir."
        duration = _int(raw["duration"])
        if duration is None or not MIN_DURATION <= duration <= MAX_DURATION:
            errors["duration"] = (
                f"Indiquez une durée en minutes, entre {MIN_DURATION} et {MAX_DURATION}."
            )
        if not raw["place"]:
            errors["place"] = "Indiquez la salle (par exemple « Salle informatique »)."
        elif len(raw["place"]) > MAX_PLACE:
            errors["place"] = f"La salle est trop longue ({MAX_PLACE} caractères au plus)."
        if len(raw["address"]) > MAX_ADDRESS:
            errors["address"] = f"L'adresse est trop longue ({MAX_ADDRESS} caractères au plus)."
        seats = _int(raw["seats"])
        if seats is None or not 1 <= seats <= MAX_SEATS:
            errors["seats"] = f"Indiquez un nombre de places entre 1 et {MAX_SEATS}."
        elif seats < booked:
            errors["seats"] = (
                f"{booked} personnes sont déjà inscrites : "
                f"gardez au moins {booked} places, ou annulez d'abord des inscriptions."
            )
        if raw["level"] not in LEVELS:
            errors["level"] = "Choisissez un niveau."
        count = every_days = 1
        if creating:
            count_value = _int(raw["count"])
            if count_value is None or not 1 <= count_value <= MAX_COUNT:
                errors["count"] = f"Indiquez un nombre de séances entre 1 et {MAX_COUNT}."
            else:
                count = count_value
            every_value = _int(raw["every_days"])
            if every_value is None or not 1 <= every_value <= MAX_EVERY_DAYS:
                errors["every_days"] = (
                    f"Indiquez un nombre de jours entre 1 et {MAX_EVERY_DAYS} (7 : chaque semaine)."
                )
            else:
                every_days = every_value
        if not errors:
            found.values = {
                "title": raw["title"],
                "description": raw["description"],
                "starts_at": starts,
                "duration_minutes": duration,
                "place": raw["place"],
                "address": raw["address"],
                "seats": seats,
                "level": raw["level"],
                "guide_ids": raw["guides"],
                "booking_required": raw["booking_required"],
            }
            found.values_count = count
            found.values_every = every_days
        return found


def _guide_groups(catalogue: Catalogue) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(domain, its title, [(guide id, title)]) in the catalogue's order."""
    groups = []
    for domain in catalogue.domains():
        guides = [(g.id, g.title) for g in catalogue.guides.values() if g.domain == domain]
        if guides:
            groups.append((domain, catalogue.domain_title(domain), guides))
    return groups


def sheet_csv(workshop: Workshop, bookings: list[Booking], file: io.StringIO) -> None:
    """The attendance sheet for a French spreadsheet: the session, then one line per person
    booked, in booking order. No contact details: the sheet is passed around."""
    out = FrenchCsv(file)
    starts = workshop.starts
    out.rows(
        [
            ("atelier", workshop.title),
            ("date", starts.astimezone(TZ).date()),
            ("heure", french_hour(starts)),
            ("lieu", ", ".join(p for p in (workshop.place, workshop.address) if p)),
        ]
    )
    out.blank()
    out.row(("n°", "prénom", "statut", "numéro d'inscription", "canal", "inscrit le", "présence"))
    presence = {True: "présent", False: "absent", None: ""}
    number = 0
    for booking in bookings:
        if booking.status == "annule":
            continue
        number += 1
        out.row(
            (
                number,
                booking.first_name,
                BOOKING_LABELS.get(booking.status, booking.status).lower(),
                booking.number,
                CHANNEL_LABELS.get(booking.channel, booking.channel).lower(),
                dt.datetime.fromisoformat(booking.created_at),
                presence[booking.attended] if booking.status == "inscrit" else "",
            )
        )


class WorkshopPages:
    """/ateliers…: the list, the form, one session, its sheet and its CSV."""

    def __init__(self, console: Console):
        self.console = console
        self.settings = console.settings
        console.templates.env.globals.update(
            LEVEL_NAMES=LEVEL_NAMES,
            BOOKING_CHANNEL_LABELS=CHANNEL_LABELS,
            CONTACT_KIND_LABELS=CONTACT_LABELS,
            NOTIFY_LABELS=NOTIFY_LABELS,
            BOOKING_LABELS=BOOKING_LABELS,
        )
        console.templates.env.filters.update(
            french_date=french_date,
            french_hour=french_hour,
            french_duration=french_duration,
            tel_link=tel_link,
        )

    # The clock of the pages (what is « past »); a test may set another.
    @staticmethod
    def now() -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def routes(self) -> list[tuple[str, Any, list[str], str | None]]:
        # Fixed words before {workshop_id}: Starlette takes the first route that matches.
        return [
            ("/ateliers", self.listing, ["GET"], "workshops"),
            ("/ateliers/nouveau", self.create, ["GET", "POST"], "workshop_new"),
            ("/ateliers/prevenu/{booking_id}", self.notified, ["POST"], None),
            ("/ateliers/{workshop_id}", self.session, ["GET"], "workshop"),
            ("/ateliers/{workshop_id}/modifier", self.edit, ["GET", "POST"], "workshop_edit"),
            ("/ateliers/{workshop_id}/dupliquer", self.duplicate, ["POST"], None),
            ("/ateliers/{workshop_id}/annuler", self.cancel, ["GET", "POST"], "workshop_cancel"),
            ("/ateliers/{workshop_id}/inscriptions", self.add_booking, ["POST"], None),
            (
                "/ateliers/{workshop_id}/inscriptions/{booking_id}/presence",
                self.attendance,
                ["POST"],
                None,
            ),
            (
                "/ateliers/{workshop_id}/inscriptions/{booking_id}/annuler",
                self.cancel_booking,
                ["GET", "POST"],
                "booking_cancel",
            ),
            ("/ateliers/{workshop_id}/emargement", self.sheet, ["GET"], "workshop_sheet"),
            ("/ateliers/{workshop_id}/emargement.csv", self.sheet_csv, ["GET"], "workshop_csv"),
        ]

    # -- plumbing

    async def with_store(self, work: Callable[[WorkshopStore], T]) -> T:
        def run() -> T:
            with WorkshopStore.open(self.settings) as store:
                return work(store)

        return await run_in_threadpool(run)

    @staticmethod
    def _id(request: Request, name: str) -> int | None:
        raw = str(request.path_params.get(name, ""))
        return int(raw) if raw.isdigit() and len(raw) < 12 else None

    def catalogue(self) -> Catalogue | None:
        try:
            return load_catalogue(self.settings.knowledge_dir)
        except (OSError, ValueError):
            return None

    def titles(self) -> dict[str, str]:
        catalogue = self.catalogue()
        return {g.id: g.title for g in catalogue.guides.values()} if catalogue else {}

    def missing(self, request: Request) -> Response:
        return self.console.problem(request, "Cet atelier n'existe pas.", status=404)

    def public_base(self, request: Request) -> str:
        return self.settings.public_base_url or str(request.base_url).rstrip("/")

    @staticmethod
    def done(request: Request) -> str | None:
        return DONE_MESSAGES.get(request.query_params.get("fait", ""))

    # -- the list

    async def listing(self, request: Request) -> Response:
        now = self.now()
        today = dt.datetime.combine(now.astimezone(TZ).date(), dt.time(), tzinfo=TZ)
        this_month = today.date().replace(day=1)
        raw_month = request.query_params.get("mois", "").strip()
        month = this_month
        month_error = None
        if raw_month:
            match = re.fullmatch(r"(\d{4})-(\d{2})", raw_month)
            chosen = None
            if match and 1 <= int(match[2]) <= 12 and 1970 <= int(match[1]) <= 2999:
                chosen = dt.date(int(match[1]), int(match[2]), 1)
            if chosen is None or chosen > this_month:
                month_error = "Mois illisible ou à venir : choisissez un mois passé (AAAA-MM)."
            else:
                month = chosen
        month_start = dt.datetime.combine(month, dt.time(), tzinfo=TZ)
        next_month = (month + dt.timedelta(days=32)).replace(day=1)
        month_end = min(dt.datetime.combine(next_month, dt.time(), tzinfo=TZ), today)

        def read(store: WorkshopStore) -> tuple[Any, Any, Any]:
            coming = store.between(today, today + dt.timedelta(days=UPCOMING_DAYS))
            past = store.between(month_start, month_end) if month_start < month_end else []
            return coming, past, store.to_notify()

        coming, past, to_notify = await self.with_store(read)
        previous = (month - dt.timedelta(days=1)).replace(day=1)
        base = self.public_base(request)
        return self.console.render(
            request,
            "mediation/workshops.html",
            coming=sorted(coming, key=lambda w: w.starts_at),
            past=sorted(past, key=lambda w: w.starts_at),
            to_notify=to_notify,
            month=month,
            month_label=f"{MONTH_NAMES[month.month - 1]} {month.year}",
            month_value=month.strftime("%Y-%m"),
            month_error=month_error,
            previous_month=previous.strftime("%Y-%m"),
            next_month=next_month.strftime("%Y-%m") if next_month <= this_month else None,
            agenda_url=f"{base}/ateliers",
            ics_url=f"{base}/ateliers.ics",
            now_iso=now.isoformat(),
            done=self.done(request),
        )

    # -- create and edit

    def _render_form(
        self,
        request: Request,
        form: SessionForm,
        *,
        workshop: Workshop | None = None,
        status: int = 200,
    ) -> Response:
        catalogue = self.catalogue()
        return self.console.render(
            request,
            "mediation/workshops_form.html",
            status=status,
            form=form.raw,
            errors=form.errors,
            workshop=workshop,
            levels=LEVELS,
            groups=_guide_groups(catalogue) if catalogue else [],
            limits={
                "title": MAX_TITLE,
                "description": MAX_DESCRIPTION,
                "place": MAX_PLACE,
                "address": MAX_ADDRESS,
                "seats": MAX_SEATS,
                "count": MAX_COUNT,
                "every_days": MAX_EVERY_DAYS,
                "min_duration": MIN_DURATION,
                "max_duration": MAX_DURATION,
            },
        )

    async def _read_form(self, request: Request, *, creating: bool, booked: int = 0) -> SessionForm:
        form = await request.form()
        catalogue = self.catalogue()
        known = set(catalogue.guides) if catalogue else set()
        guides = [str(g) for g in form.getlist("guides")]
        return SessionForm.read(form, guides, known, self.now(), creating=creating, booked=booked)

    async def create(self, request: Request) -> Response:
        if request.method == "GET":
            return self._render_form(
                request, SessionForm.blank(self.settings.values.get("ORG_ADDRESS", ""))
            )
        form = await self._read_form(request, creating=True)
        if form.errors:
            return self._render_form(request, form, status=400)
        actor = self.console.mediator(request)
        count, every = form.values_count, form.values_every

        def write(store: WorkshopStore) -> list[Workshop]:
            if count == 1:
                return [store.create(**form.values, actor=actor)]
            return store.create_series(every_days=every, count=count, **form.values, actor=actor)

        try:
            made = await self.with_store(write)
        except ValueError as exc:  # the store's own checks, in French
            form.errors["general"] = str(exc)
            return self._render_form(request, form, status=400)
        if len(made) == 1:
            return RedirectResponse(f"/mediation/ateliers/{made[0].id}?fait=cree", status_code=303)
        return RedirectResponse("/mediation/ateliers?fait=serie", status_code=303)

    async def edit(self, request: Request) -> Response:
        workshop_id = self._id(request, "workshop_id")
        found = await self.with_store(lambda s: s.get(workshop_id)) if workshop_id else None
        if found is None:
            return self.missing(request)
        if found.status == "annule":
            return self.console.problem(request, "Cet atelier est annulé : il ne se modifie plus.")
        if request.method == "GET":
            return self._render_form(request, SessionForm.of(found), workshop=found)
        form = await self._read_form(request, creating=False, booked=found.booked)
        if form.errors:
            return self._render_form(request, form, workshop=found, status=400)
        actor = self.console.mediator(request)
        try:
            await self.with_store(lambda s: s.update(found.id, actor=actor, **form.values))
        except ValueError as exc:
            form.errors["general"] = str(exc)
            return self._render_form(request, form, workshop=found, status=400)
        return RedirectResponse(f"/mediation/ateliers/{found.id}?fait=modifie", status_code=303)

    # -- one session

    async def _session_page(
        self,
        request: Request,
        workshop_id: int | None,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        kept: dict[str, str] | None = None,
    ) -> Response:
        def read(store: WorkshopStore) -> tuple[Any, Any, Any]:
            found = store.get(workshop_id) if workshop_id is not None else None
            if found is None:
                return None, [], []
            notify = [(b, w) for b, w in store.to_notify() if w.id == found.id]
            return found, store.bookings(found.id), notify

        found, bookings, to_notify = await self.with_store(read)
        if found is None:
            return self.missing(request)
        titles = self.titles()
        return self.console.render(
            request,
            "mediation/workshops_session.html",
            status=status,
            workshop=found,
            booked=[b for b in bookings if b.status == "inscrit"],
            waiting=[b for b in bookings if b.status == "attente"],
            cancelled=[b for b in bookings if b.status == "annule"],
            to_notify=to_notify,
            guides=[(g, titles.get(g, g)) for g in found.guide_ids],
            started=found.starts <= self.now(),
            start_time=found.starts.astimezone(TZ).strftime("%H:%M"),
            errors=errors or {},
            kept=kept or {},
            public_url=f"{self.public_base(request)}/ateliers/{found.id}",
            done=self.done(request),
        )

    async def session(self, request: Request) -> Response:
        return await self._session_page(request, self._id(request, "workshop_id"))

    async def duplicate(self, request: Request) -> Response:
        workshop_id = self._id(request, "workshop_id")
        form = await request.form()
        kept = {
            "dup_date": str(form.get("date") or "").strip()[:10],
            "dup_time": str(form.get("time") or "").strip()[:8],
        }
        starts = _local(kept["dup_date"], kept["dup_time"])
        error = None
        if not kept["dup_date"] or not kept["dup_time"]:
            error = "Choisissez la date et l'heure de la nouvelle séance."
        elif starts is None:
            error = "Date ou heure illisible. Exemple : 08/12/2026 à 14:00."
        elif starts <= self.now():
            error = "Cette date est passée. Choisissez une date à venir."
        if error or starts is None:
            return await self._session_page(
                request, workshop_id, status=400, errors={"dup": error or ""}, kept=kept
            )
        actor = self.console.mediator(request)

        def write(store: WorkshopStore) -> Workshop | None:
            if workshop_id is None or store.get(workshop_id) is None:
                return None
            return store.duplicate(workshop_id, starts_at=starts, actor=actor)

        made = await self.with_store(write)
        if made is None:
            return self.missing(request)
        return RedirectResponse(f"/mediation/ateliers/{made.id}?fait=duplique", status_code=303)

    async def cancel(self, request: Request) -> Response:
        workshop_id = self._id(request, "workshop_id")
        found = await self.with_store(lambda s: s.get(workshop_id)) if workshop_id else None
        if found is None:
            return self.missing(request)
        if found.status == "annule":
            return RedirectResponse(f"/mediation/ateliers/{found.id}", status_code=303)
        if request.method == "GET":
            people = found.booked + found.waiting
            return self.console.render(
                request,
                "mediation/workshops_confirm.html",
                heading=f"Annuler l'atelier « {found.title} » ?",
                lines=[
                    f"Prévu le {french_date(found.starts)} à {french_hour(found.starts)}.",
                    "Personne n'est inscrit."
                    if people == 0
                    else (
                        f"{people} personne{'s' if people > 1 else ''} "
                        f"(inscrites ou en attente) seront à prévenir : la liste vous sera donnée."
                    ),
                    "Cette annulation ne peut pas être défaite.",
                ],
                action=f"/mediation/ateliers/{found.id}/annuler",
                button="Oui, annuler l'atelier",
                back=f"/mediation/ateliers/{found.id}",
                back_label="Non, revenir à l'atelier",
            )
        actor = self.console.mediator(request)
        await self.with_store(lambda s: s.cancel(found.id, actor=actor))
        return RedirectResponse(f"/mediation/ateliers/{found.id}?fait=annule", status_code=303)

    # -- bookings

    async def add_booking(self, request: Request) -> Response:
        workshop_id = self._id(request, "workshop_id")
        form = await request.form()
        kept = {
            "first_name": str(form.get("first_name") or "").strip()[: MAX_FIRST_NAME * 2],
            "contact": str(form.get("contact") or "").strip()[:200],
            "channel": str(form.get("channel") or ""),
        }
        errors: dict[str, str] = {}
        if not kept["first_name"]:
            errors["first_name"] = "Indiquez le prénom (ou les initiales) de la personne."
        elif len(kept["first_name"]) > MAX_FIRST_NAME:
            errors["first_name"] = f"Le prénom est trop long ({MAX_FIRST_NAME} caractères au plus)."
        contact_kind, detail = "none", None
        if kept["contact"]:
            if "@" in kept["contact"]:
                if EMAIL_RE.fullmatch(kept["contact"]):
                    contact_kind, detail = "email", kept["contact"]
                else:
                    errors["contact"] = "Adresse e-mail illisible. Exemple : prenom@exemple.fr."
            else:
                phone = normalise_phone(kept["contact"])
                if phone:
                    contact_kind = "phone"
                    detail = " ".join(phone[i : i + 2] for i in range(0, 10, 2))
                else:
                    errors["contact"] = (
                        "Numéro de téléphone illisible : 10 chiffres, par exemple 06 12 34 56 78."
                    )
        if kept["channel"] not in ("desk", "phone"):
            errors["channel"] = "Dites si la personne s'inscrit à l'accueil ou par téléphone."
        if errors:
            return await self._session_page(
                request, workshop_id, status=400, errors=errors, kept=kept
            )

        def write(store: WorkshopStore) -> Booking | str | None:
            if workshop_id is None or store.get(workshop_id) is None:
                return None
            try:
                return store.book(
                    workshop_id,
                    first_name=kept["first_name"],
                    contact_kind=contact_kind,
                    contact_detail=detail,
                    channel=kept["channel"],
                    actor=self.console.mediator(request),
                )
            except WorkshopClosed:
                return "Cet atelier est annulé ou déjà commencé : on ne peut plus s'y inscrire."
            except ValueError as exc:  # the store's own checks, in French
                return str(exc)

        made = await self.with_store(write)
        if made is None:
            return self.missing(request)
        if isinstance(made, str):
            return await self._session_page(
                request, workshop_id, status=409, errors={"first_name": made}, kept=kept
            )
        done = "attente" if made.status == "attente" else "inscrit"
        return RedirectResponse(
            f"/mediation/ateliers/{workshop_id}?fait={done}#inscrits", status_code=303
        )

    async def _booking_of(
        self, request: Request
    ) -> tuple[Workshop | None, Booking | None, list[Booking]]:
        workshop_id = self._id(request, "workshop_id")
        booking_id = self._id(request, "booking_id")

        def read(store: WorkshopStore) -> tuple[Any, Any, Any]:
            found = store.get(workshop_id) if workshop_id is not None else None
            if found is None:
                return None, None, []
            bookings = store.bookings(found.id)
            return found, next((b for b in bookings if b.id == booking_id), None), bookings

        return await self.with_store(read)

    async def attendance(self, request: Request) -> Response:
        found, booking, _ = await self._booking_of(request)
        if found is None or booking is None:
            return self.console.problem(request, "Cette inscription n'existe pas.", status=404)
        form = await request.form()
        value = {"present": True, "absent": False, "inconnu": None}
        choice = str(form.get("presence") or "")
        if choice not in value:
            return self.console.problem(request, "Choisissez « Présent » ou « Absent ».")
        actor = self.console.mediator(request)
        await self.with_store(lambda s: s.mark_attendance(booking.id, value[choice], actor=actor))
        return RedirectResponse(
            f"/mediation/ateliers/{found.id}?fait=presence#inscription-{booking.id}",
            status_code=303,
        )

    async def cancel_booking(self, request: Request) -> Response:
        found, booking, _ = await self._booking_of(request)
        if found is None or booking is None or booking.status == "annule":
            return self.console.problem(request, "Cette inscription n'existe pas.", status=404)
        if request.method == "GET":
            where = "sur la liste d'attente" if booking.status == "attente" else "inscrite"
            return self.console.render(
                request,
                "mediation/workshops_confirm.html",
                heading=f"Annuler l'inscription de {booking.first_name} ?",
                lines=[
                    f"{booking.first_name} est {where} à l'atelier « {found.title} » "
                    f"du {french_date(found.starts)} à {french_hour(found.starts)}.",
                    "Si une personne attend, elle aura la place et sera ajoutée à la liste "
                    "« À prévenir ».",
                ],
                action=f"/mediation/ateliers/{found.id}/inscriptions/{booking.id}/annuler",
                button="Oui, annuler l'inscription",
                back=f"/mediation/ateliers/{found.id}",
                back_label="Non, revenir à l'atelier",
            )
        actor = self.console.mediator(request)

        def write(store: WorkshopStore) -> str:
            waiting = {b.id for b in store.bookings(found.id) if b.status == "attente"}
            try:
                store.cancel_booking(booking.number, actor=actor)
            except UnknownBooking:
                return "desinscrit"  # cancelled meanwhile: the page shows it so
            promoted = [
                b for b in store.bookings(found.id) if b.id in waiting and b.status == "inscrit"
            ]
            return "promu" if promoted else "desinscrit"

        done = await self.with_store(write)
        return RedirectResponse(f"/mediation/ateliers/{found.id}?fait={done}", status_code=303)

    async def notified(self, request: Request) -> Response:
        booking_id = self._id(request, "booking_id")
        form = await request.form()
        back = str(form.get("retour") or "")
        target = f"/mediation/ateliers/{back}" if back.isdigit() and len(back) < 12 else None
        if booking_id is None:
            return self.console.problem(request, "Cette inscription n'existe pas.", status=404)
        actor = self.console.mediator(request)

        def write(store: WorkshopStore) -> bool:
            if not any(b.id == booking_id for b, _ in store.to_notify()):
                return False
            store.mark_notified(booking_id, actor=actor)
            return True

        if not await self.with_store(write):
            return self.console.problem(
                request, "Cette personne n'est plus sur la liste « À prévenir ».", status=404
            )
        return RedirectResponse(
            f"{target or '/mediation/ateliers'}?fait=prevenu#a-prevenir", status_code=303
        )

    # -- the attendance sheet

    async def _sheet_data(self, request: Request) -> tuple[Workshop | None, list[Booking]]:
        workshop_id = self._id(request, "workshop_id")

        def read(store: WorkshopStore) -> tuple[Any, Any]:
            found = store.get(workshop_id) if workshop_id is not None else None
            return found, store.bookings(found.id) if found else []

        return await self.with_store(read)

    async def sheet(self, request: Request) -> Response:
        found, bookings = await self._sheet_data(request)
        if found is None:
            return self.missing(request)
        people = [b for b in bookings if b.status == "inscrit"]
        return self.console.render(
            request,
            "mediation/workshops_sheet.html",
            workshop=found,
            people=people,
            waiting=[b for b in bookings if b.status == "attente"],
            blank_rows=max(BLANK_SHEET_ROWS, min(found.seats - len(people), 10)),
            org_name=self.settings.values.get("ORG_NAME", ""),
        )

    async def sheet_csv(self, request: Request) -> Response:
        found, bookings = await self._sheet_data(request)
        if found is None:
            return self.missing(request)
        buffer = io.StringIO()
        sheet_csv(found, bookings, buffer)
        day = found.starts.astimezone(TZ).date().isoformat()
        name = f"emargement-atelier-{found.id}-{day}.csv"
        return Response(
            buffer.getvalue(),
            media_type=MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
