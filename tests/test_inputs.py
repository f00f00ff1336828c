"""Input cleaning: nothing a visitor types makes the bot fail or lose the message."""

from __future__ import annotations

import re

import pytest

from bot.contacts import Contact
from bot.inputs import WORK_FACTOR, WORK_MARGIN, clean_message, masked_text, protect_message
from bot.nlu import fold


@pytest.mark.parametrize("raw", [None, "", "   ", "\n\t", "\x00\x07", "\u200b\u200b"])
def test_empty_inputs(raw):
    assert clean_message(raw, 100).empty


def test_control_and_invisible_characters_are_dropped():
    assert clean_message("fai\x00re   mon\u200bcv", 100).text == "fai re mon cv"


def test_non_text_input_becomes_text():
    assert clean_message(12, 100).text == "12"
    assert clean_message(b"imp\xc3\xb4ts \xff", 100).text == "impôts"


def test_long_input_is_cut_and_flagged():
    cleaned = clean_message("a" * 5000, 1000)
    assert cleaned.truncated and len(cleaned.text) == 1000
    assert not clean_message("a" * 1000, 1000).truncated


def test_markup_is_kept_as_text():
    assert clean_message("<b>cv</b>", 100).text == "<b>cv</b>"


def test_unicode_is_normalised():
    assert clean_message("impo\u0302ts", 100).text == "impôts"


def test_lines_are_kept_but_trimmed():
    assert clean_message("  bonjour \n\n  mon cv  ", 100).text == "bonjour\nmon cv"


def test_fold():
    assert fold("Déclaration d’IMPÔTS") == "declaration d'impots"
    assert fold("cœur") == "coeur"


def test_masked_text_is_what_may_be_kept():
    assert masked_text("mdp: Soleil2024! tel 06 12 34 56 78", 100) == (
        "mdp: [mot de passe masqué] tel [téléphone]"
    )
    assert masked_text("\x00", 100) == ""


# --- masked before it is cut ----------------------------------------------------------------


def test_a_card_straddling_the_limit_leaves_no_digit():
    # Cut first, the 12 digits before the limit would stay in clear (no card, no checksum).
    text = "a" * 985 + " 4111 1111 1111 1111 merci"
    kept = protect_message(text, 1000)
    assert kept.truncated and kept.secrets == ("carte_bancaire",)
    assert "1111" not in kept.text and "4111" not in kept.text
    assert len(kept.text) <= 1000
    # The placeholder is not cut in two either: either whole or gone.
    assert kept.text.endswith("a") or kept.text.endswith("[numéro de carte masqué]")


@pytest.mark.parametrize("offset", range(960, 1001, 4))
def test_no_offset_of_a_secret_around_the_limit_leaks(offset):
    text = "a" * offset + " mdp: Soleil2024! et 1 85 05 78 006 084 91 fin"
    kept = protect_message(text, 1000).text
    assert "Soleil" not in kept and "2024" not in kept and "006" not in kept
    assert len(kept) <= 1000
    assert not re.search(r"\[[^\]]*$", kept), "a placeholder was cut in two"


def test_masked_text_follows_the_same_order():
    text = "a" * 990 + " 4111 1111 1111 1111"
    assert "1111" not in masked_text(text, 1000)
    assert masked_text(text, 1000) == protect_message(text, 1000).text


def test_contacts_are_taken_out_before_the_cut():
    kept = protect_message("b" * 990 + " 06 12 34 56 78", 1000)
    assert kept.contacts == (Contact("phone", "0612345678"),)
    assert "06 12" not in kept.text and "56 78" not in kept.text


def test_a_huge_message_is_bounded_before_it_is_cleaned():
    # 10 MB: only a bounded prefix is ever looked at (WORK_FACTOR x MAX_MESSAGE_CHARS).
    huge = "je veux faire mon cv " * 500_000
    kept = protect_message(huge, 1000)
    assert kept.truncated and len(kept.text) <= 1000
    assert kept.text.startswith("je veux faire mon cv")


def test_a_secret_cut_by_the_bound_is_dropped():
    # Spaces that cleaning removes bring what the bound cut close to the start.
    limit = 1000 * WORK_FACTOR + WORK_MARGIN
    raw = "bonjour" + " " * (limit - 7 - 14) + "4111 1111 1111 1111"
    kept = protect_message(raw, 1000)
    assert "1111" not in kept.text and "4111" not in kept.text
    # The last CUT_SECRET_TAIL characters went with it: only a pathological message (4 KB of
    # blanks) loses words this way.
    assert kept.text == "" and kept.truncated
    words = "mot " * 100 + " " * (limit - 400 - 19) + "4111 1111 1111 1111"
    kept = protect_message(words, 1000)
    assert kept.text.startswith("mot mot") and "1111" not in kept.text
    # Control characters too.
    raw = "bonjour" + "\x00" * (limit - 7 - 9) + "4111 1111 1111 1111"
    assert "1111" not in protect_message(raw, 1000).text


@pytest.mark.parametrize(
    "raw",
    [
        None,
        12,
        12.5,
        float("inf"),
        True,
        ["mdp", "Soleil2024!"],
        {"text": "x"},
        b"\xff\xfe",
        "\ud800\udfff",
        "mdp \ud800 Soleil2024!",
        "\x00" * 10,
        "e" * 100_000,
        10**4000,
    ],
)
def test_odd_messages_never_raise(raw):
    kept = protect_message(raw, 1000)
    assert isinstance(kept.text, str) and len(kept.text) <= 1000
    kept.text.encode("utf-8")  # no lone surrogate left
    assert "Soleil" not in kept.text


def test_a_list_is_not_a_message():
    assert protect_message(["mdp", "Soleil2024!"], 1000).empty


def test_protect_reports_what_it_masked():
    kept = protect_message("mdp: Soleil2024! mail jean@exemple.fr", 1000)
    assert kept.text == "mdp: [mot de passe masqué] mail [adresse e-mail]"
    assert kept.secrets == ("mot_de_passe",)
    assert kept.contacts == (Contact("email", "jean@exemple.fr"),)
    assert not kept.truncated
