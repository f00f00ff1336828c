"""The chat API of the kiosk and the widget: origins, bad input, erase, a Rasa server down."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.settings import Settings
from bot.stack import free_port
from bot.tickets import TicketStore
from bot.web.app import create_app

HOST_SITE = "https://www.mediatheque.example"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    values = Settings.from_env().values | {
        "DATA_DIR": str(tmp_path / "var"),
        "BOT_PORT": str(free_port()),  # nothing listens there: Rasa is "down"
        "WIDGET_ORIGINS": HOST_SITE,
    }
    return Settings(values)


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


def sender() -> str:
    return uuid.uuid4().hex


def test_config_gives_the_kiosk_its_timings_and_common_guides(client):
    config = client.get("/api/config").json()
    assert config["idle_seconds"] == 180 and config["countdown_seconds"] == 30
    assert config["max_chars"] == 1000
    common = {c["id"]: c["title"] for c in config["common"]}
    assert common["cv.rediger"] == "Écrire ou améliorer votre CV"
    assert "impots.espace_particulier" in common and "compte.franceconnect" not in common


def test_rasa_down_says_the_service_is_restarting(client):
    answer = client.post("/api/chat", json={"sender": sender(), "message": "bonjour",
                                            "channel": "kiosk"})  # fmt: skip
    assert answer.status_code == 503
    assert answer.json() == [{"text": "Le service redémarre. Réessayez dans quelques secondes."}]


def test_config_gives_the_wipe_after_a_ticket(settings):
    values = settings.values | {"WIPE_AFTER_TICKET_SECONDS": "42"}
    config = TestClient(create_app(Settings(values))).get("/api/config").json()
    assert config["wipe_after_ticket_seconds"] == 42


@pytest.mark.parametrize(
    "body",
    [{"sender": "x", "message": "bonjour"}, {"message": "bonjour"}, {"sender": "../../etc"}],
)
def test_bad_requests_get_a_french_answer(client, body):
    answer = client.post("/api/chat", json=body)
    assert answer.status_code == 400 and "Réessayez" in answer.json()[0]["text"]
    assert client.post("/api/chat", content=b"\xff\xfe", headers={
        "content-type": "application/json"}).status_code == 400  # fmt: skip


BAD_BODIES = [
    pytest.param(b'{"sender": "abcdefgh12", "message": "\\ud800"}', id="lone-surrogate"),
    pytest.param(b'{"sender": "\\udfff\\ud800abcdefgh", "message": "x"}', id="surrogate-sender"),
    pytest.param(b"[" * 20_000 + b"]" * 20_000, id="20000-deep"),
    pytest.param(
        b'{"sender": "abcdefgh12", "message": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        id="20000-deep-inside",
    ),
    pytest.param(b'{"sender": "abcdefgh12", "message": "x", "n": 1e999999}', id="1e999999"),
    pytest.param(b'{"sender": "abcdefgh12", "message": "x", "n": -1e999999}', id="-1e999999"),
    pytest.param(b'{"sender": "abcdefgh12", "message": "x", "n": NaN}', id="NaN"),
    pytest.param(b'{"sender": "abcdefgh12", "message": "x", "n": Infinity}', id="Infinity"),
    pytest.param(
        b'{"sender": "abcdefgh12", "message": "x", "n": 1' + b"0" * 5000 + b"}", id="5000-digit-int"
    ),
    pytest.param(b'{"sender": "abcdefgh12", "message": "x"', id="truncated"),
    pytest.param(b"", id="empty"),
    pytest.param(b"null", id="null"),
    pytest.param(b'"bonjour"', id="string"),
    pytest.param(b"\xef\xbb\xbf{}", id="bom"),
    pytest.param(b'{"sender": ["abcdefgh12"], "message": "x"}', id="sender-list"),
    pytest.param(b'{"sender": 12345678901, "message": "x"}', id="sender-number"),
    pytest.param(b'{"sender": "abcdefgh12", "message": "\xed\xa0\x80"}', id="raw-surrogate"),
]


@pytest.mark.parametrize("raw", BAD_BODIES)
@pytest.mark.parametrize("path", ["/api/chat", "/api/erase"])
def test_every_bad_body_gets_a_french_400(client, raw, path):
    answer = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/json")
    text = answer.json()[0]["text"]
    assert text in ("Je n'ai pas pu lire ce message. Réessayez.", "Conversation inconnue.")


def test_a_chunked_body_over_the_limit_is_refused_in_french(client):
    def chunks():
        for _ in range(200):
            yield b'{"sender": "abcdefgh12", "message": "' + b"a" * 1024

    answer = client.post("/api/chat", content=chunks(), headers={
        "content-type": "application/json"})  # fmt: skip
    assert answer.status_code == 413
    assert answer.json()[0]["text"].startswith("Ce message est trop long")


def test_only_allowed_origins_may_call(client):
    refused = client.post("/api/chat", json={"sender": sender(), "message": "x"},
                          headers={"Origin": "https://evil.example"})  # fmt: skip
    assert refused.status_code == 403 and "autorisé" in refused.json()[0]["text"]
    assert "access-control-allow-origin" not in refused.headers
    allowed = client.options("/api/chat", headers={
        "Origin": HOST_SITE, "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert allowed.headers["access-control-allow-origin"] == HOST_SITE
    denied = client.options("/api/chat", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert denied.status_code == 400


def make_tracker(path: Path, senders: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT,"
                     " timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)")  # fmt: skip
        for name in senders:
            conn.execute("INSERT INTO events (sender_id, type_name, timestamp, data)"
                         " VALUES (?, 'user', 1.0, '{}')", (name,))  # fmt: skip


def test_erase_deletes_the_conversation_unless_a_ticket_holds_it(client, settings):
    alone, held = sender(), sender()
    make_tracker(settings.tracker_db, [alone, alone, held])
    with TicketStore.open(settings) as store:
        store.create(sender_id=held, channel="kiosk", reason="asked",
                     contact_preference="desk", summary="s", transcript=[])  # fmt: skip
        store.hold_contact(alone, "phone", "0612345678")
    first = client.post("/api/erase", json={"sender": alone}).json()
    assert first == {"erased": True, "kept_for_ticket": False, "events": 2}
    second = client.post("/api/erase", json={"sender": held}).json()
    assert second["kept_for_ticket"] is True and second["erased"] is False
    with closing(sqlite3.connect(settings.tracker_db)) as conn:
        left = [row[0] for row in conn.execute("SELECT sender_id FROM events")]
    assert left == [held]
    with TicketStore.open(settings) as store:
        assert store.peek_contact(alone) is None
    assert client.post("/api/erase", json={"sender": "?"}).status_code == 400
