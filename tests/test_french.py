"""French in every visitor-facing text built from a template: elision (« de l'Espace »,
never « de Espace ») and contraction (« au guichet », never « à le guichet »), whatever the
organisation's name and desk are set to."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot import handoff, walk
from bot.french import ASPIRATED_H, a, de, elides
from bot.guides import Catalogue
from bot.settings import ROOT, Settings
from bot.walk import Message, WalkState

# Names a desk may give, one for each rule: a vowel, a mute h, an aspirated h, Le, La,
# Les, L', a consonant.
NAMES = [
    "Espace numérique de la médiathèque",
    "Hôtel de ville",
    "Halle aux grains",
    "Le Centre social Jean Jaurès",
    "La Maison France Services",
    "Les Ateliers du numérique",
    "L'Atelier numérique",
    "Médiathèque Louise Michel",
]
DESKS = [
    "l'accueil, au rez-de-chaussée",
    "accueil du premier étage",
    "Hall d'entrée",
    "le guichet 3",
    "la salle informatique",
    "les bureaux du 2e étage",
    "bureau 12",
]
# Words before which these never elide, though they start with a vowel sound.
NO_ELISION = frozenset({"oui", "onze", "onzième", "yaourt", "ouate", "uhlan"}) | ASPIRATED_H
_ELIDING = re.compile(r"(?<![\w\-’'])(de|que|le|la|je|ne|se|me|te)\s+([^\W\d_][\w’'-]*)",
                      re.IGNORECASE)  # fmt: skip
_CONTRACTING = re.compile(r"(?<![\w\-’'])(de|à)\s+(le|les)\s+([^\W\d_][\w-]*)", re.IGNORECASE)
# « aide à le créer », « essayez de les remplir »: a pronoun before an infinitive is right.
_INFINITIVE = re.compile(r"(er|ir|re|oir)$")
NOUNS_LIKE_VERBS = frozenset({"premier", "dernier", "dossier", "papier", "courrier", "fichier",
                              "quartier", "centre", "titre", "numéro", "guichet"})  # fmt: skip


def faults(text: str) -> list[str]:
    """Each « de Espace », « que il », « à le », « de les » in `text`."""
    found = []
    for match in _ELIDING.finditer(text):
        word = match.group(2)
        if elides(word) and word.lower() not in NO_ELISION:
            found.append(match.group(0))
    for match in _CONTRACTING.finditer(text):
        word = match.group(3).lower()
        if not _INFINITIVE.search(word) or word in NOUNS_LIKE_VERBS:
            found.append(f"{match.group(1)} {match.group(2)}")
    return found


# --- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "after_de", "after_a"),
    [
        ("Espace numérique", "de l'Espace numérique", "à l'Espace numérique"),
        ("Hôtel de ville", "de l'Hôtel de ville", "à l'Hôtel de ville"),
        ("Halle aux grains", "de Halle aux grains", "à Halle aux grains"),
        ("Le Centre social", "du Centre social", "au Centre social"),
        ("le guichet 3", "du guichet 3", "au guichet 3"),
        ("Les Ateliers", "des Ateliers", "aux Ateliers"),
        ("La Maison", "de la Maison", "à la Maison"),
        ("l'accueil, au rez-de-chaussée", "de l'accueil, au rez-de-chaussée",
         "à l'accueil, au rez-de-chaussée"),
        ("Lepic Services", "de Lepic Services", "à Lepic Services"),
        ("bureau 12", "de bureau 12", "à bureau 12"),
        ("  Espace  ", "de l'Espace", "à l'Espace"),
    ],
)  # fmt: skip
def test_de_and_a(name, after_de, after_a):
    assert de(name) == after_de
    assert a(name) == after_a


def test_the_check_finds_what_it_must():
    assert faults("les médiateurs de Espace numérique les lisent") == ["de Espace"]
    assert faults("Revenez à le guichet, puis de les bureaux") == ["à le", "de les"]
    assert faults("allez à le premier étage, à les Ateliers") == ["à le", "à les"]
    assert faults("Ce guide vous aide à le créer, puis à les remplir.") == []
    assert faults("je ai dit que il ne est pas là, se il vous plaît") == [
        "je ai", "que il", "ne est", "se il"]  # fmt: skip
    assert faults("la hôtesse") == ["la hôtesse"]
    # Right French stays quiet: imperative pronouns, aspirated h, elided forms, numbers.
    assert faults("Vérifiez et écrivez-le encore. Écrivez-la à nouveau.") == []
    assert faults("le hall, la halle, le oui, de l'Espace, d'abord, le 06 12") == []


# --- every template, with every kind of name ------------------------------------------------


def settings_for(name: str, desk: str) -> Settings:
    return Settings(Settings.from_env().values | {"ORG_NAME": name, "ORG_DESK": desk})


def handoff_texts(settings: Settings) -> Iterator[str]:
    messages: list[Message] = []
    for channel in ("kiosk", "widget", "other"):
        messages.append(handoff.ask_preference(settings, channel))
    for preference in handoff.PREFERENCES:
        messages.append(handoff.ask_consent(settings, preference))
        messages.append(handoff.created(settings, 42, preference))
    for preference in ("phone", "email"):
        messages.append(handoff.ask_detail(preference))
        for last in (False, True):
            yield handoff.bad_detail(preference, last)
    messages.append(handoff.confirm_detail("06 •• •• •• 78"))
    messages.append(handoff.confirm_detail("e•••@exemple.fr"))
    messages += [
        handoff.ask_problem(),
        handoff.declined(settings),
        handoff.cancelled(settings),
        handoff.failed(settings),
        handoff.nothing_to_retry(),
    ]
    for kind in ("handoff_flood", "handoff_conversation"):
        for kept in (False, True):
            messages.append(handoff.limited(settings, kind, answers_kept=kept))
    yield handoff.org_help(settings)
    yield handoff.confirm_again()
    yield handoff.give_up_detail()
    for message in messages:
        yield message.text
        yield from (b.title for b in message.buttons)


def walk_texts(catalogue: Catalogue) -> Iterator[str]:
    replies = [walk.welcome(catalogue, WalkState()), walk.menu(catalogue, WalkState(), None)]
    replies += [walk.menu(catalogue, WalkState(), d) for d in catalogue.domains()]
    for reason in ("not_understood", "not_covered"):
        for again in (False, True):
            replies.append(walk.fallback(catalogue, WalkState(), reason, again=again))
    ids = catalogue.ids
    for guide_id in ids:
        state = WalkState()
        reply = walk.start_guide(catalogue, guide_id, state)
        replies.append(reply)
        state = reply.state
        replies += [
            walk.step_detail(catalogue, state),
            walk.not_clear(catalogue, state),
            walk.ask_switch(catalogue, state, ids[0] if ids[0] != guide_id else ids[-1]),
            walk.welcome(catalogue, state),
            walk.stop(catalogue, state),
        ]
        stuck = walk.stuck(catalogue, state)
        replies += [stuck, walk.stuck(catalogue, stuck.state)]
        for _ in range(catalogue.guides[guide_id].step_count):
            reply = walk.next_step(catalogue, state)
            replies += [reply, walk.previous_step(catalogue, reply.state)]
            state = reply.state
        for helped in (True, False):
            replies.append(walk.feedback(catalogue, replace(state, awaiting_feedback=True), helped))
    for reply in replies:
        for message in reply.messages:
            yield message.text
            yield from (b.title for b in message.buttons)


def fixed_texts() -> Iterator[str]:
    import yaml

    from bot.inputs import BAD_REQUEST_REPLY, EMPTY_REPLY, TRUNCATED_NOTICE
    from bot.web import chat

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    for variants in domain.get("responses", {}).values():
        yield from (v["text"] for v in variants if "text" in v)
    yield from (BAD_REQUEST_REPLY, EMPTY_REPLY, TRUNCATED_NOTICE.format(limit=1000))
    for name in dir(chat):
        value = getattr(chat, name)
        if name.isupper() and isinstance(value, str) and " " in value:
            yield value
    # The REST channel's notices (read from its source: importing it loads Rasa).
    source = (ROOT / "bot" / "channels.py").read_text(encoding="utf-8")
    yield from re.findall(r'^\s+"([^"\n]*)"\s*$', source, re.MULTILINE)


@pytest.mark.parametrize("name", NAMES)
def test_handoff_texts_with_any_organisation_name(name):
    problems = {}
    for desk in DESKS:
        for text in handoff_texts(settings_for(name, desk)):
            if found := faults(text):
                problems[text] = found
    assert not problems, problems


def test_handoff_texts_name_the_organisation_and_the_desk():
    settings = settings_for("Espace numérique de la médiathèque", "le guichet 3")
    consent = handoff.ask_consent(settings, "phone").text
    assert "Seuls les médiateurs de l'Espace numérique de la médiathèque les lisent." in consent
    assert "Vous pouvez venir au guichet 3 (Espace numérique" in handoff.org_help(settings)
    assert "Revenez au guichet 3," in handoff.created(settings, 7, "later").text


def test_walk_replies(catalogue):
    problems = {t: f for t in walk_texts(catalogue) if (f := faults(t))}
    assert not problems, problems


def test_fixed_texts():
    texts = list(fixed_texts())
    assert len(texts) > 10
    problems = {t: f for t in texts if (f := faults(t))}
    assert not problems, problems


@pytest.mark.parametrize("last_try", [False, True])
def test_the_bad_detail_agrees_with_its_noun(last_try):
    phone, email = handoff.bad_detail("phone", last_try), handoff.bad_detail("email", last_try)
    assert "Ce numéro de téléphone ne semble pas correct." in phone
    assert "Cette adresse e-mail ne semble pas correcte." in email
    if not last_try:
        assert "écrivez-le encore" in phone and "écrivez-la encore" in email
