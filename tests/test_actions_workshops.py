"""The workshop actions, awaited with tracker fixtures, the real domain.yml and real SQLite
stores (workshops.db and the waiting contacts of tickets.db) in a fresh DATA_DIR."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.guides import ActionStepCommand, ActionYesNo
from actions.handoff import ActionSubmitHandoff
from actions.workshops import (
    ActionAskBookingConsent,
    ActionAskBookingContactConfirmed,
    ActionLeaveBooking,
    ActionListWorkshops,
    ActionStartBooking,
    ActionStartCancelBooking,
    ActionSubmitBooking,
    ActionSubmitCancelBooking,
    ValidateBookingForm,
    ValidateCancelBookingForm,
)
from bot.settings import get_settings
from bot.tickets import TicketStore
from bot.workshops import Workshop, WorkshopStore
from tests.test_actions import markers, run

TAX_GUIDE = "impots.declaration_revenus"
MAIL_GUIDE = "compte.adresse_email"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    return tmp_path


def plan(
    *, title: str = "Déclarer ses revenus en ligne", days: int = 3, seats: int = 8,
    guides: tuple[str, ...] = (TAX_GUIDE,), booking_required: bool = True,
) -> Workshop:  # fmt: skip
    starts = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=days)
    with WorkshopStore.open() as store:
        return store.create(
            title=title,
            description="Pas à pas, en petit groupe.",
            starts_at=starts,
            duration_minutes=90,
            place="Salle 2",
            address="12 rue de la Paix",
            seats=seats,
            level="debutant",
            guide_ids=list(guides),
            booking_required=booking_required,
            actor="camille",
        )


def book_directly(workshop: Workshop, sender: str = "other") -> str:
    with WorkshopStore.open() as store:
        return store.book(
            workshop.id, first_name="Ali", contact_kind="none", contact_detail=None,
            channel="desk", sender_id=sender,
        ).number  # fmt: skip


def hold(kind: str, value: str, sender: str = "test") -> None:
    with TicketStore.open() as store:
        store.hold_contact(sender, kind, value)


def held(sender: str = "test") -> tuple[str, str] | None:
    with TicketStore.open() as store:
        return store.peek_contact(sender)


def followups(events: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in events if e["event"] == "followup"]


def test_action_names_are_in_the_domain(domain):
    for action in (ActionListWorkshops, ActionStartBooking, ActionSubmitBooking,
                   ActionLeaveBooking, ActionStartCancelBooking, ActionSubmitCancelBooking,
                   ValidateBookingForm, ValidateCancelBookingForm, ActionAskBookingConsent,
                   ActionAskBookingContactConfirmed):  # fmt: skip
        assert action().name() in domain["actions"]


async def test_the_list_of_coming_sessions(make_tracker, domain, data_dir):
    later = plan(title="Créer son adresse e-mail", days=5, guides=(MAIL_GUIDE,))
    sooner = plan(days=2)
    tracker = make_tracker("list_workshops", text="quels sont les prochains ateliers")
    messages, _ = await run(ActionListWorkshops(), tracker, domain)
    assert markers(messages) == [{"workshops": [sooner.id, later.id]}]
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == [
        f'/book_workshop{{"workshop_id": {sooner.id}}}',
        f'/book_workshop{{"workshop_id": {later.id}}}',
        "/ask_human",
    ]
    assert "8 places restantes" in messages[0]["text"]


async def test_the_list_filtered_by_the_demarche_named(make_tracker, domain, data_dir):
    plan(title="Créer son adresse e-mail", days=1, guides=(MAIL_GUIDE,))
    taxes = plan(days=4)
    messages, _ = await run(
        ActionListWorkshops(), make_tracker("list_workshops", text="atelier impots"), domain
    )
    assert markers(messages) == [{"workshops": [taxes.id]}]
    assert "sur les impôts" in messages[0]["text"]


async def test_a_demarche_without_session_says_so_and_lists_the_others(
    make_tracker, domain, data_dir
):
    other = plan(days=2)
    messages, _ = await run(
        ActionListWorkshops(), make_tracker("list_workshops", text="atelier caf"), domain
    )
    assert "pas d'atelier prévu sur la CAF" in messages[0]["text"]
    assert markers(messages) == [{"workshops": [other.id]}]


async def test_no_session_at_all(make_tracker, domain, data_dir):
    messages, _ = await run(ActionListWorkshops(), make_tracker("list_workshops"), domain)
    assert markers(messages) == [{"workshops": []}]
    assert messages[0]["buttons"][0]["payload"] == "/ask_human"


async def test_see_the_workshop_button_shows_that_session(make_tracker, domain, data_dir):
    plan(days=1)
    wanted = plan(days=6)
    text = f'/list_workshops{{"workshop_id": {wanted.id}}}'
    messages, _ = await run(
        ActionListWorkshops(), make_tracker("list_workshops", text=text), domain
    )
    assert markers(messages) == [{"workshops": [wanted.id]}]


async def test_start_booking_opens_the_form(make_tracker, domain, data_dir):
    workshop = plan()
    text = f'/book_workshop{{"workshop_id": {workshop.id}}}'
    dispatcher = CollectingDispatcher()
    events = await ActionStartBooking().run(
        dispatcher, make_tracker("book_workshop", text=text), domain
    )
    assert followups(events) == ["booking_form"]
    assert {"event": "slot", "name": "workshop_id", "value": float(workshop.id),
            "timestamp": None} in events  # fmt: skip
    assert (
        "Je vous inscris à l'atelier « Déclarer ses revenus en ligne »"
        in (dispatcher.messages[0]["text"])
    )


async def test_a_full_session_offers_the_waiting_list(make_tracker, domain, data_dir):
    workshop = plan(seats=1)
    book_directly(workshop)
    text = f'/book_workshop{{"workshop_id": {workshop.id}}}'
    dispatcher = CollectingDispatcher()
    events = await ActionStartBooking().run(
        dispatcher, make_tracker("book_workshop", text=text), domain
    )
    assert followups(events) == ["booking_form"]
    assert "Vous serez prévenu si une place se libère." in dispatcher.messages[0]["text"]


async def test_a_cancelled_session_or_typed_words_do_not_open_the_form(
    make_tracker, domain, data_dir
):
    workshop = plan()
    with WorkshopStore.open() as store:
        store.cancel(workshop.id, actor="camille")
    text = f'/book_workshop{{"workshop_id": {workshop.id}}}'
    dispatcher = CollectingDispatcher()
    events = await ActionStartBooking().run(
        dispatcher, make_tracker("book_workshop", text=text), domain
    )
    assert followups(events) == ["action_listen"]
    assert "n'est plus ouvert" in dispatcher.messages[0]["text"]
    typed = make_tracker("book_workshop", text="je veux m'inscrire a un atelier")
    dispatcher = CollectingDispatcher()
    events = await ActionStartBooking().run(dispatcher, typed, domain)
    assert followups(events) == ["action_listen"]
    assert markers(dispatcher.messages) == [{"workshops": []}]


@pytest.mark.parametrize("typed", ["jeanne 1958", "[mot de passe masqué]", "[téléphone]"])
async def test_first_name_refuses_digits_and_secrets(make_tracker, domain, typed):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("greet", text=typed)
    result = ValidateBookingForm().validate_booking_first_name(typed, dispatcher, tracker, domain)
    assert result == {"booking_first_name": None}
    assert "sans chiffres" in dispatcher.messages[0]["text"]


async def test_the_contact_detail_enters_the_conversation_partly_hidden(
    make_tracker, domain, data_dir
):
    hold("phone", "0612345678")
    tracker = make_tracker("greet", {"booking_contact_kind": "phone"}, text="[téléphone]")
    result = ValidateBookingForm().validate_booking_contact_detail(
        "[téléphone]", CollectingDispatcher(), tracker, domain
    )
    assert result == {
        "booking_contact_detail": "06 •• •• •• 78",
        "booking_contact_confirmed": None,
    }
    assert "12 34 56" not in str(result)


async def test_an_unreadable_detail_is_asked_again(make_tracker, domain, data_dir):
    tracker = make_tracker("greet", {"booking_contact_kind": "phone"}, text="bof")
    dispatcher = CollectingDispatcher()
    result = ValidateBookingForm().validate_booking_contact_detail(
        "bof", dispatcher, tracker, domain
    )
    assert result == {"booking_contact_detail": None, "booking_detail_tries": 1.0}
    assert "Ce numéro de téléphone ne semble pas correct" in dispatcher.messages[0]["text"]


def form_slots(workshop: Workshop, **extra: Any) -> dict[str, Any]:
    return {
        "workshop_id": float(workshop.id),
        "booking_first_name": "Jeanne",
        "booking_contact_kind": "phone",
        "booking_contact_detail": "06 •• •• •• 78",
        "booking_contact_confirmed": True,
        "booking_consent": True,
        **extra,
    }


async def test_submit_books_with_the_contact_and_forgets_the_waiting_detail(
    make_tracker, domain, data_dir
):
    workshop = plan()
    hold("phone", "0612345678")
    messages, slots = await run(
        ActionSubmitBooking(), make_tracker("affirm", form_slots(workshop)), domain
    )
    (marker,) = markers(messages)
    assert marker["booking"] == "created" and marker["waiting"] is False
    assert marker["workshop"] == workshop.id and marker["starts_at"] == workshop.starts_at
    with WorkshopStore.open() as store:
        (booking,) = store.bookings(workshop.id)
    assert booking.number == marker["number"] and booking.status == "inscrit"
    assert booking.first_name == "Jeanne" and booking.contact_kind == "phone"
    assert booking.contact_detail is not None
    assert booking.contact_detail.replace(" ", "") == "0612345678"
    assert booking.sender_id == "test"
    assert held() is None
    assert f"Votre numéro d'inscription est {booking.number}." in messages[0]["text"]
    assert slots["booking_first_name"] is None and slots["booking_consent"] is None


async def test_submit_on_a_full_session_puts_on_the_waiting_list(make_tracker, domain, data_dir):
    workshop = plan(seats=1)
    book_directly(workshop)
    slots = form_slots(workshop, booking_contact_kind="none", booking_contact_detail=None)
    messages, _ = await run(ActionSubmitBooking(), make_tracker("affirm", slots), domain)
    (marker,) = markers(messages)
    assert marker["booking"] == "created" and marker["waiting"] is True
    assert "liste d'attente" in messages[0]["text"]
    with WorkshopStore.open() as store:
        assert [b.status for b in store.bookings(workshop.id)] == ["inscrit", "attente"]


async def test_no_consent_keeps_nothing(make_tracker, domain, data_dir):
    workshop = plan()
    hold("phone", "0612345678")
    slots = form_slots(workshop, booking_consent=False)
    messages, _ = await run(ActionSubmitBooking(), make_tracker("deny", slots), domain)
    assert markers(messages) == [{"booking": "declined"}]
    with WorkshopStore.open() as store:
        assert store.bookings(workshop.id) == []
    assert held() is None


async def test_annuler_leaves_the_form_and_keeps_nothing(make_tracker, domain, data_dir):
    hold("email", "jeanne@exemple.fr")
    messages, slots = await run(ActionLeaveBooking(), make_tracker("stop_guide"), domain)
    assert markers(messages) == [{"booking": "abandoned"}]
    assert held() is None and slots["booking_first_name"] is None


async def test_cancel_by_number_asks_then_frees_the_seat(make_tracker, domain, data_dir):
    workshop = plan(seats=1)
    number = book_directly(workshop, sender="first")
    waiting = book_directly(workshop, sender="second")
    tracker = make_tracker("cancel_booking", text=f"annuler mon inscription {number.lower()}")
    events = await ActionStartCancelBooking().run(CollectingDispatcher(), tracker, domain)
    assert followups(events) == ["cancel_booking_form"]
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"}["booking_number"] == (
        number
    )
    confirmed = make_tracker("affirm", {"booking_number": number, "cancel_confirmed": True})
    messages, _ = await run(ActionSubmitCancelBooking(), confirmed, domain)
    assert markers(messages) == [{"booking": "cancelled", "number": number}]
    with WorkshopStore.open() as store:
        assert store.booking(number).status == "annule"  # type: ignore[union-attr]
        promoted = store.booking(waiting)
    assert promoted is not None and promoted.status == "inscrit"


async def test_no_keeps_the_booking(make_tracker, domain, data_dir):
    number = book_directly(plan())
    tracker = make_tracker("deny", {"booking_number": number, "cancel_confirmed": False})
    messages, _ = await run(ActionSubmitCancelBooking(), tracker, domain)
    assert markers(messages) == [{"booking": "kept", "number": number}]
    with WorkshopStore.open() as store:
        assert store.booking(number).status == "inscrit"  # type: ignore[union-attr]


async def test_an_unknown_number_gets_a_clear_answer(make_tracker, domain, data_dir):
    plan()
    tracker = make_tracker("cancel_booking", text="annuler mon inscription BCDFG")
    dispatcher = CollectingDispatcher()
    events = await ActionStartCancelBooking().run(dispatcher, tracker, domain)
    assert followups(events) == ["action_listen"]
    assert "Je ne trouve pas d'inscription avec le numéro BCDFG." in dispatcher.messages[0]["text"]
    dispatcher = CollectingDispatcher()
    result = await ValidateCancelBookingForm().validate_booking_number(
        "ZZZZZ", dispatcher, make_tracker("greet", text="ZZZZZ"), domain
    )
    assert result["cancel_confirmed"] is False
    assert "Je ne trouve pas" in dispatcher.messages[0]["text"]


# --- the one-sentence offer -----------------------------------------------------------------


def offers(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("text", "").startswith("Un atelier « ")]


async def test_stuck_twice_offers_the_workshop_once(make_tracker, domain, data_dir):
    workshop = plan()
    slots = {"guide_id": TAX_GUIDE, "guide_step": 2.0, "stuck_count": 1.0}
    messages, set_slots = await run(ActionStepCommand(), make_tracker("stuck", slots), domain)
    # The main answer first, with the reply's one marker; the offer after, without.
    assert markers(messages) == [{"handoff": "offered", "reason": "stuck"}]
    (offer,) = offers(messages)
    assert messages[-1] is offer and not offer.get("custom")
    assert offer["buttons"] == [
        {"title": "Voir l'atelier", "payload": f'/list_workshops{{"workshop_id": {workshop.id}}}'}
    ]
    assert set_slots["workshop_offered"] is True
    again = make_tracker("stuck", {**slots, "workshop_offered": True})
    messages, _ = await run(ActionStepCommand(), again, domain)
    assert offers(messages) == []


async def test_no_offer_for_a_guide_no_workshop_teaches(make_tracker, domain, data_dir):
    plan(guides=(MAIL_GUIDE,))
    slots = {"guide_id": TAX_GUIDE, "guide_step": 2.0, "stuck_count": 1.0}
    messages, set_slots = await run(ActionStepCommand(), make_tracker("stuck", slots), domain)
    assert offers(messages) == [] and "workshop_offered" not in set_slots


async def test_stuck_once_offers_nothing(make_tracker, domain, data_dir):
    plan()
    slots = {"guide_id": TAX_GUIDE, "guide_step": 2.0, "stuck_count": 0.0}
    messages, _ = await run(ActionStepCommand(), make_tracker("stuck", slots), domain)
    assert offers(messages) == []


@pytest.mark.parametrize(
    ("intent", "ticket", "offered"),
    [("deny", None, True), ("affirm", None, False), ("affirm", 4.0, True)],
)
async def test_a_guide_finished_with_help_offers_the_workshop(
    make_tracker, domain, data_dir, intent, ticket, offered
):
    plan()
    slots = {"guide_id": TAX_GUIDE, "guide_step": 5.0, "awaiting_feedback": True,
             "ticket_id": ticket}  # fmt: skip
    messages, _ = await run(ActionYesNo(), make_tracker(intent, slots), domain)
    assert len(offers(messages)) == (1 if offered else 0)
    assert messages[0]["text"].startswith("Merci")  # the main answer comes first


async def test_a_hand_off_about_a_taught_guide_ends_with_the_offer(make_tracker, domain, data_dir):
    plan()
    slots = {"guide_id": TAX_GUIDE, "guide_step": 3.0, "contact_preference": "later",
             "handoff_consent": True, "handoff_reason": "asked"}  # fmt: skip
    messages, set_slots = await run(ActionSubmitHandoff(), make_tracker("affirm", slots), domain)
    assert markers(messages)[0]["handoff"] == "created"  # the hand-off is never replaced
    assert len(offers(messages)) == 1 and messages[-1] == offers(messages)[0]
    assert set_slots["workshop_offered"] is True


async def test_no_workshop_database_no_file_created(make_tracker, domain, data_dir):
    slots = {"guide_id": TAX_GUIDE, "guide_step": 2.0, "stuck_count": 1.0}
    messages, _ = await run(ActionStepCommand(), make_tracker("stuck", slots), domain)
    assert offers(messages) == []
    assert not get_settings().workshops_db.exists()


async def test_a_first_name_taken_for_annuler_is_an_answer(make_tracker, domain, data_dir):
    # « Jeanne » is no training example: the NLU may call it `stop_guide`.
    tracker = make_tracker("stop_guide", {"requested_slot": "booking_first_name"}, text="Jeanne")
    tracker.active_loop = {"name": "booking_form"}
    events = await ActionLeaveBooking().run(CollectingDispatcher(), tracker, domain)
    assert followups(events) == ["booking_form"]
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == {
        "booking_first_name": "Jeanne"
    }
    # Checked as the form would: a bad answer is refused with the form's sentence.
    tracker = make_tracker("stop_guide", {"requested_slot": "booking_first_name"}, text="Jo 12")
    tracker.active_loop = {"name": "booking_form"}
    dispatcher = CollectingDispatcher()
    events = await ActionLeaveBooking().run(dispatcher, tracker, domain)
    assert followups(events) == ["booking_form"]
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == {
        "booking_first_name": None
    }
    assert "sans chiffres" in dispatcher.messages[0]["text"]
    kind = make_tracker(
        "stop_guide", {"requested_slot": "booking_contact_kind"}, text="je viendrai"
    )
    kind.active_loop = {"name": "booking_form"}
    events = await ActionLeaveBooking().run(CollectingDispatcher(), kind, domain)
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == {
        "booking_contact_kind": "none"
    }
    leave = make_tracker("stop_guide", {"requested_slot": "booking_first_name"}, text="annuler")
    leave.active_loop = {"name": "booking_form"}
    events = await ActionLeaveBooking().run(CollectingDispatcher(), leave, domain)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
