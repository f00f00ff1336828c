"""The contract's guide catalogue, the guide files, the intents, the NLU data and the rules
stay in step: a catalogue id without a guide, an intent or training examples fails here."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import yaml

from bot.contract import catalogue_waves, contract_path
from bot.settings import ROOT, get_settings

NLU_DIR = ROOT / "bot" / "data" / "nlu"
RULES_DIR = ROOT / "bot" / "data" / "rules"
MIN_GUIDE_EXAMPLES = 25


def contract_waves() -> tuple[list[str], list[str]]:
    contract = contract_path(get_settings().shared_dir)
    assert contract.exists(), f"the product contract is missing: {contract}"
    return catalogue_waves(contract)


def nlu_examples() -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for path in sorted(NLU_DIR.glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" in block:
                lines = [
                    line.strip()[2:].strip()
                    for line in block["examples"].splitlines()
                    if line.strip().startswith("- ")
                ]
                examples.setdefault(block["intent"], []).extend(lines)
    return examples


def rule_intents() -> set[str]:
    intents: set[str] = set()
    for path in RULES_DIR.glob("*.yml"):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8")).get("rules", []):
            intents.update(step["intent"] for step in rule["steps"] if "intent" in step)
    return intents


FIRST_WAVE, SECOND_WAVE = contract_waves()
CONTRACT_IDS = FIRST_WAVE + SECOND_WAVE


def test_contract_lists_both_waves_of_the_catalogue():
    assert len(FIRST_WAVE) == 17 and len(SECOND_WAVE) == 13
    assert not set(FIRST_WAVE) & set(SECOND_WAVE)


def test_the_catalogue_holds_both_waves_and_at_least_30_guides(catalogue):
    assert set(CONTRACT_IDS) <= set(catalogue.ids)
    assert len(catalogue.ids) >= 30


@pytest.mark.parametrize("guide_id", CONTRACT_IDS)
def test_catalogue_id_has_guide_intent_examples_and_rule(guide_id, catalogue, domain):
    assert guide_id in catalogue, f"no knowledge/{guide_id}.yml"
    assert guide_id in domain["intents"], f"intent {guide_id} missing from domain.yml"
    examples = nlu_examples().get(guide_id, [])
    assert len(examples) >= MIN_GUIDE_EXAMPLES, f"{guide_id}: {len(examples)} examples"
    assert guide_id in rule_intents(), f"no rule starts {guide_id}"


def test_every_guide_file_is_in_the_domain_and_rules(catalogue, domain):
    for guide_id in catalogue.ids:
        assert guide_id in domain["intents"]
        assert guide_id in rule_intents()


def test_every_domain_intent_has_examples_and_a_rule(domain):
    examples = nlu_examples()
    rules = rule_intents()
    for intent in domain["intents"]:
        assert examples.get(intent), f"no training examples for {intent}"
        assert intent in rules, f"no rule answers {intent}"


def test_menu_intents_name_existing_domains(catalogue, domain):
    for intent in domain["intents"]:
        if intent.startswith("menu_"):
            assert catalogue.in_domain(intent.removeprefix("menu_")), intent


def test_training_examples_are_unique_across_intents():
    seen: dict[str, str] = {}
    for intent, lines in nlu_examples().items():
        for line in lines:
            key = line.lower()
            assert seen.setdefault(key, intent) == intent, f"{line!r} in {seen[key]} and {intent}"


def _fold(text: str) -> str:
    """Lower case, no accents, no apostrophes: "l'impôt" and "l impot" are the same line."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    plain = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(plain.replace("'", " ").replace("’", " ").split())


def test_no_evaluation_sentence_in_training_data():
    eval_dir = get_settings().shared_dir / "eval"
    training = {_fold(line) for lines in nlu_examples().values() for line in lines}
    copied = [
        row.partition("\t")[2]
        for path in sorted(Path(eval_dir).glob("*.tsv"))
        for row in path.read_text(encoding="utf-8").splitlines()
        if _fold(row.partition("\t")[2]) in training
    ]
    assert copied == [], f"evaluation sentences found in training data: {copied}"


@pytest.mark.parametrize(
    "path", sorted(p for p in (ROOT / "knowledge").glob("*.yml") if not p.name.startswith("_"))
)
def test_every_guide_file_names_a_la_coop_category(path: Path):
    from bot.guides import COOP_CATEGORIES

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data.get("coop_category") in COOP_CATEGORIES, f"{path.name}: {data.get('coop_category')}"


def test_the_check_command_passes_on_the_knowledge_folder():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bot.guides", "check", str(ROOT / "knowledge")],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 problems" in done.stdout
