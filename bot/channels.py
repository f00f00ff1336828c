"""The REST channel of the contract (`POST /webhooks/rest/webhook`), with input cleaning.

It replaces Rasa's RestInput (same name, same route, same answers) so that what a visitor
types is cleaned before Rasa, its tracker store or its logs see it. This module is the Rasa
adapter; the cleaning itself is plain Python in `bot.inputs`.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import language
from bot.contacts import Contact
from bot.inputs import (
    BAD_REQUEST_REPLY,
    EMPTY_REPLY,
    TRUNCATED_NOTICE,
    VISITOR_TEXT_HEADER,
    ProtectedMessage,
    protect_message,
)
from bot.settings import get_settings
from bot.tickets import TicketStore, clean_kiosk_name

SECRET_WARNING = (
    "Attention : pour votre sécurité, n'écrivez jamais un mot de passe, un code, un numéro de "
    "carte bancaire ou un numéro personnel dans une discussion. Je l'ai masqué et je ne l'ai "
    "pas gardé."
)
NO_ANSWER_REPLY = (
    "Le service redémarre et n'a pas pu vous répondre. Réessayez dans quelques secondes. "
    "Si cela continue, demandez de l'aide à l'accueil."
)
KNOWN_CHANNELS = ("kiosk", "widget")
READ_BACK = "confirm_detail"  # the hand-off marker of « Vous avez écrit … C'est bien ça ? »
# The forms that read a contact detail back with that state: the hand-off and the booking
# of a workshop (both take the detail from the same waiting contacts).
READ_BACK_FORMS = ("handoff", "booking")

log = logging.getLogger(__name__)


def message_metadata(given: Any) -> dict[str, Any]:
    """Only what Guichet reads from the front ends: where the conversation comes from (the
    channel, and for a kiosk its name)."""
    channel = given.get("channel") if isinstance(given, dict) else None
    if channel not in KNOWN_CHANNELS:
        return {"channel": "other"}
    metadata: dict[str, Any] = {"channel": channel}
    kiosk = clean_kiosk_name(given.get("kiosk")) if channel == "kiosk" else None
    if kiosk:
        metadata["kiosk"] = kiosk
    return metadata


class GuichetRestInput(RestInput):
    _store: TicketStore | None = None
    _told: language.NoticeMemory | None = None

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuichetRestInput:
        # Rasa builds its channels once, when the server starts: the moment to apply the
        # measured speed fixes to the server (bot/rasa_speedups.py).
        from bot import rasa_speedups

        rasa_speedups.apply()
        return cls()

    def store(self) -> TicketStore:
        if self._store is None:
            self._store = TicketStore.open()
        return self._store

    def told(self) -> language.NoticeMemory:
        """The conversations already told that Guichet answers in French (bounded)."""
        if self._told is None:
            self._told = language.NoticeMemory()
        return self._told

    def protect(self, sender: str, raw: Any, max_chars: int) -> ProtectedMessage:
        """Mask secrets, then cut; move contact details out of the text into the ticket store."""
        message = protect_message(raw, max_chars)
        if message.contacts:
            last = message.contacts[-1]
            try:
                self.store().hold_contact(sender, last.kind, last.value)
            except sqlite3.Error as exc:
                # The message goes on, masked; the hand-off form will ask for the detail
                # again. Only the error's class is logged, never the detail.
                log.warning("contact detail not held: %s", type(exc).__name__)
        return message

    def read_back(self, sender: str, answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The reply with the full contact detail in place of its partly hidden form, when it
        reads the detail back. Rasa, its tracker store and its logs only ever saw the hidden
        form; the full one goes from the ticket store to this visitor's answer alone."""
        if not any(
            isinstance(a.get("custom"), dict)
            and any(a["custom"].get(form) == READ_BACK for form in READ_BACK_FORMS)
            for a in answers
        ):
            return answers
        try:
            held = self.store().peek_contact(sender)
        except sqlite3.Error as exc:
            log.warning("contact detail not read back: %s", type(exc).__name__)
            return answers
        if held is None:
            return answers
        contact = Contact(*held)
        return [
            {**a, "text": a["text"].replace(contact.shown, contact.display)}
            if isinstance(a.get("text"), str)
            else a
            for a in answers
        ]

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"guichet_rest_{uuid.uuid4().hex[:8]}", __name__)
        max_chars = get_settings().max_message_chars

        @webhook.listener("after_server_start")
        async def freeze(app: Any, loop: Any) -> None:
            # The model is loaded by now (Rasa loads it before the server starts).
            from bot import rasa_speedups

            rasa_speedups.freeze_loaded_objects()

        @webhook.listener("after_server_start")
        async def load_language_detector(app: Any, loop: Any) -> None:
            # Loaded once here (about 0.1 s) rather than on a visitor's first message.
            language.detector()

        @webhook.listener("before_server_stop")
        async def close_sessions(app: Any, loop: Any) -> None:
            from bot import rasa_speedups

            await rasa_speedups.close_kept_sessions()

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except Exception:  # noqa: BLE001 (any unreadable body gets the same answer)
                body = None
            if not isinstance(body, dict):
                return response.json([{"recipient_id": None, "text": BAD_REQUEST_REPLY}], 400)
            sender = body.get("sender")
            sender = str(sender)[:128] if sender not in (None, "") else uuid.uuid4().hex
            # Masked before it is cut, stored or logged (bot.inputs.protect_message).
            message = self.protect(sender, body.get("message"), max_chars)
            if message.empty:
                return response.json(
                    [{"recipient_id": sender, "text": EMPTY_REPLY}],
                    headers={VISITOR_TEXT_HEADER: ""},
                )
            metadata = message_metadata(body.get("metadata"))
            if message.truncated:
                metadata["truncated"] = True
            text, secrets = message.text, message.secrets
            if secrets:
                metadata["masked"] = list(secrets)
            # Another language: said once per conversation, in that language, before Rasa's
            # answer (which still routes the request); kept in the metadata for statistics.
            other = language.detect_language(text)
            if other:
                metadata["language"] = other
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    text,
                    collector,
                    sender,
                    input_channel=self.name(),
                    metadata=metadata or None,
                )  # fmt: skip
            )
            answers = self.read_back(sender, list(collector.messages))
            if not answers:
                # Every turn gets words back: Rasa answers nothing when an action call
                # failed (the action server restarting after a crash, or overloaded).
                log.warning("no answer for a turn of %s: the action server may be down", sender)
                answers.append({"recipient_id": sender, "text": NO_ANSWER_REPLY})
            if secrets:
                answers.insert(0, {"recipient_id": sender, "text": SECRET_WARNING})
            if message.truncated:
                notice = TRUNCATED_NOTICE.format(limit=max_chars)
                answers.insert(0, {"recipient_id": sender, "text": notice})
            if other and self.told().first_time(sender):
                # No route marker: the reply's one marker stays on Rasa's answer.
                answers.insert(0, {"recipient_id": sender, "text": language.notice(other)})
            # Masked once, here: the web app relays this form to the front ends.
            return response.json(answers, headers={VISITOR_TEXT_HEADER: quote(text)})

        return webhook
