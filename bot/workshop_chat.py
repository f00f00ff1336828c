"""Workshops in the conversation: what the visitor is shown and asked, as plain data.

The list of coming sessions, the one-sentence offer after a guide, and the booking form
(`booking_form`: first name, how to be told, the contact detail, consent) with its
confirmation and the cancellation by number. Like `bot.handoff`, no Rasa here: the actions
in `actions/workshops.py` feed these functions the store's sessions and the settings.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.french import de
from bot.handoff import CANCEL, org_help
from bot.settings import Settings
from bot.walk import HUMAN, Button, Message
from bot.workshops import day_label, hour_label

TZ = ZoneInfo("Europe/Paris")
LIST_LIMIT = 5
FIRST_NAME_MAX = 40
MAX_DETAIL_TRIES = 3

# What a visitor names when they want a workshop on one domain of the catalogue: the
# domain's guides are the ones a session must teach. The label completes « un atelier … ».
TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "impots": ("sur les impôts", ("impot", "impo", "fiscal", "declaration de revenu")),
    "france_travail": (
        "sur France Travail",
        ("france travail", "pole emploi", "chomage", "actualis", "demandeur d emploi"),
    ),
    "cv": ("sur le CV et les candidatures", ("cv", "lettre de motivation", "candidature")),
    "compte": (
        "sur les comptes en ligne",
        ("mail", "courriel", "franceconnect", "france connect", "mot de passe", "scanner"),
    ),
    "caf": ("sur la CAF", ("caf", "rsa", "prime d activite", "allocation familiale")),
    "ameli": ("sur l'Assurance Maladie", ("ameli", "carte vitale", "secu", "assurance maladie")),
    "ants": ("sur les papiers d'identité", ("ants", "carte d identite", "passeport", "permis")),
    "retraite": ("sur la retraite", ("retraite",)),
    "securite": ("sur la sécurité et les arnaques", ("arnaque", "pirat", "securite", "virus")),
}

CONTACT_CHOICES: dict[str, str] = {
    "phone": "Par téléphone",
    "email": "Par e-mail",
    "none": "Je viendrai, sans être prévenu",
}
_CONTACT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "none": (
        "viendrai",
        "viens",
        "rien",
        "pas besoin",
        "sans",
        "aucun",
        "pas prevenu",
        "non merci",
    ),
    "phone": ("telephone", "tel", "portable", "mobile", "sms", "appel", "numero"),
    "email": ("mail", "courriel", "e-mail", "email", "messagerie"),
}


def plain(text: str) -> str:
    """Lower case, no accents, apostrophes and dashes as spaces: « Impôts » → « impots »."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[’'`\-_]", " ", folded)


# --- dates in French ------------------------------------------------------------------------


# One French way of writing dates, shared with the store and the console.
hour_text = hour_label
day_text = day_label


def when_text(moment: datetime | str) -> str:
    """« mardi 8 décembre à 14 h »."""
    return f"{day_text(moment)} à {hour_text(moment)}"


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- the list of sessions -------------------------------------------------------------------


def topic_of(text: str) -> str | None:
    """The catalogue domain a visitor's sentence names (« atelier impots » → impots), or None
    for a general request (« un cours pour apprendre l'ordinateur »). Payloads name none."""
    if not text or text.startswith("/"):
        return None
    words = f" {plain(text)} "
    for domain, (_label, keywords) in TOPICS.items():
        if any(re.search(rf"\b{re.escape(k)}", words) for k in keywords):
            return domain
    return None


def topic_label(domain: str) -> str:
    return TOPICS[domain][0] if domain in TOPICS else f"sur « {domain} »"


def workshop_id_of(text: str) -> int | None:
    """12 for `/book_workshop{"workshop_id": 12}` or `/list_workshops{"workshop_id": "12"}`."""
    payload = re.search(r"\{.*\}", text or "")
    if not (text or "").startswith("/") or not payload:
        return None
    try:
        value = json.loads(payload.group(0)).get("workshop_id")
        return int(value)
    except (ValueError, AttributeError, TypeError):
        return None


def seats_text(workshop: object) -> str:
    """« 3 places restantes », « complet : liste d'attente », « entrée libre »."""
    if not getattr(workshop, "booking_required", True):
        return "entrée libre, sans inscription"
    left = int(getattr(workshop, "seats_left", 0))
    if left <= 0:
        return "complet : liste d'attente"
    return "1 place restante" if left == 1 else f"{left} places restantes"


def place_text(workshop: object) -> str:
    place = str(getattr(workshop, "place", "") or "").strip()
    address = str(getattr(workshop, "address", "") or "").strip()
    if place and address:
        return f"{place}, {address}"
    return place or address or "à l'accueil"


