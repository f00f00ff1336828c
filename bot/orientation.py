"""The orientation table: where to go for a démarche that has no guide (knowledge/_orientation.yml).

Each entry names the official service, what to have ready and the main pitfall. Like the
guides, the table is data validated here: `python -m bot.orientation check` (or
`check_problems`, for another checker to call) lists every way it breaks the rules, so a
bad entry is refused before a visitor reads it.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from bot.guides import (
    COOP_CATEGORIES,
    DATED_FACT_RE,
    MAX_TITLE_CHARS,
    OFFICIAL_DOMAINS,
    VALIDITY_FIELDS,
    Link,
    Validity,
    check_review_horizon,
    parse_validity,
)

TABLE_FILE = "_orientation.yml"
INTENT_PREFIX = "orientation."
ENTRY_ID_RE = re.compile(r"^[a-z][a-z_]*$")

# The guides' official domains, less the Pass numérique operator (in liquidation since
# January 2024), plus public bodies that only orientation points to.
ORIENTATION_DOMAINS: tuple[str, ...] = tuple(d for d in OFFICIAL_DOMAINS if d != "aptic.fr") + (
    "justice.fr",
    "defenseurdesdroits.fr",
    "banque-france.fr",
    "monespacesante.fr",
    "cnsa.fr",
)

# Never offered to a visitor (domain-facts §8.14, §8.16, §8 uncertain items), in folded form.
FORBIDDEN: dict[str, str] = {
    "0170772372": "the Solidarité Numérique line is paused since January 2022",
    "solidarite numerique": "the Solidarité Numérique line is paused since January 2022",
    "pass numerique": "the Pass numérique's operator is in liquidation since January 2024",
    "aptic": "the Pass numérique's operator is in liquidation since January 2024",
    "0812040170": "the 2015 logement social line is probably obsolete",
    "3422": "the Mon espace santé line has only a weak secondary source",
}

VISITOR_FIELDS = ("service", "phone", "prepare", "pitfall", "in_person")
_FIELDS = {
    "id", "title", "coop_category", "service", "phone", "prepare", "pitfall", "in_person",
    "sources", "verified_on", "unverified", *VALIDITY_FIELDS,
}  # fmt: skip
_HOST_RE = re.compile(r"\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+\b")
_YEAR_RE = re.compile(r"\b(20\d\d)\b")


@dataclass(frozen=True)
class Orientation:
    id: str
    title: str
    service: str
    prepare: str
    pitfall: str
    sources: tuple[Link, ...]
    verified_on: dt.date
    phone: str | None = None
    in_person: str | None = None
    valid_for: str | None = None
    coop_category: str | None = None
    validity: Validity | None = None  # valid_for with its dates (bot.guides.Validity)

    @property
    def intent(self) -> str:
        return INTENT_PREFIX + self.id

    def stale(self, today: dt.date | None = None) -> bool:
        """A dated fact past its `valid_until` or `review_by`: « à revoir ».

        Without those dates, the last year named in `valid_for` must be over.
        """
        today = today or dt.date.today()
        if self.validity is not None and self.validity.valid_for == self.valid_for:
            return self.validity.expired(today)
        years = [int(y) for y in _YEAR_RE.findall(self.valid_for or "")]
        return bool(years) and max(years) < today.year


class OrientationError(ValueError):
    """A table that breaks the rules; `problems` lists every reason, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_official_host(host: str) -> bool:
    host = host.lower()
    return any(host == d or host.endswith("." + d) for d in ORIENTATION_DOMAINS)


def is_official_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme == "https" and is_official_host(parsed.hostname or "")


def official_sites(text: str) -> list[str]:
    """The official hosts a visitor text names (« caf.fr », « maprocuration.gouv.fr »)."""
    return [h for h in _HOST_RE.findall(text.lower()) if is_official_host(h)]


def entry_id_of(intent: str) -> str | None:
    """« orientation.carte_grise » → « carte_grise »; None for any other intent."""
    if intent.startswith(INTENT_PREFIX):
        return intent.removeprefix(INTENT_PREFIX) or None
    return None


