"""The workshops' words in the conversation (bot/workshop_chat.py): French dates, the topic
a sentence names, the list, the offer and the booking form's questions and answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from bot import workshop_chat as chat
from bot.settings import Settings


@dataclass
class FakeWorkshop:
    """Only the fields the messages read; the store's Workshop has the same names."""

    id: int = 12
    title: str = "Créer son adresse e-mail"
    starts_at: str = "2026-12-08T13:00:00+00:00"  # 14 h in Paris (winter time)
    place: str = "Salle 2"
    address: str = "12 rue de la Paix"
    seats_left: int = 3
    booking_required: bool = True
    guide_ids: list[str] = field(default_factory=lambda: ["compte.adresse_email"])


@dataclass
class FakeBooking:
    number: str = "BKTRZ"
    status: str = "inscrit"
    contact_kind: str = "phone"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-12-08T13:00:00+00:00", "mardi 8 décembre à 14 h"),
        ("2026-06-01T07:30:00+00:00", "lundi 1er juin à 9 h 30"),  # summer time: UTC+2
        ("2027-02-28T16:05:00+00:00", "dimanche 28 février à 17 h 05"),
        (datetime(2026, 8, 15, 12, 0, tzinfo=timezone.utc), "samedi 15 août à 14 h"),
    ],
)
def test_french_dates_in_paris_time(moment, expected):
    assert chat.when_text(moment) == expected


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("atelier impots", "impots"),
        ("un atelier sur les Impôts", "impots"),
        ("atelier pole emploi", "france_travail"),
        ("cours pour faire mon CV", "cv"),
        ("atelier pour créer une adresse mail", "compte"),
        ("un atelier sur la caf", "caf"),
        ("atelier carte vitale", "ameli"),
        ("un cours pour apprendre l'ordinateur", None),
        ("cours de tablette", None),
        ("quels sont les prochains ateliers", None),
        ('/list_workshops{"workshop_id": 3}', None),
        ("", None),
    ],
)
def test_the_topic_a_sentence_names(text, topic):
    assert chat.topic_of(text) == topic


def test_a_word_inside_another_is_not_a_topic():
    # A keyword must start a word: « recvoir » is not about a CV.
    assert chat.topic_of("atelier recvoir") is None


def test_workshop_id_from_a_payload_only():
    assert chat.workshop_id_of('/book_workshop{"workshop_id": 12}') == 12
    assert chat.workshop_id_of('/list_workshops{"workshop_id": "7"}') == 7
    assert chat.workshop_id_of("je veux l'atelier 12") is None
    assert chat.workshop_id_of('/book_workshop{"workshop_id": "douze"}') is None


def test_seats_left_in_words():
    assert chat.seats_text(FakeWorkshop(seats_left=3)) == "3 places restantes"
    assert chat.seats_text(FakeWorkshop(seats_left=1)) == "1 place restante"
    assert chat.seats_text(FakeWorkshop(seats_left=0)) == "complet : liste d'attente"
    assert chat.seats_text(FakeWorkshop(booking_required=False)) == "entrée libre, sans inscription"


def test_the_list_has_one_button_per_session_and_the_mediator():
    sessions = [FakeWorkshop(), FakeWorkshop(id=13, title="Déclarer ses impôts", seats_left=0)]
    (message,) = chat.session_list(sessions)
    assert message.custom == {"workshops": [12, 13]}
    assert "Créer son adresse e-mail : mardi 8 décembre à 14 h, Salle 2, 12 rue de la Paix." in (
        message.text
    )
    assert "Complet : liste d'attente." in message.text
    assert [b.payload for b in message.buttons] == [
        '/book_workshop{"workshop_id": 12}',
        '/book_workshop{"workshop_id": 13}',
        "/ask_human",
    ]
    assert message.buttons[0].title == "Mardi 8 décembre, 14 h : Créer son adresse e-mail"
    assert message.buttons[-1].title == "Parler à un médiateur"


def test_a_topic_without_session_says_so_and_lists_the_others():
    (message,) = chat.session_list([], topic="impots", others=[FakeWorkshop()])
    assert message.text.startswith("Il n'y a pas d'atelier prévu sur les impôts pour le moment.")
    assert "Voici les autres ateliers" in message.text
    assert message.custom == {"workshops": [12]}


def test_no_session_at_all_offers_the_mediator():
    (message,) = chat.session_list([])
    assert "pas d'atelier prévu" in message.text
    assert message.custom == {"workshops": []}
    assert message.buttons[0].payload == "/ask_human"


def test_the_offer_is_one_sentence_without_marker():
    message = chat.offer(FakeWorkshop())
    assert message.text == "Un atelier « Créer son adresse e-mail » a lieu mardi 8 décembre à 14 h."
    assert message.custom is None
    assert [(b.title, b.payload) for b in message.buttons] == [
        ("Voir l'atelier", '/list_workshops{"workshop_id": 12}')
    ]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("jeanne", "Jeanne"),
        ("  Marie-Claire ", "Marie-Claire"),
        ("J. D.", "J. D."),
        ("Jean Pierre", "Jean Pierre"),
        ("Zoé", "Zoé"),
    ],
)
def test_first_names_and_initials_are_taken(text, name):
    assert chat.parse_first_name(text) == name


