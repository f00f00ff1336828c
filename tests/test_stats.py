"""The activity report: figures from the tracker store and the tickets, the period asked, the
CSV export and the SVG charts."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import closing
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import stats
from bot.activity import ActivityStore, activity_rows, conversation_key
from bot.stats import (
    GuideStats,
    Report,
    build_report,
    parse_period,
    report_csv,
    svg_bar_chart,
    svg_hours_chart,
)
from bot.tickets import STATUSES, Ticket, TicketStore

PARIS = ZoneInfo("Europe/Paris")
# Guide id -> La Coop category, as the catalogue gives them; ants.permis is left out (a guide
# no longer in the catalogue) and counts as « sans thématique ».
CATEGORIES = {"impots.paiement": "argent_impots", "caf.apl": "social_sante"}
SINCE = date(2024, 3, 4)
UNTIL = date(2024, 3, 10)
SVG = "{http://www.w3.org/2000/svg}"


def paris(day: int, hour: int, minute: int = 0) -> float:
    """Epoch seconds of a local time in Paris, in March 2024 (UTC+1)."""
    return datetime(2024, 3, day, hour, minute, tzinfo=PARIS).timestamp()


def utc(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2024, 3, day, hour, minute, tzinfo=timezone.utc).timestamp()


class Tracker:
    """Rasa-shaped events of several conversations, written to the activity log the way the
    tracker store writes them (`bot.activity.activity_rows`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log = ActivityStore(path)

    def add(self, sender: str, type_name: str, at: float, **data: Any) -> None:
        event = {"event": type_name, "timestamp": at, **data}
        self.log.record(activity_rows(sender, [event]))

    def raw(self, sender: str, kind: str, at: float, data: str) -> None:
        with closing(sqlite3.connect(self.path)) as conn, conn:
            conn.execute(
                "INSERT INTO activity (at, conversation, kind, data) VALUES (?, ?, ?, ?)",
                (at, conversation_key(sender), kind, data),
            )

    def user(self, sender: str, at: float, text: str, channel: str | None = None) -> None:
        parse = {"intent": {"name": "x", "confidence": 0.9}, "entities": []}
        metadata = {"channel": channel} if channel else {}
        self.add(sender, "user", at, text=text, parse_data=parse, metadata=metadata)

    def bot(self, sender: str, at: float, custom: dict[str, Any] | None, text: str = "…") -> None:
        payload = {"buttons": None, "custom": custom}
        self.add(sender, "bot", at, text=text, data=payload, metadata={})

    def step(self, sender: str, at: float, guide: str, step: int, **extra: Any) -> None:
        self.bot(sender, at, {"guide": guide, "step": step, "steps": 3, **extra})

    def slot(self, sender: str, at: float, name: str, value: Any) -> None:
        self.add(sender, "slot", at, name=name, value=value)


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[Tracker]:
    made = Tracker(tmp_path / "activity.db")
    with made.log:
        yield made


class Clock:
    """The tickets' clock, set by hand before each ticket."""

    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[TicketStore]:
    with TicketStore(tmp_path / "tickets.db", clock=clock) as made:
        yield made


def add_ticket(store: TicketStore, at: float, reason: str, channel: str) -> None:
    clock = store._clock
    assert isinstance(clock, Clock)
    clock.now = datetime.fromtimestamp(at, timezone.utc)
    store.create(
        sender_id=f"conv-{at}",
        channel=channel,
        reason=reason,
        contact_preference="desk",
        summary="Démarche : aucun guide en cours.",
        transcript=[],
    )


def fill_week(t: Tracker) -> None:
    """Several conversations across the days and hours of the week of 4 to 10 March 2024."""
    # The visitor of the 3rd, late evening in Paris: before the period.
    t.user("before", utc(3, 22, 30), "bonsoir", "kiosk")
    # 23:30 UTC on the 3rd is 00:30 on the 4th in Paris: inside the period.
    t.user("early", utc(3, 23, 30), "allo", "widget")

    # a (kiosk) walks a guide to the end, with a repeated first step, and rates it "yes".
    t.user("a", paris(4, 9, 15), "je dois payer mes impots", "kiosk")
    t.step("a", paris(4, 9, 15), "impots.paiement", 1)
    t.slot("a", paris(4, 9, 15), "guide_id", "impots.paiement")
    t.user("a", paris(4, 9, 16), "/repeter", "kiosk")
    t.step("a", paris(4, 9, 16), "impots.paiement", 1)  # the same start, shown again
    t.user("a", paris(4, 9, 17), "/suivant", "kiosk")
    t.step("a", paris(4, 9, 17), "impots.paiement", 2)
    t.user("a", paris(4, 9, 18), "/precedent", "kiosk")
    t.step("a", paris(4, 9, 18), "impots.paiement", 1)  # back to step 1: no new start
    t.user("a", paris(4, 9, 19), "/suivant", "kiosk")
    t.step("a", paris(4, 9, 19), "impots.paiement", 2)
    t.user("a", paris(4, 9, 40), "/suivant", "kiosk")
    t.step("a", paris(4, 9, 40), "impots.paiement", 3, completed=True)
    t.user("a", paris(4, 9, 41), "/oui", "kiosk")
    t.slot("a", paris(4, 9, 41), "guide_feedback", "yes")
    t.slot("a", paris(4, 9, 41), "guide_id", None)
    t.add("a", "action", paris(4, 9, 41), name="action_listen")

    # b (widget) is not understood, starts a guide, stops, and starts it again.
    t.user("b", paris(5, 14, 5), "bonjour", "widget")
    t.bot("b", paris(5, 14, 5), {"fallback": "not_understood"})
    t.user("b", paris(5, 14, 6), "aide caf", "kiosk")  # the first message sets the channel
    t.step("b", paris(5, 14, 6), "caf.apl", 1)
    t.slot("b", paris(5, 14, 6), "guide_id", "caf.apl")
    t.user("b", paris(5, 14, 7), "stop", "widget")
    t.bot("b", paris(5, 14, 7), None, text="D'accord, nous arrêtons le guide.")
    t.slot("b", paris(5, 14, 7), "guide_id", None)
    t.user("b", paris(5, 15, 0), "aide caf", "widget")
    t.step("b", paris(5, 15, 0), "caf.apl", 1)  # a new start
    t.bot("b", paris(5, 15, 0), {"menu": ["caf.apl"]})

    # c (an unknown channel) asks for something not covered, then finishes a guide twice over.
    t.user("c", paris(6, 20, 10), "carte grise", "tablette")
    t.bot("c", paris(6, 20, 10), {"fallback": "not_covered"})
    t.user("c", paris(6, 20, 11), "impots")
    t.step("c", paris(6, 20, 11), "impots.paiement", 1)
    t.user("c", paris(6, 20, 30), "/suivant")
    t.step("c", paris(6, 20, 30), "impots.paiement", 3, completed=True)
    t.user("c", paris(6, 20, 31), "/suivant")
    t.step("c", paris(6, 20, 31), "impots.paiement", 3, completed=True)  # the same end again
    t.user("c", paris(6, 20, 32), "/non")
    t.slot("c", paris(6, 20, 32), "guide_feedback", "no")
    t.slot("c", paris(6, 20, 32), "guide_feedback", None)
    t.slot("c", paris(6, 20, 32), "handoff_offered", True)
    t.raw("c", "user", paris(6, 20, 33), "{not json")  # a damaged row is skipped

    # e finishes a guide started before the period, without writing in the period.
    t.step("e", paris(2, 18, 0), "ants.permis", 1)
    t.step("e", paris(7, 8, 0), "ants.permis", 3, completed=True)

    # 23:30 UTC on the 10th is 00:30 on the 11th in Paris: after the period.
    t.user("late", utc(10, 23, 30), "encore là ?", "kiosk")
    t.bot("late", utc(10, 23, 30), {"fallback": "not_understood"})
    t.step("late", utc(10, 23, 31), "late.guide", 1)


def fill_tickets(store: TicketStore) -> None:
    add_ticket(store, utc(1, 10), "asked", "kiosk")  # before the period
    add_ticket(store, utc(3, 23, 30), "not_understood", "other")  # the 4th in Paris
    add_ticket(store, paris(4, 10), "stuck", "kiosk")
    add_ticket(store, paris(5, 15), "asked", "widget")
    add_ticket(store, paris(10, 23, 59), "asked", "kiosk")
    add_ticket(store, utc(10, 23, 30), "not_covered", "widget")  # the 11th in Paris


def make_ticket(
    store: TicketStore,
    at: float,
    channel: str,
    *,
    sender: str | None = None,
    kiosk: str | None = None,
    guide: str | None = None,
) -> Ticket:
    clock = store._clock
    assert isinstance(clock, Clock)
    clock.now = datetime.fromtimestamp(at, timezone.utc)
    return store.create(
        sender_id=sender or f"conv-{at}",
        channel=channel,
        reason="stuck" if guide else "not_covered",
        contact_preference="desk",
        summary="Démarche.",
        transcript=[],
        guide_id=guide,
        step=1 if guide else None,
        steps=3 if guide else None,
        kiosk=kiosk,
    )


def move(store: TicketStore, ticket: Ticket, at: float, status: str) -> None:
    clock = store._clock
    assert isinstance(clock, Clock)
    clock.now = datetime.fromtimestamp(at, timezone.utc)
    store.set_status(ticket.id, status, actor="camille")


HOUR = 3600.0
# A status of the console's newer workflow when this tree has it; the report must count
# such a ticket as open whatever its name.
OTHER_OPEN = "a_rappeler" if "a_rappeler" in STATUSES else "en_cours"


def fill_resolutions(store: TicketStore) -> None:
    """Tickets from two named kiosks, an unnamed one and the widget, resolved after 2 h,
    24 h and 1 h (the last one reopened first), or not at all."""
    one = make_ticket(
        store, paris(4, 10), "kiosk", sender="a", kiosk="Borne 1", guide="impots.paiement"
    )
    move(store, one, paris(4, 12), "resolu")
    two = make_ticket(store, paris(5, 9), "kiosk", sender="x", kiosk="Borne 2", guide="caf.apl")
    move(store, two, paris(5, 9, 30), "en_cours")
    move(store, two, paris(6, 9), "resolu")
    make_ticket(store, paris(6, 10), "kiosk")  # no name, no guide, still new
    four = make_ticket(store, paris(7, 10), "widget", guide="caf.apl")
    move(store, four, paris(7, 10, 30), "resolu")
    move(store, four, paris(7, 10, 45), "en_cours")  # reopened: the last resolution counts
    move(store, four, paris(7, 11), "resolu")
    five = make_ticket(store, paris(8, 10), "widget")
    move(store, five, paris(8, 11), OTHER_OPEN)
    # Created before the period, resolved in it: not a ticket of this period.
    old = make_ticket(store, paris(1, 10), "other", guide="impots.paiement")
    move(store, old, paris(5, 10), "resolu")


# --- build_report ---------------------------------------------------------------------------


def test_tickets_resolved_and_their_delays_by_channel_kiosk_and_category(
    tracker: Tracker, store: TicketStore
):
    fill_week(tracker)
    fill_resolutions(store)
    report = build_report(tracker.log, store, SINCE, UNTIL, PARIS, CATEGORIES)

    total = report.resolution
    assert (total.created, total.resolved) == (5, 3)
    assert sorted(total.delays) == [1 * HOUR, 2 * HOUR, 24 * HOUR]
    assert total.median == 2 * HOUR and total.mean == pytest.approx(9 * HOUR)
    assert total.rate == pytest.approx(3 / 5)
    assert report.tickets_by_status == {"resolu": 3, "nouveau": 1, OTHER_OPEN: 1}

    kiosk, widget, other = (report.resolution_by_channel[c] for c in ("kiosk", "widget", "other"))
    assert (kiosk.created, kiosk.resolved, kiosk.median, kiosk.mean) == (3, 2, 13 * HOUR, 13 * HOUR)
    assert (widget.created, widget.resolved, widget.delays) == (2, 1, [1 * HOUR])
    assert (other.created, other.resolved, other.median, other.mean) == (0, 0, None, None)

    kiosks = {
        name: (r.created, r.resolved, r.delays) for name, r in report.resolution_by_kiosk.items()
    }
    assert kiosks == {
        "Borne 1": (1, 1, [2 * HOUR]),
        "Borne 2": (1, 1, [24 * HOUR]),
        "": (1, 0, []),
    }

    # Guides finished alone or with a mediator: « a » made a ticket in the period, « c »
    # and « e » did not.
    assert report.finished_with(None) == 1 and report.finished_with("impots.paiement") == 1
    assert report.finished_alone == 2

    categories = report.categories
    assert list(categories) == [*stats.COOP_CATEGORIES, ""]
    argent = categories["argent_impots"]
    assert (argent.started, argent.finished) == (2, 2)
    assert (argent.finished_alone, argent.finished_with_mediator) == (1, 1)
    assert argent.satisfaction == {"yes": 1, "no": 1}
    assert (argent.tickets.created, argent.tickets.resolved, argent.tickets.delays) == (
        1,
        1,
        [2 * HOUR],
    )
    social = categories["social_sante"]
    assert (social.started, social.finished, social.tickets.created) == (2, 0, 2)
    assert social.tickets.median == pytest.approx(12.5 * HOUR)
    unclassified = categories[""]
    assert (unclassified.finished, unclassified.finished_alone) == (1, 1)  # ants.permis
    assert (unclassified.tickets.created, unclassified.tickets.resolved) == (2, 0)
    for key in ("papiers_elections_citoyennete", "logement", "justice", "loisirs_sports_culture"):
        empty = categories[key]
        assert (empty.started, empty.finished, empty.tickets.created) == (0, 0, 0), key
    # Every figure by category adds up to the report's own.
    assert sum(c.started for c in categories.values()) == sum(g.started for g in report.guides)
    assert sum(c.finished for c in categories.values()) == sum(g.finished for g in report.guides)
    assert sum(c.tickets.created for c in categories.values()) == total.created


def test_a_resolved_ticket_without_its_event_counts_without_a_delay(
    tmp_path: Path, store: TicketStore
):
    ticket = make_ticket(store, paris(5, 10), "widget", guide="caf.apl")
    move(store, ticket, paris(5, 11), "resolu")
    with closing(sqlite3.connect(tmp_path / "tickets.db")) as conn, conn:
        conn.execute("DELETE FROM ticket_events WHERE action = 'status'")
    report = build_report(None, store, SINCE, UNTIL, PARIS, CATEGORIES)
    assert (report.resolution.created, report.resolution.resolved) == (1, 1)
    assert report.resolution.delays == [] and report.resolution.median is None


def test_delays_read_as_a_mediator_says_them():
    assert stats.format_delay(None) == ""
    assert stats.format_delay(44 * 60) == "44 min"
    assert stats.format_delay(2 * HOUR + 5 * 60) == "2 h 05"
    assert stats.format_delay(50 * HOUR) == "2 j 2 h"


def test_the_csv_report_gives_resolutions_by_channel_and_kiosk(
    tracker: Tracker, store: TicketStore
):
    fill_week(tracker)
    fill_resolutions(store)
    out = io.StringIO()
    report_csv(build_report(tracker.log, store, SINCE, UNTIL, PARIS, CATEGORIES), out)
    indicators, categories, _, _, channels, kiosks, _, *_ = sections(out.getvalue())
    assert ["tickets résolus", "3"] in indicators
    assert ["délai médian de résolution (heures)", "2"] in indicators
    assert ["délai moyen de résolution (heures)", "9"] in indicators
    social = categories[1 + COOP_LABELS.index("Social - Santé")]
    assert social == ["Social - Santé", "2", "0", "0", "0", "0", "0", "2", "2", "12,5", "12,5"]
    assert channels[1] == ["borne", "1", "3", "2", "13", "13"]
    assert channels[2] == ["site web", "2", "2", "1", "1", "1"]
    assert kiosks[1:] == [
        ["borne sans nom", "1", "0", "", ""],
        ["Borne 1", "1", "1", "2", "2"],
        ["Borne 2", "1", "1", "24", "24"],
    ]


def test_every_figure_of_the_report(tracker: Tracker, store: TicketStore):
    fill_week(tracker)
    fill_tickets(store)

    report = build_report(tracker.log, store, SINCE, UNTIL, PARIS)

    assert (report.since, report.until, report.days) == (SINCE, UNTIL, 7)
    assert report.conversations == 4  # early, a, b, c
    assert report.visitor_messages == 1 + 7 + 4 + 5
    assert report.fallbacks == 2
    assert report.fallback_rate == pytest.approx(2 / 17)
    assert report.guides == [
        GuideStats("caf.apl", started=2, finished=0),
        GuideStats("impots.paiement", started=2, finished=2),
        GuideStats("ants.permis", started=0, finished=1),
    ]
    assert [g.completion_rate for g in report.guides] == [0.0, 1.0, None]
    assert report.handoffs_by_reason == {
        "asked": 2,
        "stuck": 1,
        "not_understood": 1,
        "not_covered": 0,
    }
    assert report.handoffs == 4
    assert report.tickets_by_channel == {"kiosk": 2, "widget": 1, "other": 1}
    assert report.satisfaction == {"yes": 1, "no": 1}
    hours = [0] * 24
    hours[0] = 1  # early
    hours[9] = 7  # a
    hours[14] = 3  # b
    hours[15] = 1
    hours[20] = 5  # c
    assert report.busiest_hours == hours
    assert report.channels == {"kiosk": 1, "widget": 2, "other": 1}


def test_days_are_local_days(tracker: Tracker, store: TicketStore):
    fill_week(tracker)
    fill_tickets(store)

    last_day = build_report(tracker.log, store, UNTIL, UNTIL, PARIS)
    assert last_day.visitor_messages == 0
    assert last_day.handoffs_by_reason["asked"] == 1  # 23:59 in Paris, 22:59 UTC

    next_day = build_report(tracker.log, store, date(2024, 3, 11), date(2024, 3, 11), PARIS)
    assert next_day.conversations == 1
    assert next_day.busiest_hours[0] == 1
    assert next_day.fallbacks == 1
    assert next_day.guides == [GuideStats("late.guide", 1, 0)]
    assert next_day.handoffs_by_reason["not_covered"] == 1
    assert next_day.tickets_by_channel == {"kiosk": 0, "widget": 1, "other": 0}

    first_day = build_report(tracker.log, store, SINCE, SINCE, PARIS)
    assert first_day.conversations == 2  # early (00:30 in Paris) and a
    assert first_day.channels == {"kiosk": 1, "widget": 1, "other": 0}
    assert first_day.handoffs_by_reason == {
        "asked": 0,
        "stuck": 1,
        "not_understood": 1,
        "not_covered": 0,
    }

    # The same instants in UTC days tell another story.
    in_utc = build_report(tracker.log, store, date(2024, 3, 3), date(2024, 3, 3), timezone.utc)
    assert in_utc.conversations == 2  # before and early
    assert in_utc.busiest_hours[22] == in_utc.busiest_hours[23] == 1


def test_tickets_are_read_page_by_page(
    tracker: Tracker, store: TicketStore, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(stats, "TICKET_PAGE", 2)
    for hour in range(7):
        add_ticket(store, paris(5, 8 + hour), "stuck", "kiosk")
    report = build_report(tracker.log, store, SINCE, UNTIL, PARIS)
    assert report.handoffs_by_reason["stuck"] == 7
    assert report.tickets_by_channel["kiosk"] == 7


def test_without_an_activity_log_the_report_is_empty(tmp_path: Path, store: TicketStore):
    report = build_report(None, store, SINCE, UNTIL, PARIS)
    assert report == Report(SINCE, UNTIL)
    assert report.conversations == report.visitor_messages == report.fallbacks == 0
    assert report.fallback_rate is None
    assert report.guides == []
    assert report.handoffs_by_reason == dict.fromkeys(
        ("asked", "stuck", "not_understood", "not_covered"), 0
    )
    assert report.tickets_by_channel == {"kiosk": 0, "widget": 0, "other": 0}
    assert report.satisfaction == {"yes": 0, "no": 0}
    assert report.busiest_hours == [0] * 24
    assert report.channels == {"kiosk": 0, "widget": 0, "other": 0}

    # Hand-offs still come from the tickets.
    add_ticket(store, paris(5, 10), "asked", "widget")
    report = build_report(None, store, SINCE, UNTIL, PARIS)
    assert report.handoffs_by_reason["asked"] == 1
    assert report.conversations == 0


def test_an_empty_activity_log_gives_an_empty_report(tmp_path: Path, store: TicketStore):
    with ActivityStore(tmp_path / "empty.db") as empty:
        assert build_report(empty, store, SINCE, UNTIL, PARIS) == Report(SINCE, UNTIL)


def test_the_activity_log_is_only_read(tracker: Tracker, store: TicketStore):
    fill_week(tracker)
    tracker.log.close()
    before = tracker.path.read_bytes()
    with ActivityStore(tracker.path) as log:
        build_report(log, store, SINCE, UNTIL, PARIS)
    assert tracker.path.read_bytes() == before


def test_the_log_holds_no_visitor_text_nor_sender_id(tracker: Tracker, store: TicketStore):
    fill_week(tracker)
    tracker.log.close()
    for path in tracker.path.parent.glob("activity.db*"):
        content = path.read_bytes()
        for text in (b"je dois payer mes impots", b"carte grise", b"aide caf", b"conv-"):
            assert text not in content, (path.name, text)
    with closing(sqlite3.connect(tracker.path)) as conn:
        conversations = {c for (c,) in conn.execute("SELECT conversation FROM activity")}
    assert conversation_key("a") in conversations and "a" not in conversations


def test_a_reversed_period_is_refused(tracker: Tracker, store: TicketStore):
    with pytest.raises(ValueError):
        build_report(tracker.log, store, UNTIL, SINCE, PARIS)


def test_completion_rate():
    assert GuideStats("g", started=0, finished=0).completion_rate is None
    assert GuideStats("g", started=0, finished=3).completion_rate is None
    assert GuideStats("g", started=3, finished=2).completion_rate == pytest.approx(2 / 3)
    assert GuideStats("g", started=4, finished=0).completion_rate == 0.0
    # Guides started before the period and finished in it never make it more than 100 %.
    assert GuideStats("g", started=1, finished=2).completion_rate == 1.0


# --- parse_period ---------------------------------------------------------------------------

TODAY = date(2024, 3, 31)


def test_the_default_period_is_the_last_30_days():
    assert parse_period(None, None, TODAY) == (date(2024, 3, 2), TODAY)
    assert parse_period("", "  ", TODAY) == (date(2024, 3, 2), TODAY)
    assert parse_period("2024-03-20", None, TODAY) == (date(2024, 3, 20), TODAY)
    assert parse_period(None, "2024-02-29", TODAY) == (date(2024, 1, 31), date(2024, 2, 29))
    assert parse_period("2024-01-01", "2024-01-01", TODAY) == (date(2024, 1, 1), date(2024, 1, 1))
    # 366 days is the longest period: a whole leap year.
    assert parse_period("2024-01-01", "2024-12-31", TODAY) == (
        date(2024, 1, 1),
        date(2024, 12, 31),
    )
    start, end = parse_period(None, None, TODAY)
    assert (end - start).days + 1 == 30


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2024-13-01", None, r"Date de début invalide : « 2024-13-01 ».*AAAA-MM-JJ"),
        ("04/03/2024", None, r"Date de début invalide"),
        (None, "demain", r"Date de fin invalide : « demain »"),
        ("2024-03-10", "2024-03-04", r"La date de début \(10/03/2024\) est après la date de fin"),
        ("2024-04-05", None, r"est après la date de fin \(31/03/2024\)"),
        ("2023-01-01", "2024-01-02", r"La période ne peut pas dépasser 366 jours\."),
        # Out of range: 9999-12-31 once overflowed the "day after" arithmetic (a 500).
        (None, "9999-12-31", r"Date de fin invalide : « 9999-12-31 »\. Choisissez une date"),
        ("0001-01-01", None, r"Date de début invalide : « 0001-01-01 »"),
    ],
)
def test_a_bad_period_is_explained_in_french(since: str | None, until: str | None, message: str):
    with pytest.raises(ValueError, match=message):
        parse_period(since, until, TODAY)


