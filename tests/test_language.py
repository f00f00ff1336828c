"""Other languages (bot/language.py): detection, French never flagged, the notices, memory.

The French corpora are the NLU training examples, the dev evaluation set (read to measure
only) and typo'd, accent-less and SMS variants generated from the training examples; the
other languages are tests/data/other_languages.tsv. The rates print in a « measured »
section at the end of the run.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.language import (
    LANGUAGES,
    NOTICES,
    NoticeMemory,
    detect_language,
    evidence,
    notice,
)
from bot.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
OTHER_LANGUAGES = ROOT / "tests" / "data" / "other_languages.tsv"
MEASURED: list[str] = []


def training_examples() -> list[str]:
    examples = []
    for path in sorted((ROOT / "bot" / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            for line in str(item.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    # Entity annotations keep their text: « [caf](organisme) » is « caf ».
                    examples.append(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line[2:]))
    return examples


def dev_messages() -> list[str]:
    path = get_settings().shared_dir / "eval" / "dev_routing.tsv"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.partition("\t")[2] for line in lines if "\t" in line and line[0] != "#"]


def other_language_cases() -> list[tuple[str, str, str]]:
    """(language, expected route, message) for each line of the translated set."""
    cases, language = [], ""
    for line in OTHER_LANGUAGES.read_text(encoding="utf-8").splitlines():
        if line.startswith("# language:"):
            language = line.split(":", 1)[1].strip()
        elif "\t" in line and not line.startswith("#"):
            expected, _, message = line.partition("\t")
            cases.append((language, expected, message))
    return cases


SMS = [
    (r"\bje\s+", "j"), (r"\bqu", "k"), (r"\bc'est\b", "c"), (r"\bpour\b", "pr"),
    (r"\bquoi\b", "koi"), (r"\bbeaucoup\b", "bcp"), (r"\bs'il vous pla[iî]t\b", "svp"),
    (r"\bmessage\b", "msg"), (r"\bmot de passe\b", "mdp"), (r"\best\b", "é"),
]  # fmt: skip


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def typo(word: str, rng: random.Random) -> str:
    if len(word) <= 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1 :]  # a letter left out
    if kind == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # two letters swapped
    if kind == 2:
        return word[:i] + word[i] + word[i:]  # a letter doubled
    return word[:i] + rng.choice("aeiourstnl") + word[i + 1 :]  # a letter replaced


def french_variants(sentences: list[str], seed: int = 12) -> list[str]:
    """Per sentence: no accents nor apostrophes; SMS spelling; a typo in every long word."""
    rng = random.Random(seed)
    variants = []
    for sentence in sentences:
        lower = sentence.lower()
        variants.append(strip_accents(lower).replace("'", " ").replace("?", ""))
        sms = lower
        for pattern, replacement in SMS:
            sms = re.sub(pattern, replacement, sms)
        variants.append(strip_accents(sms))
        variants.append(" ".join(typo(word, rng) for word in strip_accents(lower).split()))
    return variants


SHORT_FRENCH = [
    "impots", "oui", "non", "jveu aide", "caf", "mdp perdu", "ok merci", "ok", "merci",
    "actualisation pole emploi", "[mot de passe masqué]", "mon mdp c'est [mot de passe masqué]",
    "/next_step", "/impots.declaration_revenus", "FranceConnect", "ameli", "Doctolib",
    "france connect marche pas", "compte ameli bloque", "rdv doctolib annuler",
    "linkedin profil", "indeed candidature", "email perdu", "sms bizarre", "help",
    "allo", "bjr", "slt cv", "cv en pdf", "taxe fonciere 2024", "le 3949", "06 12 34 56 78",
    "jean.dupont@gmail.com", "www.impots.gouv.fr", "numero fiscal perdu", "revenir en arriere",
    "installer whatsapp sur mon telephone", "mettre mon cv sur indeed", "ma cni est perimee",
    "la mediatrice svp", "prime d activite caf", "Online", "ok ok ok ok", "ticket restaurant",
    "scanner mon avis d impot", "carte grise en ligne", "le wifi ne marche pas",
    "date limite declaration revenus", "creation espace particulier",
]  # fmt: skip


@pytest.fixture(scope="module")
def training() -> list[str]:
    examples = training_examples()
    assert len(examples) > 1000
    return examples


def test_no_french_training_example_is_flagged(training):
    flagged = [(text, detect_language(text)) for text in training]
    flagged = [pair for pair in flagged if pair[1]]
    MEASURED.append(f"French training examples flagged: {len(flagged)} / {len(training)}")
    assert flagged == []


def test_no_dev_message_is_flagged():
    messages = dev_messages()
    if not messages:
        pytest.skip("../shared/eval/dev_routing.tsv is missing")
    flagged = [text for text in messages if detect_language(text)]
    MEASURED.append(f"dev messages flagged: {len(flagged)} / {len(messages)}")
    assert flagged == []


def test_no_generated_french_variant_is_flagged(training):
    variants = french_variants(training)
    assert len(variants) == 3 * len(training)
    flagged = [text for text in variants if detect_language(text)]
    MEASURED.append(
        f"generated French variants (no accents, SMS, typos) flagged: "
        f"{len(flagged)} / {len(variants)}"
    )
    assert flagged == []


@pytest.mark.parametrize("text", SHORT_FRENCH)
def test_short_french_payloads_and_names_are_never_flagged(text):
    assert detect_language(text) is None


def test_payloads_placeholders_addresses_and_digits_give_no_evidence():
    assert evidence("/next_step") == ""
    assert evidence("/ask_human") == ""
    assert evidence("[mot de passe masqué] [numéro fiscal masqué]") == ""
    assert evidence("jean.dupont@gmail.com 0612345678 www.impots.gouv.fr") == ""
    assert evidence("I use FranceConnect and Doctolib") == "I use and"
    # A payload is never detected, even one that would read as English.
    assert detect_language("/I would like to speak to a real person please") is None
    assert detect_language("I would like to speak to a real person please") == "en"


def test_a_french_word_keeps_a_mixed_message_french():
    assert detect_language("hello I need help please for my taxes") == "en"
    assert detect_language("hello I need help please pour my taxes") is None


@pytest.fixture(scope="module")
def detections() -> list[tuple[str, str, str | None]]:
    return [
        (lang, message, detect_language(message)) for lang, _, message in other_language_cases()
    ]


def test_the_translated_set_covers_at_least_six_languages_and_the_guides():
    cases = other_language_cases()
    per_language = Counter(language for language, _, _ in cases)
    assert set(per_language) <= set(LANGUAGES)
    assert sum(1 for count in per_language.values() if count >= 8) >= 6
    routes = {expected for _, expected, _ in cases}
    assert {"impots.declaration_revenus", "france_travail.inscription", "cv.rediger"} <= routes
    assert {"compte.franceconnect", "securite.arnaques", "handoff"} <= routes


def test_each_language_is_detected(detections):
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong = []
    for language, message, found in detections:
        total[language] += 1
        right[language] += found == language
        if found != language:
            wrong.append((language, found, message))
    rates = ", ".join(f"{lang} {right[lang]}/{total[lang]}" for lang in total)
    MEASURED.append(f"translated requests detected: {rates}")
    MEASURED.append(f"overall {sum(right.values())}/{sum(total.values())}; missed: {wrong}")
    # Precision first: a miss leaves a visitor without the notice, never a French visitor
    # with it. Each language must still be caught most of the time.
    for language in total:
        assert right[language] / total[language] >= 0.6, (language, wrong)
    assert sum(right.values()) / sum(total.values()) >= 0.85, wrong
    # Never the wrong foreign language: a miss is always « French or too little to tell ».
    assert all(found is None for _, found, _ in wrong), wrong


@pytest.mark.parametrize("code", sorted(NOTICES))
def test_each_notice_is_written_in_its_language(code):
    text = notice(code)
    assert "Guichet" in text and "« Parler à un médiateur »" in text
    assert text.count("\n") == 0 and len(text) < 160
    without_button = text.replace("« Parler à un médiateur »", "").replace("Guichet", "")
    assert detect_language(without_button) == code


def test_no_notice_for_french():
    assert "fr" not in NOTICES
    with pytest.raises(KeyError):
        notice("fr")


def test_the_notice_memory_tells_each_sender_once_and_stays_bounded():
    memory = NoticeMemory(capacity=100)
    assert memory.first_time("a") is True
    assert memory.first_time("a") is False
    for number in range(1000):
        assert memory.first_time(f"visitor-{number}") is True
    assert len(memory) == 100
    # The oldest were forgotten: the notice may come once more to them, never to recent ones.
    assert memory.first_time("a") is True
    assert memory.first_time("visitor-999") is False


def test_measured():
    """Not a check: prints the rates measured above."""
    print("\nmeasured:\n  " + "\n  ".join(MEASURED))
    assert MEASURED
