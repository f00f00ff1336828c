"""The step-by-step walk through a guide, as pure functions.

Each function takes the catalogue and the visitor's current `WalkState` and returns a
`Reply`: the messages to show (text, buttons, at most one route marker of the contract)
and the new state. Rasa actions are thin adapters around these functions, so the whole
conversation logic can be tested without a server.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any

from bot.guides import Catalogue, Guide
from bot.orientation import Orientation, desk_help

# Button payloads are intents, so they work on every channel.
NEXT = "/next_step"
PREVIOUS = "/previous_step"
REPEAT = "/repeat_step"
DETAIL = "/step_detail"
STUCK = "/stuck"
STOP = "/stop_guide"
HUMAN = "/ask_human"
HELP = "/help"
YES = "/affirm"
NO = "/deny"

STUCK_LIMIT = 2  # "je bloque" this many times on one step offers a mediator


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class Message:
    text: str
    buttons: tuple[Button, ...] = ()
    custom: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text}
        if self.buttons:
            out["buttons"] = [b.as_dict() for b in self.buttons]
        if self.custom is not None:
            out["custom"] = self.custom
        return out


@dataclass(frozen=True)
class WalkState:
    """Where the visitor is. Stored in Rasa slots between turns."""

    guide_id: str | None = None
    step: int = 0
    stuck_count: int = 0
    awaiting_feedback: bool = False
    handoff_offered: bool = False
    offer_reason: str | None = None  # why a mediator was offered: stuck, not_understood...
    pending_guide: str | None = None  # the guide the visitor was asked to switch to
    clarify_count: int = 0  # « je comprends pas » (or the detail given) on this step


@dataclass(frozen=True)
class Reply:
    messages: tuple[Message, ...]
    state: WalkState
    feedback: str | None = None  # "yes" / "no" when the visitor rated a guide

    @property
    def markers(self) -> list[dict[str, Any]]:
        return [m.custom for m in self.messages if m.custom is not None]


def guide_marker(guide: Guide, step: int, **extra: Any) -> dict[str, Any]:
    return {"guide": guide.id, "step": step, "steps": guide.step_count, **extra}


def guide_button(guide: Guide) -> Button:
    return Button(guide.title, f"/{guide.id}")


def step_buttons(guide: Guide, step: int) -> tuple[Button, ...]:
    buttons = [Button("Étape suivante", NEXT)]
    if guide.step(step).detail:
        buttons.append(Button("Plus de détails", DETAIL))
    buttons += [Button("Je bloque", STUCK), Button("Répéter", REPEAT)]
    if step > 1:
        buttons.append(Button("Étape précédente", PREVIOUS))
    buttons.append(Button("Parler à un médiateur", HUMAN))
    return tuple(buttons)


def _step_text(guide: Guide, number: int, *, with_detail: bool = False) -> str:
    step = guide.step(number)
    lines = [f"Étape {number} sur {guide.step_count}", step.instruction]
    if with_detail and step.detail:
        lines.append(step.detail)
    if step.warning:
        lines.append(f"Attention : {step.warning}")
    if step.link:
        lines.append(f"Lien : {step.link.label} — {step.link.url}")
    if step.valid_for and not step.outdated:
        lines.append(
            f"(Information valable pour : {step.valid_for}. Vérifiez sur le site officiel.)"
        )
    return "\n".join(lines)


def show_step(
    guide: Guide, number: int, state: WalkState, *, intro: str | None = None,
    with_detail: bool = False,
) -> Reply:  # fmt: skip
    messages: list[Message] = []
    if intro:
        messages.append(Message(intro))
    messages.append(
        Message(
            _step_text(guide, number, with_detail=with_detail),
            step_buttons(guide, number),
            guide_marker(guide, number),
        )
    )
    new_state = replace(
        state,
        guide_id=guide.id,
        step=number,
        stuck_count=state.stuck_count if number == state.step else 0,
        clarify_count=state.clarify_count if number == state.step else 0,
        awaiting_feedback=False,
        handoff_offered=False,
        offer_reason=None,
        pending_guide=None,
    )
    return Reply(tuple(messages), new_state)


def start_guide(catalogue: Catalogue, guide_id: str, state: WalkState) -> Reply:
    # As of today: a step whose dated fact has expired is shown without the old date.
    guide = catalogue[guide_id].as_of(catalogue.today())
    switching = state.guide_id not in (None, guide_id)
    lines = []
    if switching:
        previous = catalogue.get(state.guide_id or "")
        if previous:
            lines.append(f"D'accord, nous laissons « {previous.title} ».")
    lines.append(f"Je vais vous guider : {guide.title}.")
    lines.append(guide.summary)
    lines.append(f"Il y a {guide.step_count} étapes. Allez à votre rythme.")
    if guide.prerequisites:
        lines.append("Avant de commencer, préparez :")
        lines.extend(f"- {p}" for p in guide.prerequisites)
    fresh = WalkState()
    return show_step(guide, 1, fresh, intro="\n".join(lines))


def _current(catalogue: Catalogue, state: WalkState) -> Guide | None:
    if state.guide_id and state.step >= 1:
        guide = catalogue.current(state.guide_id)
        if guide and state.step <= guide.step_count:
            return guide
    return None


def no_guide(catalogue: Catalogue, state: WalkState) -> Reply:
    """A step command arrived while no guide is open: offer the common démarches."""
    return menu(
        catalogue,
        state,
        None,
        intro="Nous ne sommes dans aucun guide pour l'instant. Que voulez-vous faire ?",
    )


def next_step(catalogue: Catalogue, state: WalkState) -> Reply:
    guide = _current(catalogue, state)
    if guide is None:
        return no_guide(catalogue, state)
    if state.step >= guide.step_count:
        return complete(catalogue, guide, state)
    return show_step(guide, state.step + 1, state)


def previous_step(catalogue: Catalogue, state: WalkState) -> Reply:
    guide = _current(catalogue, state)
    if guide is None:
        return no_guide(catalogue, state)
    if state.step <= 1:
        return show_step(guide, 1, state, intro="Nous sommes déjà à la première étape.")
    return show_step(guide, state.step - 1, state)


def repeat_step(catalogue: Catalogue, state: WalkState) -> Reply:
    guide = _current(catalogue, state)
    if guide is None:
        return no_guide(catalogue, state)
    return show_step(guide, state.step, state, intro="Je répète cette étape.")


def step_detail(catalogue: Catalogue, state: WalkState) -> Reply:
    guide = _current(catalogue, state)
    if guide is None:
        return no_guide(catalogue, state)
    if guide.step(state.step).detail:
        reply = show_step(
            guide, state.step, state, intro="Voici plus de détails.", with_detail=True
        )
    else:
        reply = show_step(
            guide,
            state.step,
            state,
            intro=(
                "Je n'ai pas plus de détails pour cette étape. "
                "Si vous bloquez, dites « je bloque »."
            ),
        )
    # The detail of this step has been given: « je comprends pas » now means stuck.
    return Reply(reply.messages, replace(reply.state, clarify_count=state.clarify_count + 1))


def stuck(catalogue: Catalogue, state: WalkState) -> Reply:
    guide = _current(catalogue, state)
    if guide is None:
        return menu(
            catalogue,
            state,
            None,
            intro="Je peux vous aider. Dites-moi quelle démarche vous voulez faire.",
        )
    count = state.stuck_count + 1
    if count >= STUCK_LIMIT:
        text = (
            "Cette étape semble difficile. Ce n'est pas grave.\n"
            "Une personne peut vous aider : le médiateur numérique, à l'accueil.\n"
            "Voulez-vous parler à un médiateur ?"
        )
        buttons = (
            Button("Oui, parler à un médiateur", HUMAN),
            Button("Réessayer l'étape", REPEAT),
            Button("Arrêter", STOP),
        )
        new_state = replace(
            state, stuck_count=count, handoff_offered=True, offer_reason="stuck", pending_guide=None
        )
        return Reply(
            (Message(text, buttons, {"handoff": "offered", "reason": "stuck"}),), new_state
        )
    step = guide.step(state.step)
    intro = "Pas de souci, nous allons y arriver ensemble."
    if not step.detail:
        intro += " Relisez bien l'étape. Prenez votre temps."
    reply = show_step(guide, state.step, state, intro=intro, with_detail=True)
    tail = Message("Si vous bloquez encore, dites « je bloque » : une personne pourra vous aider.")
    return Reply(reply.messages + (tail,), replace(reply.state, stuck_count=count))


def complete(catalogue: Catalogue, guide: Guide, state: WalkState) -> Reply:
    text = (
        f"Bravo ! Vous avez fait toutes les étapes : {guide.title}.\n"
        "Sur un ordinateur public, pensez à vous déconnecter du site.\n"
        "Est-ce que ce guide vous a aidé ?"
    )
    messages = [
        Message(
            text,
            (Button("Oui", YES), Button("Non", NO)),
            guide_marker(guide, guide.step_count, completed=True),
        )
    ]
    related = [catalogue[r] for r in guide.related if r in catalogue]
    if related:
        messages.append(
            Message(
                "Vous aurez peut-être besoin aussi de :",
                tuple(guide_button(g) for g in related),
            )
        )
    new_state = replace(
        state, step=guide.step_count, stuck_count=0, awaiting_feedback=True, pending_guide=None
    )
    return Reply(tuple(messages), new_state)


def feedback(catalogue: Catalogue, state: WalkState, helped: bool) -> Reply:
    done = replace(WalkState(), guide_id=None)
    if helped:
        return Reply(
            (
                Message(
                    "Merci pour votre réponse ! Je suis content d'avoir pu vous aider.",
                    (Button("Faire une autre démarche", HELP),),
                ),
            ),
            done,
            feedback="yes",
        )
    text = (
        "Merci de votre réponse. Je suis désolé de ne pas avoir assez aidé.\n"
        "Un médiateur numérique peut vous aider, à l'accueil."
    )
    buttons = (Button("Parler à un médiateur", HUMAN), Button("Faire une autre démarche", HELP))
    return Reply(
        (Message(text, buttons, {"handoff": "offered", "reason": "not_helped"}),),
        replace(done, handoff_offered=True, offer_reason="stuck"),
        feedback="no",
    )


def workshop_offer_guide(
    before: WalkState, reply: Reply, *, had_ticket: bool = False
) -> str | None:
    """The guide a coming workshop could be offered about after this reply, or None: a guide
    finished with help (rated « non », or after a ticket in this conversation), or « je
    bloque » twice on a step. The offer itself is one extra sentence (actions/workshops.py)."""
    if not before.guide_id:
        return None
    stuck_twice = any(
        m.get("handoff") == "offered" and m.get("reason") == "stuck" for m in reply.markers
    )
    finished_with_help = reply.feedback == "no" or (reply.feedback == "yes" and had_ticket)
    return before.guide_id if stuck_twice or finished_with_help else None


def stop(catalogue: Catalogue, state: WalkState) -> Reply:
    guide = catalogue.get(state.guide_id or "")
    text = (
        f"D'accord, nous arrêtons le guide « {guide.title} »." if guide else "D'accord."
    ) + " Que voulez-vous faire maintenant ?"
    buttons = (Button("Voir les démarches", HELP), Button("Parler à un médiateur", HUMAN))
    return Reply((Message(text, buttons),), WalkState())


def yes(catalogue: Catalogue, state: WalkState) -> Reply | None:
    """ "Oui" / "ok": its meaning depends on the question asked. None: the caller decides."""
    if state.pending_guide and state.pending_guide in catalogue:
        return start_guide(catalogue, state.pending_guide, state)
    if state.awaiting_feedback:
        return feedback(catalogue, state, helped=True)
    if _current(catalogue, state):
        return next_step(catalogue, state)
    return None


def no(catalogue: Catalogue, state: WalkState) -> Reply | None:
    if state.awaiting_feedback:
        return feedback(catalogue, state, helped=False)
    guide = _current(catalogue, state)
    if guide and state.pending_guide:
        return show_step(guide, state.step, state, intro="D'accord, nous continuons ce guide.")
    if guide:
        return show_step(
            guide,
            state.step,
            state,
            intro="D'accord, prenez votre temps. Quand c'est fait, dites « suivant ».",
        )
    return None


def menu(
    catalogue: Catalogue, state: WalkState, domain: str | None, *, intro: str | None = None
) -> Reply:
    """A short menu of guides: one domain's, or the most asked ones when domain is None."""
    if domain:
        guides = catalogue.in_domain(domain)
        text = intro or (
            f"{catalogue.domain_title(domain)} : que voulez-vous faire ? Choisissez une démarche."
        )
    else:
        guides = catalogue.common() or list(catalogue.guides.values())[:6]
        text = intro or "Je peux vous guider pas à pas. Choisissez une démarche :"
    buttons = [guide_button(g) for g in guides]
    if domain is None:
        buttons += [
            Button(f"Autre : {catalogue.domain_title(d)}", f"/menu_{d}")
            for d in catalogue.domains()
            if len(catalogue.in_domain(d)) > 1
        ]
    buttons.append(Button("Parler à un médiateur", HUMAN))
    current = _current(catalogue, state)
    if current and not state.awaiting_feedback:
        # Inside a guide the menu never closes it: one tap goes back to the current step.
        buttons.insert(0, Button("Continuer le guide", REPEAT))
    marker = {"menu": [g.id for g in guides]}
    return Reply(
        (Message(text, tuple(buttons), marker),),
        replace(state, awaiting_feedback=False, pending_guide=None),
    )


