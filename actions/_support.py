"""Shared glue between rasa-sdk trackers and the walk core (no actions here)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.guides import Catalogue, load_catalogue
from bot.walk import Reply, Said, WalkState

MISUNDERSTOOD_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})


def catalogue() -> Catalogue:
    return load_catalogue()


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def state_from(tracker: Tracker) -> WalkState:
    return WalkState(
        guide_id=tracker.get_slot("guide_id") or None,
        step=_int(tracker.get_slot("guide_step")),
        stuck_count=_int(tracker.get_slot("stuck_count")),
        awaiting_feedback=bool(tracker.get_slot("awaiting_feedback")),
        handoff_offered=bool(tracker.get_slot("handoff_offered")),
        offer_reason=tracker.get_slot("handoff_reason") or None,
        pending_guide=tracker.get_slot("pending_guide") or None,
        clarify_count=_int(tracker.get_slot("clarify_count")),
    )


def said(tracker: Tracker) -> Said:
    """The latest visitor message: its text, predicted intent, and what the channel masked."""
    latest = tracker.latest_message or {}
    masked: tuple[str, ...] = ()
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            kinds = (event.get("metadata") or {}).get("masked") or ()
            masked = tuple(str(k) for k in kinds) if isinstance(kinds, list | tuple) else ()
            break
    return Said(text=str(latest.get("text") or ""), intent=latest_intent(tracker), masked=masked)


def latest_intent(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("intent", {}).get("name") or "")


def previous_user_intent(tracker: Tracker) -> str | None:
    """Intent of the user message before the latest one, if any."""
    users = [e for e in tracker.events if e.get("event") == "user"]
    if len(users) < 2:
        return None
    return (users[-2].get("parse_data") or {}).get("intent", {}).get("name")


def visitor_channel(tracker: Tracker) -> str:
    """kiosk, widget or other: what the front end said in the latest message's metadata."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            channel = (event.get("metadata") or {}).get("channel")
            if channel:
                return str(channel)
    return "other"


def visitor_kiosk(tracker: Tracker) -> str | None:
    """The kiosk's name, as the kiosk page said it in the latest message's metadata."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            name = (event.get("metadata") or {}).get("kiosk")
            return str(name) if name else None
    return None


def apply(reply: Reply, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """Send the reply's messages and return the slot events that store its state."""
    for message in reply.messages:
        dispatcher.utter_message(
            text=message.text,
            buttons=[b.as_dict() for b in message.buttons] or None,
            json_message=message.custom,
        )
    state = reply.state
    wanted = {
        "guide_id": state.guide_id,
        "guide_step": float(state.step) if state.guide_id else None,
        "stuck_count": float(state.stuck_count),
        "awaiting_feedback": state.awaiting_feedback,
        "handoff_offered": state.handoff_offered,
        "handoff_reason": state.offer_reason,
        "pending_guide": state.pending_guide,
        "clarify_count": float(state.clarify_count),
    }
    events: list[EventType] = [
        SlotSet(name, value) for name, value in wanted.items() if tracker.get_slot(name) != value
    ]
    if reply.feedback is not None:
        events.append(SlotSet("guide_feedback", reply.feedback))
    return events
