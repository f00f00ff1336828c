"""Workshops (ateliers) a mediator runs, and the bookings visitors make for them.

`WorkshopStore` owns `workshops.db` (or the `workshops` schema of `DATABASE_URL`): sessions,
bookings and their audit trail. A booking is one write transaction (`BEGIN IMMEDIATE` on
SQLite, the store's advisory lock on PostgreSQL), so two visitors can never take the same
last seat, however many processes or machines book at once. Names and contact details leave
the store only for the console; the public agenda and the iCalendar feed read sessions and
seat counts alone.
"""

from __future__ import annotations

import builtins
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.settings import Settings, get_settings
from bot.sqlite_store import Connect, Database, SQLiteStore, iso_utc, location, utcnow

# Sessions happen in France: a weekly session stays at 14 h local time across DST.
TZ = ZoneInfo("Europe/Paris")

SESSION_STATUSES: tuple[str, ...] = ("prevu", "annule")
BOOKING_STATUSES: tuple[str, ...] = ("inscrit", "attente", "annule")
LIVE_STATUSES: tuple[str, ...] = ("inscrit", "attente")
LEVELS: tuple[str, ...] = ("debutant", "intermediaire", "confirme", "tous")
LEVEL_LABELS: dict[str, str] = {
    "debutant": "débutant",
    "intermediaire": "intermédiaire",
    "confirme": "confirmé",
    "tous": "tous niveaux",
}
BOOKING_CHANNELS: tuple[str, ...] = ("kiosk", "widget", "desk", "phone", "other")
CONTACT_KINDS: tuple[str, ...] = ("phone", "email", "none")
# Why the mediator must tell someone: they left the waiting list, or the session is off.
NOTIFY_REASONS: tuple[str, ...] = ("promoted", "cancelled")
NOTIFY_LABELS: dict[str, str] = {
    "promoted": "a obtenu une place (liste d'attente)",
    "cancelled": "séance annulée",
}
BOOKING_STATUS_LABELS: dict[str, str] = {
    "inscrit": "inscrit",
    "attente": "liste d'attente",
    "annule": "annulé",
}

# Booking numbers: five consonants. No digits, because bot.privacy masks letter-and-digit
# tokens glued to « n° » as passwords (« inscription n°K7P3Q »), and digit runs after
# « code »; no vowels, so that no number spells a word; 20**5 = 3.2 million numbers.
NUMBER_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
NUMBER_LENGTH = 5
_NUMBER_TOKEN = re.compile(rf"^[{NUMBER_ALPHABET}]+$")

MAX_TITLE_CHARS = 120
MAX_DESCRIPTION_CHARS = 2000
MAX_PLACE_CHARS = 120
MAX_ADDRESS_CHARS = 200
MAX_FIRST_NAME_CHARS = 40
MAX_CONTACT_CHARS = 254
MAX_SEATS = 500
MIN_DURATION, MAX_DURATION = 15, 600
MAX_SERIES = 52
_GUIDE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,79}$")

# Fields a mediator sets on a session; `update` accepts exactly these.
EDITABLE: tuple[str, ...] = (
    "title",
    "description",
    "starts_at",
    "duration_minutes",
    "place",
    "address",
    "seats",
    "level",
    "guide_ids",
    "booking_required",
)

Clock = Callable[[], datetime]


# The stores share one clock and one way of writing times (bot.sqlite_store).
_utcnow = utcnow
_iso = iso_utc