# --- CSV ------------------------------------------------------------------------------------


def sections(text: str) -> list[list[list[str]]]:
    """The CSV read back as a French spreadsheet does (BOM, `;`), cut into its sections at
    the empty lines."""
    assert text.startswith("\ufeff"), "no UTF-8 byte-order mark"
    found: list[list[list[str]]] = [[]]
    for row in csv.reader(io.StringIO(text[1:]), delimiter=";"):
        if row:
            found[-1].append(row)
        else:
            found.append([])
    return found


COOP_LABELS = [
    "Papiers - Élections Citoyenneté",
    "Famille - Scolarité",
    "Social - Santé",
    "Travail - Formation",
    "Logement",
    "Transports - Mobilité",
    "Argent - Impôts",
    "Justice",
    "Étrangers - Europe",
    "Loisirs - Sports Culture",
]


def test_the_csv_report(tracker: Tracker, store: TicketStore):
    fill_week(tracker)
    fill_tickets(store)
    report = build_report(tracker.log, store, SINCE, UNTIL, PARIS, CATEGORIES)
    out = io.StringIO()
    report_csv(report, out, {"impots.paiement": "Payer ses impôts"})
    text = out.getvalue()
    assert "\r\n" in text and '"conversations";"4"' in text  # every cell quoted, `;` between

    indicators, categories, guides, reasons, channels, kiosks, hours, *_ = sections(text)
    assert indicators == [
        ["indicateur", "valeur"],
        ["début de la période", "04/03/2024"],
        ["fin de la période", "10/03/2024"],
        ["conversations", "4"],
        ["messages des visiteurs", "17"],
        ["messages non compris ou hors sujet", "2"],
        ["taux de messages non compris", "11,8 %"],
        ["guides démarrés", "4"],
        ["guides terminés", "3"],
        ["guides terminés en autonomie", "3"],
        ["guides terminés avec un médiateur", "0"],
        ["guide utile : oui", "1"],
        ["guide utile : non", "1"],
        ["transmissions à un médiateur", "4"],
        ["tickets résolus", "0"],
        ["délai médian de résolution (heures)", ""],
        ["délai moyen de résolution (heures)", ""],
    ]
    assert categories[0][0] == "thématique (La Coop)"
    assert [row[0] for row in categories[1:]] == [*COOP_LABELS, "Sans thématique (aucun guide)"]
    argent = categories[1 + COOP_LABELS.index("Argent - Impôts")]
    assert argent == ["Argent - Impôts", "2", "2", "2", "0", "1", "1", "0", "0", "", ""]
    assert guides == [
        [
            "guide",
            "démarrés",
            "terminés",
            "terminés en autonomie",
            "terminés avec un médiateur",
            "taux",
        ],
        ["caf.apl", "2", "0", "0", "0", "0,0 %"],
        ["Payer ses impôts", "2", "2", "2", "0", "100,0 %"],
        ["ants.permis", "0", "1", "1", "0", ""],
    ]
    assert reasons == [
        ["motif de transmission", "nombre"],
        ["a demandé à parler à une personne", "2"],
        ["bloqué(e) sur une étape", "1"],
        ["le robot n'a pas compris la demande", "1"],
        ["démarche sans guide", "0"],
    ]
    assert channels[0][:3] == ["canal", "conversations", "tickets"]
    assert [row[:4] for row in channels[1:]] == [
        ["borne", "1", "2", "0"],
        ["site web", "2", "1", "0"],
        ["autre", "1", "1", "0"],
    ]
    assert kiosks == [
        [
            "borne",
            "tickets",
            "tickets résolus",
            "délai médian de résolution (heures)",
            "délai moyen de résolution (heures)",
        ],
        ["borne sans nom", "2", "0", "", ""],
    ]
    assert hours[0] == ["heure", "messages des visiteurs"]
    assert len(hours) == 25
    assert hours[1] == ["00 h", "1"]
    assert hours[10] == ["09 h", "7"]
    assert hours[24] == ["23 h", "0"]