def _text(
    data: dict[str, Any], key: str, problems: list[str], where: str, *, required: bool
) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: {key} must be a non-empty French text")
        return ""
    return " ".join(value.split())


def parse_entry(data: Any, number: int, today: dt.date, problems: list[str]) -> Orientation | None:
    """One entry of the table; its problems are appended to `problems`."""
    if not isinstance(data, dict):
        problems.append(f"entry {number}: must be a mapping")
        return None
    entry_id = data.get("id")
    where = f"entry {number}" + (f" ({entry_id})" if isinstance(entry_id, str) else "")
    before = len(problems)
    if not isinstance(entry_id, str) or not ENTRY_ID_RE.match(entry_id):
        problems.append(f"{where}: id must be lowercase letters and _, like carte_grise")
        entry_id = ""
    unknown = set(data) - _FIELDS
    if unknown:
        problems.append(f"{where}: unknown fields {sorted(unknown)}")
    title = _text(data, "title", problems, where, required=True)
    if len(title) > MAX_TITLE_CHARS:
        problems.append(f"{where}: title is longer than {MAX_TITLE_CHARS} characters")
    required = ("service", "prepare", "pitfall")
    texts = {
        key: _text(data, key, problems, where, required=key in required) for key in VISITOR_FIELDS
    }
    if texts["service"] and not official_sites(texts["service"]):
        problems.append(f"{where}: service must name the official site (e.g. caf.fr)")
    said = " ".join(t for t in texts.values() if t)
    folded = fold(said)
    digits = re.sub(r"(?<=\d)[\s.]+(?=\d)", "", folded)
    for needle, reason in FORBIDDEN.items():
        if needle in folded or needle in digits:
            problems.append(f"{where}: mentions {needle!r}, never offered: {reason}")
    valid_for = data.get("valid_for")
    valid_for = str(valid_for).strip() if valid_for is not None else None
    if DATED_FACT_RE.search(said) and not valid_for:
        problems.append(f"{where}: states a date or an amount but has no valid_for")
    years = [int(y) for y in _YEAR_RE.findall(valid_for or "")]
    if valid_for and years and all(data.get(k) is None for k in VALIDITY_FIELDS[1:]):
        # The short form: a bare year (« 2025 ») holds until the end of that year.
        validity: Validity | None = Validity(valid_for, valid_until=dt.date(max(years), 12, 31))
    else:
        validity = parse_validity(data, problems, f"{where}: ")

    raw_sources = data.get("sources")
    sources: list[Link] = []
    if not isinstance(raw_sources, list) or not raw_sources:
        problems.append(f"{where}: sources must list at least one official page")
    else:
        for i, source in enumerate(raw_sources, 1):
            if not isinstance(source, dict):
                problems.append(f"{where}: source {i} must have label and url")
                continue
            label = _text(source, "label", problems, f"{where} source {i}", required=True)
            url = _text(source, "url", problems, f"{where} source {i}", required=True)
            if url and not is_official_url(url):
                problems.append(
                    f"{where}: source {i} url {url!r} is not https on an official domain"
                )
            sources.append(Link(label, url))

    verified = data.get("verified_on")
    verified_on = dt.date.min
    if isinstance(verified, dt.date) and not isinstance(verified, dt.datetime):
        verified_on = verified
        if verified_on > today:
            problems.append(f"{where}: verified_on {verified_on} is in the future")
    else:
        problems.append(f"{where}: verified_on must be a date (YYYY-MM-DD)")
    if validity is not None:
        check_review_horizon(validity, verified_on, problems, f"{where}: ")

    coop = data.get("coop_category")
    if coop is not None and coop not in COOP_CATEGORIES:
        problems.append(f"{where}: coop_category {coop!r} is not a La Coop category")
    unverified = data.get("unverified", [])
    if not isinstance(unverified, list) or not all(isinstance(u, str) for u in unverified):
        problems.append(f"{where}: unverified must be a list of notes")

    if len(problems) > before:
        return None
    return Orientation(
        id=entry_id,
        title=title,
        service=texts["service"],
        prepare=texts["prepare"],
        pitfall=texts["pitfall"],
        sources=tuple(sources),
        verified_on=verified_on,
        phone=texts["phone"] or None,
        in_person=texts["in_person"] or None,
        valid_for=valid_for,
        coop_category=coop,
        validity=validity,
    )


