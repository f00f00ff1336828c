"""When the help desk is open, from the ORG_OPENING setting (« mar-sam 10:00-12:00 14:00-18:00 »).

The bot uses it to say, when the desk is closed, where else to find help. A value it cannot
read is not an error that stops the bot: the desk's state is then unknown (None), and the
answers name both the desk and the other places.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TIMEZONE = "Europe/Paris"

# Monday is 0, as datetime.weekday() counts.
_DAYS = ("lun", "mar", "mer", "jeu", "ven", "sam", "dim")
_FULL_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_TIME = r"(\d{1,2})\s*(?:[:h]\s*(\d{2})?)?"
_RANGE_RE = re.compile(rf"^{_TIME}\s*-\s*{_TIME}$")


class OpeningError(ValueError):
    """An ORG_OPENING value that cannot be read; the message says why, in English."""


@dataclass(frozen=True)
class Opening:
    """Opening hours: for each weekday (0 = Monday), the ranges in minutes since midnight."""

    ranges: dict[int, tuple[tuple[int, int], ...]]

    def is_open(self, local: dt.datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.ranges.get(local.weekday(), ()))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _day(name: str) -> int:
    name = name.strip().rstrip(".")
    if name in _DAYS:
        return _DAYS.index(name)
    if name in _FULL_DAYS:
        return _FULL_DAYS.index(name)
    raise OpeningError(f"unknown day {name!r} (use lun, mar, mer, jeu, ven, sam, dim)")


def _days(spec: str) -> list[int]:
    """« mar-sam », « lun,mer », « lun,mer-ven », « sam-lun » (a range may wrap round)."""
    days: list[int] = []
    for part in spec.split(","):
        if not part.strip():
            raise OpeningError(f"empty day in {spec!r}")
        if "-" in part:
            first, _, last = part.partition("-")
            start, end = _day(first), _day(last)
            span = (end - start) % 7
            days += [(start + i) % 7 for i in range(span + 1)]
        else:
            days.append(_day(part))
    return days


def _minutes(hours: str, minutes: str | None, spec: str) -> int:
    h, m = int(hours), int(minutes or 0)
    if h > 24 or m > 59 or (h == 24 and m):
        raise OpeningError(f"impossible time in {spec!r}")
    return h * 60 + m


def _time_range(spec: str) -> tuple[int, int]:
    match = _RANGE_RE.match(spec)
    if not match:
        raise OpeningError(f"time range {spec!r} is not like 10:00-12:00")
    start = _minutes(match[1], match[2], spec)
    end = _minutes(match[3], match[4], spec)
    if end <= start:
        raise OpeningError(f"time range {spec!r} ends before it starts")
    return start, end


def parse_opening(value: str) -> Opening:
    """Read « mar-sam 10:00-12:00 14:00-18:00; lun 14:00-17:00 »; raise OpeningError."""
    text = _fold(value).strip()
    if not text:
        raise OpeningError("the value is empty")
    ranges: dict[int, list[tuple[int, int]]] = {}
    for group in text.split(";"):
        words = group.split()
        if not words:
            raise OpeningError(f"empty group in {value!r}")
        if len(words) < 2:
            raise OpeningError(f"group {group.strip()!r} needs days, then time ranges")
        days = _days(words[0])
        times = [_time_range(w) for w in words[1:]]
        for day in days:
            ranges.setdefault(day, []).extend(times)
    return Opening({day: tuple(sorted(r)) for day, r in ranges.items()})


def paris_now() -> dt.datetime:
    return dt.datetime.now(ZoneInfo(TIMEZONE))


def is_open(now: dt.datetime | None = None, value: str | None = None) -> bool | None:
    """Is the desk open at `now` (default: now), by `value` (default: ORG_OPENING)?

    An aware `now` is converted to Paris time; a naive one is taken as Paris time already.
    None when the value cannot be read (or the time zone is missing): the state is unknown.
    """
    if value is None:
        from bot.settings import get_settings

        value = get_settings().org_opening
    try:
        opening = parse_opening(value)
        zone = ZoneInfo(TIMEZONE)
    except (OpeningError, ZoneInfoNotFoundError):
        return None
    moment = now or paris_now()
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return opening.is_open(moment)


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.opening`: whether ORG_OPENING reads well and the desk is open now."""
    from bot.settings import get_settings

    value = get_settings().org_opening
    try:
        parse_opening(value)
    except OpeningError as exc:
        print(f"ORG_OPENING {value!r} cannot be read: {exc}")
        return 1
    state = "open" if is_open(value=value) else "closed"
    print(f"ORG_OPENING {value!r}: the desk is {state} now ({paris_now():%a %H:%M} in Paris)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
