"""The guide catalogue: load the YAML files of `knowledge/`, validate them, look them up.

A guide is data (see knowledge/README.md); this module turns the files into typed objects
and reports every way a file breaks the schema, so that a test and `python -m bot.guides
check` can refuse a bad guide before a visitor ever sees it.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import yaml

# Hosts whose pages count as official (the host equals one of these or ends with "." + it).
OFFICIAL_DOMAINS: tuple[str, ...] = (
    "gouv.fr",
    "service-public.fr",
    "francetravail.fr",
    "pole-emploi.fr",
    "unedic.org",
    "ameli.fr",
    "caf.fr",
    "info-retraite.fr",
    "laposte.net",
    "laposte.fr",
    "signal-spam.fr",
    "phishing-initiative.fr",
    "33700.fr",
    "aptic.fr",
)

MIN_STEPS, MAX_STEPS = 3, 10
MAX_TITLE_CHARS = 60
MAX_INSTRUCTION_CHARS = 220
GUIDE_ID_RE = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")

# The « thématiques de démarches administratives » of La Coop de la médiation numérique's
# activity reports (its API values and labels, in its order): each guide names one, so that
# the report's figures can be copied as they are into the reports mediators already file.
COOP_CATEGORIES: dict[str, str] = {
    "papiers_elections_citoyennete": "Papiers - Élections Citoyenneté",
    "famille_scolarite": "Famille - Scolarité",
    "social_sante": "Social - Santé",
    "travail_formation": "Travail - Formation",
    "logement": "Logement",
    "transports_mobilite": "Transports - Mobilité",
    "argent_impots": "Argent - Impôts",
    "justice": "Justice",
    "etrangers_europe": "Étrangers - Europe",
    "loisirs_sports_culture": "Loisirs - Sports Culture",
}

_MONTHS = (
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|"
    "novembre|décembre|decembre"
)
# A text stating one of these is a dated fact and needs `valid_for`.
DATED_FACT_RE = re.compile(
    rf"\b20[0-3]\d\b|\b\d{{1,2}}(?:er)?\s+(?:{_MONTHS})\b|\d[\d\s.,]*\s?(?:€|euros?\b)",
    re.IGNORECASE,
)


# A rule « en vigueur depuis … » has no end date, but rules change: its `review_by` is at
# most this far after the guide's `verified_on`.
MAX_REVIEW_YEARS = 2
PARIS = ZoneInfo("Europe/Paris")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
_AMOUNT_RE = re.compile(r"€|\beuros?\b", re.IGNORECASE)


def paris_today() -> dt.date:
    """Today's date at the desk: what expiry compares with in production."""
    return dt.datetime.now(PARIS).date()


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Validity:
    """When a dated fact holds: `valid_for` in words for people, dates for programs.

    A campaign, a deadline or an amount that ends has `valid_until` (its last day). A rule
    « en vigueur depuis … » has `valid_from` and no end, and `review_by`: the last day it
    counts as checked. Either date passed, the fact has expired and its guide is « à revoir ».
    """

    valid_for: str
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    review_by: dt.date | None = None

    @property
    def check_by(self) -> dt.date | None:
        """The first of `valid_until` and `review_by`: after it, the fact is not current."""
        dates = [d for d in (self.valid_until, self.review_by) if d is not None]
        return min(dates) if dates else None

    def expired(self, today: dt.date) -> bool:
        return self.check_by is not None and today > self.check_by


@dataclass(frozen=True)
class Step:
    instruction: str
    detail: str | None = None
    link: Link | None = None
    warning: str | None = None
    validity: Validity | None = None
    outdated: bool = False  # its dated sentences were taken out (see `undated`)

    @property
    def valid_for(self) -> str | None:
        return self.validity.valid_for if self.validity else None

    def undated(self, fallback_link: Link) -> Step:
        """The step without its dated sentences, and one sentence sending to the official page.

        The dated sentences are those the detector of dated facts finds (a year, a day and a
        month, an amount). The instruction keeps what is left and always ends with the
        check-the-official-page sentence, so the step is never empty; the link is the step's
        own, or the guide's first source.
        """
        said = " ".join(t for t in (self.instruction, self.detail, self.warning) if t)
        dated = [s for s in _SENTENCE_END_RE.split(said) if DATED_FACT_RE.search(s)]
        has_amount = any(_AMOUNT_RE.search(s) for s in dated)
        has_date = any(DATED_FACT_RE.search(_AMOUNT_RE.sub("", s)) for s in dated)
        what = {
            (True, True): "la date et le montant",
            (True, False): "la date",
            (False, True): "le montant",
        }.get((has_date, has_amount))
        ended = self.validity is not None and self.validity.check_by == self.validity.valid_until
        if ended:  # a campaign, a deadline, an amount that has ended
            check = f"Vérifiez {what or 'cette information'} à jour sur la page officielle"
        else:  # a rule whose review date has passed
            check = "Cette information a peut-être changé : vérifiez-la sur la page officielle"
        check += ", avec le lien ci-dessous."
        instruction = _without_dated(self.instruction)
        return replace(
            self,
            instruction=f"{instruction} {check}" if instruction else check,
            detail=_without_dated(self.detail) or None,
            warning=_without_dated(self.warning) or None,
            link=self.link or fallback_link,
            outdated=True,
        )


