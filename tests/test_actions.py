"""Every custom action, awaited with tracker fixtures and the real domain.yml."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallback
from actions.guides import (
    ActionShowMenu,
    ActionStartGuide,
    ActionStepCommand,
    ActionWelcome,
    ActionYesNo,
)
from actions.handoff import ActionAskHuman

GUIDE = "france_travail.actualisation"


async def run(action, tracker, domain) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return dispatcher.messages, slots


def markers(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["custom"] for m in messages if m.get("custom")]


def test_action_names_are_in_the_domain(domain):
    for action in (ActionStartGuide, ActionStepCommand, ActionYesNo, ActionShowMenu,
                   ActionWelcome, ActionFallback, ActionAskHuman):  # fmt: skip
        assert action().name() in domain["actions"]


async def test_start_guide_sets_slots_and_marker(make_tracker, domain, catalogue):
    messages, slots = await run(ActionStartGuide(), make_tracker(GUIDE), domain)
    steps = catalogue[GUIDE].step_count
    assert markers(messages) == [{"guide": GUIDE, "step": 1, "steps": steps}]
    assert slots["guide_id"] == GUIDE and slots["guide_step"] == 1.0
    assert messages[-1]["buttons"][0] == {"title": "Étape suivante", "payload": "/next_step"}


async def test_start_guide_with_unknown_intent_falls_back(make_tracker, domain):
    messages, _ = await run(ActionStartGuide(), make_tracker("greet"), domain)
    assert markers(messages) == [{"fallback": "not_understood"}]


@pytest.mark.parametrize(
    ("intent", "step"),
    [("next_step", 3), ("previous_step", 1), ("repeat_step", 2), ("step_detail", 2)],
)
async def test_step_commands(make_tracker, domain, intent, step):
    tracker = make_tracker(intent, {"guide_id": GUIDE, "guide_step": 2.0})
    messages, slots = await run(ActionStepCommand(), tracker, domain)
    assert markers(messages)[0]["step"] == step
    if step != 2:
        assert slots["guide_step"] == float(step)


async def test_stuck_twice_from_a_json_fixture(tracker_from_json, domain):
    messages, slots = await run(ActionStepCommand(), tracker_from_json("mid_guide_stuck_once"),
                                domain)  # fmt: skip
    assert markers(messages) == [{"handoff": "offered", "reason": "stuck"}]
    assert slots["stuck_count"] == 2.0 and slots["handoff_offered"] is True


async def test_stop_guide_clears_slots(make_tracker, domain):
    tracker = make_tracker("stop_guide", {"guide_id": GUIDE, "guide_step": 4.0})
    messages, slots = await run(ActionStepCommand(), tracker, domain)
    assert markers(messages) == []
    assert slots["guide_id"] is None and slots["guide_step"] is None


async def test_yes_after_a_finished_guide_records_feedback(tracker_from_json, domain):
    dispatcher = CollectingDispatcher()
    events = await ActionYesNo().run(dispatcher, tracker_from_json("finished_guide"), domain)
    assert SlotSet("guide_feedback", "yes") in events
    assert SlotSet("awaiting_feedback", False) in events


async def test_no_after_a_finished_guide_offers_a_mediator(make_tracker, domain):
    tracker = make_tracker("deny", {"guide_id": GUIDE, "guide_step": 5.0,
                                    "awaiting_feedback": True})  # fmt: skip
    messages, slots = await run(ActionYesNo(), tracker, domain)
    assert slots["guide_feedback"] == "no"
    assert markers(messages)[0]["handoff"] == "offered"


async def test_yes_after_an_offer_asks_for_a_person(make_tracker, domain):
    tracker = make_tracker("affirm", {"handoff_offered": True})
    messages, _ = await run(ActionYesNo(), tracker, domain)
    assert markers(messages) == [{"handoff": "requested"}]


async def test_yes_and_no_with_no_context(make_tracker, domain):
    messages, _ = await run(ActionYesNo(), make_tracker("affirm"), domain)
    assert "menu" in markers(messages)[0]
    messages, _ = await run(ActionYesNo(), make_tracker("deny"), domain)
    assert markers(messages) == []


@pytest.mark.parametrize(
    ("intent", "domain_id"), [("menu_impots", "impots"), ("menu_cv", "cv"), ("help", None)]
)
async def test_menus(make_tracker, domain, catalogue, intent, domain_id):
    messages, _ = await run(ActionShowMenu(), make_tracker(intent), domain)
    expected = catalogue.in_domain(domain_id) if domain_id else catalogue.common()
    assert markers(messages) == [{"menu": [g.id for g in expected]}]


async def test_welcome(make_tracker, domain):
    messages, _ = await run(ActionWelcome(), make_tracker("greet"), domain)
    assert markers(messages) == [] and "Bonjour" in messages[0]["text"]


@pytest.mark.parametrize(
    ("intent", "reason"),
    [("nlu_fallback", "not_understood"), ("out_of_scope", "not_understood"),
     ("not_covered", "not_covered")],
)  # fmt: skip
async def test_fallback_reasons(make_tracker, domain, intent, reason):
    messages, _ = await run(ActionFallback(), make_tracker(intent), domain)
    assert markers(messages) == [{"fallback": reason}]
    assert any(b["payload"] == "/ask_human" for b in messages[0]["buttons"])


async def test_two_misunderstandings_in_a_row(make_tracker, domain):
    tracker = make_tracker("nlu_fallback", previous_intents=("out_of_scope",))
    messages, _ = await run(ActionFallback(), tracker, domain)
    assert "toujours pas" in messages[0]["text"]
    assert markers(messages) == [{"fallback": "not_understood"}]


async def test_ask_human(make_tracker, domain):
    messages, _ = await run(ActionAskHuman(), make_tracker("ask_human"), domain)
    assert markers(messages) == [{"handoff": "requested"}]
