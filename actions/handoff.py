"""Actions that hand the visitor over to the human mediator: the hand-off form, its
questions and validation, and the ticket it creates."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions._support import (
    catalogue,
    latest_intent,
    state_from,
    visitor_channel,
    visitor_kiosk,
)
from actions.workshops import offer_after
from bot import handoff, incidents
from bot.contacts import EMAIL_PLACEHOLDER, PHONE_PLACEHOLDER, Contact
from bot.conversations import open_conversations
from bot.settings import Settings, get_settings
from bot.sqlite_store import error_summary
from bot.tickets import (
    LIMIT_CONVERSATION,
    HandoffLimitReached,
    HandoffLimits,
    Ticket,
    TicketStore,
)
from bot.transcript import build_summary, conversation_transcript
from bot.walk import Message

FORM_SLOTS = (
    "contact_preference",
    "contact_detail",
    "contact_confirmed",
    "handoff_problem",
    "handoff_consent",
)
# Wrong tries of the contact detail (unreadable, or « Non, je corrige » at the read-back):
# the third sends the visitor to the desk instead.
MAX_DETAIL_TRIES = 3
DETAIL_SLOTS = ("contact_detail", "contact_confirmed")
MAX_SENTENCE_CHARS = 300

log = logging.getLogger(__name__)


def say(dispatcher: CollectingDispatcher, message: Message) -> None:
    dispatcher.utter_message(
        text=message.text,
        buttons=[b.as_dict() for b in message.buttons] or None,
        json_message=message.custom,
    )


def clear_form() -> list[EventType]:
    return [SlotSet(name, None) for name in (*FORM_SLOTS, "detail_tries", "requested_slot")]


def limit_detail(reached: HandoffLimitReached) -> str:
    # Counts only: an incident never names the visitor or the conversation.
    return f"{reached.count} ticket(s), limite {reached.limit}"


def refuse(
    dispatcher: CollectingDispatcher,
    settings: Settings,
    reached: HandoffLimitReached,
    *,
    answers_kept: bool,
) -> None:
    incidents.record(reached.kind, limit_detail(reached), settings=settings)
    say(dispatcher, handoff.limited(settings, reached.kind, answers_kept=answers_kept))


def limit_reached(settings: Settings, sender_id: str) -> HandoffLimitReached | None:
    """The limit a new ticket would pass now. A database that cannot be read does not stop
    the form: the creation will tell the visitor, with the form's answers kept."""
    try:
        with TicketStore.open(settings) as store:
            return store.handoff_limit(sender_id, HandoffLimits.from_settings(settings))
    except (sqlite3.Error, OSError) as exc:
        log.warning("hand-off limits not checked: %s", error_summary(exc))
        return None


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


def start_events(tracker: Tracker) -> list[EventType]:
    """Why the hand-off happens (an offer the visitor accepted, or a plain request)."""
    state = state_from(tracker)
    reason = state.offer_reason if state.handoff_offered else None
    return [
        SlotSet("handoff_reason", reason if reason in handoff.REASONS else "asked"),
        SlotSet("handoff_offered", False),
        *clear_form(),
    ]


class ActionStartHandoff(Action):
    """The visitor wants a person: explain, then the hand-off form asks its questions."""

    def name(self) -> str:
        return "action_start_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        settings = get_settings()
        # Before the first question: a visitor past a limit is not asked four questions
        # to be refused at the end.
        reached = await asyncio.to_thread(limit_reached, settings, tracker.sender_id)
        if reached is not None:
            refuse(dispatcher, settings, reached, answers_kept=False)
            # action_listen overrides the rule that would open the form next.
            return [
                SlotSet("handoff_offered", False),
                *clear_form(),
                FollowupAction("action_listen"),
            ]
        dispatcher.utter_message(
            text="D'accord. Je prépare une demande pour le médiateur numérique. "
            "Il me faut quelques réponses."
        )
        return [*start_events(tracker), FollowupAction("handoff_form")]


class ActionAskContactPreference(Action):
    def name(self) -> str:
        return "action_ask_contact_preference"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        say(dispatcher, handoff.ask_preference(get_settings(), visitor_channel(tracker)))
        return []


class ActionAskContactDetail(Action):
    def name(self) -> str:
        return "action_ask_contact_detail"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        say(dispatcher, handoff.ask_detail(tracker.get_slot("contact_preference") or "phone"))
        return []