def fallback(
    catalogue: Catalogue,
    state: WalkState,
    reason: str,
    *,
    again: bool = False,
    desk_open: bool | None = True,
    hours: str = "",
    orientation: Orientation | None = None,
) -> Reply:
    """The bot did not understand (`not_understood`) or has no guide (`not_covered`).

    For `not_covered`, `desk_open` (bot.opening; None when unknown) and the desk's `hours`
    choose where to send the visitor; with an `orientation` entry, the marker names it and
    the text is only the offer of help (the entry's messages come first, see `orient`).
    """
    marker: dict[str, Any] = {"fallback": reason}
    if reason == "not_covered" and orientation is not None:
        marker["orientation"] = orientation.id
        text = desk_help(desk_open, hours)
    elif reason == "not_covered":
        text = (
            "Je n'ai pas encore de guide pour cette démarche.\n"
            "Le site officiel service-public.gouv.fr explique toutes les démarches.\n"
            + desk_help(desk_open, hours)
        )
    elif again:
        text = (
            "Je ne comprends toujours pas, excusez-moi.\n"
            "Une personne peut vous aider : le médiateur numérique, à l'accueil."
        )
    else:
        text = (
            "Je n'ai pas compris, excusez-moi.\n"
            "Dites-le autrement, en quelques mots. Par exemple : « déclarer mes impôts » "
            "ou « faire mon CV »."
        )
    buttons = [Button("Parler à un médiateur", HUMAN)]
    guide = _current(catalogue, state)
    if guide and not state.awaiting_feedback:
        text += f"\nPour continuer le guide « {guide.title} », dites « suivant »."
        buttons.insert(0, Button("Continuer le guide", REPEAT))
    else:
        buttons.append(Button("Voir les démarches", HELP))
    new_state = replace(state, handoff_offered=True, offer_reason=reason, pending_guide=None)
    return Reply((Message(text, tuple(buttons), marker),), new_state)


