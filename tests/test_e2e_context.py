"""End to end over REST: context inside a guide, with the real NLU, Rasa and action servers.

Needs the trained model (`make test` trains it first).
"""

from __future__ import annotations

import uuid

from bot.client import markers, send

TAX = "impots.espace_particulier"


def open_tax_guide_at_step_two(url: str) -> str:
    sender = f"test-{uuid.uuid4().hex}"
    assert markers(send(url, sender, f"/{TAX}"))[0]["step"] == 1
    assert markers(send(url, sender, "suivant"))[0]["step"] == 2
    return sender


def texts(reply: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in reply)


def test_typed_request_for_another_guide_asks_then_switches(bot_url):
    sender = open_tax_guide_at_step_two(bot_url)
    asked = send(bot_url, sender, "il faut aussi que je fasse mon cv")
    assert markers(asked) == [{"guide": TAX, "step": 2, "steps": 8, "switch_to": "cv.rediger"}]
    assert "Voulez-vous quitter ce guide pour « Écrire ou améliorer votre CV » ?" in texts(asked)
    switched = markers(send(bot_url, sender, "ouai"))
    assert switched[0]["guide"] == "cv.rediger" and switched[0]["step"] == 1


def test_typed_request_for_another_guide_refused_stays(bot_url):
    sender = open_tax_guide_at_step_two(bot_url)
    assert markers(send(bot_url, sender, "il faut aussi que je fasse mon cv"))[0]["guide"] == TAX
    assert markers(send(bot_url, sender, "nn")) == [{"guide": TAX, "step": 2, "steps": 8}]
    assert markers(send(bot_url, sender, "suivan"))[0]["step"] == 3


def test_first_message_still_starts_a_guide_directly(bot_url):
    reply = send(bot_url, f"test-{uuid.uuid4().hex}", "il faut que je fasse mon cv")
    assert markers(reply)[0]["guide"] == "cv.rediger" and markers(reply)[0]["step"] == 1
    assert "Voulez-vous quitter" not in texts(reply)


def test_bare_number_and_masked_secrets_keep_the_step(bot_url):
    sender = open_tax_guide_at_step_two(bot_url)
    for message in ("123", "1234567890123", "Soleil2024!"):
        reply = send(bot_url, sender, message)
        assert markers(reply) == [{"guide": TAX, "step": 2, "steps": 8}], (message, reply)
    assert markers(send(bot_url, sender, "c bon"))[0]["step"] == 3


def test_bare_number_outside_a_guide_is_not_understood(bot_url):
    reply = send(bot_url, f"test-{uuid.uuid4().hex}", "123")
    assert markers(reply) == [{"fallback": "not_understood"}]


def test_not_clear_then_again_offers_a_person(bot_url):
    sender = open_tax_guide_at_step_two(bot_url)
    first = send(bot_url, sender, "je comprends pas")
    assert markers(first) == [{"guide": TAX, "step": 2, "steps": 8}]
    assert "Vos références" in texts(first)  # the step's detail
    second = send(bot_url, sender, "g pas compri")
    assert markers(second) == [{"guide": TAX, "step": 2, "steps": 8}]
    assert "nous allons y arriver ensemble" in texts(second)
    third = send(bot_url, sender, "hein ?")
    assert markers(third) == [{"handoff": "offered", "reason": "stuck"}]


def test_question_about_the_current_step_gets_its_detail(bot_url):
    sender = open_tax_guide_at_step_two(bot_url)
    reply = send(bot_url, sender, "où je trouve mon numéro fiscal ?")
    assert markers(reply) == [{"guide": TAX, "step": 2, "steps": 8}]
    assert "Vos références" in texts(reply)