def session_line(workshop: object) -> str:
    """« • Créer son adresse e-mail : mardi 8 décembre à 14 h, salle 2, 12 rue… 3 places
    restantes. » (the day and time first for a visitor scanning the list)"""
    title = getattr(workshop, "title", "")
    starts = getattr(workshop, "starts_at", "")
    seats = capitalised(seats_text(workshop))
    return f"• {title} : {when_text(starts)}, {place_text(workshop)}. {seats}."


def book_button(workshop: object) -> Button:
    starts = getattr(workshop, "starts_at", "")
    label = (
        f"{capitalised(day_text(starts))}, {hour_text(starts)} : {getattr(workshop, 'title', '')}"
    )
    return Button(label, f'/book_workshop{{"workshop_id": {int(getattr(workshop, "id", 0))}}}')


def workshops_marker(workshops: Iterable[object]) -> dict[str, object]:
    return {"workshops": [int(getattr(w, "id", 0)) for w in workshops]}


def session_list(
    workshops: list, *, topic: str | None = None, others: list | None = None
) -> tuple[Message, ...]:
    """The reply to « quels sont les prochains ateliers ? ».

    `workshops`: the sessions to show (those of `topic` when the visitor named one);
    `others`: the other coming sessions, shown when none teaches the topic.
    """
    human = Button("Parler à un médiateur", HUMAN)
    if topic and not workshops:
        lead = f"Il n'y a pas d'atelier prévu {topic_label(topic)} pour le moment."
        if others:
            return _listing(others, f"{lead}\nVoici les autres ateliers :", human)
        return (_nothing(lead, human),)
    if not workshops:
        return (_nothing("Il n'y a pas d'atelier prévu pour le moment.", human),)
    if topic:
        lead = f"Voici les prochains ateliers {topic_label(topic)} :"
    elif len(workshops) == 1:
        lead = "Voici l'atelier :"
    else:
        lead = "Voici les prochains ateliers :"
    return _listing(workshops, lead, human)


def _listing(workshops: list, lead: str, human: Button) -> tuple[Message, ...]:
    lines = "\n".join(session_line(w) for w in workshops)
    text = f"{lead}\n{lines}\nPour vous inscrire, choisissez un atelier."
    buttons = tuple(book_button(w) for w in workshops) + (human,)
    return (Message(text, buttons, workshops_marker(workshops)),)


def _nothing(lead: str, human: Button) -> Message:
    text = f"{lead} Un médiateur peut vous renseigner sur les prochains."
    return Message(text, (human, Button("Faire une démarche", "/help")), {"workshops": []})


def offer(workshop: object) -> Message:
    """The one sentence after a main answer; no marker (the reply's one marker stays on the
    main answer)."""
    title = getattr(workshop, "title", "")
    text = f"Un atelier « {title} » a lieu {when_text(getattr(workshop, 'starts_at', ''))}."
    payload = f'/list_workshops{{"workshop_id": {int(getattr(workshop, "id", 0))}}}'
    return Message(text, (Button("Voir l'atelier", payload),))


# --- the booking form -----------------------------------------------------------------------


def marker(state: str, **extra: object) -> dict[str, object]:
    return {"booking": state, **extra}


CANCEL_BUTTON = Button("Annuler", CANCEL)


def start(workshop: object) -> str:
    """Said before the first question."""
    title = getattr(workshop, "title", "")
    when = when_text(getattr(workshop, "starts_at", ""))
    if int(getattr(workshop, "seats_left", 0)) <= 0:
        return (
            f"L'atelier « {title} » du {when} est complet. Je peux vous inscrire sur la liste "
            "d'attente. Vous serez prévenu si une place se libère."
        )
    return f"Je vous inscris à l'atelier « {title} » du {when}. Il me faut quelques réponses."


def ask_first_name() -> Message:
    return Message(
        "Quel est votre prénom ? Vous pouvez aussi écrire seulement vos initiales.",
        (CANCEL_BUTTON,),
        marker("first_name"),
    )


# Answers to another question, not first names.
_NOT_NAMES = frozenset(
    {"oui", "non", "ok", "okay", "non merci", "merci", "d accord", "si", "bonjour", "je sais pas"}
)


def parse_first_name(text: str) -> str | None:
    """The first name (or initials) as the visitor wrote it, or None when it is not one:
    digits, a masked secret or contact, a payload, too long."""
    value = " ".join((text or "").split())
    if not value or value.startswith("/") or len(value) > FIRST_NAME_MAX:
        return None
    if re.search(r"[\d\[\]@{}<>|=:;/\\]", value):
        return None
    if len(value.split()) > 3 or not re.search(r"[^\W\d_]", value):
        return None
    if plain(value).strip(" .!") in _NOT_NAMES:
        return None
    return capitalised(value)


