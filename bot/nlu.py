"""Custom NLU components for the Rasa pipeline (config.yml).

`AccentFolder` lowercases tokens and folds accents after tokenization, so that "impôts",
"impots" and "IMPOTS" give the same word and character features: visitors often type
without accents. The folding itself is plain Python (`fold`).
`TfidfLogisticRegressionClassifier` classifies intents on TF-IDF weighted features.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.pipeline import Pipeline


def fold(text: str) -> str:
    """Lowercase without accents: "Déclaration" -> "declaration", "œuvre" -> "oeuvre"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("œ", "oe").replace("æ", "ae"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


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
