"""The hand-off to the mediator: what the visitor is asked and told, as plain data.

The Rasa form (`handoff_form`) asks how the visitor wants to be helped, the contact detail
this needs, one optional sentence and consent; these functions build each question and
answer from the settings (organisation name, desk, hours) and parse the answers.
"""

from __future__ import annotations

import json
import re
import unicodedata

from bot.french import a, de
from bot.settings import Settings
from bot.walk import Button, Message

PREFERENCES: dict[str, str] = {
    "desk": "À l'accueil, maintenant",
    "phone": "Être rappelé par téléphone",
    "email": "Recevoir une réponse par e-mail",
    "later": "Revenir plus tard",
}
NEEDS_DETAIL = {"phone", "email"}
REASONS = ("asked", "stuck", "not_understood", "not_covered")
CANCEL = "/stop_guide"

_KEYWORDS: dict[str, tuple[str, ...]] = {
    "phone": ("telephone", "tel", "appel", "rappel", "portable", "mobile", "phone", "numero"),
    "email": ("mail", "courriel", "e-mail", "email", "messagerie", "ecrit"),
    "later": ("plus tard", "revenir", "reviendrai", "demain", "autre jour", "prochaine"),
    "desk": ("accueil", "maintenant", "sur place", "tout de suite", "ici", "guichet", "direct"),
}


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def parse_preference(text: str | None) -> str | None:
    """`phone` for "/choose_contact{"contact_preference": "phone"}" or "rappelez-moi"."""
    if not text:
        return None
    payload = re.search(r"\{.*\}", text)
    if text.startswith("/") and payload:
        try:
            value = json.loads(payload.group(0)).get("contact_preference")
        except (ValueError, AttributeError):
            value = None
        return value if value in PREFERENCES else None
    plain = _plain(text)
    for preference in ("phone", "email", "later", "desk"):
        if any(re.search(rf"\b{re.escape(k)}", plain) for k in _KEYWORDS[preference]):
            return preference
    return None


def org_help(settings: Settings) -> str:
    values = settings.values
    return (
        f"Vous pouvez venir {a(values['ORG_DESK'])} ({values['ORG_NAME']}, "
        f"{values['ORG_ADDRESS']}), {values['ORG_HOURS']}. Téléphone : {values['ORG_PHONE']}."
    )


def marker(state: str, **extra: object) -> dict[str, object]:
    return {"handoff": state, **extra}


def ask_preference(settings: Settings, channel: str) -> Message:
    # "At the desk now" only makes sense on the kiosk, in the public space.
    options = [p for p in PREFERENCES if not (p == "desk" and channel == "widget")]
    buttons = tuple(
        Button(PREFERENCES[p], f'/choose_contact{{"contact_preference": "{p}"}}') for p in options
    ) + (Button("Annuler", CANCEL),)
    return Message(
        "Comment voulez-vous que le médiateur vous aide ?", buttons, marker("contact_preference")
    )


def ask_detail(preference: str) -> Message:
    """The question for the phone number or the address; the marker's `detail` tells the
    front ends which keyboard to open (`inputmode`)."""
    detail = "phone" if preference == "phone" else "email"
    if detail == "phone":
        text = "Quel est votre numéro de téléphone ? Par exemple : 06 12 34 56 78."
    else:
        text = "Quelle est votre adresse e-mail ? Par exemple : prenom.nom@exemple.fr."
    return Message(text, (Button("Annuler", CANCEL),), marker("contact_detail", detail=detail))


def bad_detail(preference: str, last_try: bool) -> str:
    # « le » for the number, « la » for the address: each sentence agrees with its noun.
    if preference == "phone":
        what, correct, it = "Ce numéro de téléphone", "correct", "le"
    else:
        what, correct, it = "Cette adresse e-mail", "correcte", "la"
    if last_try:
        return f"{what} ne semble pas {correct}. Pas de souci : venez plutôt à l'accueil."
    example = "06 12 34 56 78" if preference == "phone" else "prenom.nom@exemple.fr"
    return f"{what} ne semble pas {correct}. Vérifiez et écrivez-{it} encore. Exemple : {example}."


CONFIRM_YES = "Oui, c'est bien ça"
CONFIRM_NO = "Non, je corrige"


def confirm_detail(shown: str) -> Message:
    """« Vous avez écrit … C'est bien ça ? » with the partly hidden form (`Contact.shown`):
    the conversation keeps only that; the REST channel shows the visitor the full detail."""
    return Message(
        f"Vous avez écrit {shown}. C'est bien ça ?",
        (Button(CONFIRM_YES, "/affirm"), Button(CONFIRM_NO, "/deny"), Button("Annuler", CANCEL)),
        marker("confirm_detail"),
    )


