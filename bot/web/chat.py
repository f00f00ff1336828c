"""The API the kiosk page and the website widget talk to: chat, erase, config.

The web app relays each message to the Rasa REST channel (where the privacy guard runs),
so front ends talk to one origin only. Cross-origin calls are allowed for the host sites in
WIDGET_ORIGINS and refused for any other.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import qr, speech
from bot.conversations import open_conversations
from bot.guides import load_catalogue
from bot.inputs import VISITOR_TEXT_HEADER
from bot.settings import Settings
from bot.tickets import TicketStore, clean_kiosk_name
from bot.workshops import WorkshopStore

NOT_ANSWERING = "Le service ne répond pas. Vous pouvez demander de l'aide à l'accueil."
# Rasa refuses the connection: it is restarting after a crash (make run brings it back).
RESTARTING = "Le service redémarre. Réessayez dans quelques secondes."
UNREADABLE = "Je n'ai pas pu lire ce message. Réessayez."
# A chat body is a small flat object: anything deeper is not a front end's. (Its size is
# bounded for every route by the app's outer layer, bot.web.app.Guard, as bytes arrive.)
MAX_DEPTH = 16
SENDER_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CHANNELS = ("kiosk", "widget")
TIMEOUT_SECONDS = 8.0
NOTHING_TO_READ = "Il n'y a rien à lire."
NO_SPEECH = "La lecture à voix haute n'est pas disponible ici."
SPEECH_BUSY = "La lecture à voix haute est occupée. Réessayez dans un moment."
SPEECH_FAILED = "La lecture à voix haute n'a pas marché. Réessayez."
NOT_AN_ADDRESS = "Cette adresse ne peut pas devenir un code QR."
# A QR code depends only on its address: browsers and the kiosk may keep it a long time.
QR_CACHE = "public, max-age=31536000, immutable"
SPEECH_CUT_HEADER = "X-Guichet-Speech-Cut"


def error(text: str, status: int) -> JSONResponse:
    return JSONResponse([{"text": text}], status_code=status)


class BadBody(ValueError):
    """A request body the API will not read."""


def _depth(text: str) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings skipped),
    checked before parsing: the parser recurses once per level."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):  # 1e999999 reads as infinity
        raise BadBody
    return value


def _no_constant(name: str) -> Any:
    raise BadBody  # NaN, Infinity, -Infinity: not JSON


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body, or BadBody: not UTF-8, not JSON, too deep, a
    number out of range, a lone surrogate (which no UTF-8 text can carry on), not an object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody from None
    brackets = text.count("[") + text.count("{")
    if brackets > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise BadBody
    try:
        data = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
        # Re-encoding finds lone surrogates ("\ud800") anywhere in the body.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeEncodeError):
        raise BadBody from None
    if not isinstance(data, dict):
        raise BadBody
    return data


class ChatApi:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._speaker: speech.Speaker | None = None

    def speaker(self) -> speech.Speaker:
        if self._speaker is None:
            self._speaker = speech.Speaker(self.settings.tts_voice, self.settings.tts_speed)
        return self._speaker

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
            Route("/api/speak", self.speak, methods=["POST"]),
            Route("/api/qr", self.qr_code, methods=["GET"]),
        ]

    def origin_refused(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if not origin:
            return False
        own = f"{request.url.scheme}://{request.url.netloc}"
        return origin.rstrip("/") not in {own, *self.settings.widget_origins}

    async def body(self, request: Request) -> dict[str, Any]:
        """The request's JSON object. A body past the app's limit never gets here: the
        outer layer answers 413 in French as soon as that many bytes have arrived."""
        return parse_body(await request.body())

    async def config(self, request: Request) -> Response:
        catalogue = load_catalogue(self.settings.knowledge_dir)
        return JSONResponse(
            {
                "idle_seconds": self.settings.idle_seconds,
                "countdown_seconds": self.settings.idle_countdown_seconds,
                "wipe_after_ticket_seconds": self.settings.wipe_after_ticket_seconds,
                "max_chars": self.settings.max_message_chars,
                "org_name": self.settings.values["ORG_NAME"],
                "kiosk_name": self.settings.kiosk_name,
                "speech": self.speaker().available,
                "common": [{"id": g.id, "title": g.title} for g in catalogue.common()],
                "public_base_url": self.settings.public_base_url,
            }
        )

    async def chat(self, request: Request) -> Response:
        if self.origin_refused(request):
            return error("Ce site n'est pas autorisé à utiliser Guichet.", 403)
        try:
            data = await self.body(request)
        except BadBody:
            return error(UNREADABLE, 400)
        sender = data.get("sender")
        if not isinstance(sender, str) or not SENDER_RE.match(sender):
            return error(UNREADABLE, 400)
        channel = data.get("channel") if data.get("channel") in CHANNELS else "other"
        message = data.get("message")
        metadata = {"channel": channel}
        if channel == "kiosk":
            given = data.get("kiosk")
            metadata["kiosk"] = clean_kiosk_name(given if isinstance(given, str) else None) or (
                self.settings.kiosk_name
            )
        payload = {"sender": sender, "message": message, "metadata": metadata}
        try:
            answer = await self.client().post(self.rasa_url, json=payload)
        except httpx.TimeoutException:
            return error(NOT_ANSWERING, 504)
        except (httpx.ConnectError, httpx.RemoteProtocolError):
            # Refused, or dropped without an answer: the server is down or restarting.
            return error(RESTARTING, 503)
        except httpx.HTTPError:
            return error(NOT_ANSWERING, 502)
        if answer.status_code == 400:
            return JSONResponse(answer.json(), status_code=400)
        if answer.status_code != 200:
            return error(NOT_ANSWERING, 502)
        # The channel masked the message once and says how it kept it; without its word,
        # nothing is shown rather than what was typed.
        shown = answer.headers.get(VISITOR_TEXT_HEADER, "")
        return JSONResponse(answer.json(), headers={VISITOR_TEXT_HEADER: shown})

    async def speak(self, request: Request) -> Response:
        """`{"text": "…"}` → `audio/wav` read by espeak-ng. The text is never logged."""
        if self.origin_refused(request):
            return error("Ce site n'est pas autorisé à utiliser Guichet.", 403)
        try:
            data = await self.body(request)
        except BadBody:
            return error(UNREADABLE, 400)
        text = data.get("text")
        if not isinstance(text, str):
            return error(NOTHING_TO_READ if text in (None, "") else UNREADABLE, 400)
        speaker = self.speaker()
        try:
            # espeak-ng takes a core for a moment: never on the event loop.
            audio, cut = await run_in_threadpool(speaker.synthesise, text)
        except speech.NothingToSay:
            return error(NOTHING_TO_READ, 400)
        except speech.SpeechUnavailable:
            return error(NO_SPEECH, 503)
        except speech.SpeechBusy:
            return error(SPEECH_BUSY, 503)
        except speech.SpeechFailed:
            return error(SPEECH_FAILED, 502)
        headers = {SPEECH_CUT_HEADER: "1"} if cut else {}
        return Response(audio, media_type="audio/wav", headers=headers)

    async def qr_code(self, request: Request) -> Response:
        """`?url=https://…` → the QR code of that address, as an SVG file."""
        url = request.query_params.get("url", "")
        try:
            svg = await run_in_threadpool(qr.qr_svg, url, standalone=True)
        except qr.NotAnAddress:
            return error(NOT_AN_ADDRESS, 400)
        return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": QR_CACHE})

    async def erase(self, request: Request) -> Response:
        if self.origin_refused(request):
            return error("Ce site n'est pas autorisé à utiliser Guichet.", 403)
        try:
            data = await self.body(request)
        except BadBody:
            data = {}
        sender = data.get("sender")
        if not isinstance(sender, str) or not SENDER_RE.match(sender):
            return error("Conversation inconnue.", 400)
        # SQLite may wait seconds for a lock: never on the event loop, which serves everyone.
        held, deleted = await run_in_threadpool(self._erase, sender)
        return JSONResponse({"erased": not held, "kept_for_ticket": held, "events": deleted})

    def _erase(self, sender: str) -> tuple[bool, int]:
        with TicketStore.open(self.settings) as store:
            store.drop_contact(sender)
            held = sender in store.sender_ids()
        # Bookings stay as anonymous seats; their name and contact go now.
        with WorkshopStore.open(self.settings) as workshops:
            workshops.erase_sender(sender)
        # SQLite or Redis, by settings: erased with a tombstone, in one transaction.
        deleted = 0 if held else open_conversations(self.settings).delete(sender)
        return held, deleted
