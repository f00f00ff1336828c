"""Clean what a visitor typed before anything else sees it.

Empty, huge, binary or markup input must get a clear French answer and lose nothing:
control characters are dropped, text is normalised, overlong text is cut (and the visitor
told). Markup is kept as text: front ends escape it when they show it. Secrets and contact
details are taken out before the cut (`protect_message`), so that no half of one is kept.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from bot.contacts import (
    EMAIL_PLACEHOLDER,
    INCOMPLETE_PHONE_PLACEHOLDER,
    PHONE_PLACEHOLDER,
    REFUSED_EMAIL_PLACEHOLDER,
    Contact,
    find_contacts,
)
from bot.privacy import PLACEHOLDERS, redact

EMPTY_REPLY = "Votre message est vide. Écrivez votre question en quelques mots, par exemple : « déclarer mes impôts »."  # noqa: E501
TRUNCATED_NOTICE = "Votre message est très long. J'ai lu seulement le début ({limit} caractères)."
BAD_REQUEST_REPLY = "Je n'ai pas pu lire ce message. Réessayez en écrivant quelques mots."


# The work done on a message is bounded before anything else: cleaning, masking and cutting
# look at no more than this many times MAX_MESSAGE_CHARS (plus a margin), so a 10 MB message
# costs what a 4 KB one does.
WORK_FACTOR = 4
WORK_MARGIN = 256
# When the raw text had to be bounded, its last characters may be the start of a secret cut
# in two (« 4111 1111 1111 »): that much is dropped from the end. Longer than any secret
# the privacy guard knows (an IBAN with separators is under 50 characters).
CUT_SECRET_TAIL = 128


@dataclass(frozen=True)
class CleanMessage:
    text: str
    truncated: bool = False

    @property
    def empty(self) -> bool:
        return not self.text


@dataclass(frozen=True)
class ProtectedMessage:
    """A visitor message as it may be kept: cleaned, secrets and contact details masked, cut."""

    text: str
    truncated: bool = False
    secrets: tuple[str, ...] = ()  # kinds of secrets masked (bot.privacy)
    contacts: tuple[Contact, ...] = ()  # contact details taken out (bot.contacts)

    @property
    def empty(self) -> bool:
        return not self.text


def _keep(char: str) -> bool:
    if char in "\n\t":
        return True
    category = unicodedata.category(char)
    # Cc control, Cf format (zero-width...), Cs surrogates, Co private use, Cn unassigned
    return not category.startswith("C")


def _bounded(raw: Any, limit: int) -> tuple[str, bool]:
    """At most `limit` characters of the raw input as text, and whether some were left out."""
    if raw is None:
        return "", False
    if isinstance(raw, (bytes, bytearray)):
        cut = len(raw) > limit * 4
        return bytes(raw[: limit * 4]).decode("utf-8", errors="replace")[:limit], cut
    if isinstance(raw, str):
        return raw[:limit], len(raw) > limit
    if isinstance(raw, (bool, int, float)):
        # int() of a huge number is bounded by the JSON parser; str() of it too.
        text = repr(raw) if isinstance(raw, float) else str(raw)
        return text[:limit], len(text) > limit
    # Lists, objects...: not a message. str() of a deeply nested value may even fail.
    return "", False


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = "".join(c if _keep(c) else " " for c in text).replace("\ufffd", " ")
    text = " ".join(part for part in text.replace("\t", " ").split(" ") if part)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _work_limit(max_chars: int) -> int:
    return max(max_chars, 1) * WORK_FACTOR + WORK_MARGIN


def _bounded_clean(raw: Any, max_chars: int) -> tuple[str, bool]:
    """The cleaned text, bounded; and whether the raw input was longer than the bound."""
    try:
        bounded, cut = _bounded(raw, _work_limit(max_chars))
        text = _clean(bounded)
    except Exception:  # noqa: BLE001 (whatever the input, the visitor gets an answer)
        return "", False
    if cut:
        # The bound may have cut a secret in two; drop the tail where that half would be.
        keep = max(0, len(text) - CUT_SECRET_TAIL)
        space = text.rfind(" ", 0, keep + 1)
        text = text[: space if space > 0 else keep].rstrip()
    return text, cut


def clean_message(raw: Any, max_chars: int) -> CleanMessage:
    """Normalise a visitor message; never raises, whatever the input.

    The text is cut to `max_chars` here, with no masking: what is kept or stored must come
    from `protect_message`, which masks before it cuts.
    """
    text, cut = _bounded_clean(raw, max_chars)
    if len(text) > max_chars:
        return CleanMessage(text[:max_chars].rstrip(), truncated=True)
    return CleanMessage(text, truncated=cut)


# Every placeholder the guard and the contact finder put in a message.
PLACEHOLDER_RE = re.compile(
    "|".join(
        re.escape(p)
        for p in (
            *PLACEHOLDERS.values(),
            PHONE_PLACEHOLDER,
            EMAIL_PLACEHOLDER,
            INCOMPLETE_PHONE_PLACEHOLDER,
            REFUSED_EMAIL_PLACEHOLDER,
        )
    )
)


def _cut(text: str, max_chars: int) -> str:
    """`text` cut to `max_chars`, before a placeholder rather than through it."""
    if len(text) <= max_chars:
        return text
    end = max_chars
    for placeholder in PLACEHOLDER_RE.finditer(text, max(0, max_chars - 64), max_chars + 64):
        if placeholder.start() < end < placeholder.end():
            end = placeholder.start()
    return text[:end].rstrip()


def protect_message(raw: Any, max_chars: int) -> ProtectedMessage:
    """Bound, clean, mask secrets, take contact details out, and only then cut.

    The order matters: cutting first could leave part of a card number in clear (12 digits
    are no card), and cleaning a 10 MB text before bounding it costs seconds.
    """
    text, cut = _bounded_clean(raw, max_chars)
    if not text:
        return ProtectedMessage("", truncated=cut)
    redaction = redact(text)
    masked, contacts = find_contacts(redaction.text)
    kept = _cut(masked, max_chars)
    return ProtectedMessage(
        text=kept,
        truncated=cut or len(kept) < len(masked),
        secrets=redaction.kinds,
        contacts=tuple(contacts),
    )


# The REST channel's answer carries the visitor's message as Guichet kept it (secrets
# masked, quoted for a header): front ends show and keep this form, never what was typed.
VISITOR_TEXT_HEADER = "X-Guichet-Visitor-Text"


def masked_text(raw: Any, max_chars: int) -> str:
    """What may be kept of a visitor's message: cleaned, secrets and contact details masked.

    The REST channel stores this form; front ends keep this form, never the raw text.
    """
    return protect_message(raw, max_chars).text
