"""The orientation table (knowledge/_orientation.yml): valid, complete, routed, and honest."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from bot import orientation
from bot.orientation import TABLE_FILE, OrientationError, check_problems, fold, load_table_file
from bot.settings import ROOT

KNOWLEDGE = ROOT / "knowledge"
NLU = ROOT / "bot" / "data" / "nlu"
MIN_EXAMPLES = 20


@pytest.fixture(scope="module")
def table() -> dict[str, orientation.Orientation]:
    return load_table_file(KNOWLEDGE / TABLE_FILE)


def intent_examples() -> dict[str, list[str]]:
    """Every intent of bot/data/nlu with its examples."""
    found: dict[str, list[str]] = {}
    for path in sorted(NLU.glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" in item:
                lines = (item.get("examples") or "").splitlines()
                examples = [line.strip()[2:].strip() for line in lines if line.strip()]
                found.setdefault(item["intent"], []).extend(examples)
    return found


def test_the_table_is_valid(table):
    assert check_problems(KNOWLEDGE) == []
    assert len(table) >= 14


def test_the_cli_check_passes(capsys):
    assert orientation.main(["check", str(KNOWLEDGE)]) == 0
    assert "0 problems" in capsys.readouterr().out


def test_every_entry_names_its_official_site_and_sources(table):
    for entry in table.values():
        assert orientation.official_sites(entry.service), entry.id
        assert entry.sources and all(orientation.is_official_url(s.url) for s in entry.sources)
        assert entry.verified_on == dt.date(2026, 11, 30)


def test_the_issue_s_demarches_have_an_entry(table):
    expected = {
        "carte_grise", "titre_sejour", "aide_logement", "logement_social", "cheque_energie",
        "mdph_aah", "complementaire_sante", "mon_espace_sante", "banque_droit_compte",
        "aide_juridictionnelle", "vote", "etat_civil", "litige_administration",
        "france_services", "aidants_connect",
    }  # fmt: skip
    assert expected <= set(table)
    assert "passeport" not in table  # the ants.carte_identite guide covers it


def test_no_entry_offers_solidarite_numerique_or_the_pass_numerique(table):
    for entry in table.values():
        said = fold(" ".join(t for t in (entry.service, entry.phone or "", entry.prepare,
                                         entry.pitfall, entry.in_person or "") if t))  # fmt: skip
        digits = said.replace(" ", "").replace(".", "")
        assert "solidarite numerique" not in said and "0170772372" not in digits, entry.id
        assert "pass numerique" not in said and "aptic" not in said, entry.id


def test_unverified_numbers_are_not_given(table):
    # domain-facts §6 and §8: numbers without an official page stay out of visitor texts.
    unconfirmed = ("3400", "3414", "3422", "0812040170", "0805805817", "3230")
    for entry in table.values():
        digits = "".join(c for c in f"{entry.phone} {entry.service} {entry.pitfall}" if c.isdigit())
        assert not any(n in digits for n in unconfirmed), entry.id


def test_every_entry_has_an_intent_with_enough_examples_and_back(table):
    examples = intent_examples()
    for entry in table.values():
        assert len(examples.get(entry.intent, [])) >= MIN_EXAMPLES, entry.intent
    orphans = {i for i in examples if i.startswith("orientation.")} - {
        e.intent for e in table.values()
    }
    assert orphans == set()


def test_orientation_examples_do_not_overlap_other_intents():
    examples = intent_examples()
    owner: dict[str, str] = {}
    for intent, lines in examples.items():
        for line in lines:
            key = fold(line).strip(" ?!.")
            if key in owner and owner[key] != intent and "orientation." in owner[key] + intent:
                pytest.fail(f"« {line} » is in {owner[key]} and {intent}")
            owner[key] = intent


def broken_copy(tmp_path: Path, change) -> Path:
    """A copy of the knowledge folder whose table `change` edited."""
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    data = yaml.safe_load((folder / TABLE_FILE).read_text(encoding="utf-8"))
    change(data)
    (folder / TABLE_FILE).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def test_a_broken_copy_is_refused_with_one_clear_line_per_problem(tmp_path, capsys):
    def spoil(data):
        data[0]["sources"][0]["url"] = "http://www.carte-grise-express.com/"
        data[1]["service"] = "Allez sur le site de la préfecture."
        data[2]["prepare"] = "  "
        data[3]["verified_on"] = dt.date.today() + dt.timedelta(days=3)
        data[4]["phone"] = "Solidarité Numérique répond au 01 70 772 372."
        data[5]["pitfall"] = "Le Pass numérique paie l'atelier."
        data[6]["id"] = data[7]["id"]
        data[8]["pitfall"] = "Le timbre coûte 86 € en 2026."
        data[9]["colour"] = "bleu"
        del data[10]["sources"]

    folder = broken_copy(tmp_path, spoil)
    problems = check_problems(folder)
    expected = [
        "(carte_grise): source 1 url 'http://www.carte-grise-express.com/' is not https",
        "(titre_sejour): service must name the official site",
        "(aide_logement): prepare must be a non-empty French text",
        "(logement_social): verified_on",
        "(cheque_energie): mentions 'solidarite numerique'",
        "(cheque_energie): mentions '0170772372'",
        "(mdph_aah): mentions 'pass numerique'",
        "id already used",
        "(banque_droit_compte): states a date or an amount but has no valid_for",
        "(aide_juridictionnelle): unknown fields ['colour']",
        "(vote): sources must list at least one official page",
    ]
    for part in expected:
        assert any(part in line for line in problems), (part, problems)
    assert all(line.startswith(f"{TABLE_FILE}: entry ") for line in problems)
    assert orientation.main(["check", str(folder)]) == 1
    assert f"{len(problems)} problems" in capsys.readouterr().out


def test_a_table_that_is_not_a_list_is_refused(tmp_path):
    (tmp_path / TABLE_FILE).write_text("carte_grise: oui\n", encoding="utf-8")
    assert check_problems(tmp_path) == [
        f"{TABLE_FILE}: the table must be a non-empty list of entries"
    ]
    (tmp_path / TABLE_FILE).write_text("- id: [\n", encoding="utf-8")
    assert "invalid YAML" in check_problems(tmp_path)[0]
    with pytest.raises(OrientationError):
        orientation.load_table(tmp_path / "missing")


def test_dated_facts_need_valid_for_and_age(tmp_path):
    def date_it(data):
        data[0]["pitfall"] += " Depuis 2025, c'est plus rapide."
        data[0]["valid_for"] = "2025"

    table = load_table_file(broken_copy(tmp_path, date_it) / TABLE_FILE)
    assert table["carte_grise"].stale(dt.date(2026, 11, 30))
    assert not table["carte_grise"].stale(dt.date(2025, 12, 31))
    assert not table["vote"].stale()


def test_entry_ids_from_intents():
    assert orientation.entry_id_of("orientation.vote") == "vote"
    assert orientation.entry_id_of("not_covered") is None
    assert orientation.entry_id_of("orientation.") is None
