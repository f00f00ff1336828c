"""Actions that hand the visitor over to the human mediator."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions._support import apply, catalogue, state_from
from bot import walk


class ActionAskHuman(Action):
    """The visitor asks for a person: say where the mediator is."""

    def name(self) -> str:
        return "action_ask_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return apply(walk.offer_handoff(catalogue(), state_from(tracker)), dispatcher, tracker)
