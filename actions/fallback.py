"""Actions for requests the bot cannot route: not understood, or outside every guide."""

from __future__ import annotations

import logging
from dataclasses import replace
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
from bot import opening, orientation, walk
from bot.settings import get_settings

log = logging.getLogger(__name__)


class ActionFallback(Action):
    """`not_covered` for an administrative démarche with no guide, else `not_understood`.

    An `orientation.<id>` intent is `not_covered` too, with the official service of the
    orientation table first. Two misunderstandings in a row turn the answer into a direct
    offer of a mediator.
    """

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = latest_intent(tracker)
        entry_id = orientation.entry_id_of(intent)
        reason = "not_covered" if intent == "not_covered" or entry_id else "not_understood"
        again = reason == "not_understood" and previous_user_intent(tracker) in (
            MISUNDERSTOOD_INTENTS
        )
        cat, state = catalogue(), state_from(tracker)
        seen = said(tracker)
        if entry_id:
            # Inside a guide, an orientation request is read as any démarche without a guide.
            seen = replace(seen, intent="not_covered")
        # Inside a guide, a bare number or a question about the step keeps the visitor there.
        in_context = walk.in_guide(cat, state, seen, again=again)
        if in_context:
            return apply(in_context, dispatcher, tracker)
        settings = get_settings()
        desk_open = opening.is_open(value=settings.org_opening)
        hours = settings.values["ORG_HOURS"]
        entry = self._entry(entry_id) if entry_id else None
        if entry is not None:
            reply = walk.orient(cat, state, entry, desk_open=desk_open, hours=hours)
        else:
            reply = walk.fallback(cat, state, reason, again=again, desk_open=desk_open, hours=hours)
        return apply(reply, dispatcher, tracker)

    @staticmethod
    def _entry(entry_id: str) -> orientation.Orientation | None:
        """The table's entry, or None (the generic answer) when it is missing or invalid."""
        try:
            entry = orientation.load_table().get(entry_id)
        except orientation.OrientationError as exc:
            log.error("orientation table refused: %s", exc)
            return None
        if entry is None:
            log.error("no orientation entry %r", entry_id)
        return entry