def orient(
    catalogue: Catalogue,
    state: WalkState,
    entry: Orientation,
    *,
    desk_open: bool | None = True,
    hours: str = "",
    today: dt.date | None = None,
) -> Reply:
    """A démarche without a guide but with an orientation entry: where to go, then help.

    The reply is the `not_covered` fallback (same offer of a mediator, same hand-off reason)
    preceded by the official service, what to have ready and the pitfall.
    """
    service = f"{entry.title} : je n'ai pas de guide pas à pas, mais voici où aller.\n"
    service += entry.service
    if entry.phone:
        service += "\n" + entry.phone

    # French writes a colon's continuation in lowercase (« À préparer : votre bail… »).
    def after_colon(text: str) -> str:
        return text if text.split()[0].isupper() else text[0].lower() + text[1:]

    advice = f"À préparer : {after_colon(entry.prepare)}\nAttention : {after_colon(entry.pitfall)}"
    if entry.in_person:
        advice += f"\nSur place : {after_colon(entry.in_person)}"
    if entry.stale(today):
        advice += "\nCes informations peuvent avoir changé : vérifiez-les sur le site officiel."
    help_reply = fallback(
        catalogue, state, "not_covered", desk_open=desk_open, hours=hours, orientation=entry
    )
    return Reply((Message(service), Message(advice), *help_reply.messages), help_reply.state)


