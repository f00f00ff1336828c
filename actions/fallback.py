"""Actions for requests the bot cannot route: not understood, or outside every guide."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions._support import (
    MISUNDERSTOOD_INTENTS,
    apply,
    catalogue,
    latest_intent,
    previous_user_intent,
    said,
    state_from,
)
from bot import walk


class ActionFallback(Action):
    """`not_covered` for an administrative démarche with no guide, else `not_understood`.

    Two misunderstandings in a row turn the answer into a direct offer of a mediator.
    """

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = latest_intent(tracker)
        reason = "not_covered" if intent == "not_covered" else "not_understood"
        again = reason == "not_understood" and previous_user_intent(tracker) in (
            MISUNDERSTOOD_INTENTS
        )
        cat, state = catalogue(), state_from(tracker)
        # Inside a guide, a bare number or a question about the step keeps the visitor there.
        in_context = walk.in_guide(cat, state, said(tracker), again=again)
        reply = in_context or walk.fallback(cat, state, reason, again=again)
        return apply(reply, dispatcher, tracker)
