"""The workshop store: a mediator plans sessions, visitors book seats or wait for one, a
cancelled booking or session leaves the mediator a list of people to tell, and names and
contacts go when the session is long over. Every store test runs on SQLite and on
PostgreSQL (the `database` fixture); checks of a SQLite file's bytes run on SQLite only."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot import pg
from bot.privacy import redact
from bot.workshops import (
    NUMBER_ALPHABET,
    TZ,
    UnknownBooking,
    WorkshopClosed,
    WorkshopFull,
    WorkshopStore,
    day_label,
    hour_label,
    new_number,
    normalise_number,
)

NOW = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)
# Tuesday 6 October 2026, 14 h in Paris (summer time: 12:00 UTC).
TUESDAY = datetime(2026, 10, 6, 14, 0, tzinfo=TZ)


class FakeClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database, clock: FakeClock) -> Iterator[WorkshopStore]:
    with WorkshopStore(database("workshops"), clock=clock) as opened:
        yield opened


def on_sqlite(store: WorkshopStore) -> bool:
    """Whether the store is a SQLite file, whose bytes a test can read."""
    return store.dialect == "sqlite"


def session_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": "Créer son adresse e-mail",
        "description": "Pour les débutants.\n\nApportez votre téléphone.",
        "starts_at": TUESDAY,
        "duration_minutes": 90,
        "place": "Salle 2",
        "address": "1 place de la Mairie",
        "seats": 3,
        "level": "debutant",
        "guide_ids": ["compte.adresse_email"],
        "actor": "claire",
    }
    fields.update(changes)
    return fields


def book(store: WorkshopStore, workshop_id: int, name: str, **changes: Any):
    fields: dict[str, Any] = {
        "first_name": name,
        "contact_kind": "phone",
        "contact_detail": "06 12 34 56 78",
        "channel": "kiosk",
        "sender_id": f"sender-{name}",
    }
    fields.update(changes)
    return store.book(workshop_id, **fields)


# --- schema and sessions ----------------------------------------------------------------------


def test_opens_with_a_versioned_schema(store: WorkshopStore, database):
    assert store.schema_version == 1
    with WorkshopStore(database("workshops")) as again:  # reopening applies nothing twice
        assert again.schema_version == 1 and again.between(NOW, NOW + timedelta(days=1)) == []


# SQLite only: WAL, secure_delete and the file's DDL are properties of a SQLite file.
def test_a_new_sqlite_file_is_wal_secure_delete_and_keeps_its_ids(tmp_path: Path):
    with WorkshopStore(tmp_path / "workshops.db") as store:
        assert store.journal_mode == "wal"
        assert store.secure_delete_on
    with closing(sqlite3.connect(tmp_path / "workshops.db")) as conn:
        ddl = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    # Ids of sessions and bookings are never given again after a delete; events' may be.
    assert "id INTEGER PRIMARY KEY AUTOINCREMENT" in ddl["workshops"]
    assert "id INTEGER PRIMARY KEY AUTOINCREMENT" in ddl["bookings"]
    assert "id INTEGER PRIMARY KEY," in ddl["workshop_events"]


def test_on_postgresql_the_tables_live_in_the_workshops_schema(fresh_pg_url: str):
    with WorkshopStore(fresh_pg_url) as store:
        assert store.dialect == "postgresql" and store.schema_version == 1
        with store._read() as db:
            found = {
                (row["table_schema"], row["table_name"])
                for row in db.query(
                    "SELECT table_schema, table_name FROM information_schema.tables"
                    " WHERE table_schema = ?",
                    ["workshops"],
                )
            }
    assert {("workshops", t) for t in ("workshops", "bookings", "workshop_events")} <= found


def test_create_keeps_utc_and_counts_seats(store: WorkshopStore):
    session = store.create(**session_fields())
    assert session.starts_at == "2026-10-06T12:00:00+00:00"
    assert session.ends_at == datetime(2026, 10, 6, 13, 30, tzinfo=timezone.utc)
    assert (session.status, session.seats_left, session.booked) == ("prevu", 3, 0)
    assert session.guide_ids == ["compte.adresse_email"]
    assert session.created_by == "claire" and session.series_id is None
    assert store.get(session.id) == session
    assert store.get(session.id + 1) is None


def test_naive_time_from_a_console_form_is_paris_time(store: WorkshopStore):
    session = store.create(**session_fields(starts_at=datetime(2026, 12, 8, 14, 0)))
    assert session.starts_at == "2026-12-08T13:00:00+00:00"  # winter: UTC+1
    assert (day_label(session.starts_at), hour_label(session.starts_at)) == (
        "mardi 8 décembre",
        "14 h",
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seats": 0}, "Le nombre de places doit être au moins 1."),
        ({"seats": "beaucoup"}, "Le nombre de places doit être un nombre entier."),
        ({"seats": 501}, "Le nombre de places doit être au plus 500."),
        ({"title": "   "}, "Le titre est obligatoire."),
        ({"title": "x" * 121}, "Le titre doit faire au plus 120 caractères."),
        ({"place": ""}, "Le lieu est obligatoire."),
        ({"duration_minutes": 5}, "La durée doit être comprise entre 15 minutes et 10 heures."),
        ({"starts_at": "mardi"}, "La date et l'heure de début sont obligatoires."),
        (
            {"level": "expert"},
            "Niveau inconnu. Choisissez parmi : débutant, intermédiaire, confirmé, tous niveaux.",
        ),  # fmt: skip
        ({"guide_ids": ["../etc"]}, "Identifiant de guide invalide : ../etc."),
    ],
)
def test_validation_speaks_french(store: WorkshopStore, changes, message):
    with pytest.raises(ValueError) as caught:
        store.create(**session_fields(**changes))
    assert str(caught.value) == message


def test_series_keeps_the_local_time_across_the_end_of_summer_time(store: WorkshopStore):
    # Every Tuesday for 6 weeks from 6 October 2026; France leaves summer time on 25 October.
    sessions = store.create_series(count=6, every_days=7, **session_fields())
    assert len(sessions) == 6
    assert len({s.series_id for s in sessions}) == 1 and sessions[0].series_id
    local = [s.starts.astimezone(TZ) for s in sessions]
    assert [(t.weekday(), t.hour, t.minute) for t in local] == [(1, 14, 0)] * 6
    assert [t.day for t in local] == [6, 13, 20, 27, 3, 10]
    utc_hours = [s.starts.hour for s in sessions]
    assert utc_hours == [12, 12, 12, 13, 13, 13]


def test_series_validation(store: WorkshopStore):
    with pytest.raises(ValueError, match="Le nombre de séances doit être compris entre 1 et 52."):
        store.create_series(count=0, **session_fields())
    with pytest.raises(ValueError, match="Le nombre de séances"):
        store.create_series(count=53, **session_fields())
    assert store.between(NOW, NOW + timedelta(days=400)) == []


def test_update_bumps_the_sequence_and_guards_seats(store: WorkshopStore):
    session = store.create(**session_fields(seats=2))
    book(store, session.id, "Ana")
    book(store, session.id, "Bob")
    waiting = book(store, session.id, "Chloé")
    assert waiting.status == "attente"
    later = TUESDAY + timedelta(hours=1)
    moved = store.update(session.id, actor="claire", starts_at=later, title="E-mail, niveau 1")
    assert (moved.title, moved.sequence, moved.starts_at) == (
        "E-mail, niveau 1",
        1,
        "2026-10-06T13:00:00+00:00",
    )
    assert moved.ends_at == datetime(2026, 10, 6, 14, 30, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="2 personnes sont déjà inscrites"):
        store.update(session.id, actor="claire", seats=1)
    with pytest.raises(ValueError, match="Champ inconnu : colour."):
        store.update(session.id, actor="claire", colour="bleu")
    # One more seat: Chloé leaves the waiting list and is to be told.
    grown = store.update(session.id, actor="claire", seats=3)
    assert (grown.booked, grown.waiting, grown.sequence) == (3, 0, 2)
    chloe = store.booking(waiting.number)
    assert chloe is not None and (chloe.status, chloe.notify_reason) == ("inscrit", "promoted")


def test_duplicate_copies_to_another_date(store: WorkshopStore):
    session = store.create_series(count=2, **session_fields())[0]
    book(store, session.id, "Ana")
    copy = store.duplicate(session.id, starts_at=TUESDAY + timedelta(days=30), actor="marc")
    assert copy.id != session.id and copy.series_id is None
    assert (copy.title, copy.seats, copy.guide_ids, copy.booked) == (
        session.title,
        session.seats,
        session.guide_ids,
        0,
    )
    assert copy.created_by == "marc"
    assert copy.starts.astimezone(TZ).hour == 14


def test_upcoming_filters_by_guide_and_skips_the_past_and_cancelled(store, clock):
    email = store.create(**session_fields())
    taxes = store.create(
        **session_fields(
            title="Déclarer ses impôts",
            guide_ids=["impots.declaration_revenus", "x"],
            starts_at=TUESDAY + timedelta(days=1),
        )  # fmt: skip
    )
    gone = store.create(**session_fields(starts_at=TUESDAY + timedelta(days=2)))
    store.cancel(gone.id, actor="claire")
    store.create(**session_fields(starts_at=NOW - timedelta(days=1)))
    assert [w.id for w in store.upcoming()] == [email.id, taxes.id]
    assert [w.id for w in store.upcoming(limit=1)] == [email.id]
    assert [w.id for w in store.upcoming(guide_ids=["impots.declaration_revenus"])] == [taxes.id]
    assert [w.id for w in store.upcoming(guide_ids=["x", "compte.adresse_email"])] == [
        email.id,
        taxes.id,
    ]
    # The id is matched whole and literally: « _ » is no wildcard, a prefix is no match.
    assert store.upcoming(guide_ids=["impots.declaration-revenus"]) == []
    assert store.upcoming(guide_ids=["impots.declaration"]) == []
    assert store.upcoming(guide_ids=["IMPOTS.DECLARATION_REVENUS", '"']) == []
    assert store.upcoming(guide_ids=[]) == []
    assert [w.id for w in store.upcoming(now=TUESDAY + timedelta(minutes=1))] == [taxes.id]
    span = store.between(NOW - timedelta(days=2), NOW + timedelta(days=30))
    assert len(span) == 4
    assert len(store.between(NOW - timedelta(days=2), NOW + timedelta(days=30),
                             include_cancelled=False)) == 3  # fmt: skip


# --- bookings ----------------------------------------------------------------------------------


def test_seats_then_waiting_list_then_full(store: WorkshopStore):
    session = store.create(**session_fields(seats=2))
    first = book(store, session.id, "Ana")
    second = book(store, session.id, "Bob", contact_kind="email",
                  contact_detail="bob@example.org")  # fmt: skip
    third = book(store, session.id, "Chloé")
    assert [first.status, second.status, third.status] == ["inscrit", "inscrit", "attente"]
    with pytest.raises(WorkshopFull):
        book(store, session.id, "Dan", waiting_list=False)
    read = store.get(session.id)
    assert read is not None and (read.booked, read.waiting, read.seats_left) == (2, 1, 0)
    assert [b.first_name for b in store.bookings(session.id)] == ["Ana", "Bob", "Chloé"]
    assert second.contact_detail == "bob@example.org" and second.channel == "kiosk"
    assert len({first.number, second.number, third.number}) == 3


def test_same_conversation_booking_twice_gets_its_booking_back(store: WorkshopStore):
    session = store.create(**session_fields())
    once = book(store, session.id, "Ana")
    again = book(store, session.id, "Ana")
    assert again.number == once.number
    assert store.get(session.id).booked == 1  # type: ignore[union-attr]


def test_booking_checks(store: WorkshopStore, clock: FakeClock):
    session = store.create(**session_fields())
    with pytest.raises(ValueError, match="Le prénom est obligatoire."):
        book(store, session.id, " ")
    with pytest.raises(ValueError, match="Le numéro de téléphone est obligatoire."):
        book(store, session.id, "Ana", contact_detail="")
    desk = book(store, session.id, "Paul", contact_kind="none", contact_detail="ignored",
                channel="desk", sender_id=None)  # fmt: skip
    assert (desk.contact_kind, desk.contact_detail, desk.sender_id) == ("none", None, None)
    with pytest.raises(KeyError):
        book(store, session.id + 99, "Ana")
    clock.now = TUESDAY
    with pytest.raises(WorkshopClosed):
        book(store, session.id, "Late")


def test_cancelling_a_booking_promotes_the_first_waiting(store: WorkshopStore):
    session = store.create(**session_fields(seats=1))
    ana = book(store, session.id, "Ana")
    bob = book(store, session.id, "Bob")
    chloe = book(store, session.id, "Chloé")
    cancelled = store.cancel_booking(f"annuler mon inscription {ana.number.lower()}",
                                     actor="guichet")  # fmt: skip
    assert (cancelled.id, cancelled.status) == (ana.id, "annule")
    promoted = store.booking(bob.number)
    assert promoted is not None and (promoted.status, promoted.notify_reason) == (
        "inscrit",
        "promoted",
    )
    assert store.booking(chloe.number).status == "attente"  # type: ignore[union-attr]
    pairs = store.to_notify()
    assert [(b.first_name, w.id) for b, w in pairs] == [("Bob", session.id)]
    store.mark_notified(bob.id, actor="claire")
    assert store.to_notify() == []
    told = store.booking(bob.number)
    assert told is not None and told.notify_reason is None and told.notified_at
    with pytest.raises(UnknownBooking):
        store.cancel_booking(ana.number, actor="guichet")
    with pytest.raises(UnknownBooking):
        store.cancel_booking("ZZZZZ", actor="guichet")
    # A waiting person who cancels frees no seat and promotes no one.
    store.cancel_booking(chloe.number, actor="guichet")
    assert store.get(session.id).waiting == 0  # type: ignore[union-attr]


def test_cancelling_a_session_lists_everyone_to_tell(store: WorkshopStore):
    session = store.create(**session_fields(seats=2))
    other = store.create(**session_fields(starts_at=TUESDAY + timedelta(days=7)))
    names = ["Ana", "Bob", "Chloé"]
    for name in names:
        book(store, session.id, name)
    book(store, other.id, "Zoé")
    gone = book(store, session.id, "Dan")
    store.cancel_booking(gone.number, actor="guichet")
    told = store.cancel(session.id, actor="claire")
    assert [b.first_name for b in told] == names
    assert {b.notify_reason for b in told} == {"cancelled"}
    assert [b.status for b in told] == ["inscrit", "inscrit", "attente"]
    pairs = store.to_notify()
    assert [(b.first_name, w.status) for b, w in pairs] == [(n, "annule") for n in names]
    cancelled = store.get(session.id)
    assert cancelled is not None and cancelled.cancelled and cancelled.sequence == 1
    assert store.cancel(session.id, actor="claire") == []
    with pytest.raises(WorkshopClosed):
        book(store, session.id, "Eve")
    with pytest.raises(WorkshopClosed):
        store.update(session.id, actor="claire", seats=4)


def test_attendance_and_stats(store: WorkshopStore, clock: FakeClock):
    held = store.create(
        **session_fields(seats=3, guide_ids=["compte.adresse_email", "ameli.compte"])
    )
    dropped = store.create(**session_fields(starts_at=TUESDAY + timedelta(days=1)))
    coming = store.create(**session_fields(starts_at=TUESDAY + timedelta(days=30)))
    bookings = [book(store, held.id, n) for n in ("Ana", "Bob", "Chloé", "Dan")]
    book(store, dropped.id, "Eve")
    book(store, coming.id, "Fred")
    store.cancel(dropped.id, actor="claire")
    store.mark_attendance(bookings[0].id, True, actor="claire")
    store.mark_attendance(bookings[1].id, False, actor="claire")
    store.mark_attendance(bookings[2].id, True, actor="claire")
    store.mark_attendance(bookings[2].id, None, actor="claire")  # a mistake, undone
    with pytest.raises(UnknownBooking):
        store.mark_attendance(9999, True, actor="claire")
    assert [b.attended for b in store.bookings(held.id)] == [True, False, None, None]
    clock.now = TUESDAY + timedelta(days=2)
    stats = store.stats(NOW, NOW + timedelta(days=90))
    assert len(stats) == 1  # the cancelled and the coming sessions were not held
    (row,) = stats
    assert (row.workshop_id, row.seats, row.booked, row.attended, row.no_shows) == (
        held.id, 3, 3, 1, 1,
    )  # fmt: skip
    assert (row.unmarked, row.waiting, row.guide_ids) == (
        1,
        1,
        ["compte.adresse_email", "ameli.compte"],
    )


# --- erase and retention ---------------------------------------------------------------------


def db_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_erase_sender_keeps_an_anonymous_seat(store: WorkshopStore):
    session = store.create(**session_fields(seats=2))
    ana = book(store, session.id, "Anastasia", contact_detail="06 98 76 54 32",
               sender_id="visitor-42")  # fmt: skip
    book(store, session.id, "Bob")
    assert store.erase_sender("visitor-42") == 1
    assert store.erase_sender("nobody") == 0
    erased = store.booking(ana.number)
    assert erased is not None and erased.erased and erased.status == "inscrit"
    assert (erased.first_name, erased.contact_detail, erased.sender_id) == ("", None, None)
    assert store.get(session.id).booked == 2  # type: ignore[union-attr]
    # An erased person is no longer on the list to tell.
    store.cancel(session.id, actor="claire")
    assert [b.first_name for b, _ in store.to_notify()] == ["Bob"]
    if on_sqlite(store):  # PostgreSQL keeps deleted bytes until vacuumed (README)
        content = db_bytes(Path(store.path))
        assert b"Anastasia" not in content and b"06 98 76 54 32" not in content
        assert b"visitor-42" not in content


def test_purge_after_the_retention_leaves_no_personal_bytes(store, clock):
    past = store.create(**session_fields())
    future = store.create(**session_fields(starts_at=TUESDAY + timedelta(days=60)))
    cancelled = store.create(**session_fields(starts_at=TUESDAY + timedelta(days=90)))
    book(store, past.id, "Bernadette", contact_kind="email",
         contact_detail="bernadette.dupont@example.org", sender_id="conv-bernadette")  # fmt: skip
    kept = book(store, future.id, "Gontran", contact_detail="07 11 22 33 44")
    book(store, cancelled.id, "Hortense", contact_detail="07 55 66 77 88")
    clock.now = past.ends_at  # cancelled the day the first session ends
    store.cancel(cancelled.id, actor="claire")
    # Not yet: the session ended 29 days ago.
    clock.now = past.ends_at + timedelta(days=29)
    assert store.purge(retention_days=30) == 0
    clock.now = past.ends_at + timedelta(days=31)
    # The cancelled session counts from its cancellation, not its far date.
    assert store.purge(retention_days=30) == 2
    assert store.purge(retention_days=30) == 0
    forgotten = [b for s in (past, cancelled) for b in store.bookings(s.id)]
    assert len(forgotten) == 2 and all(b.erased and b.sender_id is None for b in forgotten)
    if on_sqlite(store):  # PostgreSQL keeps deleted bytes until vacuumed (README)
        content = db_bytes(Path(store.path))
        for secret in (b"Bernadette", b"bernadette.dupont@example.org", b"conv-bernadette",
                       b"Hortense", b"07 55 66 77 88"):  # fmt: skip
            assert secret not in content
        assert b"Gontran" in content  # its session is still to come
    assert store.booking(kept.number).first_name == "Gontran"
    # The anonymous row still counts for the report.
    clock.now = past.ends_at + timedelta(days=40)
    assert [s.booked for s in store.stats(NOW, NOW + timedelta(days=30))] == [1]
    with pytest.raises(ValueError):
        store.purge(retention_days=-1)


# --- booking numbers ---------------------------------------------------------------------------


def test_numbers_are_five_letters_without_vowels_or_digits():
    numbers = {new_number() for _ in range(200)}
    assert all(len(n) == 5 and set(n) <= set(NUMBER_ALPHABET) for n in numbers)
    assert not set(NUMBER_ALPHABET) & set("AEIOUY0123456789")


@pytest.mark.parametrize(
    "template",
    [
        "annuler mon inscription {}",
        "Annuler mon inscription : {}",
        "inscription n° {}",
        "inscription n°{}",
        "inscription N°{}.",
        "inscription numéro {}",
        "je veux annuler l'inscription {} svp",
        "mon code d'inscription est {}",
        "code {}",
    ],
)
def test_numbers_pass_the_privacy_guard(template: str):
    for _ in range(40):
        number = new_number()
        for typed in (number, number.lower(), number.capitalize()):
            sentence = template.format(typed)
            result = redact(sentence)
            assert result.text == sentence, result.kinds
            assert normalise_number(sentence) == number


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("annuler mon inscription KPRST", "KPRST"),
        ("annuler mon inscription kprst merci", "KPRST"),
        ("inscription n° kp rst", "KPRST"),
        ("inscription n°K P R S T", "KPRST"),
        ("c'est le K-P-R-S-T", "KPRST"),
        ("annuler mon inscription", None),
        ("annuler 12345", None),
        ("", None),
    ],
)
def test_normalise_number(sentence: str, expected: str | None):
    assert normalise_number(sentence) == expected


# --- many processes, one last seat ------------------------------------------------------------


def _book_in_process(
    location: str, workshop_id: int, index: int, waiting_list: bool, ready: Any, go: Any, out: Any
) -> None:
    with WorkshopStore(location) as store:
        ready.release()
        go.wait(120)
        try:
            booking = store.book(
                workshop_id,
                first_name=f"Visiteur{index}",
                contact_kind="none",
                contact_detail=None,
                channel="kiosk",
                sender_id=f"race-{index}",
                waiting_list=waiting_list,
            )
        except WorkshopFull:
            out.put("full")
        except Exception as exc:  # reported, so that the test says what went wrong
            out.put(f"error: {exc!r}")
        else:
            out.put(booking.status)


@pytest.mark.parametrize("waiting_list", [True, False])
def test_fifty_processes_book_the_last_three_seats(database, waiting_list: bool):
    location = str(database("race"))
    starts = datetime.now(timezone.utc) + timedelta(days=3)
    with WorkshopStore(location) as store:
        session = store.create(**session_fields(seats=5, starts_at=starts))
        book(store, session.id, "Ana")
        book(store, session.id, "Bob")  # 3 seats left
    # Fifty real processes, each with its own connection to the file or to the server (on
    # PostgreSQL the store's advisory lock is all that keeps them apart). The fork server
    # imports the store once and forks each of them, so that they start in seconds.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bot.workshops", __name__])
    ready, go, out = context.Semaphore(0), context.Event(), context.Queue()
    processes = [
        context.Process(
            target=_book_in_process,
            args=(location, session.id, i, waiting_list, ready, go, out),
        )
        for i in range(50)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:  # every process has its connection open: start them together
            assert ready.acquire(timeout=120)
        go.set()
        results = [out.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
    assert [r for r in results if r.startswith("error")] == []
    assert results.count("inscrit") == 3
    assert results.count("attente" if waiting_list else "full") == 47
    # Read back through a fresh store: what was committed, not what the processes said.
    with WorkshopStore(location) as store:
        statuses = [b.status for b in store.bookings(session.id)]
        read = store.get(session.id)
    counted = {status: statuses.count(status) for status in set(statuses)}
    expected = {"inscrit": 5, "attente": 47} if waiting_list else {"inscrit": 5}
    assert counted == expected
    assert read is not None and (read.booked, read.waiting) == (5, expected.get("attente", 0))


def test_the_daily_purge_covers_bookings(tmp_path: Path, database):
    from bot.settings import Settings
    from bot.tickets import TicketStore, purge_all

    location = database("workshops")
    url = str(location) if pg.is_url(location) else "sqlite"
    settings = Settings(
        Settings.from_env().values | {"DATA_DIR": str(tmp_path), "DATABASE_URL": url}
    )
    with WorkshopStore.open(settings) as store:
        session = store.create(**session_fields(starts_at=datetime.now(timezone.utc)
                                                + timedelta(hours=1)))  # fmt: skip
        booking = book(store, session.id, "Eugénie")
    later = session.ends_at + timedelta(days=settings.workshop_retention_days + 1)
    with TicketStore.open(settings) as tickets:
        assert purge_all(tickets, settings, now=later)["bookings"] == 1
    with WorkshopStore.open(settings) as store:
        forgotten = store.booking(booking.number)
    assert forgotten is not None and forgotten.erased