def confirm_again() -> str:
    return f"Répondez avec un bouton : « {CONFIRM_YES} » ou « {CONFIRM_NO} »."


def give_up_detail() -> str:
    """A third wrong try: the visitor comes to the desk instead."""
    return "Pas de souci : venez plutôt à l'accueil, un médiateur vous aidera."


def ask_problem() -> Message:
    return Message(
        "En une phrase, qu'est-ce qui vous bloque ? Vous pouvez aussi passer cette question.",
        (Button("Passer", "/deny"), Button("Annuler", CANCEL)),
        marker("problem"),
    )


def ask_consent(settings: Settings, preference: str) -> Message:
    kept = "cette conversation"
    if preference == "phone":
        kept = "votre numéro de téléphone et cette conversation"
    elif preference == "email":
        kept = "votre adresse e-mail et cette conversation"
    days = settings.ticket_retention_days
    text = (
        f"Pour que le médiateur puisse vous aider, Guichet garde {kept}. "
        "Les numéros secrets y sont masqués. "
        f"Seuls les médiateurs {de(settings.values['ORG_NAME'])} les lisent. "
        f"Tout est effacé {days} jours après la fin de votre demande.\n"
        "Êtes-vous d'accord ?"
    )
    buttons = (Button("Oui, j'accepte", "/affirm"), Button("Non", "/deny"))
    return Message(text, buttons, marker("consent"))


def created(settings: Settings, ticket_id: int, preference: str) -> Message:
    desk = settings.values["ORG_DESK"]
    hours = settings.values["ORG_HOURS"]
    next_step = {
        "desk": f"Un médiateur va venir vous voir. Vous pouvez aussi aller {a(desk)}.",
        "phone": f"Un médiateur vous rappellera, {hours}.",
        "email": "Un médiateur vous répondra par e-mail. Regardez aussi dans vos courriers indésirables.",  # noqa: E501
        "later": f"Revenez {a(desk)}, {hours}, et donnez ce numéro.",
    }[preference]
    text = f"C'est noté. Votre numéro de demande est le {ticket_id}.\n{next_step}"
    return Message(
        text, (Button("Faire une autre démarche", "/help"),), marker("created", ticket=ticket_id)
    )


def declined(settings: Settings) -> Message:
    text = "D'accord, je ne garde rien. " + org_help(settings)
    return Message(text, (Button("Faire une autre démarche", "/help"),), marker("declined"))


def cancelled(settings: Settings) -> Message:
    text = "D'accord, j'annule la demande. Je ne garde rien. " + org_help(settings)
    return Message(text, (Button("Faire une autre démarche", "/help"),), marker("cancelled"))


RETRY = "/retry_handoff"


def failed(settings: Settings) -> Message:
    """The ticket could not be written: the answers are kept for « Réessayer »."""
    text = (
        "Désolé, un problème technique m'empêche d'enregistrer votre demande. "
        "J'ai gardé vos réponses : dans un moment, appuyez sur « Réessayer ». " + org_help(settings)
    )
    buttons = (Button("Réessayer", RETRY), Button("Faire une autre démarche", "/help"))
    return Message(text, buttons, marker("failed"))


def limited(settings: Settings, kind: str, *, answers_kept: bool = False) -> Message:
    """A limit refused the ticket: `kind` is tickets.LIMIT_CONVERSATION or LIMIT_FLOOD.
    `answers_kept`: the form was answered and its answers wait for « Réessayer »."""
    buttons: tuple[Button, ...]
    if kind == "handoff_flood":
        kept = "J'ai gardé vos réponses. " if answers_kept else ""
        text = (
            "Les médiateurs reçoivent beaucoup de demandes en ce moment. "
            "Je ne peux pas en enregistrer une autre tout de suite. "
            f"{kept}Réessayez dans une minute. " + org_help(settings)
        )
        # Without kept answers, trying again means asking for a person again.
        again = RETRY if answers_kept else "/ask_human"
        buttons = (Button("Réessayer", again), Button("Faire une autre démarche", "/help"))
    else:
        text = (
            "Vos demandes sont déjà notées : un médiateur va les lire. "
            "Je ne peux pas en enregistrer d'autre dans cette conversation. " + org_help(settings)
        )
        buttons = (Button("Faire une autre démarche", "/help"),)
    return Message(text, buttons, marker("limited"))


def nothing_to_retry() -> Message:
    """« Réessayer » with no request waiting: no marker, as for small talk."""
    return Message(
        "Je n'ai pas de demande en attente. Que voulez-vous faire ?",
        (Button("Parler à un médiateur", "/ask_human"), Button("Voir les démarches", "/help")),
    )