def parse_table(data: Any, today: dt.date | None = None) -> dict[str, Orientation]:
    """Every entry by id, or OrientationError with every problem of the table."""
    today = today or dt.date.today()
    if not isinstance(data, list) or not data:
        raise OrientationError(["the table must be a non-empty list of entries"])
    problems: list[str] = []
    entries: dict[str, Orientation] = {}
    for number, raw in enumerate(data, 1):
        entry = parse_entry(raw, number, today, problems)
        if entry is None:
            continue
        if entry.id in entries:
            problems.append(f"entry {number} ({entry.id}): id already used")
        entries[entry.id] = entry
    if problems:
        raise OrientationError(problems)
    return entries


def load_table_file(path: Path, today: dt.date | None = None) -> dict[str, Orientation]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OrientationError([f"cannot read {path}: {exc.strerror or exc}"]) from exc
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date such as 2026-02-30
        raise OrientationError([f"invalid YAML: {exc}"]) from exc
    return parse_table(data, today)


def check_problems(directory: Path, today: dt.date | None = None) -> list[str]:
    """One line per problem of `directory`'s table (empty when it is valid)."""
    try:
        load_table_file(directory / TABLE_FILE, today)
    except OrientationError as exc:
        return [f"{TABLE_FILE}: {p}" for p in exc.problems]
    return []


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> dict[str, Orientation]:
    return load_table_file(Path(path))


def load_table(directory: Path | None = None) -> dict[str, Orientation]:
    """The table of `directory` (default: KNOWLEDGE_DIR), cached until the file changes."""
    if directory is None:
        from bot.settings import get_settings

        directory = get_settings().knowledge_dir
    path = directory / TABLE_FILE
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise OrientationError([f"cannot read {path}: {exc.strerror or exc}"]) from exc
    return _cached(str(path), mtime)


def desk_help(desk_open: bool | None, hours: str) -> str:
    """Where a person can help: the desk when open, France Services and the map when not.

    `desk_open` None (ORG_OPENING unreadable) says both. The national map is the locator the
    facts file confirms (domain-facts §8.14); France Services' own locator is not.
    """
    elsewhere = (
        "Un espace France Services peut aussi vous aider : c'est gratuit et sans rendez-vous.\n"
        "Pour trouver un lieu d'aide près de chez vous, France Services compris, allez sur "
        "la carte nationale : cartographie.societenumerique.gouv.fr."
    )
    hours = hours.strip()
    if desk_open:
        return "Un médiateur numérique peut vous aider, à l'accueil."
    if desk_open is None:
        when = f", ouvert {hours}" if hours else ""
        return f"Un médiateur numérique peut vous aider, à l'accueil{when}.\n{elsewhere}"
    when = f" Il est ouvert {hours}." if hours else ""
    return (
        f"L'accueil est fermé en ce moment.{when}\n{elsewhere}\n"
        "Le médiateur peut aussi vous recontacter plus tard."
    )


def main(argv: list[str] | None = None) -> int:
    from bot.settings import get_settings

    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "check"
    directory = Path(args[1]) if len(args) > 1 else get_settings().knowledge_dir
    if command != "check":
        print("usage: python -m bot.orientation check [KNOWLEDGE_DIR]", file=sys.stderr)
        return 2
    problems = check_problems(directory)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problems")
        return 1
    table = load_table_file(directory / TABLE_FILE)
    for entry in table.values():
        if entry.stale():
            print(f"{TABLE_FILE}: {entry.id}: à revoir, valid_for {entry.valid_for!r} is over")
    print(f"{len(table)} valid orientation entries, 0 problems")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
