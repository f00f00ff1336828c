"""Mask the secrets a visitor may type (tax and social security numbers, IBAN, bank card,
France Travail identifier, password) so that they never reach logs, trackers or any storage."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

PLACEHOLDERS: dict[str, str] = {
    "numero_fiscal": "[numéro fiscal masqué]",
    "nir": "[numéro de sécurité sociale masqué]",
    "iban": "[IBAN masqué]",
    "carte_bancaire": "[numéro de carte masqué]",
    "identifiant_france_travail": "[identifiant masqué]",
    "mot_de_passe": "[mot de passe masqué]",
}

# When two findings have the same length, the kind listed first wins: checksums beat context.
_PRIORITY = (
    "iban",
    "carte_bancaire",
    "nir",
    "numero_fiscal",
    "mot_de_passe",
    "identifiant_france_travail",
)


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


# People group long numbers with spaces (also the non-breaking ones French keyboards insert),
# dots or dashes: one such character may sit between two digits.
_SEP = "[ .\\-\u00a0\u202f]"
_SEP_CHARS = " .-\u00a0\u202f"

# A run of digit groups that is not glued to a word ("14h30", "1234567A" are not runs).
_DIGIT_RUN = re.compile(rf"(?<!\w)[0-9]+(?:{_SEP}[0-9]+)*(?!\w)")
_DIGIT_GROUP = re.compile(r"[0-9]+")

_NIR = re.compile(
    rf"""
    (?<![0-9A-Za-z])
    (?=(                                    # lookahead: candidates may overlap in a long run
        [1278]                              # sex; 7 and 8 are temporary numbers
        (?:{_SEP}?[0-9]){{4}}               # year, month
        {_SEP}?(?:[0-9]{_SEP}?[0-9]|2[AaBb])  # department, 2A/2B for Corsica
        (?:{_SEP}?[0-9]){{6}}               # commune, order number
        (?:{_SEP}?[0-9]{_SEP}?[0-9])?       # key
    )(?![0-9A-Za-z]))
    """,
    re.VERBOSE,
)

_IBAN_START = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]{2}[0-9]{2}")
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

_PASSWORD = re.compile(
    r"""
    (?<!\w)
    (?:
        mots?[\s-]+de[\s-]+passe|motdepasse|mdp|pwd|password|code\s+secret
        # bare "pass"/"passe" only after a determiner: in "je passe 3 jours" it is a verb
      | (?:mon|ma|le|ton|votre|son|ce)\s+passe?
    )
    (?!\w)
    (?:
        (?P<strong>\s*(?:[:=]|->|=>)\s*)
      | (?P<word>\s+(?:est|c['’ ]?est|cest|c|is)(?:\s*[:=])?\s+)
      | \s+
    )
    (?P<token>[«"“]\s*[^\s»"”]+\s*[»"”]|\S+)
    """,
    re.IGNORECASE | re.VERBOSE,
)

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
"""
_NOT_PASSWORDS = frozenset(_NOT_PASSWORD_WORDS.split())
_PUNCTUATION = ".,;:!?…()[]{}«»\"“”'’"
_ELISION = re.compile(r"(?:[cdjlmnst]|qu)['’]\w+", re.IGNORECASE)
_DOMAIN = re.compile(r"(?:https?://)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:fr|gouv|com|org|net|eu)\S*")

# Never mask inside these: e-mail addresses are contact details handled elsewhere, and a
# placeholder from an earlier pass must survive a second pass unchanged.
# The lookbehind starts matches at word starts only, which keeps long inputs linear.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))


def _compact(text: str) -> str:
    return "".join(c for c in text if c not in _SEP_CHARS).upper()


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


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


def _is_tax_number(digits: str) -> bool:
    # 0033 + 9 digits is a phone number in international form, not a numéro fiscal.
    return len(digits) == 13 and digits[0] in "0123" and not digits.startswith("0033")


def _is_nir(compact: str) -> bool:
    if compact[3:5] == "00":  # month: 01-12, or 20-99 when unknown, never 00
        return False
    department = compact[5:7]
    if len(compact) == 13:
        # Without a key, a digits-only NIR is already masked as a numéro fiscal.
        return department in ("2A", "2B")
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
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# --- detectors: each returns the spans of one kind ----------------------------------------


def _digit_groups(run: re.Match[str]) -> list[tuple[int, int]]:
    return [(run.start() + g.start(), run.start() + g.end()) for g in _DIGIT_GROUP.finditer(run[0])]


def _find_cards(text: str) -> Iterator[_Span]:
    # A card may be glued to an expiry date or a CVV ("4111 1111 1111 1111 12 26"): try the
    # longest slice of whole groups from each group, since Luhn vouches for the cut.
    for run in _DIGIT_RUN.finditer(text):
        groups = _digit_groups(run)
        i = 0
        while i < len(groups):
            best, digits = None, ""
            for j in range(i, len(groups)):
                start, end = groups[j]
                # Cards are printed in groups of 3 to 6 digits: "3 000 4 000" is amounts.
                if j > i and (end - start < 3 or groups[i][1] - groups[i][0] < 3):
                    break
                digits += text[start:end]
                if len(digits) > 19:
                    break
                if _is_card(digits):
                    best = j
            if best is None:
                i += 1
            else:
                yield _Span(groups[i][0], groups[best][1], "carte_bancaire")
                i = best + 1


def _find_tax_numbers(text: str) -> Iterator[_Span]:
    # No checksum here, so a cut inside a run is too risky: only a whole run of 13 digits,
    # or a 13-digit block typed in one piece, counts.
    for run in _DIGIT_RUN.finditer(text):
        if _is_tax_number(_compact(run[0])):
            yield _Span(run.start(), run.end(), "numero_fiscal")
            continue
        for start, end in _digit_groups(run):
            if _is_tax_number(text[start:end]):
                yield _Span(start, end, "numero_fiscal")


def _find_nirs(text: str) -> Iterator[_Span]:
    for match in _NIR.finditer(text):
        if _is_nir(_compact(match[1])):
            yield _Span(match.start(1), match.end(1), "nir")


def _alnum_at(text: str, pos: int) -> bool:
    return pos < len(text) and text[pos].isascii() and text[pos].isalnum()


def _find_ibans(text: str) -> Iterator[_Span]:
    for match in _IBAN_START.finditer(text):
        # Walk the alphanumerics (single separators allowed) and remember each place where a
        # group ends; the longest prefix that passes mod-97 is the IBAN, so trailing words
        # ("... 189 merci") are left out.
        compact, pos, ends = "", match.start(), []
        while pos < len(text) and len(compact) < 34:
            char = text[pos]
            if char.isascii() and char.isalnum():
                compact += char.upper()
                pos += 1
                if not _alnum_at(text, pos):
                    ends.append((compact, pos))
            elif char in _SEP_CHARS and compact and _alnum_at(text, pos + 1):
                pos += 1
            else:
                break
        for candidate, end in reversed(ends):
            if _is_iban(candidate):
                yield _Span(match.start(), end, "iban")
                break


def _find_france_travail_ids(text: str) -> Iterator[_Span]:
    for match in _FT_INTRO.finditer(text):
        if sum(c.isdigit() for c in match["token"]) >= 5:
            yield _Span(match.start("token"), match.end("token"), "identifiant_france_travail")
    for match in _FT_SHORT.finditer(text):
        yield _Span(match.start(), match.end(), "identifiant_france_travail")


def _describes_password(core: str) -> bool:
    """True for ordinary French words that talk about a password rather than being one."""
    if _fold(core) in _NOT_PASSWORDS or _ELISION.fullmatch(core):
        return True
    lower = core.lower()
    # Past participles and adverbs: "bloqué", "refusée", "expirés", "vraiment".
    return core.isalpha() and core == lower and lower.endswith(("é", "ée", "és", "ées", "ment"))


def _looks_secret(core: str) -> bool:
    if any(c.isdigit() for c in core):
        return True
    if any(not c.isalpha() and c not in "'’-" for c in core):
        return True
    # Mixed case, but not a capitalised or upper-case word ("France", "CAF").
    return any(c.isupper() for c in core[1:]) and any(c.islower() for c in core)


def _find_passwords(text: str) -> Iterator[_Span]:
    for match in _PASSWORD.finditer(text):
        token = match["token"]
        core = token.strip(_PUNCTUATION).strip()
        if not core or _describes_password(core):
            continue
        announced = match["strong"] is not None or match["word"] is not None
        # Without "est", ":"... the next word is only a password if it looks like one:
        # "mot de passe oublié" and "mot de passe 3 fois" stay, "mdp azerty123" goes.
        if not announced and (
            len(core) < 4 or not _looks_secret(core) or _DOMAIN.fullmatch(core.lower())
        ):
            continue
        yield _Span(match.start("token"), match.end("token"), "mot_de_passe")


_DETECTORS: tuple[Callable[[str], Iterator[_Span]], ...] = (
    _find_ibans,
    _find_cards,
    _find_nirs,
    _find_tax_numbers,
    _find_france_travail_ids,
    _find_passwords,
)


def _resolve(spans: list[_Span]) -> list[_Span]:
    """Merge overlapping findings into one span named after the longest (then surest) kind.

    Merging rather than dropping the loser means no digit of a partial overlap is left in clear.
    """
    merged: list[list[_Span]] = []
    for span in sorted(spans):
        if merged and span.start < max(s.end for s in merged[-1]):
            merged[-1].append(span)
        else:
            merged.append([span])
    resolved = []
    for cluster in merged:
        winner = min(cluster, key=lambda s: (s.start - s.end, _PRIORITY.index(s.kind)))
        resolved.append(_Span(cluster[0].start, max(s.end for s in cluster), winner.kind))
    return resolved


def redact(text: str) -> Redaction:
    """Return `text` with every secret replaced by its placeholder, and the kinds found."""
    protected = [m.span() for m in _EMAIL.finditer(text)]
    protected += [m.span() for m in _PLACEHOLDER.finditer(text)]
    spans = [
        span
        for detector in _DETECTORS
        for span in detector(text)
        if not any(span.start < end and start < span.end for start, end in protected)
    ]
    resolved = _resolve(spans)
    for span in reversed(resolved):  # from the end, so earlier offsets stay valid
        text = text[: span.start] + PLACEHOLDERS[span.kind] + text[span.end :]
    return Redaction(text, tuple(dict.fromkeys(span.kind for span in resolved)))