# Words of « annuler » and its kin. Inside the booking form a first name the NLU took for
# `stop_guide` (« Jeanne » is no training example) is an answer, not a way out.
_LEAVE_WORDS = (
    "annul", "arret", "arete", "aret", "stop", "quitt", "sortir", "laisse tomb", "laise tomb",
    "abandon", "oubli", "menu", "autre chose", "autre demarche", "recommenc", "suffit", "fin",
    "plus tard", "pas maintenant", "changer de sujet",
)  # fmt: skip


def wants_to_leave(text: str) -> bool:
    """« annuler », « stop », « laisse tomber »…, or the Annuler button."""
    if (text or "").startswith(CANCEL):
        return True
    words = f" {plain(text or '')} "
    return any(re.search(rf"\b{re.escape(w)}", words) for w in _LEAVE_WORDS)


def bad_first_name() -> str:
    return (
        "Écrivez seulement votre prénom, ou vos initiales, sans chiffres. "
        "N'écrivez jamais de mot de passe ni de numéro ici. Pour arrêter, écrivez « annuler »."
    )


def ask_contact_kind() -> Message:
    buttons = tuple(
        Button(label, f'/choose_contact{{"contact_preference": "{kind}"}}')
        for kind, label in CONTACT_CHOICES.items()
    ) + (CANCEL_BUTTON,)
    return Message(
        "Si l'atelier change, comment voulez-vous être prévenu ?", buttons, marker("contact_kind")
    )


def parse_contact_kind(text: str | None) -> str | None:
    """`phone` for the button's payload or « par téléphone »; `none` for « je viendrai »."""
    if not text:
        return None
    payload = re.search(r"\{.*\}", text)
    if text.startswith("/") and payload:
        try:
            value = json.loads(payload.group(0)).get("contact_preference")
        except (ValueError, AttributeError):
            value = None
        return value if value in CONTACT_CHOICES else None
    words = plain(text)
    for kind in ("none", "phone", "email"):
        if any(re.search(rf"\b{re.escape(k)}", words) for k in _CONTACT_KEYWORDS[kind]):
            return kind
    return None


def bad_contact_kind() -> str:
    return (
        "Je n'ai pas compris. Choisissez un bouton, ou écrivez « téléphone », « e-mail » ou "
        "« je viendrai ». Pour arrêter, écrivez « annuler »."
    )


def ask_detail(kind: str) -> Message:
    """The marker's `detail` tells the front ends which keyboard to open, as the hand-off's."""
    detail = "phone" if kind == "phone" else "email"
    if detail == "phone":
        text = "Quel est votre numéro de téléphone ? Par exemple : 06 12 34 56 78."
    else:
        text = "Quelle est votre adresse e-mail ? Par exemple : prenom.nom@exemple.fr."
    return Message(text, (CANCEL_BUTTON,), marker("contact_detail", detail=detail))


CONFIRM_YES = "Oui, c'est bien ça"
CONFIRM_NO = "Non, je corrige"


def confirm_detail(shown: str) -> Message:
    """The partly hidden form; the REST channel shows this visitor the full detail."""
    return Message(
        f"Vous avez écrit {shown}. C'est bien ça ?",
        (Button(CONFIRM_YES, "/affirm"), Button(CONFIRM_NO, "/deny"), CANCEL_BUTTON),
        marker("confirm_detail"),
    )


def confirm_again() -> str:
    return f"Répondez avec un bouton : « {CONFIRM_YES} » ou « {CONFIRM_NO} »."


def ask_consent(settings: Settings, kind: str) -> Message:
    kept = {
        "phone": "votre prénom et votre numéro de téléphone",
        "email": "votre prénom et votre adresse e-mail",
    }.get(kind, "votre prénom")
    days = settings.workshop_retention_days
    text = (
        f"Pour votre inscription, Guichet garde {kept}. "
        f"Seuls les médiateurs {de(settings.values['ORG_NAME'])} les lisent, pour préparer "
        f"l'atelier{' et vous prévenir' if kind in ('phone', 'email') else ''}. "
        f"Tout est effacé {days} jours après l'atelier.\n"
        "Êtes-vous d'accord ?"
    )
    return Message(
        text, (Button("Oui, j'accepte", "/affirm"), Button("Non", "/deny")), marker("consent")
    )