@pytest.mark.parametrize(
    "text",
    [
        "jeanne 1958",
        "[téléphone]",
        "[mot de passe masqué]",
        "jean@exemple.fr",
        "/affirm",
        "",
        "x" * 41,
        "je m'appelle jeanne et je voudrais venir",
        "06 12 34 56 78",
        "non",
        "Oui.",
        "d'accord",
    ],
)
def test_digits_secrets_and_sentences_are_refused(text):
    assert chat.parse_first_name(text) is None


def test_the_refusal_is_a_clear_french_sentence():
    assert "sans chiffres" in chat.bad_first_name()
    assert "annuler" in chat.bad_first_name()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('/choose_contact{"contact_preference": "phone"}', "phone"),
        ('/choose_contact{"contact_preference": "none"}', "none"),
        ('/choose_contact{"contact_preference": "desk"}', None),
        ("par téléphone", "phone"),
        ("un sms", "phone"),
        ("par mail", "email"),
        ("je viendrai", "none"),
        ("pas besoin", "none"),
        ("bof", None),
    ],
)
def test_how_to_be_told(text, kind):
    assert chat.parse_contact_kind(text) == kind


def test_the_form_markers():
    assert chat.ask_first_name().custom == {"booking": "first_name"}
    assert chat.ask_contact_kind().custom == {"booking": "contact_kind"}
    assert chat.ask_detail("phone").custom == {"booking": "contact_detail", "detail": "phone"}
    assert chat.ask_detail("email").custom == {"booking": "contact_detail", "detail": "email"}
    assert chat.confirm_detail("06 •• •• •• 78").custom == {"booking": "confirm_detail"}


def test_consent_says_what_is_kept_who_reads_it_and_for_how_long():
    settings = Settings({"WORKSHOP_RETENTION_DAYS": "21", "ORG_NAME": "la Médiathèque"})
    message = chat.ask_consent(settings, "phone")
    assert "votre prénom et votre numéro de téléphone" in message.text
    assert "Seuls les médiateurs de la Médiathèque" in message.text
    assert "effacé 21 jours après l'atelier" in message.text
    assert message.custom == {"booking": "consent"}
    assert "numéro" not in chat.ask_consent(settings, "none").text


def test_the_confirmation_gives_date_time_place_and_number():
    message = chat.created(FakeBooking(), FakeWorkshop())
    assert "mardi 8 décembre à 14 h, Salle 2, 12 rue de la Paix" in message.text
    assert "Votre numéro d'inscription est BKTRZ." in message.text
    assert message.custom == {
        "booking": "created",
        "number": "BKTRZ",
        "workshop": 12,
        "starts_at": "2026-12-08T13:00:00+00:00",
        "waiting": False,
    }


def test_the_waiting_list_confirmation():
    message = chat.created(FakeBooking(status="attente"), FakeWorkshop(seats_left=0))
    assert "liste d'attente" in message.text
    assert "Vous serez prévenu si une place se libère." in message.text
    assert message.custom is not None and message.custom["waiting"] is True
    silent = chat.created(FakeBooking(status="attente", contact_kind="none"), FakeWorkshop())
    assert "Demandez à l'accueil" in silent.text


def test_a_full_session_announces_the_waiting_list():
    assert "Vous serez prévenu si une place se libère." in chat.start(FakeWorkshop(seats_left=0))
    assert "complet" not in chat.start(FakeWorkshop(seats_left=2))


def test_cancellation_messages():
    assert chat.cancelled("BKTRZ").custom == {"booking": "cancelled", "number": "BKTRZ"}
    ask = chat.ask_cancel("BKTRZ", FakeWorkshop())
    assert "mardi 8 décembre à 14 h" in ask.text
    assert [b.payload for b in ask.buttons] == ["/affirm", "/deny"]
    assert (
        "Je ne trouve pas d'inscription avec le numéro BKTRZ." in chat.unknown_number("BKTRZ").text
    )


def test_which_guide_a_workshop_is_offered_about(catalogue):
    from bot import walk

    guide = "impots.declaration_revenus"
    inside = walk.WalkState(guide_id=guide, step=2, stuck_count=1)
    stuck_twice = walk.stuck(catalogue, inside)
    assert walk.workshop_offer_guide(inside, stuck_twice) == guide
    stuck_once = walk.stuck(catalogue, walk.WalkState(guide_id=guide, step=2))
    assert walk.workshop_offer_guide(inside, stuck_once) is None
    finished = walk.WalkState(guide_id=guide, step=5, awaiting_feedback=True)
    not_helped = walk.feedback(catalogue, finished, helped=False)
    helped = walk.feedback(catalogue, finished, helped=True)
    assert walk.workshop_offer_guide(finished, not_helped) == guide
    assert walk.workshop_offer_guide(finished, helped) is None
    assert walk.workshop_offer_guide(finished, helped, had_ticket=True) == guide
    assert walk.workshop_offer_guide(walk.WalkState(), helped, had_ticket=True) is None
