"""The context rules inside a guide, through the real actions, trackers and domain.yml."""

from __future__ import annotations

from actions.fallback import ActionFallback
from actions.guides import ActionShowMenu, ActionStartGuide, ActionStepCommand, ActionYesNo
from tests.test_actions import markers, run

TAX = "impots.espace_particulier"
MID = {"guide_id": TAX, "guide_step": 2.0}


def test_new_slots_and_intent_are_in_the_domain(domain):
    assert {"pending_guide", "clarify_count"} <= set(domain["slots"])
    assert "not_clear" in domain["intents"]


async def test_typed_guide_request_inside_a_guide_asks(make_tracker, domain, catalogue):
    tracker = make_tracker("cv.rediger", MID, text="il me faut un cv aussi")
    messages, slots = await run(ActionStartGuide(), tracker, domain)
    assert markers(messages) == [{"guide": TAX, "step": 2, "steps": 8, "switch_to": "cv.rediger"}]
    assert "Voulez-vous quitter ce guide" in messages[0]["text"]
    assert slots == {"pending_guide": "cv.rediger"}


async def test_button_guide_request_inside_a_guide_switches(make_tracker, domain):
    messages, slots = await run(ActionStartGuide(), make_tracker("cv.rediger", MID), domain)
    assert markers(messages)[0]["guide"] == "cv.rediger" and markers(messages)[0]["step"] == 1
    assert slots["guide_id"] == "cv.rediger"


async def test_yes_after_the_question_switches(tracker_from_json, domain, catalogue):
    messages, slots = await run(ActionYesNo(), tracker_from_json("mid_guide_switch_asked"), domain)
    steps = catalogue["cv.rediger"].step_count
    assert markers(messages) == [{"guide": "cv.rediger", "step": 1, "steps": steps}]
    assert slots["guide_id"] == "cv.rediger" and slots["pending_guide"] is None


async def test_no_after_the_question_stays(make_tracker, domain):
    tracker = make_tracker("deny", MID | {"pending_guide": "cv.rediger"}, text="nn")
    messages, slots = await run(ActionYesNo(), tracker, domain)
    assert markers(messages) == [{"guide": TAX, "step": 2, "steps": 8}]
    assert slots == {"pending_guide": None}


async def test_masked_secret_from_the_channel_keeps_the_step(tracker_from_json, domain):
    tracker = tracker_from_json("mid_guide_masked_secret")
    messages, slots = await run(ActionStartGuide(), tracker, domain)
    assert markers(messages) == [{"guide": TAX, "step": 2, "steps": 8}]
    assert "guide_id" not in slots and "pending_guide" not in slots
    assert "pas besoin de cette information" in messages[0]["text"]


async def test_bare_number_in_a_guide_is_not_a_fallback(make_tracker, domain):
    tracker = make_tracker("nlu_fallback", MID, text="0123456789")
    messages, _ = await run(ActionFallback(), tracker, domain)
    assert markers(messages) == [{"guide": TAX, "step": 2, "steps": 8}]
    assert "Je n'ai pas besoin de ce numéro ici." in messages[0]["text"]


async def test_bare_number_outside_a_guide_is_not_understood(make_tracker, domain):
    messages, _ = await run(
        ActionFallback(), make_tracker("nlu_fallback", text="0123456789"), domain
    )
    assert markers(messages) == [{"fallback": "not_understood"}]


async def test_question_about_the_step_gets_its_detail(make_tracker, domain, catalogue):
    tracker = make_tracker(
        "impots.declaration_revenus", MID, text="ou je trouve mon numero fiscal ?"
    )
    messages, slots = await run(ActionStartGuide(), tracker, domain)
    assert markers(messages) == [{"guide": TAX, "step": 2, "steps": 8}]
    detail = catalogue[TAX].step(2).detail
    assert detail and detail in "\n".join(m["text"] for m in messages)
    assert slots.get("clarify_count") == 1.0


async def test_not_clear_twice_is_detail_then_stuck(make_tracker, domain, catalogue):
    first_msgs, first = await run(
        ActionStepCommand(), make_tracker("not_clear", MID, text="hein ?"), domain
    )
    assert first == {"clarify_count": 1.0}
    assert catalogue[TAX].step(2).detail in "\n".join(m["text"] for m in first_msgs)
    tracker = make_tracker("not_clear", MID | first, text="g pas compri")
    _, second = await run(ActionStepCommand(), tracker, domain)
    assert second == {"stuck_count": 1.0, "clarify_count": 2.0}


async def test_menu_inside_a_guide_offers_to_continue(make_tracker, domain):
    tracker = make_tracker("menu_cv", MID, text="un truc pour trouver du travail")
    messages, slots = await run(ActionShowMenu(), tracker, domain)
    assert set(markers(messages)[0]) == {"menu"}
    assert messages[0]["buttons"][0] == {"title": "Continuer le guide", "payload": "/repeat_step"}
    assert "guide_id" not in slots
