"""End to end: generated secrets sent through the REST channel and the web app's /api/chat,
then every byte of every file under DATA_DIR searched for them (databases, -wal, -shm, logs),
in every separator, letter case and encoding. Ordinary sentences sent alongside must be found
there unchanged: the proof that the search sees what is stored.

One stack of its own, with its own DATA_DIR, so that nothing else writes there.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from bot.client import markers, send
from bot.settings import ROOT, Settings
from tests import secret_corpus as corpus
from tests.conftest import SUMMARY

# \uXXXX escapes as JSON writers (and Rasa's tracker store) may store non-ASCII characters.
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
# Groups of digits with anything but letters and digits between them (spaces, no-break
# spaces, dots, dashes, slashes, quotes of a JSON dump...), O read as 0.
_DIGIT_RUN = re.compile(r"[0-9Oo](?:[^0-9A-Za-z\n]{0,3}[0-9Oo])*")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")
WINDOW = 10  # this many characters of a long number in a row count as a leak


def _alnum(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


@dataclass
class DiskSearch:
    """Projections of stored bytes, in which a secret is found whatever its spelling."""

    digit_runs: str = ""  # every run of digits, separators dropped, O read as 0, "|"-joined
    letters_and_digits: str = ""  # everything lowercased, all but [0-9a-z] dropped
    lowered: str = ""  # everything lowercased, "|"-joined
    files: list[Path] = field(default_factory=list)

    @classmethod
    def of(cls, blobs: list[bytes]) -> DiskSearch:
        texts = []
        for blob in blobs:
            for decoded in (blob.decode("utf-8", errors="replace"), blob.decode("latin-1")):
                texts.append(_JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)), decoded))
        runs = []
        for text in texts:
            for run in _DIGIT_RUN.finditer(text):
                compact = re.sub(r"[^0-9Oo]", "", run[0]).replace("O", "0").replace("o", "0")
                if sum(c.isdigit() for c in compact) >= 3:
                    runs.append(compact)
        return cls(
            "|".join(runs),
            "|".join(_alnum(text) for text in texts),
            "|".join(text.lower() for text in texts),
        )

    @classmethod
    def of_folder(cls, folder: Path) -> DiskSearch:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        found = cls.of([p.read_bytes() for p in files])
        found.files = files
        return found

    def holds_number(self, digits: str) -> bool:
        """Any WINDOW digits in a row of `digits` (all of it when shorter)."""
        window = min(WINDOW, len(digits))
        return any(
            digits[i : i + window] in self.digit_runs for i in range(len(digits) - window + 1)
        )

    def holds_text(self, text: str) -> bool:
        """`text` in any letter case and spacing (its letters and digits in a row)."""
        return bool(_alnum(text)) and _alnum(text) in self.letters_and_digits

    def holds_word_then_digits(self, word: str, digits: str) -> bool:
        """`word`, then `digits` (any separators), as whole words: « est 5142 », never the
        « rest » of a JSON key glued to a random hex id that starts with 5142."""
        spaced = "[^0-9a-z]{0,3}".join(re.escape(d) for d in digits)
        pattern = rf"(?<![0-9a-z]){re.escape(word.lower())}[^0-9a-z]{{0,12}}{spaced}(?![0-9])"
        return re.search(pattern, self.lowered) is not None

    def holds_alnum_window(self, text: str) -> bool:
        compact = _alnum(text.replace("O", "0").replace("o", "0"))
        window = min(WINDOW, len(compact))
        seen = self.letters_and_digits.replace("o", "0")
        return any(compact[i : i + window] in seen for i in range(len(compact) - window + 1))


def _context_word(item: corpus.Secret) -> str:
    """The last word before the secret in its message ("cvv" in "cvv 913")."""
    before = item.message[: item.message.find(item.secret)]
    words = re.findall(r"[0-9A-Za-z]+", before)
    return words[-1] if words else ""


def found_on_disk(item: corpus.Secret, disk: DiskSearch) -> bool:
    if item.kind == "iban":
        return disk.holds_alnum_window(item.secret)
    if item.digits:
        digits = corpus.digits_of(item.secret)
        if len(digits) >= WINDOW:
            return disk.holds_number(digits)
        # A short code alone is found by chance in any database; with the word before it
        # ("cvv 913", "est 4821") it is the visitor's.
        return disk.holds_word_then_digits(_context_word(item), digits)
    return any(disk.holds_text(word) for word in item.secret.split() if len(_alnum(word)) >= 4)


# --- the search itself, on bytes written in every way a store or a log may write them -------


@pytest.mark.parametrize(
    "blob",
    [
        b"x 4111 1111 1111 1111 y",
        b"x 4111111111111111 y",
        "x 4111\u00a01111\u00a01111\u00a01111 y".encode(),
        "x 4111\u202f1111\u202f1111\u202f1111 y".encode(),
        "x 4111\u00a01111\u00a01111\u00a01111 y".encode("latin-1"),
        b'{"text": "x 4111\\u00a01111\\u00a01111\\u00a01111"}',
        b"x 4111/1111/1111/1111 y",
        b"x 4111_1111_1111_1111 y",
        b"x 4-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1 y",
        b"x 4111 - 1111 - 1111 - 1111 y",
        b"\x00\x01binary 4111111111111111\x00",
        b"x 4111 1111 11 [card] 11 1111",  # the digits around a cut are still seen
    ],
)
def test_the_disk_search_sees_a_number_in_any_spelling(blob):
    assert DiskSearch.of([blob]).holds_number("4111111111111111")


def test_the_disk_search_sees_words_codes_and_ibans():
    disk = DiskSearch.of(
        [
            b'{"text": "mon mdp est CHATON", "x": "cvv : 913"}',
            b"IBAN fr76 3000 6000 0112 3456 7890 189",
            b"NIR 1 85 O5 78 OO6 O84 91",
        ]
    )
    assert disk.holds_text("chaton") and disk.holds_text("cvv913")
    assert disk.holds_alnum_window("FR7630006000011234567890189")
    assert disk.holds_number("185057800608491")
    assert not disk.holds_text("tulipe") and not disk.holds_number("4111111111111111")
    assert disk.holds_word_then_digits("cvv", "913")


def test_a_short_code_is_found_only_after_its_word():
    disk = DiskSearch.of([b'{"input_channel": "rest", "id": "5142ab09"}', b"code est 5 1 4 2."])
    assert disk.holds_word_then_digits("est", "5142")  # the second blob, spaced digits
    chance = DiskSearch.of([b'{"input_channel": "rest", "id": "5142ab09"}'])
    assert not chance.holds_word_then_digits("est", "5142")  # "rest" + a random hex id
    assert not chance.holds_word_then_digits("est", "51")


# --- the real servers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from bot.stack import MODEL_NAME, Stack, free_port

    settings = Settings.from_env()
    assert (settings.model_dir / MODEL_NAME).exists(), "no trained model: run `make train`"
    data_dir = tmp_path_factory.mktemp("secrets-var")
    values = {**settings.values, "DATA_DIR": str(data_dir), "HANDOFFS_PER_MINUTE": "10000"}
    started = Stack(
        Settings(values),
        bot_port=free_port(),
        actions_port=free_port(),
        web_port=free_port(),
        quiet=True,
    )
    started.start()
    try:
        yield started
    finally:
        started.stop()


def _bot_vocabulary() -> str:
    """What the bot itself may write into its stores: a secret word found there proves
    nothing, so such secrets are not sent."""
    texts = [(ROOT / "domain.yml").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "knowledge").rglob("*") if p.is_file()]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "bot" / "data").rglob("*.yml")]
    return _alnum(" ".join(texts))


ORDINARY_SENT = [
    "je suis né en 1958 et je veux faire ma déclaration",
    "RDV à 14h30 le 15/03/2025 pour mon dossier",
    "j'ai appelé le 3949 mais personne ne répond",
    "j'habite au 12 rue de la Paix 75002 Paris",
    "mon avis d'imposition 2025 dit que je dois 1 250,50 €",
    "le formulaire 2042 et le cerfa 15186*03",
    "mon ordinateur est sous windows 10",
    "je ne trouve pas mon attestation de mars",
]


def _sendable(items: list[corpus.Secret], vocabulary: str) -> list[corpus.Secret]:
    ordinary = _alnum(" ".join(ORDINARY_SENT))
    kept = []
    for item in items:
        words = [_alnum(w) for w in item.secret.split()] if not item.digits else []
        if any(w in vocabulary or w in ordinary for w in words):
            continue
        kept.append(item)
    return kept


def _straddling(max_chars: int, number: str, sep: str) -> corpus.Secret:
    typed = corpus.group(number, [4, 4, 4, 4], sep)
    # The limit falls inside the number: cut first, the first 12 digits would stay.
    start = max_chars - 12 - 1
    message = "merci " * (start // 6) + "x" * (start % 6) + " " + typed + " fin"
    assert message.find(typed) < max_chars < message.find(typed) + len(typed)
    return corpus.Secret("card", message, typed, True)


def _over_rest(url: str, items: list[corpus.Secret]) -> Iterator[list[dict]]:
    def one(index: int) -> list[dict]:
        return send(url, f"secrets-rest-{index // 10}-{uuid.uuid4().hex[:8]}", items[index].message)

    with ThreadPoolExecutor(max_workers=3) as pool:
        yield from pool.map(one, range(len(items)))


def _over_api(url: str, items: list[corpus.Secret]) -> Iterator[httpx.Response]:
    def one(index: int) -> httpx.Response:
        body = {"sender": f"secretsapi{index}x{uuid.uuid4().hex[:8]}", "channel": "widget"}
        return httpx.post(f"{url}/api/chat", json=body | {"message": items[index].message},
                          timeout=60)  # fmt: skip

    with ThreadPoolExecutor(max_workers=3) as pool:
        yield from pool.map(one, range(len(items)))


def _handoff_with_wrong_details(url: str) -> list[str]:
    """The hand-off form with a mistyped phone number, then an address glued to symbols:
    the form asks again each time; what was typed must not be kept. Returns what was typed."""
    wrong_phone, glued_email = "07 98 76 54 3", "=cmd|'/C calc'!A0@evil.fr"
    sender = f"secrets-handoff-{uuid.uuid4().hex}"
    send(url, sender, "je veux parler à quelqu'un")
    asked = send(url, sender, "par téléphone")
    assert any(m.get("handoff") == "contact_detail" for m in markers(asked)), asked
    again = send(url, sender, wrong_phone)
    assert "ne semble pas correct" in again[0]["text"], again
    assert any(m.get("handoff") == "contact_detail" for m in markers(again))  # second chance
    send(url, sender, "annuler")
    other = f"secrets-handoff-{uuid.uuid4().hex}"
    send(url, other, "je veux parler à quelqu'un")
    send(url, other, "par e-mail")
    refused = send(url, other, glued_email)
    # ("=cmd|'/C" looks like a password too: the warning may come first.)
    assert any("ne semble pas correct" in m.get("text", "") for m in refused), refused
    send(url, other, "annuler")
    return [wrong_phone, glued_email]


def test_no_generated_secret_reaches_any_file(stack, request):
    max_chars = stack.settings.max_message_chars
    vocabulary = _bot_vocabulary()
    over_rest = _sendable(corpus.generate(seed=23, per_kind=14), vocabulary)
    over_api = _sendable(corpus.generate(seed=29, per_kind=7), vocabulary)
    over_rest.append(_straddling(max_chars, corpus.card_number(random.Random(5)), " "))
    over_api.append(_straddling(max_chars, corpus.card_number(random.Random(6)), "-"))
    assert len(over_rest) >= 150 and len(over_api) >= 60
    assert {i.kind for i in over_rest} >= {"card", "nir", "tax", "iban", "code", "password"}

    for sentence in ORDINARY_SENT:
        assert send(stack.bot_url, f"ordinary-{uuid.uuid4().hex}", sentence)
    for reply in _over_rest(stack.bot_url, over_rest):
        assert any("n'écrivez jamais" in m.get("text", "") for m in reply), reply
    for item, answer in zip(over_api, _over_api(stack.web_url, over_api), strict=True):
        assert answer.status_code == 200, answer.text
        assert any("n'écrivez jamais" in m.get("text", "") for m in answer.json())
        # The front end is told to show the masked text, never what was typed.
        shown = unquote(answer.headers["x-guichet-visitor-text"])
        assert not corpus.leaked(item, shown), (item.message[-60:], shown[-60:])
    typed_in_form = _handoff_with_wrong_details(stack.bot_url)

    time.sleep(1.5)  # let every server flush its logs and databases
    disk = DiskSearch.of_folder(stack.settings.data_dir)
    names = {p.name for p in disk.files}
    assert "tracker.db" in names and "tickets.db" in names, names

    # The proof that the search sees what is stored: ordinary sentences are there.
    for sentence in ORDINARY_SENT:
        assert disk.holds_text(sentence), f"ordinary sentence not found: {sentence!r}"
    assert disk.holds_number("15032025") and disk.holds_number("75002")

    sent = over_rest + over_api
    found = [item for item in sent if found_on_disk(item, disk)]
    wrong_phone, glued_email = typed_in_form
    form_found = [
        what
        for what, seen in (
            (wrong_phone, disk.holds_number(corpus.digits_of(wrong_phone))),
            (glued_email, disk.holds_text("evil.fr") or disk.holds_text("a0@evil")),
        )
        if seen
    ]
    request.config.stash.setdefault(SUMMARY, []).append(
        f"end to end, generated secrets found under DATA_DIR: {len(found)}/{len(sent)} "
        f"({len(over_rest)} via the REST channel, {len(over_api)} via /api/chat, "
        f"{len(disk.files)} files searched); hand-off form details found: "
        f"{len(form_found)}/{len(typed_in_form)}"
    )
    assert not found, "\n".join(f"{i.kind}: {i.message[-80:]!r}" for i in found[:20])
    assert not form_found, form_found
