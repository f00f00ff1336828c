"""A conversation as a mediator reads it: its turns, read back from the conversations' store
(`bot.conversations`), with button presses shown by their labels, and a short summary."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.conversations import Conversations

# Why the bot handed over, as the mediator reads it.
REASON_LABELS: dict[str, str] = {
    "asked": "a demandé à parler à une personne",
    "stuck": "bloqué(e) sur une étape",
    "not_understood": "le robot n'a pas compris la demande",
    "not_covered": "démarche sans guide",
}

MAX_SUMMARY_CHARS = 600
MAX_QUOTE_CHARS = 120
MAX_TITLE_CHARS = 80
MAX_SENTENCE_CHARS = 200
LAST_MESSAGES = 3


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


def _turn(type_name: str, timestamp: float | None, data: dict[str, Any]) -> dict[str, Any] | None:
    at = _iso(timestamp if timestamp is not None else data.get("timestamp"))
    if type_name == "user":
        text = (data.get("text") or "").strip()
        if not text:
            return None
        intent = ((data.get("parse_data") or {}).get("intent") or {}).get("name")
        return {"at": at, "who": "visitor", "text": text, "intent": intent}
    payload = data.get("data") or {}
    pressable = [b for b in payload.get("buttons") or [] if isinstance(b, dict) and b.get("title")]
    buttons = [b["title"] for b in pressable]
    custom = payload.get("custom")
    marker = custom if isinstance(custom, dict) and custom else None
    text = data.get("text") or ""
    if not text and marker is None and not buttons:
        return None
    turn = {"at": at, "who": "bot", "text": text, "buttons": buttons, "marker": marker}
    if pressable:
        # Kept beside the titles so that a press can be shown by its label (`readable`).
        turn["payloads"] = [str(b.get("payload") or "") for b in pressable]
    return turn


def turns_from_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The visitor and bot messages among tracker events given as dicts, oldest first."""
    turns = []
    for event in events:
        kind = event.get("event")
        if kind in ("user", "bot") and (turn := _turn(kind, event.get("timestamp"), event)):
            turns.append(turn)
    return turns


def read_transcript(conversations: Conversations, sender_id: str) -> list[dict[str, Any]]:
    """The visitor and bot messages of one stored conversation, oldest first ([] when none)."""
    return turns_from_events(conversations.read(sender_id))


