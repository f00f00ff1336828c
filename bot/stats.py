"""Activity report for the mediators' management: what the bot did over a period of days.

Figures come from two places: the anonymous activity log (`bot.activity`: conversations,
visitor messages, fallbacks, guides walked, satisfaction, hours), whatever engine holds the
conversations themselves, and the tickets database (hand-offs). Days are
local days in the time zone given to `build_report`. The module renders the report as CSV
and as accessible inline SVG charts; it reads nothing and opens nothing when imported.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import textwrap
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from html import escape
from typing import Any, Protocol, TextIO

from bot.activity import ActivityRow, conversation_key
from bot.guides import COOP_CATEGORIES
from bot.spreadsheet import FrenchCsv
from bot.tickets import CHANNELS, REASONS, Ticket, TicketStore
from bot.transcript import REASON_LABELS

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366
FEEDBACK_SLOT = "guide_feedback"
FEEDBACK_VALUES: tuple[str, ...] = ("yes", "no")
# The slot that holds the guide being walked; it goes back to None when a visitor stops.
GUIDE_SLOT = "guide_id"
TICKET_PAGE = 500

CHANNEL_LABELS = {"kiosk": "borne", "widget": "site web", "other": "autre"}
FEEDBACK_LABELS = {"yes": "oui", "no": "non"}
RESOLVED = "resolu"
# The report's row for what has no La Coop category: a ticket without a guide (a démarche
# the catalogue does not cover), or a guide id no longer in the catalogue.
UNCLASSIFIED = ""
UNCLASSIFIED_LABEL = "Sans thématique (aucun guide)"
UNNAMED_KIOSK_LABEL = "borne sans nom"

# Chart colours, all at least 4.5:1 against white.
BAR_COLOUR = "#1f4e79"
TEXT_COLOUR = "#1a1a1a"
AXIS_COLOUR = "#595959"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"


# --- report ---------------------------------------------------------------------------------


@dataclass
class GuideStats:
    guide_id: str
    started: int = 0
    finished: int = 0

    @property
    def completion_rate(self) -> float | None:
        """Finished / started, at most 1 (a guide finished in the period may have been started
        before it); None when no guide was started."""
        if self.started == 0:
            return None
        return min(1.0, self.finished / self.started)


def _zeros(keys: tuple[str, ...]) -> dict[str, int]:
    return dict.fromkeys(keys, 0)


@dataclass
class Resolution:
    """Tickets created in the period, how many are resolved now, and how long each took:
    from its creation to the status event that made it « résolu » (its last one, should it
    have been reopened)."""

    created: int = 0
    resolved: int = 0
    delays: list[float] = field(default_factory=list)  # seconds, one per resolved ticket

    @property
    def median(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.delays) if self.delays else None

    @property
    def rate(self) -> float | None:
        return self.resolved / self.created if self.created else None

    def add(self, delay: float | None, resolved: bool) -> None:
        self.created += 1
        if resolved:
            self.resolved += 1
            if delay is not None:
                self.delays.append(delay)


@dataclass
class CategoryStats:
    """Every figure of one La Coop category."""

    started: int = 0
    finished: int = 0
    finished_alone: int = 0
    finished_with_mediator: int = 0
    satisfaction: dict[str, int] = field(default_factory=lambda: _zeros(FEEDBACK_VALUES))
    tickets: Resolution = field(default_factory=Resolution)


def _categories() -> dict[str, CategoryStats]:
    return {key: CategoryStats() for key in (*COOP_CATEGORIES, UNCLASSIFIED)}


class HeldWorkshop(Protocol):
    """One session held, as `WorkshopStore.stats` gives it (bot.workshops.WorkshopStats)."""

    seats: int
    booked: int
    attended: int
    no_shows: int
    guide_ids: list[str]


@dataclass
class WorkshopFigures:
    """Workshop sessions held (not cancelled, already started) and their attendance.

    In La Coop's terms each session is one « accompagnement collectif »; its participants
    are the people marked present."""

    sessions: int = 0
    seats: int = 0
    booked: int = 0
    attended: int = 0
    no_shows: int = 0
    unmarked: int = 0  # booked, present or absent not noted

    @property
    def attendance_rate(self) -> float | None:
        """People who came / people booked; None when nobody was booked."""
        return self.attended / self.booked if self.booked else None

    def add(self, held: HeldWorkshop) -> None:
        self.sessions += 1
        self.seats += held.seats
        self.booked += held.booked
        self.attended += held.attended
        self.no_shows += held.no_shows
        self.unmarked += max(0, held.booked - held.attended - held.no_shows)


def _workshop_categories() -> dict[str, WorkshopFigures]:
    return {key: WorkshopFigures() for key in (*COOP_CATEGORIES, UNCLASSIFIED)}


@dataclass
class Report:
    since: date
    until: date
    conversations: int = 0
    visitor_messages: int = 0
    fallbacks: int = 0
    fallback_rate: float | None = None
    guides: list[GuideStats] = field(default_factory=list)
    handoffs_by_reason: dict[str, int] = field(default_factory=lambda: _zeros(REASONS))
    tickets_by_channel: dict[str, int] = field(default_factory=lambda: _zeros(CHANNELS))
    satisfaction: dict[str, int] = field(default_factory=lambda: _zeros(FEEDBACK_VALUES))
    busiest_hours: list[int] = field(default_factory=lambda: [0] * 24)
    channels: dict[str, int] = field(default_factory=lambda: _zeros(CHANNELS))
    # Guides finished in a conversation that also made a ticket in the period, by guide.
    finished_with_mediator: dict[str, int] = field(default_factory=dict)
    resolution: Resolution = field(default_factory=Resolution)
    resolution_by_channel: dict[str, Resolution] = field(
        default_factory=lambda: {c: Resolution() for c in CHANNELS}
    )
    # Kiosk tickets by the kiosk's name; "" for a kiosk that gave none.
    resolution_by_kiosk: dict[str, Resolution] = field(default_factory=dict)
    tickets_by_status: dict[str, int] = field(default_factory=dict)
    categories: dict[str, CategoryStats] = field(default_factory=_categories)
    # Workshops held in the period: all, and by the La Coop category of the guides taught.
    workshops: WorkshopFigures = field(default_factory=WorkshopFigures)
    workshops_by_category: dict[str, WorkshopFigures] = field(default_factory=_workshop_categories)

    @property
    def finished_alone(self) -> int:
        return sum(g.finished for g in self.guides) - self.finished_with(None)

    def finished_with(self, guide_id: str | None) -> int:
        """Guides (one, or all with None) finished in a conversation that has a ticket."""
        if guide_id is None:
            return sum(self.finished_with_mediator.values())
        return self.finished_with_mediator.get(guide_id, 0)

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def handoffs(self) -> int:
        return sum(self.handoffs_by_reason.values())


def _bounds(since: date, until: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The period as [start, end) instants: local midnight of `since` to the one after
    `until`."""
    start = datetime.combine(since, time(), tzinfo=tz)
    end = datetime.combine(until + timedelta(days=1), time(), tzinfo=tz)
    return start, end


