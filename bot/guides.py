"""The guide catalogue: load the YAML files of `knowledge/`, validate them, look them up.

A guide is data (see knowledge/README.md); this module turns the files into typed objects
and reports every way a file breaks the schema, so that a test and `python -m bot.guides
check` can refuse a bad guide before a visitor ever sees it.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

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

_MONTHS = (
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|"
    "novembre|décembre|decembre"
)
# A text stating one of these is a dated fact and needs `valid_for`.
DATED_FACT_RE = re.compile(
    rf"\b20[0-3]\d\b|\b\d{{1,2}}(?:er)?\s+(?:{_MONTHS})\b|\d[\d\s.,]*\s?(?:€|euros?\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Step:
    instruction: str
    detail: str | None = None
    link: Link | None = None
    warning: str | None = None
    valid_for: str | None = None


@dataclass(frozen=True)
class DatedFact:
    fact: str
    valid_for: str
    source: str


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
    valid_for = value.get("valid_for")
    valid_for = str(valid_for).strip() if valid_for is not None else None
    link = _link(value["link"], problems, where + "link") if value.get("link") else None
    said = " ".join(t for t in (instruction, detail or "", warning or "") if t)
    if DATED_FACT_RE.search(said) and not valid_for:
        problems.append(f"{where}states a date or an amount but has no valid_for")
    unknown = set(value) - {"instruction", "detail", "link", "warning", "valid_for"}
    if unknown:
        problems.append(f"{where}has unknown fields {sorted(unknown)}")
    return Step(instruction, detail, link, warning, valid_for)


_GUIDE_FIELDS = {
    "id", "title", "summary", "audience", "common", "prerequisites", "steps", "human_help",
    "sources", "verified_on", "verification_note", "dated_facts", "related",
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
        valid_for = str(fact.get("valid_for") or "").strip()
        if not valid_for:
            problems.append(f"{where}needs valid_for")
        source = _text(fact, "source", problems, where)
        if source and not is_official_url(source):
            problems.append(f"{where}source {source!r} is not https on an official domain")
        dated_facts.append(DatedFact(text, valid_for, source))

    related = data.get("related") or []
    if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
        problems.append("related must be a list of guide ids")
        related = []
    if guide_id in related:
        problems.append("related must not name the guide itself")
    common = data.get("common", False)
    if not isinstance(common, bool):
        problems.append("common must be true or false")

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
    )


def load_guide(path: Path) -> Guide:
    with path.open(encoding="utf-8") as fh:
        try:
            data = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise GuideError(path, [f"invalid YAML: {exc}"]) from exc
    return parse_guide(data, path)


@dataclass(frozen=True)
class Catalogue:
    """Every guide of a knowledge folder, in file-name order, plus the domain names."""

    guides: dict[str, Guide]
    domain_titles: dict[str, str] = field(default_factory=dict)

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
        print(f"{len(catalogue)} valid guides, {len(problems)} problems")
        return 1 if problems else 0
    if command == "list":
        for guide in catalogue.guides.values():
            print(f"{guide.id:38} {guide.step_count:2} steps  {guide.verified_on}  {guide.title}")
        return 0
    print("usage: python -m bot.guides [check|list] [KNOWLEDGE_DIR]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
