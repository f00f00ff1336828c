"""Clean what a visitor typed before anything else sees it.

Empty, huge, binary or markup input must get a clear French answer and lose nothing:
control characters are dropped, text is normalised, overlong text is cut (and the visitor
told). Markup is kept as text: front ends escape it when they show it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

EMPTY_REPLY = "Votre message est vide. Écrivez votre question en quelques mots, par exemple : « déclarer mes impôts »."  # noqa: E501
TRUNCATED_NOTICE = "Votre message est très long. J'ai lu seulement le début ({limit} caractères)."
BAD_REQUEST_REPLY = "Je n'ai pas pu lire ce message. Réessayez en écrivant quelques mots."


@dataclass(frozen=True)
class CleanMessage:
    text: str
    truncated: bool = False

    @property
    def empty(self) -> bool:
        return not self.text


def _keep(char: str) -> bool:
    if char in "\n\t":
        return True
    category = unicodedata.category(char)
    # Cc control, Cf format (zero-width...), Cs surrogates, Co private use, Cn unassigned
    return not category.startswith("C")


def clean_message(raw: Any, max_chars: int) -> CleanMessage:
    """Normalise a visitor message; never raises, whatever the input."""
    if raw is None:
        return CleanMessage("")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    text = raw if isinstance(raw, str) else str(raw)
    text = unicodedata.normalize("NFC", text)
    text = "".join(c if _keep(c) else " " for c in text).replace("\ufffd", " ")
    text = " ".join(part for part in text.replace("\t", " ").split(" ") if part)
    text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    if len(text) > max_chars:
        return CleanMessage(text[:max_chars].rstrip(), truncated=True)
    return CleanMessage(text)


def masked_text(raw: Any, max_chars: int) -> str:
    """What may be kept of a visitor's message: cleaned, secrets and contact details masked.

    The REST channel stores this form; front ends keep this form, never the raw text.
    """
    from bot.contacts import find_contacts
    from bot.privacy import redact

    text, _ = find_contacts(redact(clean_message(raw, max_chars).text).text)
    return text