def created(booking: object, workshop: object) -> Message:
    """The confirmation: number, date, time and place; the kiosk shows the number and the
    date in large type from the marker."""
    number = str(getattr(booking, "number", ""))
    waiting = getattr(booking, "status", "") == "attente"
    starts = str(getattr(workshop, "starts_at", ""))
    title = getattr(workshop, "title", "")
    where = place_text(workshop)
    if waiting:
        told = (
            "Vous serez prévenu si une place se libère."
            if getattr(booking, "contact_kind", "none") != "none"
            else "Demandez à l'accueil, avant l'atelier, si une place s'est libérée."
        )
        text = (
            f"C'est noté : vous êtes sur la liste d'attente de l'atelier « {title} », "
            f"{when_text(starts)}, {where}.\n{told}\n"
            f"Votre numéro d'inscription est {number}. Notez-le."
        )
    else:
        text = (
            f"C'est noté : vous êtes inscrit à l'atelier « {title} », "
            f"{when_text(starts)}, {where}.\n"
            f"Votre numéro d'inscription est {number}. Notez-le.\n"
            f"Pour annuler, écrivez « annuler mon inscription {number} »."
        )
    return Message(
        text,
        (Button("Faire une autre démarche", "/help"),),
        marker(
            "created",
            number=number,
            workshop=int(getattr(workshop, "id", 0)),
            starts_at=starts,
            waiting=waiting,
        ),
    )


def declined(settings: Settings) -> Message:
    text = (
        "D'accord, je ne garde rien et je ne vous inscris pas. "
        "Vous pouvez aussi vous inscrire à l'accueil. " + org_help(settings)
    )
    return Message(text, (Button("Faire une autre démarche", "/help"),), marker("declined"))


def abandoned(settings: Settings) -> Message:
    """« Annuler » inside the form: nothing kept."""
    text = "D'accord, j'arrête l'inscription. Je ne garde rien. " + org_help(settings)
    return Message(text, (Button("Voir les ateliers", "/list_workshops"),), marker("abandoned"))


def closed(workshop: object | None) -> Message:
    """A session cancelled, already started, or gone."""
    title = getattr(workshop, "title", None)
    what = f"L'atelier « {title} »" if title else "Cet atelier"
    return Message(
        f"{what} n'est plus ouvert aux inscriptions. Voici les autres ateliers.",
        (Button("Voir les ateliers", "/list_workshops"),),
    )


def no_booking_needed(workshop: object) -> Message:
    title = getattr(workshop, "title", "")
    text = (
        f"Pas besoin de vous inscrire à l'atelier « {title} » : venez directement, "
        f"{when_text(getattr(workshop, 'starts_at', ''))}, {place_text(workshop)}."
    )
    return Message(text, (Button("Voir les ateliers", "/list_workshops"),))


def failed(settings: Settings) -> Message:
    text = (
        "Désolé, un problème technique m'empêche d'enregistrer votre inscription. "
        "Je ne garde rien. Réessayez dans un moment, ou inscrivez-vous à l'accueil. "
        + org_help(settings)
    )
    return Message(text, (Button("Voir les ateliers", "/list_workshops"),), marker("failed"))


# --- cancelling by number -------------------------------------------------------------------


def ask_number() -> Message:
    return Message(
        "Quel est votre numéro d'inscription ? Il a 5 lettres, par exemple BKTRZ.",
        (CANCEL_BUTTON,),
        marker("number"),
    )


def unknown_number(number: str | None) -> Message:
    which = f"avec le numéro {number}" if number else "avec ce numéro"
    return Message(
        f"Je ne trouve pas d'inscription {which}. Vérifiez le numéro, "
        "ou demandez à l'accueil : un médiateur peut annuler pour vous.",
        (Button("Voir les ateliers", "/list_workshops"), Button("Parler à un médiateur", HUMAN)),
        marker("unknown"),
    )


def ask_cancel(number: str, workshop: object) -> Message:
    title = getattr(workshop, "title", "")
    text = (
        f"Voulez-vous annuler l'inscription {number} à l'atelier « {title} », "
        f"{when_text(getattr(workshop, 'starts_at', ''))} ?"
    )
    return Message(
        text,
        (Button("Oui, annuler", "/affirm"), Button("Non, la garder", "/deny")),
        marker("confirm_cancel", number=number),
    )


def cancelled(number: str) -> Message:
    return Message(
        f"C'est fait : l'inscription {number} est annulée. Merci d'avoir libéré la place.",
        (Button("Voir les ateliers", "/list_workshops"), Button("Faire une démarche", "/help")),
        marker("cancelled", number=number),
    )


def kept(number: str) -> Message:
    return Message(
        f"D'accord, votre inscription {number} est gardée.",
        (Button("Faire une démarche", "/help"),),
        marker("kept", number=number),
    )
