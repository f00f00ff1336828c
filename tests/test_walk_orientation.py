"""Orientation answers: the official service, the mediator, other places when the desk is shut."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallback
from actions.handoff import ActionStartHandoff
from bot import opening, orientation, walk
from bot.settings import ROOT
from bot.walk import WalkState

HOURS = "du mardi au samedi, de 10 h à 12 h et de 14 h à 18 h"
MAP = "cartographie.societenumerique.gouv.fr"
GUIDE = "impots.declaration_revenus"


@pytest.fixture(scope="module")
def table() -> dict[str, orientation.Orientation]:
    return orientation.load_table(ROOT / "knowledge")


def text_of(reply: walk.Reply) -> str:
    return "\n".join(m.text for m in reply.messages)


def payloads(reply: walk.Reply) -> list[str]:
    return [b.payload for m in reply.messages for b in m.buttons]


def test_each_entry_gives_its_marker_site_and_mediator(catalogue, table):
    for entry in table.values():
        reply = walk.orient(catalogue, WalkState(), entry, hours=HOURS)
        assert reply.markers == [{"fallback": "not_covered", "orientation": entry.id}]
        said = text_of(reply)
        assert orientation.official_sites(entry.service)[0] in said.lower()
        assert entry.prepare[1:] in said and entry.pitfall[1:] in said
        assert "À préparer : " + entry.prepare[0].lower() in said
        assert walk.HUMAN in payloads(reply)
        assert "Parler à un médiateur" in [b.title for m in reply.messages for b in m.buttons]
        assert "à l'accueil" in said and "France Services compris" not in said
        assert reply.state.handoff_offered and reply.state.offer_reason == "not_covered"


def test_closed_desk_names_france_services_and_the_map(catalogue, table):
    reply = walk.orient(catalogue, WalkState(), table["carte_grise"], desk_open=False, hours=HOURS)
    said = text_of(reply)
    assert "L'accueil est fermé en ce moment. Il est ouvert " + HOURS in said
    assert "France Services" in said and MAP in said
    assert walk.HUMAN in payloads(reply)


def test_unknown_desk_state_says_both(catalogue, table):
    reply = walk.orient(catalogue, WalkState(), table["vote"], desk_open=None, hours=HOURS)
    said = text_of(reply)
    assert f"à l'accueil, ouvert {HOURS}" in said and MAP in said and "fermé" not in said


def test_plain_not_covered_keeps_the_generic_answer_and_adds_the_closed_desk(catalogue):
    open_reply = walk.fallback(catalogue, WalkState(), "not_covered", hours=HOURS)
    assert open_reply.markers == [{"fallback": "not_covered"}]
    assert "pas encore de guide" in text_of(open_reply) and MAP not in text_of(open_reply)
    closed = walk.fallback(catalogue, WalkState(), "not_covered", desk_open=False, hours=HOURS)
    assert "pas encore de guide" in text_of(closed) and MAP in text_of(closed)
    assert closed.markers == [{"fallback": "not_covered"}]


def test_inside_a_guide_the_place_is_kept(catalogue, table):
    state = WalkState(guide_id=GUIDE, step=2)
    reply = walk.orient(catalogue, state, table["cheque_energie"])
    assert reply.state.guide_id == GUIDE and reply.state.step == 2
    assert walk.REPEAT in payloads(reply)


def test_a_stale_entry_asks_to_check_the_official_site(catalogue, table):
    from dataclasses import replace

    dated = replace(table["vote"], valid_for="2025")
    said = text_of(walk.orient(catalogue, WalkState(), dated, today=dt.date(2026, 11, 30)))
    assert "vérifiez-les sur le site officiel" in said


# ---- the action, with tracker fixtures ------------------------------------------------------


async def run(tracker, domain) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await ActionFallback().run(dispatcher, tracker, domain)
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def markers(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["custom"] for m in messages if m.get("custom")]


def at(hour: int) -> dt.datetime:
    return dt.datetime(2026, 12, 1, hour, 0, tzinfo=ZoneInfo("Europe/Paris"))  # a Tuesday


@pytest.fixture
def desk(monkeypatch):
    """Set the desk's hours to the default and the clock to a chosen hour of a Tuesday."""
    monkeypatch.setenv("ORG_OPENING", "mar-sam 10:00-12:00 14:00-18:00")

    def _at(hour: int) -> None:
        monkeypatch.setattr(opening, "paris_now", lambda: at(hour))

    return _at


async def test_an_orientation_intent_gives_its_marker_and_the_mediator(make_tracker, domain, desk):
    desk(11)
    messages, slots = await run(make_tracker("orientation.carte_grise", text="carte grise"), domain)
    assert markers(messages) == [{"fallback": "not_covered", "orientation": "carte_grise"}]
    said = "\n".join(m["text"] for m in messages)
    assert "immatriculation.ants.gouv.fr" in said and "à l'accueil" in said
    assert any(b["payload"] == "/ask_human" for m in messages for b in m.get("buttons") or [])
    assert slots["handoff_reason"] == "not_covered" and slots["handoff_offered"] is True


async def test_the_closed_desk_variant_names_france_services(make_tracker, domain, desk):
    desk(20)
    messages, _ = await run(
        make_tracker("orientation.titre_sejour", text="titre de sejour"), domain
    )
    said = "\n".join(m["text"] for m in messages)
    assert "L'accueil est fermé" in said and "France Services" in said and MAP in said
    assert "administration-etrangers-en-france.interieur.gouv.fr" in said


async def test_a_malformed_opening_says_both(make_tracker, domain, monkeypatch):
    monkeypatch.setenv("ORG_OPENING", "tous les jours")
    messages, _ = await run(make_tracker("not_covered", text="urssaf"), domain)
    said = "\n".join(m["text"] for m in messages)
    assert "à l'accueil, ouvert" in said and MAP in said
    assert markers(messages) == [{"fallback": "not_covered"}]


async def test_a_missing_entry_falls_back_to_the_generic_answer(make_tracker, domain, desk):
    desk(11)
    messages, _ = await run(make_tracker("orientation.inconnu", text="truc"), domain)
    assert markers(messages) == [{"fallback": "not_covered"}]


async def test_hand_off_after_an_orientation_keeps_the_reason(make_tracker, domain, desk,
                                                              tmp_path, monkeypatch):  # fmt: skip
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    desk(11)
    _, slots = await run(make_tracker("orientation.vote", text="procuration"), domain)
    offered = make_tracker("affirm", {"handoff_offered": True, **slots})
    events = await ActionStartHandoff().run(CollectingDispatcher(), offered, domain)
    started = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert started["handoff_reason"] == "not_covered"


async def test_inside_a_guide_an_orientation_keeps_the_step(make_tracker, domain, desk):
    desk(11)
    tracker = make_tracker(
        "orientation.cheque_energie", {"guide_id": GUIDE, "guide_step": 2.0}, text="cheque energie"
    )
    messages, slots = await run(tracker, domain)
    assert markers(messages) == [{"fallback": "not_covered", "orientation": "cheque_energie"}]
    assert "guide_id" not in slots  # unchanged
    assert any(b["payload"] == "/repeat_step" for m in messages for b in m.get("buttons") or [])
