"""ORG_OPENING read by bot/opening.py: days, ranges, lists, lunch break, Sunday, bad values."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot import opening
from bot.opening import OpeningError, is_open, parse_opening

DEFAULT = "mar-sam 10:00-12:00 14:00-18:00"
PARIS = ZoneInfo("Europe/Paris")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """Paris time on the week of Monday 2026-11-30 (day 0 = Monday)."""
    return dt.datetime(2026, 11, 30, hour, minute, tzinfo=PARIS) + dt.timedelta(days=day)


@pytest.mark.parametrize(
    ("day", "hour", "minute", "expected"),
    [
        (1, 10, 0, True),  # Tuesday, opening minute
        (1, 11, 59, True),
        (1, 12, 0, False),  # lunch break
        (3, 13, 30, False),
        (3, 14, 0, True),
        (5, 17, 59, True),  # Saturday
        (5, 18, 0, False),  # closing minute is closed
        (0, 11, 0, False),  # Monday
        (6, 11, 0, False),  # Sunday
        (2, 9, 59, False),
    ],
)
def test_default_hours(day, hour, minute, expected):
    assert is_open(at(day, hour, minute), DEFAULT) is expected


def test_lists_groups_and_sunday():
    value = "lun,mer 9h-12h; dim 10:00-13:00; ven 14-17"
    assert is_open(at(0, 9), value) and is_open(at(2, 11, 30), value)
    assert not is_open(at(1, 10), value)
    assert is_open(at(6, 12, 59), value) and not is_open(at(6, 13), value)
    assert is_open(at(4, 16), value) and not is_open(at(4, 12), value)


def test_ranges_wrap_round_the_week_and_accept_full_names_and_accents():
    value = "sam-lun 10:00-12:00; Mercredi 08:30-24:00"
    assert [is_open(at(d, 11), value) for d in range(7)] == [
        True, False, True, False, False, True, True,
    ]  # fmt: skip
    assert is_open(at(2, 23, 59), value)


def test_other_time_zones_are_converted_to_paris():
    utc = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone.utc)  # 10:30 in Paris
    assert is_open(utc, DEFAULT) is True
    assert is_open(dt.datetime(2026, 12, 1, 10, 30), DEFAULT) is True  # naive: Paris time


@pytest.mark.parametrize(
    "value",
    ["", "   ", "mar-sam", "lundi-ven 10:00-12:00 ; ", "xyz 10:00-12:00", "lun 12:00-10:00",
     "lun 25:00-26:00", "lun 10:00-12:61", "lun dix-midi", "lun,,mar 10-12", "lun 10:00 12:00"],
)  # fmt: skip
def test_malformed_values_are_refused_and_leave_the_state_unknown(value):
    with pytest.raises(OpeningError):
        parse_opening(value)
    assert is_open(at(1, 11), value) is None


def test_default_is_the_setting_and_now(monkeypatch):
    monkeypatch.setenv("ORG_OPENING", "lun-dim 00:00-24:00")
    assert is_open() is True
    monkeypatch.setenv("ORG_OPENING", "n'importe quoi")
    assert is_open() is None
    monkeypatch.setenv("ORG_OPENING", DEFAULT)
    monkeypatch.setattr(opening, "paris_now", lambda: at(0, 11))
    assert is_open() is False


def test_cli_reports_a_bad_value(monkeypatch, capsys):
    monkeypatch.setenv("ORG_OPENING", "lun 18:00-09:00")
    assert opening.main([]) == 1
    assert "cannot be read" in capsys.readouterr().out
    monkeypatch.setenv("ORG_OPENING", DEFAULT)
    assert opening.main([]) == 0
