"""/api/speak (the server's voice) and /api/qr (QR codes) of the web app, with the real
espeak-ng and segno behind them."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot import speech
from bot.settings import Settings
from bot.speech import duration_seconds, is_wave
from bot.stack import free_port
from bot.web.app import create_app

HOST_SITE = "https://www.mediatheque.example"
SVG = "{http://www.w3.org/2000/svg}svg"

needs_espeak = pytest.mark.skipif(
    speech.find_espeak() is None, reason="espeak-ng is not installed (make setup installs it)"
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    values = Settings.from_env().values | {
        "DATA_DIR": str(tmp_path / "var"),
        "BOT_PORT": str(free_port()),
        "WIDGET_ORIGINS": HOST_SITE,
    }
    return Settings(values)


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


@pytest.fixture
def no_espeak(tmp_path, monkeypatch):
    monkeypatch.setattr(speech, "ESPEAK", str(tmp_path / "nowhere" / "espeak-ng"))
    monkeypatch.setenv("PATH", str(tmp_path))


def speak(client: TestClient, text: object, **headers: str):
    return client.post("/api/speak", json={"text": text}, headers=headers)


@needs_espeak
def test_speak_answers_a_wave_that_grows_with_the_text(client):
    short = speak(client, "Étape suivante.")
    longer = speak(client, "Étape 2 sur 5. Ouvrez le site impots.gouv.fr, puis appuyez sur "
                           "« Votre espace particulier » en haut à droite.")  # fmt: skip
    for answer in (short, longer):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "audio/wav"
        assert answer.headers["cache-control"] == "no-store"  # the text may be the visitor's
        assert is_wave(answer.content)
    assert 0.5 < duration_seconds(short.content) < duration_seconds(longer.content)
    assert duration_seconds(longer.content) > 4


@needs_espeak
def test_speak_reads_html_as_words_and_cuts_a_huge_text(client):
    html = speak(client, "<script>alert('x')</script><b>Bonjour</b>")
    assert html.status_code == 200 and is_wave(html.content)
    assert "x-guichet-speech-cut" not in html.headers
    huge = speak(client, "Bonjour madame. " * 3000)  # ~48 kB, under the body limit
    assert huge.status_code == 200 and huge.headers["x-guichet-speech-cut"] == "1"
    # Cut at 2,000 characters: a couple of minutes at most, not the whole text.
    assert duration_seconds(huge.content) < 240


@pytest.mark.parametrize("text", ["", "   ", "\u0000\u0001", "<br/>"])
def test_speak_with_nothing_to_read(client, text):
    answer = speak(client, text)
    assert answer.status_code == 400
    assert answer.json() == [{"text": "Il n'y a rien à lire."}]


def test_speak_refuses_bodies_it_cannot_read(client):
    assert speak(client, {"a": 1}).status_code == 400
    binary = client.post("/api/speak", content=b"\xff\xfe\x00binary",
                         headers={"content-type": "application/json"})  # fmt: skip
    assert binary.status_code == 400
    assert binary.json() == [{"text": "Je n'ai pas pu lire ce message. Réessayez."}]
    too_big = client.post("/api/speak", content=b'{"text": "' + b"a" * 70_000 + b'"}')
    assert too_big.status_code == 413 and "trop long" in too_big.json()[0]["text"]


def test_speak_follows_the_chat_origins(client):
    assert speak(client, "Bonjour", origin="https://evil.example").status_code == 403


def test_without_espeak_speech_says_it_is_unavailable(client, no_espeak):
    answer = speak(client, "Bonjour")
    assert answer.status_code == 503
    assert answer.json() == [{"text": "La lecture à voix haute n'est pas disponible ici."}]
    assert client.get("/api/config").json()["speech"] is False


@needs_espeak
def test_config_says_speech_is_there(client):
    assert client.get("/api/config").json()["speech"] is True


def test_the_pages_may_play_audio_from_their_own_origin(client):
    policy = client.get("/").headers["content-security-policy"]
    assert "media-src 'self' blob:" in policy
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy


# --- QR codes --------------------------------------------------------------------------------


def test_qr_code_of_an_address(client):
    url = f"https://www.impots.gouv.fr/accueil?x={uuid.uuid4().hex}"
    answer = client.get("/api/qr", params={"url": url})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert "max-age=31536000" in answer.headers["cache-control"]
    root = ET.fromstring(answer.content)
    assert root.tag == SVG
    assert int(root.get("width") or 0) >= 21 * 8  # version 1 is 21 modules, at scale 8
    assert root.get("height") == root.get("width")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        pytest.param("https://" + "a" * 2000 + ".fr", id="huge"),
        "https://exemple.fr/ avec espace",
    ],
)
def test_qr_code_refuses_anything_but_an_address(client, url):
    answer = client.get("/api/qr", params={"url": url})
    assert answer.status_code == 400
    assert answer.json() == [{"text": "Cette adresse ne peut pas devenir un code QR."}]
    assert "max-age" not in answer.headers.get("cache-control", "")  # a refusal is not kept
