"""The web app's outer guard: every error French and with the security headers, request
bodies cut at the limit whatever their transfer encoding (against a real uvicorn), and
console pages that keep answering while tickets.db is locked by another process."""

from __future__ import annotations

import asyncio
import html
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.accounts import AccountStore
from bot.settings import Settings
from bot.tickets import TicketStore
from bot.web import mediation
from bot.web.app import MAX_BODY_BYTES, SECURITY_HEADERS, Guard, create_app

PASSWORD = "correct horse battery"
ENGLISH = ("Not Found", "Method Not Allowed", "Internal Server Error", "Bad Request")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    values = Settings.from_env().values | {
        "DATA_DIR": str(tmp_path / "var"),
        # Nothing listens there: the chat API must never be what answers these tests.
        "BOT_PORT": "9",
    }
    made = Settings(values)
    made.data_dir.mkdir(parents=True, exist_ok=True)
    with AccountStore.open(made) as accounts:
        accounts.create("camille", PASSWORD)
    return made


async def crash(request: Any) -> Any:
    raise RuntimeError("boom")


@pytest.fixture
def app(settings: Settings) -> Any:
    made = create_app(settings)
    # A route that crashes, under the API and under the console, for the 500 pages.
    made.router.routes.insert(0, Route("/api/crash", crash, methods=["GET"]))
    made.router.routes.insert(0, Route("/mediation/crash", crash, methods=["GET"]))
    return made


def assert_guarded(response: Any, status: int, words: str) -> None:
    assert response.status_code == status, (response.request.url, response.text[:200])
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.request.url)
    if response.request.url.path.startswith("/api/"):
        body = response.json()
        assert isinstance(body, list) and words in body[0]["text"], body
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert '<html lang="fr">' in response.text and words in html.unescape(response.text)
    for english in ENGLISH:
        assert english not in response.text


def log_in(client: TestClient) -> str:
    import re

    page = client.get("/mediation/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    done = client.post(
        "/mediation/login", data={"name": "camille", "password": PASSWORD, "csrf": token[1]}
    )
    assert done.status_code == 303
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/mediation/").text)
    assert found
    return found[1]


def test_every_error_status_is_french_with_the_security_headers(app, settings):
    client = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    assert_guarded(client.get("/nulle-part"), 404, "Cette page n'existe pas.")
    assert_guarded(client.get("/static/absent.css"), 404, "Cette page n'existe pas.")
    assert_guarded(client.get("/api/absent"), 404, "Cette page n'existe pas.")
    assert_guarded(client.get("/api/chat"), 405, "ne s'utilise pas de cette façon")
    assert_guarded(client.delete("/mediation/login"), 405, "ne s'utilise pas de cette façon")
    assert_guarded(client.get("/api/crash"), 500, "Une erreur est survenue de notre côté")
    assert_guarded(client.get("/mediation/crash"), 500, "Une erreur est survenue de notre côté")
    big = b"x" * (MAX_BODY_BYTES + 1)
    assert_guarded(client.post("/api/chat", content=big), 413, "trop long")
    assert_guarded(client.post("/mediation/login", content=big), 413, "trop long")
    # The console's own refusals: 401, 403, 429.
    assert_guarded(client.post("/mediation/logout", data={"csrf": "x"}), 401, "Connectez-vous")
    assert_guarded(client.post("/mediation/login", data={"name": "a"}), 403, "expiré")
    attacker = TestClient(app, follow_redirects=False, client=("203.0.113.9", 1234))
    for _ in range(12):
        last = attacker.post(
            "/mediation/login",
            data={"name": "camille", "password": "non", "csrf": log_in_token(attacker)},
        )
    assert_guarded(last, 429, "Trop d'essais")
    assert int(last.headers["retry-after"]) > 0
    # A real crash of the console: tickets.db is not a database any more.
    token = log_in(client)
    assert token
    settings.tickets_db.unlink(missing_ok=True)
    settings.tickets_db.mkdir()
    assert_guarded(client.get("/mediation/"), 500, "Une erreur est survenue")


def log_in_token(client: TestClient) -> str:
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/mediation/login").text)
    assert found
    return found[1]


def test_a_400_for_a_malformed_content_length(app):
    async def scenario() -> tuple[int, dict[bytes, bytes], bytes]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/chat",
            "raw_path": b"/api/chat",
            "query_string": b"",
            "headers": [(b"content-length", b"12, 12")],
            "http_version": "1.1",
            "scheme": "http",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 1),
            "root_path": "",
        }
        await app(scope, receive, send)
        headers = dict(sent[0]["headers"])
        return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])

    status, headers, body = asyncio.run(scenario())
    assert status == 400 and b"content-security-policy" in headers
    assert "La demande n'a pas pu être lue" in body.decode()


