"""Phone numbers and e-mail addresses are found in every usual spelling, and only those."""

from __future__ import annotations

import re

import pytest

from bot.contacts import (
    EMAIL_PLACEHOLDER,
    INCOMPLETE_PHONE_PLACEHOLDER,
    PHONE_PLACEHOLDER,
    REFUSED_EMAIL_PLACEHOLDER,
    Contact,
    find_contacts,
)

PHONES = [
    ("06 12 34 56 78", "0612345678"),
    ("0612345678", "0612345678"),
    ("06.12.34.56.78", "0612345678"),
    ("06-12-34-56-78", "0612345678"),
    ("+33 6 12 34 56 78", "0612345678"),
    ("+33612345678", "0612345678"),
    ("+33 (0)6 12 34 56 78", "0612345678"),
    ("0033 6 12 34 56 78", "0612345678"),
    ("01 23 45 67 89", "0123456789"),
    ("09.70.80.90.10", "0970809010"),
]


@pytest.mark.parametrize(("typed", "value"), PHONES)
def test_phone_spellings(typed, value):
    text, found = find_contacts(f"appelez-moi au {typed} merci")
    assert text == f"appelez-moi au {PHONE_PLACEHOLDER} merci"
    assert found == [Contact("phone", value)]


@pytest.mark.parametrize(
    "text",
    [
        "06 12 34",  # too short
        "le 15/06/2025 à 14h30",
        "il me faut 3949",
        "code postal 75011",
        "ticket handoff-88dcf62c464a44fcad0517869195e9be",  # digits inside an identifier
        "00 12 34 56 78",  # no French number starts with 00 then a digit
        "numéro fiscal 3012345678912",
    ],
)
def test_not_phones(text):
    assert find_contacts(text) == (text, [])


def test_email_addresses():
    text, found = find_contacts("mon mail : Prenom.Nom+cv@Exemple.fr, merci")
    assert text == f"mon mail : {EMAIL_PLACEHOLDER}, merci"
    assert found == [Contact("email", "prenom.nom+cv@exemple.fr")]
    assert find_contacts("prenom.nom@exemple")[1] == []
    assert find_contacts("chez @moi")[1] == []


def test_both_in_one_message_in_order_of_kind():
    text, found = find_contacts("a@b.fr ou 06 12 34 56 78")
    assert text == f"{EMAIL_PLACEHOLDER} ou {PHONE_PLACEHOLDER}"
    assert [c.kind for c in found] == ["email", "phone"]


def test_shown_and_display_forms():
    phone = Contact("phone", "0612345678")
    assert phone.shown == "06 •• •• •• 78" and phone.display == "06 12 34 56 78"
    email = Contact("email", "prenom.nom@exemple.fr")
    assert email.shown == "p•••@exemple.fr" and email.display == "prenom.nom@exemple.fr"


# --- mistyped numbers and addresses glued to symbols: masked, never held ----------------------

MISTYPED_PHONES = [
    "06 12 34 56 7",  # one digit short
    "06 12 34 56 789",  # one digit too many
    "06 12 34 56 78 9",
    "061234567",
    "06123456789",
    "06.12.34.56.7",
    "06-12-34-56-7",
    "+33 6 12 34 56 7",
    "0033 6 12 34 56 789",
    "6 12 34 56 78",  # the leading 0 forgotten
]


@pytest.mark.parametrize("typed", MISTYPED_PHONES)
def test_a_mistyped_phone_number_is_masked_not_held(typed):
    text, found = find_contacts(f"mon numéro {typed} merci")
    assert text == f"mon numéro {INCOMPLETE_PHONE_PLACEHOLDER} merci"
    assert found == []
    assert not re.search(r"\d{2}", text)


def test_a_phone_number_grouped_unusually_is_still_a_phone_number():
    assert find_contacts("06 123 456 78") == (PHONE_PLACEHOLDER, [Contact("phone", "0612345678")])


@pytest.mark.parametrize(
    "text",
    [
        "le 05/03/2025",
        "rdv le 12 03 2025",
        "au 01 2345",
        "j'ai 2 enfants de 12 ans",
        "le 1 200 000",
        "cerfa 15186*03",
        "né en 1985",
    ],
)
def test_not_mistyped_phones(text):
    assert find_contacts(text) == (text, [])


@pytest.mark.parametrize(
    ("typed", "left"),
    [
        ("=cmd|'/C calc'!A0@evil.fr", "=cmd|'/C "),
        ("x|jean@exemple.fr", ""),
        ("'jean@exemple.fr'", ""),
        ("=jean@exemple.fr", ""),
        ("jean@exemple.fr|calc", ""),
        ("a!b@exemple.fr", ""),
    ],
)
def test_an_address_glued_to_symbols_is_refused_and_masked(typed, left):
    text, found = find_contacts(f"mail : {typed}")
    assert found == []
    assert text == f"mail : {left}{REFUSED_EMAIL_PLACEHOLDER}"
    assert "evil" not in text and "exemple" not in text


@pytest.mark.parametrize(
    "typed", ["jean@exemple.fr", "(jean@exemple.fr)", "«jean@exemple.fr»", "<jean@exemple.fr>"]
)
def test_an_address_in_ordinary_punctuation_is_taken(typed):
    text, found = find_contacts(f"mail : {typed}, merci !")
    assert found == [Contact("email", "jean@exemple.fr")]
    assert "jean" not in text