@dataclass(frozen=True)
class Context:
    """What an adapter knows beyond the walk state."""

    previous_misunderstood: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


def welcome(catalogue: Catalogue, state: WalkState) -> Reply:
    """Answer to a greeting: no route marker, the common démarches as buttons."""
    guide = _current(catalogue, state)
    if guide and not state.awaiting_feedback:
        text = (
            f"Bonjour ! Nous sommes à l'étape {state.step} sur {guide.step_count} "
            f"du guide « {guide.title} ». Dites « suivant » pour continuer."
        )
        return Reply((Message(text, (Button("Continuer le guide", REPEAT),)),), state)
    text = (
        "Bonjour ! Je suis Guichet, l'assistant de démarches en ligne.\n"
        "Je vous guide pas à pas : impôts, France Travail, CV, adresse mail, arnaques.\n"
        "Écrivez votre demande en quelques mots, ou choisissez :"
    )
    buttons = [guide_button(g) for g in catalogue.common()]
    buttons += [Button("Autre démarche", HELP), Button("Parler à un médiateur", HUMAN)]
    return Reply((Message(text, tuple(buttons)),), state)


# ---- context inside a guide -----------------------------------------------------------------
#
# While a guide is open, what the NLU predicts is read in the light of where the visitor is:
# a guide named in passing asks before switching, a bare number or a masked secret keeps the
# visitor on the step, « je comprends pas » asks for the detail then counts as « je bloque »,
# and a question about the current step gets the step's detail rather than another guide.

