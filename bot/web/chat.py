"""The API the kiosk page and the website widget talk to: chat, erase, config.

The web app relays each message to the Rasa REST channel (where the privacy guard runs),
so front ends talk to one origin only. Cross-origin calls are allowed for the host sites in
WIDGET_ORIGINS and refused for any other.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.guides import load_catalogue
from bot.inputs import masked_text
from bot.settings import Settings
from bot.tickets import TicketStore
from bot.transcript import delete_conversation

# The visitor's message as Guichet keeps it (secrets masked), for the front end's own copy.
VISITOR_TEXT_HEADER = "X-Guichet-Visitor-Text"
NOT_ANSWERING = "Le service ne répond pas. Vous pouvez demander de l'aide à l'accueil."
SENDER_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CHANNELS = ("kiosk", "widget")
TIMEOUT_SECONDS = 8.0


def error(text: str, status: int) -> JSONResponse:
    return JSONResponse([{"text": text}], status_code=status)


class ChatApi:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> httpx.AsyncClient:
        """One HTTP client for every relayed message: kept-alive connections to Rasa, and the
        client's setup (TLS context, pools) paid once rather than on each turn (make bench).
        A client belongs to its event loop; a new loop (tests) gets a new client."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client.is_closed or self._loop is not loop:
            self._client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, trust_env=False)
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def rasa_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.bot_port}/webhooks/rest/webhook"

    def routes(self) -> list[Route]:
        return [
            Route("/api/config", self.config, methods=["GET"]),
            Route("/api/chat", self.chat, methods=["POST"]),
            Route("/api/erase", self.erase, methods=["POST"]),
        ]

    def origin_refused(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if not origin:
            return False
        own = f"{request.url.scheme}://{request.url.netloc}"
        return origin.rstrip("/") not in {own, *self.settings.widget_origins}

    async def body(self, request: Request) -> dict[str, Any] | None:
        try:
            data = await request.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def config(self, request: Request) -> Response:
        catalogue = load_catalogue(self.settings.knowledge_dir)
        return JSONResponse(
            {
                "idle_seconds": self.settings.idle_seconds,
                "countdown_seconds": self.settings.idle_countdown_seconds,
                "max_chars": self.settings.max_message_chars,
                "org_name": self.settings.values["ORG_NAME"],
                "common": [{"id": g.id, "title": g.title} for g in catalogue.common()],
            }
        )

    async def chat(self, request: Request) -> Response:
        if self.origin_refused(request):
            return error("Ce site n'est pas autorisé à utiliser Guichet.", 403)
        data = await self.body(request)
        sender = str((data or {}).get("sender") or "")
        if data is None or not SENDER_RE.match(sender):
            return error("Je n'ai pas pu lire ce message. Réessayez.", 400)
        channel = data.get("channel") if data.get("channel") in CHANNELS else "other"
        message = data.get("message")
        payload = {"sender": sender, "message": message, "metadata": {"channel": channel}}
        try:
            answer = await self.client().post(self.rasa_url, json=payload)
        except httpx.TimeoutException:
            return error(NOT_ANSWERING, 504)
        except httpx.HTTPError:
            return error(NOT_ANSWERING, 502)
        if answer.status_code == 400:
            return JSONResponse(answer.json(), status_code=400)
        if answer.status_code != 200:
            return error(NOT_ANSWERING, 502)
        shown = masked_text(message, self.settings.max_message_chars)
        return JSONResponse(answer.json(), headers={VISITOR_TEXT_HEADER: quote(shown)})

    async def erase(self, request: Request) -> Response:
        if self.origin_refused(request):
            return error("Ce site n'est pas autorisé à utiliser Guichet.", 403)
        data = await self.body(request)
        sender = str((data or {}).get("sender") or "")
        if not SENDER_RE.match(sender):
            return error("Conversation inconnue.", 400)
        with TicketStore.open(self.settings) as store:
            store.drop_contact(sender)
            held = sender in store.sender_ids()
        deleted = 0 if held else delete_conversation(self.settings.tracker_db, sender)
        return JSONResponse({"erased": not held, "kept_for_ticket": held, "events": deleted})
