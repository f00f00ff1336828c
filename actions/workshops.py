"""Actions for the workshops (ateliers): the coming sessions, the one-sentence offer after a
guide, the booking form and the cancellation by number.

The words are in `bot.workshop_chat`; the sessions and bookings in `bot.workshops`. Like the
hand-off, the full contact detail never enters the conversation: the REST channel holds it
in the ticket store's waiting contacts, and only the booking reads it from there.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._support import catalogue, visitor_channel
from bot import workshop_chat as chat
from bot.contacts import EMAIL_PLACEHOLDER, PHONE_PLACEHOLDER, Contact
from bot.settings import Settings, get_settings
from bot.sqlite_store import error_summary
from bot.tickets import TicketStore
from bot.walk import Message
from bot.workshops import (
    Booking,
    UnknownBooking,
    Workshop,
    WorkshopClosed,
    WorkshopStore,
    normalise_number,
)

log = logging.getLogger(__name__)

FORM_SLOTS = (
    "booking_first_name",
    "booking_contact_kind",
    "booking_contact_detail",
    "booking_contact_confirmed",
    "booking_consent",
)
DETAIL_SLOTS = ("booking_contact_detail", "booking_contact_confirmed")
CANCEL_SLOTS = ("booking_number", "cancel_confirmed")
NO_NUMBER = "-"  # the cancel form's number slot when the visitor gave up on it
BOOKING_CHANNELS = {"kiosk", "widget"}
# The questions answered with typed words (the others with a button: yes or no).
TYPED_SLOTS = (
    "booking_first_name",
    "booking_contact_kind",
    "booking_contact_detail",
    "booking_contact_confirmed",
    "booking_number",
)


def say(dispatcher: CollectingDispatcher, message: Message) -> None:
    dispatcher.utter_message(
        text=message.text,
        buttons=[b.as_dict() for b in message.buttons] or None,
        json_message=message.custom,
    )


# The contact detail the REST channel took out of a message waits in the ticket store's
# waiting contacts, as for the hand-off (actions/handoff.py imports this module for the
# offer, so these few lines are not imported from there).
def peek_contact(settings: Settings, sender_id: str) -> tuple[str, str] | None:
    try:
        with TicketStore.open(settings) as store:
            return store.peek_contact(sender_id)
    except (sqlite3.Error, OSError) as exc:
        log.warning("waiting contact detail not read: %s", error_summary(exc))
        return None


def drop_contact(settings: Settings, sender_id: str) -> None:
    try:
        with TicketStore.open(settings) as store:
            store.drop_contact(sender_id)
    except (sqlite3.Error, OSError) as exc:
        # The purge forgets waiting contact details after two hours anyway.
        log.warning("waiting contact detail not dropped: %s", error_summary(exc))


def clear_form() -> list[EventType]:
    return [SlotSet(name, None) for name in (*FORM_SLOTS, "booking_detail_tries", "requested_slot")]


def clear_cancel() -> list[EventType]:
    return [SlotSet(name, None) for name in (*CANCEL_SLOTS, "requested_slot")]


def text_of(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def _store(settings: Settings | None = None) -> WorkshopStore:
    return WorkshopStore.open(settings or get_settings())


# --- blocking store calls, run in a thread -----------------------------------------------


def read_upcoming(guide_ids: list[str] | None, limit: int) -> list[Workshop]:
    with _store() as store:
        return store.upcoming(limit=limit, guide_ids=guide_ids)


def read_workshop(workshop_id: int) -> Workshop | None:
    with _store() as store:
        return store.get(workshop_id)


def read_booking(number: str) -> tuple[Booking, Workshop | None] | None:
    with _store() as store:
        booking = store.booking(number)
        if booking is None or booking.status == "annule":
            return None
        return booking, store.get(booking.workshop_id)


def next_teaching(guide_id: str) -> Workshop | None:
    """The soonest coming session that teaches this guide: one indexed query. A store that
    cannot be read offers nothing: the offer is a bonus, never a reason to fail a turn."""
    settings = get_settings()
    if not settings.database_url and not settings.workshops_db.exists():
        return None  # no workshop was ever planned: no file to create for this
    try:
        with WorkshopStore.open(settings) as store:
            found = store.upcoming(limit=1, guide_ids=[guide_id])
    except (sqlite3.Error, OSError) as exc:
        log.warning("workshop offer not read: %s", error_summary(exc))
        return None
    return found[0] if found else None


def is_open(workshop: Workshop | None, now: datetime | None = None) -> bool:
    if workshop is None or workshop.status != "prevu":
        return False
    return workshop.starts > (now or datetime.now(timezone.utc))


# --- the list -------------------------------------------------------------------------------


def topic_guides(domain: str) -> list[str]:
    return [g.id for g in catalogue().in_domain(domain)]


def listing(text: str) -> tuple[Message, ...]:
    """The reply to a request for workshops (blocking)."""
    wanted = chat.workshop_id_of(text)
    if wanted is not None:
        workshop = read_workshop(wanted)
        if is_open(workshop):
            return chat.session_list([workshop])
    topic = chat.topic_of(text)
    if topic:
        guides = topic_guides(topic)
        teaching = read_upcoming(guides, chat.LIST_LIMIT) if guides else []
        if teaching:
            return chat.session_list(teaching, topic=topic)
        return chat.session_list([], topic=topic, others=read_upcoming(None, chat.LIST_LIMIT))
    return chat.session_list(read_upcoming(None, chat.LIST_LIMIT))


class ActionListWorkshops(Action):
    """« Quels sont les prochains ateliers ? », « atelier impots », « Voir l'atelier »."""

    def name(self) -> str:
        return "action_list_workshops"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            messages = await asyncio.to_thread(listing, text_of(tracker))
        except (sqlite3.Error, OSError) as exc:
            log.warning("workshops not read: %s", error_summary(exc))
            messages = chat.session_list([])
        for message in messages:
            say(dispatcher, message)
        return []


