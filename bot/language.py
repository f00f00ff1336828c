"""Tell when a visitor writes in another language than French, and what to say then.

Plain Python: the REST channel (bot/channels.py) calls `detect_language` on each typed
message and, the first time in a conversation, puts `notice(code)` before Rasa's answer.
Precision for French comes first: a French visitor types with typos, without accents, in
one to three words, with names of sites and masked secrets, and must never read that the
service answers in French. So a message is flagged only when its script is not Latin
(Arabic, Cyrillic, Tamil, Chinese: no French is written that way), or, in Latin script,
when it has enough words and letters, no unmistakably French word, at least two common
words of another language, and the detector finds that language likelier than French.
The detector is `py3langid` (naive Bayes on byte n-grams, limited to nine Latin-script
languages, loaded once per process on first use): its statistics alone take short French
without accents for Spanish or English, so common words of the other language must back
it (MARKERS).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

# ISO 639-1 code -> the notice, in that language: one short message, the button's label
# in French as it shows on the screen.
NOTICES: dict[str, str] = {
    "en": "Guichet answers in French. A mediator can help you: "
    "press the « Parler à un médiateur » button.",
    "es": "Guichet responde en francés. Un mediador puede ayudarle: "
    "pulse el botón « Parler à un médiateur ».",
    "pt": "O Guichet responde em francês. Um mediador pode ajudá-lo: "
    "carregue no botão « Parler à un médiateur ».",
    "ar": "يجيب Guichet باللغة الفرنسية. يمكن لوسيط أن يساعدك: "
    "اضغط على زر « Parler à un médiateur ».",
    "tr": "Guichet Fransızca yanıt verir. Bir görevli size yardımcı olabilir: "
    "« Parler à un médiateur » düğmesine basın.",
    "ro": "Guichet răspunde în limba franceză. Un mediator vă poate ajuta: "
    "apăsați butonul « Parler à un médiateur ».",
    "it": "Guichet risponde in francese. Un mediatore può aiutarla: "
    "prema il pulsante « Parler à un médiateur ».",
    "de": "Guichet antwortet auf Französisch. Eine Person vor Ort kann Ihnen helfen: "
    "Drücken Sie die Taste « Parler à un médiateur ».",
    "pl": "Guichet odpowiada po francusku. Mediator może Panu/Pani pomóc: "
    "proszę nacisnąć przycisk « Parler à un médiateur ».",
    "ru": "Guichet отвечает на французском языке. Вам может помочь консультант: "
    "нажмите кнопку « Parler à un médiateur ».",
    "uk": "Guichet відповідає французькою мовою. Вам може допомогти консультант: "
    "натисніть кнопку « Parler à un médiateur ».",
    "fa": "Guichet به زبان فرانسوی پاسخ می‌دهد. یک راهنما می‌تواند به شما کمک کند: "
    "دکمه « Parler à un médiateur » را بزنید.",
    "ta": "Guichet பிரெஞ்சு மொழியில் பதில் அளிக்கும். ஒரு உதவியாளர் உங்களுக்கு உதவ முடியும்: "
    "« Parler à un médiateur » பொத்தானை அழுத்தவும்.",
    "zh": "Guichet 用法语回答。工作人员可以帮助您：请按« Parler à un médiateur »按钮。",
}
LANGUAGES = tuple(NOTICES)
# Languages the Latin-script detector chooses among (French included, so that it can win).
LATIN_LANGUAGES = ("fr", "en", "es", "pt", "tr", "ro", "it", "de", "pl")

# Thresholds, chosen on the training examples, the dev set and generated typo variants
# (French never flagged) and tests/data/other_languages.tsv (tests/test_language.py).
MIN_WORDS = 3
MIN_LETTERS = 15
MIN_OTHER_LETTERS = 4  # letters of a non-Latin script; 2 for Chinese (a word is 1 or 2)
MIN_MARKERS = 2  # common words of the other language (MARKERS) in the message
MIN_MARKER_SHARE = 0.25  # of the message's words, unless the detector is sure
SURE = 0.9  # the detector's confidence in the other language that makes it sure


# Common words of each Latin-script language that French does not write, even misspelt
# ("de", "la", "en", "un", "me", "con", "que", "es", "y", "on", "passe" are left out): the
# evidence the detector's statistics need, so that a short French message with typos,
# which n-gram models often take for English, Spanish or Romanian, is never flagged.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MARKERS: dict[str, frozenset[str]] = {
    code: _words(words)
    for code, words in {
        "en": """i my the to and is are you your how what where when can could want need
            have has with of please would this that it from do does am was were there
            forgot speak talk received lost write register create log bank card income
            update notice print letter address someone website thank thanks hello yes""",
        "es": """el los las del una unos para por pero muy qué cómo como dónde cuándo mi
            su sus yo tengo quiero puedo puede necesito hay está estoy son gracias hola
            también ayuda ayudar ayudarme hablar contraseña trabajo hacer quisiera favor
            escribir crear correo tarjeta impuestos ingresos mensaje""",
        "pt": """o os um uma do da dos das no na em com para pelo pela não sim eu meu
            minha você obrigado obrigada olá como onde quando preciso quero posso pode
            tenho está estou ajuda ajudar ajudar-me esqueci esqueci-me falar pessoa queria
            emprego impostos mensagem cartão""",
        "it": """il lo gli della delle dei degli nel nella sono ho hai ha per mio mia come
            dove quando perché vorrei voglio posso può devo grazie ciao anche molto questo
            questa mi aiuto aiutare lavoro parlare faccio""",
        "de": """ich mein meine meinen ist sind und oder nicht mit bei für auf die der das
            den dem ein eine einen einer wie was wo kann können möchte muss habe hat bin
            bitte danke hallo sie mir mich zu von helfen hilfe""",
        "pl": """jak się czy nie jest są mam mój moja mnie mi przez dla chcę muszę może
            proszę dziękuję dzień dobry pomóc pomoc pracę pracy pan pani chciałbym gdzie""",
        "tr": """bir ve bu için ile ne nasıl nerede ben benim sen siz var yok istiyorum
            lütfen teşekkür merhaba evet hayır mı mi mu mü misiniz yardım gerekiyor lazım
            olabilir""",
        "ro": """și să în este sunt am are cu pe pentru care vreau pot poate cum unde când
            îmi mă vă mulțumesc bună ziua ajutor ajuta trebuie nevoie""",
    }.items()
}

# Letters French is never typed with: a word holding one counts as a common word of that
# language (Turkish, agglutinative, has few short words; its ı and ğ tell it).
LETTERS: dict[str, frozenset[str]] = {
    "tr": frozenset("ığİş"),
    "ro": frozenset("ășțţ"),
    "pl": frozenset("łąęśźżćń"),
    "de": frozenset("ßäö"),
    "es": frozenset("ñ"),
    "pt": frozenset("ãõ"),
}

# Names of sites, services and apps: the same in every language, so no evidence either way.
NAMES = re.compile(
    r"(?<![a-zà-ÿ])(?:france\s*connect\w*|france\s*travail|p[oô]le\s*emploi|impots?\.gouv\w*|"
    r"ameli|doctolib|indeed|linkedin|whats\s*app|gmail|outlook|hotmail|yahoo|google|"
    r"facebook|caf|ants|cv|sms|pdf|e-?mail|internet|online|ok)(?![a-zà-ÿ])",
    re.IGNORECASE,
)
PLACEHOLDER = re.compile(r"\[[^\]]*\]")
ADDRESS = re.compile(r"\S+@\S+|\bhttps?://\S+|\bwww\.\S+|\b\S+\.(?:fr|com|gouv|org|net)\b\S*")
HAS_DIGIT = re.compile(r"\S*\d\S*")
WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
# Words only French writes, with and without accents and in SMS spelling: one of them
# in a message and it is taken for French, whatever the detector says. None of them is a
# common word of the other languages detected ("ma", "des", "que", "qui", "ou", "mais",
# "ca" are left out).
FRENCH_WORDS = _words(
    """je j jai jsuis jveux jveu jdois jpeux jarrive jcomprends mon mes pour avec
    vous nous est cest c'est j'ai j'arrive pas svp stp merci bonjour bonsoir veux peux
    dois suis comment quoi koi pourquoi aussi aider aide besoin oui où sur dans ça
    faire fais fait"""
)

_detector: LanguageIdentifier | None = None
_detector_lock = threading.Lock()


def detector() -> LanguageIdentifier:
    """py3langid's model, limited to the Latin-script languages, built once per process."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
                identifier.set_languages(list(LATIN_LANGUAGES))
                _detector = identifier
    return _detector


