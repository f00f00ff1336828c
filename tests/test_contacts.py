"""Phone numbers and e-mail addresses are found in every usual spelling, and only those."""

from __future__ import annotations

import pytest

from bot.contacts import EMAIL_PLACEHOLDER, PHONE_PLACEHOLDER, Contact, find_contacts

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
