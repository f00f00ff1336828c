"""Actions of the step-by-step walk: start a guide, step commands, yes/no, menus."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions._support import apply, catalogue, latest_intent, said, state_from
from actions.workshops import offer_after
from bot import walk

STEP_COMMANDS = {
    "next_step": walk.next_step,
    "previous_step": walk.previous_step,
    "repeat_step": walk.repeat_step,
    "step_detail": walk.step_detail,
    "stuck": walk.stuck,
    "stop_guide": walk.stop,
    walk.CLARIFY_INTENT: walk.not_clear,
}


async def with_offer(
    reply: walk.Reply, before: walk.WalkState, dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    """The reply, then (once per conversation) one sentence about a coming workshop that
    teaches the guide, when the visitor needed help with it."""
    events = apply(reply, dispatcher, tracker)
    had_ticket = tracker.get_slot("ticket_id") is not None
    guide_id = walk.workshop_offer_guide(before, reply, had_ticket=had_ticket)
    return [*events, *await offer_after(dispatcher, tracker, guide_id)]


class ActionStartGuide(Action):
    """A guide intent (named like the guide id) starts that guide at step 1."""

    def name(self) -> str:
        return "action_start_guide"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        cat = catalogue()
        intent = latest_intent(tracker)
        state = state_from(tracker)
        in_context = walk.in_guide(cat, state, said(tracker))
        if in_context is not None:
            reply = in_context
        elif intent in cat:
            reply = walk.start_guide(cat, intent, state)
        else:
            reply = walk.fallback(cat, state, "not_understood")
        return apply(reply, dispatcher, tracker)


class ActionStepCommand(Action):
    """Next, previous, repeat, more detail, stuck, stop — inside the current guide."""

    def name(self) -> str:
        return "action_step_command"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        cat = catalogue()
        state = state_from(tracker)
        reply = walk.in_guide(cat, state, said(tracker))
        if reply is None:
            command = STEP_COMMANDS.get(latest_intent(tracker), walk.repeat_step)
            reply = command(cat, state)
        return await with_offer(reply, state, dispatcher, tracker)


class ActionYesNo(Action):
    """ "Oui" / "non": rates a finished guide, moves on in a guide, or accepts an offer."""

    def name(self) -> str:
        return "action_yes_no"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        cat = catalogue()
        state = state_from(tracker)
        in_context = walk.in_guide(cat, state, said(tracker))
        if in_context is not None:
            return apply(in_context, dispatcher, tracker)
        agreed = latest_intent(tracker) == "affirm"
        if agreed and state.handoff_offered and not state.awaiting_feedback:
            # "Oui" to "Voulez-vous parler à un médiateur ?"
            return [FollowupAction("action_start_handoff")]
        reply = walk.yes(cat, state) if agreed else walk.no(cat, state)
        if reply is None:
            if agreed:
                reply = walk.menu(cat, state, None, intro="D'accord. Que voulez-vous faire ?")
            else:
                reply = walk.stop(cat, state)
        return await with_offer(reply, state, dispatcher, tracker)


class ActionShowMenu(Action):
    """A vague request ("les impôts", "j'ai besoin d'aide") gets a short menu, not a guess."""

    def name(self) -> str:
        return "action_show_menu"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        cat = catalogue()
        intent = latest_intent(tracker)
        domain_id = intent.removeprefix("menu_") if intent.startswith("menu_") else None
        if domain_id and not cat.in_domain(domain_id):
            domain_id = None
        state = state_from(tracker)
        reply = walk.in_guide(cat, state, said(tracker)) or walk.menu(cat, state, domain_id)
        return apply(reply, dispatcher, tracker)


class ActionWelcome(Action):
    """Greeting: a welcome with the most asked démarches; inside a guide, where we are."""

    def name(self) -> str:
        return "action_welcome"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        cat, state = catalogue(), state_from(tracker)
        reply = walk.in_guide(cat, state, said(tracker)) or walk.welcome(cat, state)
        return apply(reply, dispatcher, tracker)