def test_a_lying_content_length_is_cut_at_the_limit():
    """The guard counts the bytes it passes on, whatever Content-Length claims."""
    seen = 0

    async def reader(scope: Any, receive: Any, send: Any) -> None:
        nonlocal seen
        more = True
        while more:
            message = await receive()
            seen += len(message.get("body", b""))
            more = message.get("more_body", False)
        raise AssertionError("the whole body was read")

    chunk = b"y" * 16 * 1024
    count = 0

    async def receive() -> dict[str, Any]:
        nonlocal count
        count += 1
        return {"type": "http.request", "body": chunk, "more_body": count < 640}  # 10 MiB

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/chat", "headers": [
        (b"content-length", b"100")]}  # fmt: skip
    asyncio.run(Guard(reader)(scope, receive, send))
    assert sent[0]["status"] == 413
    assert seen <= MAX_BODY_BYTES and count < 640
    assert b"trop long" in b"".join(m.get("body", b"") for m in sent[1:])


# --- a real server -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", ws="none"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if running.started:
            break
        time.sleep(0.05)
    assert running.started, "uvicorn did not start"
    yield url
    running.should_exit = True
    thread.join(timeout=10)


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"z" * size
        sent += size


@pytest.mark.parametrize("path", ["/api/chat", "/api/erase", "/mediation/login"])
def test_a_chunked_body_is_refused_at_the_limit(server: str, path: str):
    with httpx.Client(base_url=server, trust_env=False, timeout=30) as client:
        # A generator body has no length: httpx sends it chunked.
        response = client.post(
            path,
            content=chunks(10 * 1024 * 1024),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.headers["x-frame-options"] == "DENY"
    if path.startswith("/api/"):
        assert "trop long" in response.json()[0]["text"]
    else:
        assert "trop long" in response.text


def test_a_small_chunked_body_still_gets_through(server: str):
    with httpx.Client(base_url=server, trust_env=False, timeout=30) as client:
        body = iter([b'{"sender": "abc"', b', "message": "bonjour"}'])
        response = client.post("/api/chat", content=body)
    # Read whole and answered by the API itself (the sender is refused), not by the guard.
    assert response.status_code == 400 and response.json()[0]["text"]


# --- a locked tickets.db ---------------------------------------------------------------------


async def test_pages_answer_while_tickets_db_is_locked(
    app, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    with TicketStore.open(settings) as store:
        ticket = store.create(
            sender_id="conv-1", channel="kiosk", reason="asked", contact_preference="desk",
            summary="s", transcript=[],
        )  # fmt: skip
    client_ = TestClient(app, follow_redirects=False)
    log_in(client_)
    cookie = client_.cookies.get("guichet_session")
    assert cookie
    entered = threading.Event()

    class Spy(TicketStore):
        @classmethod
        def open(cls, *args: Any, **kwargs: Any) -> Any:
            entered.set()  # the console is about to wait for tickets.db
            return TicketStore.open(*args, **kwargs)

    monkeypatch.setattr(mediation, "TicketStore", Spy)
    holder = sqlite3.connect(settings.tickets_db, isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")  # another process writing: the console must wait
    finished: list[str] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def get(name: str, path: str, **kwargs: Any) -> httpx.Response:
            response = await client.get(path, **kwargs)
            finished.append(name)
            return response

        # Opening an unseen ticket marks it seen: a write, which waits for the lock.
        queue = asyncio.create_task(
            get(
                "ticket",
                f"/mediation/tickets/{ticket.id}",
                headers={"Cookie": f"guichet_session={cookie}"},
            )
        )
        # Wait (on the event loop) until the ticket request is blocked on tickets.db. Were
        # that wait on the event loop, this loop would only run again once it is over.
        while not entered.is_set():
            await asyncio.sleep(0.01)
        health = await get("healthz", "/healthz")
        login = await get("login", "/mediation/login")
        assert health.status_code == 200 and login.status_code == 200
        holder.execute("ROLLBACK")
        holder.close()
        page = await queue
    assert finished == ["healthz", "login", "ticket"]
    assert page.status_code == 200 and f"Ticket n° {ticket.id}" in html.unescape(page.text)
    with TicketStore.open(settings) as store:
        seen = store.get(ticket.id)
    assert seen is not None and seen.seen_at  # the write went through once the lock was freed
