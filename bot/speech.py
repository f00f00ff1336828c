"""A voice made on the server, for « Lire à voix haute » when the browser has no French one.

espeak-ng (a Debian package, no service asked) turns a reply into a WAV file. What is read
comes from a visitor's screen, so it is treated as untrusted: markup and control characters
are dropped, the length is bounded, espeak-ng gets it on its standard input (never on a
command line, never through a shell) and is stopped after a timeout. A few syntheses run
at once at most (each one takes a core for a moment); the latest answers are kept in
memory, keyed by a hash, since the same reply is often read twice, except those that
read out a phone number, an address or any long number.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import struct
import subprocess
import threading
import unicodedata
from collections import OrderedDict
from pathlib import Path

ESPEAK = "/usr/bin/espeak-ng"
MAX_CHARS = 2000  # a long reply is a minute or two of speech; beyond, it is cut
TIMEOUT_SECONDS = 20.0
MAX_PARALLEL = 2
CACHE_ENTRIES = 32
WAIT_SECONDS = 10.0  # how long a reading waits for a free slot before « occupé »

_TAG_RE = re.compile(r"<[^>]{0,500}>")
_ESCAPE_RE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[@-_])")  # terminal escapes
_VOICE_RE = re.compile(r"^[A-Za-z0-9_+-]{1,40}$")
# Characters that are markup or decoration, not words: read as a pause (space).
_DECORATION_RE = re.compile(r"[*_#`~|<>{}\[\]\\^•·●▪►→«»]+")
_SPACES_RE = re.compile(r"\s+")
# A phone number, an address, a ticket number: audio of these is never kept in memory.
_PERSONAL_RE = re.compile(r"@|\d(?:[\s.\-]?\d){5}")


class NothingToSay(ValueError):
    """The text holds no word once cleaned."""


class SpeechUnavailable(RuntimeError):
    """espeak-ng cannot be run here."""


class SpeechBusy(RuntimeError):
    """Every synthesis slot stayed taken."""


class SpeechFailed(RuntimeError):
    """espeak-ng ran but gave no audio (timeout, crash, unknown voice)."""


def find_espeak(path: str | None = None) -> Path | None:
    """The espeak-ng program, if it can be run: `path` (else the Debian package's), else
    the one on the PATH."""
    for candidate in (path or ESPEAK, shutil.which("espeak-ng")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def clean_text(text: str, max_chars: int = MAX_CHARS) -> tuple[str, bool]:
    """(what to read, whether it was cut): tags and entities, control and format
    characters, decoration dropped; spaces collapsed; cut at a word before `max_chars`."""
    # Work bounded first: a text many times the limit costs what the limit does.
    text = text[: max_chars * 4 + 256]
    text = html.unescape(_TAG_RE.sub(" ", _ESCAPE_RE.sub(" ", text)))
    text = "".join(
        " " if unicodedata.category(c)[0] == "C" else c for c in unicodedata.normalize("NFC", text)
    )
    text = _SPACES_RE.sub(" ", _DECORATION_RE.sub(" ", text)).strip()
    cut = len(text) > max_chars
    if cut:
        text = text[:max_chars]
        space = text.rfind(" ")
        text = text[:space] if space > max_chars // 2 else text
    if not any(c.isalnum() for c in text):
        raise NothingToSay
    return text, cut


class Speaker:
    """espeak-ng with its voice and speed; `synthesise` is blocking (run it in a thread)."""

    def __init__(
        self,
        voice: str = "fr",
        speed: int = 140,
        *,
        binary: str | None = None,
        max_parallel: int = MAX_PARALLEL,
        cache_entries: int = CACHE_ENTRIES,
        timeout: float = TIMEOUT_SECONDS,
    ):
        self.voice = voice if _VOICE_RE.match(voice) else "fr"
        self.speed = max(80, min(int(speed), 450))
        self.binary = binary
        self.timeout = timeout
        self._slots = threading.BoundedSemaphore(max_parallel)
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_entries = cache_entries
        self._lock = threading.Lock()

    def program(self) -> Path | None:
        return find_espeak(self.binary)

    @property
    def available(self) -> bool:
        return self.program() is not None

    def _key(self, text: str) -> str:
        spoken = f"{self.voice}\0{self.speed}\0{text}"
        return hashlib.sha256(spoken.encode("utf-8")).hexdigest()

    def synthesise(self, text: str) -> tuple[bytes, bool]:
        """(WAV bytes, whether the text was cut). Raises NothingToSay, SpeechUnavailable,
        SpeechBusy or SpeechFailed."""
        spoken, cut = clean_text(text)
        program = self.program()
        if program is None:
            raise SpeechUnavailable
        key = self._key(spoken)
        keep = _PERSONAL_RE.search(spoken) is None
        with self._lock:
            if keep and key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key], cut
        if not self._slots.acquire(timeout=WAIT_SECONDS):
            raise SpeechBusy
        try:
            audio = self._run(program, spoken)
        finally:
            self._slots.release()
        if keep:
            with self._lock:
                self._cache[key] = audio
                while len(self._cache) > self._cache_entries:
                    self._cache.popitem(last=False)
        return audio, cut

    def _run(self, program: Path, text: str) -> bytes:
        command = [str(program), "-v", self.voice, "-s", str(self.speed), "--stdout", "--stdin"]
        try:
            done = subprocess.run(  # noqa: S603 (fixed program and options; text on stdin)
                command,
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=self.timeout,
                check=False,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            )
        except subprocess.TimeoutExpired:
            raise SpeechFailed("timeout") from None
        except OSError as exc:
            raise SpeechUnavailable(type(exc).__name__) from None
        audio = done.stdout
        if done.returncode != 0 or not is_wave(audio):
            # stderr names the voice or the option; it never holds the text.
            raise SpeechFailed(f"exit {done.returncode}")
        return fix_sizes(audio)


def fix_sizes(audio: bytes) -> bytes:
    """espeak-ng streaming to stdout cannot seek back, so its header claims 2 GB: some
    players then wait for the rest. Write the true sizes in."""
    data = audio.find(b"data", 12)
    if data < 0 or data + 8 > len(audio):
        raise SpeechFailed("no data chunk")
    body = len(audio) - data - 8
    return (
        audio[:4]
        + struct.pack("<I", len(audio) - 8)
        + audio[8 : data + 4]
        + struct.pack("<I", body)
        + audio[data + 8 :]
    )


def duration_seconds(audio: bytes) -> float:
    """How long a PCM WAV file plays (from its header and its data size)."""
    channels, rate = struct.unpack("<HI", audio[22:28])
    bits = struct.unpack("<H", audio[34:36])[0]
    data = audio.find(b"data", 12)
    size = struct.unpack("<I", audio[data + 4 : data + 8])[0]
    return size / (rate * channels * max(bits // 8, 1))


def is_wave(audio: bytes) -> bool:
    return len(audio) > 44 and audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
