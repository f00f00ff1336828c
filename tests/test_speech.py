"""The server's voice (bot/speech.py) with the real espeak-ng: cleaning, audio, limits."""

from __future__ import annotations

import threading
import time

import pytest

from bot import speech
from bot.speech import NothingToSay, Speaker, clean_text, duration_seconds, is_wave

needs_espeak = pytest.mark.skipif(
    speech.find_espeak() is None, reason="espeak-ng is not installed (make setup installs it)"
)


def test_markup_and_control_characters_are_not_read():
    text, cut = clean_text("<b>Étape 1</b> :\x00 ouvrez\u200b **impots.gouv.fr**&nbsp;!\x1b[31m")
    assert text == "Étape 1 : ouvrez impots.gouv.fr !"
    assert not cut
    assert clean_text("<script>x</script> Bonjour")[0] == "x Bonjour"


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01\x02", "<br><hr>", "•• ** ##", "\ud800"])
def test_nothing_to_read(text):
    with pytest.raises(NothingToSay):
        clean_text(text)


def test_a_long_text_is_cut_at_a_word():
    long = "Bonjour madame " * 1000
    text, cut = clean_text(long)
    assert cut and len(text) <= speech.MAX_CHARS
    assert text.endswith(("Bonjour", "madame"))


def test_an_unusual_voice_name_falls_back_to_french():
    assert Speaker("fr; rm -rf /").voice == "fr"
    assert Speaker("fr-fr").voice == "fr-fr"
    assert Speaker("fr", speed=10_000).speed == 450


def test_a_missing_program_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    speaker = Speaker(binary=str(tmp_path / "espeak-ng"))
    assert not speaker.available
    with pytest.raises(speech.SpeechUnavailable):
        speaker.synthesise("Bonjour")


@needs_espeak
def test_real_audio_grows_with_the_text():
    speaker = Speaker("fr", 140)
    short, _ = speaker.synthesise("Bonjour.")
    longer, _ = speaker.synthesise(
        "Bonjour. Vous avez écrit 06 12 34 56 78. C'est bien ça ? Appuyez sur un bouton."
    )
    assert is_wave(short) and is_wave(longer)
    # The header tells the true sizes (espeak-ng streaming claims 2 GB).
    assert int.from_bytes(longer[4:8], "little") == len(longer) - 8
    assert 0.3 < duration_seconds(short) < duration_seconds(longer)
    assert duration_seconds(longer) > 3 * duration_seconds(short)


@needs_espeak
def test_the_cache_answers_the_same_text_again():
    speaker = Speaker("fr", 140, cache_entries=2)
    first, _ = speaker.synthesise("Étape suivante.")
    assert speaker.synthesise("  Étape   suivante. ")[0] is first  # same words, same entry
    speaker.synthesise("Un.")
    speaker.synthesise("Deux.")
    assert speaker.synthesise("Étape suivante.")[0] is not first  # pushed out


@needs_espeak
def test_a_number_or_an_address_is_never_kept():
    speaker = Speaker("fr", 140)
    for text in ("Vous avez écrit 06 12 34 56 78. C'est bien ça ?",
                 "Vous avez écrit marie@exemple.fr. C'est bien ça ?"):  # fmt: skip
        first, _ = speaker.synthesise(text)
        assert speaker.synthesise(text)[0] is not first
    assert speaker._cache == {}


@needs_espeak
def test_readings_wait_for_a_free_slot():
    speaker = Speaker("fr", 140, max_parallel=1)
    running, peak, lock = 0, 0, threading.Lock()
    original = speaker._run

    def counted(program, text):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            time.sleep(0.05)
            return original(program, text)
        finally:
            with lock:
                running -= 1

    speaker._run = counted  # type: ignore[method-assign]
    threads = [
        threading.Thread(target=speaker.synthesise, args=(f"Phrase numéro {i}.",)) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 1


def test_a_program_that_gives_no_audio_fails_cleanly(tmp_path):
    fake = tmp_path / "espeak-ng"
    fake.write_text("#!/bin/sh\ncat > /dev/null\necho oops\n")
    fake.chmod(0o755)
    with pytest.raises(speech.SpeechFailed):
        Speaker(binary=str(fake)).synthesise("Bonjour")


def test_a_program_that_hangs_is_stopped(tmp_path):
    fake = tmp_path / "espeak-ng"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    with pytest.raises(speech.SpeechFailed):
        Speaker(binary=str(fake), timeout=0.5).synthesise("Bonjour")