# --- the one-sentence offer -----------------------------------------------------------------


async def offer_after(
    dispatcher: CollectingDispatcher, tracker: Tracker, guide_id: str | None
) -> list[EventType]:
    """After the main answer: one sentence about a coming session that teaches this guide,
    once per conversation. Called by the guide and hand-off actions."""
    if not guide_id or tracker.get_slot("workshop_offered"):
        return []
    workshop = await asyncio.to_thread(next_teaching, guide_id)
    if workshop is None:
        return []
    say(dispatcher, chat.offer(workshop))
    return [SlotSet("workshop_offered", True)]


# --- the booking form -----------------------------------------------------------------------


class ActionStartBooking(Action):
    """A session chosen (`/book_workshop{"workshop_id": 12}`): say what happens, then the
    booking form asks its questions. Without a session, the list to choose from."""

    def name(self) -> str:
        return "action_start_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        wanted = chat.workshop_id_of(text_of(tracker))
        stay = [*clear_form(), FollowupAction("action_listen")]
        if wanted is None:
            # « je veux m'inscrire à un atelier »: the visitor picks one first.
            return [*await ActionListWorkshops().run(dispatcher, tracker, domain), *stay]
        try:
            workshop = await asyncio.to_thread(read_workshop, wanted)
        except (sqlite3.Error, OSError) as exc:
            log.warning("workshop not read: %s", error_summary(exc))
            say(dispatcher, chat.failed(get_settings()))
            return stay
        if not is_open(workshop):
            say(dispatcher, chat.closed(workshop))
            return stay
        assert workshop is not None
        if not workshop.booking_required:
            say(dispatcher, chat.no_booking_needed(workshop))
            return stay
        dispatcher.utter_message(text=chat.start(workshop))
        return [
            *clear_form(),
            SlotSet("workshop_id", float(workshop.id)),
            FollowupAction("booking_form"),
        ]


class ActionAskBookingFirstName(Action):
    def name(self) -> str:
        return "action_ask_booking_first_name"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        say(dispatcher, chat.ask_first_name())
        return []


