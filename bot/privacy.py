"""Mask the secrets a visitor may type (tax and social security numbers, IBAN, bank card and
its codes, one-time codes, France Travail identifier, logins and passwords) so that they never
reach logs, trackers or any storage.

Numbers are found by their shape and checksums, in any spelling people use (spaces, no-break
spaces, dots, dashes, slashes, underscores, the letter O typed for a zero); near misses (a
card number with one wrong digit, a NIR missing a digit) are masked too. Passwords are found
after a keyword (« mot de passe », « mdp »…, even with words in between or before it) and by
their shape alone: a token that mixes letters with digits or symbols and is not an ordinary
word, hour, size, ordinal, reference or address.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from bot.contacts import (
    EMAIL_PLACEHOLDER,
    EMAIL_RE,
    INCOMPLETE_PHONE_PLACEHOLDER,
    PHONE_PLACEHOLDER,
    REFUSED_EMAIL_PLACEHOLDER,
)

PLACEHOLDERS: dict[str, str] = {
    "numero_fiscal": "[numéro fiscal masqué]",
    "nir": "[numéro de sécurité sociale masqué]",
    "iban": "[IBAN masqué]",
    "carte_bancaire": "[numéro de carte masqué]",
    "identifiant_france_travail": "[identifiant masqué]",
    "mot_de_passe": "[mot de passe masqué]",
    "code": "[code masqué]",
    "identifiant": "[identifiant de connexion masqué]",
}

# Placeholders of bot.contacts: a second pass must leave them alone too.
_OTHER_PLACEHOLDERS = (
    PHONE_PLACEHOLDER,
    EMAIL_PLACEHOLDER,
    INCOMPLETE_PHONE_PLACEHOLDER,
    REFUSED_EMAIL_PLACEHOLDER,
)

# When two findings have the same length, the kind listed first wins: checksums beat context,
# and a card number without a valid checksum ("carte_probable") loses to a NIR or a tax number.
_PRIORITY = (
    "iban",
    "carte_bancaire",
    "nir",
    "numero_fiscal",
    "carte_probable",
    "code",
    "mot_de_passe",
    "identifiant_france_travail",
    "identifiant",
)
_SHOWN_AS = {"carte_probable": "carte_bancaire"}


@dataclass(frozen=True)
class Redaction:
    text: str  # the text with every secret replaced by a French placeholder
    kinds: tuple[str, ...]  # kinds found, in order of appearance, no duplicates

    @property
    def found(self) -> bool:
        return bool(self.kinds)


class _Span(NamedTuple):
    start: int
    end: int
    kind: str


# People group long numbers with spaces (also the no-break ones French keyboards insert),
# dots, dashes (of any width), slashes or underscores, sometimes two of them (" - ").
_SEP_CHARS = " .-/_\u00a0\u202f\u2009\u2010\u2011\u2012\u2013\u2014"
_SEP = "(?:[" + re.escape(_SEP_CHARS) + "]{1,3})"
_SEP_SET = frozenset(_SEP_CHARS)

# "Not glued to a letter or digit" (any script; the underscore counts as a separator).
_NOT_AFTER_ALNUM = r"(?<![^\W_])"
_NOT_BEFORE_ALNUM = r"(?![^\W_])"

# A run of digit groups that is not glued to a word ("14h30", "1234567A" are not runs).
_DIGIT_RUN = re.compile(rf"{_NOT_AFTER_ALNUM}[0-9]+(?:{_SEP}[0-9]+)*{_NOT_BEFORE_ALNUM}")
_DIGIT_GROUP = re.compile(r"[0-9]+")

# The letter O typed for a zero ("1 85 O5 78 OO6 ..."): in a token of digits, or alone
# between groups of digits ("34/OO/802").
_LONE_O = re.compile(rf"{_NOT_AFTER_ALNUM}[Oo]{{1,4}}{_NOT_BEFORE_ALNUM}")
_O_TOKEN = re.compile(rf"{_NOT_AFTER_ALNUM}[0-9A-Za-z]+{_NOT_BEFORE_ALNUM}")

_NIR = re.compile(
    rf"""
    {_NOT_AFTER_ALNUM}
    (?=(                                    # lookahead: candidates may overlap in a long run
        [1278]                              # sex; 7 and 8 are temporary numbers
        (?:{_SEP}?[0-9]){{4}}               # year, month
        {_SEP}?(?:[0-9]{_SEP}?[0-9]|2[AaBb])  # department, 2A/2B for Corsica
        (?:{_SEP}?[0-9]){{6}}               # commune, order number
        (?:{_SEP}?[0-9]){{0,2}}             # key, or part of it
    ){_NOT_BEFORE_ALNUM})
    """,
    re.VERBOSE,
)
_SIRET_NEAR = re.compile(r"sir[ea][tn]", re.IGNORECASE)

_IBAN_START = re.compile(rf"{_NOT_AFTER_ALNUM}[A-Za-z]{{2}}(?:{_SEP})?[0-9]{{2}}")
_IBAN_COUNTRY_CODES = """
AD AE AL AT AZ BA BE BG BH BL BR BY CH CR CY CZ DE DK DO EE EG ES FI FO FR GB GE GF GI GL GP GR
GT HR HU IE IL IQ IS IT JO KW KZ LB LC LI LT LU LV LY MC MD ME MF MK MQ MR MT MU NC NL NO PF PK
PL PM PS PT QA RE RO RS SA SC SE SI SK SM ST SV TF TL TN TR UA VA VG WF XK YT
"""
_IBAN_COUNTRIES = frozenset(_IBAN_COUNTRY_CODES.split())
_IBAN_LENGTHS = {"FR": 27, "MC": 27}  # the ones we are sure to meet; others: generic bounds

_FT_SHORT = re.compile(r"(?<!\w)[0-9]{7}[A-Za-z](?!\w)")
_FT_SERVICE = r"(?:p[ôo]le[\s-]+emploi|france[\s-]+travail|ft|(?:de\s+)?demandeur\s+d['’]\s*emploi)"
_FT_INTRO = re.compile(
    rf"""
    (?<!\w)
    (?:
        (?:identifiant|id)(?:\s+(?:de\s+)?{_FT_SERVICE})?
      | (?:num[ée]ro|n°)\s*(?:de\s+|d['’]\s*)?{_FT_SERVICE}
    )
    (?:\s*[:=]\s*|\s+(?:est|c['’ ]?est)(?:\s*[:=])?\s*|\s+)
    (?P<token>[0-9A-Za-z]{{7,11}})(?![\w@]|[.\-]\w)
    """,
    re.IGNORECASE | re.VERBOSE,
)

# « mot de passe » as people type it: mdp, MDP, m.d.p, motdepasse, mot 2 passe, mot de pass,
# mots de passes, password, pwd... Bare "pass"/"passe" only after a determiner ("mon pass")
# or before ":" / "=" ("pass: X"): in "je passe 3 jours" it is a verb.
_PWD_WORDS = r"""
    mots?[\s_.\-]{0,3}(?:de|d['’]?|du|2|deux)[\s_.\-]{0,3}pas{1,3}e?s?
  | mot(?:de|2|d)?pas{1,3}e?s?
  | m\.?d\.?p\.?s?
  | pwd | passwd | pass[\s\-]?word | passw
  | code[\s_\-]+(?:secret|confidentiel|personnel|d['’]\s*acc[eè]s)
"""
_PWD_KEYWORD = re.compile(
    rf"""
    (?<!\w)
    (?:
        {_PWD_WORDS}
      | (?:mon|ma|le|ton|votre|son|ce|du|mes|tes|vos)\s+pass(?:e|es)?
      | passe?(?=\s*[:=])
    )
    (?!\w)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_STRONG_ANNOUNCE = re.compile(r"[ \t]*(?::=|=>|->|[:=→➜])[ \t]*")
_COLON_AFTER_WORD = re.compile(r"[ \t]*:[ \t]+")
_ANNOUNCE = "est c'est c’est cest c ces sera serait etait c'etait reste devient vaut is sont"
_ANNOUNCE_WORDS = frozenset(_ANNOUNCE.split())
_NEXT_TOKEN = re.compile(r"[ \t]*(\S+)")
_ENDS_CLAUSE = re.compile(r"[ \t]*(?:$|\n|[.!;,]\s|[.!;,]$)")
_PASSWORD_TAIL = re.compile(r"(?:[ \t]+[^\sA-Za-zÀ-ÿ]{1,8}(?=[\s,;.]|$)){1,2}")
_QUOTE_PAIRS = {"«": "»", '"': '"', "“": "”", "‘": "’", "'": "'", "„": "“"}

# "j'ai mis X comme mot de passe", "je choisis « X » pour mdp".
_PUT_AS_PASSWORD = re.compile(
    rf"""
    (?<!\w)
    (?:mis|mets|mettre|met|mettais|choisi|choisis|choisir|pris|prends|utilis[ée]|utilise
      |tap[ée]|tape|entr[ée]|saisi|cr[ée]{{1,2}}|invent[ée]|avais|ai|gard[ée])
    \s+(?P<token>[«"“][^»"”\n]{{1,100}}[»"”]|\S+)
    \s+(?:comme|pour|en)\s+(?:(?:mon|ma|le|mes|un|nouveau|nouvel|du|de)\s+){{0,3}}
    (?:{_PWD_WORDS})
    (?!\w)
    """,
    re.IGNORECASE | re.VERBOSE,
)

# "je tape X et il dit identifiants incorrects".
_TYPED_THEN_REFUSED = re.compile(
    r"""
    (?<!\w)
    (?:tape|tapes|tap[ée]|mets|mis|rentre|rentr[ée]|entre|entr[ée]|saisis|saisi
      |[ée]cris|[ée]crit|essaie|essaye|essay[ée])
    \s+(?P<token>\S+)
    \s+[^.?!\n]{0,60}?
    (?:incorrect|erron|invalide|faux|fausse|refus|pas\s+bon|marche\s+pas|fonctionne\s+pas
      |erreur|mauvais|identifiants?\s+inconnu)
    """,
    re.IGNORECASE | re.VERBOSE,
)

# "mes identifiants sont jean.dupont et X", "login : jdupont / X".
_CREDENTIALS = re.compile(
    rf"""
    (?<!\w)
    (?:identifiants?|logins?|codes?\s+d['’]\s*acc[eè]s)
    (?:\s*(?:sont|est|c['’]est|:|=))+\s*
    (?P<login>\S+?)[,/]?\s*(?:\s(?:et|puis|&|\+)\s|[,/]\s*|\s(?=(?:le\s+|mon\s+)?(?:{_PWD_WORDS})))
    \s*(?:(?:le\s+|mon\s+)?(?:{_PWD_WORDS})(?:\s*(?:est|c['’]est|:|=))?\s*)?
    (?P<password>\S+)
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Codes: one-time codes near « code » (4 digits or more), bank card codes (3 or more).
_CODE_WORD = re.compile(r"(?<!\w)(?:codes?|otp)(?!\w)", re.IGNORECASE)
_CARD_CODE_WORD = re.compile(
    r"""
    (?<!\w)
    (?:
        cryptogrammes?|cvv2?|cvc2?|cvn|pin
      | crypto
      | code[\s_\-]+(?:pin|confidentiel|secret|de\s+s[ée]curit[ée]|de\s+(?:la\s+|ma\s+)?(?:carte|cb)
                     |carte|cb|bancaire)
      | (?:num[ée]ros?|chiffres?)\s+(?:au\s+dos|derri[eè]re|au\s+verso|[àa]\s+l['’]\s*arri[eè]re)
    )
    (?!\w)
    """,
    re.IGNORECASE | re.VERBOSE,
)
# "code postal 75011", "erreur code 404": not secrets.
_NOT_A_SECRET_CODE = re.compile(
    r"""
    \s*(?:postal|postaux|de\s+la\s+route|civil|p[ée]nal|du\s+travail|de\s+commerce|ape|naf
      |insee|commune|d[ée]partement|erreur|d['’]\s*erreur|de\s+l['’]\s*erreur|promo
      |promotionnel|article|iso|barres?|qr|source|couleur|de\s+conduite|guichet|banque)(?!\w)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_ERROR_BEFORE = re.compile(r"(?:erreur|error|postal)\s*(?:de\s+)?$", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[?!;,\n]|\.(?![0-9])")
# Public numbers a visitor quotes ("le code du 3949"): never one-time codes.
_PUBLIC_NUMBERS = """
3949 3230 3646 3939 3960 3919 3624 3237 3975 3114 3018 3020 3977 3957 3698 3631 0800
"""
KNOWN_PUBLIC_NUMBERS = frozenset(_PUBLIC_NUMBERS.split())
_DATE_LIKE = re.compile(r"[0-9]{1,2}/[0-9]{1,2}(?:/[0-9]{2,4})?|[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Words that describe a password or start a sentence, never a password itself:
# "mon mot de passe est incorrect", "mot de passe : je ne peux pas me connecter".
_NOT_PASSWORD_WORDS = """
le la les l un une des du de d mon ma mes ton ta tes son sa ses notre votre leur ce cet
cette ces je j tu il elle on nous vous ils elles me m te t se s lui y en a au aux et ou
mais donc car ni ne n pas plus jamais rien que qu qui quoi quel quelle quels quelles
comment pourquoi quand combien pour par sur sous avec sans dans chez depuis pendant avant
apres ici est sont etait ai as avons avez ont fait faut doit dois peut peux marche
fonctionne incorrect incorrecte faux fausse invalide nul nulle trop tres vraiment bien mal
bon bonne mauvais mauvaise correct correcte juste valide long longue court courte faible
fort forte simple complique difficile nouveau nouvel nouvelle ancien ancienne provisoire
temporaire actuel actuelle meme pareil identique different obligatoire necessaire requis
perdu perdue vide inconnu introuvable encore toujours deja aussi svp merci oui non ok
france franceconnect ameli impots caf ants msa urssaf gmail outlook hotmail orange laposte
iphone icloud google apple microsoft windows wifi
celui celle ceux celles hier demain maintenant lequel laquelle ou voici voila ca cela ceci
site compte espace personnel probleme souci truc chose question bonjour bonsoir salut
plusieurs fois deux trois partout dedans entrer valider connexion connecter mail email
e-mail messagerie sms telephone portable papier carnet cahier tete exact exacte connu su
expire bloque refuse errone securise oublie change perdus perdues bloques incorrects
incorrectes secret secrete confidentiel code codes mot mots passe mdp identifiant
identifiants login pareille meme exactement vraiment finalement enfin lettres chiffres
caracteres majuscule minuscule symbole espaces tout toute tous toutes rien personne
mis mise mets met tape tapes utilise choisi entre donne recu cree note ecrit envoye
courrier lettre netflix doctolib amazon leboncoin facebook instagram whatsapp paypal sncf
banque bancaire administrateur admin ordinateur tablette session mac linux boite yahoo free
sfr bouygues live skype zoom teams pole travail emploi gouv service public particulier
professionnel pro wifi box internet application appli ici la-bas dessus dessous svp stp
fisc fiscal dgfip tresor finances retraite mutuelle assurance secu securite sociale vitale
carte medecin ecole pronote ent universite sante maladie chomage logement prefecture mairie
solide robuste complexe fiable efficace costaud puissant parfait ideal facile sur sure unique
retenir memoriser creer faire trouver choisir generer gestionnaire coffre conseil conseils
exemple exemples idee phrase pirate piratee vole volee hacke change changer
perds perd perdre grave souvent souvenir rappeler rappelle gratuit gratuits payant payants
oublier oublies noter retiens memorise chaque risque risques dangereux danger normal possible
impossible utile pratique sais savoir connais connaitre comprends comprendre aide aider besoin
veux voudrais marchent fonctionnent quoi lequel lesquels conseille conseilles recommande
"""
_NOT_PASSWORDS = frozenset(_NOT_PASSWORD_WORDS.split())
_PUNCTUATION = ".,;:!?…()[]{}«»\"“”'’"
_ELISION = re.compile(r"(?:[cdjlmnst]|qu)['’]\w+", re.IGNORECASE)
_DOMAIN = re.compile(
    r"(?:https?://|www\.)\S*|[a-z0-9-]+(?:\.[a-z0-9-]+)*\."
    r"(?:fr|gouv|com|org|net|eu|info|be|ch|io|re|pdf|docx?|jpe?g|png|html?)(?:[/?#]\S*)?",
    re.IGNORECASE,
)

# --- passwords by their shape --------------------------------------------------------------

_TOKEN = re.compile(r"\S+")
_LEADING = "([{«\"“‘'<"
_TRAILING = ")]}»\"”’'>.,;:…"
# Symbols that make a token look like a password; quotes, brackets, ".", "-", "/", "'", ":"
# and "," are ordinary punctuation in a sentence.
_SHAPE_SYMBOLS = frozenset("!#$%&*+=?@^~|\\_§<>{}[]£¤µ;")
_UNITS = (
    r"er|ere|re|e|eme|emes|es|ers|nd|nde|nds|ndes|d|de|ieme|iemes|kg|g|gr|mg|km|m|cm|mm|l|ml"
    r"|cl|h|hr|hrs|min|mn|mns|s|sec|j|jr|jrs|jours?|ans?|mois|sem|semaines?|heures?|minutes?"
    r"|go|mo|ko|to|gb|mb|kb|ghz|mhz|w|kw|kwh|v|mah|px|pouces?|p|pts?|points?|%|x|fois|pers"
    r"|personnes?|enfants?|pieces?|etages?|m2|m²|m3|m³|eur|euros?|€|\$|cts?|centimes?|k€|k"
    r"|pages?|chambres?|lits?|places?|cv|ch|mois|trimestres?|semestres?|an|annees?|t|f|bis|ter"
)
_BENIGN_SHAPE = re.compile(
    rf"""
    (?:de|a|vers|des|jusqu'?a|dans|depuis)?
    [0-9]{{1,2}}h(?:[0-9]{{2}})?(?:mn|min)?(?:[-/a]+[0-9]{{1,2}}h(?:[0-9]{{2}})?(?:mn|min)?)*
  | [0-9]+(?:[.,][0-9]+)?(?:[-/a][0-9]+(?:[.,][0-9]+)?)?(?:{_UNITS})
  | [€$][0-9]+(?:[.,][0-9]+)? | [0-9]+(?:[.,][0-9]+)?[€$](?:[0-9]{{2}})?(?:/[a-z]+)?
  | (?:n°|no|n|num|numero)[.:°]?[0-9][0-9*/.\-]*[a-z]?
  | (?:covid|corona|sars-cov|windows|win|iphone|ipad|galaxy|android|ios|office|ps|xbox|mp
      |usb|wifi|cm|ce|cp|cerfa|formulaire|form|article|art|page|annexe|case|ligne|rubrique
      |cadre|bac|licence|master|bts|dut|but|niveau|version|v|tome|chapitre|etape|classe
      |ticket|dossier|batiment|bat|appartement|appt|apt|porte|escalier|bureau|salle|guichet
      |bus|ligne|tram|metro|rer|zone|lot|residence|allee|bloc)
      [-_ ]?[0-9]+[a-z]?(?:[-_.][0-9]+)*
  | bac\+[0-9]+ | h[0-9]n[0-9] | 17cyber | [a-z]+\+ | v?[0-9]+(?:\.[0-9]+)+[a-z]?
  | (?:20[0-9]{{2}}|3916|15186)
      (?:[-_ ]?(?:c|k|rici|pro|spe|sd|cmv|bis|ter|a|b|i|s|ps|iti|ifi|nr|dic|lit|ec|pe))+
  | [0-9]{{0,2}}(?:er)?(?:janvier|janv|fevrier|fevr|fev|mars|avril|avr|mai|juin|juillet|juil
      |aout|septembre|sept|octobre|oct|novembre|nov|decembre|dec)\.?[0-9]{{0,4}}
  | (?:le|la|les|en|au|aux|du|de|des|a|l'|d'|j'|n'|un|une|mes|mon|ma|sur|par|pour|dans
      |depuis|vers|avant|apres|et|ou|il|y|vers|fin|debut|mi)['’]?[0-9][0-9/.:h,\-]*
  | [a-z]{{2}}-?[0-9]{{3}}-?[a-z]{{2}}
  | (?:tel|port|mob|fixe|portable|telephone|fax)[.:]?\+?[0-9][0-9.\-]*
    """,
    re.VERBOSE,
)

# A tag ("<b>", "</script>", "script>x") marks markup, which bad input keeps as plain text.
_MARKUP = re.compile(r"</?[A-Za-z][\w-]*(?:[\s/>=]|$)|[\w\"']>")
_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]{0,300})?/?>")
_PAYLOAD = re.compile(r"/[A-Za-z0-9_.\-]+(?:\{[^{}\n]{0,500}\})?")
_REFERENCE_BEFORE = re.compile(
    r"(?<!\w)(?:dossiers?|r[ée]f[ée]rences?|r[ée]f|ref|demandes?|factures?|suivi|colis|commandes?"
    r"|n°|num[ée]ro|contrat|client|ticket|immatriculation|plaque|allocataire|avis|courrier"
    r"|lettre|quittance|re[çc]u|attestation|r[ée]c[ée]piss[ée])(?!\w)",
    re.IGNORECASE,
)

# Never mask inside these: e-mail addresses are contact details handled by bot.contacts (the
# same pattern, so that what one leaves alone the other takes or refuses), and a placeholder
# from an earlier pass must survive a second pass unchanged.
_EMAIL = EMAIL_RE
_PLACEHOLDER = re.compile(
    "|".join(re.escape(p) for p in (*PLACEHOLDERS.values(), *_OTHER_PLACEHOLDERS))
)


def _compact(text: str) -> str:
    return "".join(c for c in text if c not in _SEP_SET).upper()


@functools.lru_cache(maxsize=4096)
def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _digitized(text: str) -> str:
    """`text` with an O typed for a zero turned into 0, at the same offsets."""

    def _zero(match: re.Match[str]) -> str:
        token = match[0]
        # Only in a token of digits and O ("OO8") or mostly digits ("263O42B2..."):
        # "Soleil2024" keeps its o.
        if "O" not in token and "o" not in token:
            return token
        digits = sum(c.isdigit() for c in token)
        if (
            not digits
            or digits + token.count("O") + token.count("o") < len(token)
            and digits * 2 <= len(token)
        ):
            return token
        return token.replace("O", "0").replace("o", "0")

    first = _O_TOKEN.sub(_zero, text)

    def _lone_zero(match: re.Match[str]) -> str:
        # "34/OO/802...": a token of O alone, next to a group of digits.
        before, after = match.start(), match.end()
        while before > 0 and match.start() - before < 3 and first[before - 1] in _SEP_SET:
            before -= 1
        while after < len(first) and after - match.end() < 3 and first[after] in _SEP_SET:
            after += 1
        near = (before < match.start() and before > 0 and first[before - 1].isdigit()) or (
            after > match.end() and after < len(first) and first[after].isdigit()
        )
        return "0" * len(match[0]) if near else match[0]

    return _LONE_O.sub(_lone_zero, first)


# --- checksums -----------------------------------------------------------------------------


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    # 13-15 digit cards are Visa (4), Diners (3) and Amex (3); longer ones start with 2-6.
    # This keeps numéros fiscaux (13 digits, 0-3) and NIR (15 digits, 1/2/7/8) out of cards.
    first = "4" if len(digits) == 13 else "3" if len(digits) in (14, 15) else "23456"
    return 13 <= len(digits) <= 19 and digits[0] in first and _luhn_ok(digits)


def _card_shaped(lengths: list[int]) -> bool:
    """Groups as cards are printed or typed: one block, 4-4-4-4(-3), Amex 4-6-5, digit by digit."""
    if len(lengths) == 1 or all(n == 1 for n in lengths):
        return True
    if all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4:
        return True
    return lengths in ([4, 6, 5], [4, 6, 4])


def _is_probable_card(digits: str, lengths: list[int]) -> bool:
    """A card number with a wrong digit (no valid checksum) is still a card number."""
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456":
        return False
    if len(digits) == 16:
        return True
    if len(lengths) == 1:
        # In one block, other lengths are other numbers (a SIRET has 14 digits), but Amex.
        return len(digits) == 15 and digits[:2] in ("34", "37")
    # 15 digits from 2 is a NIR's shape, 13 from 2-3 a tax number's: those have their kinds.
    if (len(digits) == 15 and digits[0] == "2") or (len(digits) == 13 and digits[0] in "23"):
        return False
    return _card_shaped(lengths)


def _is_tax_number(digits: str) -> bool:
    # 0033 + 9 digits is a phone number in international form, not a numéro fiscal.
    return len(digits) == 13 and digits[0] in "0123" and not digits.startswith("0033")


def _month_ok(month: str) -> bool:
    # 01-12, 20 (unknown), 30-42 and 50-99 (special cases); never 00, 13-19 or 43-49.
    value = int(month) if month.isdigit() else -1
    return 1 <= value <= 12 or value == 20 or 30 <= value <= 42 or 50 <= value <= 99


def _is_nir(compact: str) -> bool:
    if compact[3:5] == "00":  # month: 01-12, or 20-99 when unknown, never 00
        return False
    department = compact[5:7]
    if len(compact) == 13:
        # Without a key, a digits-only NIR is already masked as a numéro fiscal.
        return department in ("2A", "2B")
    if len(compact) == 14:
        # One digit of the key missing: a near miss, held to a stricter shape since other
        # 14-digit numbers (SIRET) exist.
        return compact[0] in "12" and _month_ok(compact[3:5])
    # The shape is enough: a NIR typed with a wrong key is still a NIR, and masking it
    # costs nothing. (`nir_key_ok` tells a valid key, for the tests and for callers.)
    return True


def nir_key_ok(compact: str) -> bool:
    department = compact[5:7]
    number = compact[:5] + {"2A": "19", "2B": "18"}.get(department, department) + compact[7:13]
    return int(compact[13:]) == 97 - int(number) % 97


def _is_iban(compact: str) -> bool:
    country, check = compact[:2], compact[2:4]
    if not (15 <= len(compact) <= 34) or _IBAN_LENGTHS.get(country, len(compact)) != len(compact):
        return False
    # Every BBAN is mostly digits; this rejects words that happen to start like "le12".
    if not check.isdigit() or sum(c.isdigit() for c in compact[2:]) < 10:
        return False
    if country in _IBAN_LENGTHS and sum(c.isdigit() for c in compact[2:]) >= 20:
        # A French IBAN with a wrong digit is still the visitor's account number.
        return True
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# --- detectors: each returns the spans of one kind ----------------------------------------


def _digit_groups(run: re.Match[str]) -> list[tuple[int, int]]:
    return [(run.start() + g.start(), run.start() + g.end()) for g in _DIGIT_GROUP.finditer(run[0])]


def _find_cards(text: str, digits_view: str) -> Iterator[_Span]:
    for run in _DIGIT_RUN.finditer(digits_view):
        groups = _digit_groups(run)
        whole = "".join(digits_view[s:e] for s, e in groups)
        lengths = [e - s for s, e in groups]
        # The whole run: any grouping when the checksum vouches for it ("41 11 11 ..."), or a
        # card's shape without it (a mistyped digit).
        if _is_card(whole) or _is_probable_card(whole, lengths):
            kind = "carte_bancaire" if _is_card(whole) else "carte_probable"
            yield _Span(run.start(), run.end(), kind)
            continue
        # A card may be glued to an expiry date or a CVV ("4111 1111 1111 1111 12 26"): try
        # the longest slice of whole groups from each group, since Luhn vouches for the cut.
        i = 0
        while i < len(groups):
            best, digits = None, ""
            for j in range(i, len(groups)):
                start, end = groups[j]
                # Cards are printed in groups of 3 to 6 digits: "3 000 4 000" is amounts.
                if j > i and (end - start < 3 or groups[i][1] - groups[i][0] < 3):
                    break
                digits += digits_view[start:end]
                if len(digits) > 19:
                    break
                if _is_card(digits):
                    best = j
            if best is None:
                i += 1
            else:
                yield _Span(groups[i][0], groups[best][1], "carte_bancaire")
                i = best + 1


def _find_tax_numbers(text: str, digits_view: str) -> Iterator[_Span]:
    # No checksum here, so a cut inside a run is too risky: only a whole run of 13 digits,
    # or a 13-digit block typed in one piece, counts.
    for run in _DIGIT_RUN.finditer(digits_view):
        if _is_tax_number(_compact(run[0])):
            yield _Span(run.start(), run.end(), "numero_fiscal")
            continue
        for start, end in _digit_groups(run):
            if _is_tax_number(digits_view[start:end]):
                yield _Span(start, end, "numero_fiscal")


def _find_nirs(text: str, digits_view: str) -> Iterator[_Span]:
    for match in _NIR.finditer(digits_view):
        compact = _compact(match[1])
        if not _is_nir(compact):
            continue
        if len(compact) == 14 and (
            _SIRET_NEAR.search(text, max(0, match.start(1) - 25), match.start(1))
            or _inside_run(digits_view, match.start(1))
        ):
            continue  # a near miss only counts as a whole number, not as the tail of another
        yield _Span(match.start(1), match.end(1), "nir")


def _inside_run(text: str, pos: int) -> bool:
    """True when a digit and separators come right before `pos`."""
    before = pos
    while before > 0 and pos - before < 3 and text[before - 1] in _SEP_SET:
        before -= 1
    return before < pos and before > 0 and text[before - 1].isdigit()


def _alnum_at(text: str, pos: int) -> bool:
    return pos < len(text) and text[pos].isascii() and text[pos].isalnum()


def _find_ibans(text: str, digits_view: str) -> Iterator[_Span]:
    for match in _IBAN_START.finditer(digits_view):
        # Walk the alphanumerics (short separators allowed) and remember each place where a
        # group ends; the longest prefix that passes is the IBAN, so trailing words
        # ("... 189 merci") are left out.
        if match[0][:2].upper() not in _IBAN_COUNTRIES:
            continue
        compact, pos, ends, group_start = "", match.start(), [], 0
        while pos < len(digits_view) and len(compact) < 34:
            char = digits_view[pos]
            if char.isascii() and char.isalnum():
                compact += char.upper()
                pos += 1
                if not _alnum_at(digits_view, pos):
                    group = compact[group_start:]
                    # Letters alone only as a bank code right after the check digits
                    # ("GB82 WEST ..."): a word further on ends the number ("... 189 merci").
                    if group.isalpha() and group_start > 4:
                        break
                    ends.append((compact, pos))
                    group_start = len(compact)
                continue
            gap = pos
            while gap < len(digits_view) and gap - pos < 3 and digits_view[gap] in _SEP_SET:
                gap += 1
            if gap > pos and compact and _alnum_at(digits_view, gap):
                pos = gap
            else:
                break
        for candidate, end in reversed(ends):
            if _is_iban(candidate):
                yield _Span(match.start(), end, "iban")
                break


def _find_france_travail_ids(text: str, digits_view: str) -> Iterator[_Span]:
    for match in _FT_INTRO.finditer(text):
        if sum(c.isdigit() for c in match["token"]) >= 5:
            yield _Span(match.start("token"), match.end("token"), "identifiant_france_travail")
    for match in _FT_SHORT.finditer(text):
        yield _Span(match.start(), match.end(), "identifiant_france_travail")


def _describes_password(core: str) -> bool:
    """True for ordinary French words that talk about a password rather than being one."""
    folded = _fold(core)
    if folded in _NOT_PASSWORDS or _ELISION.fullmatch(core):
        return True
    if folded.endswith("s") and folded[:-1] in _NOT_PASSWORDS:
        return True
    lower = core.lower()
    # Past participles and adverbs: "bloqué", "refusée", "expirés", "vraiment".
    return core.isalpha() and core == lower and lower.endswith(("é", "ée", "és", "ées", "ment"))


def is_ordinary_word(word: str) -> bool:
    """True for the words never taken as a password, even after « mot de passe est »: they
    describe one (« incorrect », « bloqué », « le même »...). A password that is one of them
    is let through; the README says so."""
    core = word.strip(_PUNCTUATION)
    return not core or _describes_password(core)


def _looks_secret(core: str) -> bool:
    if any(c.isdigit() for c in core):
        return True
    if any(not c.isalpha() and c not in "'’-" for c in core):
        return True
    # Mixed case, but not a capitalised or upper-case word ("France", "CAF").
    return any(c.isupper() for c in core[1:]) and any(c.islower() for c in core)


def _token_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The token without wrapping punctuation that cannot be part of it."""
    while start < end and text[start] in _LEADING:
        start += 1
    while end > start and text[end - 1] in ",;)]}»”>…":
        end -= 1
    # A final dot ends the sentence; keep it visible.
    if end - start > 1 and text[end - 1] == "." and text[end - 2] != ".":
        end -= 1
    return start, end


def _quoted(text: str, pos: int) -> tuple[int, int] | None:
    """The span of a quoted phrase that opens at `pos` (« une phrase de passe »)."""
    closing = _QUOTE_PAIRS.get(text[pos]) if pos < len(text) else None
    if closing is None:
        return None
    end = text.find(closing, pos + 1, pos + 202)
    newline = text.find("\n", pos + 1, pos + 202)
    if end == -1 or (newline != -1 and newline < end):
        return None
    return pos, end + 1


def _after_keyword(text: str, pos: int) -> _Span | None:
    """The password that follows a keyword at `pos`, perhaps after a few words."""
    announced = False
    for _ in range(7):
        strong = _STRONG_ANNOUNCE.match(text, pos)
        if strong:
            pos, announced = strong.end(), True
            break
        token = _NEXT_TOKEN.match(text, pos)
        if token is None:
            return None
        core = token[1].strip(_PUNCTUATION)
        folded = _fold(token[1].rstrip(":=").strip(_PUNCTUATION))
        if folded in _ANNOUNCE_WORDS:
            pos, announced = token.end(), True
            # "c est X", "c'est : X": the announcement may take more than one word.
            following = _NEXT_TOKEN.match(text, pos)
            if following and _fold(following[1].rstrip(":")) in _ANNOUNCE_WORDS:
                pos = following.end()
            colon = _COLON_AFTER_WORD.match(text, pos)  # "est : X"
            pos = colon.end() if colon else pos
            break
        if _quoted(text, token.start(1)):
            break  # a quoted phrase right after the keyword: "mdp « ma phrase »"
        if _PWD_KEYWORD.match(text, token.start(1)):
            return None  # another keyword: the password, if any, follows that one
        filler = (
            not core
            or _describes_password(core)
            or _DOMAIN.fullmatch(core)
            or core.lower() in ("ameli.fr", "impots.gouv")
        )
        if not filler:
            break
        if token[1][-1] in ".?!;" and not announced:
            return None  # the sentence ended before any password
        pos = token.end()
    else:
        return None
    # Once announced, the password may be on the next line ("Mot de passe :\nchaton").
    while pos < len(text) and text[pos].isspace() and (announced or text[pos] in " \t"):
        pos += 1
    quoted = _quoted(text, pos)
    if quoted:
        return _Span(quoted[0], quoted[1], "mot_de_passe")
    token = _NEXT_TOKEN.match(text, pos)
    if token is None:
        return None
    core = token[1].strip(_PUNCTUATION).strip()
    if not core or _describes_password(core):
        return None
    # Without "est", ":"... the next word is only a password if it looks like one:
    # "mot de passe oublié" and "mot de passe 3 fois" stay, "mdp azerty123" goes.
    # A single word that ends the message after the keyword is given, not described:
    # "... et mot de passe Bichon", "mdp chaton".
    last_word = len(core) >= 4 and core.isalpha() and _ENDS_CLAUSE.match(text, token.end(1))
    if (
        not announced
        and not last_word
        and (len(core) < 4 or _DOMAIN.fullmatch(core.lower()) or not _looks_secret(core))
    ):
        return None
    start, end = _token_span(text, token.start(1), token.end(1))
    if announced:
        # "mdp : soleil 2024": digits or symbols typed after a space belong to it.
        tail = _PASSWORD_TAIL.match(text, token.end(1))
        if tail:
            end = _token_span(text, start, tail.end())[1]
    return _Span(start, end, "mot_de_passe") if end > start else None


def _secret_word(text: str, start: int, end: int) -> bool:
    """A token given as a password by its context: anything but an ordinary describing word."""
    if text[start] in '«"“':
        return True
    core = text[start:end].strip(_PUNCTUATION)
    return bool(core) and not _describes_password(core) and not _DOMAIN.fullmatch(core)


def _find_passwords(text: str, digits_view: str) -> Iterator[_Span]:
    for match in _PWD_KEYWORD.finditer(text):
        found = _after_keyword(text, match.end())
        if found:
            yield found
    for match in _PUT_AS_PASSWORD.finditer(text):
        if _secret_word(text, match.start("token"), match.end("token")):
            yield _Span(*_token_span(text, *match.span("token")), "mot_de_passe")
    for match in _TYPED_THEN_REFUSED.finditer(text):
        token = match.span("token")
        if _secret_word(text, *token) and not _PWD_KEYWORD.fullmatch(match["token"]):
            yield _Span(*_token_span(text, *match.span("token")), "mot_de_passe")
    for match in _CREDENTIALS.finditer(text):
        login, password = match.span("login"), match.span("password")
        if not _secret_word(text, *login):
            continue
        yield _Span(*_token_span(text, *login), "identifiant")
        if _secret_word(text, *password):
            yield _Span(*_token_span(text, *password), "mot_de_passe")


def _shape_secret(core: str, typed_length: int) -> bool:
    """A token that mixes letters with digits or symbols and is nothing ordinary."""
    if typed_length < 6 or not any(c.isalpha() for c in core):
        return False
    has_digit = any(c.isdigit() for c in core)
    if not has_digit and not any(c in _SHAPE_SYMBOLS for c in core):
        return False
    if "@" in core and _EMAIL.search(core):
        return False
    if _DOMAIN.fullmatch(core):
        return False
    if _MARKUP.search(core):
        return False  # HTML or script typed or pasted is kept as text, never masked
    return not _BENIGN_SHAPE.fullmatch(_fold(core))


def _find_shaped_passwords(text: str, digits_view: str) -> Iterator[_Span]:
    for token in _TOKEN.finditer(text):
        word = token[0]
        if len(word) < 6 or word.isalpha() or word.isdigit():
            continue  # the common case, decided at once
        start, end = _token_span(text, token.start(), token.end())
        core = text[start:end].strip("!?")
        if not _shape_secret(core, end - start):
            continue
        # "dossier n° D2024-1234", "facture FA-2024-0012": a reference named as such.
        # (A password named as such was found by its keyword before this.)
        clause = _CLAUSE_END.split(text[max(0, start - 40) : start])[-1]
        if _REFERENCE_BEFORE.search(clause) and not _PWD_KEYWORD.search(
            text, max(0, start - 60), start
        ):
            continue
        yield _Span(start, end, "mot_de_passe")


def _codes_after(
    text: str, digits_view: str, keyword: re.Match[str], min_digits: int
) -> Iterator[_Span]:
    if _NOT_A_SECRET_CODE.match(text, keyword.end()):
        return
    if _ERROR_BEFORE.search(text, max(0, keyword.start() - 12), keyword.start()):
        return
    window_end = min(len(text), keyword.end() + 60)
    clause = _CLAUSE_END.search(text, keyword.end(), window_end)
    window_end = clause.start() if clause else window_end
    for run in _DIGIT_RUN.finditer(digits_view, keyword.end(), window_end):
        compact = _compact(run[0])
        if not min_digits <= len(compact) <= 8:
            continue
        if compact in KNOWN_PUBLIC_NUMBERS or _DATE_LIKE.fullmatch(run[0]):
            continue
        following = text[run.end() : run.end() + 8].lstrip().lower()
        if following.startswith(("€", "euro", "eur ", "h", "min", "jour", "ans", "fois", "%")):
            continue  # an amount or a duration, not a code
        yield _Span(run.start(), run.end(), "code")
        return


def _find_codes(text: str, digits_view: str) -> Iterator[_Span]:
    for match in _CARD_CODE_WORD.finditer(text):
        yield from _codes_after(text, digits_view, match, 3)
    for match in _CODE_WORD.finditer(text):
        yield from _codes_after(text, digits_view, match, 4)


_DETECTORS: tuple[Callable[[str, str], Iterator[_Span]], ...] = (
    _find_ibans,
    _find_cards,
    _find_nirs,
    _find_tax_numbers,
    _find_france_travail_ids,
    _find_passwords,
    _find_codes,
)


def _resolve(spans: list[_Span]) -> list[_Span]:
    """Merge overlapping findings into one span named after the longest (then surest) kind.

    Merging rather than dropping the loser means no digit of a partial overlap is left in clear.
    """
    merged: list[tuple[list[_Span], int]] = []  # each cluster with its end
    for span in sorted(spans):
        if merged and span.start < merged[-1][1]:
            merged[-1][0].append(span)
            merged[-1] = (merged[-1][0], max(merged[-1][1], span.end))
        else:
            merged.append(([span], span.end))
    resolved = []
    for cluster, end in merged:
        winner = min(cluster, key=lambda s: (s.start - s.end, _PRIORITY.index(s.kind)))
        kind = _SHOWN_AS.get(winner.kind, winner.kind)
        resolved.append(_Span(cluster[0].start, end, kind))
    return resolved


class _Taken:
    """Spans already claimed, merged and sorted, to test overlaps in logarithmic time."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [start for start, _ in merged]
        self.ends = [end for _, end in merged]

    def overlaps(self, span: _Span) -> bool:
        # The last claimed span that starts before this one ends is the only candidate.
        i = bisect.bisect_left(self.starts, span.end) - 1
        return i >= 0 and self.ends[i] > span.start


def redact(text: str) -> Redaction:
    """Return `text` with every secret replaced by its placeholder, and the kinds found."""
    protected = [m.span() for m in _EMAIL.finditer(text)]
    protected += [m.span() for m in _PLACEHOLDER.finditer(text)]
    kept = _Taken(protected)
    digits_view = _digitized(text)
    spans = [
        span
        for detector in _DETECTORS
        for span in detector(text, digits_view)
        if span.end > span.start and not kept.overlaps(span)
    ]
    # The shape is the last resort: a token holding something found by its context or its
    # checksum ("iban:FR76...", "mdp=toto1234") keeps that finding's narrower span and kind.
    # Not in a button's payload either ("/choose_contact{"contact_preference": "desk"}"):
    # its intent name and keys are the bot's words, not the visitor's.
    if not _PAYLOAD.fullmatch(text):
        # Nor inside an HTML tag: markup is kept as plain text (a secret's digits in it were
        # found above by their own detectors).
        markup = [m.span() for m in _TAG.finditer(text)]
        found = _Taken(protected + markup + [(s.start, s.end) for s in spans])
        spans += [s for s in _find_shaped_passwords(text, digits_view) if not found.overlaps(s)]
    resolved = _resolve(spans)
    for span in reversed(resolved):  # from the end, so earlier offsets stay valid
        text = text[: span.start] + PLACEHOLDERS[span.kind] + text[span.end :]
    return Redaction(text, tuple(dict.fromkeys(span.kind for span in resolved)))
