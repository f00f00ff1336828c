"""Activity report for the mediators' management: what the bot did over a period of days.

Figures come from two places: Rasa's SQLite tracker store (conversations, visitor messages,
fallbacks, guides walked, satisfaction, hours) and the tickets database (hand-offs). Days are
local days in the time zone given to `build_report`. The module renders the report as CSV
and as accessible inline SVG charts; it reads nothing and opens nothing when imported.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from html import escape
from pathlib import Path
from typing import Any, TextIO

from bot.tickets import CHANNELS, REASONS, TicketStore
from bot.transcript import REASON_LABELS, _connect, _has_events_table

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366
FEEDBACK_SLOT = "guide_feedback"
FEEDBACK_VALUES: tuple[str, ...] = ("yes", "no")
# The slot that holds the guide being walked; it goes back to None when a visitor stops.
GUIDE_SLOT = "guide_id"
TICKET_PAGE = 500

CHANNEL_LABELS = {"kiosk": "borne", "widget": "site web", "other": "autre"}
FEEDBACK_LABELS = {"yes": "oui", "no": "non"}

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

    def marker(self, sender: str, guide: str, step: Any, completed: bool) -> None:
        if completed:
            if self._done.get(sender) != guide:
                self.finished[guide] += 1
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


def _read_tracker(
    report: Report, tracker_db: Path, start: datetime, end: datetime, tz: tzinfo
) -> None:
    """Fill the tracker-store figures of `report` with the events of [start, end)."""
    tracker_db = Path(tracker_db)
    if not tracker_db.exists():
        return
    with closing(_connect(tracker_db, "ro")) as conn:
        if not _has_events_table(conn):
            return
        rows = conn.execute(
            "SELECT sender_id, type_name, timestamp, data FROM events"
            " WHERE timestamp >= ? AND timestamp < ? AND type_name IN ('user', 'bot', 'slot')"
            " ORDER BY id",
            (start.timestamp(), end.timestamp()),
        ).fetchall()

    channel_of: dict[str, str] = {}  # sender -> channel of its first message in the period
    walks = _Walks()
    for sender, type_name, timestamp, raw in rows:
        try:
            data = json.loads(raw or "{}")
        except json.JSONDecodeError:
            continue  # one damaged row must not stop the report
        if not isinstance(data, dict):
            continue
        if type_name == "user":
            report.visitor_messages += 1
            report.busiest_hours[datetime.fromtimestamp(timestamp, tz).hour] += 1
            if sender not in channel_of:
                channel_of[sender] = _channel((data.get("metadata") or {}).get("channel"))
        elif type_name == "bot":
            custom = (data.get("data") or {}).get("custom")
            if not isinstance(custom, dict):
                continue
            if "fallback" in custom:
                report.fallbacks += 1
            guide = custom.get("guide")
            if isinstance(guide, str) and guide:
                walks.marker(sender, guide, custom.get("step"), custom.get("completed") is True)
        else:
            name, value = data.get("name"), data.get("value")
            if name == FEEDBACK_SLOT and value in FEEDBACK_VALUES:
                report.satisfaction[value] += 1
            elif name == GUIDE_SLOT and value is None:
                walks.left(sender)

    report.conversations = len(channel_of)
    for channel in channel_of.values():
        report.channels[channel] += 1
    report.guides = walks.stats()
    if report.visitor_messages:
        report.fallback_rate = report.fallbacks / report.visitor_messages


def _read_tickets(report: Report, store: TicketStore, start: datetime, end: datetime) -> None:
    # The store filters on UTC days: ask one day more on each side, then keep the tickets
    # whose local creation time falls in the period.
    since, until = report.since - timedelta(days=1), report.until + timedelta(days=1)
    seen = 0
    while page := store.list(since=since, until=until, limit=TICKET_PAGE, offset=seen):
        seen += len(page)
        for ticket in page:
            if start <= datetime.fromisoformat(ticket.created_at) < end:
                report.handoffs_by_reason[ticket.reason] = (
                    report.handoffs_by_reason.get(ticket.reason, 0) + 1
                )
                channel = _channel(ticket.channel)
                report.tickets_by_channel[channel] += 1
        if len(page) < TICKET_PAGE:
            break


def build_report(
    tracker_db: Path, store: TicketStore, since: date, until: date, tz: tzinfo
) -> Report:
    """The activity of the local days `since` to `until`, both included.

    A missing tracker store (or one without its `events` table) gives zero conversations;
    the hand-offs are still counted from the tickets."""
    if since > until:
        raise ValueError(f"since ({since}) is after until ({until})")
    report = Report(since, until)
    start, end = _bounds(since, until, tz)
    _read_tracker(report, tracker_db, start, end, tz)
    _read_tickets(report, store, start, end)
    return report


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


def _safe(value: Any) -> Any:
    # A cell starting with one of these would run as a formula in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def format_rate(rate: float | None) -> str:
    """A rate as a French percentage ('12,5 %'); '' when there is none."""
    if rate is None:
        return ""
    return f"{rate * 100:.1f}".replace(".", ",") + " %"


def report_csv(report: Report, file: TextIO) -> None:
    """The report as CSV sections, each with its own header line, separated by an empty line:
    indicators, guides, hand-offs by reason, channels, satisfaction, hours."""
    writer = csv.writer(file)

    def section(
        header: tuple[str, ...], rows: list[tuple[Any, ...]], *, last: bool = False
    ) -> None:
        writer.writerow(header)
        writer.writerows([_safe(cell) for cell in row] for row in rows)
        if not last:
            writer.writerow([])

    section(
        ("indicateur", "valeur"),
        [
            ("début de la période", report.since.isoformat()),
            ("fin de la période", report.until.isoformat()),
            ("conversations", report.conversations),
            ("messages des visiteurs", report.visitor_messages),
            ("messages non compris ou hors sujet", report.fallbacks),
            ("taux de messages non compris", format_rate(report.fallback_rate)),
            ("guides démarrés", sum(g.started for g in report.guides)),
            ("guides terminés", sum(g.finished for g in report.guides)),
            ("transmissions à un médiateur", report.handoffs),
        ],
    )
    section(
        ("guide", "démarrés", "terminés", "taux"),
        [
            (g.guide_id, g.started, g.finished, format_rate(g.completion_rate))
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
        ("canal", "conversations", "tickets"),
        [
            (
                CHANNEL_LABELS.get(channel, channel),
                report.channels.get(channel, 0),
                report.tickets_by_channel.get(channel, 0),
            )
            for channel in CHANNELS
        ],
    )
    section(
        ("guide utile ?", "réponses"),
        [(FEEDBACK_LABELS.get(k, k), n) for k, n in report.satisfaction.items()],
    )
    section(
        ("heure", "messages des visiteurs"),
        [(f"{hour:02d} h", count) for hour, count in enumerate(report.busiest_hours)],
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


def _shorten(label: str, chars: int) -> str:
    return label if len(label) <= chars else label[: max(chars - 1, 1)] + "…"


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
        f' font-family="{escape(FONT)}" font-size="14">',
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
    width: int = 640,
    bar_height: int = 28,
) -> str:
    """Horizontal bars, one per label, with the value at the end of each bar."""
    if len(labels) != len(values):
        raise ValueError("labels and values must have the same length")
    if not labels:
        height = 60
        parts = _open_svg("bars", width, height, title, description)
        parts += [_no_data(width / 2, height / 2), "</svg>"]
        return "\n".join(parts)

    pad, gap = 8, 8
    label_width = min(240, width * 2 // 5)
    value_width = 64
    room = max(width - label_width - value_width - 2 * pad, 1)
    row = bar_height + gap
    height = 2 * pad + len(labels) * row - gap
    top = max((v for v in values if math.isfinite(v)), default=0)
    chars = max(label_width // 8, 4)

    parts = _open_svg("bars", width, height, title, description, labels, values)
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = pad + index * row
        middle = y + bar_height / 2
        length = _length(value, top, room)
        x = pad + label_width
        parts += [
            "<g>",
            f"<title>{escape(label)} : {escape(_number(value))}</title>",
            f'<text x="{x - 8}" y="{middle:g}" text-anchor="end" dominant-baseline="middle"'
            f' fill="{TEXT_COLOUR}">{escape(_shorten(label, chars))}</text>',
            f'<rect class="bar" x="{x}" y="{y}" width="{length:.1f}" height="{bar_height}"'
            f' fill="{BAR_COLOUR}"/>',
            f'<text x="{x + length + 6:.1f}" y="{middle:g}" dominant-baseline="middle"'
            f' fill="{TEXT_COLOUR}">{escape(_number(value))}</text>',
            "</g>",
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def svg_hours_chart(counts: list[int], *, title: str, description: str) -> str:
    """24 vertical bars, one per hour of the day, labelled every 3 hours."""
    if len(counts) != 24:
        raise ValueError("counts must hold one value per hour (24)")
    width, height = 640, 220
    left, right, top_pad, bottom = 16, 16, 24, 32
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
                f' font-size="11" fill="{TEXT_COLOUR}">{count}</text>'
            )
        if hour % 3 == 0:
            parts.append(
                f'<text x="{middle:.1f}" y="{base + 20}" text-anchor="middle"'
                f' font-size="12" fill="{TEXT_COLOUR}">{hour} h</text>'
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
