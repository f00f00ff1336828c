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

# French numbers in their usual spellings: 06 12 34 56 78, 06.12.34.56.78, 0612345678,
# +33 6 12 34 56 78, +33 (0)6 12 34 56 78, 0033 6 12 34 56 78.
_PHONE_RE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)33[\s.\-]?(?:\(0\)[\s.\-]?)?|0)[1-9](?:[\s.\-]?\d{2}){4}(?!\w)"
)
_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)


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


def find_contacts(text: str) -> tuple[str, list[Contact]]:
    """Replace every phone number and e-mail address by a placeholder; return them too."""
    found: list[Contact] = []

    def _email(match: re.Match[str]) -> str:
        found.append(Contact("email", match.group(0).lower()))
        return EMAIL_PLACEHOLDER

    def _phone(match: re.Match[str]) -> str:
        value = normalise_phone(match.group(0))
        if value is None:
            return match.group(0)
        found.append(Contact("phone", value))
        return PHONE_PLACEHOLDER

    text = _EMAIL_RE.sub(_email, text)
    text = _PHONE_RE.sub(_phone, text)
    return text, found


def looks_like_email_attempt(text: str) -> bool:
    return "@" in text or "arobase" in text.lower()