# Placeholders that the REST channel puts in place of secrets and contact details
# (bot.privacy.PLACEHOLDERS, bot.contacts): every one is « [... masqué] » or « [... refusée] ».
_PLACEHOLDER = re.compile(r"\[[^\[\]]{1,60}\b(?:masqu[ée]e?s?|refus[ée]e?s?)\]", re.IGNORECASE)
_NOT_A_WORD = re.compile(r"[\W\d_]+")
_WORD = re.compile(r"[a-z0-9]+")
_QUESTION_WORDS = (
    "ou ", "comment", "cest quoi", "c quoi", "quoi ", "koi ", "kwa ", "quel", "pourquoi", "combien",
    "qu'est", "quest", "ca veut dire", "sa veut dire", "c'est ou", "cest ou", "c ou",
)  # fmt: skip
# Words too common to tie a question to one step (folded).
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        """
    alors aussi autre avec avoir avant bien cela cest cette comment dans depuis dois doit
    donc elle elles est etre faire fais fait faut ici jai jamais leur mais meme mes mon
    moi nous pas peut peux plus pour pourquoi quand quel quelle quels quelles quoi sais
    sans ses son sont suis sur toi ton tous tout tres trouve trouver une vais veut veux
    vos votre vous
    """,
    )
)

CLARIFY_INTENT = "not_clear"
GUIDE_NOT_SWITCHED_INTENTS = frozenset({"nlu_fallback", "out_of_scope", "not_covered"})


def fold_text(text: str) -> str:
    """Lowercase, no accents, straight apostrophes: what the matching below compares."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("œ", "oe").replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stems(text: str) -> set[str]:
    """Content words of a text, cut to 5 letters so that « trouver » meets « trouve »."""
    words = _WORD.findall(fold_text(text).replace("'", " "))
    return {w[:5] for w in words if len(w) >= 4 and w not in _STOPWORDS and not w.isdigit()}


def is_bare_number(text: str) -> bool:
    """Only digits, masked secrets and punctuation: nothing that could name a démarche."""
    rest = _PLACEHOLDER.sub(" ", text)
    has_one = rest != text or any(c.isdigit() for c in text)
    return has_one and not _NOT_A_WORD.sub("", rest)


def is_question(text: str) -> bool:
    folded = " " + fold_text(text).replace("-", " ").strip() + " "
    return "?" in folded or any(f" {w}" in folded for w in _QUESTION_WORDS)


def step_matches(guide: Guide, number: int, text: str, ignore: str = "") -> bool:
    """Does a question speak about this step? Its content words are in the step's text.

    Words of the guides' titles (this one's, and `ignore`: the guide the NLU predicted) do
    not count: they name a démarche, not something on this step. At least two words must
    match, or every content word of the question when it has only one.
    """
    step = guide.step(number)
    words = _stems(text) - _stems(ignore) - _stems(guide.title)
    if not words:
        return False
    matched = words & _stems(" ".join((step.instruction, step.detail or "", step.warning or "")))
    return len(matched) >= 2 or matched == words


@dataclass(frozen=True)
class Said:
    """What the visitor sent, as the actions see it."""

    text: str = ""
    intent: str = ""
    masked: tuple[str, ...] = ()  # kinds of secrets the channel masked (metadata "masked")

    @property
    def button(self) -> bool:
        """A button's payload (« /intent »): a choice made on purpose, never questioned."""
        return self.text.startswith("/")


