"""Every guide file follows the schema and the content rules; the loader catches bad files."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.guides import (
    COOP_CATEGORIES,
    DATED_FACT_RE,
    GuideError,
    is_official_url,
    load_catalogue,
    parse_guide,
    validate_directory,
)
from bot.settings import ROOT

GUIDE_FILES = sorted(p for p in (ROOT / "knowledge").glob("*.yml") if not p.name.startswith("_"))


def test_knowledge_folder_has_no_invalid_guide():
    catalogue, problems = validate_directory(ROOT / "knowledge")
    assert problems == []
    assert len(catalogue) == len(GUIDE_FILES)


@pytest.fixture(scope="module")
def guides():
    return load_catalogue(ROOT / "knowledge")


@pytest.mark.parametrize("path", GUIDE_FILES, ids=lambda p: p.stem)
class TestEachGuide:
    def test_links_are_https_on_official_domains(self, path: Path, guides):
        guide = guides[path.stem]
        urls = [s.url for s in guide.sources] + [s.link.url for s in guide.steps if s.link]
        urls += [f.source for f in guide.dated_facts]
        assert urls, "a guide names at least one official page"
        for url in urls:
            assert url.startswith("https://") and is_official_url(url), url

    def test_steps_are_short_and_non_empty(self, path: Path, guides):
        guide = guides[path.stem]
        assert 3 <= guide.step_count <= 10
        for step in guide.steps:
            assert step.instruction.strip()
            assert len(step.instruction) <= 220
            # one instruction is a few short sentences, not a paragraph
            assert len(re.findall(r"[.!?](?:\s|$)", step.instruction)) <= 4, step.instruction

    def test_verified_on_is_a_past_date(self, path: Path, guides):
        guide = guides[path.stem]
        assert dt.date(2024, 1, 1) <= guide.verified_on <= dt.date.today()

    def test_dated_facts_say_for_when_they_hold(self, path: Path, guides):
        guide = guides[path.stem]
        for step in guide.steps:
            said = " ".join(filter(None, (step.instruction, step.detail, step.warning)))
            if DATED_FACT_RE.search(said):
                assert step.valid_for, said
        for fact in guide.dated_facts:
            assert fact.valid_for and fact.source

    def test_public_text_uses_vouvoiement(self, path: Path, guides):
        guide = guides[path.stem]
        texts = [guide.title, guide.summary, *guide.audience, *guide.prerequisites]
        for step in guide.steps:
            texts += [step.instruction, step.detail or "", step.warning or ""]
        tutoiement = re.compile(r"\b(tu|toi|ton|ta|tes)\b", re.IGNORECASE)
        for text in texts:
            assert not tutoiement.search(text), text

    def test_human_help_and_audience_present(self, path: Path, guides):
        guide = guides[path.stem]
        assert guide.human_help and guide.audience and guide.summary


GOOD: dict[str, Any] = {
    "id": "demo.exemple",
    "title": "Un exemple",
    "summary": "Un guide pour les tests.",
    "audience": ["Tout le monde."],
    "prerequisites": [],
    "steps": [{"instruction": f"Faites l'étape {i}."} for i in range(1, 4)],
    "human_help": ["Le médiateur numérique."],
    "sources": [{"title": "Service public", "url": "https://www.service-public.gouv.fr"}],
    "verified_on": dt.date(2026, 1, 5),
    "coop_category": "argent_impots",
}


def _problems(data: dict, name: str = "demo.exemple") -> list[str]:
    with pytest.raises(GuideError) as info:
        parse_guide(data, Path(f"{name}.yml"), today=dt.date(2026, 6, 1))
    return info.value.problems


def test_a_good_guide_parses():
    guide = parse_guide(GOOD, Path("demo.exemple.yml"), today=dt.date(2026, 6, 1))
    assert guide.domain == "demo" and guide.step_count == 3
    assert guide.step(1).instruction == "Faites l'étape 1."
    assert (guide.coop_category, guide.coop_label) == ("argent_impots", "Argent - Impôts")
    with pytest.raises(IndexError):
        guide.step(4)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"sources": [{"title": "x", "url": "http://www.impots.gouv.fr"}]}, "not https"),
        ({"sources": [{"title": "x", "url": "https://impots-gouv.fr.example.com"}]}, "official"),
        ({"steps": [{"instruction": "Une seule étape."}]}, "3 to 10 steps"),
        ({"steps": [{"instruction": ""}] * 3}, "instruction must be a non-empty text"),
        ({"steps": [{"instruction": "x" * 221}] * 3}, "longer than 220"),
        ({"verified_on": dt.date(2027, 1, 1)}, "in the future"),
        ({"verified_on": "hier"}, "must be a date"),
        ({"title": "t" * 61}, "title is longer"),
        ({"human_help": []}, "human_help must be a list"),
        ({"related": ["demo.exemple"]}, "must not name the guide itself"),
        ({"colour": "bleu"}, "unknown fields"),
        ({"coop_category": "impots"}, "'impots' is not a La Coop category"),
        ({"coop_category": ""}, "coop_category must name a La Coop category"),
        ({"coop_category": ["logement"]}, "coop_category must name a La Coop category"),
        (
            {"steps": [{"instruction": "Déclarez avant le 22 mai."}] + GOOD["steps"][1:]},
            "no valid_for",
        ),
        (
            {"steps": [{"instruction": "Payez 300 € en septembre."}] + GOOD["steps"][1:]},
            "no valid_for",
        ),
        ({"dated_facts": [{"fact": "Date limite 2025", "source": "https://impots.gouv.fr"}]},
         "needs valid_for"),
        (
            {"steps": [{"instruction": "Avant le 22 mai.", "valid_for": "campagne 2025"}]
             + GOOD["steps"][1:]},
            "needs valid_until (when it ends) or review_by",
        ),
        ({"dated_facts": [{"fact": "Date limite 2025", "valid_for": "campagne 2025",
                           "source": "https://impots.gouv.fr"}]},
         "needs valid_until"),
        ({"dated_facts": [{"fact": "Date limite 2025", "valid_for": "2025",
                           "valid_until": "2025-02-30", "source": "https://impots.gouv.fr"}]},
         "valid_until must be a real date"),
        ({"dated_facts": [{"fact": "Depuis 2025", "valid_for": "depuis 2025",
                           "valid_from": dt.date(2025, 3, 1), "valid_until": dt.date(2025, 1, 1),
                           "source": "https://impots.gouv.fr"}]},
         "valid_until 2025-01-01 is before valid_from 2025-03-01"),
        ({"dated_facts": [{"fact": "Depuis 2025", "valid_for": "depuis 2025",
                           "valid_from": dt.date(2025, 3, 1), "review_by": dt.date(2031, 1, 1),
                           "source": "https://impots.gouv.fr"}]},
         "more than 2 years after verified_on"),
        ({"dated_facts": [{"fact": "Depuis 2025", "review_by": dt.date(2026, 9, 1),
                           "source": "https://impots.gouv.fr"}]},
         "no valid_for to say them in words"),
        ({"dated_facts": [{"fact": "Depuis 2025", "valid_for": "depuis 2025",
                           "review_by": dt.date(2026, 9, 1), "until": dt.date(2026, 9, 1),
                           "source": "https://impots.gouv.fr"}]},
         "unknown fields ['until']"),
    ],
)  # fmt: skip
def test_schema_violations_are_reported(change, expected):
    problems = _problems(GOOD | change)
    assert any(expected in p for p in problems), problems


def test_an_impossible_date_in_a_file_is_a_problem_not_a_crash(tmp_path):
    data = GOOD | {"id": "demo.date"}
    text = yaml.safe_dump(data, allow_unicode=True) + (
        "dated_facts:\n- fact: Date limite 2025\n  valid_for: campagne 2025\n"
        "  valid_until: 2025-02-30\n  source: https://impots.gouv.fr\n"
    )
    (tmp_path / "demo.date.yml").write_text(text, encoding="utf-8")
    _, problems = validate_directory(tmp_path)
    assert problems and "invalid YAML" in problems[0]


def test_file_name_must_match_id():
    assert any("differs from the file name" in p for p in _problems(GOOD, "demo.autre"))


def test_dated_fact_detection():
    for text in ("avant le 15 juin", "en 2025", "un timbre de 25 €", "1er avril", "646,52 euros"):
        assert DATED_FACT_RE.search(text), text
    for text in ("étape 3", "le formulaire 2042", "13 chiffres", "appelez le 3949"):
        assert not DATED_FACT_RE.search(text), text


def test_official_url_check():
    assert is_official_url("https://www.impots.gouv.fr/portail")
    assert is_official_url("https://www.francetravail.fr/candidat")
    assert not is_official_url("https://gouv.fr.evil.example/")
    assert not is_official_url("https://faux-impots.com/gouv.fr")
    assert not is_official_url("ftp://www.impots.gouv.fr")


def test_a_new_guide_file_is_picked_up_without_code(tmp_path: Path):
    domains = ROOT / "knowledge" / "_domains.yml"
    (tmp_path / "_domains.yml").write_text(domains.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "demo.exemple.yml").write_text(yaml.safe_dump(GOOD, allow_unicode=True))
    new = dict(GOOD, id="demo.nouveau", related=["demo.exemple"])
    (tmp_path / "demo.nouveau.yml").write_text(yaml.safe_dump(new, allow_unicode=True))
    catalogue = load_catalogue(tmp_path)
    assert "demo.nouveau" in catalogue and len(catalogue) == 2
    assert catalogue["demo.nouveau"].related == ("demo.exemple",)
    assert catalogue.domains()[-1] == "demo"
    assert catalogue.domain_title("demo") == "Demo"


def test_a_broken_guide_file_is_refused(tmp_path: Path):
    (tmp_path / "demo.casse.yml").write_text("id: demo.casse\nsteps: [", encoding="utf-8")
    catalogue, problems = validate_directory(tmp_path)
    assert len(catalogue) == 0
    assert problems and "invalid YAML" in problems[0]
    with pytest.raises(ValueError):
        load_catalogue(tmp_path)


def test_a_guide_without_category_is_refused():
    data = {k: v for k, v in GOOD.items() if k != "coop_category"}
    assert any("coop_category must name" in p for p in _problems(data))


def test_the_check_command_reports_a_missing_or_unknown_category(tmp_path: Path, capsys):
    from bot.guides import main

    (tmp_path / "demo.exemple.yml").write_text(yaml.safe_dump(GOOD, allow_unicode=True))
    assert main(["check", str(tmp_path)]) == 0
    missing = {k: v for k, v in GOOD.items() if k != "coop_category"} | {"id": "demo.sans"}
    (tmp_path / "demo.sans.yml").write_text(yaml.safe_dump(missing, allow_unicode=True))
    unknown = GOOD | {"id": "demo.autre", "coop_category": "sport"}
    (tmp_path / "demo.autre.yml").write_text(yaml.safe_dump(unknown, allow_unicode=True))
    assert main(["check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "demo.sans.yml: coop_category must name a La Coop category" in out
    assert "demo.autre.yml: coop_category 'sport' is not a La Coop category" in out
    assert "1 valid guides, 2 problems" in out


def test_the_ten_coop_categories_in_la_coop_order():
    assert list(COOP_CATEGORIES.values()) == [
        "Papiers - Élections Citoyenneté",
        "Famille - Scolarité",
        "Social - Santé",
        "Travail - Formation",
        "Logement",
        "Transports - Mobilité",
        "Argent - Impôts",
        "Justice",
        "Étrangers - Europe",
        "Loisirs - Sports Culture",
    ]