def evidence(text: str) -> str:
    """The words that can tell a language: no payload, placeholder, address, digits or name."""
    if text.lstrip().startswith("/"):
        return ""  # a button's payload
    text = PLACEHOLDER.sub(" ", text)
    text = ADDRESS.sub(" ", text)
    text = HAS_DIGIT.sub(" ", text)
    text = NAMES.sub(" ", text)
    return " ".join(WORD.findall(text))


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    for script in ("LATIN", "ARABIC", "CYRILLIC", "TAMIL", "CJK"):
        if name.startswith(script):
            return script
    return "OTHER"


PERSIAN_LETTERS = frozenset("پچژگکی")
UKRAINIAN_LETTERS = frozenset("іїєґІЇЄҐ")
RUSSIAN_LETTERS = frozenset("ыэъёЫЭЪЁ")
UKRAINIAN_WORDS = _words("будь ласка мені як це що з мене")
RUSSIAN_WORDS = _words("пожалуйста мне как это что с меня")


def _by_script(text: str, letters: list[str]) -> str | None:
    """A language told by its script alone, when most letters are of one non-Latin script."""
    counts: dict[str, int] = {}
    for char in letters:
        script = _script(char)
        counts[script] = counts.get(script, 0) + 1
    script, count = max(counts.items(), key=lambda item: item[1])
    if script in ("LATIN", "OTHER") or count * 2 <= len(letters):
        return None
    minimum = 2 if script == "CJK" else MIN_OTHER_LETTERS
    if count < minimum:
        return None
    if script == "ARABIC":
        # Persian and Dari write four letters Arabic does not, and their own kaf and yeh.
        return "fa" if PERSIAN_LETTERS.intersection(letters) else "ar"
    if script == "CYRILLIC":
        if UKRAINIAN_LETTERS.intersection(letters):
            return "uk"
        if RUSSIAN_LETTERS.intersection(letters):
            return "ru"
        words = set(text.lower().split())
        return "uk" if len(words & UKRAINIAN_WORDS) > len(words & RUSSIAN_WORDS) else "ru"
    return {"TAMIL": "ta", "CJK": "zh"}[script]


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the other language a message is written in, or None.

    None means French, or too little to tell: the message is then treated as French.
    """
    words_text = evidence(text)
    letters = [char for char in words_text if char.isalpha()]
    if not letters:
        return None
    if any(_script(char) != "LATIN" for char in letters):
        return _by_script(words_text, letters)
    words = words_text.lower().replace("’", "'").split()
    if len(words) < MIN_WORDS or len(letters) < MIN_LETTERS:
        return None
    if FRENCH_WORDS.intersection(words):
        return None
    hits = {
        code: sum(
            word in markers or not LETTERS.get(code, set()).isdisjoint(word) for word in words
        )
        for code, markers in MARKERS.items()
    }
    candidates = [code for code, count in hits.items() if count >= MIN_MARKERS]
    if not candidates:
        return None
    confidence = dict(detector().rank(words_text))
    best = max(candidates, key=lambda code: (hits[code], confidence.get(code, 0.0)))
    share = hits[best] / len(words)
    if share >= 0.5 and hits[best] >= 3:
        return best  # mostly common words of that language: no French sentence is that
    if confidence.get(best, 0.0) <= confidence.get("fr", 0.0):
        return None
    if share < MIN_MARKER_SHARE and confidence.get(best, 0.0) < SURE:
        return None
    return best


def notice(code: str) -> str:
    """The sentence that tells, in that language, that Guichet answers in French."""
    return NOTICES[code]


class NoticeMemory:
    """Which conversations were already told, bounded: the oldest are forgotten first.

    A conversation forgotten (or a restart) only means the notice may come once more.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._told: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, sender: str) -> bool:
        """True the first time a sender is seen (and remember it), False afterwards."""
        with self._lock:
            if sender in self._told:
                self._told.move_to_end(sender)
                return False
            self._told[sender] = None
            while len(self._told) > self.capacity:
                self._told.popitem(last=False)
            return True

    def __len__(self) -> int:
        return len(self._told)
