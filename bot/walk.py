"""The step-by-step walk through a guide, as pure functions.

Each function takes the catalogue and the visitor's current `WalkState` and returns a
`Reply`: the messages to show (text, buttons, at most one route marker of the contract)
and the new state. Rasa actions are thin adapters around these functions, so the whole
conversation logic can be tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bot.guides import Catalogue, Guide

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
    if step.valid_for:
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
        awaiting_feedback=False,
        handoff_offered=False,
        offer_reason=None,
    )
    return Reply(tuple(messages), new_state)


def start_guide(catalogue: Catalogue, guide_id: str, state: WalkState) -> Reply:
    guide = catalogue[guide_id]
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
        guide = catalogue.get(state.guide_id)
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
        return show_step(guide, state.step, state, intro="Voici plus de détails.", with_detail=True)
    return show_step(
        guide,
        state.step,
        state,
        intro="Je n'ai pas plus de détails pour cette étape. Si vous bloquez, dites « je bloque ».",
    )


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
        new_state = replace(state, stuck_count=count, handoff_offered=True, offer_reason="stuck")
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
    new_state = replace(state, step=guide.step_count, stuck_count=0, awaiting_feedback=True)
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


def stop(catalogue: Catalogue, state: WalkState) -> Reply:
    guide = catalogue.get(state.guide_id or "")
    text = (
        f"D'accord, nous arrêtons le guide « {guide.title} »." if guide else "D'accord."
    ) + " Que voulez-vous faire maintenant ?"
    buttons = (Button("Voir les démarches", HELP), Button("Parler à un médiateur", HUMAN))
    return Reply((Message(text, buttons),), WalkState())


def yes(catalogue: Catalogue, state: WalkState) -> Reply | None:
    """ "Oui" / "ok": its meaning depends on the question asked. None: the caller decides."""
    if state.awaiting_feedback:
        return feedback(catalogue, state, helped=True)
    if _current(catalogue, state):
        return next_step(catalogue, state)
    return None


def no(catalogue: Catalogue, state: WalkState) -> Reply | None:
    if state.awaiting_feedback:
        return feedback(catalogue, state, helped=False)
    guide = _current(catalogue, state)
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
    marker = {"menu": [g.id for g in guides]}
    return Reply((Message(text, tuple(buttons), marker),), replace(state, awaiting_feedback=False))


def fallback(catalogue: Catalogue, state: WalkState, reason: str, *, again: bool = False) -> Reply:
    """The bot did not understand (`not_understood`) or has no guide (`not_covered`)."""
    marker = {"fallback": reason}
    if reason == "not_covered":
        text = (
            "Je n'ai pas encore de guide pour cette démarche.\n"
            "Un médiateur numérique peut vous aider, à l'accueil.\n"
            "Le site officiel service-public.gouv.fr explique aussi toutes les démarches."
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
    new_state = replace(state, handoff_offered=True, offer_reason=reason)
    return Reply((Message(text, tuple(buttons), marker),), new_state)


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
