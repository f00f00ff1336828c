"""Context inside a guide (bot.walk.in_guide): what a message means depends on where we are."""

from __future__ import annotations

import pytest

from bot import walk
from bot.walk import Said, WalkState

TAX = "impots.espace_particulier"  # step 2 asks for the numéro fiscal
OTHER = "cv.rediger"


def only_marker(reply: walk.Reply) -> dict:
    assert len(reply.markers) == 1, reply.markers
    return reply.markers[0]


def payloads(reply: walk.Reply) -> list[str]:
    return [b.payload for m in reply.messages for b in m.buttons]


def text_of(reply: walk.Reply) -> str:
    return "\n".join(m.text for m in reply.messages)


@pytest.fixture
def on_step_two() -> WalkState:
    return WalkState(guide_id=TAX, step=2)


def test_another_guide_named_asks_before_switching(catalogue, on_step_two):
    reply = walk.in_guide(catalogue, on_step_two, Said("je veux faire mon cv", OTHER))
    assert reply is not None
    title = catalogue[OTHER].title
    assert f"Voulez-vous quitter ce guide pour « {title} » ?" in text_of(reply)
    # The visitor has not left: the marker is still the current guide's step.
    assert only_marker(reply) == {"guide": TAX, "step": 2, "steps": 8, "switch_to": OTHER}
    assert [b.title for b in reply.messages[0].buttons] == [
        "Oui, quitter",
        "Non, continuer ce guide",
    ]
    assert payloads(reply) == [f"/{OTHER}", walk.REPEAT]
    assert reply.state.pending_guide == OTHER and reply.state.step == 2


def test_yes_after_the_question_starts_the_other_guide(catalogue, on_step_two):
    asked = walk.in_guide(catalogue, on_step_two, Said("je veux faire mon cv", OTHER))
    assert asked is not None
    reply = walk.yes(catalogue, asked.state)
    assert reply is not None
    assert only_marker(reply)["guide"] == OTHER and only_marker(reply)["step"] == 1
    assert reply.state.pending_guide is None and reply.state.guide_id == OTHER


def test_no_after_the_question_repeats_the_current_step(catalogue, on_step_two):
    asked = walk.in_guide(catalogue, on_step_two, Said("je veux faire mon cv", OTHER))
    assert asked is not None
    reply = walk.no(catalogue, asked.state)
    assert reply is not None
    assert only_marker(reply) == {"guide": TAX, "step": 2, "steps": 8}
    assert "nous continuons ce guide" in text_of(reply)
    assert reply.state.pending_guide is None


def test_another_command_after_the_question_forgets_it(catalogue, on_step_two):
    asked = walk.in_guide(catalogue, on_step_two, Said("je veux faire mon cv", OTHER))
    assert asked is not None
    moved = walk.next_step(catalogue, asked.state)
    assert moved.state.pending_guide is None and moved.state.step == 3


def test_a_button_for_another_guide_switches_at_once(catalogue, on_step_two):
    assert walk.in_guide(catalogue, on_step_two, Said(f"/{OTHER}", OTHER)) is None


def test_first_message_is_never_questioned(catalogue):
    assert walk.in_guide(catalogue, WalkState(), Said("je veux faire mon cv", OTHER)) is None


def test_a_finished_guide_is_not_questioned(catalogue):
    done = WalkState(guide_id=TAX, step=8, awaiting_feedback=True)
    assert walk.in_guide(catalogue, done, Said("je veux faire mon cv", OTHER)) is None


def test_the_same_guide_named_again_says_where_we_are(catalogue, on_step_two):
    reply = walk.in_guide(catalogue, on_step_two, Said("mon compte impots", TAX))
    assert reply is not None
    assert only_marker(reply) == {"guide": TAX, "step": 2, "steps": 8}
    assert "déjà dans ce guide" in text_of(reply)


def test_a_vague_menu_inside_a_guide_offers_to_continue(catalogue, on_step_two):
    reply = walk.in_guide(catalogue, on_step_two, Said("pole emploi", "menu_france_travail"))
    assert reply is not None
    assert set(only_marker(reply)) == {"menu"}
    assert payloads(reply)[0] == walk.REPEAT
    assert reply.messages[0].buttons[0].title == "Continuer le guide"
    assert reply.state.guide_id == TAX and reply.state.step == 2


@pytest.mark.parametrize(
    ("text", "intent", "masked"),
    [
        ("1234567890123", "nlu_fallback", ()),
        ("06 12", "affirm", ()),
        ("[numéro fiscal masqué]", "impots.declaration_revenus", ("numero_fiscal",)),
        ("[mot de passe masqué]", "cv.rediger", ("mot_de_passe",)),
        ("[code masqué] !", "next_step", ("code",)),
    ],
)
def test_a_bare_number_or_masked_secret_keeps_the_step(
    catalogue, on_step_two, text, intent, masked
):
    reply = walk.in_guide(catalogue, on_step_two, Said(text, intent, masked))
    assert reply is not None
    assert only_marker(reply) == {"guide": TAX, "step": 2, "steps": 8}
    assert reply.state.guide_id == TAX and reply.state.pending_guide is None
    if masked:
        assert "pas besoin de cette information" in text_of(reply)
    else:
        assert "Je n'ai pas besoin de ce numéro ici." in text_of(reply)