def not_clear(catalogue: Catalogue, state: WalkState) -> Reply:
    """« je comprends pas », « hein ? »: the detail first, then « je bloque » on this step."""
    guide = _current(catalogue, state)
    if guide is None or state.awaiting_feedback:
        return menu(
            catalogue,
            state,
            None,
            intro=(
                "Pas de souci, je vous explique. Je vous guide pas à pas dans une démarche.\n"
                "Choisissez-la, ou écrivez-la en quelques mots :"
            ),
        )
    if state.clarify_count == 0 and guide.step(state.step).detail:
        return step_detail(catalogue, state)
    reply = stuck(catalogue, state)
    return Reply(reply.messages, replace(reply.state, clarify_count=state.clarify_count + 1))


def ask_switch(catalogue: Catalogue, state: WalkState, target_id: str) -> Reply:
    """Another démarche named inside a guide: ask before leaving this one."""
    guide = _current(catalogue, state)
    target = catalogue[target_id]
    if guide is None:
        return start_guide(catalogue, target_id, state)
    text = (
        f"Nous sommes à l'étape {state.step} sur {guide.step_count} "
        f"du guide « {guide.title} ».\n"
        f"Voulez-vous quitter ce guide pour « {target.title} » ?"
    )
    buttons = (
        Button("Oui, quitter", f"/{target.id}"),
        Button("Non, continuer ce guide", REPEAT),
    )
    # The marker stays the current guide's: the visitor has not left it.
    marker = guide_marker(guide, state.step, switch_to=target.id)
    new_state = replace(state, pending_guide=target.id, handoff_offered=False, offer_reason=None)
    return Reply((Message(text, buttons, marker),), new_state)


def in_guide(
    catalogue: Catalogue, state: WalkState, said: Said, *, again: bool = False
) -> Reply | None:
    """The context rules inside an open guide. None: the ordinary answer applies.

    Outside a guide, a bare number (or a masked secret alone) is not understood, whatever
    the NLU guessed from its digits (`again`: the previous message was not understood either).
    In this order, for a typed message (a button is always obeyed):
    1. only digits or masked secrets: the visitor stays on the step;
    2. a guide or a menu predicted with a masked secret in the message: the same;
    3. a question whose words are on the current step: the step's detail;
    4. the current guide named again: where we are, the same step;
    5. another guide named: ask before switching; a vague menu: the menu, with a button
       back to the guide.
    """
    guide = _current(catalogue, state)
    if said.button:
        return None
    if guide is None or state.awaiting_feedback:
        if is_bare_number(said.text):
            return fallback(catalogue, state, "not_understood", again=again)
        return None
    intent = said.intent
    names_a_guide = intent in catalogue or intent.startswith("menu_")
    if is_bare_number(said.text):
        if said.masked or "[" in said.text:
            intro = "Je n'ai pas besoin de cette information ici. Gardez-la pour vous."
        else:
            intro = "Je n'ai pas besoin de ce numéro ici."
        return show_step(guide, state.step, state, intro=intro)
    if said.masked and names_a_guide:
        return show_step(guide, state.step, state, intro="Restons sur cette étape.")
    if not (names_a_guide or intent in GUIDE_NOT_SWITCHED_INTENTS):
        return None
    title = catalogue[intent].title if intent in catalogue else ""
    if is_question(said.text) and step_matches(guide, state.step, said.text, ignore=title):
        reply = show_step(
            guide,
            state.step,
            state,
            intro="Voici ce qu'il faut savoir pour cette étape.",
            with_detail=True,
        )
        return Reply(reply.messages, replace(reply.state, clarify_count=state.clarify_count + 1))
    if intent == guide.id:
        return show_step(guide, state.step, state, intro="Nous sommes déjà dans ce guide.")
    if intent in catalogue:
        return ask_switch(catalogue, state, intent)
    if intent.startswith("menu_"):
        domain = intent.removeprefix("menu_")
        return menu(
            catalogue,
            state,
            domain if catalogue.in_domain(domain) else None,
            intro=(
                f"Nous sommes dans le guide « {guide.title} ». "
                "Voulez-vous faire une autre démarche ? Choisissez, ou continuez le guide."
            ),
        )
    return None
