"""Generated secrets in the phrasings, separators and letter cases visitors use, and ordinary
visitor sentences that must come out unchanged. Seeded: the same corpus on every run.

Used by tests/test_privacy_corpus.py (unit level) and tests/test_e2e_secrets.py (through
the real servers, then every file under DATA_DIR searched).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.inputs import PLACEHOLDER_RE

# Every separator people put between groups of digits.
SEPARATORS = (" ", "", ".", "-", "/", "_", "\u00a0", "\u202f", " - ", "  ")

# « mot de passe » as visitors type it.
PASSWORD_KEYWORDS = (
    "mot de passe",
    "mdp",
    "MDP",
    "Mdp",
    "mot 2 passe",
    "motdepasse",
    "mot-de-passe",
    "mots de passe",
    "mot de pass",
    "Mot De Passe",
    "MOT DE PASSE",
    "m.d.p",
    "password",
    "pwd",
    "mot de passse",
)

# Passwords made of one plain word: only their context tells them.
PLAIN_WORDS = [
    "chaton",
    "marmotte",
    "tulipe",
    "girafe",
    "papillon",
    "licorne",
    "hibiscus",
    "framboise",
    "mistral",
    "caramel",
    "loulou",
    "doudou",
    "nounours",
    "azerty",
    "qwerty",
    "marseille",
    "bretagne",
    "nicolas",
    "sandrine",
    "kevin",
    "cerisier",
    "pistache",
    "vanille",
    "bambou",
    "cactus",
    "zebre",
    "dauphin",
    "flocon",
    "tournesol",
]

# Passwords with digits or symbols: their shape alone tells them.
WORD_STEMS = [
    "soleil",
    "chat",
    "maison",
    "lapin",
    "tigre",
    "jardin",
    "plage",
    "azerty",
    "nina",
    "lucas",
    "emma",
    "papa",
    "maman",
    "paris",
    "lyon",
    "mimi",
    "bibou",
    "tata",
    "toto",
    "coco",
]
SYMBOLS = "!#$%&*?@+=_"


@dataclass(frozen=True)
class Secret:
    kind: str  # card, card_near_miss, nir, nir_14, tax, iban, password, code, card_code, ft
    message: str  # the whole message as a visitor would type it
    secret: str  # the secret exactly as typed in the message
    digits: bool  # True: compare digits only (separators and O-for-0 ignored)


# --- checksums, computed here independently of bot.privacy --------------------------------


def luhn_digit(body: str) -> str:
    total = 0
    for i, char in enumerate(reversed(body)):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    return luhn_digit(number[:-1]) == number[-1]


def iban_check(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    value = int("".join(str(int(c, 36)) for c in rearranged))
    return f"{98 - value % 97:02d}"


def nir_key(first13: str) -> str:
    number = first13[:5] + {"2A": "19", "2B": "18"}.get(first13[5:7], first13[5:7]) + first13[7:]
    return f"{97 - int(number) % 97:02d}"


# --- numbers ------------------------------------------------------------------------------


def card_number(rng: random.Random) -> str:
    prefix = rng.choice(["4", "51", "52", "53", "54", "55", "2221", "2720", "4970", "4978"])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(15 - len(prefix)))
    return body + luhn_digit(body)


def near_miss_card(rng: random.Random) -> str:
    number = card_number(rng)
    wrong = str((int(number[-1]) + rng.randint(1, 9)) % 10)
    return number[:-1] + wrong


def amex_number(rng: random.Random) -> str:
    body = rng.choice(["34", "37"]) + "".join(rng.choice("0123456789") for _ in range(12))
    return body + luhn_digit(body)


def nir_number(rng: random.Random) -> str:
    department = rng.choice(["75", "13", "69", "2A", "2B", "59", "33", "01", "95", "97"])
    first = (
        rng.choice("12")
        + f"{rng.randint(30, 99):02d}"
        + f"{rng.randint(1, 12):02d}"
        + department
        + f"{rng.randint(1, 999):03d}"
        + f"{rng.randint(1, 999):03d}"
    )
    return first + nir_key(first)


def tax_number(rng: random.Random) -> str:
    while True:
        number = rng.choice("0123") + "".join(rng.choice("0123456789") for _ in range(12))
        # 0033 and 9 digits is also a phone number written internationally: bot.contacts
        # takes it as one (masked all the same), bot.privacy leaves it alone.
        if not number.startswith("0033"):
            return number


def french_iban(rng: random.Random) -> str:
    bban = "".join(rng.choice("0123456789") for _ in range(23))
    return "FR" + iban_check("FR", bban) + bban


def group(number: str, sizes: list[int], sep: str) -> str:
    parts, pos = [], 0
    for size in sizes:
        if pos >= len(number):
            break
        parts.append(number[pos : pos + size])
        pos += size
    if pos < len(number):
        parts.append(number[pos:])
    return sep.join(parts)


def o_for_zero(text: str, rng: random.Random) -> str:
    """Some zeros typed as the letter O, as a visitor reading a form may do."""
    if "0" not in text:
        return text
    return "".join("O" if c == "0" and rng.random() < 0.6 else c for c in text)


def case_variant(text: str, rng: random.Random) -> str:
    style = rng.choice(["as is", "as is", "lower", "upper", "capitalised"])
    if style == "lower":
        return text.lower()
    if style == "upper":
        return text.upper()
    if style == "capitalised":
        return text[:1].upper() + text[1:]
    return text


CARD_TEMPLATES = (
    "ma carte {s}",
    "voici ma CB : {s}",
    "numéro de carte {s} merci",
    "{s}",
    "je paie avec la carte {s} c'est possible ?",
    "carte bancaire n° {s}, expire 12/27",
    "le numéro sur ma carte c'est {s}",
)
NIR_TEMPLATES = (
    "mon numéro de sécu est {s}",
    "sécurité sociale : {s}",
    "carte vitale {s}",
    "{s} c'est mon numéro",
    "NIR {s} pour ameli",
)
TAX_TEMPLATES = (
    "mon numéro fiscal est {s}",
    "numéro fiscal : {s}",
    "SPI {s}",
    "sur l'avis il y a {s} en haut",
)
IBAN_TEMPLATES = (
    "mon IBAN {s}",
    "rib : {s}",
    "voici mon iban {s} pour la CAF",
    "{s}",
)
OTP_TEMPLATES = (
    "le code reçu par sms est {s}",
    "code de vérification {s}",
    "code à 6 chiffres {s}",
    "voici le code : {s}",
    "j'ai reçu le code {s} par mail",
    "le code de confirmation c'est {s}",
    "mon code d'activation est {s}",
    "Code {s} il marche pas",
)
CARD_CODE_TEMPLATES = (
    "code secret de ma carte {s}",
    "mon code confidentiel est {s}",
    "code pin {s}",
    "cryptogramme {s}",
    "cvv {s}",
    "CVC : {s}",
    "les 3 chiffres derrière la carte {s}",
    "le code de ma CB est {s}",
)
PASSWORD_TEMPLATES = (
    "mon {kw} est {s}",
    "{kw} : {s}",
    "{kw}={s}",
    "j'ai mis {s} comme {kw}",
    "mon {kw} ameli c'est {s}",
    "{kw} pour impots.gouv est {s}",
    "le {kw} c {s}",
    "mon {kw} c'est {s} mais ça marche pas",
    "{kw} -> {s}",
)
PASSWORD_ONLY_TEMPLATES = (
    "pass: {s}",
    "je tape {s} et il dit identifiants incorrects",
    "mes identifiants sont jean.dupont et {s}",
    "identifiant : mdupont, {s}",
)
SHAPE_TEMPLATES = (
    "je n'arrive pas à me connecter avec {s}",
    "{s}",
    "c'est {s} je crois",
    "j'ai essayé {s} puis rien",
    "ameli refuse {s} pourquoi ?",
)
FT_TEMPLATES = (
    "identifiant pôle emploi {s}",
    "mon identifiant France Travail est {s}",
    "numéro de demandeur d'emploi : {s}",
)


def strong_password(rng: random.Random) -> str:
    stem = rng.choice(WORD_STEMS)
    stem = rng.choice([stem, stem.capitalize(), stem.upper()])
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 4)))
    symbol = rng.choice(["", "", rng.choice(SYMBOLS)])
    shape = rng.choice(["{w}{d}{s}", "{w}{s}{d}", "{d}{w}{s}", "{w}{d}"])
    token = shape.format(w=stem, d=digits, s=symbol)
    if len(token) < 6:
        token += "".join(rng.choice("0123456789") for _ in range(6 - len(token)))
    return token


def _digits_secret(kind: str, template: str, typed: str) -> Secret:
    return Secret(kind, template.format(s=typed), typed, True)


def generate(seed: int = 11, per_kind: int = 120) -> list[Secret]:
    """`per_kind` messages of each kind of secret, in many phrasings and spellings."""
    rng = random.Random(seed)
    out: list[Secret] = []
    for _ in range(per_kind):
        sep = rng.choice(SEPARATORS)
        number = card_number(rng)
        typed = rng.choice(
            [
                group(number, [4, 4, 4, 4], sep),
                number,
                " ".join(number),  # one digit apart
                group(number, [4, 4, 4, 4], rng.choice(SEPARATORS)),
            ]
        )
        out.append(_digits_secret("card", rng.choice(CARD_TEMPLATES), typed))
    for _ in range(per_kind // 4):
        amex = amex_number(rng)
        out.append(
            _digits_secret(
                "card", rng.choice(CARD_TEMPLATES), group(amex, [4, 6, 5], rng.choice(SEPARATORS))
            )
        )
    for _ in range(per_kind):
        number = near_miss_card(rng)
        typed = rng.choice([group(number, [4, 4, 4, 4], rng.choice(SEPARATORS)), number])
        out.append(_digits_secret("card_near_miss", rng.choice(CARD_TEMPLATES), typed))
    for _ in range(per_kind):
        number = nir_number(rng)
        kind = rng.choice(["nir", "nir", "nir_14", "nir_wrong_key"])
        if kind == "nir_14":
            number = number[:-1]
        elif kind == "nir_wrong_key":
            number = number[:-2] + f"{(int(number[-2:]) + 1) % 97 + 1:02d}"
        sep = rng.choice(SEPARATORS)
        typed = rng.choice([group(number, [1, 2, 2, 2, 3, 3, 2], sep), number])
        if rng.random() < 0.25:
            typed = o_for_zero(typed, rng)
        out.append(_digits_secret(kind, rng.choice(NIR_TEMPLATES), typed))
    for _ in range(per_kind):
        number = tax_number(rng)
        typed = rng.choice([group(number, [2, 2, 3, 3, 3], rng.choice(SEPARATORS)), number])
        if rng.random() < 0.25:
            typed = o_for_zero(typed, rng)
        out.append(_digits_secret("tax", rng.choice(TAX_TEMPLATES), typed))
    for _ in range(per_kind):
        iban = french_iban(rng)
        typed = rng.choice([group(iban, [4] * 7, rng.choice(SEPARATORS)), iban])
        typed = typed.lower() if rng.random() < 0.3 else typed
        out.append(Secret("iban", rng.choice(IBAN_TEMPLATES).format(s=typed), typed, True))
    for _ in range(per_kind):
        code = "".join(rng.choice("0123456789") for _ in range(rng.choice([4, 6, 6, 6, 8])))
        if len(code) == 6 and rng.random() < 0.3:
            code = code[:3] + rng.choice(SEPARATORS[:4]) + code[3:]
        out.append(_digits_secret("code", rng.choice(OTP_TEMPLATES), code))
    for _ in range(per_kind):
        template = rng.choice(CARD_CODE_TEMPLATES)
        size = 3 if any(w in template for w in ("crypto", "cvv", "CVC", "chiffres")) else 4
        code = "".join(rng.choice("0123456789") for _ in range(size))
        out.append(_digits_secret("card_code", template, code))
    for _ in range(per_kind * 2):
        password = rng.choice([rng.choice(PLAIN_WORDS), strong_password(rng)])
        if rng.random() < 0.3:
            template = rng.choice(PASSWORD_ONLY_TEMPLATES)
            message = template.format(s=password)
        else:
            template = rng.choice(PASSWORD_TEMPLATES)
            message = template.format(kw=rng.choice(PASSWORD_KEYWORDS), s=password)
        message = case_variant(message, rng)
        typed = _find_case_insensitive(message, password)
        out.append(Secret("password", message, typed, False))
    for _ in range(per_kind // 2):
        phrase = " ".join(rng.sample(PLAIN_WORDS, 3))
        keyword = rng.choice(PASSWORD_KEYWORDS)
        quotes = rng.choice([("« ", " »"), ('"', '"'), ("“", "”")])
        message = f"{keyword} : {quotes[0]}{phrase}{quotes[1]}"
        out.append(Secret("password_phrase", message, phrase, False))
    for _ in range(per_kind):
        password = strong_password(rng)
        message = rng.choice(SHAPE_TEMPLATES).format(s=password)
        out.append(Secret("password_shape", message, password, False))
    for _ in range(per_kind // 2):
        ident = "".join(rng.choice("0123456789") for _ in range(7)) + rng.choice("ABCXYZ")
        out.append(Secret("ft", rng.choice(FT_TEMPLATES).format(s=ident), ident, False))
    return out


def _find_case_insensitive(message: str, word: str) -> str:
    start = message.lower().find(word.lower())
    return message[start : start + len(word)]


# --- leak check ----------------------------------------------------------------------------

_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def _alnum(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def digits_of(secret: str) -> str:
    """The digits (and letters, for an IBAN or Corsica) of a number, O read as 0."""
    return _alnum(secret.replace("O", "0").replace("o", "0"))


def leaked(item: Secret, output: str) -> bool:
    """True when the secret can still be read in `output`, in any spelling: some part of it
    is there more often than in the rest of the message (« mot de passe : MOTD »)."""
    shown = PLACEHOLDER_RE.sub(" ", output)
    rest = item.message.replace(item.secret, " ")
    if item.digits:
        secret = digits_of(item.secret)
        seen, before = _alnum(shown).replace("o", "0"), _alnum(rest).replace("o", "0")
        # Any 8 characters in a row of a long number, or a short code whole.
        window = min(len(secret), 8)
        parts = {secret[i : i + window] for i in range(len(secret) - window + 1)}
        return any(seen.count(part) > before.count(part) for part in parts)
    words = [_alnum(word) for word in item.secret.split()]
    return any(_alnum(shown).count(w) > _alnum(rest).count(w) for w in words if w)


# --- ordinary sentences -------------------------------------------------------------------

FIRST_NAMES = [
    "Marie",
    "Jean",
    "Fatima",
    "Mohamed",
    "Nathalie",
    "Pierre",
    "Sophie",
    "Karim",
    "Julie",
    "Ahmed",
]
STREETS = (
    "rue de la Paix",
    "avenue Jean Jaurès",
    "boulevard Voltaire",
    "rue Victor Hugo",
    "place de la Mairie",
    "chemin des Vignes",
    "allée des Tilleuls",
    "impasse du Moulin",
)
CITIES = (
    ("75002", "Paris"),
    ("13001", "Marseille"),
    ("69003", "Lyon"),
    ("59000", "Lille"),
    ("33000", "Bordeaux"),
    ("97400", "Saint-Denis"),
    ("20000", "Ajaccio"),
    ("35000", "Rennes"),
)
MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
]
SERVICES = (
    "impots.gouv.fr",
    "ameli.fr",
    "la CAF",
    "France Travail",
    "l'ANTS",
    "FranceConnect",
    "la MSA",
    "l'URSSAF",
)
PUBLIC_NUMBERS = ("3949", "3230", "3646", "39 49", "3939", "3919", "0 800 130 000")

ORDINARY_TEMPLATES = (
    "je suis né en {year}",
    "je suis née le {day} {month} {year}",
    "RDV à {hour}",
    "rendez-vous le {date} à {hour}",
    "le bureau ouvre à {hour} ?",
    "appelez le {public}",
    "j'ai appelé le {public} mais personne ne répond",
    "j'habite au {n} {street} {postcode} {city}",
    "mon adresse : {n} bis {street}, {postcode} {city}",
    "j'ai {small} enfants",
    "j'ai {small} enfants et {small} petits-enfants",
    "mon avis d'imposition {year}",
    "je dois déclarer mes revenus {year}",
    "la déclaration {year} sur les revenus {prev}",
    "j'ai payé {amount} €",
    "on me demande {amount} euros de trop-perçu",
    "mon loyer est de {amount} € par mois",
    "j'ai reçu {amount}€ de la CAF le {date}",
    "le {date}",
    "depuis le {date} je n'ai plus de nouvelles",
    "le formulaire {form}",
    "je dois remplir le cerfa {cerfa}",
    "où trouver le formulaire {form} ?",
    "j'ai windows {win}",
    "mon ordinateur est sous windows {win} et ça plante",
    "j'ai eu le covid19 en {year}",
    "mon fils est en {school}",
    "ma fille passe en {school} à la rentrée",
    "c'est au {ordinal} étage",
    "le {ordinal} rendez-vous est annulé",
    "le {day} {month} à {hour}",
    "le 1er {month} je commence un travail",
    "j'ai un colis de {small}kg à envoyer",
    "il me faut un document de {small} pages",
    "je vais sur {service} mais ça ne marche pas",
    "je n'arrive pas à me connecter à {service}",
    "mot de passe oublié sur {service}",
    "j'ai oublié mon mot de passe",
    "mon mot de passe est bloqué depuis {small} jours",
    "mon mot de passe est incorrect",
    "comment changer mon mot de passe {service} ?",
    "je n'ai pas reçu le code par sms",
    "le code ne marche pas, j'ai appelé le {public}",
    "où est le code postal {postcode} ?",
    "erreur code {error} sur le site",
    "j'ai {age} ans et je cherche un emploi",
    "je travaille {small} jours par semaine",
    "je cherche un CV pour un poste à {hour}",
    "le {n}e arrondissement",
    "j'ai fait {small} demandes depuis {month}",
    "c'est le n°{n} de la rue",
    "je suis au chômage depuis {small} mois",
    "mon contrat de {small} mois finit le {date}",
    "je veux imprimer mon attestation de {month} {year}",
    "{name} m'a dit de venir ici",
    "bonjour je m'appelle {name}",
    "j'ai une amende de {amount} euros",
    "le colis fait {small}0 x {small}0 cm",
    "de {hour} à {hour2}",
    "le 3949 c'est bien pour France Travail ?",
    "la case {case} de la déclaration",
    "ma retraite de {amount} € est arrivée le {date}",
    "j'ai {small} comptes sur {service}",
    "il faut {small} minutes pour remplir le dossier",
    "mon dossier est en attente depuis {year}",
    "je suis au RSA depuis {month} {year}",
    "je paie {amount} € d'impôts en {year}",
    "le site dit erreur {error}",
    "ma voiture est immatriculée {plate}",
    "j'ai besoin d'un rendez-vous avant le {date}",
    "la mairie est fermée le {day} {month}",
    "je suis en {school}",
    "c'est la {ordinal} fois que j'essaie",
    "le bus {small} passe à {hour}",
)


def ordinary_sentences(seed: int = 11, count: int = 600) -> list[str]:
    """Sentences visitors type to a French admin assistant: numbers, dates, hours, amounts,
    addresses and public references, but no secret and no phone number."""
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(count):
        template = ORDINARY_TEMPLATES[i % len(ORDINARY_TEMPLATES)]
        postcode, city = rng.choice(CITIES)
        year = rng.randint(1940, 2026)
        values = {
            "year": year,
            "prev": year - 1,
            "day": rng.randint(1, 28),
            "month": rng.choice(MONTHS),
            "date": rng.choice(
                [
                    f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2020, 2026)}",
                    f"{rng.randint(1, 28)}/{rng.randint(1, 12)}",
                    f"{rng.randint(2020, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2020, 2026)}",
                ]
            ),
            "hour": rng.choice(
                [f"{rng.randint(8, 18)}h{rng.choice(['', '00', '15', '30', '45'])}"]
                + [f"{rng.randint(8, 18)}:{rng.choice(['00', '30'])}", f"{rng.randint(8, 18)}H"]
            ),
            "hour2": f"{rng.randint(12, 19)}h",
            "public": rng.choice(PUBLIC_NUMBERS),
            "n": rng.randint(1, 180),
            "street": rng.choice(STREETS),
            "postcode": postcode,
            "city": city,
            "small": rng.randint(2, 9),
            "amount": rng.choice(
                [
                    str(rng.randint(10, 999)),
                    f"{rng.randint(10, 999)},{rng.randint(10, 99)}",
                    f"1 {rng.randint(100, 999)},{rng.randint(10, 99)}",
                    f"{rng.randint(1, 9)} {rng.randint(100, 999)}",
                    f"{rng.randint(1, 9)}\u00a0{rng.randint(100, 999)}",
                ]
            ),
            "form": rng.choice(["2042", "2042-C", "2042 RICI", "2044", "3916", "2042C-PRO"]),
            "cerfa": rng.choice(["15186*03", "12100*02", "13750*07", "cerfa n°10072*02"]),
            "win": rng.choice(["10", "11", "7"]),
            "school": rng.choice(["ce1", "CE2", "cm1", "CM2", "6e", "5ème", "seconde", "CP"]),
            "ordinal": rng.choice(["1er", "2ème", "3e", "4ème", "2nd", "1ère", "10e"]),
            "service": rng.choice(SERVICES),
            "error": rng.choice(["404", "500", "403", "502"]),
            "age": rng.randint(18, 80),
            "name": rng.choice(FIRST_NAMES),
            "case": rng.choice(["7DB", "1AJ", "8TL", "2DC", "4BE"]),
            "plate": rng.choice(["AB-123-CD", "GH-456-KL", "EF-789-MN"]),
        }
        out.append(template.format(**values))
    return out


def iter_secrets(items: list[Secret], kind: str) -> Iterator[Secret]:
    return (item for item in items if item.kind == kind)


# Written by hand: what the templates above do not vary (typos, glued words, references
# typed with their name, emoticons, addresses of web pages).
HARD_ORDINARY = (
    "jai 2enfants et je suis seule",
    "rdv le15/03 a14h",
    "svp aidez moi!!",
    "C'est urgent!!!",
    "ok merci :)",
    "bonjour,je voudrais de l'aide",
    "je viens pour mon dossier n° 2024-00123",
    "numéro de dossier : D2024-1234",
    "ma demande ANTS n° 2301A12345 est en cours",
    "référence de la demande 24-0123456",
    "facture n°FA-2024-0012",
    "numéro de suivi du colis 6A12345678901",
    "ma référence client est CL458712",
    "mon numéro allocataire 1234567",
    "le lien https://www.service-public.fr/particuliers/vosdroits/F1234 ne marche pas",
    "il faut aller sur www.impots.gouv.fr/accueil",
    "je suis en BTS MCO2",
    "j'ai un iPhone 12 et un Samsung S21",
    "mon wifi est en 5G ?",
    "j'ai bac+3",
    "le RSA c'est 607,75€ ?",
    "c'est 1/2 journée",
    "on est le 2/3 aujourd'hui",
    "à 14h-16h c'est possible",
    "le 21/02/2025 à 9h30 au 2ème étage",
    "mon appart est un T3 de 65m2",
    "il fait 1m70",
    "je suis du 93",
    "j'habite dans le 2A",
    "Ma voiture AB-123-CD est en fourrière",
    "le formulaire 2042-RICI",
    "la déclaration 2042C-PRO",
    "le cerfa 15186*03 est où ?",
    "j'ai eu le covid-19",
    "mon PC est sous Windows10",
    "je veux un rdv à 8h30/9h",
    "ça fait 3x que j'essaie",
    "mon numéro de facture est 2025-000123",
    "j'ai reçu un mail de noreply@dgfip.finances.gouv.fr",
    "mes impôts 2024 : 1 234 €",
    "le 3949 ne répond pas",
    "appelez le 39 49",
    "le 36 46 c'est l'assurance maladie",
    "je suis née le 01.02.1985",
    "la somme de 12 345,67 € est-elle normale ?",
    "mon loyer 650€/mois",
    "de 9h à 12h et de 14h à 17h",
    "je paye 45€ par mois",
    "j'ai 67 ans",
    "ma pension 1\u00a0250,00\u00a0€",
)


def training_sentences(root: Path, shared: Path) -> list[str]:
    """What real visitors type, as written in the NLU training data and the evaluation set."""
    sentences = []
    for path in sorted((root / "bot" / "data").rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            for line in str(item.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    sentences.append(_ENTITY.sub(r"\1", line.strip()[2:]))
    evaluation = shared / "eval" / "dev_routing.tsv"
    if evaluation.exists():
        for line in evaluation.read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                sentences.append(line.split("\t", 1)[1].strip())
    return sentences


_ENTITY = re.compile(r"\[([^\]]*)\]\([^)]*\)")  # "[impôts](topic)" -> "impôts"