class ActionAskContactConfirmed(Action):
    """« Vous avez écrit 06 •• •• •• 78. C'est bien ça ? »: the slot holds only the partly
    hidden form; the REST channel shows the visitor the full detail, from the store."""

    def name(self) -> str:
        return "action_ask_contact_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        say(dispatcher, handoff.confirm_detail(str(tracker.get_slot("contact_detail") or "")))
        return []


class ActionAskHandoffProblem(Action):
    def name(self) -> str:
        return "action_ask_handoff_problem"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        say(dispatcher, handoff.ask_problem())
        return []


class ActionAskHandoffConsent(Action):
    def name(self) -> str:
        return "action_ask_handoff_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        preference = tracker.get_slot("contact_preference") or "desk"
        say(dispatcher, handoff.ask_consent(get_settings(), preference))
        return []


class ValidateHandoffForm(FormValidationAction):
    """Checks each answer; a bad contact detail gets a clear message and a second chance."""

    def name(self) -> str:
        return "validate_handoff_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("contact_preference") not in handoff.NEEDS_DETAIL:
            return [s for s in domain_slots if s not in DETAIL_SLOTS]
        return domain_slots

    def validate_contact_preference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        preference = handoff.parse_preference(str(value or ""))
        if preference is None:
            dispatcher.utter_message(
                text="Je n'ai pas compris. Choisissez un bouton, ou écrivez « téléphone », "
                "« e-mail », « accueil » ou « plus tard ». Pour arrêter, écrivez « annuler »."
            )
        return {"contact_preference": preference}

    def validate_contact_detail(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        preference = tracker.get_slot("contact_preference")
        placeholder = PHONE_PLACEHOLDER if preference == "phone" else EMAIL_PLACEHOLDER
        try:
            with TicketStore.open() as store:
                held = store.peek_contact(tracker.sender_id)
        except (sqlite3.Error, OSError) as exc:
            log.warning("waiting contact detail not read: %s", error_summary(exc))
            if placeholder in str(value or ""):
                # The REST channel took a detail out of the message; the ticket will read it
                # once the database answers again. Only the placeholder enters the slot,
                # and with nothing to read back, the read-back is skipped.
                return {"contact_detail": placeholder, "contact_confirmed": True}
            held = None
        if held and held[0] == preference and placeholder in str(value or ""):
            # Only a partly hidden form goes into the conversation; the ticket gets the rest.
            return {"contact_detail": Contact(*held).shown, "contact_confirmed": None}
        tries = int(tracker.get_slot("detail_tries") or 0) + 1
        last_try = tries >= MAX_DETAIL_TRIES
        dispatcher.utter_message(text=handoff.bad_detail(preference or "phone", last_try))
        if last_try:
            return {"contact_detail": None, "contact_preference": "later", "detail_tries": None}
        return {"contact_detail": None, "detail_tries": float(tries)}

    async def validate_contact_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        preference = tracker.get_slot("contact_preference")
        placeholder = PHONE_PLACEHOLDER if preference == "phone" else EMAIL_PLACEHOLDER
        said_text = str((tracker.latest_message or {}).get("text") or "")
        if placeholder in said_text:
            # Another detail typed (« non c'est jeanne@… »): the channel took it out of the
            # message and holds it in place of the first; it is read back in turn.
            held = await asyncio.to_thread(peek_contact, get_settings(), tracker.sender_id)
            if held and held[0] == preference:
                return {"contact_detail": Contact(*held).shown, "contact_confirmed": None}
        if value is True:
            return {"contact_confirmed": True}
        if value is False:
            # « Non, je corrige »: the detail is forgotten at once, then asked again.
            await asyncio.to_thread(drop_contact, get_settings(), tracker.sender_id)
            tries = int(tracker.get_slot("detail_tries") or 0) + 1
            if tries >= MAX_DETAIL_TRIES:
                dispatcher.utter_message(text=handoff.give_up_detail())
                return {
                    "contact_detail": None,
                    "contact_confirmed": None,
                    "contact_preference": "later",
                    "detail_tries": None,
                }
            dispatcher.utter_message(text="D'accord, je l'efface.")
            return {"contact_detail": None, "contact_confirmed": None, "detail_tries": float(tries)}
        dispatcher.utter_message(text=handoff.confirm_again())
        return {"contact_confirmed": None}

    def validate_handoff_problem(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if latest_intent(tracker) == "deny" or str(value or "").startswith("/"):
            return {"handoff_problem": "-"}
        return {"handoff_problem": str(value or "").strip()[:MAX_SENTENCE_CHARS] or "-"}

    def validate_handoff_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"handoff_consent": bool(value)}


def create_ticket(tracker: Tracker, settings: Settings) -> Ticket:
    """The ticket of the form's answers (blocking: run in a thread). Raises
    `HandoffLimitReached`, or `sqlite3.Error` once the store's retry budget is spent."""
    preference = tracker.get_slot("contact_preference") or "desk"
    with TicketStore.open(settings) as store:
        held = store.peek_contact(tracker.sender_id)
        detail = None
        if preference in handoff.NEEDS_DETAIL and held and held[0] == preference:
            detail = Contact(*held).display
        state = state_from(tracker)
        guide = catalogue().get(state.guide_id or "")
        sentence = tracker.get_slot("handoff_problem")
        sentence = None if sentence in (None, "-") else sentence
        transcript = conversation_transcript(
            open_conversations(settings), tracker.sender_id, list(tracker.events)
        )
        reason = tracker.get_slot("handoff_reason") or "asked"
        step = state.step if guide else None
        return store.create(
            sender_id=tracker.sender_id,
            channel=visitor_channel(tracker),
            kiosk=visitor_kiosk(tracker),
            reason=reason,
            contact_preference=preference,
            contact_detail=detail,
            visitor_sentence=sentence,
            guide_id=guide.id if guide else None,
            step=step,
            steps=guide.step_count if guide else None,
            summary=build_summary(
                reason=reason,
                guide_title=guide.title if guide else None,
                step=step,
                steps=guide.step_count if guide else None,
                visitor_sentence=sentence,
                transcript=transcript,
            ),
            transcript=transcript,
            limits=HandoffLimits.from_settings(settings),
        )


async def submit(
    dispatcher: CollectingDispatcher, tracker: Tracker, settings: Settings
) -> list[EventType]:
    """Create the ticket; when it cannot be written, say so and keep the form's answers
    (the slots, and the contact detail waiting in the store) for « Réessayer »."""
    preference = tracker.get_slot("contact_preference") or "desk"
    try:
        ticket = await asyncio.to_thread(create_ticket, tracker, settings)
    except HandoffLimitReached as reached:
        if reached.kind == LIMIT_CONVERSATION:
            await asyncio.to_thread(drop_contact, settings, tracker.sender_id)
            refuse(dispatcher, settings, reached, answers_kept=False)
            return clear_form()
        # Too many tickets this minute: the answers wait for « Réessayer ».
        refuse(dispatcher, settings, reached, answers_kept=True)
        return []
    except (sqlite3.Error, OSError) as exc:
        # Never the visitor's text: SQLite's messages do not quote the data.
        incidents.record("ticket_write_failed", error_summary(exc), settings=settings)
        say(dispatcher, handoff.failed(settings))
        return []
    say(dispatcher, handoff.created(settings, ticket.id, preference))
    # After the ticket, never instead: a coming workshop that teaches the guide.
    offered = await offer_after(dispatcher, tracker, state_from(tracker).guide_id)
    return [*clear_form(), SlotSet("ticket_id", float(ticket.id)), *offered]


def answers_waiting(tracker: Tracker) -> bool:
    """A consented form whose ticket could not be written yet (the slots stay set)."""
    return bool(tracker.get_slot("handoff_consent")) and bool(
        tracker.get_slot("contact_preference")
    )


class ActionSubmitHandoff(Action):
    """With consent, create the follow-up ticket; without, keep nothing and say where to go."""

    def name(self) -> str:
        return "action_submit_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        settings = get_settings()
        if not tracker.get_slot("handoff_consent"):
            await asyncio.to_thread(drop_contact, settings, tracker.sender_id)
            say(dispatcher, handoff.declined(settings))
            offered = await offer_after(dispatcher, tracker, state_from(tracker).guide_id)
            return [*clear_form(), *offered]
        return await submit(dispatcher, tracker, settings)


class ActionRetryHandoff(Action):
    """« Réessayer » after a ticket could not be written: the same answers, once more."""

    def name(self) -> str:
        return "action_retry_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if not answers_waiting(tracker):
            say(dispatcher, handoff.nothing_to_retry())
            return []
        return await submit(dispatcher, tracker, get_settings())


class ActionCancelHandoff(Action):
    """ "Annuler", "non merci": leave the form, keep nothing, say what happens next."""

    def name(self) -> str:
        return "action_cancel_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        settings = get_settings()
        await asyncio.to_thread(drop_contact, settings, tracker.sender_id)
        say(dispatcher, handoff.cancelled(settings))
        return [ActiveLoop(None), *clear_form()]