def test_csv_cells_that_look_like_formulas_are_defused():
    report = Report(
        SINCE,
        UNTIL,
        guides=[
            GuideStats('=HYPERLINK("http://x")', 1, 1),
            GuideStats("+cmd", 1, 0),
            GuideStats("-2", 1, 0),
            GuideStats("@sum", 1, 0),
            GuideStats("normal", 1, 0),
        ],
    )
    out = io.StringIO()
    report_csv(report, out)
    guides = sections(out.getvalue())[2]
    assert [row[0] for row in guides[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+cmd",
        "'-2",
        "'@sum",
        "normal",
    ]


def test_an_empty_report_as_csv():
    out = io.StringIO()
    report_csv(Report(SINCE, UNTIL), out)
    parts = sections(out.getvalue())
    assert len(parts) == 9  # the last two: workshops (tests/test_web_workshops.py)
    assert ["taux de messages non compris", ""] in parts[0]
    # The ten categories are there, with zeros, even when nothing happened.
    assert [row[:2] for row in parts[1][1:11]] == [[label, "0"] for label in COOP_LABELS]
    assert parts[2] == [
        [
            "guide",
            "démarrés",
            "terminés",
            "terminés en autonomie",
            "terminés avec un médiateur",
            "taux",
        ]
    ]


# --- SVG ------------------------------------------------------------------------------------


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def labelled_by(root: ET.Element) -> tuple[str, str]:
    """The text of the <title> and <desc> that aria-labelledby names."""
    assert root.get("role") == "img"
    ids = (root.get("aria-labelledby") or "").split()
    assert len(ids) == 2
    by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
    title, desc = by_id[ids[0]], by_id[ids[1]]
    assert (title.tag, desc.tag) == (f"{SVG}title", f"{SVG}desc")
    return title.text or "", desc.text or ""


def texts(root: ET.Element) -> list[str]:
    """Each <text> as read: its lines (tspans) joined by a space."""
    found = []
    for el in root.iter(f"{SVG}text"):
        spans = [span.text or "" for span in el.iter(f"{SVG}tspan")]
        found.append(" ".join(spans) if spans else el.text or "")
    return found


def bars(root: ET.Element) -> list[ET.Element]:
    return [el for el in root.iter(f"{SVG}rect") if el.get("class") == "bar"]


def luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_a_bar_chart_is_accessible_svg():
    svg = svg_bar_chart(
        ["Payer ses impôts", "<script>alert(1)</script>", "Tom & Jerry"],
        [12, 3, 0],
        title="Guides démarrés <du 4 au 10 mars>",
        description="Payer ses impôts : 12 ; les autres : 3 et 0.",
    )
    root = parse(svg)
    assert 'role="img"' in svg
    assert labelled_by(root) == (
        "Guides démarrés <du 4 au 10 mars>",
        "Payer ses impôts : 12 ; les autres : 3 et 0.",
    )
    assert "<script" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "Tom &amp; Jerry" in svg
    shown = texts(root)
    assert "Payer ses impôts" in shown
    assert "<script>alert(1)</script>" in shown
    # Each bar ends with its value; the longest bar is the largest value.
    assert [t for t in shown if t.isdigit()] == ["12", "3", "0"]
    widths = [float(b.get("width") or "nan") for b in bars(root)]
    assert widths[0] > widths[1] > widths[2] == 0
    # Every colour used is readable on white.
    for colour in set(re.findall(r"#[0-9a-fA-F]{6}", svg)):
        assert (1.05) / (luminance(colour) + 0.05) >= 4.5, colour


def test_bar_chart_edge_cases():
    zeros = parse(svg_bar_chart(["a", "b"], [0, 0], title="Zéro", description="Rien."))
    assert [b.get("width") for b in bars(zeros)] == ["0.0", "0.0"]
    assert texts(zeros).count("0") == 2

    empty = parse(svg_bar_chart([], [], title="Vide", description="Aucune donnée."))
    assert labelled_by(empty) == ("Vide", "Aucune donnée.")
    assert texts(empty) == ["Aucune donnée"]
    assert bars(empty) == []

    rates = parse(svg_bar_chart(["x", "y"], [0.5, 0.25], title="Taux", description="."))
    assert "0,5" in texts(rates)
    # A long label wraps over lines, whole: nothing cut, no ellipsis.
    words = "Papiers - Élections Citoyenneté et une démarche au nom vraiment très long"
    long = parse(svg_bar_chart([words, "m" * 90], [1, 2], title="Long", description="."))
    label_texts = [el for el in long.iter(f"{SVG}text") if el.get("class") == "label"]
    lines = [[span.text or "" for span in el.iter(f"{SVG}tspan")] for el in label_texts]
    assert len(lines[0]) >= 2 and " ".join(lines[0]) == words
    assert len(lines[1]) >= 2 and "".join(lines[1]) == "m" * 90
    assert "…" not in "".join(texts(long))

    with pytest.raises(ValueError):
        svg_bar_chart(["a"], [1, 2], title="t", description="d")


def test_two_charts_on_one_page_do_not_share_ids():
    one = parse(svg_bar_chart(["a"], [1], title="Un", description="d"))
    two = parse(svg_bar_chart(["a"], [2], title="Deux", description="d"))
    assert one.get("aria-labelledby") != two.get("aria-labelledby")


def test_the_hours_chart_has_24_bars():
    counts = [0] * 24
    counts[9], counts[14] = 7, 3
    svg = svg_hours_chart(counts, title="Heures <d'affluence>", description="Surtout 9 h.")
    root = parse(svg)
    assert labelled_by(root) == ("Heures <d'affluence>", "Surtout 9 h.")
    found = bars(root)
    assert len(found) == 24
    heights = [float(b.get("height") or "nan") for b in found]
    assert heights[9] > heights[14] > 0
    assert heights.count(0.0) == 22
    shown = texts(root)
    assert [t for t in shown if t.endswith(" h")] == [f"{h} h" for h in range(0, 24, 3)]
    assert "7" in shown and "3" in shown


def test_the_hours_chart_with_no_message():
    root = parse(svg_hours_chart([0] * 24, title="Heures", description="Aucun message."))
    assert len(bars(root)) == 24
    assert "Aucune donnée" in texts(root)
    with pytest.raises(ValueError):
        svg_hours_chart([1] * 23, title="t", description="d")


def test_the_report_charts_together(tracker: Tracker, store: TicketStore):
    fill_week(tracker)
    report = build_report(tracker.log, store, SINCE, UNTIL, PARIS)
    guides = svg_bar_chart(
        [g.guide_id for g in report.guides],
        [g.started for g in report.guides],
        title="Guides démarrés",
        description="Nombre de guides démarrés par démarche.",
    )
    hours = svg_hours_chart(
        report.busiest_hours, title="Messages par heure", description="Heures d'affluence."
    )
    assert len(bars(parse(guides))) == 3
    assert len(bars(parse(hours))) == 24


def test_charts_need_no_inline_style():
    # The web app's Content-Security-Policy (style-src 'self') blocks style attributes.
    for svg in (
        svg_bar_chart(["a"], [1], title="t", description="d"),
        svg_hours_chart([1] * 24, title="t", description="d"),
    ):
        assert all(el.get("style") is None for el in parse(svg).iter())
        assert "<style" not in svg