def period_bounds(since: date, until: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The report's period as [start, end) instants, for the other stores (workshops)."""
    return _bounds(since, until, tz)


def _channel(value: Any) -> str:
    # The front end sends the channel; anything unexpected is counted as "other".
    return value if isinstance(value, str) and value in CHANNELS else "other"


class _Walks:
    """Counts guide starts and completions from the route markers of the bot's messages.

    A visitor who goes back to step 1, asks to repeat it or says "je bloque" on it gets the
    step-1 marker again: that is not a new start. So a step-1 marker counts only when the
    visitor was not already inside that guide, and a completion only once in a row.
    """

    def __init__(self) -> None:
        self.started: Counter[str] = Counter()
        self.finished: Counter[str] = Counter()
        self._inside: dict[str, str | None] = {}
        self._done: dict[str, str | None] = {}
        self.completions: list[tuple[str, str]] = []  # (sender, guide), one per completion
        self.last_finished: dict[str, str] = {}  # what the next satisfaction answer is about

    def marker(self, sender: str, guide: str, step: Any, completed: bool) -> None:
        if completed:
            if self._done.get(sender) != guide:
                self.finished[guide] += 1
                self.completions.append((sender, guide))
                self.last_finished[sender] = guide
            self._done[sender] = guide
            self._inside[sender] = None
            return
        if step == 1 and self._inside.get(sender) != guide:
            self.started[guide] += 1
        self._inside[sender] = guide
        self._done[sender] = None

    def left(self, sender: str) -> None:
        """The visitor stopped or rated the guide: the next step-1 marker is a new start."""
        self._inside[sender] = None
        self._done[sender] = None

    def stats(self) -> list[GuideStats]:
        guides = [
            GuideStats(guide, self.started[guide], self.finished[guide])
            for guide in set(self.started) | set(self.finished)
        ]
        return sorted(guides, key=lambda g: (-g.started, g.guide_id))


class ActivityLog(Protocol):
    """Where the report reads the turns: `bot.activity.ActivityStore`."""

    def read(self, start: datetime, end: datetime) -> list[ActivityRow]: ...


def _read_activity(
    report: Report,
    activity: ActivityLog | None,
    start: datetime,
    end: datetime,
    tz: tzinfo,
    category_of: Mapping[str, str],
    ticket_senders: set[str],
) -> None:
    """Fill the conversation figures of `report` with the activity rows of [start, end)."""
    rows = activity.read(start, end) if activity is not None else []
    # The log names conversations by a hash: the tickets' senders are compared through it.
    ticket_conversations = {conversation_key(sender) for sender in ticket_senders}
    channel_of: dict[str, str] = {}  # sender -> channel of its first message in the period
    walks = _Walks()
    for row in rows:
        sender, data = row.conversation, row.data
        if row.kind == "user":
            report.visitor_messages += 1
            report.busiest_hours[datetime.fromtimestamp(row.at, tz).hour] += 1
            if sender not in channel_of:
                channel_of[sender] = _channel(data.get("channel"))
        elif row.kind == "bot":
            custom = data
            if "fallback" in custom:
                report.fallbacks += 1
            guide = custom.get("guide")
            if isinstance(guide, str) and guide:
                walks.marker(sender, guide, custom.get("step"), custom.get("completed") is True)
        else:
            name, value = data.get("name"), data.get("value")
            if name == FEEDBACK_SLOT and value in FEEDBACK_VALUES:
                report.satisfaction[value] += 1
                rated = walks.last_finished.get(sender)
                category = _category(rated, category_of)
                report.categories[category].satisfaction[value] += 1
            elif name == GUIDE_SLOT and value is None:
                walks.left(sender)

    report.conversations = len(channel_of)
    for channel in channel_of.values():
        report.channels[channel] += 1
    report.guides = walks.stats()
    if report.visitor_messages:
        report.fallback_rate = report.fallbacks / report.visitor_messages
    for guide in report.guides:
        report.categories[_category(guide.guide_id, category_of)].started += guide.started
    for sender, guide_id in walks.completions:
        stats = report.categories[_category(guide_id, category_of)]
        stats.finished += 1
        if sender in ticket_conversations:
            report.finished_with_mediator[guide_id] = (
                report.finished_with_mediator.get(guide_id, 0) + 1
            )
            stats.finished_with_mediator += 1
        else:
            stats.finished_alone += 1


def _category(guide_id: str | None, category_of: Mapping[str, str]) -> str:
    found = category_of.get(guide_id or "", UNCLASSIFIED)
    return found if found in COOP_CATEGORIES else UNCLASSIFIED


def _resolved_after(ticket: Ticket) -> float | None:
    """Seconds from the ticket's creation to the event that made it « résolu »; None when
    the audit trail has no such event."""
    moments = [e.at for e in ticket.events if e.action == "status" and e.to_status == RESOLVED]
    if not moments:
        return None
    delay = datetime.fromisoformat(moments[-1]) - datetime.fromisoformat(ticket.created_at)
    return max(delay.total_seconds(), 0.0)


def _read_tickets(
    report: Report,
    store: TicketStore,
    start: datetime,
    end: datetime,
    category_of: Mapping[str, str],
) -> set[str]:
    """Fill the ticket figures of `report`; return the conversations that made a ticket."""
    # The store filters on UTC days: ask one day more on each side, then keep the tickets
    # whose local creation time falls in the period.
    since, until = report.since - timedelta(days=1), report.until + timedelta(days=1)
    senders: set[str] = set()
    seen = 0
    while page := store.list(since=since, until=until, limit=TICKET_PAGE, offset=seen):
        seen += len(page)
        for listed in page:
            if not start <= datetime.fromisoformat(listed.created_at) < end:
                continue
            # `list` leaves the audit trail out; `get` reads it. A ticket purged in between
            # is still counted, without its delay.
            ticket = store.get(listed.id) or listed
            senders.add(ticket.sender_id)
            report.handoffs_by_reason[ticket.reason] = (
                report.handoffs_by_reason.get(ticket.reason, 0) + 1
            )
            channel = _channel(ticket.channel)
            report.tickets_by_channel[channel] += 1
            # Statuses this module does not know (a newer workflow) are counted as they are.
            report.tickets_by_status[ticket.status] = (
                report.tickets_by_status.get(ticket.status, 0) + 1
            )
            resolved = ticket.status == RESOLVED
            delay = _resolved_after(ticket) if resolved else None
            report.resolution.add(delay, resolved)
            report.resolution_by_channel[channel].add(delay, resolved)
            if channel == "kiosk":
                kiosk = getattr(ticket, "kiosk", None) or ""
                report.resolution_by_kiosk.setdefault(kiosk, Resolution()).add(delay, resolved)
            category = _category(ticket.guide_id, category_of)
            report.categories[category].tickets.add(delay, resolved)
        if len(page) < TICKET_PAGE:
            break
    return senders


def build_report(
    activity: ActivityLog | None,
    store: TicketStore,
    since: date,
    until: date,
    tz: tzinfo,
    categories: Mapping[str, str] | None = None,
    workshops: Iterable[HeldWorkshop] | None = None,
) -> Report:
    """The activity of the local days `since` to `until`, both included.

    `categories` maps guide ids to their La Coop category (`Guide.coop_category`); a guide
    missing there, and a ticket without a guide, count as « sans thématique ».
    No activity log (None) gives zero conversations; the hand-offs are still counted from
    the tickets."""
    if since > until:
        raise ValueError(f"since ({since}) is after until ({until})")
    report = Report(since, until)
    category_of = categories or {}
    start, end = _bounds(since, until, tz)
    senders = _read_tickets(report, store, start, end, category_of)
    _read_activity(report, activity, start, end, tz, category_of, senders)
    add_workshops(report, workshops or (), category_of)
    return report


def add_workshops(
    report: Report, held: Iterable[HeldWorkshop], categories: Mapping[str, str]
) -> None:
    """Count the sessions `held` (already limited to the period by the caller). A session
    counts once in each La Coop category of the guides it teaches (so the categories may add
    up to more than the total); one teaching no known guide is « sans thématique »."""
    for session in held:
        report.workshops.add(session)
        found = {categories[g] for g in session.guide_ids if categories.get(g) in COOP_CATEGORIES}
        for key in sorted(found) or [UNCLASSIFIED]:
            report.workshops_by_category[key].add(session)


def category_labels() -> list[tuple[str, str]]:
    """(id, label) of the report's category rows: La Coop's ten, then « sans thématique »."""
    return [*COOP_CATEGORIES.items(), (UNCLASSIFIED, UNCLASSIFIED_LABEL)]


def kiosk_label(name: str) -> str:
    return name or UNNAMED_KIOSK_LABEL


# --- period ---------------------------------------------------------------------------------


# Dates outside these bounds are refused: no ticket is that old, and a day next to
# date.max would overflow the "day after" arithmetic of a period.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2999, 12, 31)


def check_day(value: str) -> date:
    """The day 'YYYY-MM-DD' in `value`, between FIRST_DAY and LAST_DAY; ValueError (with
    a French message) otherwise."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("utilisez le format AAAA-MM-JJ, par exemple 2024-03-31.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(
            f"choisissez une date entre le {FIRST_DAY:%d/%m/%Y} et le {LAST_DAY:%d/%m/%Y}."
        )
    return day


def _parse_day(value: str, what: str) -> date:
    try:
        return check_day(value)
    except ValueError as exc:
        reason = str(exc)
        raise ValueError(
            f"Date {what} invalide : « {value} ». {reason[:1].upper()}{reason[1:]}"
        ) from None


def parse_period(since: str | None, until: str | None, today: date) -> tuple[date, date]:
    """The period asked as 'YYYY-MM-DD' strings; by default the last 30 days up to `today`.

    Errors are in French, to show as they are."""
    end = _parse_day(until, "de fin") if until and until.strip() else None
    start = _parse_day(since, "de début") if since and since.strip() else None
    if end is None:
        end = today
    if start is None:
        start = end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end:
        raise ValueError(
            f"La date de début ({start:%d/%m/%Y}) est après la date de fin ({end:%d/%m/%Y})."
        )
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise ValueError(f"La période ne peut pas dépasser {MAX_PERIOD_DAYS} jours.")
    return start, end


# --- CSV ------------------------------------------------------------------------------------


def format_rate(rate: float | None) -> str:
    """A rate as a French percentage ('12,5 %'); '' when there is none."""
    if rate is None:
        return ""
    return f"{rate * 100:.1f}".replace(".", ",") + " %"


def format_delay(seconds: float | None) -> str:
    """A delay as a mediator says it: « 45 min », « 3 h 05 », « 2 j 4 h »; '' for None."""
    if seconds is None:
        return ""
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d}"
    days, hours = divmod(hours, 24)
    return f"{days} j {hours} h"


def _hours(seconds: float | None) -> float | None:
    # Spreadsheets sum and average hours better than « 3 h 05 ».
    return None if seconds is None else round(seconds / 3600, 2)


def _resolution_cells(resolution: Resolution) -> tuple[Any, ...]:
    return (
        resolution.created,
        resolution.resolved,
        _hours(resolution.median),
        _hours(resolution.mean),
    )


RESOLUTION_HEADERS = (
    "tickets",
    "tickets résolus",
    "délai médian de résolution (heures)",
    "délai moyen de résolution (heures)",
)


WORKSHOP_HEADERS = (
    "accompagnements collectifs (ateliers tenus)",
    "places offertes",
    "inscriptions",
    "personnes venues",
    "absents",
    "taux de présence",
)


def _workshop_cells(figures: WorkshopFigures) -> tuple[Any, ...]:
    return (
        figures.sessions,
        figures.seats,
        figures.booked,
        figures.attended,
        figures.no_shows,
        format_rate(figures.attendance_rate),
    )


def report_csv(report: Report, file: TextIO, titles: Mapping[str, str] | None = None) -> None:
    """The report as CSV for a French spreadsheet (`;`, BOM, French headers, local dates):
    sections each with their header line, separated by an empty line; the workshops
    (overall, then by La Coop category) come last. `titles` names the
    guides (by id) in the guides section."""
    out = FrenchCsv(file)
    titles = titles or {}

    def section(header: tuple[str, ...], rows: list[tuple[Any, ...]], *, last: bool = False):
        out.row(header)
        out.rows(rows)
        if not last:
            out.blank()

    total = report.resolution
    section(
        ("indicateur", "valeur"),
        [
            ("début de la période", report.since),
            ("fin de la période", report.until),
            ("conversations", report.conversations),
            ("messages des visiteurs", report.visitor_messages),
            ("messages non compris ou hors sujet", report.fallbacks),
            ("taux de messages non compris", format_rate(report.fallback_rate)),
            ("guides démarrés", sum(g.started for g in report.guides)),
            ("guides terminés", sum(g.finished for g in report.guides)),
            ("guides terminés en autonomie", report.finished_alone),
            ("guides terminés avec un médiateur", report.finished_with(None)),
            ("guide utile : oui", report.satisfaction.get("yes", 0)),
            ("guide utile : non", report.satisfaction.get("no", 0)),
            ("transmissions à un médiateur", report.handoffs),
            ("tickets résolus", total.resolved),
            ("délai médian de résolution (heures)", _hours(total.median)),
            ("délai moyen de résolution (heures)", _hours(total.mean)),
        ],
    )
    section(
        (
            "thématique (La Coop)",
            "guides démarrés",
            "guides terminés",
            "terminés en autonomie",
            "terminés avec un médiateur",
            "guide utile : oui",
            "guide utile : non",
            *RESOLUTION_HEADERS,
        ),
        [
            (
                label,
                c.started,
                c.finished,
                c.finished_alone,
                c.finished_with_mediator,
                c.satisfaction.get("yes", 0),
                c.satisfaction.get("no", 0),
                *_resolution_cells(c.tickets),
            )
            for key, label in category_labels()
            for c in (report.categories[key],)
        ],
    )
    section(
        (
            "guide",
            "démarrés",
            "terminés",
            "terminés en autonomie",
            "terminés avec un médiateur",
            "taux",
        ),
        [
            (
                titles.get(g.guide_id, g.guide_id),
                g.started,
                g.finished,
                g.finished - report.finished_with(g.guide_id),
                report.finished_with(g.guide_id),
                format_rate(g.completion_rate),
            )
            for g in report.guides
        ],
    )
    section(
        ("motif de transmission", "nombre"),
        [
            (REASON_LABELS.get(reason, reason), count)
            for reason, count in report.handoffs_by_reason.items()
        ],
    )
    section(
        ("canal", "conversations", *RESOLUTION_HEADERS),
        [
            (
                CHANNEL_LABELS.get(channel, channel),
                report.channels.get(channel, 0),
                *_resolution_cells(report.resolution_by_channel[channel]),
            )
            for channel in CHANNELS
        ],
    )
    section(
        ("borne", *RESOLUTION_HEADERS),
        [
            (kiosk_label(name), *_resolution_cells(resolution))
            for name, resolution in sorted(report.resolution_by_kiosk.items())
        ],
    )
    section(
        ("heure", "messages des visiteurs"),
        [(f"{hour:02d} h", count) for hour, count in enumerate(report.busiest_hours)],
    )
    held = report.workshops
    section(
        ("ateliers (accompagnements collectifs)", "valeur"),
        [
            ("ateliers tenus", held.sessions),
            ("places offertes", held.seats),
            ("inscriptions", held.booked),
            ("personnes venues", held.attended),
            ("absents", held.no_shows),
            ("présence non notée", held.unmarked),
            ("taux de présence", format_rate(held.attendance_rate)),
        ],
    )
    section(
        ("thématique (La Coop)", *WORKSHOP_HEADERS),
        [
            (label, *_workshop_cells(report.workshops_by_category[key]))
            for key, label in category_labels()
        ],
        last=True,
    )


# --- SVG ------------------------------------------------------------------------------------


def _number(value: float) -> str:
    """A value as the chart prints it: whole numbers as they are, others with a French comma."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}".replace(".", ",")


def _length(value: float, top: float, room: float) -> float:
    if top <= 0 or not math.isfinite(value) or value <= 0:
        return 0.0
    return room * min(value, top) / top


# Chart text is never smaller than this (px in the SVG's own units; the page never scales a
# chart down, see sheet.css) and labels are never cut: a long one wraps over lines.
FONT_SIZE = 14
LINE_HEIGHT = 18
# A generous width per character at FONT_SIZE (DejaVu Sans, the widest common fallback, runs
# about 0.6 em on average), so that a wrapped line always fits its column.
CHAR_WIDTH = 0.66 * FONT_SIZE


def wrap_label(label: str, width: float) -> list[str]:
    """`label` over as many lines as it takes to fit `width` px; words longer than a line
    are split, nothing is dropped."""
    chars = max(int(width // CHAR_WIDTH), 4)
    lines = textwrap.wrap(label, chars, break_long_words=True, break_on_hyphens=False)
    return lines or [""]


def _open_svg(
    kind: str, width: int, height: int, title: str, description: str, *content: Any
) -> list[str]:
    # No style attribute: the web app's Content-Security-Policy (style-src 'self') would block
    # it; the page's stylesheet sizes the chart. The ids tie aria-labelledby to this chart's
    # <title> and <desc>; derived from the content, so that one page can hold several charts
    # and the output stays reproducible.
    digest = hashlib.sha1(repr((kind, title, description, content)).encode()).hexdigest()[:10]
    base = f"{kind}-{digest}"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img"'
        f' aria-labelledby="{base}-title {base}-desc"'
        f' font-family="{escape(FONT)}" font-size="{FONT_SIZE}">',
        f'<title id="{base}-title">{escape(title)}</title>',
        f'<desc id="{base}-desc">{escape(description)}</desc>',
    ]


def _no_data(x: float, y: float) -> str:
    return (
        f'<text x="{x:g}" y="{y:g}" text-anchor="middle"'
        f' dominant-baseline="middle" fill="{TEXT_COLOUR}">Aucune donnée</text>'
    )


def svg_bar_chart(
    labels: list[str],
    values: list[int | float],
    *,
    title: str,
    description: str,
    width: int = 720,
    bar_height: int = 28,
    label_width: int = 300,
) -> str:
    """Horizontal bars, one per label, with the value at the end of each bar. Labels sit in
    a column of `label_width` px, wrapped over lines when longer."""
    if len(labels) != len(values):
        raise ValueError("labels and values must have the same length")
    if not labels:
        height = 60
        parts = _open_svg("bars", width, height, title, description)
        parts += [_no_data(width / 2, height / 2), "</svg>"]
        return "\n".join(parts)

    pad, gap, space = 8, 10, 8
    value_width = 64
    room = max(width - label_width - value_width - 2 * pad - space, 1)
    wrapped = [wrap_label(label, label_width - space) for label in labels]
    rows = [max(bar_height, len(lines) * LINE_HEIGHT) for lines in wrapped]
    height = 2 * pad + sum(rows) + gap * (len(rows) - 1)
    top = max((v for v in values if math.isfinite(v)), default=0)

    parts = _open_svg("bars", width, height, title, description, labels, values)
    y = pad
    for label, lines, row, value in zip(labels, wrapped, rows, values, strict=True):
        middle = y + row / 2
        length = _length(value, top, room)
        x = pad + label_width
        first = middle - (len(lines) - 1) * LINE_HEIGHT / 2
        spans = "".join(
            f'<tspan x="{x - space}" y="{first + i * LINE_HEIGHT:g}">{escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        parts += [
            "<g>",
            f"<title>{escape(label)} : {escape(_number(value))}</title>",
            f'<text class="label" x="{x - space}" y="{first:g}" text-anchor="end"'
            f' dominant-baseline="middle" fill="{TEXT_COLOUR}">{spans}</text>',
            f'<rect class="bar" x="{x}" y="{middle - bar_height / 2:g}" width="{length:.1f}"'
            f' height="{bar_height}" fill="{BAR_COLOUR}"/>',
            f'<text class="value" x="{x + length + 6:.1f}" y="{middle:g}"'
            f' dominant-baseline="middle" fill="{TEXT_COLOUR}">{escape(_number(value))}</text>',
            "</g>",
        ]
        y += row + gap
    parts.append("</svg>")
    return "\n".join(parts)


def svg_hours_chart(counts: list[int], *, title: str, description: str) -> str:
    """24 vertical bars, one per hour of the day, labelled every 3 hours."""
    if len(counts) != 24:
        raise ValueError("counts must hold one value per hour (24)")
    width, height = 720, 230
    left, right, top_pad, bottom = 16, 16, 26, 34
    slot = (width - left - right) / 24
    bar_width = slot * 0.7
    room = height - top_pad - bottom
    base = height - bottom
    top = max(counts)

    parts = _open_svg("hours", width, height, title, description, counts)
    for hour, count in enumerate(counts):
        x = left + hour * slot + (slot - bar_width) / 2
        length = _length(count, top, room)
        middle = x + bar_width / 2
        parts += [
            "<g>",
            f"<title>{hour} h : {count}</title>",
            f'<rect class="bar" x="{x:.1f}" y="{base - length:.1f}" width="{bar_width:.1f}"'
            f' height="{length:.1f}" fill="{BAR_COLOUR}"/>',
        ]
        if count > 0:
            parts.append(
                f'<text x="{middle:.1f}" y="{base - length - 4:.1f}" text-anchor="middle"'
                f' fill="{TEXT_COLOUR}">{count}</text>'
            )
        if hour % 3 == 0:
            parts.append(
                f'<text x="{middle:.1f}" y="{base + 20}" text-anchor="middle"'
                f' fill="{TEXT_COLOUR}">{hour} h</text>'
            )
        parts.append("</g>")
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}"'
        f' stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    if top <= 0:
        parts.append(_no_data(width / 2, top_pad + room / 2))
    parts.append("</svg>")
    return "\n".join(parts)
