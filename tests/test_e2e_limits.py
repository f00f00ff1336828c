"""End to end: the hand-off limits, against the real Rasa and action servers.

A stack of its own, with low limits (2 tickets per conversation, 4 a minute), so that the
rest of the suite is not refused. The minute is not waited for: the tests age tickets by
moving their creation time back in tickets.db, as a minute passing would.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import timedelta

import pytest

from bot import incidents as incident_log
from bot.client import markers, send
from bot.settings import Settings
from bot.stack import MODEL_NAME, Stack, free_port
from bot.tickets import TicketStore

PER_CONVERSATION, PER_MINUTE = 2, 4
KIOSK = {"channel": "kiosk"}
ASK = "je veux parler à quelqu'un"


@pytest.fixture(scope="module")
def limited_stack(tmp_path_factory) -> Iterator[Stack]:
    settings = Settings.from_env()
    assert (settings.model_dir / MODEL_NAME).exists(), "no trained model: run `make train`"
    values = {
        **settings.values,
        "DATA_DIR": str(tmp_path_factory.mktemp("var-limits")),
        "HANDOFFS_PER_CONVERSATION": str(PER_CONVERSATION),
        "HANDOFFS_PER_MINUTE": str(PER_MINUTE),
    }
    stack = Stack(
        Settings(values),
        bot_port=free_port(),
        actions_port=free_port(),
        with_web=False,
        quiet=True,
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def url(limited_stack: Stack) -> str:
    return limited_stack.bot_url


@pytest.fixture
def store(limited_stack: Stack) -> Iterator[TicketStore]:
    with TicketStore(limited_stack.settings.tickets_db) as opened:
        yield opened


@pytest.fixture(autouse=True)
def a_minute_passed(limited_stack: Stack) -> Iterator[None]:
    """Each test starts with no ticket in the last minute."""
    path = limited_stack.settings.tickets_db
    if path.exists():
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("UPDATE tickets SET created_at = '2000-01-01T00:00:00+00:00'")
    yield


def marker(reply: list[dict]) -> dict:
    found = markers(reply)
    assert len(found) == 1 and "handoff" in found[0], reply
    return found[0]


def text(reply: list[dict]) -> str:
    return " ".join(m.get("text") or "" for m in reply)


def until_consent(url: str, sender: str) -> None:
    assert marker(send(url, sender, ASK, metadata=KIOSK))["handoff"] == "contact_preference"
    choose = '/choose_contact{"contact_preference": "desk"}'
    assert marker(send(url, sender, choose, metadata=KIOSK))["handoff"] == "problem"
    assert marker(send(url, sender, "/deny", metadata=KIOSK))["handoff"] == "consent"


def incidents(stack: Stack, kind: str) -> int:
    return incident_log.count(kind, within=timedelta(hours=1), settings=stack.settings)


def test_a_conversation_gets_its_tickets_then_a_french_answer_without_questions(
    url, store, limited_stack
):
    sender = f"limit-{uuid.uuid4().hex}"
    for _ in range(PER_CONVERSATION):
        until_consent(url, sender)
        assert marker(send(url, sender, "oui", metadata=KIOSK))["handoff"] == "created"
    refused = send(url, sender, ASK, metadata=KIOSK)
    assert marker(refused)["handoff"] == "limited"
    assert "déjà notées" in text(refused)
    assert limited_stack.settings.values["ORG_PHONE"] in text(refused)
    # No question was asked, and the next message is not read as an answer to one.
    assert "Comment voulez-vous" not in text(refused)
    assert markers(send(url, sender, "/cv.rediger", metadata=KIOSK))[0]["guide"] == "cv.rediger"
    assert len([t for t in store.list(limit=100) if t.sender_id == sender]) == PER_CONVERSATION
    assert incidents(limited_stack, "handoff_limit_conversation") == 1


def test_a_flood_is_cut_at_the_limit_even_when_visitors_consent_at_once(url, store, limited_stack):
    senders = [f"flood-{uuid.uuid4().hex}" for _ in range(PER_MINUTE + 3)]
    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        list(pool.map(lambda s: until_consent(url, s), senders))
        replies = list(pool.map(lambda s: send(url, s, "oui", metadata=KIOSK), senders))
    states = [marker(r)["handoff"] for r in replies]
    # Checked inside the write transaction: never one ticket too many.
    assert states.count("created") == PER_MINUTE
    assert states.count("limited") == 3
    for reply in replies:
        if marker(reply)["handoff"] == "limited":
            assert "beaucoup de demandes" in text(reply) and "gardé vos réponses" in text(reply)
    assert incidents(limited_stack, "handoff_flood") == 3

    # A newcomer is told at once, before any question.
    newcomer = f"flood-{uuid.uuid4().hex}"
    refused = send(url, newcomer, ASK, metadata=KIOSK)
    assert marker(refused)["handoff"] == "limited" and "Comment voulez-vous" not in text(refused)
    assert incidents(limited_stack, "handoff_flood") == 4

    # A minute later, a refused visitor's « réessayer » creates the ticket from the answers.
    waiting = senders[states.index("limited")]
    with closing(sqlite3.connect(limited_stack.settings.tickets_db)) as conn, conn:
        conn.execute("UPDATE tickets SET created_at = '2000-01-01T00:00:00+00:00'")
    created = marker(send(url, waiting, "réessayer", metadata=KIOSK))
    assert created["handoff"] == "created"
    ticket = store.get(created["ticket"])
    assert ticket is not None and ticket.sender_id == waiting
    assert ticket.contact_preference == "desk"
