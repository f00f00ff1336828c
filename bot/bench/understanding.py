"""Understanding benchmark: three NLU systems on the same splits, in one run.

- `guichet`: our config.yml pipeline, trained with Rasa;
- `rasa_default`: what a Rasa user gets without spaCy: whitespace tokens, word and
  character count vectors, DIET (Rasa's suggested default pipeline);
- `tfidf_svm`: TF-IDF on words (1-2) and characters (2-5, within words), accents folded,
  with a linear SVM, scikit-learn.

Each system is trained on the training part of a dataset and parses every test message one
at a time, as the server would, then the « typos » and « no accents » variants of the test
set (`datasets.VARIANTS`); training time and mean time per message (clean test set) are
measured here. For our pipeline on a dataset with out-of-scope examples, the fallback
threshold is chosen on held-out data: a model trained on 80 % of the training part parses
the other 20 %, never the test set.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.bench.datasets import (
    FALLBACK,
    IN_GUIDE_COMMANDS,
    VARIANTS,
    Dataset,
    Example,
    stratified_split,
    write_rasa_nlu,
)

# Fallback thresholds tried on the held-out part of the training data.
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(17))  # 0.0 to 0.8

# Rasa's suggested pipeline (rasa/shared/importers/default_config.yml in Rasa 3.6), without
# the ResponseSelector and EntitySynonymMapper, which have nothing to do here.
RASA_DEFAULT_PIPELINE: list[dict[str, Any]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
]


@dataclass
class Prediction:
    gold: str
    intent: str  # what the system answers (nlu_fallback included)
    top: str  # its best intent, fallback threshold ignored
    confidence: float


@dataclass
class Scores:
    system: str
    dataset: str
    n_train: int
    n_test: int
    accuracy: float
    macro_f1: float
    top_accuracy: float
    oos_precision: float | None
    oos_recall: float | None
    train_s: float
    infer_ms: float
    notes: list[str] = field(default_factory=list)
    variants: dict[str, float] = field(default_factory=dict)  # accuracy on each variant
    commands_accuracy: float | None = None  # in-guide commands of the clean test set
    threshold: float | None = None  # fallback threshold chosen on held-out training data

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def scored_label(pred: Prediction, out_of_scope: frozenset[str], use_threshold: bool) -> str:
    """The label scored for a prediction: the fallback is right for an out-of-scope message."""
    label = pred.intent if use_threshold else pred.top
    if label == FALLBACK and pred.gold in out_of_scope:
        return pred.gold
    return label


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    """Mean F1 over the gold labels (a label never in gold but predicted counts as an error)."""
    gold_labels = sorted({g for g, _ in pairs})
    f1s = []
    for label in gold_labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(f1s) / len(f1s) if f1s else 0.0


def scored_pairs(dataset: Dataset, predictions: Sequence[Prediction]) -> list[tuple[str, str]]:
    # Without an out-of-scope class in the data, the fallback threshold has nothing to catch:
    # the best intent is scored.
    use_threshold = bool(dataset.out_of_scope)
    return [(p.gold, scored_label(p, dataset.out_of_scope, use_threshold)) for p in predictions]


def accuracy(dataset: Dataset, predictions: Sequence[Prediction]) -> float:
    pairs = scored_pairs(dataset, predictions)
    return sum(g == p for g, p in pairs) / max(1, len(pairs))


def with_threshold(predictions: Sequence[Prediction], threshold: float) -> list[Prediction]:
    """The predictions as a fallback threshold of `threshold` would have answered."""
    return [
        Prediction(p.gold, FALLBACK if p.confidence < threshold else p.top, p.top, p.confidence)
        for p in predictions
    ]


def choose_threshold(dataset: Dataset, predictions: Sequence[Prediction]) -> float:
    """The threshold of `THRESHOLDS` with the best accuracy on held-out predictions (the
    lowest of equals: fewer requests turned away)."""
    return max(THRESHOLDS, key=lambda t: (accuracy(dataset, with_threshold(predictions, t)), -t))


def score(
    system: str,
    dataset: Dataset,
    predictions: Sequence[Prediction],
    train_s: float,
    infer_s: float,
    notes: Sequence[str] = (),
    variants: Mapping[str, Sequence[Prediction]] | None = None,
    threshold: float | None = None,
) -> Scores:
    oos = dataset.out_of_scope
    pairs = scored_pairs(dataset, predictions)
    n = max(1, len(pairs))
    precision = recall = None
    if oos:
        flagged = [p for p in predictions if p.intent in oos or p.intent == FALLBACK]
        truly = [p for p in predictions if p.gold in oos]
        hits = sum(1 for p in flagged if p.gold in oos)
        precision = hits / len(flagged) if flagged else 0.0
        recall = hits / len(truly) if truly else 0.0
    commands = [(g, p) for g, p in pairs if g in IN_GUIDE_COMMANDS]
    return Scores(
        system=system,
        dataset=dataset.name,
        n_train=len(dataset.train),
        n_test=len(predictions),
        accuracy=sum(g == p for g, p in pairs) / n,
        macro_f1=macro_f1(pairs),
        top_accuracy=sum(p.gold == p.top for p in predictions) / n,
        oos_precision=precision,
        oos_recall=recall,
        train_s=train_s,
        infer_ms=infer_s * 1000 / n,
        notes=list(notes),
        variants={name: accuracy(dataset, v) for name, v in (variants or {}).items()},
        commands_accuracy=sum(g == p for g, p in commands) / len(commands) if commands else None,
        threshold=threshold,
    )


# --- systems -------------------------------------------------------------------------------


def test_sets(dataset: Dataset) -> dict[str, list[Example]]:
    """The clean test set first, then its variants."""
    return {"clean": dataset.test, **{name: dataset.variant(name) for name in VARIANTS}}


def tfidf_svm(dataset: Dataset) -> Scores:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    from bot.nlu import fold

    texts = [t for _, t in dataset.train]
    labels = [i for i, _ in dataset.train]
    start = time.perf_counter()
    model = make_pipeline(
        make_union(
            TfidfVectorizer(preprocessor=fold, ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(
                preprocessor=fold, analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True
            ),
        ),
        LinearSVC(C=1.0),
    )
    model.fit(texts, labels)
    train_s = time.perf_counter() - start
    parsed: dict[str, list[Prediction]] = {}
    timed = 0.0
    for variant, examples in test_sets(dataset).items():
        start = time.perf_counter()
        parsed[variant] = []
        for gold, text in examples:  # one at a time, as a server would
            got = str(model.predict([text])[0])
            parsed[variant].append(Prediction(gold, got, got, 1.0))
        timed = timed or time.perf_counter() - start
    clean = parsed.pop("clean")
    return score("tfidf_svm", dataset, clean, train_s, timed, ["no fallback threshold"], parsed)


def rasa_config(pipeline: list[dict[str, Any]]) -> dict[str, Any]:
    return {"recipe": "default.v1", "language": "fr", "pipeline": pipeline, "policies": []}


def our_config(root: Path) -> dict[str, Any]:
    config = yaml.safe_load((root / "config.yml").read_text(encoding="utf-8"))
    return {**config, "policies": []}


def rasa_system(
    name: str, config: dict[str, Any], dataset: Dataset, tune_threshold: bool = False
) -> Scores:
    """Train an NLU-only Rasa model on the training part, parse the test part and its
    variants. With `tune_threshold` and out-of-scope examples in the data, the fallback
    threshold is chosen first on a held-out 20 % of the training part."""
    threshold = None
    notes = []
    if tune_threshold and dataset.out_of_scope:
        inner_train, held_out = stratified_split(dataset.train, seed=29)
        inner = Dataset(f"{dataset.name}-inner", "", inner_train, held_out, dataset.out_of_scope)
        _, parsed, _ = asyncio.run(_train_and_parse(config, inner, {"clean": held_out}))
        threshold = choose_threshold(inner, parsed["clean"])
        notes.append(f"threshold {threshold:.2f} chosen on a held-out 20 % of the training part")
    train_s, parsed, infer_s = asyncio.run(_train_and_parse(config, dataset, test_sets(dataset)))
    if threshold is not None:
        parsed = {k: with_threshold(v, threshold) for k, v in parsed.items()}
    clean = parsed.pop("clean")
    return score(name, dataset, clean, train_s, infer_s, notes, parsed, threshold)


async def _train_and_parse(
    config: dict[str, Any], dataset: Dataset, tests: dict[str, list[Example]]
) -> tuple[float, dict[str, list[Prediction]], float]:
    """Training seconds, the predictions on each test set, parsing seconds of the first."""
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    with tempfile.TemporaryDirectory(prefix="guichet-bench-") as tmp:
        config_path = Path(tmp) / "config.yml"
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        nlu_path = Path(tmp) / "nlu.yml"
        write_rasa_nlu(dataset.train, nlu_path)
        # An empty training cache: Rasa would otherwise reuse components trained by an
        # earlier run, and the training time would measure the cache.
        saved = os.environ.get("RASA_CACHE_DIRECTORY")
        os.environ["RASA_CACHE_DIRECTORY"] = str(Path(tmp) / "cache")
        try:
            start = time.perf_counter()
            model = train_nlu(str(config_path), str(nlu_path), output=tmp, fixed_model_name="nlu")
            train_s = time.perf_counter() - start
        finally:
            if saved is None:
                os.environ.pop("RASA_CACHE_DIRECTORY", None)
            else:
                os.environ["RASA_CACHE_DIRECTORY"] = saved
        if not model:
            raise RuntimeError(f"{dataset.name}: Rasa training gave no model")
        agent = Agent.load(model)
        await agent.parse_message("bonjour")  # first-call costs (graph, TensorFlow) excluded
        parsed: dict[str, list[Prediction]] = {}
        infer_s = 0.0
        for variant, examples in tests.items():
            start = time.perf_counter()
            parsed[variant] = []
            for gold, text in examples:
                got = await agent.parse_message(text)
                ranking = [r for r in got.get("intent_ranking", []) if r["name"] != FALLBACK]
                top: dict[str, Any] = ranking[0] if ranking else {"name": FALLBACK, "confidence": 0}
                parsed[variant].append(
                    Prediction(
                        gold, got["intent"]["name"], str(top["name"]), float(top["confidence"])
                    )
                )
            infer_s = infer_s or time.perf_counter() - start
    return train_s, parsed, infer_s


System = Callable[[Dataset], Scores]


def systems(root: Path, diet_epochs: int = 100) -> dict[str, System]:
    default = [dict(c) for c in RASA_DEFAULT_PIPELINE]
    for component in default:
        if component["name"] == "DIETClassifier":
            component["epochs"] = diet_epochs
    return {
        "guichet": lambda ds: rasa_system("guichet", our_config(root), ds, tune_threshold=True),
        "rasa_default": lambda ds: rasa_system("rasa_default", rasa_config(default), ds),
        "tfidf_svm": tfidf_svm,
    }


def run(
    datasets: Sequence[Dataset],
    root: Path,
    diet_epochs: int = 100,
    only: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> list[Scores]:
    results = []
    for dataset in datasets:
        for name, system in systems(root, diet_epochs).items():
            if only and name not in only:
                continue
            log(f"  {dataset.name}: {name}…")
            result = system(dataset)
            if name == "rasa_default" and diet_epochs != 100:
                result.notes.append(f"DIET {diet_epochs} epochs")
            log(
                f"    accuracy {result.accuracy:.3f}  macro-F1 {result.macro_f1:.3f}"
                + "".join(f"  {k} {v:.3f}" for k, v in result.variants.items())
                + f"  train {result.train_s:.1f} s  {result.infer_ms:.2f} ms/message"
            )
            results.append(result)
    return results


def examples_of(dataset: Dataset) -> list[Example]:
    return dataset.train + dataset.test