def conversation_transcript(
    conversations: Conversations, sender_id: str, live_events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The whole conversation: what the conversations' store holds, then the turns of the
    current message, which Rasa saves only once the message is fully handled."""
    stored = read_transcript(conversations, sender_id)
    live = turns_from_events(live_events)

    def key(turn: dict[str, Any]) -> tuple[Any, ...]:
        return (turn["who"], turn["text"], turn["at"])

    # The live tracker starts somewhere inside what is stored (its session start): find the
    # longest tail of `stored` that `live` begins with, and add only what follows it.
    for overlap in range(min(len(stored), len(live)), 0, -1):
        if [key(t) for t in stored[-overlap:]] == [key(t) for t in live[:overlap]]:
            return stored + live[overlap:]
    return stored + live


# --- a conversation as a mediator reads it --------------------------------------------------

# What a button press says, by intent, when the buttons shown just before do not tell (old
# tickets kept only the titles). The words are those of the buttons the bot shows.
PAYLOAD_LABELS: dict[str, str] = {
    "next_step": "Étape suivante",
    "previous_step": "Étape précédente",
    "repeat_step": "Répéter",
    "step_detail": "Plus de détails",
    "stuck": "Je bloque",
    "stop_guide": "Arrêter",
    "ask_human": "Parler à un médiateur",
    "help": "Voir les démarches",
    "affirm": "Oui",
    "deny": "Non",
    "retry_handoff": "Réessayer",
    "greet": "Bonjour",
    "goodbye": "Au revoir",
    "thank": "Merci",
    "not_clear": "Je ne comprends pas",
    "not_covered": "Autre démarche",
    "choose_contact": "Choix du contact",
}
CONTACT_CHOICE_LABELS: dict[str, str] = {
    "desk": "À l'accueil, maintenant",
    "phone": "Être rappelé par téléphone",
    "email": "Recevoir une réponse par e-mail",
    "later": "Revenir plus tard",
}
UNKNOWN_BUTTON = "Un bouton"
_PAYLOAD = re.compile(r"^/([A-Za-z0-9_.\-]+)\s*(\{.*\})?\s*$", re.DOTALL)


def _same_payload(a: str, b: str) -> bool:
    """Payloads equal up to the spacing inside their JSON."""
    if a.strip() == b.strip():
        return True
    first, second = _PAYLOAD.match(a.strip()), _PAYLOAD.match(b.strip())
    if not first or not second or first.group(1) != second.group(1):
        return False
    try:
        return bool(json.loads(first.group(2) or "{}") == json.loads(second.group(2) or "{}"))
    except ValueError:
        return False


def payload_label(payload: str, titles: dict[str, str] | None = None) -> str | None:
    """The French words of a button payload (« /next_step » → « Étape suivante »), or None
    when `payload` is not one. `titles` maps guide ids to their titles (the catalogue)."""
    found = _PAYLOAD.match(payload.strip())
    if not found:
        return None
    name, extra = found.group(1), found.group(2)
    titles = titles or {}
    if name == "choose_contact" and extra:
        try:
            value = json.loads(extra).get("contact_preference")
        except (ValueError, AttributeError):
            value = None
        if value in CONTACT_CHOICE_LABELS:
            return CONTACT_CHOICE_LABELS[value]
    if name in PAYLOAD_LABELS:
        return PAYLOAD_LABELS[name]
    if name in titles:
        return titles[name]
    if name.startswith("menu_"):
        domain = name.removeprefix("menu_")
        return f"Autre : {titles.get(domain, domain.replace('_', ' ').capitalize())}"
    if "." in name:  # a guide this catalogue no longer has
        return "Démarche : " + name.split(".", 1)[1].replace("_", " ")
    return None


def readable(
    transcript: list[dict[str, Any]], titles: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The turns as a mediator reads them: a button press shows the label the visitor saw
    (found among the buttons of the bot's message just before, else by its payload), with
    `"pressed": True`; typed messages are unchanged. Works on tickets stored before buttons
    kept their payloads."""
    shown: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for turn in transcript:
        copy = dict(turn)
        text = str(turn.get("text") or "")
        if turn.get("who") == "visitor" and text.lstrip().startswith("/"):
            label = None
            if previous is not None:
                for title, payload in zip(
                    previous.get("buttons") or [], previous.get("payloads") or [], strict=False
                ):
                    if payload and _same_payload(payload, text):
                        label = str(title)
                        break
            label = label or payload_label(text, titles)
            if label is not None or _PAYLOAD.match(text.strip()):
                copy.update(text=label or UNKNOWN_BUTTON, pressed=True)
        if turn.get("who") == "bot":
            previous = turn
        shown.append(copy)
    return shown


def _shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word when possible."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


def _quote(text: str) -> str:
    return f"« {text} »"


def build_summary(
    *,
    reason: str,
    guide_title: str | None = None,
    step: int | None = None,
    steps: int | None = None,
    visitor_sentence: str | None = None,
    transcript: list[dict[str, Any]],
) -> str:
    """One short French paragraph telling the mediator what the visitor needed and why the
    bot handed over."""
    if reason not in REASON_LABELS:
        raise ValueError(f"reason must be one of {', '.join(REASON_LABELS)}; got {reason!r}")
    if guide_title:
        wanted = f"Démarche : {_shorten(guide_title, MAX_TITLE_CHARS)}"
        if step is not None and steps is not None:
            wanted += f", étape {step} sur {steps}"
        elif step is not None:
            wanted += f", étape {step}"
        wanted += "."
    else:
        wanted = "Démarche : aucun guide en cours."
    head = [wanted, f"Motif : {REASON_LABELS[reason]}."]
    sentence = _shorten(visitor_sentence or "", MAX_SENTENCE_CHARS)
    if sentence:
        head.append(f"En ses mots : {_quote(sentence)}.")

    # Texts starting with "/" are button payloads the visitor clicked, not typed.
    typed = [
        _shorten(turn["text"], MAX_QUOTE_CHARS)
        for turn in transcript
        if turn.get("who") == "visitor"
        and (turn.get("text") or "").strip()
        and not turn["text"].lstrip().startswith("/")
    ]
    typed = [t for t in typed if t != sentence][-LAST_MESSAGES:]
    # Drop the oldest quotes first: the latest messages say best where the visitor stopped.
    while True:
        parts = list(head)
        if typed:
            label = "Dernier message" if len(typed) == 1 else "Derniers messages"
            parts.append(f"{label} : " + " ; ".join(_quote(t) for t in typed) + ".")
        summary = " ".join(parts)
        if len(summary) <= MAX_SUMMARY_CHARS or not typed:
            break
        typed = typed[1:]
    return _shorten(summary, MAX_SUMMARY_CHARS)
