"""French grammar for names that come from the settings (ORG_NAME, ORG_DESK…).

A setting put after « de » or « à » must follow elision and contraction: « de l'Espace
numérique », « du Centre social », « au guichet 3 », never « de Espace » or « à le
guichet ». The rules below cover the names a desk is likely to give; the text around them
stays the caller's.
"""

from __future__ import annotations

import re
import unicodedata

VOWELS = frozenset("aeiouy")
# Words whose h is aspirated: no elision before them (« de la halle », « le hall »). Only
# the ones a place or an organisation is likely to be named with.
ASPIRATED_H = frozenset(
    {
        "hall",
        "halle",
        "halles",
        "hameau",
        "handicap",
        "hangar",
        "harpe",
        "hasard",
        "haut",
        "haute",
        "hauts",
        "havre",
        "hibou",
        "hockey",
        "hollande",
        "homard",
        "honte",
        "hors",
        "hublot",
        "huit",
        "hutte",
    }
)

# « Le », « La », « Les » as words (« Lepic » is no article), or an elided « L' ».
_ARTICLE_RE = re.compile(r"^(?:(les|le|la)\s+|(l['’])\s*)", re.IGNORECASE)


def _plain(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def first_word(text: str) -> str:
    match = re.match(r"[^\W\d_]+", text.strip())
    return match.group(0) if match else ""


def elides(word: str) -> bool:
    """True when a word takes elision before it: a vowel or a mute h (« l'hôtel »)."""
    plain = _plain(word)
    if not plain:
        return False
    if plain[0] == "h":
        return plain not in ASPIRATED_H and len(plain) > 1 and plain[1] in VOWELS
    return plain[0] in VOWELS


def _split_article(name: str) -> tuple[str, str]:
    """(article in lower case, rest): ("le", "Centre social") for "Le Centre social"."""
    name = name.strip()
    match = _ARTICLE_RE.match(name)
    if not match:
        return "", name
    article = (match.group(1) or match.group(2)).lower().replace("’", "'")
    return article, name[match.end() :]


def de(name: str) -> str:
    """« de » before a name: de l'Espace…, du Centre…, des Ateliers…, de la Maison…"""
    article, rest = _split_article(name)
    if article == "le":
        return f"du {rest}"
    if article == "les":
        return f"des {rest}"
    if article:
        return f"de {article}{' ' if article == 'la' else ''}{rest}"
    if elides(first_word(name)):
        return f"de l'{name.strip()}"
    return f"de {name.strip()}"


def a(name: str) -> str:
    """« à » before a name: à l'accueil, au guichet, aux Ateliers, à la Maison…"""
    article, rest = _split_article(name)
    if article == "le":
        return f"au {rest}"
    if article == "les":
        return f"aux {rest}"
    if article:
        return f"à {article}{' ' if article == 'la' else ''}{rest}"
    if elides(first_word(name)):
        return f"à l'{name.strip()}"
    return f"à {name.strip()}"
