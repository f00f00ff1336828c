"""The step-by-step walk, without Rasa: each command gives the right step, buttons and marker."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot import walk
from bot.walk import WalkState

GUIDE = "impots.declaration_revenus"


def only_marker(reply: walk.Reply) -> dict:
    assert len(reply.markers) == 1, reply.markers
    return reply.markers[0]


def payloads(reply: walk.Reply) -> list[str]:
    return [b.payload for m in reply.messages for b in m.buttons]


def test_start_shows_intro_and_step_one(catalogue):
    guide = catalogue[GUIDE]
    reply = walk.start_guide(catalogue, GUIDE, WalkState())
    assert only_marker(reply) == {"guide": GUIDE, "step": 1, "steps": guide.step_count}
    assert reply.messages[0].text.startswith("Je vais vous guider")
    assert f"Étape 1 sur {guide.step_count}" in reply.messages[-1].text
    assert guide.steps[0].instruction in reply.messages[-1].text
    for payload in (walk.NEXT, walk.STUCK, walk.REPEAT, walk.HUMAN):
        assert payload in payloads(reply)
    assert walk.PREVIOUS not in payloads(reply)
    assert reply.state == WalkState(guide_id=GUIDE, step=1)


def test_prerequisites_are_listed_at_start(catalogue):
    guide = next(g for g in catalogue.guides.values() if g.prerequisites)
    reply = walk.start_guide(catalogue, guide.id, WalkState())
    for item in guide.prerequisites:
        assert item in reply.messages[0].text


def test_walk_every_guide_to_completion(catalogue):
    for guide in catalogue.guides.values():
        reply = walk.start_guide(catalogue, guide.id, WalkState())
        for number in range(2, guide.step_count + 1):
            reply = walk.next_step(catalogue, reply.state)
            assert only_marker(reply)["step"] == number
            assert walk.PREVIOUS in payloads(reply)
        done = walk.next_step(catalogue, reply.state)
        marker = only_marker(done)
        assert marker["completed"] is True and marker["step"] == guide.step_count
        assert "Bravo" in done.messages[0].text
        assert done.state.awaiting_feedback
        assert [f"/{r}" for r in guide.related] == payloads(done)[2:]


def test_previous_repeat_and_detail(catalogue):
    state = WalkState(guide_id=GUIDE, step=3)
    assert only_marker(walk.previous_step(catalogue, state))["step"] == 2
    first = walk.previous_step(catalogue, WalkState(guide_id=GUIDE, step=1))
    assert only_marker(first)["step"] == 1 and "première étape" in first.messages[0].text
    again = walk.repeat_step(catalogue, state)
    assert only_marker(again)["step"] == 3 and again.messages[0].text == "Je répète cette étape."
    guide = catalogue[GUIDE]
    with_detail = next(i for i, s in enumerate(guide.steps, 1) if s.detail)
    detail = walk.step_detail(catalogue, WalkState(guide_id=GUIDE, step=with_detail))
    assert guide.step(with_detail).detail in detail.messages[-1].text


def test_stuck_twice_on_the_same_step_offers_a_mediator(catalogue):
    state = WalkState(guide_id=GUIDE, step=2)
    first = walk.stuck(catalogue, state)
    assert only_marker(first)["step"] == 2
    assert first.state.stuck_count == 1
    second = walk.stuck(catalogue, first.state)
    assert only_marker(second) == {"handoff": "offered", "reason": "stuck"}
    assert walk.HUMAN in payloads(second) and second.state.handoff_offered


def test_stuck_counter_resets_on_a_new_step(catalogue):
    stuck_once = walk.stuck(catalogue, WalkState(guide_id=GUIDE, step=2))
    moved = walk.next_step(catalogue, stuck_once.state)
    assert moved.state.stuck_count == 0
    assert only_marker(walk.stuck(catalogue, moved.state))["step"] == 3


def test_switching_guide_midway(catalogue):
    state = WalkState(guide_id=GUIDE, step=4, stuck_count=1)
    reply = walk.start_guide(catalogue, "cv.rediger", state)
    assert only_marker(reply)["guide"] == "cv.rediger"
    assert "nous laissons" in reply.messages[0].text
    assert reply.state == WalkState(guide_id="cv.rediger", step=1)


def test_stop_clears_the_state(catalogue):
    reply = walk.stop(catalogue, WalkState(guide_id=GUIDE, step=2))
    assert reply.markers == [] and reply.state == WalkState()
    assert "nous arrêtons" in reply.messages[0].text


@pytest.mark.parametrize(
    "command", [walk.next_step, walk.previous_step, walk.repeat_step, walk.step_detail]
)
def test_step_commands_without_a_guide_offer_the_menu(catalogue, command):
    reply = command(catalogue, WalkState())
    assert "menu" in only_marker(reply)
    assert "aucun guide" in reply.messages[0].text


def test_feedback_after_completion(catalogue):
    finished = WalkState(guide_id=GUIDE, step=8, awaiting_feedback=True)
    happy = walk.yes(catalogue, finished)
    assert happy is not None and happy.feedback == "yes" and happy.markers == []
    sad = walk.no(catalogue, finished)
    assert sad is not None and sad.feedback == "no"
    assert only_marker(sad)["handoff"] == "offered"


def test_yes_inside_a_guide_moves_on_and_no_waits(catalogue):
    state = WalkState(guide_id=GUIDE, step=1)
    assert only_marker(walk.yes(catalogue, state))["step"] == 2  # type: ignore[arg-type]
    wait = walk.no(catalogue, state)
    assert wait is not None and only_marker(wait)["step"] == 1
    assert walk.yes(catalogue, WalkState()) is None and walk.no(catalogue, WalkState()) is None


def test_menus(catalogue):
    taxes = walk.menu(catalogue, WalkState(), "impots")
    assert only_marker(taxes) == {"menu": [g.id for g in catalogue.in_domain("impots")]}
    general = walk.menu(catalogue, WalkState(), None)
    assert only_marker(general)["menu"] == [g.id for g in catalogue.common()]
    assert "/menu_france_travail" in payloads(general)


@pytest.mark.parametrize("reason", ["not_understood", "not_covered"])
def test_fallback_marks_the_reason_and_offers_a_person(catalogue, reason):
    reply = walk.fallback(catalogue, WalkState(), reason)
    assert only_marker(reply) == {"fallback": reason}
    assert walk.HUMAN in payloads(reply)


def test_second_misunderstanding_says_so(catalogue):
    reply = walk.fallback(catalogue, WalkState(), "not_understood", again=True)
    assert "toujours pas" in reply.messages[0].text


def test_fallback_inside_a_guide_keeps_the_place(catalogue):
    state = WalkState(guide_id=GUIDE, step=3)
    reply = walk.fallback(catalogue, state, "not_understood")
    assert reply.state.step == 3 and reply.state.guide_id == GUIDE
    assert "Continuer le guide" in [b.title for b in reply.messages[0].buttons]


def test_welcome_has_no_marker(catalogue):
    reply = walk.welcome(catalogue, WalkState())
    assert reply.markers == []
    assert {f"/{g.id}" for g in catalogue.common()} <= set(payloads(reply))
    inside = walk.welcome(catalogue, WalkState(guide_id=GUIDE, step=2))
    assert "étape 2" in inside.messages[0].text and inside.markers == []


def test_offers_remember_why_a_person_was_offered(catalogue):
    stuck_twice = walk.stuck(catalogue, WalkState(guide_id=GUIDE, step=2, stuck_count=1))
    assert stuck_twice.state.offer_reason == "stuck"
    covered = walk.fallback(catalogue, WalkState(), "not_covered")
    assert covered.state.offer_reason == "not_covered" and covered.state.handoff_offered
    moved_on = walk.next_step(catalogue, replace(stuck_twice.state, step=2))
    assert moved_on.state.offer_reason is None and not moved_on.state.handoff_offered
