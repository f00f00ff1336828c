"""End to end: visitors find and book workshops over the REST channel, against the real
servers (Rasa, the action server) on a stack of their own with its own DATA_DIR.

A session planned in DATA_DIR/workshops.db is listed, booked through the form with a phone
number, confirmed with a booking number; the number is in the store and nowhere else under
DATA_DIR. A booking cancelled by its number frees the seat. Fifty visitors booking the last
seat at once get one seat between them.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from bot.client import send
from bot.tickets import TicketStore
from bot.workshops import Workshop, WorkshopStore
from tests.conftest import SUMMARY

KIOSK = {"channel": "kiosk"}
PHONE = "07 65 43 21 09"
VISITORS = 50


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """DEBUG logging (Rasa's debug lines carry every message and slot) and a DATA_DIR that
    nothing else writes to, so that a search of it sees only these conversations."""
    from bot.settings import Settings
    from bot.stack import MODEL_NAME, Stack, free_port

    settings = Settings.from_env()
    assert (settings.model_dir / MODEL_NAME).exists(), "no trained model: run `make train`"
    values = {
        **settings.values,
        "DATA_DIR": str(tmp_path_factory.mktemp("workshops-var")),
        "LOG_LEVEL": "DEBUG",
        "HANDOFFS_PER_MINUTE": "10000",
    }
    started = Stack(Settings(values), bot_port=free_port(), actions_port=free_port(),
                    web_port=free_port(), quiet=True)  # fmt: skip
    started.start()
    try:
        yield started
    finally:
        started.stop()


def new_sender() -> str:
    return f"atelier-{uuid.uuid4().hex}"


def plan(stack, *, title: str, seats: int, days: int = 3, guides=("impots.paiement",)) -> Workshop:
    starts = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    with WorkshopStore.open(stack.settings) as store:
        return store.create(
            title=title,
            description="En petit groupe, pas à pas.",
            starts_at=starts + timedelta(days=days),
            duration_minutes=120,
            place="Salle 2",
            address="12 rue de la Paix",
            seats=seats,
            level="debutant",
            guide_ids=list(guides),
            actor="camille",
        )


def markers(reply: list[dict]) -> list[dict]:
    """Every custom payload of a reply (bot.client.markers knows only the contract's first
    route keys; the workshops' markers are `workshops` and `booking`)."""
    return [m["custom"] for m in reply if isinstance(m.get("custom"), dict)]


def booking_marker(reply: list[dict]) -> dict:
    found = markers(reply)
    assert len(found) == 1 and "booking" in found[0], reply
    return found[0]


def book_without_contact(url: str, sender: str, workshop_id: int) -> list[dict]:
    """The form up to the consent question, with no contact (« je viendrai »)."""
    choose = f'/book_workshop{{"workshop_id": {workshop_id}}}'
    assert booking_marker(send(url, sender, choose, metadata=KIOSK))["booking"] == "first_name"
    asked = send(url, sender, "Martine", metadata=KIOSK)
    assert booking_marker(asked)["booking"] == "contact_kind"
    consent = send(url, sender, "je viendrai", metadata=KIOSK)
    assert booking_marker(consent)["booking"] == "consent"
    return consent


def test_list_book_confirm_and_the_phone_only_in_the_store(stack):
    url, sender = stack.bot_url, new_sender()
    workshop = plan(stack, title="Payer ses impôts en ligne", seats=8)
    listed = send(url, sender, "vous faites des ateliers sur les impots ?", metadata=KIOSK)
    marker = markers(listed)
    assert marker and workshop.id in marker[0]["workshops"], listed
    payload = f'/book_workshop{{"workshop_id": {workshop.id}}}'
    assert payload in [b["payload"] for m in listed for b in m.get("buttons", [])]

    asked = send(url, sender, payload, metadata=KIOSK)
    assert booking_marker(asked) == {"booking": "first_name"}
    refused = send(url, sender, "jeanne 1958", metadata=KIOSK)
    assert "sans chiffres" in refused[0]["text"]
    assert booking_marker(send(url, sender, "Jeanne", metadata=KIOSK))["booking"] == "contact_kind"
    detail = send(url, sender, "par téléphone", metadata=KIOSK)
    assert booking_marker(detail) == {"booking": "contact_detail", "detail": "phone"}
    read_back = send(url, sender, f"c'est le {PHONE}", metadata=KIOSK)
    assert booking_marker(read_back) == {"booking": "confirm_detail"}
    # The visitor reads the whole number; the conversation keeps 07 •• •• •• 09.
    assert read_back[0]["text"] == f"Vous avez écrit {PHONE}. C'est bien ça ?"
    consent = send(url, sender, "oui", metadata=KIOSK)
    assert booking_marker(consent) == {"booking": "consent"}
    assert "Tout est effacé" in consent[0]["text"]
    done = send(url, sender, "oui j'accepte", metadata=KIOSK)
    created = booking_marker(done)
    assert created["booking"] == "created" and created["waiting"] is False
    assert created["workshop"] == workshop.id and created["starts_at"] == workshop.starts_at
    number = created["number"]
    assert f"Votre numéro d'inscription est {number}." in done[0]["text"]

    with WorkshopStore.open(stack.settings) as store:
        booking = store.booking(number)
    assert booking is not None and booking.status == "inscrit"
    assert booking.first_name == "Jeanne" and booking.channel == "kiosk"
    assert (booking.contact_detail or "").replace(" ", "") == PHONE.replace(" ", "")
    with TicketStore(stack.settings.tickets_db) as tickets:
        assert tickets.peek_contact(sender) is None  # the waiting detail is gone

    from tests.test_e2e_secrets import DiskSearch

    time.sleep(1.5)  # let every server flush its logs and databases
    data_dir = stack.settings.data_dir
    others = [
        p
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and not p.name.startswith(("workshops.db", "tickets.db"))
    ]
    assert any(p.name.startswith("tracker.db") for p in others), others
    assert any(p.name == "rasa.log" for p in others), others
    disk = DiskSearch.of([p.read_bytes() for p in others])
    # The search sees the stored conversation: the read-back in its hidden form.
    assert "vous avez écrit 07 •• •• •• 09" in disk.lowered
    digits = PHONE.replace(" ", "")
    for spelling in (PHONE, digits, PHONE.replace(" ", ".")):
        assert spelling not in disk.lowered, spelling
    assert not disk.holds_number(digits)


def test_cancel_by_number_frees_the_seat(stack):
    url = stack.bot_url
    workshop = plan(stack, title="Sécuriser son compte", seats=1, days=4)
    first, second = new_sender(), new_sender()
    booking_marker(book_without_contact(url, first, workshop.id))
    booked = booking_marker(send(url, first, "oui", metadata=KIOSK))
    assert booked["waiting"] is False
    full = send(url, second, f'/book_workshop{{"workshop_id": {workshop.id}}}', metadata=KIOSK)
    assert "Vous serez prévenu si une place se libère." in full[0]["text"]
    send(url, second, "Paul", metadata=KIOSK)
    send(url, second, "par mail", metadata=KIOSK)
    send(url, second, "paul.martin@exemple.fr", metadata=KIOSK)
    send(url, second, "oui", metadata=KIOSK)
    waiting = booking_marker(send(url, second, "oui", metadata=KIOSK))
    assert waiting["booking"] == "created" and waiting["waiting"] is True

    number = booked["number"]
    asked = send(url, first, f"annuler mon inscription {number}", metadata=KIOSK)
    assert booking_marker(asked) == {"booking": "confirm_cancel", "number": number}
    cancelled = send(url, first, "oui", metadata=KIOSK)
    assert booking_marker(cancelled) == {"booking": "cancelled", "number": number}
    with WorkshopStore.open(stack.settings) as store:
        assert store.booking(number).status == "annule"  # type: ignore[union-attr]
        promoted = store.booking(waiting["number"])
        told = [b.number for b, _ in store.to_notify()]
    assert promoted is not None and promoted.status == "inscrit"
    assert promoted.notify_reason == "promoted" and waiting["number"] in told


def test_an_unknown_number_gets_a_clear_answer(stack):
    reply = send(stack.bot_url, new_sender(), "annuler mon inscription BCDFG", metadata=KIOSK)
    assert booking_marker(reply)["booking"] == "unknown"
    assert "Je ne trouve pas d'inscription avec le numéro BCDFG." in reply[0]["text"]


def test_fifty_visitors_book_the_last_seat_at_once(stack, request):
    url = stack.bot_url
    workshop = plan(stack, title="Le dernier fauteuil", seats=1, days=5)
    senders = [new_sender() for _ in range(VISITORS)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda s: book_without_contact(url, s, workshop.id), senders))

    start = threading.Barrier(VISITORS)

    def consent(sender: str) -> dict:
        start.wait()
        return booking_marker(send(url, sender, "oui", metadata=KIOSK, timeout=120))

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=VISITORS) as pool:
        answers = list(pool.map(consent, senders))
    took = time.perf_counter() - began
    seated = [a for a in answers if a["booking"] == "created" and not a["waiting"]]
    waiting = [a for a in answers if a["booking"] == "created" and a["waiting"]]
    assert len(seated) == 1, answers
    assert len(seated) + len(waiting) == VISITORS
    with WorkshopStore.open(stack.settings) as store:
        statuses = [b.status for b in store.bookings(workshop.id)]
        assert store.get(workshop.id).seats_left == 0  # type: ignore[union-attr]
    assert statuses.count("inscrit") == 1 and statuses.count("attente") == VISITORS - 1
    request.config.stash.setdefault(SUMMARY, []).append(
        f"workshops: {VISITORS} visitors booked the last seat at once over REST: "
        f"1 seat taken, {len(waiting)} on the waiting list, in {took:.1f} s"
    )


def test_stuck_twice_offers_the_workshop_once_after_the_answer(stack):
    url, sender = stack.bot_url, new_sender()
    guide = "france_travail.actualisation"
    workshop = plan(stack, title="S'actualiser chaque mois", seats=6, days=2, guides=(guide,))
    send(url, sender, f"/{guide}", metadata=KIOSK)
    send(url, sender, "je bloque", metadata=KIOSK)
    reply = send(url, sender, "je bloque encore", metadata=KIOSK)
    # The hand-off offer stays the answer, with the reply's one marker; the workshop after.
    assert markers(reply) == [{"handoff": "offered", "reason": "stuck"}]
    offer = reply[-1]
    assert offer["text"].startswith("Un atelier « S'actualiser chaque mois » a lieu ")
    assert "custom" not in offer
    see = f'/list_workshops{{"workshop_id": {workshop.id}}}'
    assert offer["buttons"] == [{"title": "Voir l'atelier", "payload": see}]
    again = send(url, sender, "je bloque", metadata=KIOSK)
    assert not any(m.get("text", "").startswith("Un atelier « ") for m in again)  # once
    shown = send(url, sender, see, metadata=KIOSK)
    assert markers(shown) == [{"workshops": [workshop.id]}]
