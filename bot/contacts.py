"""Contact details a visitor gives for a call back or an e-mail answer.

The REST channel takes phone numbers and e-mail addresses out of the message before Rasa
stores it, and keeps the latest one per conversation in the ticket store until the hand-off
form uses it (with consent) or drops it. This module finds, normalises and shows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PHONE_PLACEHOLDER = "[téléphone]"
EMAIL_PLACEHOLDER = "[adresse e-mail]"
# Not contacts, but not to be kept in clear either: a phone number with a digit too many or
# too few, an address glued to symbols (`=cmd|'/C calc'!A0@evil.fr`). Neither is held for
# the hand-off form, which then asks again (its « second chance »).
INCOMPLETE_PHONE_PLACEHOLDER = "[numéro incomplet masqué]"
REFUSED_EMAIL_PLACEHOLDER = "[adresse e-mail refusée]"

# French numbers in their usual spellings: 06 12 34 56 78, 06.12.34.56.78, 0612345678,
# +33 6 12 34 56 78, +33 (0)6 12 34 56 78, 0033 6 12 34 56 78.
_PHONE_RE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)33[\s.\-]?(?:\(0\)[\s.\-]?)?|0)[1-9](?:[\s.\-]?\d{2}){4}"
    r"(?!\w|[\s.\-]\d(?![\w]))"  # "06 12 34 56 78 9" is one digit too many, not a number
)
# A French number with a digit too many or too few: 06 12 34 56 7, 06 12 34 56 789,
# 061234567, +33 6 12 34 56 7, or the leading 0 forgotten (6 12 34 56 78).
_NEAR_PHONE_RE = re.compile(
    r"(?<![\w+])(?:(?:(?:\+|00)33[\s.\-/]?(?:\(0\)[\s.\-/]?)?|0)[1-9](?:[\s.\-/]?\d{1,3}){1,5}"
    r"|[1-9](?:[\s.\-/]\d{2}){4})(?![\w])"
)
# Characters that may touch an address in a sentence; anything else glued to it (| = ' ! /
# and the like) makes it something other than a plain address.
_EMAIL_BEFORE_OK = frozenset(' \t\n(<«"“:;,')
_EMAIL_AFTER_OK = frozenset(' \t\n)>»"”.,;:!?')
_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)

# The privacy guard leaves alone what this module takes (or refuses) as an address.
EMAIL_RE = _EMAIL_RE


@dataclass(frozen=True)
class Contact:
    kind: str  # "phone" or "email"
    value: str  # normalised: "0612345678" or "prenom.nom@example.fr"

    @property
    def shown(self) -> str:
        """A partly hidden form, safe to show and to keep in the conversation."""
        if self.kind == "phone":
            return f"{self.value[:2]} •• •• •• {self.value[-2:]}"
        local, _, domain = self.value.partition("@")
        return f"{local[:1]}•••@{domain}"

    @property
    def display(self) -> str:
        """The full value, for the mediator."""
        if self.kind == "phone":
            return " ".join(self.value[i : i + 2] for i in range(0, 10, 2))
        return self.value


def normalise_phone(raw: str) -> str | None:
    """`0612345678` for any usual spelling of a French number, else None."""
    digits = re.sub(r"\D", "", raw.replace("(0)", ""))
    if digits.startswith("0033"):
        digits = "0" + digits[4:]
    elif digits.startswith("33") and raw.strip().startswith("+"):
        digits = "0" + digits[2:]
    if len(digits) == 10 and digits[0] == "0" and digits[1] != "0":
        return digits
    return None


def _national_digits(raw: str) -> str:
    digits = re.sub(r"\D", "", raw.replace("(0)", ""))
    if digits.startswith("0033"):
        return digits[4:]
    if digits.startswith("33") and raw.lstrip().startswith("+"):
        return digits[2:]
    return digits[1:] if digits.startswith("0") else digits


def _near_phone(match: re.Match[str]) -> bool:
    """A phone number with one digit too many or too few, or without its leading 0."""
    raw = match.group(0)
    groups = re.findall(r"\d+", raw.replace("(0)", ""))
    if any(len(g) > 3 for g in groups[1:]) and len(groups) > 1:
        return False  # "01 2345" and the like are not phone numbers typed in pairs
    national = len(_national_digits(raw))
    return national == 9 if raw[0] in "123456789" else national in (8, 10)


def _glued(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before not in _EMAIL_BEFORE_OK or after not in _EMAIL_AFTER_OK


def _token_around(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def find_contacts(text: str) -> tuple[str, list[Contact]]:
    """Replace every phone number and e-mail address by a placeholder; return them too.

    A mistyped phone number and an address glued to symbols are masked but not returned.
    """
    found: list[Contact] = []
    glued: list[tuple[int, int]] = []

    def _email(match: re.Match[str]) -> str:
        if _glued(match.string, match.start(), match.end()):
            glued.append(_token_around(match.string, match.start(), match.end()))
            return match.group(0)
        found.append(Contact("email", match.group(0).lower()))
        return EMAIL_PLACEHOLDER

    def _phone(match: re.Match[str]) -> str:
        value = normalise_phone(match.group(0))
        if value is None:
            return match.group(0)
        found.append(Contact("phone", value))
        return PHONE_PLACEHOLDER

    def _other_phone(match: re.Match[str]) -> str:
        value = normalise_phone(match.group(0))
        if value is not None and match.group(0)[0] in "0+":  # grouped unusually: 06 123 456 78
            found.append(Contact("phone", value))
            return PHONE_PLACEHOLDER
        return INCOMPLETE_PHONE_PLACEHOLDER if _near_phone(match) else match.group(0)

    text = _EMAIL_RE.sub(_email, text)
    for start, end in reversed(_merged(glued)):
        text = text[:start] + REFUSED_EMAIL_PLACEHOLDER + text[end:]
    text = _PHONE_RE.sub(_phone, text)
    text = _NEAR_PHONE_RE.sub(_other_phone, text)
    return text, found


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def looks_like_email_attempt(text: str) -> bool:
    return "@" in text or "arobase" in text.lower()