def _like_escape(text: str) -> str:
    """`text` matched literally by `LIKE … ESCAPE '\\'`."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _aware(moment: datetime) -> datetime:
    """A console form gives a local wall time: a naive datetime is taken as Paris time."""
    return moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment


# --- records --------------------------------------------------------------------------------


@dataclass
class Workshop:
    """One session of a workshop. `booked` and `waiting` are counted when read."""

    id: int
    title: str
    description: str
    starts_at: str
    duration_minutes: int
    place: str
    address: str
    seats: int
    level: str
    guide_ids: list[str]
    booking_required: bool
    status: str
    series_id: str | None
    created_at: str
    updated_at: str
    created_by: str
    sequence: int = 0  # bumped by every change: the iCalendar SEQUENCE
    booked: int = 0
    waiting: int = 0

    @property
    def starts(self) -> datetime:
        return datetime.fromisoformat(self.starts_at)

    @property
    def ends_at(self) -> datetime:
        return self.starts + timedelta(minutes=self.duration_minutes)

    @property
    def seats_left(self) -> int:
        return max(self.seats - self.booked, 0)

    @property
    def cancelled(self) -> bool:
        return self.status == "annule"

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level, self.level)


@dataclass
class Booking:
    id: int
    number: str
    workshop_id: int
    first_name: str  # "" once erased or purged
    contact_kind: str
    contact_detail: str | None
    status: str
    channel: str
    sender_id: str | None
    created_at: str
    attended: bool | None
    notify_reason: str | None  # "promoted", "cancelled"; None once told or nothing to tell
    notified_at: str | None

    @property
    def erased(self) -> bool:
        return not self.first_name and self.contact_detail is None


@dataclass
class WorkshopStats:
    """One session held, for the activity report."""

    workshop_id: int
    title: str
    starts_at: str
    seats: int
    booked: int  # « inscrit » at the end
    attended: int
    no_shows: int  # booked and marked absent
    guide_ids: list[str] = field(default_factory=list)
    unmarked: int = 0  # booked, attendance not recorded
    waiting: int = 0
    level: str = "tous"


class WorkshopFull(Exception):
    """No seat left, and the caller did not want the waiting list."""


class WorkshopClosed(Exception):
    """The session is cancelled or has already started."""


class UnknownBooking(LookupError):
    """No live booking has that number."""


# --- French dates -----------------------------------------------------------------------------

DAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTH_NAMES = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def local(moment: datetime | str) -> datetime:
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return _aware(when).astimezone(TZ)


def day_label(moment: datetime | str) -> str:
    """« mardi 8 décembre », « lundi 1er mars », in Paris time."""
    when = local(moment)
    day = "1er" if when.day == 1 else str(when.day)
    return f"{DAY_NAMES[when.weekday()]} {day} {MONTH_NAMES[when.month - 1]}"


def hour_label(moment: datetime | str) -> str:
    """« 14 h », « 9 h 30 »."""
    when = local(moment)
    return f"{when.hour} h" if when.minute == 0 else f"{when.hour} h {when.minute:02d}"


def duration_label(minutes: int) -> str:
    """« 1 h 30 », « 2 h », « 45 min »."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


# --- booking numbers ------------------------------------------------------------------------


def new_number() -> str:
    return "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(NUMBER_LENGTH))


def normalise_number(text: str) -> str | None:
    """The booking number in a visitor's sentence (« annuler mon inscription kp rst »),
    upper case; None when there is none. A number typed whole wins over one typed in
    pieces; among pieces, the last run that makes five letters (a « n° » before it is
    one more consonant)."""
    if not text:
        return None
    tokens = re.findall(r"[^\W\d_]+|\d+", text.upper())
    whole = [t for t in tokens if len(t) == NUMBER_LENGTH and _NUMBER_TOKEN.match(t)]
    if whole:
        return whole[-1]
    best: tuple[int, int] | None = None  # (pieces, -start)
    found: str | None = None
    for start in range(len(tokens)):
        joined = ""
        for end in range(start, len(tokens)):
            piece = tokens[end]
            if not _NUMBER_TOKEN.match(piece) or len(piece) > 3:
                break
            joined += piece
            if len(joined) > NUMBER_LENGTH:
                break
            if len(joined) == NUMBER_LENGTH and end > start:
                rank = (end - start, -start)
                if best is None or rank < best:
                    best, found = rank, joined
                break
    return found


# --- validation ------------------------------------------------------------------------------


def _text(value: Any, *, required: str | None, longest: int, too_long: str) -> str:
    text = " ".join(str(value or "").split()) if value is not None else ""
    if required and not text:
        raise ValueError(required)
    if len(text) > longest:
        raise ValueError(too_long)
    return text


