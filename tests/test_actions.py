"""Every custom action, awaited with tracker fixtures and the real domain.yml."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
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
from actions.handoff import (
    ActionAskContactConfirmed,
    ActionAskContactDetail,
    ActionAskContactPreference,
    ActionAskHandoffConsent,
    ActionCancelHandoff,
    ActionRetryHandoff,
    ActionStartHandoff,
    ActionSubmitHandoff,
    ValidateHandoffForm,
)
from bot import incidents, sqlite_store
from bot.settings import get_settings
from bot.tickets import TicketStore
from tests.faults import write_locked

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
                   ActionWelcome, ActionFallback, ActionStartHandoff, ActionSubmitHandoff,
                   ActionCancelHandoff, ActionAskContactPreference, ActionAskHandoffConsent,
                   ValidateHandoffForm, ActionRetryHandoff):  # fmt: skip
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


async def test_yes_after_an_offer_starts_the_handoff(make_tracker, domain):
    tracker = make_tracker("affirm", {"handoff_offered": True, "handoff_reason": "stuck"})
    dispatcher = CollectingDispatcher()
    events = await ActionYesNo().run(dispatcher, tracker, domain)
    assert events == [{"event": "followup", "name": "action_start_handoff", "timestamp": None}]


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


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    return tmp_path


async def test_start_handoff_keeps_the_reason_of_the_offer(make_tracker, domain, data_dir):
    offered = make_tracker("affirm", {"handoff_offered": True, "handoff_reason": "not_covered"})
    _, slots = await run(ActionStartHandoff(), offered, domain)
    assert slots["handoff_reason"] == "not_covered" and slots["handoff_offered"] is False
    _, slots = await run(ActionStartHandoff(), make_tracker("ask_human"), domain)
    assert slots["handoff_reason"] == "asked"
    events = await ActionStartHandoff().run(CollectingDispatcher(), make_tracker("ask_human"),
                                            domain)  # fmt: skip
    assert events[-1] == {"event": "followup", "name": "handoff_form", "timestamp": None}


async def test_contact_question_depends_on_the_channel(make_tracker, domain):
    tracker = make_tracker("ask_human")
    tracker.events[-1]["metadata"] = {"channel": "widget"}
    messages, _ = await run(ActionAskContactPreference(), tracker, domain)
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert markers(messages) == [{"handoff": "contact_preference"}]
    assert not any('"desk"' in p for p in payloads) and any('"phone"' in p for p in payloads)


async def validate(tracker, domain, slot, value):
    form = ValidateHandoffForm()
    dispatcher = CollectingDispatcher()
    method = getattr(form, f"validate_{slot}")
    result = method(value, dispatcher, tracker, domain)
    if hasattr(result, "__await__"):
        result = await result
    return result, dispatcher.messages


async def test_preference_answers(make_tracker, domain):
    tracker = make_tracker("choose_contact")
    result, said = await validate(tracker, domain, "contact_preference",
                                  '/choose_contact{"contact_preference": "email"}')  # fmt: skip
    assert result == {"contact_preference": "email"} and said == []
    result, said = await validate(tracker, domain, "contact_preference", "rappelez moi")
    assert result == {"contact_preference": "phone"}
    result, said = await validate(tracker, domain, "contact_preference", "bof")
    assert result == {"contact_preference": None} and "pas compris" in said[0]["text"]


async def test_a_bad_phone_gets_another_chance_then_the_desk(make_tracker, domain, data_dir):
    tracker = make_tracker("choose_contact", {"contact_preference": "phone"})
    result, said = await validate(tracker, domain, "contact_detail", "06 12 34")
    assert result == {"contact_detail": None, "detail_tries": 1.0}
    assert "ne semble pas correct." in said[0]["text"] and "écrivez-le" in said[0]["text"]
    assert "Exemple" in said[0]["text"]
    again = make_tracker("choose_contact", {"contact_preference": "phone", "detail_tries": 1.0})
    result, said = await validate(again, domain, "contact_detail", "toujours pas")
    assert result == {"contact_detail": None, "detail_tries": 2.0}
    third = make_tracker("choose_contact", {"contact_preference": "phone", "detail_tries": 2.0})
    result, said = await validate(third, domain, "contact_detail", "toujours pas")
    assert result["contact_preference"] == "later" and "accueil" in said[0]["text"]


async def test_a_bad_address_is_told_in_the_feminine(make_tracker, domain, data_dir):
    tracker = make_tracker("choose_contact", {"contact_preference": "email"})
    _, said = await validate(tracker, domain, "contact_detail", "jean arobase")
    assert "Cette adresse e-mail ne semble pas correcte." in said[0]["text"]
    assert "écrivez-la encore" in said[0]["text"]


async def test_the_detail_question_says_which_keyboard(make_tracker, domain):
    for preference in ("phone", "email"):
        tracker = make_tracker("choose_contact", {"contact_preference": preference})
        messages, _ = await run(ActionAskContactDetail(), tracker, domain)
        assert markers(messages) == [{"handoff": "contact_detail", "detail": preference}]


async def test_the_detail_is_read_back_in_its_hidden_form(make_tracker, domain):
    tracker = make_tracker("choose_contact", {"contact_preference": "phone",
                                              "contact_detail": "06 •• •• •• 78"})  # fmt: skip
    messages, _ = await run(ActionAskContactConfirmed(), tracker, domain)
    assert messages[0]["text"] == "Vous avez écrit 06 •• •• •• 78. C'est bien ça ?"
    assert [(b["title"], b["payload"]) for b in messages[0]["buttons"]][:2] == [
        ("Oui, c'est bien ça", "/affirm"), ("Non, je corrige", "/deny")]  # fmt: skip
    assert markers(messages) == [{"handoff": "confirm_detail"}]


async def test_yes_at_the_read_back_goes_on(make_tracker, domain, data_dir):
    result, said = await validate(make_tracker("affirm"), domain, "contact_confirmed", True)
    assert result == {"contact_confirmed": True} and said == []


async def test_no_at_the_read_back_forgets_the_detail_and_asks_again(
    make_tracker, domain, data_dir
):
    with TicketStore.open() as store:
        store.hold_contact("test", "phone", "0612345678")
    tracker = make_tracker("deny", {"contact_preference": "phone", "detail_tries": None,
                                    "contact_detail": "06 •• •• •• 78"})  # fmt: skip
    result, said = await validate(tracker, domain, "contact_confirmed", False)
    assert result == {"contact_detail": None, "contact_confirmed": None, "detail_tries": 1.0}
    assert "efface" in said[0]["text"]
    with TicketStore.open() as store:
        assert store.peek_contact("test") is None
    # The third wrong try (here after two) sends the visitor to the desk, as before.
    last = make_tracker("deny", {"contact_preference": "phone", "detail_tries": 2.0})
    result, said = await validate(last, domain, "contact_confirmed", False)
    assert result["contact_preference"] == "later" and result["contact_detail"] is None
    assert "accueil" in said[0]["text"]


async def test_another_detail_typed_at_the_read_back_is_read_back(make_tracker, domain, data_dir):
    with TicketStore.open() as store:
        store.hold_contact("test", "email", "marie@exemple.fr")
    typed = "non c'est [adresse e-mail]"
    for intent, value in (("choose_contact", typed), ("deny", False)):
        tracker = make_tracker(intent, {"contact_preference": "email"}, text=typed)
        result, _ = await validate(tracker, domain, "contact_confirmed", value)
        assert result == {"contact_detail": "m•••@exemple.fr", "contact_confirmed": None}
    tracker = make_tracker("choose_contact", {"contact_preference": "email"})
    result, said = await validate(tracker, domain, "contact_confirmed", "euh")
    assert result == {"contact_confirmed": None} and "bouton" in said[0]["text"]


async def test_a_held_phone_fills_the_slot_with_a_hidden_form(make_tracker, domain, data_dir):
    with TicketStore.open() as store:
        store.hold_contact("test", "phone", "0612345678")
    tracker = make_tracker("choose_contact", {"contact_preference": "phone"})
    result, _ = await validate(tracker, domain, "contact_detail", "[téléphone]")
    assert result == {"contact_detail": "06 •• •• •• 78", "contact_confirmed": None}


async def test_required_slots_skip_the_detail_for_the_desk(make_tracker, domain):
    form = ValidateHandoffForm()
    slots = list(domain["forms"]["handoff_form"]["required_slots"])
    assert slots.index("contact_confirmed") == slots.index("contact_detail") + 1
    desk = make_tracker("choose_contact", {"contact_preference": "desk"})
    phone = make_tracker("choose_contact", {"contact_preference": "phone"})
    asked = await form.required_slots(slots, CollectingDispatcher(), desk, domain)
    assert "contact_detail" not in asked and "contact_confirmed" not in asked
    asked = await form.required_slots(slots, CollectingDispatcher(), phone, domain)
    assert "contact_detail" in asked and "contact_confirmed" in asked


async def test_submit_with_consent_creates_the_ticket(make_tracker, domain, data_dir):
    with TicketStore.open() as store:
        store.hold_contact("test", "phone", "0612345678")
    slots = {
        "contact_preference": "phone",
        "contact_detail": "06 •• •• •• 78",
        "handoff_problem": "je ne trouve pas mon avis",
        "handoff_consent": True,
        "handoff_reason": "stuck",
        "guide_id": "impots.avis_imposition",
        "guide_step": 3.0,
    }
    tracker = make_tracker("affirm", slots, previous_intents=("impots.avis_imposition",))
    messages, out = await run(ActionSubmitHandoff(), tracker, domain)
    ticket_id = int(out["ticket_id"])
    assert markers(messages) == [{"handoff": "created", "ticket": ticket_id}]
    assert f"numéro de demande est le {ticket_id}" in messages[0]["text"]
    with TicketStore.open() as store:
        ticket = store.get(ticket_id)
        assert store.peek_contact("test") is None
    assert ticket is not None
    assert (ticket.reason, ticket.contact_preference, ticket.contact_detail) == (
        "stuck", "phone", "06 12 34 56 78")  # fmt: skip
    assert (ticket.guide_id, ticket.step, ticket.channel) == ("impots.avis_imposition", 3, "other")
    assert ticket.visitor_sentence == "je ne trouve pas mon avis"
    assert "je ne trouve pas mon avis" in ticket.summary
    assert [t["who"] for t in ticket.transcript] == ["visitor", "visitor"]


async def test_submit_without_consent_keeps_nothing(make_tracker, domain, data_dir):
    with TicketStore.open() as store:
        store.hold_contact("test", "email", "a@b.fr")
    tracker = make_tracker("deny", {"contact_preference": "email", "handoff_consent": False})
    messages, out = await run(ActionSubmitHandoff(), tracker, domain)
    assert markers(messages) == [{"handoff": "declined"}]
    assert "ticket_id" not in out and "Vous pouvez venir" in messages[0]["text"]
    with TicketStore.open() as store:
        assert store.list() == [] and store.peek_contact("test") is None


async def test_cancel_leaves_the_form_and_drops_the_contact(make_tracker, domain, data_dir):
    with TicketStore.open() as store:
        store.hold_contact("test", "phone", "0612345678")
    dispatcher = CollectingDispatcher()
    events = await ActionCancelHandoff().run(dispatcher, make_tracker("stop_guide"), domain)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert markers(dispatcher.messages) == [{"handoff": "cancelled"}]
    with TicketStore.open() as store:
        assert store.peek_contact("test") is None


async def test_consent_question_says_what_is_kept_and_for_how_long(make_tracker, domain):
    tracker = make_tracker("deny", {"contact_preference": "email"})
    messages, _ = await run(ActionAskHandoffConsent(), tracker, domain)
    assert "adresse e-mail" in messages[0]["text"] and "90 jours" in messages[0]["text"]
    assert markers(messages) == [{"handoff": "consent"}]


async def test_consent_answer_is_kept_as_a_boolean(make_tracker, domain):
    result, said = await validate(make_tracker("affirm"), domain, "handoff_consent", True)
    assert result == {"handoff_consent": True} and said == []
    result, _ = await validate(make_tracker("deny"), domain, "handoff_consent", False)
    assert result == {"handoff_consent": False}


# --- a hand-off is never lost ---------------------------------------------------------------

CONSENTED = {
    "contact_preference": "phone",
    "contact_detail": "06 •• •• •• 78",
    "handoff_problem": "je ne trouve pas mon avis",
    "handoff_consent": True,
    "handoff_reason": "asked",
}
FORM_SLOTS = (
    "contact_preference",
    "contact_detail",
    "contact_confirmed",
    "handoff_problem",
    "handoff_consent",
)


def make_tickets(count: int, sender: str | None = None) -> None:
    """`count` tickets, of `sender` or each of another conversation."""
    with TicketStore.open() as store:
        for n in range(count):
            store.create(sender_id=sender or f"someone-{n}", channel="kiosk", reason="asked",
                         contact_preference="desk", summary="Demande.", transcript=[])  # fmt: skip


async def test_a_locked_database_gives_a_french_answer_and_keeps_the_answers(
    make_tracker, domain, data_dir, monkeypatch
):
    monkeypatch.setattr(sqlite_store, "RETRY_BUDGET", 0.3)
    with TicketStore.open() as store:
        store.hold_contact("test", "phone", "0612345678")
    tracker = make_tracker("affirm", CONSENTED)
    with write_locked(data_dir / "tickets.db"):
        messages, slots = await run(ActionSubmitHandoff(), tracker, domain)
    assert markers(messages) == [{"handoff": "failed"}]
    org = get_settings().values
    for fact in ("ORG_ADDRESS", "ORG_HOURS", "ORG_PHONE"):
        assert org[fact] in messages[0]["text"]
    assert "Réessayer" in messages[0]["text"]
    assert "/retry_handoff" in [b["payload"] for b in messages[0]["buttons"]]
    assert not set(FORM_SLOTS) & set(slots)  # nothing cleared: the answers wait
    [incident] = incidents.recent()
    assert incident.kind == "ticket_write_failed" and "locked" in incident.detail
    assert "avis" not in incident.detail
    with TicketStore.open() as store:
        assert store.list() == [] and store.peek_contact("test") == ("phone", "0612345678")

    # The database works again: « réessayer » creates the ticket from the same answers.
    again = make_tracker("retry_handoff", CONSENTED)
    messages, slots = await run(ActionRetryHandoff(), again, domain)
    ticket_id = int(slots["ticket_id"])
    assert markers(messages) == [{"handoff": "created", "ticket": ticket_id}]
    assert all(slots[name] is None for name in FORM_SLOTS)
    with TicketStore.open() as store:
        ticket = store.get(ticket_id)
    assert ticket is not None and ticket.contact_detail == "06 12 34 56 78"
    assert ticket.visitor_sentence == "je ne trouve pas mon avis"


async def test_an_unopenable_database_is_a_failure_too(make_tracker, domain, data_dir):
    (data_dir / "tickets.db").mkdir()  # a directory where the file should be
    messages, _ = await run(ActionSubmitHandoff(), make_tracker("affirm", CONSENTED), domain)
    assert markers(messages) == [{"handoff": "failed"}]
    assert incidents.count("ticket_write_failed", within=timedelta(minutes=5)) == 1


async def test_retry_with_nothing_waiting_says_so(make_tracker, domain, data_dir):
    messages, slots = await run(ActionRetryHandoff(), make_tracker("retry_handoff"), domain)
    assert "pas de demande en attente" in messages[0]["text"] and markers(messages) == []
    assert slots == {}
    with TicketStore.open() as store:
        assert store.list() == []


async def test_past_the_conversation_limit_no_question_is_asked(
    make_tracker, domain, data_dir, monkeypatch
):
    monkeypatch.setenv("HANDOFFS_PER_CONVERSATION", "2")
    make_tickets(2, sender="test")
    dispatcher = CollectingDispatcher()
    events = await ActionStartHandoff().run(dispatcher, make_tracker("ask_human"), domain)
    assert markers(dispatcher.messages) == [{"handoff": "limited"}]
    assert "déjà notées" in dispatcher.messages[0]["text"]
    assert get_settings().values["ORG_PHONE"] in dispatcher.messages[0]["text"]
    assert events[-1] == {"event": "followup", "name": "action_listen", "timestamp": None}
    assert incidents.count("handoff_limit_conversation", within=timedelta(minutes=5)) == 1
    # Another conversation is not concerned.
    other = make_tracker("ask_human")
    other.sender_id = "someone-new"
    events = await ActionStartHandoff().run(CollectingDispatcher(), other, domain)
    assert events[-1]["name"] == "handoff_form"


async def test_past_the_minute_limit_the_desk_is_busy(make_tracker, domain, data_dir, monkeypatch):
    monkeypatch.setenv("HANDOFFS_PER_MINUTE", "3")
    make_tickets(3)
    messages, _ = await run(ActionStartHandoff(), make_tracker("ask_human"), domain)
    assert markers(messages) == [{"handoff": "limited"}]
    assert "beaucoup de demandes" in messages[0]["text"]
    # Nothing was answered yet: trying again means asking again.
    assert messages[0]["buttons"][0]["payload"] == "/ask_human"
    assert incidents.count("handoff_flood", within=timedelta(minutes=5)) == 1


async def test_the_limit_is_checked_again_when_the_ticket_is_created(
    make_tracker, domain, data_dir, monkeypatch
):
    monkeypatch.setenv("HANDOFFS_PER_MINUTE", "2")
    with TicketStore.open() as store:
        store.hold_contact("test", "phone", "0612345678")
    make_tickets(2)  # while this visitor answered the questions
    messages, slots = await run(ActionSubmitHandoff(), make_tracker("affirm", CONSENTED), domain)
    assert markers(messages) == [{"handoff": "limited"}]
    assert "gardé vos réponses" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/retry_handoff"
    assert not set(FORM_SLOTS) & set(slots)
    # A minute later (the other tickets aged), « réessayer » goes through.
    with closing(sqlite3.connect(data_dir / "tickets.db")) as conn, conn:
        conn.execute("UPDATE tickets SET created_at = '2000-01-01T00:00:00+00:00'")
    messages, slots = await run(
        ActionRetryHandoff(), make_tracker("retry_handoff", CONSENTED), domain
    )
    assert markers(messages)[0]["handoff"] == "created"


async def test_a_conversation_past_its_limit_at_creation_keeps_nothing(
    make_tracker, domain, data_dir, monkeypatch
):
    monkeypatch.setenv("HANDOFFS_PER_CONVERSATION", "1")
    with TicketStore.open() as store:
        store.hold_contact("test", "phone", "0612345678")
    make_tickets(1, sender="test")
    messages, slots = await run(ActionSubmitHandoff(), make_tracker("affirm", CONSENTED), domain)
    assert markers(messages) == [{"handoff": "limited"}]
    assert all(slots[name] is None for name in FORM_SLOTS)
    with TicketStore.open() as store:
        assert store.peek_contact("test") is None and len(store.list()) == 1
