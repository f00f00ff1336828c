"""Privacy guard: secrets typed by a visitor are masked, everything else is left alone."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bot.privacy import PLACEHOLDERS, Redaction, nir_key_ok, redact
from bot.settings import ROOT

# (id, text, kind, the secret exactly as typed)
POSITIVES = [
    # numéro fiscal: 13 digits starting 0-3, spaced or not
    ("fiscal-compact", "Mon numéro fiscal est 1234567890123.", "numero_fiscal", "1234567890123"),
    (
        "fiscal-spaced",
        "numéro fiscal : 12 34 567 890 123 merci",
        "numero_fiscal",
        "12 34 567 890 123",
    ),
    ("fiscal-dotted", "SPI 12.34.567.890.123", "numero_fiscal", "12.34.567.890.123"),
    ("fiscal-pairs-from-0", "voici 0 12 34 56 78 90 12", "numero_fiscal", "0 12 34 56 78 90 12"),
    ("fiscal-starts-3", "c'est 3012345678901 sur l'avis", "numero_fiscal", "3012345678901"),
    (
        "fiscal-nbsp",
        "numéro 23\u00a045\u00a0678\u00a0901\u00a0234",
        "numero_fiscal",
        "23\u00a045\u00a0678\u00a0901\u00a0234",
    ),
    ("fiscal-block-then-number", "je tape 1234567890123 3 fois", "numero_fiscal", "1234567890123"),
    # NIR, keys computed as 97 - number % 97
    ("nir-spaced", "ma sécu : 1 85 05 78 006 084 91", "nir", "1 85 05 78 006 084 91"),
    ("nir-compact", "numéro 185057800608491 voilà", "nir", "185057800608491"),
    # a mistyped key does not make the number less personal
    ("nir-wrong-key", "sécu 1 85 05 78 006 084 92", "nir", "1 85 05 78 006 084 92"),
    ("nir-dotted", "NIR 1.85.05.78.006.084.91.", "nir", "1.85.05.78.006.084.91"),
    ("nir-corsica-2a", "je suis né en Corse 2 90 03 2A 012 345 43", "nir", "2 90 03 2A 012 345 43"),
    (
        "nir-corsica-2b-lower",
        "carte vitale 2 90 03 2b 012 345 70 ok",
        "nir",
        "2 90 03 2b 012 345 70",
    ),
    ("nir-temporary-7", "numéro provisoire 7 85 05 78 006 084 82", "nir", "7 85 05 78 006 084 82"),
    ("nir-unknown-month", "sécu 2 85 31 75 123 456 51", "nir", "2 85 31 75 123 456 51"),
    ("nir-corsica-no-key", "sécu 2 90 03 2A 012 345 et la clé ?", "nir", "2 90 03 2A 012 345"),
    ("nir-then-other-number", "sécu 1 85 05 78 006 084 91 12 rue", "nir", "1 85 05 78 006 084 91"),
    # IBAN, ISO 13616 mod-97
    (
        "iban-fr-spaced",
        "mon IBAN FR76 3000 6000 0112 3456 7890 189 merci",
        "iban",
        "FR76 3000 6000 0112 3456 7890 189",
    ),
    ("iban-fr-compact", "iban:FR7630006000011234567890189", "iban", "FR7630006000011234567890189"),
    (
        "iban-fr-lower",
        "rib fr76 3000 6000 0112 3456 7890 189",
        "iban",
        "fr76 3000 6000 0112 3456 7890 189",
    ),
    (
        "iban-fr-letter-inside",
        "FR14 2004 1010 0505 0001 3M02 606 pour la CAF",
        "iban",
        "FR14 2004 1010 0505 0001 3M02 606",
    ),
    (
        "iban-de",
        "compte allemand DE89 3704 0044 0532 0130 00",
        "iban",
        "DE89 3704 0044 0532 0130 00",
    ),
    ("iban-gb", "GB82WEST12345698765432 est mon compte", "iban", "GB82WEST12345698765432"),
    ("iban-be", "BE68 5390 0754 7034.", "iban", "BE68 5390 0754 7034"),
    ("iban-nl", "iban NL91ABNA0417164300", "iban", "NL91ABNA0417164300"),
    # bank cards, Luhn-valid
    (
        "card-visa-spaced",
        "ma carte 4111 1111 1111 1111 expire",
        "carte_bancaire",
        "4111 1111 1111 1111",
    ),
    ("card-visa-compact", "4111111111111111", "carte_bancaire", "4111111111111111"),
    ("card-mastercard-dashed", "CB 5555-5555-5555-4444", "carte_bancaire", "5555-5555-5555-4444"),
    (
        "card-mastercard-dotted",
        "CB 5555.5555.5555.4444 ok",
        "carte_bancaire",
        "5555.5555.5555.4444",
    ),
    ("card-amex", "amex 3782 822463 10005", "carte_bancaire", "3782 822463 10005"),
    ("card-visa-13", "vieille carte 4222222222222", "carte_bancaire", "4222222222222"),
    ("card-discover", "6011 0000 0000 0004 !", "carte_bancaire", "6011 0000 0000 0004"),
    ("card-diners-14", "diners 3056 930902 5904", "carte_bancaire", "3056 930902 5904"),
    (
        "card-19-digits",
        "carte 4000 0000 0000 0000 006",
        "carte_bancaire",
        "4000 0000 0000 0000 006",
    ),
    ("card-4970", "ma CB 4970 1012 3456 7893", "carte_bancaire", "4970 1012 3456 7893"),
    ("card-then-expiry", "4111 1111 1111 1111 12 26 cvv", "carte_bancaire", "4111 1111 1111 1111"),
    # France Travail identifier
    ("ft-identifiant", "identifiant 1234567A", "identifiant_france_travail", "1234567A"),
    (
        "ft-pole-emploi-est",
        "mon identifiant pôle emploi est 07654321B",
        "identifiant_france_travail",
        "07654321B",
    ),
    (
        "ft-pole-emploi-no-accent",
        "identifiant pole emploi: 1234567Z",
        "identifiant_france_travail",
        "1234567Z",
    ),
    (
        "ft-france-travail-11-digits",
        "identifiant France Travail : 12345678901",
        "identifiant_france_travail",
        "12345678901",
    ),
    ("ft-ft-cest", "mon identifiant ft c'est 1234567a", "identifiant_france_travail", "1234567a"),
    (
        "ft-numero-pole-emploi",
        "numéro pôle emploi 1234567A",
        "identifiant_france_travail",
        "1234567A",
    ),
    (
        "ft-demandeur-emploi",
        "numéro de demandeur d'emploi : 7654321C",
        "identifiant_france_travail",
        "7654321C",
    ),
    (
        "ft-numero-identifiant",
        "numéro d'identifiant = 98765432X",
        "identifiant_france_travail",
        "98765432X",
    ),
    ("ft-id", "mon id: 12345AB67", "identifiant_france_travail", "12345AB67"),
    ("ft-standalone", "c'est 3456789K je crois", "identifiant_france_travail", "3456789K"),
    # passwords
    ("pwd-colon", "mot de passe : Soleil2024!", "mot_de_passe", "Soleil2024!"),
    ("pwd-mdp-bare-symbol", "mdp Soleil2024!", "mot_de_passe", "Soleil2024!"),
    ("pwd-mdp-bare-digits", "mdp azerty123", "mot_de_passe", "azerty123"),
    ("pwd-est-plain-word", "mon mot de passe est soleil", "mot_de_passe", "soleil"),
    ("pwd-upper-equals", "MDP=toto1234", "mot_de_passe", "toto1234"),
    ("pwd-hyphenated-arrow", "mot-de-passe -> X7#kq", "mot_de_passe", "X7#kq"),
    ("pwd-english", "password is Hunter2", "mot_de_passe", "Hunter2"),
    ("pwd-pass-cest", "mon pass c'est Bonjour1", "mot_de_passe", "Bonjour1"),
    ("pwd-passe-colon", "le passe: marmotte", "mot_de_passe", "marmotte"),
    ("pwd-code-secret", "mon code secret 482193", "mot_de_passe", "482193"),
    ("pwd-sms-c", "le mdp c abc123", "mot_de_passe", "abc123"),
    ("pwd-cest-no-apostrophe", "mdp cest chaton", "mot_de_passe", "chaton"),
    ("pwd-mixed-case", "mot de passe SoLeIl puis valider", "mot_de_passe", "SoLeIl"),
    ("pwd-no-accent-no-space", "Mot de passe:vacances", "mot_de_passe", "vacances"),
]

NEGATIVES = [
    ("phone-spaced", "appelez-moi au 06 12 34 56 78"),
    ("phone-compact", "mon numéro 0612345678"),
    ("phone-dotted", "06.12.34.56.78"),
    ("phone-dashed", "06-12-34-56-78"),
    ("phone-plus33", "+33 6 12 34 56 78"),
    ("phone-plus33-compact", "+33612345678"),
    ("phone-0033", "0033612345678"),
    ("phone-0033-spaced", "0033 6 12 34 56 78"),
    ("phone-landline", "01 23 45 67 89"),
    ("short-3949", "j'ai appelé le 3949"),
    ("short-3646", "le 3646 pour l'assurance maladie"),
    ("short-3230", "3230 pour la retraite"),
    ("short-33700", "signalez au 33700"),
    ("short-17", "en cas d'urgence faites le 17"),
    ("date-slashes", "rendez-vous le 15/06/2025"),
    ("date-iso", "date 2025-06-15"),
    ("date-words", "la déclaration se termine le 28 mai à 23h59"),
    ("amount-cents", "j'ai reçu 646,52 €"),
    ("amount-thousands", "une aide de 1 200 euros"),
    ("amount-nbsp", "1\u00a0200\u00a0000 €"),
    ("postcode-paris", "j'habite 75011 Paris"),
    ("postcode-reunion", "code postal 97400"),
    ("year-2024", "mes revenus 2024"),
    ("year-2025", "la déclaration 2025"),
    ("time", "le bureau ouvre à 14h30"),
    ("sentence-impots", "je veux déclarer mes impôts en ligne"),
    ("sentence-cv", "comment faire mon CV ?"),
    ("sentence-digits-words", "j'ai 3 enfants et 2 chats"),
    ("email", "mon adresse est jean.dupont@gmail.com"),
    ("email-with-digits", "écrivez à marie.1234567890123@exemple.fr"),
    ("card-luhn-invalid", "4970 1012 3456 7899"),
    ("card-luhn-invalid-compact", "1234567812345678"),
    ("iban-bad-check", "FR76 3000 6000 0112 3456 7890 188"),
    ("fiscal-14-digits", "référence 12345678901234"),
    ("fiscal-12-digits", "référence 123456789012"),
    ("ft-no-number", "j'ai perdu mon identifiant pôle emploi"),
    ("ft-identifiant-word", "mon identifiant France Travail ne marche pas"),
    ("ft-caf-number", "mon numéro allocataire 1234567"),
    ("pwd-forgot", "j'ai oublié mon mot de passe"),
    ("pwd-oublie", "mot de passe oublié"),
    ("pwd-impots", "mot de passe des impôts"),
    ("pwd-none", "je n'ai pas de mot de passe"),
    ("pwd-change", "changer mon mot de passe france travail"),
    ("pwd-mailbox", "mot de passe de ma boîte mail"),
    ("pwd-broken", "le mot de passe ne marche pas"),
    ("pwd-good-one", "c'est quoi un bon mot de passe"),
    ("pwd-est-bloque", "mon mot de passe est bloqué"),
    ("pwd-est-incorrect", "mon mot de passe est incorrect depuis hier"),
    ("pwd-colon-sentence", "mot de passe : je ne peux plus me connecter"),
    ("pwd-franceconnect", "mot de passe FranceConnect perdu"),
    ("pwd-site", "mot de passe impots.gouv.fr refusé"),
    ("pwd-times", "j'ai tapé mon mot de passe 3 fois"),
    ("pwd-question", "mot de passe ?"),
    ("passe-verb", "je passe 3 jours à chercher"),
    ("pass-navigo", "mon pass navigo est perdu"),
]


def _squeeze(text: str) -> str:
    """Text without separators, so "41 11" and "4111" compare equal."""
    return re.sub(r"[\s.\-]", "", text).upper()


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [pytest.param(text, kind, secret, id=case) for case, text, kind, secret in POSITIVES],
)
def test_secret_is_masked(text: str, kind: str, secret: str) -> None:
    assert secret in text, "bad fixture"
    result = redact(text)
    assert result.kinds == (kind,)
    assert result.found
    assert PLACEHOLDERS[kind] in result.text
    assert secret not in result.text
    assert _squeeze(secret) not in _squeeze(result.text)
    # Nothing but the secret changed.
    assert result.text == text.replace(secret, PLACEHOLDERS[kind])


@pytest.mark.parametrize("text", [pytest.param(text, id=case) for case, text in NEGATIVES])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact(text) == Redaction(text, ())
    assert not redact(text).found


def test_enough_examples_of_every_kind() -> None:
    assert len(POSITIVES) >= 40 and len(NEGATIVES) >= 40
    assert {kind for _, _, kind, _ in POSITIVES} == set(PLACEHOLDERS)
    assert len({case for case, *_ in POSITIVES + NEGATIVES}) == len(POSITIVES) + len(NEGATIVES)


# --- the fixtures carry real checksums (computed here independently of bot.privacy) ---------


def _luhn(digits: str) -> bool:
    doubled = [int(d) * (1 + i % 2) for i, d in enumerate(reversed(digits))]
    return sum(d // 10 + d % 10 for d in doubled) % 10 == 0


def _iban_mod97(iban: str) -> int:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97


def _nir_key(first13: str) -> int:
    number = first13[:5] + {"2A": "19", "2B": "18"}.get(first13[5:7], first13[5:7]) + first13[7:]
    return 97 - int(number) % 97


@pytest.mark.parametrize(("kind", "secret"), [pytest.param(k, s, id=c) for c, _, k, s in POSITIVES])
def test_fixture_checksums_are_real(kind: str, secret: str) -> None:
    compact = _squeeze(secret)
    if kind == "carte_bancaire":
        assert _luhn(compact)
    elif kind == "iban":
        assert _iban_mod97(compact) == 1
    elif kind == "nir" and len(compact) == 15 and "wrong-key" not in secret_id(secret):
        assert int(compact[13:]) == _nir_key(compact[:13])


def secret_id(secret: str) -> str:
    return next(c for c, _, _, s in POSITIVES if s == secret)


def test_nir_key_check() -> None:
    assert nir_key_ok("185057800608491") and not nir_key_ok("185057800608492")
    assert nir_key_ok("290032A01234543")


def test_negative_fixtures_really_fail_their_checksum() -> None:
    assert not _luhn("4970101234567899") and not _luhn("1234567812345678")
    assert _iban_mod97("FR7630006000011234567890188") != 1
    assert _nir_key("1850578006084") != 92


# --- overlaps and several secrets ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        pytest.param(
            "IBAN FR76 3000 6000 0112 3456 7890 189",
            "IBAN [IBAN masqué]",
            ("iban",),
            id="digits-inside-iban-are-not-a-card",
        ),
        pytest.param(
            "mdp: 4111 1111 1111 1111",
            "mdp: [numéro de carte masqué]",
            ("carte_bancaire",),
            id="longest-span-wins-over-password-token",
        ),
        pytest.param(
            "mdp 1234567A",
            "mdp [mot de passe masqué]",
            ("mot_de_passe",),
            id="same-span-password-beats-identifier",
        ),
        pytest.param(
            "sécu 185057800608491",
            "sécu [numéro de sécurité sociale masqué]",
            ("nir",),
            id="nir-is-not-a-card-or-tax-number",
        ),
        pytest.param(
            "identifiant fiscal 1234567890123",
            "identifiant fiscal [numéro fiscal masqué]",
            ("numero_fiscal",),
            id="identifiant-fiscal-is-a-tax-number",
        ),
    ],
)
def test_overlaps(text: str, expected: str, kinds: tuple[str, ...]) -> None:
    assert redact(text) == Redaction(expected, kinds)


def test_several_secrets_in_one_message() -> None:
    text = (
        "Bonjour, mon NIR est 1 85 05 78 006 084 91, mon IBAN FR76 3000 6000 0112 3456 7890 189, "
        "ma carte 4111 1111 1111 1111, identifiant 1234567A et mdp: Soleil2024! "
        "Rappelez-moi au 06 12 34 56 78 le 15/06/2025."
    )
    result = redact(text)
    assert result.text == (
        "Bonjour, mon NIR est [numéro de sécurité sociale masqué], mon IBAN [IBAN masqué], "
        "ma carte [numéro de carte masqué], identifiant [identifiant masqué] et "
        "mdp: [mot de passe masqué] Rappelez-moi au 06 12 34 56 78 le 15/06/2025."
    )
    assert result.kinds == (
        "nir",
        "iban",
        "carte_bancaire",
        "identifiant_france_travail",
        "mot_de_passe",
    )


def test_kinds_are_not_repeated() -> None:
    result = redact("4111 1111 1111 1111 ou 5555 5555 5555 4444 ? mdp: a1b2c3d4")
    assert result.text.count(PLACEHOLDERS["carte_bancaire"]) == 2
    assert result.kinds == ("carte_bancaire", "mot_de_passe")


def test_redacting_twice_changes_nothing() -> None:
    once = redact("mot de passe : Soleil2024! et numéro fiscal 1234567890123")
    assert redact(once.text) == Redaction(once.text, ())


def test_empty_text() -> None:
    assert redact("") == Redaction("", ())


def test_module_stays_plain_python() -> None:
    code = "import sys, bot.privacy; print(sorted(m for m in sys.modules if m.startswith('rasa')))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
