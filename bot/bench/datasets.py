"""The two labelled datasets of the understanding benchmark, with their fixed splits.

(a) our own training data (bot/data/nlu): per intent, a seeded shuffle, 20 % held out;
(b) MASSIVE fr-FR (../shared/bench/massive_fr): per intent, the first 20 lines by id to
    train, the next 50 to test: the few-shot regime our guides live in.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

# Intents whose examples are out of scope for the assistant (an unknown démarche, or not a
# démarche at all). `nlu_fallback` predicted for them counts as right.
OUT_OF_SCOPE = frozenset({"out_of_scope", "not_covered"})
FALLBACK = "nlu_fallback"
# Commands given inside a guide (domain.yml): their accuracy is reported on its own.
IN_GUIDE_COMMANDS = frozenset({"next_step", "previous_step", "repeat_step", "step_detail",
                               "stuck", "stop_guide", "ask_human", "affirm", "deny"})  # fmt: skip
# Variants of each test set, generated with a fixed seed (bot/nlu.py): one typo in every
# word longer than 4 letters; accents removed.
VARIANTS = ("typos", "no_accents")

Example = tuple[str, str]  # (intent, text)


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    train: list[Example]
    test: list[Example]
    out_of_scope: frozenset[str] = frozenset()

    def variant(self, name: str, seed: int = 13) -> list[Example]:
        """The test set in variant `name` (`VARIANTS`), the same for every run and system."""
        from bot.nlu import with_typos, without_accents

        if name == "typos":
            return [
                (intent, with_typos(text, random.Random(f"{seed}:{k}:{text}")))
                for k, (intent, text) in enumerate(self.test)
            ]
        if name == "no_accents":
            return [(intent, without_accents(text)) for intent, text in self.test]
        raise ValueError(f"unknown variant {name!r}")

    @property
    def intents(self) -> list[str]:
        return sorted({intent for intent, _ in self.train})

    def shrink(self, intents: int, per_intent_train: int, per_intent_test: int) -> Dataset:
        """A tiny copy: a few intents (out-of-scope ones kept), a few examples of each. For
        the test that keeps the benchmark code paths alive."""
        keep = set(self.intents[:intents]) | (set(self.intents) & self.out_of_scope)
        return Dataset(
            self.name,
            f"{self.description} (tiny)",
            _first_per_intent([e for e in self.train if e[0] in keep], per_intent_train),
            _first_per_intent([e for e in self.test if e[0] in keep], per_intent_test),
            self.out_of_scope,
        )


def _first_per_intent(examples: Iterable[Example], k: int) -> list[Example]:
    seen: dict[str, int] = defaultdict(int)
    out = []
    for intent, text in examples:
        if seen[intent] < k:
            seen[intent] += 1
            out.append((intent, text))
    return out


def read_rasa_nlu(nlu_dir: Path) -> list[Example]:
    """Every (intent, example) of the Rasa YAML files under `nlu_dir`, in file order."""
    out = []
    for path in sorted(nlu_dir.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" not in block:
                continue
            for line in block["examples"].splitlines():
                if line.strip().startswith("- "):
                    out.append((block["intent"], line.strip()[2:].strip()))
    return out


def stratified_split(
    examples: Iterable[Example], test_share: float = 0.2, seed: int = 13
) -> tuple[list[Example], list[Example]]:
    """Per intent: sort, shuffle with `seed`, hold out `test_share` (at least one)."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for intent, text in examples:
        by_intent[intent].append(text)
    rng = random.Random(seed)
    train: list[Example] = []
    test: list[Example] = []
    for intent, texts in sorted(by_intent.items()):
        texts = sorted(set(texts))
        rng.shuffle(texts)
        k = max(1, round(len(texts) * test_share))
        test += [(intent, t) for t in texts[:k]]
        train += [(intent, t) for t in texts[k:]]
    return train, test


def ours(nlu_dir: Path, seed: int = 13) -> Dataset:
    train, test = stratified_split(read_rasa_nlu(nlu_dir), seed=seed)
    return Dataset(
        "guichet",
        f"our training data (bot/data/nlu), stratified 80/20 split, seed {seed}",
        train,
        test,
        OUT_OF_SCOPE,
    )


def massive_few_shot(path: Path, n_train: int = 20, n_test: int = 50) -> Dataset:
    """Per intent, lines sorted by numeric id: the first `n_train` train, the next `n_test`
    test (an intent with fewer lines gives fewer test lines, or none)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    rows.sort(key=lambda row: int(row["id"]))
    by_intent: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_intent[row["intent"]].append(row["text"])
    train: list[Example] = []
    test: list[Example] = []
    for intent, texts in sorted(by_intent.items()):
        train += [(intent, t) for t in texts[:n_train]]
        test += [(intent, t) for t in texts[n_train : n_train + n_test]]
    return Dataset(
        "massive_fr",
        f"MASSIVE fr-FR few-shot: per intent the first {n_train} lines by id train, "
        f"the next {n_test} test",
        train,
        test,
    )


def write_rasa_nlu(examples: Iterable[Example], path: Path) -> None:
    """Training examples as a Rasa NLU YAML file."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for intent, text in examples:
        by_intent[intent].append(text)
    blocks = [
        {"intent": intent, "examples": "".join(f"- {_quote(t)}\n" for t in texts)}
        for intent, texts in by_intent.items()
    ]
    path.write_text(
        yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True), encoding="utf-8"
    )


def _quote(text: str) -> str:
    return " ".join(text.split())  # one line per example
