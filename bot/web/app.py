"""Assemble the web app: one Starlette app, each front end its own module."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.settings import Settings, get_settings
from bot.web.chat import VISITOR_TEXT_HEADER, ChatApi
from bot.web.mediation import Console
from bot.web.security import SESSION_HOURS, session_secret

HERE = Path(__file__).parent
MAX_BODY_BYTES = 64 * 1024  # forms here are small; anything bigger is refused early

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """Adds the security headers to every response and refuses oversized bodies."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            response = PlainTextResponse("Envoi trop volumineux.", status_code=413)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


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
            return PlainTextResponse("Page introuvable.", status_code=404)
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
        Route("/mediation", to_console),
        Mount("/mediation", routes=console.routes()),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        # Host sites of the widget may call the chat API and load the widget's files.
        Middleware(
            CORSMiddleware,
            allow_origins=settings.widget_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            expose_headers=[VISITOR_TEXT_HEADER],
        ),
        Middleware(
            SessionMiddleware,
            secret_key=session_secret(settings),
            session_cookie="guichet_session",
            max_age=SESSION_HOURS * 3600,
            same_site="strict",
            https_only=False,
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

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
