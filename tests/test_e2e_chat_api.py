"""The front ends' chat API against the real servers: a widget hand-off is a widget ticket."""

from __future__ import annotations

import uuid
from urllib.parse import unquote

import httpx

from bot.tickets import TicketStore


def test_a_handoff_from_the_widget_is_a_widget_ticket(running_stack):
    sender = uuid.uuid4().hex
    api = f"{running_stack.web_url}/api/chat"

    def say(message: str) -> list[dict]:
        answer = httpx.post(
            api, json={"sender": sender, "message": message, "channel": "widget"}, timeout=30
        )
        assert answer.status_code == 200
        return answer.json()

    asked = say("je voudrais parler à un médiateur")
    buttons = [b["title"] for m in asked for b in m.get("buttons", [])]
    assert "À l'accueil, maintenant" not in buttons  # no desk for a visitor at home
    say('/choose_contact{"contact_preference": "later"}')
    say("/deny")
    created = [m["custom"] for m in say("/affirm") if m.get("custom")][0]
    assert created["handoff"] == "created"
    with TicketStore(running_stack.settings.tickets_db) as store:
        ticket = store.get(created["ticket"])
    assert ticket is not None and ticket.channel == "widget" and ticket.sender_id == sender


def test_secrets_typed_in_the_widget_are_masked_too(running_stack):
    sender = uuid.uuid4().hex
    answer = httpx.post(
        f"{running_stack.web_url}/api/chat",
        timeout=30,
        json={"sender": sender, "message": "ma carte 4111 1111 1111 1111", "channel": "widget"},
    )
    assert "n'écrivez jamais" in answer.json()[0]["text"]
    kept = unquote(answer.headers["x-guichet-visitor-text"])
    assert kept == "ma carte [numéro de carte masqué]"
    content = b"".join(
        p.read_bytes() for p in running_stack.settings.data_dir.rglob("*") if p.is_file()
    )
    assert b"4111 1111 1111 1111" not in content and b"4111111111111111" not in content


def test_bad_bodies_get_a_french_400_from_the_real_web_app(running_stack):
    from tests.test_web_chat import BAD_BODIES

    for param in BAD_BODIES:
        raw = param.values[0]
        assert isinstance(raw, bytes)
        for path in ("/api/chat", "/api/erase"):
            answer = httpx.post(f"{running_stack.web_url}{path}", content=raw, timeout=30,
                                headers={"content-type": "application/json"})  # fmt: skip
            assert answer.status_code == 400, (param.id, path, answer.text[:200])
            assert answer.json()[0]["text"] in (
                "Je n'ai pas pu lire ce message. Réessayez.",
                "Conversation inconnue.",
            )
