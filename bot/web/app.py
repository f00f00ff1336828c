"""Assemble the web app: one Starlette app, each front end its own module.

`Guard` wraps the whole app, outside Starlette's own error middleware, so that every
response (a 500 from a crashing route included) carries the security headers, console and
API answers are never cached, and no request body grows past `MAX_BODY_BYTES` whatever its
transfer encoding. Every error page is French: HTML for pages, `[{"text": …}]` under /api/.
"""

from __future__ import annotations

import contextlib
import gc
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.settings import Settings, get_settings
from bot.web.agenda import Agenda
from bot.web.chat import VISITOR_TEXT_HEADER, ChatApi
from bot.web.mediation import Console

HERE = Path(__file__).parent
MAX_BODY_BYTES = 64 * 1024  # forms and chat messages are small; anything bigger is refused

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        # The kiosk plays the server's voice (/api/speak) from a fetched blob.
        "media-src 'self' blob:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
# Console pages and exports hold visitors' details; API answers hold their conversation.
PRIVATE_PREFIXES = ("/mediation", "/api/")
# …except QR codes of public addresses, which depend on nothing else and may be cached.
PUBLIC_API = ("/api/qr",)

# What a reader sees for each error status (title, sentence); one short French sentence.
ERRORS: dict[int, tuple[str, str]] = {
    400: ("Demande illisible", "La demande n'a pas pu être lue. Réessayez."),
    401: ("Connexion nécessaire", "Connectez-vous d'abord."),
    403: ("Accès refusé", "Vous n'avez pas accès à cette page."),
    404: ("Page introuvable", "Cette page n'existe pas."),
    405: ("Action impossible", "Cette page ne s'utilise pas de cette façon."),
    413: (
        "Envoi trop volumineux",
        "Ce message est trop long pour être envoyé. Raccourcissez-le et réessayez.",
    ),
    429: ("Trop de demandes", "Trop de demandes. Réessayez dans un moment."),
    500: (
        "Erreur du service",
        "Une erreur est survenue de notre côté. Réessayez dans un moment, ou demandez de "
        "l'aide à l'accueil.",
    ),
}

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    """Raised from `receive` once a request body passes MAX_BODY_BYTES."""


def error_response(
    path: str, status: int, headers: Mapping[str, str] | None = None, message: str | None = None
) -> Response:
    """The French answer for `status`: JSON under /api/, a small HTML page elsewhere. Built
    without templates, so that it works even when what failed was rendering."""
    title, sentence = ERRORS.get(status, ERRORS[500 if status >= 500 else 400])
    sentence = message or sentence
    if path.startswith("/api/"):
        return JSONResponse([{"text": sentence}], status_code=status, headers=headers)
    back = ("/mediation/", "la console") if path.startswith("/mediation") else ("/", "l'accueil")
    page = f"""<!doctype html>
<html lang="fr">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{html.escape(title)} — Guichet</title>
  <link rel="stylesheet" href="/static/console.css">
</head>
<body>
  <main id="contenu">
    <h1>{html.escape(title)}</h1>
    <p class="error">{html.escape(sentence)}</p>
    <p><a href="{back[0]}">Revenir à {back[1]}</a></p>
  </main>
</body>
</html>
"""
    return HTMLResponse(page, status_code=status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = exc.headers if isinstance(exc, HTTPException) else None
    return error_response(request.url.path, status, headers)


async def too_large(request: Request, exc: Exception) -> Response:
    return error_response(request.url.path, 413)


async def server_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, BodyTooLarge):  # raised outside a route's own handling
        return error_response(request.url.path, 413)
    return error_response(request.url.path, 500)


class Guard:
    """Outermost layer: headers on every response, body limits, a French last resort."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path") or "")
        private = path.startswith(PRIVATE_PREFIXES) and path not in PUBLIC_API
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if private:
                    headers["Cache-Control"] = "no-store"
                    headers["Pragma"] = "no-cache"
            await send(message)

        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            status = 413 if declared.isdigit() else 400
            await error_response(path, status)(scope, receive, send_with_headers)
            return

        received = 0

        async def counted_receive() -> Message:
            # Counted as the bytes arrive: a chunked body, or one longer than its
            # Content-Length claims, is cut off at the limit rather than read whole.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except BodyTooLarge:
            # Already answered 413 (route handler or error middleware); not a server fault.
            if not started:
                await error_response(path, 413)(scope, receive, send_with_headers)
        except Exception:
            if started:
                raise  # the error middleware answered; let the server log it
            log.exception("unhandled error on %s", path)
            await error_response(path, 500)(scope, receive, send_with_headers)


class GuichetApp(Starlette):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside ServerErrorMiddleware, which Starlette puts before any user middleware.
        return Guard(super().build_middleware_stack())


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def to_console(request: Request) -> Response:
    return RedirectResponse("/mediation/", status_code=307)


STATIC = HERE / "static"


def static_page(
    relative: str, media_type: str = "text/html; charset=utf-8"
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint serving one file of the static folder at a clean path."""

    async def page(request: Request) -> Response:
        path = STATIC / relative
        if not path.exists():
            return error_response(request.url.path, 404)
        return FileResponse(path, media_type=media_type)

    return page


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    console = Console(settings, templates)
    chat = ChatApi(settings)
    routes = [
        Route("/healthz", healthz),
        Route("/", static_page("kiosk/index.html")),
        Route("/widget.js", static_page("widget/widget.js", "text/javascript; charset=utf-8")),
        Route("/demo", static_page("demo/index.html")),
        Route("/demo/horaires", static_page("demo/horaires.html")),
        Route("/demo/hostile", static_page("demo/hostile.html")),
        *chat.routes(),
        *Agenda(settings, templates).routes(),
        Route("/mediation", to_console),
        Mount("/mediation", routes=console.routes()),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        # Host sites of the widget may call the chat API and load the widget's files.
        Middleware(
            CORSMiddleware,
            allow_origins=settings.widget_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            expose_headers=[VISITOR_TEXT_HEADER],
        ),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Everything loaded at start-up stays: keep it out of the garbage collector's
        # full passes, which otherwise pause every answer (make bench).
        gc.collect()
        gc.freeze()
        yield
        await chat.aclose()
        console.close()

    return GuichetApp(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            BodyTooLarge: too_large,
            HTTPException: http_error,
            Exception: server_error,
        },
    )