class ActionAskBookingContactKind(Action):
    def name(self) -> str:
        return "action_ask_booking_contact_kind"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        say(dispatcher, chat.ask_contact_kind())
        return []


class ActionAskBookingContactDetail(Action):
    def name(self) -> str:
        return "action_ask_booking_contact_detail"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        say(dispatcher, chat.ask_detail(tracker.get_slot("booking_contact_kind") or "phone"))
        return []


class ActionAskBookingContactConfirmed(Action):
    """The partly hidden detail; the REST channel puts the full one in this visitor's answer."""

    def name(self) -> str:
        return "action_ask_booking_contact_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        say(dispatcher, chat.confirm_detail(str(tracker.get_slot("booking_contact_detail") or "")))
        return []


class ActionAskBookingConsent(Action):
    def name(self) -> str:
        return "action_ask_booking_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        kind = tracker.get_slot("booking_contact_kind") or "none"
        say(dispatcher, chat.ask_consent(get_settings(), kind))
        return []


class ValidateBookingForm(FormValidationAction):
    """Checks each answer; the contact detail as the hand-off checks it."""

    def name(self) -> str:
        return "validate_booking_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("booking_contact_kind") not in ("phone", "email"):
            return [s for s in domain_slots if s not in DETAIL_SLOTS]
        return domain_slots

    def validate_booking_first_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        name = chat.parse_first_name(str(value or ""))
        if name is None:
            dispatcher.utter_message(text=chat.bad_first_name())
        return {"booking_first_name": name}

    def validate_booking_contact_kind(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        kind = chat.parse_contact_kind(text)
        if kind is None and PHONE_PLACEHOLDER in text:
            kind = "phone"  # the number typed straight away: it is read back next
        elif kind is None and EMAIL_PLACEHOLDER in text:
            kind = "email"
        if kind is None:
            dispatcher.utter_message(text=chat.bad_contact_kind())
            return {"booking_contact_kind": None}
        if kind in ("phone", "email"):
            placeholder = PHONE_PLACEHOLDER if kind == "phone" else EMAIL_PLACEHOLDER
            if placeholder in text:
                held = peek_contact(get_settings(), tracker.sender_id)
                if held and held[0] == kind:
                    return {
                        "booking_contact_kind": kind,
                        "booking_contact_detail": Contact(*held).shown,
                        "booking_contact_confirmed": None,
                    }
        return {"booking_contact_kind": kind}

    def validate_booking_contact_detail(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        kind = tracker.get_slot("booking_contact_kind")
        placeholder = PHONE_PLACEHOLDER if kind == "phone" else EMAIL_PLACEHOLDER
        held = peek_contact(get_settings(), tracker.sender_id)
        if held and held[0] == kind and placeholder in str(value or ""):
            # Only a partly hidden form goes into the conversation.
            return {
                "booking_contact_detail": Contact(*held).shown,
                "booking_contact_confirmed": None,
            }
        return self._wrong_detail(dispatcher, tracker, kind or "phone")

    def _wrong_detail(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, kind: str
    ) -> dict[str, Any]:
        from bot import handoff

        tries = int(tracker.get_slot("booking_detail_tries") or 0) + 1
        if tries >= chat.MAX_DETAIL_TRIES:
            # The third wrong try: booked without a contact; the desk can add it.
            dispatcher.utter_message(
                text="Ce n'est pas grave : je vous inscris sans moyen de vous prévenir."
            )
            return {
                "booking_contact_kind": "none",
                "booking_contact_detail": None,
                "booking_contact_confirmed": None,
                "booking_detail_tries": None,
            }
        dispatcher.utter_message(text=handoff.bad_detail(kind, last_try=False))
        return {"booking_contact_detail": None, "booking_detail_tries": float(tries)}

    async def validate_booking_contact_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        kind = tracker.get_slot("booking_contact_kind")
        placeholder = PHONE_PLACEHOLDER if kind == "phone" else EMAIL_PLACEHOLDER
        if placeholder in text_of(tracker):
            # Another detail typed instead of yes/no: read back in turn.
            held = await asyncio.to_thread(peek_contact, get_settings(), tracker.sender_id)
            if held and held[0] == kind:
                return {
                    "booking_contact_detail": Contact(*held).shown,
                    "booking_contact_confirmed": None,
                }
        if value is True:
            return {"booking_contact_confirmed": True}
        if value is False:
            await asyncio.to_thread(drop_contact, get_settings(), tracker.sender_id)
            answer = self._wrong_detail(dispatcher, tracker, kind or "phone")
            return {"booking_contact_confirmed": None, **answer}
        dispatcher.utter_message(text=chat.confirm_again())
        return {"booking_contact_confirmed": None}

    def validate_booking_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"booking_consent": bool(value)}


def make_booking(tracker: Tracker, settings: Settings) -> tuple[Booking, Workshop]:
    """Book the chosen session with the form's answers (blocking). Raises WorkshopClosed,
    LookupError for a session gone, or sqlite3.Error."""
    workshop_id = int(tracker.get_slot("workshop_id") or 0)
    kind = tracker.get_slot("booking_contact_kind") or "none"
    detail = None
    if kind in ("phone", "email"):
        held = peek_contact(settings, tracker.sender_id)
        if held and held[0] == kind:
            detail = Contact(*held).display
        else:
            kind = "none"
    channel = visitor_channel(tracker)
    with WorkshopStore.open(settings) as store:
        booking = store.book(
            workshop_id,
            first_name=str(tracker.get_slot("booking_first_name") or "").strip(),
            contact_kind=kind,
            contact_detail=detail,
            channel=channel if channel in BOOKING_CHANNELS else "other",
            sender_id=tracker.sender_id,
            waiting_list=True,
        )
        workshop = store.get(workshop_id)
    if workshop is None:
        raise LookupError(workshop_id)
    # The detail now lives in the booking only.
    drop_contact(settings, tracker.sender_id)
    return booking, workshop


class ActionSubmitBooking(Action):
    """With consent, book (a seat, or the waiting list); without, keep nothing."""

    def name(self) -> str:
        return "action_submit_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        settings = get_settings()
        if not tracker.get_slot("booking_consent"):
            await asyncio.to_thread(drop_contact, settings, tracker.sender_id)
            say(dispatcher, chat.declined(settings))
            return clear_form()
        try:
            booking, workshop = await asyncio.to_thread(make_booking, tracker, settings)
        except (WorkshopClosed, LookupError):
            await asyncio.to_thread(drop_contact, settings, tracker.sender_id)
            say(dispatcher, chat.closed(None))
            return clear_form()
        except (sqlite3.Error, OSError, ValueError) as exc:
            # ValueError: the store refused an answer (the form checks them first).
            log.warning("booking not written: %s", type(exc).__name__)
            await asyncio.to_thread(drop_contact, settings, tracker.sender_id)
            say(dispatcher, chat.failed(settings))
            return clear_form()
        say(dispatcher, chat.created(booking, workshop))
        return clear_form()


async def typed_answer(
    requested: str,
    text: str,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    domain: DomainDict,
) -> dict[str, Any]:
    """The slots the form's own check gives for `text` as the answer to `requested`."""
    if requested == "booking_number":
        return await ValidateCancelBookingForm().validate_booking_number(
            text, dispatcher, tracker, domain
        )
    form = ValidateBookingForm()
    if requested == "booking_contact_confirmed":
        return await form.validate_booking_contact_confirmed(text, dispatcher, tracker, domain)
    check = {
        "booking_first_name": form.validate_booking_first_name,
        "booking_contact_kind": form.validate_booking_contact_kind,
        "booking_contact_detail": form.validate_booking_contact_detail,
    }[requested]
    return check(text, dispatcher, tracker, domain)


class ActionLeaveBooking(Action):
    """« Annuler » inside the booking form or the cancellation: keep nothing, change nothing."""

    def name(self) -> str:
        return "action_leave_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        settings = get_settings()
        loop = (tracker.active_loop or {}).get("name")
        requested = tracker.get_slot("requested_slot")
        text = text_of(tracker)
        if loop and requested in TYPED_SLOTS and not chat.wants_to_leave(text):
            # A typed answer the NLU took for « annuler » (a first name is no training
            # example) is the answer the form asked for. Checked here: a form resumed
            # after another action does not validate, it asks for what is still missing.
            answer = await typed_answer(requested, text, dispatcher, tracker, domain)
            return [*(SlotSet(k, v) for k, v in answer.items()), FollowupAction(loop)]
        if loop == "cancel_booking_form":
            dispatcher.utter_message(text="D'accord, je ne change rien à votre inscription.")
            return [ActiveLoop(None), *clear_cancel()]
        await asyncio.to_thread(drop_contact, settings, tracker.sender_id)
        say(dispatcher, chat.abandoned(settings))
        return [ActiveLoop(None), *clear_form()]


# --- cancelling by number -------------------------------------------------------------------


class ActionStartCancelBooking(Action):
    """« annuler mon inscription K7P3Q »: the number found in the sentence is checked now;
    without one, the form asks for it."""

    def name(self) -> str:
        return "action_start_cancel_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = normalise_number(text_of(tracker))
        events: list[EventType] = [*clear_cancel()]
        if number:
            try:
                found = await asyncio.to_thread(read_booking, number)
            except (sqlite3.Error, OSError) as exc:
                log.warning("booking not read: %s", error_summary(exc))
                say(dispatcher, chat.failed(get_settings()))
                return [*events, FollowupAction("action_listen")]
            if found is None:
                say(dispatcher, chat.unknown_number(number))
                return [*events, FollowupAction("action_listen")]
            events.append(SlotSet("booking_number", number))
        return [*events, FollowupAction("cancel_booking_form")]


class ActionAskBookingNumber(Action):
    def name(self) -> str:
        return "action_ask_booking_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        say(dispatcher, chat.ask_number())
        return []


class ActionAskCancelConfirmed(Action):
    def name(self) -> str:
        return "action_ask_cancel_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = str(tracker.get_slot("booking_number") or "")
        found = await asyncio.to_thread(read_booking, number)
        if found is None:
            say(dispatcher, chat.unknown_number(number))
            return [SlotSet("cancel_confirmed", False), SlotSet("booking_number", NO_NUMBER)]
        say(dispatcher, chat.ask_cancel(number, found[1]))
        return []


class ValidateCancelBookingForm(FormValidationAction):
    def name(self) -> str:
        return "validate_cancel_booking_form"

    async def validate_booking_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == NO_NUMBER:
            return {"booking_number": NO_NUMBER}
        number = normalise_number(str(value or ""))
        found = await asyncio.to_thread(read_booking, number) if number else None
        if found is None:
            # One clear answer, then out of the form: the desk can help.
            say(dispatcher, chat.unknown_number(number))
            return {"booking_number": NO_NUMBER, "cancel_confirmed": False}
        return {"booking_number": number}

    def validate_cancel_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"cancel_confirmed": bool(value)}


class ActionSubmitCancelBooking(Action):
    def name(self) -> str:
        return "action_submit_cancel_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = str(tracker.get_slot("booking_number") or "")
        if number in ("", NO_NUMBER):
            return clear_cancel()  # already told the number is unknown
        if not tracker.get_slot("cancel_confirmed"):
            say(dispatcher, chat.kept(number))
            return clear_cancel()
        try:
            await asyncio.to_thread(cancel_in_store, number)
        except UnknownBooking:
            say(dispatcher, chat.unknown_number(number))
            return clear_cancel()
        except (sqlite3.Error, OSError) as exc:
            log.warning("booking not cancelled: %s", error_summary(exc))
            say(dispatcher, chat.failed(get_settings()))
            return clear_cancel()
        say(dispatcher, chat.cancelled(number))
        return clear_cancel()


def cancel_in_store(number: str) -> None:
    with _store() as store:
        store.cancel_booking(number, actor="guichet")
