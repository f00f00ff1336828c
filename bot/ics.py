"""A small iCalendar (RFC 5545) writer for the public agenda of workshops.

Only what a published agenda needs: one VCALENDAR, the Europe/Paris VTIMEZONE, one VEVENT
per session with local times, text escaped (§3.3.11), lines ended by CRLF and folded at 75
octets without cutting a UTF-8 character in two (§3.1).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from bot.workshops import TZ, Workshop

MEDIA_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//Guichet//Ateliers//FR"
TZID = "Europe/Paris"
LINE_OCTETS = 75

# The rules France has followed since 1996 (last Sunday of March and of October), which
# every calendar client understands without downloading a time zone database.
VTIMEZONE = (
    "BEGIN:VTIMEZONE",
    f"TZID:{TZID}",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "TZNAME:CEST",
    "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "TZNAME:CET",
    "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
)


def escape_text(value: str) -> str:
    """A TEXT value: backslash, semicolon and comma escaped, line breaks as \\n."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\n", "\\n")


def fold(line: str) -> str:
    """One content line folded into CRLF-ended lines of at most 75 octets; each
    continuation starts with a space, and no UTF-8 sequence is split."""
    # Control characters other than tab are not allowed in a value: dropped.
    line = "".join(c for c in line if c == "\t" or c >= " " and c != "\x7f")
    parts: list[str] = []
    current, size, limit = "", 0, LINE_OCTETS
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > limit:
            parts.append(current)
            # The leading space of a continuation line counts in its 75 octets.
            current, size, limit = "", 0, LINE_OCTETS - 1
        current += char
        size += octets
    parts.append(current)
    return "\r\n ".join(parts) + "\r\n"


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def local_stamp(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%Y%m%dT%H%M%S")


def _lines_of(workshop: Workshop, *, base_url: str, host: str, now: datetime) -> list[str]:
    url = f"{base_url}/ateliers/{workshop.id}"
    summary = workshop.title
    if workshop.cancelled:
        summary = f"Annulé : {summary}"
    about = [workshop.description] if workshop.description else []
    about.append(f"Niveau : {workshop.level_label}.")
    if workshop.cancelled:
        about.append("Cette séance est annulée.")
    elif not workshop.booking_required:
        about.append("Entrée libre, sans inscription.")
    elif workshop.seats_left:
        about.append(
            f"Places restantes : {workshop.seats_left} sur {workshop.seats}. "
            "Inscrivez-vous à l'accueil ou avec Guichet."
        )
    else:
        about.append(
            "Complet : inscrivez-vous sur la liste d'attente, à l'accueil ou avec Guichet."
        )
    about.append(url)
    location = ", ".join(part for part in (workshop.place, workshop.address) if part)
    return [
        "BEGIN:VEVENT",
        f"UID:atelier-{workshop.id}@{host}",
        f"DTSTAMP:{utc_stamp(now)}",
        f"CREATED:{utc_stamp(datetime.fromisoformat(workshop.created_at))}",
        f"LAST-MODIFIED:{utc_stamp(datetime.fromisoformat(workshop.updated_at))}",
        f"DTSTART;TZID={TZID}:{local_stamp(workshop.starts)}",
        f"DTEND;TZID={TZID}:{local_stamp(workshop.ends_at)}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(chr(10).join(about))}",
        f"LOCATION:{escape_text(location)}",
        f"URL:{url}",
        f"STATUS:{'CANCELLED' if workshop.cancelled else 'CONFIRMED'}",
        f"SEQUENCE:{workshop.sequence}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
    ]


def calendar(
    workshops: Iterable[Workshop],
    *,
    base_url: str,
    host: str,
    name: str,
    now: datetime | None = None,
) -> str:
    """The whole feed as text (CRLF line ends, folded); encode it as UTF-8."""
    now = now or datetime.now(timezone.utc)
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
        f"X-WR-TIMEZONE:{TZID}",
        *VTIMEZONE,
    ]
    for workshop in workshops:
        lines += _lines_of(workshop, base_url=base_url.rstrip("/"), host=host, now=now)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines)