def _description(value: Any) -> str:
    # Paragraphs are kept; stray spaces are not.
    lines = [" ".join(line.split()) for line in str(value or "").replace("\r", "").split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise ValueError(f"La description doit faire au plus {MAX_DESCRIPTION_CHARS} caractères.")
    return text


def _integer(value: Any, message: str) -> int:
    if isinstance(value, bool):
        raise ValueError(message)
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ValueError(message) from None


def clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Check and tidy a session's fields; ValueError with a French sentence for the console."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValueError(f"Champ inconnu : {', '.join(sorted(unknown))}.")
    cleaned: dict[str, Any] = {}
    if "title" in fields:
        cleaned["title"] = _text(
            fields["title"],
            required="Le titre est obligatoire.",
            longest=MAX_TITLE_CHARS,
            too_long=f"Le titre doit faire au plus {MAX_TITLE_CHARS} caractères.",
        )
    if "description" in fields:
        cleaned["description"] = _description(fields["description"])
    if "starts_at" in fields:
        starts = fields["starts_at"]
        if not isinstance(starts, datetime):
            raise ValueError("La date et l'heure de début sont obligatoires.")
        cleaned["starts_at"] = _iso(_aware(starts))
    if "duration_minutes" in fields:
        minutes = _integer(fields["duration_minutes"], "La durée doit être un nombre de minutes.")
        if not MIN_DURATION <= minutes <= MAX_DURATION:
            raise ValueError("La durée doit être comprise entre 15 minutes et 10 heures.")
        cleaned["duration_minutes"] = minutes
    if "place" in fields:
        cleaned["place"] = _text(
            fields["place"],
            required="Le lieu est obligatoire.",
            longest=MAX_PLACE_CHARS,
            too_long=f"Le lieu doit faire au plus {MAX_PLACE_CHARS} caractères.",
        )
    if "address" in fields:
        cleaned["address"] = _text(
            fields["address"],
            required=None,
            longest=MAX_ADDRESS_CHARS,
            too_long=f"L'adresse doit faire au plus {MAX_ADDRESS_CHARS} caractères.",
        )
    if "seats" in fields:
        seats = _integer(fields["seats"], "Le nombre de places doit être un nombre entier.")
        if seats < 1:
            raise ValueError("Le nombre de places doit être au moins 1.")
        if seats > MAX_SEATS:
            raise ValueError(f"Le nombre de places doit être au plus {MAX_SEATS}.")
        cleaned["seats"] = seats
    if "level" in fields:
        if fields["level"] not in LEVELS:
            choices = ", ".join(LEVEL_LABELS.values())
            raise ValueError(f"Niveau inconnu. Choisissez parmi : {choices}.")
        cleaned["level"] = fields["level"]
    if "guide_ids" in fields:
        raw = fields["guide_ids"] or []
        ids = [raw] if isinstance(raw, str) else builtins.list(raw)
        guides = builtins.list(dict.fromkeys(str(g).strip() for g in ids if str(g).strip()))
        bad = [g for g in guides if not _GUIDE_ID.match(g)]
        if bad:
            raise ValueError(f"Identifiant de guide invalide : {bad[0]}.")
        cleaned["guide_ids"] = guides
    if "booking_required" in fields:
        cleaned["booking_required"] = bool(fields["booking_required"])
    return cleaned


def _check_actor(actor: str) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("actor must be a non-empty string")


# --- schema ---------------------------------------------------------------------------------


def _migration_1(db: Database) -> None:
    statements = (
        f"""CREATE TABLE workshops (
            id {db.pk},
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
            place TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            seats INTEGER NOT NULL CHECK (seats >= 1),
            level TEXT NOT NULL CHECK (level IN {LEVELS!r}),
            guide_ids TEXT NOT NULL DEFAULT '[]',
            booking_required INTEGER NOT NULL DEFAULT 1 CHECK (booking_required IN (0, 1)),
            status TEXT NOT NULL DEFAULT 'prevu' CHECK (status IN {SESSION_STATUSES!r}),
            series_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            cancelled_at TEXT,
            sequence INTEGER NOT NULL DEFAULT 0
        )""",
        f"""CREATE TABLE bookings (
            id {db.pk},
            number TEXT NOT NULL UNIQUE,
            workshop_id INTEGER NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
            first_name TEXT NOT NULL,
            contact_kind TEXT NOT NULL CHECK (contact_kind IN {CONTACT_KINDS!r}),
            contact_detail TEXT,
            status TEXT NOT NULL CHECK (status IN {BOOKING_STATUSES!r}),
            channel TEXT NOT NULL CHECK (channel IN {BOOKING_CHANNELS!r}),
            sender_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            attended INTEGER CHECK (attended IN (0, 1)),
            notify_reason TEXT CHECK (notify_reason IN {NOTIFY_REASONS!r}),
            notified_at TEXT
        )""",
        # The audit trail names mediators and actions, never a visitor's name or contact.
        f"""CREATE TABLE workshop_events (
            id {db.rowid_pk},
            workshop_id INTEGER NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
            booking_id INTEGER,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT
        )""",
        "CREATE INDEX idx_workshops_starts_at ON workshops(starts_at)",
        "CREATE INDEX idx_bookings_workshop ON bookings(workshop_id, status)",
        "CREATE INDEX idx_bookings_sender ON bookings(sender_id)",
        "CREATE INDEX idx_bookings_notify ON bookings(notify_reason)",
        "CREATE INDEX idx_workshop_events_workshop ON workshop_events(workshop_id)",
    )
    for sql in statements:
        db.execute(sql)


# Applied in order, on both engines; the base keeps the number already applied (`PRAGMA
# user_version` on SQLite, `schema_version` on PostgreSQL). A schema change is one more
# function appended here, never an edit of an applied one.
MIGRATIONS: tuple[Callable[[Database], None], ...] = (_migration_1,)

_COUNTS = (
    "(SELECT COUNT(*) FROM bookings b WHERE b.workshop_id = w.id AND b.status = 'inscrit')"
    " AS booked,"
    " (SELECT COUNT(*) FROM bookings b WHERE b.workshop_id = w.id AND b.status = 'attente')"
    " AS waiting"
)
_SELECT = f"SELECT w.*, {_COUNTS} FROM workshops w"
_BOOKING_FIELDS = (
    "id, number, workshop_id, first_name, contact_kind, contact_detail, status, channel,"
    " sender_id, created_at, attended, notify_reason, notified_at"
)


def _workshop(row: dict[str, Any]) -> Workshop:
    return Workshop(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        starts_at=row["starts_at"],
        duration_minutes=row["duration_minutes"],
        place=row["place"],
        address=row["address"],
        seats=row["seats"],
        level=row["level"],
        guide_ids=json.loads(row["guide_ids"] or "[]"),
        booking_required=bool(row["booking_required"]),
        status=row["status"],
        series_id=row["series_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        created_by=row["created_by"],
        sequence=row["sequence"],
        booked=row.get("booked") or 0,
        waiting=row.get("waiting") or 0,
    )


def _booking(row: dict[str, Any]) -> Booking:
    values = dict(row)
    values["attended"] = None if values["attended"] is None else bool(values["attended"])
    return Booking(**values)


# --- store ----------------------------------------------------------------------------------


class WorkshopStore(SQLiteStore):
    """The workshops database: schema, writes and reads. Safe to share between threads and
    between processes."""

    pg_schema = "workshops"

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Clock = _utcnow,
        connect: Connect | None = None,
        retry_budget: float | None = None,
    ) -> None:
        super().__init__(path, clock=clock, connect=connect, retry_budget=retry_budget)

    def migrations(self) -> Sequence[Callable[[Database], None]]:
        return MIGRATIONS

    @classmethod
    def open(cls, settings: Settings | None = None, *, clock: Clock = _utcnow) -> WorkshopStore:
        """The store of `settings.database_url` when set (PostgreSQL), else the file
        `settings.workshops_db`, creating its folder when missing."""
        settings = settings or get_settings()
        return cls(location(settings, settings.workshops_db), clock=clock)

    def _now(self) -> str:
        return _iso(self._clock())

    @staticmethod
    def _event(
        db: Database,
        workshop_id: int,
        action: str,
        *,
        actor: str,
        at: str,
        booking_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        db.execute(
            "INSERT INTO workshop_events (workshop_id, booking_id, at, actor, action, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [workshop_id, booking_id, at, actor, action, detail],
        )

    @staticmethod
    def _read_workshop(db: Database, workshop_id: int) -> Workshop:
        rows = builtins.list(db.query(f"{_SELECT} WHERE w.id = ?", [workshop_id]))
        if not rows:
            raise KeyError(workshop_id)
        return _workshop(rows[0])

    @staticmethod
    def _read_booking(db: Database, where: str, value: Any) -> Booking | None:
        rows = builtins.list(
            db.query(f"SELECT {_BOOKING_FIELDS} FROM bookings WHERE {where} = ?", [value])
        )
        return _booking(rows[0]) if rows else None

    # -- sessions

    def create(
        self,
        *,
        title: str,
        description: str,
        starts_at: datetime,
        duration_minutes: int,
        place: str,
        address: str,
        seats: int,
        level: str,
        guide_ids: Iterable[str],
        booking_required: bool = True,
        actor: str,
    ) -> Workshop:
        """A new session; ValueError (in French) when a field is wrong."""
        return self.create_series(
            count=1,
            title=title,
            description=description,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            place=place,
            address=address,
            seats=seats,
            level=level,
            guide_ids=guide_ids,
            booking_required=booking_required,
            actor=actor,
        )[0]

    def create_series(self, *, every_days: int = 7, count: int, **fields: Any) -> list[Workshop]:
        """`count` sessions `every_days` apart, at the same local wall time (14 h stays
        14 h across a change of summer time); one series id when more than one."""
        actor = fields.pop("actor", None)
        _check_actor(actor)
        count = _integer(count, "Le nombre de séances doit être un nombre entier.")
        every_days = _integer(every_days, "L'intervalle doit être un nombre de jours.")
        if not 1 <= count <= MAX_SERIES:
            raise ValueError(f"Le nombre de séances doit être compris entre 1 et {MAX_SERIES}.")
        if not 1 <= every_days <= 366:
            raise ValueError("L'intervalle doit être compris entre 1 et 366 jours.")
        missing = [name for name in EDITABLE if name not in fields and name != "booking_required"]
        if missing:
            raise ValueError(f"Champ manquant : {', '.join(missing)}.")
        fields.setdefault("booking_required", True)
        cleaned = clean_fields(fields)
        first = _aware(fields["starts_at"]).astimezone(TZ).replace(tzinfo=None)
        starts = [
            _iso((first + timedelta(days=k * every_days)).replace(tzinfo=TZ)) for k in range(count)
        ]
        series_id = uuid.uuid4().hex[:12] if count > 1 else None

        def write(db: Database) -> list[int]:
            now = self._now()
            ids = []
            for start in starts:
                record = {
                    **cleaned,
                    "starts_at": start,
                    "guide_ids": json.dumps(cleaned["guide_ids"]),
                    "booking_required": int(cleaned["booking_required"]),
                }
                record["ends_at"] = _iso(
                    datetime.fromisoformat(start) + timedelta(minutes=record["duration_minutes"])
                )
                record.update(series_id=series_id, created_at=now, updated_at=now, created_by=actor)
                workshop_id = db.insert("workshops", record)
                self._event(db, workshop_id, "created", actor=str(actor), at=now, detail=series_id)
                ids.append(workshop_id)
            return ids

        ids = self._transact(write)
        return [self._get_required(i) for i in ids]

    def update(self, workshop_id: int, *, actor: str, **fields: Any) -> Workshop:
        """Change a session's fields. More seats take people off the waiting list (to be
        told); fewer seats than people booked is refused."""
        _check_actor(actor)
        cleaned = clean_fields(fields)

        def write(db: Database) -> None:
            current = self._read_workshop(db, workshop_id)
            if current.cancelled:
                raise WorkshopClosed("Cette séance est annulée : elle ne peut plus être modifiée.")
            if cleaned.get("seats", current.seats) < current.booked:
                raise ValueError(
                    f"{current.booked} personnes sont déjà inscrites : le nombre de places "
                    "ne peut pas être plus petit. Annulez d'abord des inscriptions."
                )
            record = dict(cleaned)
            if "guide_ids" in record:
                record["guide_ids"] = json.dumps(record["guide_ids"])
            if "booking_required" in record:
                record["booking_required"] = int(record["booking_required"])
            starts = record.get("starts_at", current.starts_at)
            minutes = record.get("duration_minutes", current.duration_minutes)
            record["ends_at"] = _iso(datetime.fromisoformat(starts) + timedelta(minutes=minutes))
            now = self._now()
            record["updated_at"] = now
            sets = ", ".join(f"{name} = ?" for name in record)
            db.execute(
                f"UPDATE workshops SET {sets}, sequence = sequence + 1 WHERE id = ?",
                [*record.values(), workshop_id],
            )
            changed = ",".join(sorted(cleaned))
            self._event(db, workshop_id, "updated", actor=actor, at=now, detail=changed)
            self._promote(db, workshop_id, actor=actor, at=now)

        self._transact(write)
        return self._get_required(workshop_id)

    def duplicate(self, workshop_id: int, *, starts_at: datetime, actor: str) -> Workshop:
        """A new session like this one, on another date; not part of its series."""
        source = self._get_required(workshop_id)
        return self.create(
            title=source.title,
            description=source.description,
            starts_at=starts_at,
            duration_minutes=source.duration_minutes,
            place=source.place,
            address=source.address,
            seats=source.seats,
            level=source.level,
            guide_ids=source.guide_ids,
            booking_required=source.booking_required,
            actor=actor,
        )

    def cancel(self, workshop_id: int, *, actor: str) -> list[Booking]:
        """Cancel the session: everyone booked or waiting is to be told (returned). A
        session already cancelled gives an empty list."""
        _check_actor(actor)

        def write(db: Database) -> list[int]:
            current = self._read_workshop(db, workshop_id)
            if current.cancelled:
                return []
            now = self._now()
            db.execute(
                "UPDATE workshops SET status = 'annule', cancelled_at = ?, updated_at = ?,"
                " sequence = sequence + 1 WHERE id = ?",
                [now, now, workshop_id],
            )
            live = [
                row["id"]
                for row in db.query(
                    "SELECT id FROM bookings WHERE workshop_id = ? AND status IN (?, ?)"
                    " ORDER BY id",
                    [workshop_id, *LIVE_STATUSES],
                )
            ]
            # Someone whose name and contact were erased cannot be told.
            db.execute(
                "UPDATE bookings SET notify_reason = 'cancelled', notified_at = NULL,"
                " updated_at = ? WHERE workshop_id = ? AND status IN (?, ?)"
                " AND NOT (first_name = '' AND contact_detail IS NULL)",
                [now, workshop_id, *LIVE_STATUSES],
            )
            self._event(db, workshop_id, "cancelled", actor=actor, at=now, detail=str(len(live)))
            return live

        ids = self._transact(write)
        with self._read() as db:
            return [b for i in ids if (b := self._read_booking(db, "id", i)) is not None]

    # -- reads of sessions

    def _get_required(self, workshop_id: int) -> Workshop:
        found = self.get(workshop_id)
        if found is None:
            raise KeyError(workshop_id)
        return found

    def get(self, workshop_id: int) -> Workshop | None:
        with self._read() as db:
            try:
                return self._read_workshop(db, workshop_id)
            except KeyError:
                return None

    def upcoming(
        self,
        *,
        now: datetime | None = None,
        limit: int = 5,
        guide_ids: Iterable[str] | None = None,
    ) -> list[Workshop]:
        """Sessions still to start, not cancelled, soonest first; with `guide_ids`, only
        those that teach one of these guides."""
        args: list[Any] = [_iso(_aware(now or self._clock()))]
        where = "w.starts_at > ? AND w.status = 'prevu'"
        if guide_ids is not None:
            # An id that could not have been stored cannot match; the others are lower case,
            # so that SQLite's case-blind LIKE finds exactly what PostgreSQL's finds.
            wanted = [g for g in dict.fromkeys(guide_ids) if _GUIDE_ID.match(g)]
            if not wanted:
                return []
            # guide_ids is a JSON list: an id is found with its quotes around it. A LIKE
            # (not json_each, which PostgreSQL lacks) works the same on both engines.
            where += " AND (" + " OR ".join("w.guide_ids LIKE ? ESCAPE '\\'" for _ in wanted) + ")"
            args += [f'%"{_like_escape(g)}"%' for g in wanted]
        with self._read() as db:
            rows = db.query(
                f"{_SELECT} WHERE {where} ORDER BY w.starts_at, w.id LIMIT ?",
                [*args, max(int(limit), 0)],
            )
            return [_workshop(row) for row in rows]

    def between(
        self, since: datetime, until: datetime, *, include_cancelled: bool = True
    ) -> list[Workshop]:
        """Sessions starting in [since, until), soonest first."""
        where = "w.starts_at >= ? AND w.starts_at < ?"
        if not include_cancelled:
            where += " AND w.status = 'prevu'"
        with self._read() as db:
            rows = db.query(
                f"{_SELECT} WHERE {where} ORDER BY w.starts_at, w.id",
                [_iso(_aware(since)), _iso(_aware(until))],
            )
            return [_workshop(row) for row in rows]

    # -- bookings

    def book(
        self,
        workshop_id: int,
        *,
        first_name: str,
        contact_kind: str,
        contact_detail: str | None,
        channel: str,
        sender_id: str | None = None,
        waiting_list: bool = True,
        actor: str = "guichet",
    ) -> Booking:
        """A seat if one is left, else a place on the waiting list (or WorkshopFull when
        `waiting_list` is False). The count and the insert are one write transaction, which
        holds the store's write lock (SQLite's, or the PostgreSQL advisory lock) from the
        count on: over-booking is impossible, across processes and machines too. The same
        conversation booking the same session again gets its booking back."""
        _check_actor(actor)
        name = _text(
            first_name,
            required="Le prénom est obligatoire.",
            longest=MAX_FIRST_NAME_CHARS,
            too_long=f"Le prénom doit faire au plus {MAX_FIRST_NAME_CHARS} caractères.",
        )
        if contact_kind not in CONTACT_KINDS:
            raise ValueError("Choisissez le téléphone, l'e-mail ou aucun moyen de contact.")
        detail = " ".join(str(contact_detail or "").split()) or None
        if contact_kind == "none":
            detail = None
        elif not detail:
            raise ValueError(
                "Le numéro de téléphone est obligatoire."
                if contact_kind == "phone"
                else "L'adresse e-mail est obligatoire."
            )
        elif len(detail) > MAX_CONTACT_CHARS:
            raise ValueError("Ce moyen de contact est trop long.")
        if channel not in BOOKING_CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(BOOKING_CHANNELS)}")

        def write(db: Database) -> int:
            workshop = self._read_workshop(db, workshop_id)
            now = self._now()
            if workshop.cancelled:
                raise WorkshopClosed("Cette séance est annulée.")
            if workshop.starts_at <= now:
                raise WorkshopClosed("Cette séance a déjà commencé.")
            if sender_id:
                again = builtins.list(
                    db.query(
                        "SELECT id FROM bookings WHERE workshop_id = ? AND sender_id = ?"
                        " AND status IN (?, ?)",
                        [workshop_id, sender_id, *LIVE_STATUSES],
                    )
                )
                if again:
                    return int(again[0]["id"])
            if workshop.booked < workshop.seats:
                status = "inscrit"
            elif waiting_list:
                status = "attente"
            else:
                raise WorkshopFull("Cette séance est complète.")
            number = new_number()
            while self._read_booking(db, "number", number) is not None:
                number = new_number()
            booking_id = db.insert(
                "bookings",
                {
                    "number": number,
                    "workshop_id": workshop_id,
                    "first_name": name,
                    "contact_kind": contact_kind,
                    "contact_detail": detail,
                    "status": status,
                    "channel": channel,
                    "sender_id": sender_id,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            self._event(
                db, workshop_id, "booked", actor=actor, at=now, booking_id=booking_id,
                detail=f"{status},{channel}",
            )  # fmt: skip
            return booking_id

        booking_id = self._transact(write)
        with self._read() as db:
            found = self._read_booking(db, "id", booking_id)
        if found is None:  # pragma: no cover - just written
            raise UnknownBooking(booking_id)
        return found

    def _promote(self, db: Database, workshop_id: int, *, actor: str, at: str) -> list[int]:
        """Give free seats to the first people waiting; they are then to be told."""
        workshop = self._read_workshop(db, workshop_id)
        if workshop.cancelled or workshop.starts_at <= at:
            return []
        free = workshop.seats - workshop.booked
        if free <= 0:
            return []
        promoted = [
            int(row["id"])
            for row in db.query(
                "SELECT id FROM bookings WHERE workshop_id = ? AND status = 'attente'"
                " ORDER BY id LIMIT ?",
                [workshop_id, free],
            )
        ]
        for booking_id in promoted:
            db.execute(
                "UPDATE bookings SET status = 'inscrit', notified_at = NULL, updated_at = ?,"
                " notify_reason = CASE WHEN first_name = '' AND contact_detail IS NULL"
                " THEN NULL ELSE 'promoted' END WHERE id = ?",
                [at, booking_id],
            )
            self._event(db, workshop_id, "promoted", actor=actor, at=at, booking_id=booking_id)
        return promoted

    def cancel_booking(self, number: str, *, actor: str) -> Booking:
        """Cancel a booking by its number (as the visitor typed it). A freed seat goes to
        the first person waiting. UnknownBooking when no live booking has that number;
        WorkshopClosed once the session has started."""
        _check_actor(actor)
        wanted = normalise_number(number or "") or str(number or "").strip().upper()

        def write(db: Database) -> int:
            found = self._read_booking(db, "number", wanted)
            if found is None or found.status == "annule":
                raise UnknownBooking(wanted)
            workshop = self._read_workshop(db, found.workshop_id)
            now = self._now()
            if workshop.starts_at <= now:
                raise WorkshopClosed("Cette séance a déjà commencé.")
            db.execute(
                "UPDATE bookings SET status = 'annule', notify_reason = NULL, updated_at = ?"
                " WHERE id = ?",
                [now, found.id],
            )
            self._event(
                db, found.workshop_id, "booking_cancelled", actor=actor, at=now,
                booking_id=found.id, detail=found.status,
            )  # fmt: skip
            if found.status == "inscrit":
                self._promote(db, found.workshop_id, actor=actor, at=now)
            return found.id

        booking_id = self._transact(write)
        with self._read() as db:
            cancelled = self._read_booking(db, "id", booking_id)
        if cancelled is None:  # pragma: no cover - just written
            raise UnknownBooking(wanted)
        return cancelled

    def booking(self, number: str) -> Booking | None:
        wanted = normalise_number(number or "") or str(number or "").strip().upper()
        with self._read() as db:
            return self._read_booking(db, "number", wanted)

    def bookings(self, workshop_id: int) -> list[Booking]:
        """Every booking of the session, every status, in booking order."""
        with self._read() as db:
            rows = db.query(
                f"SELECT {_BOOKING_FIELDS} FROM bookings WHERE workshop_id = ? ORDER BY id",
                [workshop_id],
            )
            return [_booking(row) for row in rows]

    def mark_attendance(self, booking_id: int, attended: bool | None, *, actor: str) -> None:
        """Came (True), did not come (False), not recorded (None)."""
        _check_actor(actor)

        def write(db: Database) -> None:
            found = self._read_booking(db, "id", booking_id)
            if found is None:
                raise UnknownBooking(booking_id)
            now = self._now()
            value = None if attended is None else int(bool(attended))
            db.execute(
                "UPDATE bookings SET attended = ?, updated_at = ? WHERE id = ?",
                [value, now, booking_id],
            )
            self._event(
                db, found.workshop_id, "attendance", actor=actor, at=now,
                booking_id=booking_id, detail=str(value),
            )  # fmt: skip

        self._transact(write)

    def to_notify(self) -> list[tuple[Booking, Workshop]]:
        """The people the mediator must call or write to, soonest session first."""
        with self._read() as db:
            rows = builtins.list(
                db.query(
                    f"SELECT {_BOOKING_FIELDS} FROM bookings WHERE notify_reason IS NOT NULL"
                    " ORDER BY id"
                )
            )
            found = [_booking(row) for row in rows]
            sessions = {b.workshop_id: self._read_workshop(db, b.workshop_id) for b in found}
        pairs = [(b, sessions[b.workshop_id]) for b in found]
        pairs.sort(key=lambda pair: (pair[1].starts_at, pair[1].id, pair[0].id))
        return pairs

    def mark_notified(self, booking_id: int, *, actor: str) -> None:
        _check_actor(actor)

        def write(db: Database) -> None:
            found = self._read_booking(db, "id", booking_id)
            if found is None:
                raise UnknownBooking(booking_id)
            now = self._now()
            db.execute(
                "UPDATE bookings SET notify_reason = NULL, notified_at = ?, updated_at = ?"
                " WHERE id = ?",
                [now, now, booking_id],
            )
            self._event(
                db, found.workshop_id, "notified", actor=actor, at=now,
                booking_id=booking_id, detail=found.notify_reason,
            )  # fmt: skip

        self._transact(write)

    # -- erase and retention

    _ANONYMOUS = (
        "first_name = '', contact_kind = 'none', contact_detail = NULL, sender_id = NULL,"
        " notify_reason = NULL"
    )

    def erase_sender(self, sender_id: str) -> int:
        """The visitor's « effacer »: their bookings lose name, contact and conversation
        link; a live one stays as an anonymous seat until the session."""
        if not sender_id:
            return 0

        def write(db: Database) -> int:
            cursor = db.execute(
                f"UPDATE bookings SET {self._ANONYMOUS}, updated_at = ? WHERE sender_id = ?",
                [self._now(), sender_id],
            )
            return int(cursor.rowcount)

        erased = self._transact(write)
        if erased:
            self._checkpoint()
        return erased

    def purge(self, *, now: datetime | None = None, retention_days: int) -> int:
        """Forget the names and contacts of bookings whose session ended (or was cancelled)
        more than `retention_days` ago. The anonymous rows stay for the activity report."""
        if retention_days < 0:
            raise ValueError("retention_days cannot be negative")
        cutoff = _iso(_aware(now or self._clock()) - timedelta(days=retention_days))

        def write(db: Database) -> int:
            cursor = db.execute(
                f"UPDATE bookings SET {self._ANONYMOUS} WHERE workshop_id IN ("
                "  SELECT id FROM workshops WHERE ends_at < ? OR cancelled_at < ?"
                ") AND (first_name != '' OR contact_detail IS NOT NULL OR sender_id IS NOT NULL)",
                [cutoff, cutoff],
            )
            return int(cursor.rowcount)

        purged = self._transact(write)
        if purged:
            self._checkpoint()
        return purged

    # -- report

    def stats(self, since: datetime, until: datetime) -> list[WorkshopStats]:
        """Sessions held (not cancelled, started) in [since, until), for the report."""
        now = self._now()
        end = min(_iso(_aware(until)), now)
        result = []
        with self._read() as db:
            rows = db.query(
                "SELECT w.id, w.title, w.starts_at, w.seats, w.level, w.guide_ids,"
                " SUM(CASE WHEN b.status = 'inscrit' THEN 1 ELSE 0 END) AS booked,"
                " SUM(CASE WHEN b.status = 'attente' THEN 1 ELSE 0 END) AS waiting,"
                " SUM(CASE WHEN b.status = 'inscrit' AND b.attended = 1 THEN 1 ELSE 0 END)"
                " AS attended,"
                " SUM(CASE WHEN b.status = 'inscrit' AND b.attended = 0 THEN 1 ELSE 0 END)"
                " AS no_shows,"
                " SUM(CASE WHEN b.status = 'inscrit' AND b.attended IS NULL THEN 1 ELSE 0 END)"
                " AS unmarked"
                " FROM workshops w LEFT JOIN bookings b ON b.workshop_id = w.id"
                " WHERE w.status = 'prevu' AND w.starts_at >= ? AND w.starts_at < ?"
                " GROUP BY w.id, w.title, w.starts_at, w.seats, w.level, w.guide_ids"
                " ORDER BY w.starts_at, w.id",
                [_iso(_aware(since)), end],
            )
            for row in rows:
                result.append(
                    WorkshopStats(
                        workshop_id=row["id"],
                        title=row["title"],
                        starts_at=row["starts_at"],
                        seats=row["seats"],
                        booked=row["booked"] or 0,
                        attended=row["attended"] or 0,
                        no_shows=row["no_shows"] or 0,
                        guide_ids=json.loads(row["guide_ids"] or "[]"),
                        unmarked=row["unmarked"] or 0,
                        waiting=row["waiting"] or 0,
                        level=row["level"],
                    )
                )
        return result