def _without_dated(text: str | None) -> str:
    """`text` without the sentences that state a year, a date or an amount."""
    if not text:
        return ""
    kept = [s for s in _SENTENCE_END_RE.split(text) if not DATED_FACT_RE.search(s)]
    return " ".join(kept).strip()


@dataclass(frozen=True)
class DatedFact:
    fact: str
    validity: Validity
    source: str

    @property
    def valid_for(self) -> str:
        return self.validity.valid_for


@dataclass(frozen=True)
class ExpiredFact:
    """A dated fact of a guide whose date has passed: what a maintainer must check again."""

    where: str  # « étape 3 », « information datée 2 »
    text: str
    validity: Validity

    @property
    def reason(self) -> str:
        v = self.validity
        if v.valid_until is not None and v.valid_until == v.check_by:
            return f"valable jusqu'au {v.valid_until:%d/%m/%Y}"
        return f"à revérifier avant le {v.check_by:%d/%m/%Y}"


@dataclass(frozen=True)
class Guide:
    id: str
    title: str
    summary: str
    audience: tuple[str, ...]
    prerequisites: tuple[str, ...]
    steps: tuple[Step, ...]
    human_help: tuple[str, ...]
    sources: tuple[Link, ...]
    verified_on: dt.date
    common: bool = False
    verification_note: str | None = None
    dated_facts: tuple[DatedFact, ...] = ()
    related: tuple[str, ...] = ()
    coop_category: str = ""

    @property
    def coop_label(self) -> str:
        """The La Coop label of the guide's category, as activity reports spell it."""
        return COOP_CATEGORIES.get(self.coop_category, self.coop_category)

    @property
    def domain(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def step_count(self) -> int:
        return len(self.steps)

    def step(self, number: int) -> Step:
        """Step `number`, counted from 1 as visitors count."""
        if not 1 <= number <= len(self.steps):
            raise IndexError(f"{self.id} has no step {number}")
        return self.steps[number - 1]

    def expired_facts(self, today: dt.date) -> list[ExpiredFact]:
        """Every dated fact (of a step or of `dated_facts`) whose date has passed on `today`."""
        found = [
            ExpiredFact(f"étape {i}", s.instruction, s.validity)
            for i, s in enumerate(self.steps, 1)
            if s.validity and s.validity.expired(today)
        ]
        found += [
            ExpiredFact(f"information datée {i}", f.fact, f.validity)
            for i, f in enumerate(self.dated_facts, 1)
            if f.validity.expired(today)
        ]
        return found

    def as_of(self, today: dt.date) -> Guide:
        """The guide as a visitor may read it on `today`: expired steps without their dates."""
        if not any(s.validity and s.validity.expired(today) for s in self.steps):
            return self
        # The official page to send to when a step has no link: a source whose title states
        # no date itself, else the first.
        undated_sources = [s for s in self.sources if not DATED_FACT_RE.search(s.label)]
        page = (undated_sources or list(self.sources))[0]
        steps = tuple(
            s.undated(page) if s.validity and s.validity.expired(today) else s for s in self.steps
        )
        return replace(self, steps=steps)


class GuideError(ValueError):
    """A guide file that breaks the schema; `problems` lists every reason."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"{path.name}: " + "; ".join(problems))


def is_official_url(url: str) -> bool:
    parsed = urlparse(url)
    host = (parsed.hostname or "").lower()
    if parsed.scheme != "https" or not host:
        return False
    return any(host == d or host.endswith("." + d) for d in OFFICIAL_DOMAINS)


def _text(data: dict[str, Any], key: str, problems: list[str], where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}{key} must be a non-empty text")
        return ""
    return value.strip()


def _opt_text(data: dict[str, Any], key: str, problems: list[str], where: str = "") -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}{key} must be a non-empty text when present")
        return None
    return value.strip()


def _texts(
    data: dict[str, Any], key: str, problems: list[str], *, allow_empty: bool = False
) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or (not value and not allow_empty):
        problems.append(
            f"{key} must be a list" + ("" if allow_empty else " with at least one item")
        )
        return ()
    out = []
    for i, item in enumerate(value, 1):
        if not isinstance(item, str) or not item.strip():
            problems.append(f"{key} item {i} must be a non-empty text")
        else:
            out.append(item.strip())
    return tuple(out)


def _link(value: Any, problems: list[str], where: str) -> Link | None:
    if not isinstance(value, dict):
        problems.append(f"{where} must have label and url")
        return None
    label = _text(value, "label", problems, where + " ") if "label" in value else None
    if label is None:
        label = _text(value, "title", problems, where + " ")
    url = _text(value, "url", problems, where + " ")
    if url and not is_official_url(url):
        problems.append(f"{where} url {url!r} is not https on an official domain")
    return Link(label, url)


def _step(value: Any, number: int, problems: list[str]) -> Step:
    where = f"step {number} "
    if not isinstance(value, dict):
        problems.append(f"step {number} must be a mapping")
        return Step("")
    instruction = _text(value, "instruction", problems, where)
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        problems.append(f"{where}instruction is longer than {MAX_INSTRUCTION_CHARS} characters")
    detail = _opt_text(value, "detail", problems, where)
    warning = _opt_text(value, "warning", problems, where)
    validity = parse_validity(value, problems, where)
    link = _link(value["link"], problems, where + "link") if value.get("link") else None
    said = " ".join(t for t in (instruction, detail or "", warning or "") if t)
    if DATED_FACT_RE.search(said) and not validity:
        problems.append(f"{where}states a date or an amount but has no valid_for")
    unknown = set(value) - {"instruction", "detail", "link", "warning", *VALIDITY_FIELDS}
    if unknown:
        problems.append(f"{where}has unknown fields {sorted(unknown)}")
    return Step(instruction, detail, link, warning, validity)


VALIDITY_FIELDS = ("valid_for", "valid_from", "valid_until", "review_by")


def _date(data: dict[str, Any], key: str, problems: list[str], where: str) -> dt.date | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    problems.append(f"{where}{key} must be a real date (YYYY-MM-DD), not {value!r}")
    return None


def parse_validity(data: dict[str, Any], problems: list[str], where: str = "") -> Validity | None:
    """The validity of a dated fact (`valid_for` and its dates), or None when it has none.

    `valid_for` says it in words; `valid_until` (it ends) or `review_by` (a rule with no
    end, to check again) says it to a program: one of the two is required.
    """
    raw = data.get("valid_for")
    valid_for = str(raw).strip() if raw is not None else ""
    valid_from = _date(data, "valid_from", problems, where)
    valid_until = _date(data, "valid_until", problems, where)
    review_by = _date(data, "review_by", problems, where)
    has_dates = any(data.get(k) is not None for k in VALIDITY_FIELDS[1:])
    if not valid_for:
        if has_dates:
            problems.append(f"{where}has validity dates but no valid_for to say them in words")
        return None
    if all(data.get(k) is None for k in ("valid_until", "review_by")):
        problems.append(
            f"{where}valid_for {valid_for!r} needs valid_until (when it ends) "
            "or review_by (when to check it again)"
        )
    for key, end in (("valid_until", valid_until), ("review_by", review_by)):
        if valid_from and end and end < valid_from:
            problems.append(f"{where}{key} {end} is before valid_from {valid_from}")
    return Validity(valid_for, valid_from, valid_until, review_by)


def check_review_horizon(
    validity: Validity, verified_on: dt.date, problems: list[str], where: str = ""
) -> None:
    """A rule with no end must be checked again within MAX_REVIEW_YEARS of verified_on."""
    if validity.review_by is None or verified_on == dt.date.min:
        return
    try:
        horizon = verified_on.replace(year=verified_on.year + MAX_REVIEW_YEARS)
    except ValueError:  # 29 February
        horizon = verified_on + dt.timedelta(days=365 * MAX_REVIEW_YEARS)
    if validity.review_by > horizon:
        problems.append(
            f"{where}review_by {validity.review_by} is more than {MAX_REVIEW_YEARS} years "
            f"after verified_on {verified_on}"
        )


_GUIDE_FIELDS = {
    "id", "title", "summary", "audience", "common", "prerequisites", "steps", "human_help",
    "sources", "verified_on", "verification_note", "dated_facts", "related", "coop_category",
}  # fmt: skip


def parse_guide(data: Any, path: Path, today: dt.date | None = None) -> Guide:
    """Build a Guide from the YAML data of `path`, or raise GuideError with every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise GuideError(path, ["the file must hold a mapping"])
    unknown = set(data) - _GUIDE_FIELDS
    if unknown:
        problems.append(f"unknown fields {sorted(unknown)}")
    guide_id = _text(data, "id", problems)
    if guide_id and not GUIDE_ID_RE.match(guide_id):
        problems.append(f"id {guide_id!r} is not of the form domain.topic")
    if guide_id and guide_id != path.stem:
        problems.append(f"id {guide_id!r} differs from the file name {path.stem!r}")
    title = _text(data, "title", problems)
    if len(title) > MAX_TITLE_CHARS:
        problems.append(f"title is longer than {MAX_TITLE_CHARS} characters")
    summary = _text(data, "summary", problems)
    audience = _texts(data, "audience", problems)
    prerequisites = _texts(data, "prerequisites", problems, allow_empty=True)
    human_help = _texts(data, "human_help", problems)

    raw_steps = data.get("steps")
    steps: tuple[Step, ...] = ()
    if not isinstance(raw_steps, list) or not MIN_STEPS <= len(raw_steps) <= MAX_STEPS:
        problems.append(f"steps must be a list of {MIN_STEPS} to {MAX_STEPS} steps")
    if isinstance(raw_steps, list):
        steps = tuple(_step(s, i, problems) for i, s in enumerate(raw_steps, 1))

    raw_sources = data.get("sources")
    sources: tuple[Link, ...] = ()
    if not isinstance(raw_sources, list) or not raw_sources:
        problems.append("sources must list at least one official page")
    else:
        found = [_link(s, problems, f"source {i}") for i, s in enumerate(raw_sources, 1)]
        sources = tuple(s for s in found if s)

    verified = data.get("verified_on")
    verified_on = dt.date.min
    if isinstance(verified, dt.date) and not isinstance(verified, dt.datetime):
        verified_on = verified
        if verified_on > (today or dt.date.today()):
            problems.append("verified_on is in the future")
    else:
        problems.append("verified_on must be a date (YYYY-MM-DD)")

    dated_facts = []
    for i, fact in enumerate(data.get("dated_facts") or [], 1):
        where = f"dated fact {i} "
        if not isinstance(fact, dict):
            problems.append(f"{where}must be a mapping")
            continue
        text = _text(fact, "fact", problems, where)
        validity = parse_validity(fact, problems, where)
        if validity is None:
            problems.append(f"{where}needs valid_for")
            validity = Validity("")
        source = _text(fact, "source", problems, where)
        if source and not is_official_url(source):
            problems.append(f"{where}source {source!r} is not https on an official domain")
        unknown = set(fact) - {"fact", "source", *VALIDITY_FIELDS}
        if unknown:
            problems.append(f"{where}has unknown fields {sorted(unknown)}")
        dated_facts.append(DatedFact(text, validity, source))

    for i, step in enumerate(steps, 1):
        if step.validity:
            check_review_horizon(step.validity, verified_on, problems, f"step {i} ")
    for i, dated in enumerate(dated_facts, 1):
        check_review_horizon(dated.validity, verified_on, problems, f"dated fact {i} ")

    related = data.get("related") or []
    if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
        problems.append("related must be a list of guide ids")
        related = []
    if guide_id in related:
        problems.append("related must not name the guide itself")
    common = data.get("common", False)
    if not isinstance(common, bool):
        problems.append("common must be true or false")

    raw_category = data.get("coop_category")
    coop_category = raw_category.strip() if isinstance(raw_category, str) else ""
    if not coop_category:
        problems.append("coop_category must name a La Coop category: " + ", ".join(COOP_CATEGORIES))
    elif coop_category not in COOP_CATEGORIES:
        problems.append(
            f"coop_category {raw_category!r} is not a La Coop category: "
            + ", ".join(COOP_CATEGORIES)
        )

    if problems:
        raise GuideError(path, problems)
    return Guide(
        id=guide_id,
        title=title,
        summary=summary,
        audience=audience,
        prerequisites=prerequisites,
        steps=steps,
        human_help=human_help,
        sources=sources,
        verified_on=verified_on,
        common=bool(common),
        verification_note=_opt_text(data, "verification_note", problems),
        dated_facts=tuple(dated_facts),
        related=tuple(related),
        coop_category=coop_category,
    )


def load_guide(path: Path) -> Guide:
    with path.open(encoding="utf-8") as fh:
        try:
            data = yaml.safe_load(fh)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date such as 2026-02-30
            raise GuideError(path, [f"invalid YAML: {exc}"]) from exc
    return parse_guide(data, path)


@dataclass(frozen=True)
class Catalogue:
    """Every guide of a knowledge folder, in file-name order, plus the domain names."""

    guides: dict[str, Guide]
    domain_titles: dict[str, str] = field(default_factory=dict)
    # What « today » is for expiry; tests inject a fixed date with dataclasses.replace.
    clock: Callable[[], dt.date] = paris_today

    def today(self) -> dt.date:
        return self.clock()

    def current(self, guide_id: str) -> Guide | None:
        """The guide as a visitor reads it today (expired dated sentences taken out)."""
        guide = self.guides.get(guide_id)
        return guide.as_of(self.today()) if guide else None

    def expired(self) -> dict[str, list[ExpiredFact]]:
        """The guides « à revoir » today: each with its expired dated facts."""
        today = self.today()
        found = {g.id: g.expired_facts(today) for g in self.guides.values()}
        return {gid: facts for gid, facts in found.items() if facts}

    def __contains__(self, guide_id: object) -> bool:
        return guide_id in self.guides

    def __len__(self) -> int:
        return len(self.guides)

    def get(self, guide_id: str) -> Guide | None:
        return self.guides.get(guide_id)

    def __getitem__(self, guide_id: str) -> Guide:
        return self.guides[guide_id]

    @property
    def ids(self) -> list[str]:
        return list(self.guides)

    def domains(self) -> list[str]:
        """Domains in display order: those named in _domains.yml first, then the rest."""
        present = {g.domain for g in self.guides.values()}
        ordered = [d for d in self.domain_titles if d in present]
        return ordered + sorted(present - set(ordered))

    def domain_title(self, domain: str) -> str:
        return self.domain_titles.get(domain, domain.replace("_", " ").capitalize())

    def in_domain(self, domain: str) -> list[Guide]:
        return [g for g in self.guides.values() if g.domain == domain]

    def common(self) -> list[Guide]:
        return [g for g in self.guides.values() if g.common]


def guide_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yml") if not p.name.startswith("_"))


def validate_directory(directory: Path) -> tuple[Catalogue, list[str]]:
    """Load every guide; return the good ones and one line per problem found."""
    guides: dict[str, Guide] = {}
    problems: list[str] = []
    for path in guide_files(directory):
        try:
            guide = load_guide(path)
        except GuideError as exc:
            problems.extend(f"{path.name}: {p}" for p in exc.problems)
            continue
        guides[guide.id] = guide
    for guide in guides.values():
        for rel in guide.related:
            if rel not in guides:
                problems.append(f"{guide.id}.yml: related guide {rel!r} does not exist")
    titles: dict[str, str] = {}
    domains_file = directory / "_domains.yml"
    if domains_file.exists():
        raw = yaml.safe_load(domains_file.read_text(encoding="utf-8")) or {}
        if isinstance(raw, dict):
            titles = {str(k): str(v) for k, v in raw.items()}
        else:
            problems.append("_domains.yml must map domain ids to titles")
    return Catalogue(guides, titles), problems


@lru_cache(maxsize=4)
def _cached(directory: str, stamp: tuple[tuple[str, float], ...]) -> Catalogue:
    catalogue, problems = validate_directory(Path(directory))
    if problems:
        raise ValueError("invalid guides:\n" + "\n".join(problems))
    return catalogue


def load_catalogue(directory: Path | None = None) -> Catalogue:
    """The catalogue of `directory` (default: the KNOWLEDGE_DIR setting).

    Cached until a file in the folder changes, so actions can call it on every turn.
    """
    if directory is None:
        from bot.settings import get_settings

        directory = get_settings().knowledge_dir
    stamp = tuple((p.name, p.stat().st_mtime) for p in sorted(directory.glob("*.yml")))
    return _cached(str(directory), stamp)


def main(argv: list[str] | None = None) -> int:
    from bot.settings import get_settings

    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "check"
    directory = Path(args[1]) if len(args) > 1 else get_settings().knowledge_dir
    catalogue, problems = validate_directory(directory)
    if command == "check":
        for line in problems:
            print(line)
        expired = catalogue.expired()
        for guide_id, facts in expired.items():
            for fact in facts:
                print(
                    f"{guide_id}.yml: à revoir, {fact.where} ({fact.validity.valid_for}): "
                    f"{fact.reason}"
                )
        print(
            f"{len(catalogue)} valid guides, {len(problems)} problems, "
            f"{len(expired)} guides à revoir (dated facts expired on {catalogue.today()})"
        )
        return 1 if problems else 0
    if command == "list":
        for guide in catalogue.guides.values():
            print(f"{guide.id:38} {guide.step_count:2} steps  {guide.verified_on}  {guide.title}")
        return 0
    print("usage: python -m bot.guides [check|list] [KNOWLEDGE_DIR]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
