"""Sessions, CSRF tokens and the mediator login check for the web app."""

from __future__ import annotations

import hmac
import os
import secrets
from typing import Any

from starlette.requests import Request

from bot.settings import Settings
from bot.stack import ensure_private_file

SESSION_HOURS = 8


def session_secret(settings: Settings) -> str:
    """SESSION_SECRET from the environment, or one generated once into DATA_DIR (0600)."""
    return os.environ.get("SESSION_SECRET") or ensure_private_file(
        settings.data_dir / "session_secret", lambda: secrets.token_urlsafe(48)
    )


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def csrf_ok(request: Request, form: Any) -> bool:
    expected = request.session.get("csrf")
    given = form.get("csrf") if form is not None else None
    return bool(expected and isinstance(given, str) and hmac.compare_digest(expected, given))


def current_mediator(request: Request) -> str | None:
    name = request.session.get("mediator")
    return str(name) if name else None
