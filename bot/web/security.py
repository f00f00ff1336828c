"""Cookies and CSRF tokens of the mediators' console.

A logged-in mediator's cookie carries only a random session id; the session itself (who,
its CSRF token, when it ends) lives in accounts.db (`AccountStore`), so that logout, a new
password or a removed account ends it at once. Before login, the login form is protected by
a double-submit token: a random value in a cookie, and its HMAC (keyed with the session
secret) in the form, which a site that can only plant cookies cannot compute.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bot.accounts import SESSION_LIFETIME
from bot.settings import Settings
from bot.stack import ensure_private_file

SESSION_HOURS = int(SESSION_LIFETIME.total_seconds() // 3600)
SESSION_COOKIE = "guichet_session"
LOGIN_COOKIE = "guichet_login"
COOKIE_PATH = "/mediation"
LOGIN_COOKIE_SECONDS = 3600
_COOKIE_MAX = 100


def session_secret(settings: Settings) -> str:
    """SESSION_SECRET from the environment, or one generated once into DATA_DIR (0600)."""
    return os.environ.get("SESSION_SECRET") or ensure_private_file(
        settings.data_dir / "session_secret", lambda: secrets.token_urlsafe(48)
    )


def cookie_value(request: Request, name: str) -> str:
    value = request.cookies.get(name) or ""
    return value if len(value) <= _COOKIE_MAX else ""


def set_cookie(response: Response, name: str, value: str, max_age: int, secure: bool) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, name: str, secure: bool) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, secure=secure, httponly=True, samesite="strict")


def login_token(secret: str, nonce: str) -> str:
    """The login form's CSRF token for the cookie value `nonce`."""
    return hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def form_token_ok(expected: str | None, form: Any) -> bool:
    given = form.get("csrf") if form is not None else None
    return bool(
        expected
        and isinstance(given, str)
        and hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
    )
