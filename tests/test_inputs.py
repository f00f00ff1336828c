"""Input cleaning: nothing a visitor types makes the bot fail or lose the message."""

from __future__ import annotations

import pytest

from bot.inputs import clean_message, masked_text
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
