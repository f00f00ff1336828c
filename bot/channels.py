"""The REST channel of the contract (`POST /webhooks/rest/webhook`), with input cleaning.

It replaces Rasa's RestInput (same name, same route, same answers) so that what a visitor
types is cleaned before Rasa, its tracker store or its logs see it. This module is the Rasa
adapter; the cleaning itself is plain Python in `bot.inputs`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.inputs import BAD_REQUEST_REPLY, EMPTY_REPLY, TRUNCATED_NOTICE, clean_message
from bot.settings import get_settings


class GuichetRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"guichet_rest_{uuid.uuid4().hex[:8]}", __name__)
        max_chars = get_settings().max_message_chars

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
            message = clean_message(body.get("message"), max_chars)
            if message.empty:
                return response.json([{"recipient_id": sender, "text": EMPTY_REPLY}])
            given = body.get("metadata")
            metadata: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
            if message.truncated:
                metadata = {**metadata, "truncated": True}
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    message.text,
                    collector,
                    sender,
                    input_channel=self.name(),
                    metadata=metadata or None,
                )  # fmt: skip
            )
            answers = list(collector.messages)
            if message.truncated:
                notice = TRUNCATED_NOTICE.format(limit=max_chars)
                answers.insert(0, {"recipient_id": sender, "text": notice})
            return response.json(answers)

        return webhook
