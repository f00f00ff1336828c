"""End to end: a visitor writing in another language, through the real servers.

The notice is added by the REST channel (bot/channels.py), outside Rasa's dialogue, so
`rasa test core` cannot see it: these tests are its conversation tests. Needs the trained
model (`make test` trains it first).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from typing import Any

from bot.client import markers, route_of, send
from bot.language import NOTICES


def new_sender() -> str:
    return f"test-lang-{uuid.uuid4().hex}"


def notices_in(reply: list[dict[str, Any]]) -> list[str]:
    return [m.get("text", "") for m in reply if m.get("text") in NOTICES.values()]


def user_metadata(stack: Any, sender: str) -> list[dict[str, Any]]:
    """The metadata of each visitor message of one conversation, from the tracker store."""
    with closing(sqlite3.connect(stack.settings.tracker_db)) as conn:
        rows = conn.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id",
            (sender,),
        ).fetchall()
    return [json.loads(data).get("metadata") or {} for (data,) in rows]


def test_an_english_request_gets_the_notice_in_english_first(bot_url, running_stack):
    sender = new_sender()
    reply = send(bot_url, sender, "I would like to speak to a real person please")
    assert reply[0]["text"] == NOTICES["en"]
    assert "custom" not in reply[0] and "buttons" not in reply[0]
    # Rasa's own answer follows, in French, with at most one route marker in the reply.
    assert len(reply) >= 2 and len(markers(reply)) <= 1
    assert notices_in(reply) == [NOTICES["en"]]
    assert user_metadata(running_stack, sender)[-1].get("language") == "en"


def test_an_arabic_request_gets_the_notice_in_arabic_first(bot_url):
    reply = send(bot_url, new_sender(), "أريد التحدث مع شخص من فضلك")
    assert reply[0]["text"] == NOTICES["ar"]
    assert "custom" not in reply[0]
    assert len(reply) >= 2 and len(markers(reply)) <= 1


def test_french_with_typos_gets_no_notice(bot_url, running_stack):
    for text in (
        "jveu declarer mes inpots stp",
        "jai perdu mon mdp france connect",
        "actualisation pole emploi",
        "ok merci",
        "mon mot de passe c'est Soleil2024!",
    ):
        sender = new_sender()
        reply = send(bot_url, sender, text)
        assert notices_in(reply) == [], (text, reply)
        assert "language" not in user_metadata(running_stack, sender)[-1]


def test_the_notice_comes_once_per_conversation(bot_url, running_stack):
    sender = new_sender()
    first = send(bot_url, sender, "I need to declare my income online")
    assert first[0]["text"] == NOTICES["en"]
    again = send(bot_url, sender, "I would like to speak to a real person please")
    assert notices_in(again) == []
    # Still recorded for statistics on each message in another language.
    assert [m.get("language") for m in user_metadata(running_stack, sender)] == ["en", "en"]
    # Another conversation is told again.
    assert (
        send(bot_url, new_sender(), "I need to declare my income online")[0]["text"]
        == (NOTICES["en"])
    )


def test_a_button_payload_is_never_taken_for_another_language(bot_url):
    sender = new_sender()
    reply = send(bot_url, sender, "/compte.franceconnect")
    assert notices_in(reply) == [] and route_of(reply) == "compte.franceconnect"
    assert notices_in(send(bot_url, sender, "/next_step")) == []


def test_a_request_the_model_routes_keeps_its_guide_marker(bot_url):
    reply = send(bot_url, new_sender(), "How do I log in with FranceConnect?")
    assert reply[0]["text"] == NOTICES["en"]
    # The guide shows in French after the notice, its marker on Rasa's message.
    assert route_of(reply) == "compte.franceconnect"
    marked = [m for m in reply if isinstance(m.get("custom"), dict)]
    assert len(markers(reply)) == 1 and marked[0] is not reply[0]
    assert markers(reply)[0]["step"] == 1