def test_a_masked_secret_in_a_sentence_never_switches_guide(catalogue, on_step_two):
    said = Said("mon mot de passe cv c'est [mot de passe masqué]", OTHER, ("mot_de_passe",))
    reply = walk.in_guide(catalogue, on_step_two, said)
    assert reply is not None and only_marker(reply)["guide"] == TAX


@pytest.mark.parametrize("intent", ["nlu_fallback", "france_travail.contact_conseiller", "affirm"])
def test_a_bare_number_outside_a_guide_is_not_understood(catalogue, intent):
    reply = walk.in_guide(catalogue, WalkState(), Said("123456", intent))
    assert reply is not None and only_marker(reply) == {"fallback": "not_understood"}


def test_a_sentence_outside_a_guide_is_left_to_the_nlu(catalogue):
    assert walk.in_guide(catalogue, WalkState(), Said("mon cv", "cv.rediger")) is None


def test_ordinary_step_commands_are_left_alone(catalogue, on_step_two):
    assert walk.in_guide(catalogue, on_step_two, Said("suivant", "next_step")) is None
    assert walk.in_guide(catalogue, on_step_two, Said("oui", "affirm")) is None


def test_a_question_about_the_step_gets_its_detail(catalogue, on_step_two):
    said = Said("où je trouve mon numéro fiscal ?", "impots.declaration_revenus")
    reply = walk.in_guide(catalogue, on_step_two, said)
    assert reply is not None
    assert only_marker(reply) == {"guide": TAX, "step": 2, "steps": 8}
    detail = catalogue[TAX].step(2).detail
    assert detail and detail in text_of(reply)
    assert reply.state.pending_guide is None


def test_a_question_about_another_demarche_still_asks(catalogue, on_step_two):
    said = Said("comment declarer mes impots en ligne ?", "impots.declaration_revenus")
    reply = walk.in_guide(catalogue, on_step_two, said)
    assert reply is not None and reply.state.pending_guide == "impots.declaration_revenus"


def test_a_question_the_nlu_did_not_understand_gets_the_step_detail(catalogue, on_step_two):
    said = Said("c'est quoi les 13 chiffres du numero fiscal", "nlu_fallback")
    reply = walk.in_guide(catalogue, on_step_two, said)
    assert reply is not None and only_marker(reply)["step"] == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("où je trouve mon numéro fiscal ?", True),
        ("c koi le numero dacces", True),
        ("comment ca marche", True),
        ("je veux faire mon cv", False),
        ("suivant", False),
    ],
)
def test_is_question(text, expected):
    assert walk.is_question(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123", True),
        ("12 34 56 78", True),
        ("[mot de passe masqué]", True),
        ("[numéro fiscal masqué] [code masqué]", True),
        ("?", False),
        ("j'ai 2 enfants", False),
        ("", False),
    ],
)
def test_is_bare_number(text, expected):
    assert walk.is_bare_number(text) is expected


def test_not_clear_gives_the_detail_then_counts_as_stuck(catalogue, on_step_two):
    first = walk.not_clear(catalogue, on_step_two)
    detail = catalogue[TAX].step(2).detail
    assert detail and detail in text_of(first)
    assert first.state.stuck_count == 0 and first.state.clarify_count == 1
    second = walk.not_clear(catalogue, first.state)
    assert second.state.stuck_count == 1
    assert "nous allons y arriver ensemble" in text_of(second)
    third = walk.not_clear(catalogue, second.state)
    assert only_marker(third) == {"handoff": "offered", "reason": "stuck"}


def test_not_clear_after_the_detail_button_counts_as_stuck(catalogue, on_step_two):
    detail = walk.step_detail(catalogue, on_step_two)
    reply = walk.not_clear(catalogue, detail.state)
    assert reply.state.stuck_count == 1


def test_not_clear_counter_resets_on_a_new_step(catalogue, on_step_two):
    first = walk.not_clear(catalogue, on_step_two)
    moved = walk.next_step(catalogue, first.state)
    assert moved.state.clarify_count == 0
    again = walk.not_clear(catalogue, moved.state)
    assert again.state.stuck_count == 0 and again.state.clarify_count == 1


def test_not_clear_outside_a_guide_shows_the_menu(catalogue):
    reply = walk.not_clear(catalogue, WalkState())
    assert set(only_marker(reply)) == {"menu"}
    assert walk.REPEAT not in payloads(reply)
